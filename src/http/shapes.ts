/**
 * The HTTP API's answers in the seed manager's field names — the shapes the Python drop-in
 * (clients/python/isotope_sessions) returns: snake_case, ISO-8601 times in UTC, int64 figures as
 * JSON numbers, durations in seconds. Built from the RPCs' response messages, nothing else.
 */
import { type JsonObject, toJson } from "@bufbuild/protobuf";
import { type Duration, type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  type CheckConnectionResponse,
  type CleanupResponse,
  Durability,
  type RestoreResponse,
  type Session,
  type StatisticsResponse,
} from "../../gen/isotope/session/v1/session_pb.js";

/** RFC 3339 in UTC with the database's microseconds ("2030-01-01T00:00:00.123456Z"); null when unset. */
export const isoTime = (time: Timestamp | undefined): string | null =>
  time === undefined ? null : (toJson(TimestampSchema, time) as string);

const seconds = (duration: Duration | undefined): number =>
  duration === undefined ? 0 : Number(duration.seconds) + duration.nanos / 1e9;

export const durabilityName = (durability: Durability): string =>
  durability === Durability.SPOOLED ? "spooled" : "database";

/** A session as list_sessions returns it; with its data when the call returned data. */
export function sessionShape(session: Session | undefined): JsonObject {
  if (session === undefined) return {};
  const summary: JsonObject = {
    session_id: session.sessionId,
    metadata: session.metadata ?? {},
    created_at: isoTime(session.createdAt),
    last_updated: isoTime(session.lastUpdated),
    expires_at: isoTime(session.expiresAt),
    version: Number(session.version),
    is_active: session.isActive,
    message_count: Number(session.messageCount),
  };
  return session.data === undefined ? summary : { ...summary, data: session.data };
}

/** get_session_statistics()'s keys. */
export const statisticsShape = (stats: StatisticsResponse): JsonObject => ({
  total_sessions: Number(stats.totalSessions),
  active_sessions: Number(stats.activeSessions),
  inactive_sessions: Number(stats.inactiveSessions),
  expired_sessions: Number(stats.expiredSessions),
  total_messages: Number(stats.totalMessages),
  avg_messages_per_session: stats.avgMessagesPerSession,
  total_data_bytes: Number(stats.totalDataBytes),
  oldest_session: isoTime(stats.oldestCreatedAt),
  latest_activity: isoTime(stats.latestUpdatedAt),
  created_last_24h: Number(stats.createdLast24h),
});

/** restore_all_sessions()'s counts and failures (not the sessions: Restore checks, it does not carry). */
export const restoreShape = (result: RestoreResponse): JsonObject => ({
  restored_count: Number(result.restoredCount),
  failed_count: Number(result.failedCount),
  failed_sessions: result.failed.map((failure) => ({ session_id: failure.sessionId, reason: failure.reason })),
  skipped_expired_count: Number(result.skippedExpiredCount),
  duration_seconds: seconds(result.duration),
});

/** Cleanup's counts; `cleaned_count` is the seed's name for cleanup_expired_sessions()'s number. */
export const cleanupShape = (result: CleanupResponse, dryRun: boolean): JsonObject => ({
  expired_count: Number(result.expiredCount),
  purged_count: Number(result.purgedCount),
  cleaned_count: Number(result.expiredCount),
  dry_run: dryRun,
  duration_seconds: seconds(result.duration),
});

/** The seed's connection test (`success`), with the figures CheckConnection adds. */
export function connectionShape(check: CheckConnectionResponse): JsonObject {
  const { cache, spool, pool } = check;
  const shape: JsonObject = {
    success: check.ok,
    ok: check.ok,
    latency_ms: Math.round(seconds(check.latency) * 1e6) / 1e3,
    backend: check.backend,
    server_version: check.serverVersion,
    database: check.database,
    pool: { total: pool?.total ?? 0, idle: pool?.idle ?? 0, waiting: pool?.waiting ?? 0 },
    cache:
      cache === undefined
        ? null
        : {
            enabled: cache.enabled,
            coherent: cache.coherent,
            hits: Number(cache.hits),
            misses: Number(cache.misses),
            entries: Number(cache.entries),
            bytes: Number(cache.bytes),
            max_bytes: Number(cache.maxBytes),
          },
    spool:
      spool === undefined
        ? null
        : {
            enabled: spool.enabled,
            pending: Number(spool.pending),
            spooled: Number(spool.spooled),
            replayed: Number(spool.replayed),
            conflicts: Number(spool.conflicts),
          },
  };
  return check.ok ? shape : { ...shape, error: check.error };
}
