/**
 * The sessions repository's contract: the interface every layer of the stack implements — the
 * SQL repository (create.ts) and the decorators over it (group commit, cache, spool) — and the
 * promises each implementation keeps. It knows neither Connect nor protobuf. Expected outcomes
 * are values (`undefined`, a conflict); only real failures throw, as the db room's error classes.
 *
 * Promises (test/contract/repository.test.ts runs them over every stack, on PGlite and PostgreSQL):
 * - time is the database's (`now()`); timestamps leave as microseconds since the epoch (bigint),
 *   so keyset cursors compare exactly;
 * - `load` never returns an expired session, nor a soft-deleted one unless asked;
 * - `save` bumps `version` by one on every write and reactivates a soft-deleted session;
 * - every statement is keyed by session_id or is a bounded batch (no long locks);
 * - every write that changes a session logs its event in the same statement (change-log.ts), and
 *   one that changes nothing logs nothing;
 * - a keyed write (`RequestKey`) applies at most once per key within the window: a repeat returns
 *   the first result and changes nothing; the key with another request throws RequestIdReusedError.
 *   Only a write that applied records its key (one that changed nothing may simply run again);
 * - a write with a fencing token (leases.ts) applies only while the token is the session's newest,
 *   checked in the write's own transaction; otherwise it throws FencedOffError and changes nothing.
 */
import { DatabaseUnavailableError } from "../../db/errors.js";
import type { StackStatus } from "./stack-status.js";
import type { LeaseResult, RequestKey } from "./write-guards.js";

export type { CacheStatus, SpoolStatus, StackStatus } from "./stack-status.js";
export { FencedOffError, type Lease, type LeaseResult, RequestIdReusedError, type RequestKey } from "./write-guards.js";

/** Microseconds since 1970-01-01T00:00:00Z, as the database computed them. */
export type Micros = bigint;

export interface StoredSession {
  sessionId: string;
  /** session_data as JSON text; undefined when the caller did not ask for data. */
  dataJson: string | undefined;
  metadataJson: string;
  createdAt: Micros;
  lastUpdated: Micros;
  expiresAt: Micros | undefined;
  version: bigint;
  isActive: boolean;
  messageCount: bigint;
  /** Set when this is a write held in the outage journal, not yet in the database (spool.ts). */
  spooled?: true;
  /**
   * Which committed state of the row this is (its xmin and version), on rows read or written by
   * key: a `LoadKey.known` to ask whether a copy is still current. Any write changes it, also one
   * made outside this service.
   */
  rowToken?: string;
}

/** One by-key read of `loadMany`. */
export interface LoadKey {
  sessionId: string;
  includeInactive: boolean;
  /** The rowToken of a copy the caller holds: while the row still has it, the answer is "current". */
  known?: string;
}

/** A session, "current" (the caller's known copy is the row as it is), or undefined (none to serve). */
export type Loaded = StoredSession | "current" | undefined;

export type Expiry = { kind: "never" } | { kind: "in"; micros: bigint } | { kind: "at"; micros: Micros };

export interface SaveInput {
  sessionId: string;
  dataJson: string;
  /** undefined keeps the stored metadata ({} for a new session). */
  metadataJson: string | undefined;
  expiry: Expiry;
  /** Compare-and-set: 0n = must not exist; undefined = blind write. */
  expectedVersion: bigint | undefined;
  /** Set: a keyed Save, written in one transaction with its key's record (request-keys.ts). */
  requestKey?: RequestKey;
  /** Set: a fenced Save, written alone in one transaction with its lease check (never spooled). */
  fencingToken?: bigint;
}

export type SaveResult =
  | { kind: "saved"; session: StoredSession; created: boolean }
  | { kind: "conflict"; currentVersion: bigint }
  | { kind: "expiry-in-past" };

export interface AppendInput {
  sessionId: string;
  /** The messages to add, as a JSON array. */
  messagesJson: string;
  /** Top-level keys of data to set, as a JSON object (undefined: none). */
  setJson: string | undefined;
  /** Top-level keys of data to remove. */
  removeKeys: string[];
  expectedVersion: bigint | undefined;
  requestKey?: RequestKey;
  fencingToken?: bigint;
}

export type AppendResult =
  | { kind: "appended"; session: StoredSession }
  | { kind: "missing" }
  | { kind: "conflict"; currentVersion: bigint }
  /** data.messages exists but is not an array: there is nothing to append to. */
  | { kind: "not-a-list" };

export type TouchResult =
  | { kind: "touched"; session: StoredSession }
  | { kind: "missing" }
  | { kind: "expiry-in-past" };

export interface ListQuery {
  limit: number;
  offset: number;
  /** Keyset cursor: the last row of the previous page. */
  after: { lastUpdated: Micros; sessionId: string } | undefined;
  includeInactive: boolean;
  metadataFilterJson: string | undefined;
  includeData: boolean;
}

export interface ScanQuery {
  /** Start after this session_id ("" = from the beginning). */
  startAfter?: string;
  includeInactive: boolean;
  metadataFilterJson: string | undefined;
  batchSize: number;
  includeData: boolean;
}

export interface Statistics {
  totalSessions: bigint;
  activeSessions: bigint;
  inactiveSessions: bigint;
  expiredSessions: bigint;
  totalMessages: bigint;
  avgMessagesPerSession: number;
  totalDataBytes: bigint;
  oldestCreatedAt: Micros | undefined;
  latestUpdatedAt: Micros | undefined;
  createdLast24h: bigint;
}

export interface CleanupOptions {
  hardDelete: boolean;
  /** Purge rows inactive for longer than this many microseconds; undefined purges nothing. */
  purgeInactiveOlderThan: bigint | undefined;
  batchSize: number;
  dryRun: boolean;
  /**
   * Called after every batch with the running totals (for progress logs); the next batch waits
   * for what it returns (a scheduled run yields to the event loop there: PGlite's statements never do).
   */
  onBatch?: (counts: { expired: number; purged: number }) => unknown;
}

/** A blind Save taken while the database was unavailable (see spool.ts), replayed in order. */
export interface SpooledWrite {
  seq: number;
  sessionId: string;
  dataJson: string;
  /** undefined keeps the stored metadata, as in SaveInput. */
  metadataJson: string | undefined;
  expiresAt: Micros | undefined;
  /** When it was spooled, on the service's estimate of the database clock. */
  spooledAt: Micros;
  /**
   * Its key (the caller's request_id, else one the spool gave it), recorded with the replay: a
   * write replayed once is never applied again, even when its done-marker was not written.
   * Absent only in journals written before keys.
   */
  requestKey?: RequestKey;
}

export type ReplayResult =
  | { kind: "applied"; version: bigint }
  /** The session was written in the database after the first write was spooled: nothing applied. */
  | { kind: "conflict"; currentVersion: bigint; lastUpdated: Micros };

export interface SessionRepository {
  save(input: SaveInput, signal?: AbortSignal): Promise<SaveResult>;
  /**
   * Group commit: many Saves of distinct sessions (and distinct request_ids; no fencing token),
   * written with one statement per shape (blind with / without metadata, create,
   * compare-and-set) — usually one. Without keys each statement commits on its own; with keys the
   * batch is one transaction that also claims and records them, and a repeated key's input gets
   * its first answer. Results come back in input order; a conflict is a result for its own input.
   */
  saveMany(inputs: readonly SaveInput[], signal?: AbortSignal): Promise<SaveResult[]>;
  load(sessionId: string, includeInactive: boolean, signal?: AbortSignal): Promise<StoredSession | undefined>;
  /**
   * Many by-key reads in one statement, answered in input order: concurrent Loads share it (as
   * Saves share group commit's), and a held copy is proven current without reading its data.
   */
  loadMany(keys: readonly LoadKey[], signal?: AbortSignal): Promise<Loaded[]>;
  list(query: ListQuery, signal?: AbortSignal): Promise<StoredSession[]>;
  /**
   * Adds messages to an active, unexpired session without rewriting its history: the first Append
   * moves its messages out of session_data (once), later ones insert rows only.
   */
  append(input: AppendInput, signal?: AbortSignal): Promise<AppendResult>;
  /**
   * Sets an active, unexpired session's expiry and last_updated (not its version or data);
   * `missing` when there is no such session (or it is soft-deleted or expired).
   */
  touch(
    sessionId: string,
    expiry: Expiry,
    signal?: AbortSignal,
    requestKey?: RequestKey,
    fencingToken?: bigint,
  ): Promise<TouchResult>;
  /** Returns whether a session was deleted (false when missing, or already inactive for a soft delete). */
  delete(
    sessionId: string,
    hard: boolean,
    signal?: AbortSignal,
    requestKey?: RequestKey,
    fencingToken?: bigint,
  ): Promise<boolean>;
  /**
   * Claims the session for `holder` for `ttlMicros` (database clock) with the next fencing token;
   * the same holder gets a new token too. `taken` while another holder's lease is unexpired.
   */
  acquireLease(sessionId: string, holder: string, ttlMicros: bigint, signal?: AbortSignal): Promise<LeaseResult>;
  /** Extends the lease while `holder` still has it with `token`; `lost` (with who has it) otherwise. */
  renewLease(
    sessionId: string,
    holder: string,
    token: bigint,
    ttlMicros: bigint,
    signal?: AbortSignal,
  ): Promise<LeaseResult>;
  /** Ends `holder`'s unexpired lease with `token` now; false when it held none. The token is kept. */
  releaseLease(sessionId: string, holder: string, token: bigint, signal?: AbortSignal): Promise<boolean>;
  statistics(signal?: AbortSignal): Promise<Statistics>;
  cleanup(options: CleanupOptions, signal?: AbortSignal): Promise<{ expired: number; purged: number }>;
  /** Counts what `scan` will yield (an estimate under concurrent writes) and the expired rows it skips. */
  countRestorable(query: ScanQuery, signal?: AbortSignal): Promise<{ restorable: bigint; expired: bigint }>;
  /** Yields restorable sessions in session_id order, one keyset batch per round trip. */
  scan(query: ScanQuery, signal?: AbortSignal): AsyncGenerator<StoredSession[]>;
  /**
   * Applies one session's spooled writes in order, in one transaction — unless the stored row
   * changed after the first of them was spooled (last-writer-wins ordered by time: the database
   * holds a later write), which is a conflict and changes nothing.
   */
  replaySpooled(sessionId: string, writes: readonly SpooledWrite[], signal?: AbortSignal): Promise<ReplayResult>;
  /**
   * This layer's last copy of a session (the cache's), not proven current and never a read: what
   * the spool falls back on for the metadata a spooled Save keeps. Undefined when none is held.
   */
  lastKnown(sessionId: string): StoredSession | undefined;
  /** A round trip; also returns the database clock, in microseconds since the epoch. */
  ping(signal?: AbortSignal): Promise<{ serverVersion: string; now: Micros }>;
  /** Figures of the layers that keep some (cache, spool), for CheckConnection. */
  status(): StackStatus;
  /** Stops the layers' background work and releases what they hold; never closes the database. */
  close(): Promise<void>;
}

/**
 * A read across sessions (List, Restore, Statistics, Cleanup) refused because this replica's
 * spool holds acknowledged writes it cannot replay yet: the answer would silently miss them.
 */
export class SpooledWritesPendingError extends DatabaseUnavailableError {
  constructor(readonly pending: number) {
    super(`${pending} spooled write${pending === 1 ? "" : "s"} not yet replayed to the database`, undefined);
  }
}
