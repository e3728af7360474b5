/**
 * The seed's monitoring items about sessions: restores by result (its "restore success rate"),
 * cleanup runs — scheduled ones as the maintenance room reports them, manual ones (the Cleanup
 * RPC) as rpc-metrics.ts reads them — and sessions by state, from the newest sample the replica
 * leading maintenance recorded (one cheap read per scrape, never a count of the table).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Maintenance, MaintenanceObserver } from "../maintenance/contract.js";

export type CleanupTrigger = "scheduled" | "rpc";

/** One cleanup that ran here, in the units metrics keep. */
export interface CleanupOutcome {
  durationMs: number;
  expired: number;
  purged: number;
  /** When it ended, in ms since the epoch. */
  endedAt: number;
  /** Set when it failed. */
  error?: string;
}

export interface SessionMetrics {
  restored(restored: number, failed: number, skippedExpired: number): void;
  cleanupRan(trigger: CleanupTrigger, outcome: CleanupOutcome): void;
  /** Counts this replica's scheduled cleanups. */
  readonly maintenanceObserver: MaintenanceObserver;
  /**
   * From now on scrapes read the newest sample and the last cleanup (by any replica) from
   * `maintenance`, and show the scheduled cleanup's interval (alerts compare against it).
   */
  readFrom(maintenance: Maintenance, cleanupIntervalMs: number): void;
}

/** How long a scrape waits for the database's answer before leaving those series out. */
const readTimeoutMs = 2000;

export function sessionMetrics(registry: Registry): SessionMetrics {
  const registers = [registry];
  let maintenance: Maintenance | undefined;

  const restores = new Counter({
    name: "isotope_restore_sessions_total",
    help: "Sessions handled by Restore and RestoreStream, by result: restored, failed, skipped_expired.",
    labelNames: ["result"] as const,
    registers,
  });
  const restoredCount = restores.labels("restored");
  const failedCount = restores.labels("failed");
  const skippedCount = restores.labels("skipped_expired");
  // Every series from the start at 0, so rate() and increase() see the first ones.
  for (const count of [restoredCount, failedCount, skippedCount]) count.inc(0);

  const runs = new Counter({
    name: "isotope_cleanup_runs_total",
    help: "Cleanups run by this replica, by trigger (scheduled, rpc) and result (ok, failed).",
    labelNames: ["trigger", "result"] as const,
    registers,
  });
  const rows = new Counter({
    name: "isotope_cleanup_sessions_total",
    help: "Sessions cleanups of this replica changed, by trigger and action: expired (deactivated or deleted), purged.",
    labelNames: ["trigger", "action"] as const,
    registers,
  });
  const duration = new Histogram({
    name: "isotope_cleanup_duration_seconds",
    help: "How long this replica's cleanups took, by trigger, in seconds.",
    labelNames: ["trigger"] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers,
  });
  for (const trigger of ["scheduled", "rpc"] as const) {
    for (const result of ["ok", "failed"]) runs.labels(trigger, result).inc(0);
    for (const action of ["expired", "purged"]) rows.labels(trigger, action).inc(0);
    duration.zero({ trigger });
  }

  // The newest success this replica knows of: its own, or (scheduled) one any replica recorded.
  const lastSuccess: Record<CleanupTrigger, number | undefined> = { scheduled: undefined, rpc: undefined };
  new Gauge({
    name: "isotope_cleanup_last_success_timestamp_seconds",
    help: "When the last successful cleanup ended, in seconds since the epoch: scheduled (by any replica) or rpc (here).",
    labelNames: ["trigger"] as const,
    registers,
    async collect() {
      this.reset();
      const last = await maintenance?.lastCleanup(AbortSignal.timeout(readTimeoutMs)).catch(() => undefined);
      if (last !== undefined && last.error === undefined) {
        const ended = last.startedAt.getTime() + last.durationMs;
        lastSuccess.scheduled = Math.max(lastSuccess.scheduled ?? 0, ended);
      }
      for (const trigger of ["scheduled", "rpc"] as const) {
        const at = lastSuccess[trigger];
        if (at !== undefined) this.labels(trigger).set(at / 1000);
      }
    },
  });

  const interval = new Gauge({
    name: "isotope_cleanup_interval_seconds",
    help: "How often a scheduled cleanup is due (by one replica of all); absent when scheduled cleanup is off.",
    registers,
  });
  interval.remove();

  const sampleTaken = new Gauge({
    name: "isotope_sessions_sample_timestamp_seconds",
    help: "When the sample isotope_sessions shows was taken, in seconds since the epoch.",
    registers,
  });
  new Gauge({
    name: "isotope_sessions",
    help: "Sessions by state (active, inactive, expired) in the newest sample of the replica leading maintenance.",
    labelNames: ["state"] as const,
    registers,
    async collect() {
      this.reset();
      sampleTaken.remove();
      const sample = await maintenance?.latestSample(AbortSignal.timeout(readTimeoutMs)).catch(() => undefined);
      if (sample === undefined) return;
      this.labels("active").set(sample.active);
      this.labels("inactive").set(sample.inactive);
      this.labels("expired").set(sample.expired);
      sampleTaken.set(sample.takenAt.getTime() / 1000);
    },
  });

  const cleanupRan = (trigger: CleanupTrigger, outcome: CleanupOutcome) => {
    runs.labels(trigger, outcome.error === undefined ? "ok" : "failed").inc();
    rows.labels(trigger, "expired").inc(outcome.expired);
    rows.labels(trigger, "purged").inc(outcome.purged);
    duration.labels(trigger).observe(outcome.durationMs / 1000);
    if (outcome.error === undefined) lastSuccess[trigger] = Math.max(lastSuccess[trigger] ?? 0, outcome.endedAt);
  };

  return {
    restored(restored, failed, skippedExpired) {
      if (restored > 0) restoredCount.inc(restored);
      if (failed > 0) failedCount.inc(failed);
      if (skippedExpired > 0) skippedCount.inc(skippedExpired);
    },
    cleanupRan,
    maintenanceObserver: {
      cleanupRan: (run) =>
        cleanupRan("scheduled", {
          durationMs: run.durationMs,
          expired: run.expired,
          purged: run.purged,
          endedAt: run.startedAt.getTime() + run.durationMs,
          ...(run.error === undefined ? {} : { error: run.error }),
        }),
      // The scrape reads the newest sample from the database, whichever replica took it.
      sampled: () => {},
    },
    readFrom(source, cleanupIntervalMs) {
      maintenance = source;
      if (cleanupIntervalMs > 0) interval.set(cleanupIntervalMs / 1000);
    },
  };
}
