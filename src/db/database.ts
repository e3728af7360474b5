/**
 * The Db seam: the only interface the repository sees, and the only place a driver hides behind.
 * Two implementations serve it — `postgres.ts` (a `pg` Pool) and `embedded.ts` (PGlite in a data
 * directory) — with one set of SQL. Driver differences (PGlite returns int8 as number, pg as
 * string; jsonb parsed or not) are erased in SQL with casts: callers select `::text` / `::int8::text`.
 */

/** A row as the driver returns it, keyed by column name. */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  /** Rows inserted, updated, deleted or returned. */
  rowCount: number;
}

/** Something SQL can be run on: the database itself, or one transaction's connection. */
export interface Queryable {
  /**
   * Runs one statement with `$n` parameters. When `signal` aborts, the statement is cancelled on
   * the server (where the driver can) and the promise rejects with `DatabaseAbortError`.
   * Never logs parameters.
   */
  query<R extends Row = Row>(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<QueryResult<R>>;
  /**
   * Runs a script of one or more statements with no parameters (the simple query protocol):
   * migrations are run whole, as written.
   */
  exec(sql: string): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  /** Connections lost since opening: an idle one that failed, or one a statement found broken. */
  errors: number;
  /**
   * Operations that failed since opening because the database was not there for them: every failed
   * connect, and every statement that failed as unavailable (DatabaseUnavailableError).
   */
  connectionFailures: number;
}

export interface Db extends Queryable {
  /** "postgres" for a PostgreSQL server, "embedded" for PGlite. */
  readonly backend: "postgres" | "embedded";
  /** Where the data lives: the database name (postgres) or the data directory (embedded). */
  readonly location: string;
  /** Most connections the pool opens (1 for PGlite): what concurrent batches may hold. */
  readonly poolMax: number;
  /** Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, signal?: AbortSignal): Promise<T>;
  poolStats(): PoolStats;
  /**
   * A wake-up channel between the processes on this database: `notify` reaches every listener on
   * `channel` (this process's too), which calls `onHint`. Hints carry nothing and may be lost (a
   * hint sent while a listener reconnects is gone; `onHint` is called again once it is back), so
   * a listener also polls. PostgreSQL: LISTEN / NOTIFY on one connection of its own, outside the
   * pool (a pooler in transaction mode cannot carry it); PGlite: in this process.
   */
  hints(channel: string, onHint: () => void): Hints;
  /** Waits for running statements, then closes every connection. Idempotent. */
  close(): Promise<void>;
}

export interface Hints {
  /** Sends one hint, never waiting and never failing: a hint that cannot be sent is dropped. */
  notify(): void;
  close(): Promise<void>;
}
