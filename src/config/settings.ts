/**
 * Every setting the service reads, one row each: its flag, environment variable and path in
 * config.yaml, what kind of value it takes and its default. A new setting is one new row (and one
 * README row: test/unit/config.test.ts checks they agree). The file's `postgresql:` block, the
 * seed's, is read apart (database-settings.ts).
 */
import { isTableName, tableNameRule } from "../db/table-name.js";
import type { TokenConfig } from "./auth-tokens.js";
import type { SettingAddress } from "./sources.js";

/** What each kind of setting is once read (read-setting.ts says how each is written). */
export interface KindValues {
  string: string;
  int: number;
  bool: boolean;
  list: string[];
  tokens: TokenConfig[];
}

export type Kind = keyof KindValues;

/** Rules a value must follow beyond its kind; a value breaking one is a problem. */
interface Rules {
  string: {
    /** The problem with `value` (without the setting's name), or undefined when it is fine. */
    check?: (value: string) => string | undefined;
  };
  int: { min: number; max?: number };
  bool: unknown;
  list: unknown;
  tokens: unknown;
}

type SettingOf<K extends Kind> = SettingAddress & {
  kind: K;
  /** What the service uses when no source sets it; undefined = off, or chosen elsewhere. */
  default: KindValues[K] | undefined;
} & Rules[K];

/** One row of the table. */
export type Setting = { [K in Kind]: SettingOf<K> }[Kind];

/** A setting's value: its kind's type, or undefined too when it has no default. */
export type SettingValue<S extends Setting> =
  | KindValues[S["kind"]]
  | (undefined extends S["default"] ? undefined : never);

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const logFormats = ["auto", "json", "pretty"];

/** Every setting the service reads, by the name the code uses; README's configuration reference mirrors it. */
export const settings = {
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
  /** Undefined = the file's `postgresql:` block, else the embedded database. */
  databaseUrl: {
    flag: "database-url",
    env: "DATABASE_URL",
    file: ["storage", "database_url"],
    kind: "string",
    // Never echoes the value: it may hold a password.
    check: (url) => (/^postgres(ql)?:\/\//.test(url) ? undefined : "expected postgres://user@host:port/db"),
    default: undefined,
  },
  /** The embedded database's directory. */
  dataDir: {
    flag: "data-dir",
    env: "ISOTOPE_DATA_DIR",
    file: ["storage", "data_dir"],
    kind: "string",
    default: "./data",
  },
  /** Undefined = no outage spool. */
  spoolDir: {
    flag: "spool-dir",
    env: "ISOTOPE_SPOOL_DIR",
    file: ["storage", "spool_dir"],
    kind: "string",
    default: undefined,
  },
  table: {
    flag: "table",
    env: "ISOTOPE_TABLE",
    file: ["storage", "table"],
    kind: "string",
    check: (name) => (isTableName(name) ? undefined : `"${name}" is not a valid table name (${tableNameRule})`),
    default: "isotope_sessions",
  },
  poolMax: {
    flag: "pool-max",
    env: "ISOTOPE_POOL_MAX",
    file: ["storage", "pool_max"],
    kind: "int",
    min: 1,
    default: 10,
  },
  statementTimeoutMs: {
    flag: "statement-timeout-ms",
    env: "ISOTOPE_STATEMENT_TIMEOUT_MS",
    file: ["storage", "statement_timeout_ms"],
    kind: "int",
    min: 1,
    default: 30_000,
  },
  connectTimeoutMs: {
    flag: "connect-timeout-ms",
    env: "ISOTOPE_CONNECT_TIMEOUT_MS",
    file: ["storage", "connect_timeout_ms"],
    kind: "int",
    min: 1,
    default: 5_000,
  },
  /**
   * The database URL leads to a transaction-mode pooler (PgBouncer): no named prepared statements,
   * no session settings at connect (the statement timeout is enforced by cancelling): src/db/postgres.ts.
   */
  transactionPooler: {
    flag: "transaction-pooler",
    env: "ISOTOPE_TRANSACTION_POOLER",
    file: ["storage", "transaction_pooler"],
    kind: "bool",
    default: false,
  },
  /**
   * Undefined = the database URL's server. A direct PostgreSQL URL for the change feed's one
   * listening connection (LISTEN cannot pass a transaction pooler): with transactionPooler and
   * none given, the feed polls instead of listening.
   */
  listenUrl: {
    flag: "listen-url",
    env: "ISOTOPE_LISTEN_URL",
    file: ["storage", "listen_url"],
    kind: "string",
    // Never echoes the value: it may hold a password.
    check: (url) => (/^postgres(ql)?:\/\//.test(url) ? undefined : "expected postgres://user@host:port/db"),
    default: undefined,
  },
  /** 0 = no hot cache. */
  cacheBytes: {
    flag: "cache-bytes",
    env: "ISOTOPE_CACHE_BYTES",
    file: ["storage", "cache_bytes"],
    kind: "int",
    min: 0,
    // The bench's data set (10,000 sessions, 45 MB of JSON) fits with room to spare: see cache.ts
    // for what an entry is counted as.
    default: 128 * 1024 * 1024,
  },
  /** 1 = no group commit. */
  groupCommitMaxBatch: {
    flag: "group-commit-max-batch",
    env: "ISOTOPE_GROUP_COMMIT_MAX_BATCH",
    file: ["storage", "group_commit_max_batch"],
    kind: "int",
    min: 1,
    default: 64,
  },
  groupCommitWindowMs: {
    flag: "group-commit-window-ms",
    env: "ISOTOPE_GROUP_COMMIT_WINDOW_MS",
    file: ["storage", "group_commit_window_ms"],
    kind: "int",
    min: 0,
    default: 0,
  },
  /**
   * How long a write's request_id is remembered: a repeat within it applies nothing and returns the
   * first result (request-keys.ts); the scheduled maintenance trims older keys.
   */
  requestIdWindowHours: {
    flag: "request-id-window-hours",
    env: "ISOTOPE_REQUEST_ID_WINDOW_HOURS",
    file: ["storage", "request_id_window_hours"],
    kind: "int",
    min: 1,
    max: 8760,
    default: 24,
  },
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
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    file: ["log", "level"],
    kind: "string",
    check: (level) => (logLevels.includes(level) ? undefined : `"${level}" is not one of ${logLevels.join(", ")}`),
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
    check: (format) => (logFormats.includes(format) ? undefined : `"${format}" is not one of ${logFormats.join(", ")}`),
    default: "auto",
  },
  /** Empty = no browser origin may call; "*" = any. */
  corsOrigins: {
    flag: "cors-origins",
    env: "ISOTOPE_CORS_ORIGINS",
    file: ["server", "cors_origins"],
    kind: "list",
    default: [],
  },
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
  /**
   * 0 = no scheduled cleanup. Expiry is honoured at read time whatever this is: a run only turns
   * expired rows inactive (or deletes them) and takes the sessions sample, so every 10 minutes keeps
   * each run to a few batches and costs next to nothing.
   */
  cleanupIntervalMs: {
    flag: "cleanup-interval-ms",
    env: "ISOTOPE_CLEANUP_INTERVAL_MS",
    file: ["cleanup", "interval_ms"],
    kind: "int",
    min: 0,
    default: 10 * 60_000,
  },
  /**
   * How long a run holds the job without news (renewed between batches): a replica killed mid-run
   * is replaced within one interval plus this. Longer than a batch can take (the statement timeout).
   */
  cleanupLeaseMs: {
    flag: "cleanup-lease-ms",
    env: "ISOTOPE_CLEANUP_LEASE_MS",
    file: ["cleanup", "lease_ms"],
    kind: "int",
    min: 100,
    default: 60_000,
  },
  /** Expired sessions are deleted rather than marked inactive (the seed's Cleanup marks them). */
  cleanupHardDelete: {
    flag: "cleanup-hard-delete",
    env: "ISOTOPE_CLEANUP_HARD_DELETE",
    file: ["cleanup", "hard_delete"],
    kind: "bool",
    default: false,
  },
  /**
   * 0 = never purge. Inactive sessions can still be read (include_inactive) and come back on Save:
   * deleting them for good is a retention policy only their owner can choose.
   */
  cleanupPurgeInactiveDays: {
    flag: "cleanup-purge-inactive-days",
    env: "ISOTOPE_CLEANUP_PURGE_INACTIVE_DAYS",
    file: ["cleanup", "purge_inactive_days"],
    kind: "int",
    min: 0,
    max: 36_500,
    default: 0,
  },
  /** Rows per statement, as Cleanup's batch_size: short locks, progress between batches. */
  cleanupBatchSize: {
    flag: "cleanup-batch-size",
    env: "ISOTOPE_CLEANUP_BATCH_SIZE",
    file: ["cleanup", "batch_size"],
    kind: "int",
    min: 1,
    max: 10_000,
    default: 1000,
  },
  /** How long the sessions-by-state samples are kept (one per interval: ~13,000 rows at the defaults). */
  cleanupSampleRetentionDays: {
    flag: "cleanup-sample-retention-days",
    env: "ISOTOPE_CLEANUP_SAMPLE_RETENTION_DAYS",
    file: ["cleanup", "sample_retention_days"],
    kind: "int",
    min: 1,
    max: 36_500,
    default: 90,
  },
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
  authProtectMetrics: {
    flag: "auth-protect-metrics",
    env: "ISOTOPE_AUTH_PROTECT_METRICS",
    file: ["auth", "protect_metrics"],
    kind: "bool",
    default: false,
  },
  /** Undefined (with the key) = cleartext; tls-settings.ts pairs the three files. */
  tlsCertFile: {
    flag: "tls-cert-file",
    env: "ISOTOPE_TLS_CERT_FILE",
    file: ["tls", "cert_file"],
    kind: "string",
    default: undefined,
  },
  tlsKeyFile: {
    flag: "tls-key-file",
    env: "ISOTOPE_TLS_KEY_FILE",
    file: ["tls", "key_file"],
    kind: "string",
    default: undefined,
  },
  /** Set = mutual TLS. */
  tlsClientCaFile: {
    flag: "tls-client-ca-file",
    env: "ISOTOPE_TLS_CLIENT_CA_FILE",
    file: ["tls", "client_ca_file"],
    kind: "string",
    default: undefined,
  },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;

/** Every setting's value, as read-setting.ts reads them. */
export type SettingValues = { [N in SettingName]: SettingValue<(typeof settings)[N]> };
