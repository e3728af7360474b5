/**
 * The change log (`{table}_changes`, migration 0008): what Watch reads. Two halves.
 *
 * Writing — `changeRecorder`: every write statement of the repository goes through `logged`, which
 * wraps it in a data-modifying CTE inserting one log row per row it RETURNs, so the change and its
 * event commit or roll back together — a group-commit batch's one statement too. With the feed off
 * the wrapper keeps the statement's shape and inserts nothing.
 *
 * Ordering — why a sequencing step, not a sequence number taken at insert: a number taken inside
 * a writing transaction is not commit order (a transaction holding 10 may commit after one holding
 * 11; a reader that passed 11 would never see 10), and serialising every writer on a lock until
 * its commit would cost every write a place in one queue. Instead rows are inserted without a seq,
 * and `sequence` gives seqs to committed rows afterwards: one step at a time (the function
 * `{table}_seq` of migration 0008 first locks `{table}_feed`'s one row, then — with a snapshot
 * taken after the lock, so it sees every earlier step's work — numbers the rows still without a
 * seq in id order, continuing from the row's last_seq). So:
 * - the seqs visible to any reader are always 1..last_seq, no gaps: a step's numbers commit
 *   together, after every earlier step's; a reader at cursor c that reads `seq > c` misses nothing
 *   and sees nothing twice, on every replica alike;
 * - a session's changes are numbered in version order: its next write waits for the previous one's
 *   commit (row lock) and inserts its log row after writing, so it has the higher id, and it cannot
 *   be visible before the previous one is;
 * - any replica may run a step (they queue on the row lock); the feed runs one after its writes
 *   commit and on a slow poll, maintenance before trimming.
 */
import type { Db, Queryable } from "../../db/database.js";
import type { Micros } from "./contract.js";
import { micros } from "./sql.js";

export type ChangeKind = "saved" | "appended" | "touched" | "deleted" | "hard_deleted" | "expired" | "purged";

export interface ChangeEvent {
  sequence: bigint;
  sessionId: string;
  kind: ChangeKind;
  version: bigint;
  /** The session's metadata at the change, as JSON text. */
  metadataJson: string;
  /** When the change's transaction wrote it (database clock, just before its commit). */
  changedAt: Micros;
}

/** How every write statement records its change. */
export interface ChangeRecorder {
  /**
   * `statement` — one INSERT / UPDATE / DELETE whose RETURNING list has `session_id`, `version` and
   * `metadata_json` (jsonb as text; `changedColumns` for statements that return nothing else) —
   * wrapped as `WITH changed AS (statement) … SELECT ${select} FROM changed`: the same rows come
   * back (or what `select` makes of them), and with the feed on each of them is logged as `kind`
   * in the same statement. Read its rows, not its rowCount (a SELECT's count differs between drivers).
   */
  logged(kind: ChangeKind, statement: string, select?: string): string;
  /** Told after a logged write committed, so the feed can number and deliver it soon. */
  committed(): void;
}

/** The RETURNING list `logged` needs, for statements that return nothing else; `of` qualifies columns. */
export const changedColumns = (of: string) =>
  `${of}.session_id, COALESCE(${of}.version, 1)::int8::text AS version, COALESCE(${of}.metadata, '{}'::jsonb)::text AS metadata_json`;

/** The recorder for `table`: logging when `enabled`, told of commits through `onCommitted`. */
export function changeRecorder(table: string, enabled: boolean, onCommitted: () => void = () => {}): ChangeRecorder {
  return {
    logged: (kind, statement, select = "*") =>
      enabled
        ? `WITH changed AS (${statement}),
            logged AS (INSERT INTO ${table}_changes (session_id, kind, version, metadata)
              SELECT session_id, '${kind}', version::int8, metadata_json::jsonb FROM changed)
          SELECT ${select} FROM changed`
        : `WITH changed AS (${statement}) SELECT ${select} FROM changed`,
    committed: enabled ? onCommitted : () => {},
  };
}

/** Where the log stands: every seq up to lastSeq is given; those up to trimmedThrough are gone. */
export interface LogBounds {
  lastSeq: bigint;
  trimmedThrough: bigint;
}

export interface ChangeLog {
  /** Numbers every committed, unnumbered row (in steps of `batchSize`); returns the bounds after. */
  sequence(batchSize?: number, signal?: AbortSignal): Promise<LogBounds>;
  /** Up to `limit` events after `after`, in seq order, read in one snapshot with the bounds. */
  read(after: bigint, limit: number, signal?: AbortSignal): Promise<LogBounds & { events: ChangeEvent[] }>;
  /** Deletes numbered events older than `retentionMs` (a prefix of seqs, `batchSize` per statement); returns how many. */
  trim(retentionMs: number, batchSize: number, signal?: AbortSignal): Promise<number>;
}

interface EventRow extends Record<string, unknown> {
  seq: string | null;
  session_id: string | null;
  kind: ChangeKind | null;
  version: string | null;
  metadata_json: string | null;
  changed_at: string | null;
  last_seq: string;
  trimmed_through: string;
}

export function changeLog(db: Db, table: string): ChangeLog {
  const changes = `${table}_changes`;
  const feed = `${table}_feed`;
  const lockSql = `SELECT last_seq::text AS last_seq, trimmed_through::text AS trimmed_through FROM ${feed} FOR UPDATE`;
  // The step is a function of migration 0008: the lock and the numbering in one round trip.
  const numberSql = `SELECT new_last_seq::text AS last_seq, retained_after::text AS trimmed_through,
      numbered::text AS n FROM ${table}_seq($1::int)`;
  // One row even when no event follows, so the bounds always come back. LIMIT 1 tells the planner
  // what the feed table holds: unanalysed, it guessed 1,810 rows, and the join's estimate made
  // PostgreSQL JIT-compile every read (6 ms of CPU each).
  const readSql = `SELECT c.seq::text AS seq, c.session_id, c.kind, c.version::text AS version,
      c.metadata::text AS metadata_json, ${micros("c.changed_at")} AS changed_at,
      f.last_seq::text AS last_seq, f.trimmed_through::text AS trimmed_through
    FROM (SELECT last_seq, trimmed_through FROM ${feed} LIMIT 1) f LEFT JOIN LATERAL (
      SELECT * FROM ${changes} WHERE seq > $1::int8 ORDER BY seq LIMIT $2) c ON true
    ORDER BY c.seq`;
  // The trimmed prefix ends before the first of the next `batch` events that is still retained.
  const trimSql = `WITH next AS (SELECT seq, changed_at FROM ${changes} WHERE seq > $1::int8 ORDER BY seq LIMIT $2),
    upto AS (SELECT COALESCE(
      (SELECT min(seq) - 1 FROM next WHERE changed_at >= now() - $3::int8 * interval '1 millisecond'),
      (SELECT max(seq) FROM next), $1::int8) AS s),
    gone AS (DELETE FROM ${changes} WHERE seq > $1::int8 AND seq <= (SELECT s FROM upto) RETURNING 1)
    UPDATE ${feed} SET trimmed_through = (SELECT s FROM upto)
    RETURNING (SELECT count(*) FROM gone)::int8::text AS n`;

  /** One locked trim step: `body` runs with a snapshot taken after the feed row was locked. */
  const locked = <T>(body: (tx: Queryable, bounds: LogBounds) => Promise<T>, signal?: AbortSignal) =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query<{ last_seq: string; trimmed_through: string }>(lockSql);
      const row = rows[0];
      if (row === undefined) throw new Error(`${feed} has no row: migration 0008 did not run`);
      return body(tx, { lastSeq: BigInt(row.last_seq), trimmedThrough: BigInt(row.trimmed_through) });
    }, signal);

  return {
    async sequence(batchSize = 10_000, signal) {
      for (;;) {
        const { rows } = await db.query<{ last_seq: string; trimmed_through: string; n: string }>(
          numberSql,
          [batchSize],
          signal,
        );
        const row = rows[0] as { last_seq: string; trimmed_through: string; n: string };
        if (Number(row.n) < batchSize) {
          return { lastSeq: BigInt(row.last_seq), trimmedThrough: BigInt(row.trimmed_through) };
        }
      }
    },

    async read(after, limit, signal) {
      const { rows } = await db.query<EventRow>(readSql, [after.toString(), limit], signal);
      const first = rows[0] as EventRow;
      return {
        lastSeq: BigInt(first.last_seq),
        trimmedThrough: BigInt(first.trimmed_through),
        events: rows.flatMap((row) =>
          row.seq === null
            ? []
            : [
                {
                  sequence: BigInt(row.seq),
                  sessionId: row.session_id as string,
                  kind: row.kind as ChangeKind,
                  version: BigInt(row.version as string),
                  metadataJson: row.metadata_json as string,
                  changedAt: BigInt(row.changed_at as string),
                },
              ],
        ),
      };
    },

    async trim(retentionMs, batchSize, signal) {
      let total = 0;
      for (;;) {
        const n = await locked(async (tx, bounds) => {
          const params = [bounds.trimmedThrough.toString(), batchSize, String(retentionMs)];
          const { rows } = await tx.query<{ n: string }>(trimSql, params);
          return Number(rows[0]?.n ?? 0);
        }, signal);
        total += n;
        if (n < batchSize) return total;
      }
    },
  };
}
