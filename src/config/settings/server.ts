/**
 * The `server:` section: where the service listens, how long it drains on shutdown, which browser
 * origins may call it and what this replica is called.
 */
import type { Setting } from "./setting.js";

export const serverSettings = {
  port: { flag: "port", env: "PORT", file: ["server", "port"], kind: "int", min: 0, max: 65535, default: 50051 },
  /** Undefined = all interfaces. */
  host: { flag: "host", env: "HOST", file: ["server", "host"], kind: "string", default: undefined },
  shutdownGraceMs: {
    flag: "shutdown-grace-ms",
    env: "ISOTOPE_SHUTDOWN_GRACE_MS",
    file: ["server", "shutdown_grace_ms"],
    kind: "int",
    min: 0,
    default: 10_000,
  },
  /** Empty = no browser origin may call; "*" = any. */
  corsOrigins: {
    flag: "cors-origins",
    env: "ISOTOPE_CORS_ORIGINS",
    file: ["server", "cors_origins"],
    kind: "list",
    default: [],
  },
  /** Undefined = host:pid. How logs and the scheduled jobs' row name this replica. */
  replicaName: {
    flag: "replica-name",
    env: "ISOTOPE_REPLICA_NAME",
    file: ["server", "replica_name"],
    kind: "string",
    check: (name) =>
      /^[\x21-\x7e]{1,200}$/.test(name) ? undefined : "expected 1 to 200 printable ASCII characters, no spaces",
    default: undefined,
  },
} satisfies Record<string, Setting>;
