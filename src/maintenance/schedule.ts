/**
 * createMaintenance: scheduled cleanup and the sessions sample, run by one replica per interval.
 * Every replica ticks at the start of each interval on the database clock and asks the job row
 * whether this interval's run is its own (job.ts: one atomic upsert, a lease, no lock). The winner
 * cleans up through the repository stack (batched, so cache and spool see it as any Cleanup),
 * samples the sessions by state, trims the change log past its retention and the request_ids past
 * their window, records the run in the job row, tells the observer and logs one line. A failure
 * is a warning; the next interval tries again.
 */
import { hostname } from "node:os";
import { setImmediate } from "node:timers/promises";
import type { Logger } from "pino";
import type { CleanupConfig } from "../config/load-config.js";
import type { Db } from "../db/database.js";
import type { ChangeLog } from "../sessions/repository/change-log.js";
import type { SessionRepository } from "../sessions/repository/contract.js";
import { defaultRequestIdWindowMs, trimRequestKeys } from "../sessions/repository/request-keys.js";
import type { CleanupRun, Maintenance, MaintenanceObserver, SessionsSample } from "./contract.js";
import { type Claim, dateOf, jobRow } from "./job.js";
import { samples as samplesOf } from "./samples.js";

export interface MaintenanceDeps {
  db: Db;
  /** The whole stack, as the handlers see it. */
  repository: SessionRepository;
  table: string;
  cleanup: CleanupConfig;
  /** Undefined = host:pid. */
  replica: string | undefined;
  log: Logger;
  observer?: MaintenanceObserver;
  /** The change log to trim each run, and how long it keeps events; undefined = the feed is off. */
  changes?: { log: ChangeLog; retentionMs: number };
  /** How long keyed writes' request_ids are kept: older ones are trimmed each run (undefined = 24 h). */
  requestIdWindowMs?: number;
  /** How long stop() waits for an aborted run to record itself. */
  stopGraceMs?: number;
}

// A timer may fire a little early; a tick that still lands in the old interval asks again at once.
const tickMarginMs = 20;

export function createMaintenance(deps: MaintenanceDeps): Maintenance {
  const { repository, cleanup, log, observer } = deps;
  const replica = deps.replica ?? `${hostname()}:${process.pid}`;
  const job = jobRow(deps.db, deps.table, "cleanup");
  const samples = samplesOf(deps.db, deps.table);
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;

  const schedule = (delayMs: number) => {
    if (stopping.signal.aborted) return;
    timer = setTimeout(() => {
      ticking = tickSafely();
    }, delayMs);
    timer.unref();
  };

  // Nothing awaits a tick but stop(): whatever escapes one (an observer that throws) is logged,
  // never an unhandled rejection, and the schedule goes on.
  const tickSafely = () =>
    tick().catch((error: unknown) => {
      log.error({ err: describe(error), replica }, "scheduled cleanup: tick failed");
      schedule(cleanup.intervalMs);
    });

  const tick = async () => {
    let claim: Claim;
    try {
      claim = await job.claim(replica, cleanup.intervalMs, cleanup.leaseMs, stopping.signal);
    } catch (error) {
      if (stopping.signal.aborted) return;
      log.warn(
        { err: describe(error), replica },
        "scheduled cleanup: cannot reach the job row, trying again next interval",
      );
      schedule(cleanup.intervalMs);
      return;
    }
    // The next interval's start, on this process's monotonic clock (the run may take a while).
    const nextSlotAt = performance.now() + claim.msToNextSlot;
    if (claim.run !== undefined) await run(claim, claim.run);
    schedule(Math.max(0, nextSlotAt - performance.now()) + tickMarginMs);
  };

  const run = async (claim: Claim, runNumber: bigint) => {
    const outcome: CleanupRun = { replica, startedAt: dateOf(claim.claimedAt), ...(await clean(runNumber)) };
    const sample = stopping.signal.aborted ? undefined : await takeSample();
    const trimmed = stopping.signal.aborted ? undefined : await trimChanges();
    const keysTrimmed = stopping.signal.aborted ? undefined : await trimKeys();
    await job.finish(runNumber, claim.claimedAt, outcome).catch((failure: unknown) => {
      log.warn({ err: describe(failure), replica }, "scheduled cleanup: cannot record the run; its lease will expire");
    });
    if (sample !== undefined) observer?.sampled(sample);
    observer?.cleanupRan(outcome);
    const line = {
      replica,
      run: Number(runNumber),
      interval_start: new Date(Number(claim.slotMs)).toISOString(),
      expired: outcome.expired,
      purged: outcome.purged,
      duration_ms: Math.round(outcome.durationMs),
      hard_delete: cleanup.hardDelete,
      ...(trimmed === undefined ? {} : { changes_trimmed: trimmed }),
      ...(keysTrimmed === undefined ? {} : { request_ids_trimmed: keysTrimmed }),
    };
    if (outcome.error === undefined) log.info(line, "scheduled cleanup ran");
    else log.warn({ ...line, error: outcome.error }, "scheduled cleanup failed: the next interval tries again");
  };

  /** The run's cleanup, batch by batch, keeping its lease; when it fails, the counts it reached. */
  const clean = async (runNumber: bigint): Promise<Omit<CleanupRun, "replica" | "startedAt">> => {
    const signal = stopping.signal;
    const started = performance.now();
    let renewedAt = started;
    let counts = { expired: 0, purged: 0 };
    try {
      counts = await repository.cleanup(
        {
          hardDelete: cleanup.hardDelete,
          purgeInactiveOlderThan:
            cleanup.purgeInactiveAfterMs === undefined ? undefined : BigInt(cleanup.purgeInactiveAfterMs) * 1000n,
          batchSize: cleanup.batchSize,
          dryRun: false,
          async onBatch(batch) {
            counts = batch;
            log.debug({ replica, run: Number(runNumber), ...batch }, "scheduled cleanup: batch done");
            // Still ours? Renewed every third of the lease, so it lasts while batches go on.
            if (performance.now() - renewedAt >= cleanup.leaseMs / 3) {
              renewedAt = performance.now();
              if (!(await job.renew(runNumber, cleanup.leaseMs, signal)))
                throw new Error("lease lost: another replica took the job over");
            }
            // Calls are served between batches (on PGlite, a statement never yields to them).
            await setImmediate();
          },
        },
        signal,
      );
      return { durationMs: performance.now() - started, ...counts };
    } catch (failure) {
      const error = describe(signal.aborted ? signal.reason : failure).message;
      return { durationMs: performance.now() - started, ...counts, error };
    }
  };

  /** The sessions by state after the cleanup, stored (old samples trimmed); undefined when that failed. */
  const takeSample = async (): Promise<SessionsSample | undefined> => {
    try {
      const statistics = await repository.statistics(stopping.signal);
      return await samples.record(statistics, cleanup.sampleRetentionMs, stopping.signal);
    } catch (failure) {
      log.warn({ err: describe(failure), replica }, "scheduled cleanup: the sessions sample failed");
      return undefined;
    }
  };

  /**
   * Numbers what is still unnumbered (a replica may have died before its step), then deletes events
   * past the retention; how many, or undefined when the feed is off or the trim failed.
   */
  const trimChanges = async (): Promise<number | undefined> => {
    if (deps.changes === undefined) return undefined;
    try {
      await deps.changes.log.sequence(undefined, stopping.signal);
      return await deps.changes.log.trim(deps.changes.retentionMs, cleanup.batchSize, stopping.signal);
    } catch (failure) {
      log.warn({ err: describe(failure), replica }, "scheduled cleanup: trimming the change log failed");
      return undefined;
    }
  };

  /** Deletes request_ids past their window; how many, or undefined when that failed. */
  const trimKeys = async (): Promise<number | undefined> => {
    const windowMs = deps.requestIdWindowMs ?? defaultRequestIdWindowMs;
    try {
      return await trimRequestKeys(deps.db, deps.table, windowMs, cleanup.batchSize, stopping.signal);
    } catch (failure) {
      log.warn({ err: describe(failure), replica }, "scheduled cleanup: trimming the request ids failed");
      return undefined;
    }
  };

  return {
    start() {
      if (cleanup.intervalMs === 0) {
        log.info("scheduled cleanup off (cleanup.interval_ms = 0)");
        return;
      }
      log.info(
        {
          replica,
          interval_ms: cleanup.intervalMs,
          lease_ms: cleanup.leaseMs,
          hard_delete: cleanup.hardDelete,
          purge_inactive_after_ms: cleanup.purgeInactiveAfterMs ?? null,
          batch_size: cleanup.batchSize,
        },
        "scheduled cleanup on: one replica per interval, on the database clock",
      );
      if (timer === undefined && ticking === undefined) ticking = tickSafely();
    },

    async stop() {
      clearTimeout(timer);
      stopping.abort(new Error("stopped: the replica is shutting down"));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, deps.stopGraceMs ?? 2000).unref());
      await Promise.race([ticking, grace]);
    },

    lastCleanup: (signal) => job.last(signal),
    latestSample: (signal) => samples.latest(signal),
    trend: (rangeMs, stepMs, signal) => samples.trend(rangeMs, stepMs, signal),
  };
}

/** What a log line may say about a failure: its class and message, never parameters. */
function describe(error: unknown): { type: string; message: string } {
  return error instanceof Error
    ? { type: error.name, message: error.message }
    : { type: typeof error, message: String(error) };
}
