/**
 * The repository's writes: Save (alone or many at once), Touch, Delete and the replay of spooled
 * Saves. Every Save — one, a group-commit batch, a replayed journal entry — is the same statement
 * for its shape, built below from one rule (`overwrite`) over rows unnested from parallel arrays.
 * Every statement that writes is wrapped by the change recorder (change-log.ts), so its events
 * are logged by the statement itself.
 */
import type { Db, Queryable } from "../../db/database.js";
import { type ChangeRecorder, changedColumns } from "./change-log.js";
import type { Expiry, SaveInput, SaveResult, SessionRepository, TouchResult } from "./contract.js";
import type { RequestKeys } from "./request-keys.js";
import {
  columns,
  expiresAtFrom,
  expiryInPastSql,
  fromMicros,
  micros,
  rowToken,
  type SessionRow,
  toStored,
} from "./sql.js";

type Writes = Pick<SessionRepository, "save" | "saveMany" | "touch" | "delete" | "replaySpooled">;

/** Which statement writes a Save: blind with or without metadata, create-only, compare-and-set. */
type Shape = "blindWithMetadata" | "blindKeepMetadata" | "create" | "compareAndSet";

const shapeOf = (input: SaveInput): Shape =>
  input.expectedVersion === undefined
    ? input.metadataJson === undefined
      ? "blindKeepMetadata"
      : "blindWithMetadata"
    : input.expectedVersion === 0n
      ? "create"
      : "compareAndSet";

const bySession = (a: SaveInput, b: SaveInput) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0);

/** The statement's parameters for `inputs`: one array per column of `rows` below. */
const rowParams = (inputs: readonly SaveInput[]) => [
  inputs.map((input) => input.sessionId),
  inputs.map((input) => input.dataJson),
  inputs.map((input) => input.metadataJson ?? null),
  inputs.map(({ expiry }) => (expiry.kind === "in" ? expiry.micros.toString() : null)),
  inputs.map(({ expiry }) => (expiry.kind === "at" ? expiry.micros.toString() : null)),
  inputs.map((input) => input.expectedVersion?.toString() ?? null),
];

export function createWrites(db: Db, table: string, changes: ChangeRecorder, requests: RequestKeys): Writes {
  // Column names of the input differ from the table's, so RETURNING's stay unambiguous.
  const rows = `unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[])
    AS i(id, data, meta, expires_in_us, expires_at_us, expected)`;
  const rowExpiresAt = expiresAtFrom("i.expires_in_us", "i.expires_at_us");
  /**
   * The rule of a Save over a stored row: the whole document replaces the old one (its messages
   * are in it: migration 0004's trigger drops the appended rows), a new version, alive again.
   */
  const overwrite = (data: string, metadata: string, expiresAt: string) => `session_data = ${data},
      metadata = ${metadata}, expires_at = ${expiresAt}, last_updated = now(),
      version = COALESCE(t.version, 1) + 1, is_active = true, messages_external = false, external_messages = 0`;
  const insert = (metadata: string) => `INSERT INTO ${table} AS t
      (session_id, session_data, metadata, created_at, last_updated, expires_at, version, is_active)
    SELECT i.id, i.data::jsonb, ${metadata}, now(), now(), ${rowExpiresAt}, 1, true FROM ${rows}`;
  // xmax = 0 only on a row this statement inserted (an ON CONFLICT update sets it).
  const returning = `RETURNING ${columns(false)}, ${rowToken("t")} AS row_token, (t.xmax = 0) AS created`;
  // ON CONFLICT DO UPDATE sees only EXCLUDED, not the input row: whether metadata was given
  // cannot travel with the row, so Saves with and without metadata are two statements.
  const saved = (statement: string) => changes.logged("saved", statement);
  const statements: Record<Shape, string> = {
    blindWithMetadata: saved(`${insert("i.meta::jsonb")} ON CONFLICT (session_id) DO UPDATE SET
      ${overwrite("EXCLUDED.session_data", "EXCLUDED.metadata", "EXCLUDED.expires_at")} ${returning}`),
    blindKeepMetadata: saved(`${insert("'{}'::jsonb")} ON CONFLICT (session_id) DO UPDATE SET
      ${overwrite("EXCLUDED.session_data", "t.metadata", "EXCLUDED.expires_at")} ${returning}`),
    create: saved(`${insert("COALESCE(i.meta::jsonb, '{}'::jsonb)")} ON CONFLICT (session_id) DO NOTHING ${returning}`),
    compareAndSet: saved(`UPDATE ${table} AS t
      SET ${overwrite("i.data::jsonb", "COALESCE(i.meta::jsonb, t.metadata)", rowExpiresAt)}
      FROM ${rows} WHERE t.session_id = i.id AND COALESCE(t.version, 1) = i.expected
      RETURNING ${columns(false)}, ${rowToken("t")} AS row_token, false AS created`),
  };
  const currentVersionsSql = `SELECT session_id, COALESCE(version, 1)::int8::text AS version
    FROM ${table} WHERE session_id = ANY($1::text[])`;
  const pastExpiriesSql = `SELECT m::text AS at FROM unnest($1::int8[]) AS m WHERE ${fromMicros("m")} <= now()`;
  const lockForReplaySql = `SELECT COALESCE(version, 1)::int8::text AS version, ${micros("last_updated")} AS last_updated
    FROM ${table} WHERE session_id = $1 FOR UPDATE`;
  const touchSql = changes.logged(
    "touched",
    `UPDATE ${table} SET expires_at = ${expiresAtFrom("$2", "$3")}, last_updated = now()
    WHERE session_id = $1 AND is_active AND (expires_at IS NULL OR expires_at > now())
    RETURNING ${columns(false)}, ${rowToken(table)} AS row_token`,
  );
  const deleteSoftSql = changes.logged(
    "deleted",
    `UPDATE ${table} SET is_active = false, last_updated = now(), version = COALESCE(version, 1) + 1
    WHERE session_id = $1 AND is_active RETURNING ${changedColumns(table)}`,
  );
  const deleteHardSql = changes.logged(
    "hard_deleted",
    `DELETE FROM ${table} WHERE session_id = $1 RETURNING ${changedColumns(table)}`,
  );

  /** Writes `inputs` (distinct sessions, one shape) with their statement; saved rows by id. */
  const write = async (tx: Queryable, shape: Shape, inputs: readonly SaveInput[], signal?: AbortSignal) => {
    const { rows } = await tx.query<SessionRow & { created: boolean }>(statements[shape], rowParams(inputs), signal);
    return new Map(
      rows.map((row): [string, SaveResult] => [
        row.session_id,
        { kind: "saved", session: toStored(row), created: row.created },
      ]),
    );
  };

  /** Writes `inputs` (distinct sessions) on `q`; the change recorder is told by the caller. */
  const saveOn = async (q: Queryable, inputs: readonly SaveInput[], signal?: AbortSignal): Promise<SaveResult[]> => {
    const results = new Map<string, SaveResult>();
    // An absolute expiry must be in the future on the database's clock: checked first, for all.
    const absolute = inputs.flatMap(({ expiry }) => (expiry.kind === "at" ? [expiry.micros.toString()] : []));
    if (absolute.length > 0) {
      const past = new Set((await q.query<{ at: string }>(pastExpiriesSql, [absolute], signal)).rows.map((r) => r.at));
      for (const input of inputs) {
        if (input.expiry.kind === "at" && past.has(input.expiry.micros.toString())) {
          results.set(input.sessionId, { kind: "expiry-in-past" });
        }
      }
    }
    const shapes = new Map<Shape, SaveInput[]>();
    // Rows are written in session order: two batches on different replicas lock them in one order.
    for (const input of [...inputs].sort(bySession)) {
      if (results.has(input.sessionId)) continue;
      const group = shapes.get(shapeOf(input)) ?? [];
      group.push(input);
      shapes.set(shapeOf(input), group);
    }
    for (const [shape, group] of shapes) {
      for (const [id, result] of await write(q, shape, group, signal)) results.set(id, result);
    }
    // A row the statement did not return lost its compare-and-set: report the version it holds.
    const missing = inputs.filter((input) => !results.has(input.sessionId)).map((input) => input.sessionId);
    if (missing.length > 0) {
      const { rows } = await q.query<{ session_id: string; version: string }>(currentVersionsSql, [missing], signal);
      const current = new Map(rows.map((row) => [row.session_id, BigInt(row.version)]));
      for (const id of missing) results.set(id, { kind: "conflict", currentVersion: current.get(id) ?? 0n });
    }
    return inputs.map((input) => results.get(input.sessionId) as SaveResult);
  };

  // Keyed Saves in a batch are claimed, written and recorded together (request-keys.ts).
  const saveMany: Writes["saveMany"] = async (inputs, signal) => {
    if (inputs.some((input) => input.fencingToken !== undefined)) throw new Error("saveMany: a fenced Save goes alone");
    return requests.writeMany(
      inputs,
      (q, fresh) => saveOn(q, fresh, signal),
      (r) => r.kind === "saved",
      signal,
    );
  };

  const touchOn = async (
    q: Queryable,
    sessionId: string,
    expiry: Expiry,
    signal?: AbortSignal,
  ): Promise<TouchResult> => {
    const micros = expiry.kind === "never" ? null : expiry.micros.toString();
    if (expiry.kind === "at" && (await q.query<{ past: boolean }>(expiryInPastSql, [micros], signal)).rows[0]?.past) {
      return { kind: "expiry-in-past" };
    }
    const params = [sessionId, expiry.kind === "in" ? micros : null, expiry.kind === "at" ? micros : null];
    const { rows } = await q.query<SessionRow>(touchSql, params, signal);
    return rows[0] === undefined ? { kind: "missing" } : { kind: "touched", session: toStored(rows[0]) };
  };

  const deleteOn = async (q: Queryable, sessionId: string, hard: boolean, signal?: AbortSignal) =>
    (await q.query(hard ? deleteHardSql : deleteSoftSql, [sessionId], signal)).rows.length > 0;

  return {
    saveMany,

    save: (input, signal) =>
      requests.write(
        input.requestKey,
        input.sessionId,
        async (q) => (await saveOn(q, [input], signal))[0] as SaveResult,
        (result) => result.kind === "saved",
        { signal, fencingToken: input.fencingToken },
      ),

    touch: (sessionId, expiry, signal, key, fencingToken) =>
      requests.write(
        key,
        sessionId,
        (q) => touchOn(q, sessionId, expiry, signal),
        (r) => r.kind === "touched",
        { signal, fencingToken },
      ),

    delete: (sessionId, hard, signal, key, fencingToken) =>
      requests.write(
        key,
        sessionId,
        (q) => deleteOn(q, sessionId, hard, signal),
        (deleted) => deleted,
        { signal, fencingToken },
      ),

    async replaySpooled(sessionId, writes, signal) {
      if (writes[0] === undefined) throw new Error("replaySpooled: no writes");
      const result = await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ version: string; last_updated: string | null }>(lockForReplaySql, [
          sessionId,
        ]);
        const current = rows[0];
        // Writes replayed before (their done-marker was lost) or spooled twice under one key
        // (a caller's retry during the outage) are not applied again.
        const keys = writes.flatMap((write) => (write.requestKey ? [write.requestKey.id] : []));
        const seen = keys.length > 0 ? await requests.recorded(tx, keys) : new Set<string>();
        const fresh = writes.filter((write) => {
          if (write.requestKey === undefined) return true;
          if (seen.has(write.requestKey.id)) return false;
          seen.add(write.requestKey.id);
          return true;
        });
        const first = fresh[0];
        if (first === undefined) return { kind: "applied", version: BigInt(current?.version ?? 0) } as const;
        if (current && BigInt(current.last_updated ?? 0) > first.spooledAt) {
          return {
            kind: "conflict",
            currentVersion: BigInt(current.version),
            lastUpdated: BigInt(current.last_updated ?? 0),
          } as const;
        }
        let version = 0n;
        for (const spooled of fresh) {
          const input: SaveInput = {
            sessionId,
            dataJson: spooled.dataJson,
            metadataJson: spooled.metadataJson,
            expiry: spooled.expiresAt === undefined ? { kind: "never" } : { kind: "at", micros: spooled.expiresAt },
            expectedVersion: undefined,
          };
          const saved = (await write(tx, shapeOf(input), [input])).get(sessionId);
          version = saved?.kind === "saved" ? saved.session.version : version;
          if (saved && spooled.requestKey) await requests.record(tx, spooled.requestKey, sessionId, saved);
        }
        return { kind: "applied", version } as const;
      }, signal);
      if (result.kind === "applied") changes.committed();
      return result;
    },
  };
}
