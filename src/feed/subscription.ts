/**
 * One Watch stream's place in the feed: its filter, how far through the log it has looked, and a
 * bounded queue between the replica's reader (which never waits for a client) and the stream
 * (which sends as fast as its client reads). A client that lets the queue fill gets its stream
 * ended with "behind", naming where to resume — the server never buffers without bound.
 */
import { DatabaseAbortError } from "../db/errors.js";
import type { ChangeEvent } from "../sessions/repository/change-log.js";
import { contains } from "./contains.js";
import { FeedError, type WatchBatch, type WatchQuery } from "./contract.js";

/** Events in one batch at most (one message on the wire). */
export const maxBatchEvents = 500;

/** Each event's metadata parsed once, however many streams filter on it. */
const parsed = new WeakMap<ChangeEvent, unknown>();
const metadataOf = (event: ChangeEvent) => {
  if (!parsed.has(event)) parsed.set(event, JSON.parse(event.metadataJson));
  return parsed.get(event);
};

export class Subscription {
  /** Every event up to here has been looked at (matched ones queued or sent). */
  cursor: bigint;
  private readonly queue: WatchBatch[] = [];
  private queuedEvents = 0;
  /** The position the client was last told of (queued or sent). */
  private told: bigint;
  private failure: FeedError | undefined;
  private wake: (() => void) | undefined;
  /** The position of the last batch the stream sent, or its start: where the client may resume from. */
  sent: bigint;

  constructor(
    private readonly query: WatchQuery,
    start: bigint,
    private readonly maxQueued: number,
  ) {
    this.cursor = start;
    this.told = start;
    this.sent = start;
  }

  matches(event: ChangeEvent): boolean {
    const { sessionIds, metadataFilter } = this.query;
    if (sessionIds !== undefined && !sessionIds.has(event.sessionId)) return false;
    return metadataFilter === undefined || contains(metadataOf(event), metadataFilter);
  }

  /** Queues what matches among `events` (in order, all after `cursor`) and moves the cursor to `position`. */
  offer(events: readonly ChangeEvent[], position: bigint): void {
    if (this.failure !== undefined || position <= this.cursor) return;
    const matched = events.filter((event) => event.sequence > this.cursor && this.matches(event));
    this.cursor = position;
    for (let i = 0; i < matched.length; i += maxBatchEvents) {
      const events = matched.slice(i, i + maxBatchEvents);
      const last = i + maxBatchEvents >= matched.length;
      this.push({ events, position: last ? position : (events.at(-1) as ChangeEvent).sequence });
    }
    if (this.queuedEvents > this.maxQueued) {
      this.fail(
        new FeedError(
          "behind",
          `this stream fell more than ${this.maxQueued} events behind the log (its client reads too slowly): resume with since_sequence = ${this.sent}`,
          this.sent,
        ),
      );
    }
  }

  /** Queues a batch without events when the cursor moved past what the client was told. */
  progress(): void {
    if (this.failure === undefined && this.cursor > this.told && this.queue.length === 0) {
      this.push({ events: [], position: this.cursor });
    }
  }

  fail(error: FeedError): void {
    this.failure ??= error;
    this.queue.length = 0;
    this.wake?.();
  }

  /** The next queued batch, if any; throws the stream's failure. */
  take(): WatchBatch | undefined {
    if (this.failure !== undefined) throw this.failure;
    const batch = this.queue.shift();
    if (batch !== undefined) {
      this.queuedEvents -= batch.events.length;
      this.sent = batch.position;
    }
    return batch;
  }

  /** The next batch to send, waiting for one; throws the stream's failure, or on abort. */
  async next(signal: AbortSignal): Promise<WatchBatch> {
    for (;;) {
      const batch = this.take();
      if (batch !== undefined) return batch;
      if (signal.aborted) throw new DatabaseAbortError(signal.reason);
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  private push(batch: WatchBatch): void {
    this.queue.push(batch);
    this.queuedEvents += batch.events.length;
    this.told = batch.position;
    this.wake?.();
  }
}
