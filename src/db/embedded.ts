/**
 * The Db seam on PGlite: PostgreSQL compiled to WebAssembly, persisted in a data directory, so the
 * service runs on a fresh machine with nothing installed. PGlite has one connection: statements
 * and transactions queue behind each other (a statement issued while a transaction runs waits for
 * it instead of joining it). A running statement cannot be cancelled; an aborted caller's
 * statement is skipped if it has not started. The data directory is this process's alone while open
 * (data-dir-lock.ts) and private to its user (data-dir.ts).
 */
import { resolve } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Logger } from "pino";
import { checkDataDir, createDataDir, explainFailure, makePrivate } from "./data-dir.js";
import { acquireDataDirLock, type DataDirLock } from "./data-dir-lock.js";
import type { Db, Queryable, QueryResult, Row } from "./database.js";
import { classifyDriverError, DatabaseAbortError, DatabaseError, DatabaseUnavailableError } from "./errors.js";

/** PGlite's SQL errors carry a SQLSTATE; anything else it throws is its own failure. */
const fromPglite = (error: unknown): DatabaseError =>
  classifyDriverError(error) ??
  new DatabaseError(error instanceof Error ? error.message : String(error), undefined, { cause: error });

export interface EmbeddedOptions {
  dataDir: string;
  /** The port this process serves, written into the lock so a second server can name it. */
  port?: number;
}

/**
 * Opens (or creates) the embedded database in `dataDir`. Throws DataDirectoryError — one sentence
 * naming the directory and the reason — when another process holds it, when it cannot be created
 * or written, or when it holds something PGlite cannot open.
 */
export async function openEmbedded(options: EmbeddedOptions, log: Logger): Promise<Db> {
  const dataDir = resolve(options.dataDir);
  createDataDir(dataDir);
  let lock: DataDirLock;
  try {
    lock = acquireDataDirLock(dataDir, options.port);
  } catch (error) {
    throw explainFailure(error, dataDir);
  }
  try {
    checkDataDir(dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
  // PostgreSQL writes some files later with 0666 less the umask (the relation cache's init files):
  // with 077 they are private too. Process-wide, and meant to be: nothing here shares files.
  process.umask(process.umask() | 0o077);
  // relaxedDurability stays false (the default): a statement resolves only after PGlite has handed
  // its changes to the file system. Its Node file layer writes through with synchronous write(2)
  // calls — so an acknowledged write survives the process being killed (test/e2e/crash.test.ts) —
  // but makes fsync a no-op, so the operating system may still hold it in its page cache.
  const pglite = await PGlite.create(dataDir, { relaxedDurability: false }).catch((error: unknown) => {
    lock.release();
    throw explainFailure(error, dataDir);
  });
  try {
    makePrivate(dataDir);
  } catch (error) {
    await pglite.close();
    lock.release();
    throw explainFailure(error, dataDir);
  }
  log.warn(
    { data_dir: dataDir, durability: "process-crash" },
    "embedded database: writes survive a crash of this process, not of the machine (PGlite does not fsync); use PostgreSQL where power loss matters",
  );

  /** Statements that failed as unavailable (PGlite shutting down, say): poolStats' connectionFailures. */
  let connectionFailures = 0;
  const failure = (error: unknown): DatabaseError => {
    const failed = fromPglite(error);
    if (failed instanceof DatabaseUnavailableError) connectionFailures++;
    return failed;
  };

  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  let busy = false;
  const exclusive = <T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    waiting++;
    const next = queue.then(async () => {
      waiting--;
      if (signal?.aborted) throw new DatabaseAbortError(signal.reason);
      busy = true;
      try {
        return await fn();
      } finally {
        busy = false;
      }
    });
    queue = next.catch(() => {});
    return next;
  };

  const run = async <R extends Row>(
    target: PGlite | Transaction,
    sql: string,
    params: readonly unknown[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<QueryResult<R>> => {
    if (signal?.aborted) throw new DatabaseAbortError(signal.reason);
    try {
      const result = await target.query<R>(sql, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    } catch (error) {
      throw failure(error);
    }
  };
  const script = async (target: PGlite | Transaction, sql: string) => {
    try {
      await target.exec(sql);
    } catch (error) {
      throw failure(error);
    }
  };

  // Only this process can write here: a hint goes straight to its listeners, after the caller's turn.
  const listeners = new Map<string, Set<() => void>>();
  let closing: Promise<void> | undefined;
  return {
    backend: "embedded",
    location: dataDir,
    poolMax: 1,
    query: (sql, params, signal) => exclusive(() => run(pglite, sql, params, signal), signal),
    exec: (sql) => exclusive(() => script(pglite, sql)),
    transaction: (fn, signal) =>
      exclusive(
        () =>
          pglite.transaction(async (tx) => {
            const queryable: Queryable = {
              query: (sql, params, inner) => run(tx, sql, params, inner ?? signal),
              exec: (sql) => script(tx, sql),
            };
            return fn(queryable);
          }),
        signal,
      ),
    poolStats: () => ({ total: 1, idle: busy ? 0 : 1, waiting, errors: 0, connectionFailures }),
    hints(channel, onHint) {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set.add(onHint));
      return {
        notify: () => {
          for (const listener of listeners.get(channel) ?? []) setImmediate(listener);
        },
        close: async () => void set.delete(onHint),
      };
    },
    close() {
      closing ??= queue.then(() => pglite.close()).finally(() => lock.release());
      return closing;
    },
  };
}
