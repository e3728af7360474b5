/**
 * Scheduled maintenance, led by one replica per interval (the database decides which, on its own
 * clock): cleanup of expired and long-inactive sessions, and a sample of the sessions by state.
 * What it reports, for /metrics (counters of this replica's runs) and for operators and the
 * console (the last run by any replica, the newest sample, read from the database).
 */

/** One scheduled cleanup, as the replica that ran it saw it. */
export interface CleanupRun {
  /** Which replica ran it (its configured name, else host:pid). */
  replica: string;
  /** When it started, on the database clock. */
  startedAt: Date;
  durationMs: number;
  expired: number;
  purged: number;
  /** Set when the run failed (counts are what it did before failing). */
  error?: string;
}

/** Sessions by state at one moment, taken by the replica leading maintenance. */
export interface SessionsSample {
  takenAt: Date;
  active: number;
  inactive: number;
  expired: number;
  totalMessages: number;
  totalDataBytes: number;
}

/** Samples over a range of time, for charts. */
export interface Trend {
  /** The range's end: now, on the database clock. */
  until: Date;
  /** At most one per step (its newest), oldest first. */
  samples: SessionsSample[];
}

/** Told of this replica's maintenance as it happens (metrics count it). */
export interface MaintenanceObserver {
  cleanupRan(run: CleanupRun): void;
  sampled(sample: SessionsSample): void;
}

export interface Maintenance {
  /** Starts ticking; each tick this replica asks the database whether the interval's run is its own. */
  start(): void;
  /** Stops ticking and waits for (or abandons, after a short grace) a run in progress. */
  stop(): Promise<void>;
  /** The last scheduled cleanup by any replica, from the database; undefined before the first. */
  lastCleanup(signal?: AbortSignal): Promise<CleanupRun | undefined>;
  /** The newest sample by any replica, from the database; undefined before the first. */
  latestSample(signal?: AbortSignal): Promise<SessionsSample | undefined>;
  /** The samples of the last `rangeMs` by any replica, the newest of each `stepMs`, oldest first. */
  trend(rangeMs: number, stepMs: number, signal?: AbortSignal): Promise<Trend>;
}
