/**
 * The sessions repository on SQL: every statement against the sessions table, on the Db seam.
 */
import type { Db, Queryable } from "../../db/database.js";
import type { AppendResult, Expiry, SaveInput, SaveResult, SessionRepository, StoredSession } from "./contract.js";

// Columns every read selects; casts make pg and PGlite return the same JavaScript types.
const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::int8::text`;
// A session's messages are in session_data, or — after an Append — rows of ${table}_msg put back
// in order (migration 0004).
const messageCount = `(CASE WHEN messages_external THEN external_messages
        WHEN jsonb_typeof(session_data->'messages') = 'array' THEN jsonb_array_length(session_data->'messages')
        ELSE 0 END)`;
const columns = (withData: boolean, table = "") => `
  session_id,
  ${
    withData
      ? `(CASE WHEN messages_external THEN jsonb_set(session_data, '{messages}', COALESCE(
          (SELECT jsonb_agg(m.message ORDER BY m.seq) FROM ${table}_msg m WHERE m.session_id = ${table}.session_id),
          '[]'::jsonb)) ELSE session_data END)::text`
      : "NULL::text"
  } AS data_json,
  COALESCE(metadata, '{}'::jsonb)::text AS metadata_json,
  ${micros("created_at")} AS created_at,
  ${micros("last_updated")} AS last_updated,
  ${micros("expires_at")} AS expires_at,
  COALESCE(version, 1)::int8::text AS version,
  COALESCE(is_active, true) AS is_active,
  ${messageCount}::int8::text AS message_count`;

const fromMicros = (param: string) => `(timestamptz 'epoch' + ${param}::int8 * interval '1 microsecond')`;
const notExpired = "(expires_at IS NULL OR expires_at > now())";

interface SessionRow {
  session_id: string;
  data_json: string | null;
  metadata_json: string;
  created_at: string | null;
  last_updated: string | null;
  expires_at: string | null;
  version: string;
  is_active: boolean;
  message_count: string;
  [column: string]: unknown;
}

function toStored(row: SessionRow): StoredSession {
  return {
    sessionId: row.session_id,
    dataJson: row.data_json ?? undefined,
    metadataJson: row.metadata_json,
    // The seed's defaults fill created_at / last_updated; a hand-made NULL reads as the epoch.
    createdAt: BigInt(row.created_at ?? 0),
    lastUpdated: BigInt(row.last_updated ?? 0),
    expiresAt: row.expires_at === null ? undefined : BigInt(row.expires_at),
    version: BigInt(row.version),
    isActive: row.is_active,
    messageCount: BigInt(row.message_count),
  };
}

/** The user_id a metadata filter asks for, when it asks for one at the top level. */
function filteredUserId(filterJson: string): string | undefined {
  const userId = (JSON.parse(filterJson) as Record<string, unknown>).user_id;
  return typeof userId === "string" ? userId : undefined;
}

/** How many of the newest rows List scans for a filtered page before it asks the metadata index. */
const listProbeRows = 1000;

/** A Save replaces the whole document: its messages are in it (the trigger of 0004 drops the rows). */
const wholeDocument = "messages_external = false, external_messages = 0";

/** Creates the repository over `db` for the (already validated, migrated) `table`. */
export function createSessionRepository(db: Db, table: string): SessionRepository {
  const expiresAtSql = (expiry: Expiry, param: string) =>
    expiry.kind === "never"
      ? `${param}::timestamptz` // always NULL: keeps the parameter count fixed
      : expiry.kind === "in"
        ? `now() + ${param}::int8 * interval '1 microsecond'`
        : fromMicros(param);

  const saveSql = (expiry: Expiry, expected: bigint | undefined) => {
    const expiresAt = expiresAtSql(expiry, "$4");
    const insert = `INSERT INTO ${table} AS t
        (session_id, session_data, metadata, created_at, last_updated, expires_at, version, is_active)
      VALUES ($1, $2::jsonb, COALESCE($3::jsonb, '{}'::jsonb), now(), now(), ${expiresAt}, 1, true)`;
    // xmax = 0 only on a row this statement inserted (an ON CONFLICT update sets it).
    const returning = `RETURNING ${columns(false)}, (t.xmax = 0) AS created`;
    if (expected === undefined) {
      return `${insert}
        ON CONFLICT (session_id) DO UPDATE SET
          session_data = EXCLUDED.session_data,
          metadata = COALESCE($3::jsonb, t.metadata),
          expires_at = EXCLUDED.expires_at,
          last_updated = now(),
          version = COALESCE(t.version, 1) + 1,
          is_active = true,
          ${wholeDocument}
        ${returning}`;
    }
    if (expected === 0n) return `${insert} ON CONFLICT (session_id) DO NOTHING ${returning}`;
    return `UPDATE ${table} AS t SET
        session_data = $2::jsonb,
        metadata = COALESCE($3::jsonb, t.metadata),
        expires_at = ${expiresAt},
        last_updated = now(),
        version = COALESCE(t.version, 1) + 1,
        is_active = true,
        ${wholeDocument}
      WHERE session_id = $1 AND COALESCE(t.version, 1) = $5::int8
      RETURNING ${columns(false)}, false AS created`;
  };

  const lockForReplaySql = `SELECT COALESCE(version, 1)::int8::text AS version, ${micros("last_updated")} AS last_updated
    FROM ${table} WHERE session_id = $1 FOR UPDATE`;
  const currentVersionSql = `SELECT COALESCE(version, 1)::int8::text AS version FROM ${table} WHERE session_id = $1`;
  const expiryInPastSql = `SELECT ${fromMicros("$1")} <= now() AS past`;

  const loadSql = `SELECT ${columns(true, table)} FROM ${table}
    WHERE session_id = $1 AND ${notExpired} AND (is_active OR $2::boolean)`;

  const filters = (query: { includeInactive: boolean; metadataFilterJson: string | undefined }, params: unknown[]) => {
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
  };

  const appendLockSql = `SELECT messages_external AS external, external_messages::text AS count,
      COALESCE(version, 1)::int8::text AS version,
      CASE WHEN messages_external THEN NULL ELSE jsonb_typeof(session_data->'messages') END AS kind
    FROM ${table} WHERE session_id = $1 AND is_active AND ${notExpired} FOR UPDATE`;
  const moveMessagesSql = `INSERT INTO ${table}_msg (session_id, seq, message)
    SELECT t.session_id, x.ord - 1, x.e FROM ${table} t,
      jsonb_array_elements(COALESCE(t.session_data->'messages', '[]'::jsonb)) WITH ORDINALITY AS x(e, ord)
    WHERE t.session_id = $1`;
  const addMessagesSql = `INSERT INTO ${table}_msg (session_id, seq, message)
    SELECT $1, $2::int8 + x.ord - 1, x.e FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, ord)`;
  // session_data is rewritten only when it must change (its messages leave it, or a patch):
  // otherwise the new row version keeps pointing at the same TOASTed value.
  const appendUpdateSql = `UPDATE ${table} AS t SET
      session_data = CASE WHEN $3::boolean
        THEN (t.session_data - 'messages' - $4::text[]) || COALESCE($5::jsonb, '{}'::jsonb)
        ELSE t.session_data END,
      messages_external = true, external_messages = $2::int8,
      version = COALESCE(t.version, 1) + 1, last_updated = now()
    WHERE session_id = $1
    RETURNING ${columns(false)}`;

  const touchSql = (
    expiry: Expiry,
  ) => `UPDATE ${table} SET expires_at = ${expiresAtSql(expiry, "$2")}, last_updated = now()
    WHERE session_id = $1 AND is_active AND ${notExpired}
    RETURNING ${columns(false)}`;

  const deleteSoftSql = `UPDATE ${table} SET is_active = false, last_updated = now(),
      version = COALESCE(version, 1) + 1
    WHERE session_id = $1 AND is_active`;
  const deleteHardSql = `DELETE FROM ${table} WHERE session_id = $1`;

  const statisticsSql = `SELECT
      count(*)::int8::text AS total,
      count(*) FILTER (WHERE is_active)::int8::text AS active,
      count(*) FILTER (WHERE NOT is_active)::int8::text AS inactive,
      count(*) FILTER (WHERE is_active AND expires_at <= now())::int8::text AS expired,
      COALESCE(sum(${messageCount}) FILTER (WHERE is_active), 0)::int8::text AS messages,
      COALESCE(sum(pg_column_size(session_data)), 0)::int8::text AS bytes,
      ${micros("min(created_at)")} AS oldest,
      ${micros("max(last_updated)")} AS latest,
      count(*) FILTER (WHERE created_at > now() - interval '24 hours')::int8::text AS last_24h
    FROM ${table}`;

  // One bounded batch per statement; SKIP LOCKED lets a second Cleanup or a writer pass by.
  const expireBatchSql = (hard: boolean) => `WITH batch AS (
      SELECT session_id FROM ${table}
      WHERE is_active AND expires_at <= now()
      ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
    ${
      hard
        ? `DELETE FROM ${table} t USING batch WHERE t.session_id = batch.session_id`
        : `UPDATE ${table} t SET is_active = false, last_updated = now(), version = COALESCE(t.version, 1) + 1
           FROM batch WHERE t.session_id = batch.session_id`
    }`;
  const purgeBatchSql = `WITH batch AS (
      SELECT session_id FROM ${table}
      WHERE NOT is_active AND last_updated < now() - $2::int8 * interval '1 microsecond'
      LIMIT $1 FOR UPDATE SKIP LOCKED)
    DELETE FROM ${table} t USING batch WHERE t.session_id = batch.session_id`;
  const countExpiredSql = `SELECT count(*)::int8::text AS n FROM ${table} WHERE is_active AND expires_at <= now()`;
  const countPurgeableSql = `SELECT count(*)::int8::text AS n FROM ${table}
    WHERE NOT is_active AND last_updated < now() - $1::int8 * interval '1 microsecond'`;

  // Group commit: one row per input from parallel arrays (unnest), the same columns and rules as
  // saveSql. The input's column names differ from the table's so RETURNING's stay unambiguous.
  const batchInput = `unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[])
    AS i(id, data, meta, expires_in, expected)`;
  const batchExpiresAt =
    "CASE WHEN i.expires_in IS NULL THEN NULL ELSE now() + i.expires_in * interval '1 microsecond' END";
  const batchInsert = (metadata: string) => `INSERT INTO ${table} AS t
        (session_id, session_data, metadata, created_at, last_updated, expires_at, version, is_active)
      SELECT i.id, i.data::jsonb, ${metadata}, now(), now(), ${batchExpiresAt}, 1, true FROM ${batchInput}`;
  const batchReturning = `RETURNING ${columns(false)}, (t.xmax = 0) AS created`;
  const saveManySql = {
    // ON CONFLICT DO UPDATE sees only EXCLUDED, not the input row: whether metadata was given
    // cannot travel with the row, so Saves with and without metadata are two statements.
    blindWithMetadata: `${batchInsert("i.meta::jsonb")}
      ON CONFLICT (session_id) DO UPDATE SET
        session_data = EXCLUDED.session_data, metadata = EXCLUDED.metadata, expires_at = EXCLUDED.expires_at,
        last_updated = now(), version = COALESCE(t.version, 1) + 1, is_active = true, ${wholeDocument}
      ${batchReturning}`,
    blindKeepMetadata: `${batchInsert("'{}'::jsonb")}
      ON CONFLICT (session_id) DO UPDATE SET
        session_data = EXCLUDED.session_data, expires_at = EXCLUDED.expires_at,
        last_updated = now(), version = COALESCE(t.version, 1) + 1, is_active = true, ${wholeDocument}
      ${batchReturning}`,
    create: `${batchInsert("COALESCE(i.meta::jsonb, '{}'::jsonb)")} ON CONFLICT (session_id) DO NOTHING ${batchReturning}`,
    compareAndSet: `UPDATE ${table} AS t SET
        session_data = i.data::jsonb, metadata = COALESCE(i.meta::jsonb, t.metadata),
        expires_at = ${batchExpiresAt}, last_updated = now(), version = COALESCE(t.version, 1) + 1, is_active = true,
        ${wholeDocument}
      FROM ${batchInput}
      WHERE t.session_id = i.id AND COALESCE(t.version, 1) = i.expected
      RETURNING ${columns(false)}, false AS created`,
  };
  const shapeOf = (input: SaveInput): keyof typeof saveManySql =>
    input.expectedVersion === undefined
      ? input.metadataJson === undefined
        ? "blindKeepMetadata"
        : "blindWithMetadata"
      : input.expectedVersion === 0n
        ? "create"
        : "compareAndSet";
  const currentVersionsSql = `SELECT session_id, COALESCE(version, 1)::int8::text AS version
    FROM ${table} WHERE session_id = ANY($1::text[])`;

  const run = async (tx: Queryable, sql: string, params: unknown[], signal?: AbortSignal) =>
    (await tx.query(sql, params, signal)).rowCount;

  return {
    async save(input, signal) {
      const expiryParam = input.expiry.kind === "never" ? null : input.expiry.micros.toString();
      if (input.expiry.kind === "at") {
        const { rows } = await db.query<{ past: boolean }>(expiryInPastSql, [expiryParam], signal);
        if (rows[0]?.past) return { kind: "expiry-in-past" };
      }
      const params: unknown[] = [input.sessionId, input.dataJson, input.metadataJson ?? null, expiryParam];
      if (input.expectedVersion !== undefined && input.expectedVersion !== 0n) {
        params.push(input.expectedVersion.toString());
      }
      const { rows } = await db.query<SessionRow & { created: boolean }>(
        saveSql(input.expiry, input.expectedVersion),
        params,
        signal,
      );
      const row = rows[0];
      if (row) return { kind: "saved", session: toStored(row), created: row.created };
      const current = await db.query<{ version: string }>(currentVersionSql, [input.sessionId], signal);
      return { kind: "conflict", currentVersion: BigInt(current.rows[0]?.version ?? 0) };
    },

    async saveMany(inputs, signal) {
      const results = new Map<string, SaveResult>();
      const shapes = new Map<keyof typeof saveManySql, SaveInput[]>();
      for (const input of inputs) {
        const shape = shapeOf(input);
        const group = shapes.get(shape);
        if (group) group.push(input);
        else shapes.set(shape, [input]);
      }
      for (const [shape, group] of shapes) {
        const params = [
          group.map((input) => input.sessionId),
          group.map((input) => input.dataJson),
          group.map((input) => input.metadataJson ?? null),
          group.map(({ expiry }) => {
            if (expiry.kind === "at") throw new Error("saveMany: an absolute expiry needs save()");
            return expiry.kind === "in" ? expiry.micros.toString() : null;
          }),
          group.map((input) => input.expectedVersion?.toString() ?? null),
        ];
        const { rows } = await db.query<SessionRow & { created: boolean }>(saveManySql[shape], params, signal);
        for (const row of rows)
          results.set(row.session_id, { kind: "saved", session: toStored(row), created: row.created });
      }
      const missing = inputs.filter((input) => !results.has(input.sessionId)).map((input) => input.sessionId);
      if (missing.length > 0) {
        const { rows } = await db.query<{ session_id: string; version: string }>(currentVersionsSql, [missing], signal);
        const current = new Map(rows.map((row) => [row.session_id, BigInt(row.version)]));
        for (const id of missing) results.set(id, { kind: "conflict", currentVersion: current.get(id) ?? 0n });
      }
      return inputs.map((input) => results.get(input.sessionId) as SaveResult);
    },

    async load(sessionId, includeInactive, signal) {
      const { rows } = await db.query<SessionRow>(loadSql, [sessionId, includeInactive], signal);
      return rows[0] && toStored(rows[0]);
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

    async append(input, signal) {
      return db.transaction(async (tx): Promise<AppendResult> => {
        const { rows } = await tx.query<{ external: boolean; count: string; version: string; kind: string | null }>(
          appendLockSql,
          [input.sessionId],
        );
        const current = rows[0];
        if (!current) return { kind: "missing" };
        if (input.expectedVersion !== undefined && BigInt(current.version) !== input.expectedVersion) {
          return { kind: "conflict", currentVersion: BigInt(current.version) };
        }
        if (!current.external && current.kind !== null && current.kind !== "array") return { kind: "not-a-list" };
        const before = current.external
          ? BigInt(current.count)
          : BigInt((await tx.query(moveMessagesSql, [input.sessionId])).rowCount);
        const added = await tx.query(addMessagesSql, [input.sessionId, before.toString(), input.messagesJson]);
        const rewrite = !current.external || input.setJson !== undefined || input.removeKeys.length > 0;
        const updated = await tx.query<SessionRow>(appendUpdateSql, [
          input.sessionId,
          (before + BigInt(added.rowCount)).toString(),
          rewrite,
          input.removeKeys,
          input.setJson ?? null,
        ]);
        return { kind: "appended", session: toStored(updated.rows[0] as SessionRow) };
      }, signal);
    },

    async touch(sessionId, expiry, signal) {
      const expiryParam = expiry.kind === "never" ? null : expiry.micros.toString();
      if (expiry.kind === "at") {
        const { rows } = await db.query<{ past: boolean }>(expiryInPastSql, [expiryParam], signal);
        if (rows[0]?.past) return { kind: "expiry-in-past" };
      }
      const { rows } = await db.query<SessionRow>(touchSql(expiry), [sessionId, expiryParam], signal);
      return rows[0] ? { kind: "touched", session: toStored(rows[0]) } : { kind: "missing" };
    },

    async delete(sessionId, hard, signal) {
      return (await run(db, hard ? deleteHardSql : deleteSoftSql, [sessionId], signal)) > 0;
    },

    async statistics(signal) {
      const { rows } = await db.query<Record<string, string | null>>(statisticsSql, [], signal);
      const row = rows[0] ?? {};
      const big = (key: string) => BigInt(row[key] ?? 0);
      const active = big("active");
      const messages = big("messages");
      return {
        totalSessions: big("total"),
        activeSessions: active,
        inactiveSessions: big("inactive"),
        expiredSessions: big("expired"),
        totalMessages: messages,
        avgMessagesPerSession: active === 0n ? 0 : Number(messages) / Number(active),
        totalDataBytes: big("bytes"),
        oldestCreatedAt: row.oldest ? BigInt(row.oldest) : undefined,
        latestUpdatedAt: row.latest ? BigInt(row.latest) : undefined,
        createdLast24h: big("last_24h"),
      };
    },

    async cleanup(options, signal) {
      const purgeAge = options.purgeInactiveOlderThan?.toString();
      if (options.dryRun) {
        const expired = await db.query<{ n: string }>(countExpiredSql, [], signal);
        const purged =
          purgeAge === undefined ? undefined : await db.query<{ n: string }>(countPurgeableSql, [purgeAge], signal);
        return { expired: Number(expired.rows[0]?.n ?? 0), purged: Number(purged?.rows[0]?.n ?? 0) };
      }
      const counts = { expired: 0, purged: 0 };
      const drain = async (key: "expired" | "purged", sql: string, params: unknown[]) => {
        for (;;) {
          const n = await run(db, sql, params, signal);
          counts[key] += n;
          options.onBatch?.({ ...counts });
          if (n < options.batchSize) return;
        }
      };
      await drain("expired", expireBatchSql(options.hardDelete), [options.batchSize]);
      if (purgeAge !== undefined) await drain("purged", purgeBatchSql, [options.batchSize, purgeAge]);
      return counts;
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
        const sql = `SELECT ${columns(query.includeData, table)} FROM ${table}
          WHERE ${where.join(" AND ")} AND session_id > $${params.length - 1}
          ORDER BY session_id LIMIT $${params.length}`;
        const { rows } = await db.query<SessionRow>(sql, params, signal);
        if (rows.length === 0) return;
        yield rows.map(toStored);
        if (rows.length < query.batchSize) return;
        after = (rows[rows.length - 1] as SessionRow).session_id;
      }
    },

    async replaySpooled(sessionId, writes, signal) {
      const first = writes[0];
      if (first === undefined) throw new Error("replaySpooled: no writes");
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<{ version: string; last_updated: string | null }>(lockForReplaySql, [
          sessionId,
        ]);
        const current = rows[0];
        if (current && BigInt(current.last_updated ?? 0) > first.spooledAt) {
          return {
            kind: "conflict",
            currentVersion: BigInt(current.version),
            lastUpdated: BigInt(current.last_updated ?? 0),
          } as const;
        }
        let version = 0n;
        for (const write of writes) {
          const expiry: Expiry =
            write.expiresAt === undefined ? { kind: "never" } : { kind: "at", micros: write.expiresAt };
          const params = [sessionId, write.dataJson, write.metadataJson ?? null, write.expiresAt?.toString() ?? null];
          const saved = await tx.query<SessionRow>(saveSql(expiry, undefined), params);
          version = BigInt(saved.rows[0]?.version ?? 0);
        }
        return { kind: "applied", version } as const;
      }, signal);
    },

    async ping(signal) {
      const { rows } = await db.query<{ version: string; now: string }>(
        `SELECT version() AS version, ${micros("clock_timestamp()")} AS now`,
        [],
        signal,
      );
      return { serverVersion: rows[0]?.version ?? "", now: BigInt(rows[0]?.now ?? 0) };
    },
  };
}
