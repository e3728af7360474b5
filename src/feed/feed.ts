/**
 * createChangeFeed: the replica's one reader of the change log, shared by all its Watch streams.
 *
 * - Wake-ups: after this replica's writes commit (`written`) it runs a sequencing step, then sends
 *   one hint (NOTIFY on the listening connection, Db.hints) when the step numbered anything — at
 *   most one per step however many writes it covers, and never inside a writing transaction. A hint
 *   from another replica, or a slow poll (a hint may be lost; a replica may die between its commit
 *   and its step, so the poll sequences too), makes the reader read on from its head.
 * - One query loop per replica: while any stream is live, the reader reads pages after its head and
 *   offers each to every live stream, which filters in memory (subscription.ts). A stream that
 *   starts behind the head reads its own pages until it reaches the head, then joins.
 * - Steps and reads never overlap within a replica: wake-ups arriving during one coalesce into the
 *   next.
 */
import type { Logger } from "pino";
import type { Db, Hints } from "../db/database.js";
import type { ChangeLog } from "../sessions/repository/change-log.js";
import { type ChangeFeed, FeedError, type FeedFailure, type WatchBatch } from "./contract.js";
import { Subscription } from "./subscription.js";

/** Shortest time between two sequencing steps started by writes (ms): the most a hint waits. */
const stepGapMs = 10;

export interface FeedOptions {
  enabled: boolean;
  /** Slow poll (ms): reads, sequences and tells idle streams their position even without hints. */
  pollMs: number;
  /** Events a stream may have queued before it is ended as behind. */
  maxQueuedEvents?: number;
  /** Events per read. */
  pageSize?: number;
}

export function createChangeFeed(
  db: Db,
  log: ChangeLog,
  table: string,
  options: FeedOptions,
  logger: Logger,
): ChangeFeed {
  const pageSize = options.pageSize ?? 1000;
  const maxQueued = options.maxQueuedEvents ?? 10_000;
  /** Every stream; `live` ones are fed by the shared reader, the others are catching up. */
  const streams = new Set<Subscription>();
  const live = new Set<Subscription>();
  /** Where the shared reader has read to; undefined while no stream is live. */
  let head: bigint | undefined;
  let hints: Hints | undefined;
  let poll: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let wanted = { step: false, read: false };
  let stopped = false;
  /** The last seq this replica's steps saw given. */
  let sequenced = 0n;
  let eventsSent = 0;
  const ended: Record<FeedFailure, number> = { "out-of-range": 0, behind: 0, stopped: 0 };
  const endedEarly = (error: FeedError) => {
    ended[error.failure]++;
    return error;
  };

  /**
   * Runs what was asked for, one pass at a time; asks arriving meanwhile join the next pass. A
   * pass with a step starts at least `stepGapMs` after the last one began: under a steady stream of
   * writes, one step (and one hint) covers that many milliseconds of them.
   */
  let lastStepAt = Number.NEGATIVE_INFINITY;
  const wake = (ask: { step?: boolean; read?: boolean }) => {
    wanted = { step: wanted.step || !!ask.step, read: wanted.read || !!ask.read };
    if (running !== undefined || stopped) return;
    running = (async () => {
      while ((wanted.step || wanted.read) && !stopped) {
        const wait = wanted.step ? lastStepAt + stepGapMs - performance.now() : 0;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const pass = wanted;
        wanted = { step: false, read: false };
        if (pass.step) lastStepAt = performance.now();
        await runPass(pass).catch((error: unknown) => {
          logger.warn({ err: { message: (error as Error).message } }, "change feed: pass failed, the poll retries");
        });
      }
    })().finally(() => {
      running = undefined;
    });
  };

  const runPass = async (pass: { step: boolean; read: boolean }) => {
    if (pass.step) {
      const { lastSeq } = await log.sequence();
      if (lastSeq > sequenced) hints?.notify();
      sequenced = lastSeq;
    }
    if (live.size > 0 && head !== undefined) await readOn();
  };

  /** Reads after the head to the log's end, offering every page to the live streams. */
  const readOn = async () => {
    for (;;) {
      const from = head as bigint;
      const page = await log.read(from, pageSize);
      if (head !== from) return; // every stream left meanwhile
      if (from < page.trimmedThrough) {
        const error = new FeedError("out-of-range", trimmedMessage(from), from);
        for (const subscription of live) subscription.fail(error);
        live.clear();
        head = undefined;
        return;
      }
      const last = page.events.at(-1)?.sequence ?? from;
      head = last;
      for (const subscription of live) subscription.offer(page.events, last);
      if (page.events.length < pageSize) return;
    }
  };

  /** A stream behind the head reads its own way up, then joins the live ones. */
  const catchUp = async function* (subscription: Subscription, signal: AbortSignal): AsyncGenerator<WatchBatch> {
    for (;;) {
      const from = subscription.cursor;
      const page = await log.read(from, pageSize, signal);
      if (from < page.trimmedThrough) throw new FeedError("out-of-range", trimmedMessage(from), from);
      subscription.offer(page.events, page.events.at(-1)?.sequence ?? from);
      if (page.events.length < pageSize && (head === undefined || subscription.cursor >= head)) {
        head ??= subscription.cursor;
        live.add(subscription);
        // A hint that came while it caught up found no live stream to read for.
        wake({ read: true });
        return;
      }
      // Send what this page matched before reading the next: memory stays one page deep.
      for (let batch = subscription.take(); batch !== undefined; batch = subscription.take()) yield batch;
    }
  };

  const trimmedMessage = (from: bigint) =>
    `since_sequence ${from} is older than the retained change history: re-list the sessions, then watch from the sequence the first response reports`;

  return {
    enabled: options.enabled,

    async *watch(query, signal) {
      if (stopped) throw endedEarly(stoppedError(query.sinceSequence));
      const bounds = query.sinceSequence === 0n ? await log.sequence(undefined, signal) : await log.read(0n, 0, signal);
      const start = query.sinceSequence === 0n ? bounds.lastSeq : query.sinceSequence;
      if (start < bounds.trimmedThrough) throw endedEarly(new FeedError("out-of-range", trimmedMessage(start), start));
      if (start > bounds.lastSeq) {
        throw endedEarly(
          new FeedError(
            "out-of-range",
            `since_sequence ${start} is past the end of the change log (${bounds.lastSeq}): it comes from another database, or the log was reset — re-list the sessions`,
            start,
          ),
        );
      }
      const subscription = new Subscription(query, start, maxQueued);
      streams.add(subscription);
      // stop() may have come while the bounds were read: it failed every stream it knew of.
      if (stopped) subscription.fail(stoppedError(start));
      try {
        // First, where the stream starts: a client resumes from here even if nothing happens.
        yield { events: [], position: start };
        for await (const batch of catchUp(subscription, signal)) {
          eventsSent += batch.events.length;
          yield batch;
        }
        for (;;) {
          const batch = await subscription.next(signal);
          eventsSent += batch.events.length;
          yield batch;
        }
      } catch (error) {
        if (error instanceof FeedError) throw endedEarly(error);
        if (signal.aborted) return;
        throw error;
      } finally {
        streams.delete(subscription);
        live.delete(subscription);
        if (live.size === 0) head = undefined;
      }
    },

    written: () => wake({ step: true, read: true }),

    start() {
      if (!options.enabled) {
        logger.info("change feed off (changes.enabled = false): writes log nothing, Watch is refused");
        return;
      }
      hints = db.hints(`${table}_feed`, () => wake({ read: true }));
      const tick = () => {
        if (live.size > 0) wake({ step: true, read: true });
        for (const subscription of live) subscription.progress();
        poll = setTimeout(tick, options.pollMs);
        poll.unref();
      };
      poll = setTimeout(tick, options.pollMs);
      poll.unref();
    },

    status: () => ({
      streams: { catchingUp: streams.size - live.size, live: live.size },
      lastSequence: head !== undefined && head > sequenced ? head : sequenced,
      eventsSent,
      ended: { ...ended },
    }),

    async stop() {
      stopped = true;
      clearTimeout(poll);
      for (const subscription of streams) subscription.fail(stoppedError(subscription.sent));
      await running;
      await hints?.close();
    },
  };
}

const stoppedError = (position: bigint) =>
  new FeedError(
    "stopped",
    `this server is shutting down: resume on another with since_sequence = the last position received`,
    position,
  );
