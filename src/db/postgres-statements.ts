/**
 * One statement on a pooled `pg` connection: how it is sent, timed out and cancelled, and what its
 * failure means (postgres.ts holds the pool and the connections).
 *
 * Statements with parameters run as named prepared statements: each connection parses and plans a
 * statement once, then only binds and executes it (the by-key statements of every call are the
 * same few texts). Scripts (exec) and parameterless statements go as they are. A caller's abort
 * cancels the running statement on the server (pg_cancel_backend from a separate short-lived
 * connection, since the pooled one is busy), so a passed deadline frees the database too.
 *
 * Behind a transaction-mode pooler (PgBouncer) a connection is a different server backend from one
 * transaction to the next. So there: statements go unnamed (parsed each time), the statement
 * timeout is a timer that cancels the statement, and a cancel is the protocol's cancel request (the
 * pooler routes it to the backend running the statement; a backend pid seen through it is not the
 * server's).
 */
import net from "node:net";
import pg from "pg";
import type { Logger } from "pino";
import type { QueryResult, Row } from "./database.js";
import { classifyDriverError, DatabaseAbortError, DatabaseError, DatabaseUnavailableError } from "./errors.js";

/**
 * What a pg error means: its SQLSTATE when the server sent one; otherwise pg lost (or never got)
 * its connection — it reports that with plain Errors ("Connection terminated unexpectedly",
 * "timeout exceeded when trying to connect", "Client was closed and is not queryable").
 */
export function fromPg(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  return (
    classifyDriverError(error) ??
    new DatabaseUnavailableError(error instanceof Error ? error.message : String(error), undefined, { cause: error })
  );
}

/** Runs `sql` on `client`; `params` undefined = a script or parameterless statement, sent as is. */
export type RunStatement = <R extends Row>(
  client: pg.PoolClient,
  sql: string,
  params: readonly unknown[] | undefined,
  signal: AbortSignal | undefined,
) => Promise<QueryResult<R>>;

export interface StatementOptions {
  /** Behind a transaction-mode pooler: see above. */
  pooled: boolean;
  /** Enforced here only behind a pooler; otherwise it is the connection's statement_timeout. */
  statementTimeoutMs: number;
}

/**
 * How statements run on the pool's connections. `connection` is the pool's client configuration:
 * a pg_cancel_backend goes to the same server.
 */
export function statementRunner(connection: pg.ClientConfig, options: StatementOptions, log: Logger): RunStatement {
  const { pooled } = options;
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

  return async <R extends Row>(
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
