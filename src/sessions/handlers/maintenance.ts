/**
 * The operator's RPCs: Statistics, Cleanup, Restore, RestoreStream (an engine's start-up) and
 * CheckConnection (the seed's connection test).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { RestoreFailure, Session, SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import { toDuration, toSession, toTimestamp } from "../convert.js";
import type { CacheStatus, ScanQuery } from "../repository/contract.js";
import { lastMessages, restoreCheck } from "../responses.js";
import * as validate from "../validate.js";
import type { HandlerDeps } from "./deps.js";

type Maintenance = Pick<
  ServiceImpl<typeof SessionService>,
  "statistics" | "cleanup" | "restore" | "restoreStream" | "checkConnection"
>;

export function createMaintenanceHandlers({ db, repository, limits }: HandlerDeps): Maintenance {
  const scanQuery = (
    req: { includeInactive: boolean; metadataFilter?: JsonObject; batchSize: number },
    includeData: boolean,
  ): ScanQuery => ({
    includeInactive: req.includeInactive,
    metadataFilterJson: validate.metadataFilter(req.metadataFilter, limits),
    batchSize: validate.inRange(req.batchSize, "batch_size", 1, 10_000, 500),
    includeData,
  });

  return {
    async statistics(_req, ctx) {
      const stats = await repository.statistics(ctx.signal);
      return {
        ...stats,
        oldestCreatedAt: stats.oldestCreatedAt === undefined ? undefined : toTimestamp(stats.oldestCreatedAt),
        latestUpdatedAt: stats.latestUpdatedAt === undefined ? undefined : toTimestamp(stats.latestUpdatedAt),
      };
    },

    async cleanup(req, ctx) {
      const batchSize = validate.inRange(req.batchSize, "batch_size", 1, 10_000, 1000);
      const purgeInactiveOlderThan =
        req.purgeInactiveOlderThan === undefined
          ? undefined
          : validate.positiveDuration(req.purgeInactiveOlderThan, "purge_inactive_older_than");
      const started = performance.now();
      const counts = await repository.cleanup(
        { hardDelete: req.hardDelete, purgeInactiveOlderThan, batchSize, dryRun: req.dryRun },
        ctx.signal,
      );
      return {
        expiredCount: BigInt(counts.expired),
        purgedCount: BigInt(counts.purged),
        duration: toDuration(performance.now() - started),
      };
    },

    async restore(req, ctx) {
      const query = scanQuery(req, true);
      const started = performance.now();
      const { expired } = await repository.countRestorable(query, ctx.signal);
      let restoredCount = 0n;
      const failed: RestoreFailure[] = [];
      for await (const batch of repository.scan(query, ctx.signal)) {
        for (const row of batch) {
          const failure = restoreCheck(row).failure;
          if (failure) failed.push(failure);
          else restoredCount++;
        }
      }
      return {
        restoredCount,
        failedCount: BigInt(failed.length),
        failed,
        skippedExpiredCount: expired,
        duration: toDuration(performance.now() - started),
      };
    },

    async *restoreStream(req, ctx) {
      const query = { ...scanQuery(req, true), startAfter: req.startAfter };
      const { restorable } = await repository.countRestorable(query, ctx.signal);
      const progress = { restoredCount: 0n, failedCount: 0n, totalEstimate: restorable };
      // One batch is read, converted and sent before the next is read: Connect writes each
      // yielded message before resuming the generator, so memory stays one batch deep.
      for await (const batch of repository.scan(query, ctx.signal)) {
        const sessions: Session[] = [];
        const failures: RestoreFailure[] = [];
        for (const row of batch) {
          const { session, failure } = restoreCheck(row);
          if (failure) failures.push(failure);
          else sessions.push(req.omitData ? toSession(row) : lastMessages(session as Session, req.lastMessages));
        }
        progress.restoredCount += BigInt(sessions.length);
        progress.failedCount += BigInt(failures.length);
        yield { sessions, failures, progress: { ...progress }, done: false };
      }
      yield { progress, done: true };
    },

    async checkConnection(_req, ctx) {
      const started = performance.now();
      const { cache, spool } = repository.status();
      const base = {
        backend: db.backend,
        database: db.location,
        spool: spool ? { enabled: true, ...mapValues(spool, BigInt) } : { enabled: false },
        cache: cacheFigures(cache),
      };
      try {
        const { serverVersion } = await repository.ping(ctx.signal);
        const latency = toDuration(performance.now() - started);
        return { ...base, ok: true, latency, serverVersion, pool: db.poolStats() };
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        return { ...base, ok: false, pool: db.poolStats(), error: "database did not answer" };
      }
    },
  };
}

function cacheFigures(cache: CacheStatus | undefined) {
  if (cache === undefined) return { enabled: false };
  const { enabled, coherent, ...figures } = cache;
  return { enabled, coherent, ...mapValues(figures, BigInt) };
}

function mapValues<K extends string, V, W>(record: Record<K, V>, fn: (value: V) => W): Record<K, W> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value as V)])) as Record<K, W>;
}
