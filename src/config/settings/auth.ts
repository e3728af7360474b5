/**
 * The `auth:` section: the bearer tokens that turn access control on, and which of the always-open
 * services (health, reflection, metrics) they also guard.
 */
import type { Setting } from "./setting.js";

export const authSettings = {
  /** Empty = access control off. */
  authTokens: {
    flag: "auth-tokens",
    env: "ISOTOPE_AUTH_TOKENS",
    file: ["auth", "tokens"],
    kind: "tokens",
    default: [],
  },
  authProtectHealth: {
    flag: "auth-protect-health",
    env: "ISOTOPE_AUTH_PROTECT_HEALTH",
    file: ["auth", "protect_health"],
    kind: "bool",
    default: false,
  },
  authProtectReflection: {
    flag: "auth-protect-reflection",
    env: "ISOTOPE_AUTH_PROTECT_REFLECTION",
    file: ["auth", "protect_reflection"],
    kind: "bool",
    default: false,
  },
  authProtectMetrics: {
    flag: "auth-protect-metrics",
    env: "ISOTOPE_AUTH_PROTECT_METRICS",
    file: ["auth", "protect_metrics"],
    kind: "bool",
    default: false,
  },
} satisfies Record<string, Setting>;
