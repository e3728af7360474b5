/**
 * The change feed behind Watch: every replica keeps one reader of the change log
 * (src/sessions/repository/change-log.ts) and hands what it reads to the Watch streams it serves;
 * a stream that starts behind reads its way up first. What a stream is promised: events in
 * sequence order, each once, from its starting point on — or an error saying where to resume.
 */
import type { ChangeEvent } from "../sessions/repository/change-log.js";

export interface WatchQuery {
  /** Deliver events after this sequence; 0n = from now (the log's end when the stream starts). */
  sinceSequence: bigint;
  /** Only these sessions' events (undefined: every session's). */
  sessionIds: ReadonlySet<string> | undefined;
  /** Only events whose metadata contains this JSON object, as jsonb's @> (undefined: all). */
  metadataFilter: Record<string, unknown> | undefined;
}

/** What a stream sends: matching events, and how far through the log it has looked. */
export interface WatchBatch {
  events: ChangeEvent[];
  /**
   * Every event up to this sequence that matches the query has been sent (these included): the
   * `sinceSequence` to resume from. A batch without events only moves it on.
   */
  position: bigint;
}

export type FeedFailure =
  /** The query starts before the retained history (trimmed) or after the log's end. */
  | "out-of-range"
  /** The stream's client read too slowly: its queue filled up. */
  | "behind"
  /** The replica is shutting down. */
  | "stopped";

/** Why a stream ended early; `position` is where its client may resume from (except out-of-range). */
export class FeedError extends Error {
  override readonly name = "FeedError";
  constructor(
    readonly failure: FeedFailure,
    message: string,
    readonly position: bigint,
  ) {
    super(message);
  }
}

/** What the replica's feed is doing, for metrics: counted since it started. */
export interface FeedStatus {
  /** Watch streams open: reading their way up to the log's head, and fed by the shared reader. */
  streams: { catchingUp: number; live: number };
  /** The newest sequence this replica has seen given (by its own steps or its reads); 0 before any. */
  lastSequence: bigint;
  /** Events sent on its streams. */
  eventsSent: number;
  /** Streams that ended early, by why. */
  ended: Record<FeedFailure, number>;
}

export interface ChangeFeed {
  /** False when the feed is off (changes.enabled = false): nothing is logged, Watch is refused. */
  readonly enabled: boolean;
  /** The stream of `query`, until `signal` aborts (then it just ends) or a FeedError. */
  watch(query: WatchQuery, signal: AbortSignal): AsyncGenerator<WatchBatch>;
  /** Told after a write that logged changes committed (the change recorder's `committed`). */
  written(): void;
  /** Listens for hints and polls. */
  start(): void;
  /** Ends every stream with "stopped" and stops listening. */
  stop(): Promise<void>;
  status(): FeedStatus;
}
