/**
 * The Db seam on a PostgreSQL server, through a `pg` Pool: the connections, transactions, the
 * hints' listening connection, pool figures and closing. How one statement is sent, timed out and
 * cancelled is postgres-statements.ts's. Every connection runs with a statement timeout. Pool
 * errors (a backend killed while idle) are logged, never fatal: the pool drops that client and
 * opens new ones when the database is back.
 *
 * Behind a transaction-mode pooler (PgBouncer, `transactionPooler`) a connection is a different
 * server backend from one transaction to the next, and the pooler refuses session settings in the
 * startup packet. So there nothing but the application name is sent at start-up, statements go
 * unnamed and are timed out by cancelling them (postgres-statements.ts), and the change feed's
 * hints need a direct URL of their own, or there are none (the feed polls).
 */
import pg from "pg";
import type { Logger } from "pino";
import type { Db, Hints, Queryable } from "./database.js";
import { DatabaseAbortError, DatabaseUnavailableError } from "./errors.js";
import { listen } from "./postgres-listener.js";
import { fromPg, statementRunner } from "./postgres-statements.js";

export interface PostgresOptions {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs?: number;
  /** Sets search_path on every connection (tests run each suite in its own schema). */
  searchPath?: string;
  /** The URL leads to a transaction-mode pooler (PgBouncer): see above. */
  transactionPooler?: boolean;
  /**
   * Where the hints' listening connection goes (a LISTEN cannot pass a transaction pooler): a
   * direct URL. Undefined = the pool's server, or — behind a transaction pooler — no listening
   * connection at all (the change feed polls).
   */
  listenConnectionString?: string;
}

export async function openPostgres(options: PostgresOptions, log: Logger): Promise<Db> {
  const pooled = options.transactionPooler === true;
  if (pooled && options.searchPath !== undefined) {
    throw new Error("search_path is a session setting: it cannot be set through a transaction pooler");
  }
  const connection: pg.ClientConfig = {
    connectionString: options.connectionString,
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: pooled ? undefined : options.statementTimeoutMs,
    options: options.searchPath ? `-c search_path=${options.searchPath}` : undefined,
    application_name: "isotope-sessions",
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...connection, max: options.poolMax, idleTimeoutMillis: options.idleTimeoutMs ?? 30_000 });
  // For poolStats (metrics): connections lost, and operations the database was not there for.
  let errors = 0;
  let connectionFailures = 0;
  pool.on("error", (error) => {
    errors++;
    log.warn(
      { err: { message: error.message, code: (error as { code?: string }).code } },
      "idle database connection failed",
    );
  });

  const run = statementRunner(connection, { pooled, statementTimeoutMs: options.statementTimeoutMs }, log);

  const withClient = async <T>(fn: (client: pg.PoolClient) => Promise<T>, signal?: AbortSignal): Promise<T> => {
    if (signal?.aborted) throw new DatabaseAbortError(signal.reason);
    const client = await pool.connect().catch((error: unknown) => {
      connectionFailures++;
      throw fromPg(error);
    });
    let broken: Error | undefined;
    // pg emits "error" on a client whose connection dies (the server shut down, a backend was
    // terminated) even while a query holds it — after failing that query. The pool listens only
    // while the client is idle: without this listener a database restart would crash the process.
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      return await fn(client);
    } catch (error) {
      // A connection-level failure leaves the client unusable: destroy it instead of reusing it.
      if (error instanceof DatabaseUnavailableError) {
        broken = error;
        connectionFailures++;
      }
      throw error;
    } finally {
      client.off("error", onError);
      if (broken !== undefined) errors++;
      client.release(broken);
    }
  };

  const listeners = new Set<Hints>();
  const db: Db = {
    backend: "postgres",
    location: options.database ?? databaseFromUrl(options.connectionString) ?? "postgres",
    poolMax: options.poolMax,
    query: (sql, params, signal) => withClient((client) => run(client, sql, params, signal), signal),
    exec: (sql) => withClient(async (client) => void (await run(client, sql, undefined, undefined))),
    transaction: (fn, signal) =>
      withClient(async (client) => {
        const tx: Queryable = {
          query: (sql, params, innerSignal) => run(client, sql, params, innerSignal ?? signal),
          // No parameters: pg sends it with the simple query protocol, which takes a whole script.
          exec: async (sql) => void (await run(client, sql, undefined, signal)),
        };
        await run(client, "BEGIN", undefined, undefined);
        try {
          const result = await fn(tx);
          await run(client, "COMMIT", undefined, undefined);
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {});
          throw error;
        }
      }, signal),
    poolStats: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      errors,
      connectionFailures,
    }),
    hints(channel, onHint) {
      if (pooled && options.listenConnectionString === undefined) {
        log.info(
          { channel },
          "behind a transaction pooler without storage.listen_url: no listening connection, the change feed polls",
        );
        return { notify() {}, close: async () => {} };
      }
      const direct =
        options.listenConnectionString === undefined
          ? connection
          : { connectionString: options.listenConnectionString, application_name: "isotope-sessions", keepAlive: true };
      const hints = listen(direct, channel, onHint, log);
      listeners.add(hints);
      return {
        notify: hints.notify,
        close: () => {
          listeners.delete(hints);
          return hints.close();
        },
      };
    },
    close: (() => {
      let closing: Promise<void> | undefined;
      return () => {
        closing ??= Promise.all([...listeners].map((hints) => hints.close())).then(() => pool.end());
        return closing;
      };
    })(),
  };

  try {
    await db.query("SELECT 1");
  } catch (error) {
    await db.close().catch(() => {});
    const where = options.connectionString
      ? redactUrl(options.connectionString)
      : `${options.host ?? "localhost"}:${options.port ?? 5432}/${options.database ?? ""}`;
    // PgBouncer's answer to the session settings sent at connect.
    const hint = /unsupported startup parameter/.test((error as Error).message)
      ? " (a transaction pooler such as PgBouncer? set storage.transaction_pooler)"
      : "";
    throw new Error(`cannot connect to PostgreSQL at ${where}: ${(error as Error).message}${hint}`);
  }
  return db;
}

function databaseFromUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || undefined;
  } catch {
    return undefined;
  }
}

/** A connection URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable url)";
  }
}
