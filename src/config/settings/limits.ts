/**
 * The `limits:` section: how large and how deep a session may be, and how large a request.
 */
import type { Setting } from "./setting.js";

export const limitsSettings = {
  maxSessionBytes: {
    flag: "max-session-bytes",
    env: "ISOTOPE_MAX_SESSION_BYTES",
    file: ["limits", "max_session_bytes"],
    kind: "int",
    min: 1,
    default: 8 * 1024 * 1024,
  },
  /** Keep it ≤ 48: see Limits.maxDepth. */
  maxDepth: {
    flag: "max-depth",
    env: "ISOTOPE_MAX_DEPTH",
    file: ["limits", "max_depth"],
    kind: "int",
    min: 1,
    default: 32,
  },
  maxReceiveBytes: {
    flag: "max-receive-bytes",
    env: "ISOTOPE_MAX_RECEIVE_BYTES",
    file: ["limits", "max_receive_bytes"],
    kind: "int",
    min: 1024,
    default: 16 * 1024 * 1024,
  },
} satisfies Record<string, Setting>;
