/**
 * The repository's reads: Load by key, List pages (offset or keyset, optionally filtered by
 * metadata), and the keyset scan Restore and RestoreStream walk. Nothing here writes.
 */
import type { Db } from "../../db/database.js";
import type { Loaded, SessionRepository, StoredSession } from "./contract.js";
import { columns, fromMicros, notExpired, rowToken, type SessionRow, toStored } from "./sql.js";

/** How many of the newest rows List scans for a filtered page before it asks the metadata index. */
const listProbeRows = 1000;

type Reads = Pick<SessionRepository, "load" | "loadMany" | "list" | "countRestorable" | "scan">;

export function createReads(db: Db, table: string): Reads {
  // Keys by position (n), so one session asked for twice gets two answers. The data of a row the
  // caller already holds is not read: only its token travels.
  const token = rowToken(table);
  const loadManySql = `SELECT k.n::int AS n, ${token} AS row_token,
      ${columns({ unless: `${token} = k.known` }, table)}
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(id, known, n)
    JOIN ${table} ON ${table}.session_id = k.id
    WHERE ${notExpired}`;

  const loadMany: Reads["loadMany"] = async (keys, signal) => {
    const params = [keys.map((key) => key.sessionId), keys.map((key) => key.known ?? null)];
    const { rows } = await db.query<SessionRow & { n: number }>(loadManySql, params, signal);
    const answers: Loaded[] = new Array(keys.length).fill(undefined);
    for (const row of rows) {
      const key = keys[row.n - 1];
      if (!key || !(row.is_active || key.includeInactive)) continue;
      answers[row.n - 1] = key.known !== undefined && key.known === row.row_token ? "current" : toStored(row);
    }
    return answers;
  };

  return {
    loadMany,

    async load(sessionId, includeInactive, signal) {
      return (await loadMany([{ sessionId, includeInactive }], signal))[0] as StoredSession | undefined;
    },

    async list(query, signal) {
      // A metadata filter can be served two ways: walk the keyset index newest first and keep the
      // matches (fast when many rows match), or find the matches in the GIN index and sort them
      // (fast when few do). PostgreSQL cannot estimate jsonb containment and picks the GIN index
      // for common values too (1,000,000 rows, a value on 14 % of them: 540 ms). So: first look
      // for a full page among the newest `listProbeRows` rows; only if that falls short, ask the
      // index. Either way the page is the same rows in the same order. A user_id filter has an
      // index of its own in list order (see filters) and needs no probe.
      const page = (probe: boolean) => {
        const params: unknown[] = [];
        const where = filters({ ...query, metadataFilterJson: probe ? undefined : query.metadataFilterJson }, params);
        if (query.after) {
          params.push(query.after.lastUpdated.toString(), query.after.sessionId);
          where.push(`(last_updated, session_id) < (${fromMicros(`$${params.length - 1}`)}, $${params.length})`);
        }
        const order = "ORDER BY last_updated DESC, session_id DESC";
        const rows = `FROM ${table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ${order}`;
        if (probe) {
          params.push(query.metadataFilterJson, query.limit);
          return {
            sql: `SELECT ${columns(query.includeData, table)}
              FROM (SELECT * ${rows} LIMIT ${listProbeRows}) AS ${table}
              WHERE metadata @> $${params.length - 1}::jsonb ${order} LIMIT $${params.length}`,
            params,
          };
        }
        params.push(query.limit, query.offset);
        return {
          sql: `SELECT ${columns(query.includeData, table)} ${rows} LIMIT $${params.length - 1} OFFSET $${params.length}`,
          params,
        };
      };
      const filter = query.metadataFilterJson;
      if (filter !== undefined && query.offset === 0 && filteredUserId(filter) === undefined) {
        const probe = page(true);
        const { rows } = await db.query<SessionRow>(probe.sql, probe.params, signal);
        if (rows.length >= query.limit) return rows.map(toStored);
      }
      const full = page(false);
      const { rows } = await db.query<SessionRow>(full.sql, full.params, signal);
      return rows.map(toStored);
    },

    async countRestorable(query, signal) {
      const params: unknown[] = [];
      const where = filters({ ...query, includeInactive: true }, params);
      if (query.startAfter) {
        params.push(query.startAfter);
        where.push(`session_id > $${params.length}`);
      }
      const active = query.includeInactive ? "true" : "is_active";
      const sql = `SELECT
          count(*) FILTER (WHERE ${active} AND ${notExpired})::int8::text AS restorable,
          count(*) FILTER (WHERE ${active} AND NOT ${notExpired})::int8::text AS expired
        FROM ${table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`;
      const { rows } = await db.query<{ restorable: string; expired: string }>(sql, params, signal);
      return { restorable: BigInt(rows[0]?.restorable ?? 0), expired: BigInt(rows[0]?.expired ?? 0) };
    },

    async *scan(query, signal) {
      let after = query.startAfter ?? "";
      for (;;) {
        const params: unknown[] = [];
        const where = filters({ ...query, includeInactive: true }, params);
        where.push(notExpired);
        if (!query.includeInactive) where.push("is_active");
        params.push(after, query.batchSize);
        const sql = `SELECT ${columns(query.includeData, table)}, ${token} AS row_token FROM ${table}
          WHERE ${where.join(" AND ")} AND session_id > $${params.length - 1}
          ORDER BY session_id LIMIT $${params.length}`;
        const { rows } = await db.query<SessionRow>(sql, params, signal);
        if (rows.length === 0) return;
        yield rows.map(toStored);
        if (rows.length < query.batchSize) return;
        after = (rows[rows.length - 1] as SessionRow).session_id;
      }
    },
  };
}

/** WHERE conditions for "active and unexpired" and a metadata filter; pushes their parameters. */
function filters(query: { includeInactive: boolean; metadataFilterJson: string | undefined }, params: unknown[]) {
  const where: string[] = [];
  if (!query.includeInactive) where.push(`is_active AND ${notExpired}`);
  if (query.metadataFilterJson !== undefined) {
    params.push(query.metadataFilterJson);
    where.push(`metadata @> $${params.length}::jsonb`);
    // The same condition again, in the shape of the user_id expression index (migration 0005):
    // one user's sessions come straight off it, newest first.
    const userId = filteredUserId(query.metadataFilterJson);
    if (userId !== undefined) {
      params.push(userId);
      where.push(`metadata->>'user_id' = $${params.length}`);
    }
  }
  return where;
}

/** The user_id a metadata filter asks for, when it asks for one at the top level. */
function filteredUserId(filterJson: string): string | undefined {
  const userId = (JSON.parse(filterJson) as Record<string, unknown>).user_id;
  return typeof userId === "string" ? userId : undefined;
}
