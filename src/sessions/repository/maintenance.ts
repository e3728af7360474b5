/**
 * The repository's maintenance: the seed's statistics, Cleanup in bounded batches (expire, then
 * purge long-inactive rows), and the round trip health and CheckConnection make.
 */
import type { Db } from "../../db/database.js";
import { type ChangeRecorder, changedColumns } from "./change-log.js";
import type { SessionRepository } from "./contract.js";
import { messageCount, micros } from "./sql.js";

type Maintenance = Pick<SessionRepository, "statistics" | "cleanup" | "ping">;

export function createMaintenance(db: Db, table: string, changes: ChangeRecorder): Maintenance {
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

  // One bounded batch per statement; SKIP LOCKED lets a second Cleanup or a writer pass by. Each
  // returns how many rows it changed (it is a SELECT over the change recorder's CTE).
  const counted = (kind: "expired" | "purged", statement: string) =>
    changes.logged(kind, statement, "count(*)::int8::text AS n");
  const expireBatchSql = (hard: boolean) =>
    counted(
      "expired",
      `WITH batch AS (
        SELECT session_id FROM ${table}
        WHERE is_active AND expires_at <= now()
        ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
      ${
        hard
          ? `DELETE FROM ${table} t USING batch WHERE t.session_id = batch.session_id`
          : `UPDATE ${table} t SET is_active = false, last_updated = now(), version = COALESCE(t.version, 1) + 1
             FROM batch WHERE t.session_id = batch.session_id`
      } RETURNING ${changedColumns("t")}`,
    );
  const purgeBatchSql = counted(
    "purged",
    `WITH batch AS (
      SELECT session_id FROM ${table}
      WHERE NOT is_active AND last_updated < now() - $2::int8 * interval '1 microsecond'
      LIMIT $1 FOR UPDATE SKIP LOCKED)
    DELETE FROM ${table} t USING batch WHERE t.session_id = batch.session_id RETURNING ${changedColumns("t")}`,
  );
  const countExpiredSql = `SELECT count(*)::int8::text AS n FROM ${table} WHERE is_active AND expires_at <= now()`;
  const countPurgeableSql = `SELECT count(*)::int8::text AS n FROM ${table}
    WHERE NOT is_active AND last_updated < now() - $1::int8 * interval '1 microsecond'`;
  const pingSql = `SELECT version() AS version, ${micros("clock_timestamp()")} AS now`;

  return {
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
          const n = Number((await db.query<{ n: string }>(sql, params, signal)).rows[0]?.n ?? 0);
          if (n > 0) changes.committed();
          counts[key] += n;
          await options.onBatch?.({ ...counts });
          if (n < options.batchSize) return;
        }
      };
      await drain("expired", expireBatchSql(options.hardDelete), [options.batchSize]);
      if (purgeAge !== undefined) await drain("purged", purgeBatchSql, [options.batchSize, purgeAge]);
      return counts;
    },

    async ping(signal) {
      const { rows } = await db.query<{ version: string; now: string }>(pingSql, [], signal);
      return { serverVersion: rows[0]?.version ?? "", now: BigInt(rows[0]?.now ?? 0) };
    },
  };
}
