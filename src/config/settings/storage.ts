/**
 * The `storage:` section: which database and how the service talks to it (pool, timeouts, a
 * transaction pooler, the listening connection), and the layers over it (hot cache, group commit,
 * outage spool, request-id window). The seed's `postgresql:` block is read apart
 * (../database-settings.ts).
 */
import { isTableName, tableNameRule } from "../../db/table-name.js";
import type { Setting } from "./setting.js";

/** The check of a connection URL. Never echoes the value: it may hold a password. */
const postgresUrl = (url: string) =>
  /^postgres(ql)?:\/\//.test(url) ? undefined : "expected postgres://user@host:port/db";

export const storageSettings = {
  /** Undefined = the file's `postgresql:` block, else the embedded database. */
  databaseUrl: {
    flag: "database-url",
    env: "DATABASE_URL",
    file: ["storage", "database_url"],
    kind: "string",
    check: postgresUrl,
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
   * no session settings at connect (the statement timeout is enforced by cancelling):
   * src/db/postgres.ts, postgres-statements.ts.
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
    check: postgresUrl,
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
} satisfies Record<string, Setting>;
