/**
 * Keyed writes (request_id, migration 0009): the key's row and the write commit in ONE transaction,
 * so no crash between them can let a repeat apply the write again. The key is inserted first: a
 * concurrent duplicate waits on its primary key until the first transaction ends, then finds the
 * committed row and returns its result. A write that applied nothing (a conflict, a missing
 * session) rolls its key back with it: running it again is harmless. A key older than the window
 * is taken over by the next request with it (and trimmed by the scheduled maintenance).
 *
 * A fenced write (a fencing token, leases.ts) runs the same way: in one transaction whose first
 * step checks the token on the locked lease row, so a refused write changes nothing.
 */
import type { Db, Queryable } from "../../db/database.js";
import type { ChangeRecorder } from "./change-log.js";
import { RequestIdReusedError, type RequestKey } from "./contract.js";
import type { Leases } from "./leases.js";

/** How long a key is remembered unless configured (storage.request_id_window_hours). */
export const defaultRequestIdWindowMs = 24 * 60 * 60 * 1000;

/** What a keyed write needs of its input. */
interface Keyed {
  sessionId: string;
  requestKey?: RequestKey;
}

export interface RequestKeys {
  /**
   * Runs a write: unkeyed as it always ran (on `db`, or in a transaction of its own when
   * `transaction`), keyed through `run` below; the change recorder is told when it applied now.
   * With `fencingToken` it runs in a transaction after the lease check (FencedOffError).
   */
  write<T>(
    key: RequestKey | undefined,
    sessionId: string,
    write: (q: Queryable) => Promise<T>,
    applied: (result: T) => boolean,
    options: { signal?: AbortSignal; transaction?: boolean; fencingToken?: bigint },
  ): Promise<T>;
  /**
   * Runs one write for many inputs (a group-commit batch; distinct sessions, distinct keys), their
   * answers in input order. Without keys: `write` on `db`, as one statement. With keys: in one
   * transaction, all keys claimed by one statement first; an input whose key is recorded within
   * the window is not written and gets its first answer; the others are written by one `write`,
   * and their keys recorded with their answers by one statement (dropped for an input `applied`
   * says changed nothing, so it may be retried). A key reused for another request fails the
   * batch with RequestIdReusedError (group commit then writes its inputs one by one).
   */
  writeMany<I extends Keyed, T>(
    inputs: readonly I[],
    write: (q: Queryable, inputs: readonly I[]) => Promise<T[]>,
    applied: (result: T) => boolean,
    signal?: AbortSignal,
  ): Promise<T[]>;
  /**
   * Runs `write` once per key: on a fresh key, in one transaction with the key's record (kept only
   * when `applied` says the write changed something); on a key seen within the window, not at
   * all — the first result comes back.
   */
  run<T>(
    key: RequestKey,
    sessionId: string,
    write: (tx: Queryable) => Promise<T>,
    applied: (result: T) => boolean,
    signal?: AbortSignal,
    fencingToken?: bigint,
  ): Promise<{ result: T; replayed: boolean }>;
  /** Which of `ids` are recorded within the window (on `tx`, in a transaction holding the writes). */
  recorded(tx: Queryable, ids: readonly string[]): Promise<Set<string>>;
  /** Records a write applied on `tx` under `key`, with its result (replacing an expired record). */
  record(tx: Queryable, key: RequestKey, sessionId: string, result: unknown): Promise<void>;
}

/** Rolls a transaction back while keeping the write's result (nothing applied, nothing to record). */
class NotApplied<T> {
  constructor(readonly result: T) {}
}

// Results are JSON with bigints as {"n": "..."}: the repository's results hold no other objects
// with a lone "n" key (documents travel as JSON text).
const encode = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? { n: v.toString() } : v));
const decode = (text: string): unknown =>
  JSON.parse(text, (_, v) =>
    v !== null && typeof v === "object" && Object.keys(v).length === 1 && typeof v.n === "string" ? BigInt(v.n) : v,
  );

export function createRequestKeys(
  db: Db,
  table: string,
  windowMs: number,
  changes: ChangeRecorder,
  leases: Pick<Leases, "check">,
): RequestKeys {
  const window = `now() - ($2::int8 * interval '1 millisecond')`;
  // Fresh keys insert; an expired one is taken over (its old result forgotten); a live one returns
  // no row. A duplicate in flight makes this wait for its transaction. Keys are claimed in their
  // order, so two transactions claiming overlapping keys cannot deadlock on them.
  const claimSql = `INSERT INTO ${table}_reqids AS r (request_id, method, session_id, request_hash)
    SELECT * FROM unnest($1::text[], $3::text[], $4::text[], $5::text[]) ORDER BY 1
    ON CONFLICT (request_id) DO UPDATE SET method = EXCLUDED.method, session_id = EXCLUDED.session_id,
      request_hash = EXCLUDED.request_hash, result = NULL, created_at = now()
    WHERE r.created_at <= ${window}
    RETURNING request_id`;
  const firstSql = `SELECT request_id, request_hash, result FROM ${table}_reqids WHERE request_id = ANY($1::text[])`;
  const recordSql = `UPDATE ${table}_reqids AS r SET result = u.result
    FROM unnest($1::text[], $2::text[]) AS u(id, result) WHERE r.request_id = u.id`;
  const dropSql = `DELETE FROM ${table}_reqids WHERE request_id = ANY($1::text[])`;
  const recordedSql = `SELECT request_id FROM ${table}_reqids
    WHERE request_id = ANY($1::text[]) AND created_at > ${window}`;

  /**
   * Claims `inputs`' keys on `tx`; the first results of those recorded within the window, by key
   * (RequestIdReusedError when one was recorded for another request).
   */
  const claim = async (tx: Queryable, inputs: ReadonlyArray<Required<Keyed>>, signal?: AbortSignal) => {
    const firsts = new Map<string, unknown>();
    if (inputs.length === 0) return firsts;
    const params = [
      inputs.map((input) => input.requestKey.id),
      String(windowMs),
      inputs.map((input) => input.requestKey.method),
      inputs.map((input) => input.sessionId),
      inputs.map((input) => input.requestKey.hash),
    ];
    const claimed = new Set(
      (await tx.query<{ request_id: string }>(claimSql, params, signal)).rows.map((row) => row.request_id),
    );
    const repeats = inputs.filter((input) => !claimed.has(input.requestKey.id));
    if (repeats.length === 0) return firsts;
    const ids = repeats.map((input) => input.requestKey.id);
    const { rows } = await tx.query<{ request_id: string; request_hash: string; result: string | null }>(
      firstSql,
      [ids],
      signal,
    );
    const recorded = new Map(rows.map((row) => [row.request_id, row]));
    for (const { requestKey } of repeats) {
      const first = recorded.get(requestKey.id);
      if (first === undefined || first.result === null || first.request_hash !== requestKey.hash) {
        throw new RequestIdReusedError(requestKey.id);
      }
      firsts.set(requestKey.id, decode(first.result));
    }
    return firsts;
  };

  const record = (tx: Queryable, applied: ReadonlyArray<[RequestKey, unknown]>, signal?: AbortSignal) =>
    tx.query(recordSql, [applied.map(([key]) => key.id), applied.map(([, result]) => encode(result))], signal);

  const isKeyed = <I extends Keyed>(input: I): input is I & Required<Keyed> => input.requestKey !== undefined;

  const keys: RequestKeys = {
    async write(key, sessionId, write, applied, { signal, transaction = false, fencingToken }) {
      if (key === undefined) {
        const fenced =
          fencingToken === undefined
            ? write
            : async (tx: Queryable) => {
                await leases.check(tx, sessionId, fencingToken);
                return write(tx);
              };
        const result =
          transaction || fencingToken !== undefined ? await db.transaction(fenced, signal) : await write(db);
        if (applied(result)) changes.committed();
        return result;
      }
      const { result, replayed } = await keys.run(key, sessionId, write, applied, signal, fencingToken);
      if (!replayed && applied(result)) changes.committed();
      return result;
    },

    async writeMany<I extends Keyed, T>(
      inputs: readonly I[],
      write: (q: Queryable, inputs: readonly I[]) => Promise<T[]>,
      applied: (result: T) => boolean,
      signal?: AbortSignal,
    ) {
      const keyed = inputs.filter(isKeyed);
      if (keyed.length === 0) {
        const results = await write(db, inputs);
        if (results.some(applied)) changes.committed();
        return results;
      }
      if (new Set(keyed.map((input) => input.requestKey.id)).size < keyed.length) {
        throw new Error("writeMany: one request_id twice in a batch");
      }
      const written = new Map<I, T>();
      const firsts = await db.transaction(async (tx) => {
        const firsts = await claim(tx, keyed, signal);
        const fresh = inputs.filter((input) => input.requestKey === undefined || !firsts.has(input.requestKey.id));
        const toRecord: Array<[RequestKey, T]> = [];
        const toDrop: string[] = [];
        const results = fresh.length > 0 ? await write(tx, fresh) : [];
        for (const [i, input] of fresh.entries()) {
          const result = results[i] as T;
          written.set(input, result);
          if (input.requestKey === undefined) continue;
          if (applied(result)) toRecord.push([input.requestKey, result]);
          else toDrop.push(input.requestKey.id);
        }
        if (toRecord.length > 0) await record(tx, toRecord, signal);
        if (toDrop.length > 0) await tx.query(dropSql, [toDrop], signal);
        return firsts;
      }, signal);
      if ([...written.values()].some(applied)) changes.committed();
      return inputs.map((input) =>
        written.has(input) ? (written.get(input) as T) : (firsts.get((input.requestKey as RequestKey).id) as T),
      );
    },

    async recorded(tx, ids) {
      const { rows } = await tx.query<{ request_id: string }>(recordedSql, [ids, String(windowMs)]);
      return new Set(rows.map((row) => row.request_id));
    },

    async record(tx, key, sessionId, result) {
      await claim(tx, [{ sessionId, requestKey: key }]);
      await record(tx, [[key, result]]);
    },

    async run(key, sessionId, write, applied, signal, fencingToken) {
      try {
        return await db.transaction(async (tx) => {
          const firsts = await claim(tx, [{ sessionId, requestKey: key }], signal);
          if (firsts.has(key.id)) return { result: firsts.get(key.id) as never, replayed: true };
          if (fencingToken !== undefined) await leases.check(tx, sessionId, fencingToken);
          const result = await write(tx);
          if (!applied(result)) throw new NotApplied(result);
          await record(tx, [[key, result]], signal);
          return { result, replayed: false };
        }, signal);
      } catch (error) {
        if (error instanceof NotApplied) return { result: error.result as never, replayed: false };
        throw error;
      }
    },
  };
  return keys;
}

/** Deletes `table`'s keys past the window (the scheduled maintenance), `batchSize` per statement; how many. */
export async function trimRequestKeys(
  db: Db,
  table: string,
  windowMs: number,
  batchSize: number,
  signal?: AbortSignal,
): Promise<number> {
  const trimSql = `WITH gone AS (DELETE FROM ${table}_reqids WHERE request_id IN (
      SELECT request_id FROM ${table}_reqids WHERE created_at <= now() - ($1::int8 * interval '1 millisecond')
      LIMIT $2) RETURNING 1)
    SELECT count(*)::text AS n FROM gone`;
  let trimmed = 0;
  for (;;) {
    const { rows } = await db.query<{ n: string }>(trimSql, [String(windowMs), batchSize], signal);
    const n = Number(rows[0]?.n ?? 0);
    trimmed += n;
    if (n < batchSize) return trimmed;
  }
}
