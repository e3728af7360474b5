/**
 * The Db seam on a PostgreSQL server, through a `pg` Pool. Every connection runs with a statement
 * timeout; a caller's abort cancels the running statement on the server (pg_cancel_backend from a
 * separate short-lived connection, since the pooled one is busy), so a passed deadline frees the
 * database too. Pool errors (a backend killed while idle) are logged, never fatal: the pool drops
 * that client and opens new ones when the database is back.
 *
 * Statements with parameters run as named prepared statements: each connection parses and plans a
 * statement once, then only binds and executes it (the by-key statements of every call are the
 * same few texts). Scripts (exec) and parameterless statements go as they are.
 *
 * Behind a transaction-mode pooler (PgBouncer, `transactionPooler`) a connection is a different
 * server backend from one transaction to the next, and the pooler refuses session settings in the
 * startup packet. So there: statements go unnamed (parsed each time), nothing but the application
 * name is sent at start-up, the statement timeout is a timer that cancels the statement, and a
 * cancel is the protocol's cancel request (the pooler routes it to the backend running the
 * statement; a backend pid seen through it is not the server's).
 */
import net from "node:net";
import pg from "pg";
import type { Logger } from "pino";
import type { Db, Hints, Queryable, QueryResult, Row } from "./database.js";
import { classifyDriverError, DatabaseAbortError, DatabaseError, DatabaseUnavailableError } from "./errors.js";
import { listen } from "./postgres-listener.js";

/**
 * What a pg error means: its SQLSTATE when the server sent one; otherwise pg lost (or never got)
 * its connection — it reports that with plain Errors ("Connection terminated unexpectedly",
 * "timeout exceeded when trying to connect", "Client was closed and is not queryable").
 */
function fromPg(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  return (
    classifyDriverError(error) ??
    new DatabaseUnavailableError(error instanceof Error ? error.message : String(error), undefined, { cause: error })
  );
}

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

  const cancelBackend = async (pid: number) => {
    const canceller = new pg.Client({ ...connection, statement_timeout: 5000 });
    canceller.on("error", () => {});
    try {
      await canceller.connect();
      await canceller.query("SELECT pg_cancel_backend($1)", [pid]);
    } catch (error) {
      log.warn({ err: error }, "could not cancel a statement");
    } finally {
      await canceller.end().catch(() => {});
    }
  };
  const cancel = (client: pg.PoolClient) =>
    pooled
      ? cancelRequest(client).catch((error: unknown) => log.warn({ err: error }, "could not cancel a statement"))
      : cancelBackend((client as unknown as { processID: number }).processID);

  const run = async <R extends Row>(
    client: pg.PoolClient,
    sql: string,
    params: readonly unknown[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<QueryResult<R>> => {
    if (signal?.aborted) throw new DatabaseAbortError(signal.reason);
    let cancelled: Promise<void> | undefined;
    const onAbort = () => {
      cancelled ??= cancel(client);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // The server cannot time statements out behind a pooler: the cancel comes back as 57014, as its own would.
    const timer = pooled ? setTimeout(onAbort, options.statementTimeoutMs) : undefined;
    let result: pg.QueryResult<R> | pg.QueryResult<R>[];
    try {
      result = await client.query<R>(
        params === undefined
          ? sql
          : { name: pooled ? undefined : statementName(sql), text: sql, values: params as unknown[] },
      );
      // The statement beat its cancel: pg_cancel_backend names the backend, not the statement, so
      // the cancel would stop whatever this connection runs next (another caller's, once released).
      // Hold the connection until it has landed on an idle backend, which ignores it.
      await cancelled;
    } catch (error) {
      if (signal?.aborted) {
        await cancelled;
        throw new DatabaseAbortError(signal.reason);
      }
      throw fromPg(error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    // A script of several statements (exec) answers with one result each: the last one counts.
    const last = Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult<R>) : result;
    return { rows: last.rows, rowCount: last.rowCount ?? last.rows.length };
  };

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

/**
 * The prepared statement's name for `sql`: one per distinct text, process-wide (a name means the
 * same text on every connection). The repository's texts are a few dozen; past `maxNamed` (text
 * built from unexpected input) statements go unnamed rather than grow every connection's cache.
 */
const names = new Map<string, string>();
const maxNamed = 500;
function statementName(sql: string): string | undefined {
  let name = names.get(sql);
  if (name === undefined && names.size < maxNamed) {
    name = `iso_${names.size}`;
    names.set(sql, name);
  }
  return name;
}

/**
 * Sends the protocol's cancel request for the statement `client` runs, on a connection of its own
 * to the same address, and resolves once the other end has closed it (it has passed the request on).
 */
function cancelRequest(client: pg.PoolClient): Promise<void> {
  const { host, port, processID, secretKey } = client as unknown as {
    host: string;
    port: number;
    processID: number;
    secretKey: number;
  };
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4); // the cancel request code
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const socket = host.startsWith("/") ? net.connect(`${host}/.s.PGSQL.${port}`) : net.connect(port, host);
    socket.setTimeout(5000, () => socket.destroy(new Error("cancel request: no answer in 5 s")));
    // As libpq: send, then wait for the other end to close. Closing first is not only impolite:
    // PgBouncer 1.18 dies of a cancel whose client left before it was forwarded.
    socket.once("connect", () => socket.write(packet));
    socket.once("error", reject);
    socket.once("close", () => resolve());
  });
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
