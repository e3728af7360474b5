/**
 * The `cleanup:` section: the scheduled maintenance run — how often, how it expires and purges
 * sessions, in what batches, and how long its samples are kept.
 */
import type { Setting } from "./setting.js";

export const cleanupSettings = {
  /**
   * 0 = no scheduled cleanup. Expiry is honoured at read time whatever this is: a run only turns
   * expired rows inactive (or deletes them) and takes the sessions sample, so every 10 minutes keeps
   * each run to a few batches and costs next to nothing.
   */
  cleanupIntervalMs: {
    flag: "cleanup-interval-ms",
    env: "ISOTOPE_CLEANUP_INTERVAL_MS",
    file: ["cleanup", "interval_ms"],
    kind: "int",
    min: 0,
    default: 10 * 60_000,
  },
  /**
   * How long a run holds the job without news (renewed between batches): a replica killed mid-run
   * is replaced within one interval plus this. Longer than a batch can take (the statement timeout).
   */
  cleanupLeaseMs: {
    flag: "cleanup-lease-ms",
    env: "ISOTOPE_CLEANUP_LEASE_MS",
    file: ["cleanup", "lease_ms"],
    kind: "int",
    min: 100,
    default: 60_000,
  },
  /** Expired sessions are deleted rather than marked inactive (the seed's Cleanup marks them). */
  cleanupHardDelete: {
    flag: "cleanup-hard-delete",
    env: "ISOTOPE_CLEANUP_HARD_DELETE",
    file: ["cleanup", "hard_delete"],
    kind: "bool",
    default: false,
  },
  /**
   * 0 = never purge. Inactive sessions can still be read (include_inactive) and come back on Save:
   * deleting them for good is a retention policy only their owner can choose.
   */
  cleanupPurgeInactiveDays: {
    flag: "cleanup-purge-inactive-days",
    env: "ISOTOPE_CLEANUP_PURGE_INACTIVE_DAYS",
    file: ["cleanup", "purge_inactive_days"],
    kind: "int",
    min: 0,
    max: 36_500,
    default: 0,
  },
  /** Rows per statement, as Cleanup's batch_size: short locks, progress between batches. */
  cleanupBatchSize: {
    flag: "cleanup-batch-size",
    env: "ISOTOPE_CLEANUP_BATCH_SIZE",
    file: ["cleanup", "batch_size"],
    kind: "int",
    min: 1,
    max: 10_000,
    default: 1000,
  },
  /** How long the sessions-by-state samples are kept (one per interval: ~13,000 rows at the defaults). */
  cleanupSampleRetentionDays: {
    flag: "cleanup-sample-retention-days",
    env: "ISOTOPE_CLEANUP_SAMPLE_RETENTION_DAYS",
    file: ["cleanup", "sample_retention_days"],
    kind: "int",
    min: 1,
    max: 36_500,
    default: 90,
  },
} satisfies Record<string, Setting>;
