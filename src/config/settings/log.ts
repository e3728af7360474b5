/**
 * The `log:` section: how much the service logs, and in which form.
 */
import type { Setting } from "./setting.js";

/** A check that accepts only one of `values`. */
const oneOf = (values: readonly string[]) => (value: string) =>
  values.includes(value) ? undefined : `"${value}" is not one of ${values.join(", ")}`;

export const logSettings = {
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    file: ["log", "level"],
    kind: "string",
    check: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    default: "info",
  },
  /**
   * "json": NDJSON on stdout only. "pretty": also a readable line on stderr for start-up and
   * failures. "auto": pretty when stdout is a terminal (someone is watching), json otherwise.
   */
  logFormat: {
    flag: "log-format",
    env: "LOG_FORMAT",
    file: ["log", "format"],
    kind: "string",
    check: oneOf(["auto", "json", "pretty"]),
    default: "auto",
  },
} satisfies Record<string, Setting>;
