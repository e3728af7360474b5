/**
 * Sessions by state over time (`{table}_samples`, migration 0007): one row per interval, taken by
 * the replica that ran that interval's cleanup, kept for the retention time and read newest first
 * (the primary key on taken_at serves both the newest row and the trim).
 */
import type { Db } from "../db/database.js";
import type { Statistics } from "../sessions/repository/contract.js";
import { micros } from "../sessions/repository/sql.js";
import type { SessionsSample, Trend } from "./contract.js";
import { dateOf } from "./job.js";

export interface Samples {
  /** Stores the statistics as a sample taken now (database clock) and drops samples past `retentionMs`. */
  record(statistics: Statistics, retentionMs: number, signal?: AbortSignal): Promise<SessionsSample>;
  latest(signal?: AbortSignal): Promise<SessionsSample | undefined>;
  /** The newest sample of each `stepMs` in the last `rangeMs` (database clock), oldest first. */
  trend(rangeMs: number, stepMs: number, signal?: AbortSignal): Promise<Trend>;
}

type SampleRow = Record<"taken_at" | "active" | "inactive" | "expired" | "total_messages" | "total_data_bytes", string>;

const columns = (table: string) => `${micros("taken_at")} AS taken_at, active::text AS active,
    inactive::text AS inactive, expired::text AS expired, total_messages::text AS total_messages,
    total_data_bytes::text AS total_data_bytes FROM ${table}`;

export function samples(db: Db, table: string): Samples {
  const samplesTable = `${table}_samples`;
  const recordSql = `WITH sample AS (
      INSERT INTO ${samplesTable} (taken_at, active, inactive, expired, total_messages, total_data_bytes)
      VALUES (now(), $1::int8, $2::int8, $3::int8, $4::int8, $5::int8)
      RETURNING *)
    SELECT ${columns("sample")}`;
  const trimSql = `DELETE FROM ${samplesTable} WHERE taken_at < now() - $1::int8 * interval '1 millisecond'`;
  const latestSql = `SELECT ${columns(samplesTable)} ORDER BY taken_at DESC LIMIT 1`;
  // A range scan of the primary key; DISTINCT ON keeps each step's newest sample. The clock row
  // comes back alone when the range holds none.
  const bucket = `floor(extract(epoch FROM ${samplesTable}.taken_at) * 1000 / $2::int8)`;
  const trendSql = `WITH clock AS (SELECT now() AS now),
    picked AS (
      SELECT DISTINCT ON (${bucket}) ${columns(samplesTable)}, clock
      WHERE ${samplesTable}.taken_at > clock.now - $1::int8 * interval '1 millisecond'
        AND ${samplesTable}.taken_at <= clock.now
      ORDER BY ${bucket}, ${samplesTable}.taken_at DESC)
    SELECT ${micros("clock.now")} AS until, picked.* FROM clock LEFT JOIN picked ON true
    ORDER BY picked.taken_at::int8`;

  return {
    async record(statistics, retentionMs, signal) {
      // Three disjoint states that add up to the table: Statistics counts expired rows among the active.
      const { rows } = await db.query<SampleRow>(
        recordSql,
        [
          (statistics.activeSessions - statistics.expiredSessions).toString(),
          statistics.inactiveSessions.toString(),
          statistics.expiredSessions.toString(),
          statistics.totalMessages.toString(),
          statistics.totalDataBytes.toString(),
        ],
        signal,
      );
      await db.query(trimSql, [String(retentionMs)], signal);
      return sampleOf(rows[0] as SampleRow);
    },

    async latest(signal) {
      const { rows } = await db.query<SampleRow>(latestSql, [], signal);
      return rows[0] === undefined ? undefined : sampleOf(rows[0]);
    },

    async trend(rangeMs, stepMs, signal) {
      const { rows } = await db.query<SampleRow & { until: string }>(
        trendSql,
        [String(rangeMs), String(stepMs)],
        signal,
      );
      return {
        until: dateOf(BigInt((rows[0] as { until: string }).until)),
        samples: rows.filter((row) => row.taken_at !== null).map(sampleOf),
      };
    },
  };
}

function sampleOf(row: SampleRow): SessionsSample {
  return {
    takenAt: dateOf(BigInt(row.taken_at)),
    active: Number(row.active),
    inactive: Number(row.inactive),
    expired: Number(row.expired),
    totalMessages: Number(row.total_messages),
    totalDataBytes: Number(row.total_data_bytes),
  };
}
