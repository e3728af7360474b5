/**
 * The `changes:` section: the change feed behind Watch — on or off, how long events are kept, how
 * often it polls.
 */
import type { Setting } from "./setting.js";

export const changesSettings = {
  /**
   * The change feed (Watch). Off: writes log nothing (no cost) and Watch is refused with
   * FAILED_PRECONDITION. Turning it back on starts a new stretch of history: what was written
   * while it was off is not in the log.
   */
  changesEnabled: {
    flag: "changes-enabled",
    env: "ISOTOPE_CHANGES_ENABLED",
    file: ["changes", "enabled"],
    kind: "bool",
    default: true,
  },
  /** How long events are kept; the scheduled maintenance trims older ones (0: all it has numbered). */
  changesRetentionHours: {
    flag: "changes-retention-hours",
    env: "ISOTOPE_CHANGES_RETENTION_HOURS",
    file: ["changes", "retention_hours"],
    kind: "int",
    min: 0,
    max: 87_600,
    default: 24,
  },
  /**
   * The feed's slow poll: how late a change may reach a Watch when its wake-up hint was lost, and
   * how often a filtered stream is told its position.
   */
  changesPollMs: {
    flag: "changes-poll-ms",
    env: "ISOTOPE_CHANGES_POLL_MS",
    file: ["changes", "poll_ms"],
    kind: "int",
    min: 10,
    max: 60_000,
    default: 1000,
  },
} satisfies Record<string, Setting>;
