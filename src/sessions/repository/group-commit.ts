/**
 * Group commit: Saves that arrive while others are being written go to the database together,
 * as one multi-row statement (`saveMany`), instead of one round trip and one WAL flush each.
 *
 * - No added latency when the load is light: a Save that finds a free slot is written at once.
 *   Only when `maxInFlight` batches are already running do Saves queue; each freed slot takes
 *   everything queued (up to `maxBatch`). With `windowMs` > 0 a batch that starts while another
 *   is running first waits that long for company (PostgreSQL's commit_delay, for Saves).
 * - Each caller is answered from its own row, after the statement that wrote it committed.
 * - Per-session order: a session is in at most one batch at a time; later Saves of it wait,
 *   in arrival order, for the earlier one to finish.
 * - A Save that makes a batch fail (bad data the driver refuses) cannot fail its neighbours: a
 *   failed batch is retried one Save at a time, so only the faulty one gets the error. An
 *   unavailable database fails the whole batch (nothing to retry on).
 * - A caller that gives up while queued is dropped from the queue; once its batch is running
 *   the statement is cancelled only if every caller in it gave up — otherwise the write may
 *   still commit, as a single statement cancelled too late would.
 */
import { DatabaseAbortError, DatabaseUnavailableError } from "../../db/errors.js";
import type { SaveInput, SaveResult, SessionRepository } from "./contract.js";

export interface GroupCommitOptions {
  /** Most Saves in one statement; 1 turns group commit off. */
  maxBatch: number;
  /** How long a batch formed under load waits for more Saves, in ms (0 = not at all). */
  windowMs: number;
  /** Batches written at once (connections they hold); more queue. */
  maxInFlight: number;
}

interface Pending {
  input: SaveInput;
  signal: AbortSignal | undefined;
  resolve(result: SaveResult): void;
  reject(error: unknown): void;
  onAbort(): void;
}

/**
 * Wraps `repository` so concurrent Saves share statements (see above); every other method passes
 * through. maxBatch 1 returns the repository unchanged.
 */
export function withGroupCommit(repository: SessionRepository, options: GroupCommitOptions): SessionRepository {
  if (options.maxBatch <= 1) return repository;
  const queue: Pending[] = [];
  /** Sessions with a write in a running batch. */
  const busy = new Set<string>();
  let inFlight = 0;
  let windowTimer: NodeJS.Timeout | undefined;

  const take = (): Pending[] => {
    const batch: Pending[] = [];
    const inBatch = new Set<string>();
    for (let i = 0; i < queue.length && batch.length < options.maxBatch; ) {
      const pending = queue[i] as Pending;
      const id = pending.input.sessionId;
      // Skipping a session here keeps all its later Saves behind it too: order is per session.
      if (busy.has(id) || inBatch.has(id)) {
        inBatch.add(id);
        i++;
        continue;
      }
      inBatch.add(id);
      batch.push(pending);
      queue.splice(i, 1);
    }
    return batch;
  };

  const write = async (batch: Pending[]) => {
    // The statement is cancelled only when every caller in it has given up (a lone caller's
    // deadline cancels its SQL, as without group commit); one impatient caller cannot undo the
    // others' writes.
    const everyoneGone = new AbortController();
    let gone = 0;
    const leave = () => {
      if (++gone === batch.length) everyoneGone.abort();
    };
    for (const pending of batch) {
      pending.signal?.removeEventListener("abort", pending.onAbort);
      if (pending.signal?.aborted) leave();
      else pending.signal?.addEventListener("abort", leave, { once: true });
      busy.add(pending.input.sessionId);
    }
    inFlight++;
    try {
      const results = await repository.saveMany(
        batch.map((pending) => pending.input),
        everyoneGone.signal,
      );
      for (const [i, pending] of batch.entries()) pending.resolve(results[i] as SaveResult);
    } catch (error) {
      if (batch.length === 1 || everyoneGone.signal.aborted || error instanceof DatabaseUnavailableError) {
        for (const pending of batch) pending.reject(error);
      } else {
        await Promise.all(
          batch.map((pending) => repository.save(pending.input, pending.signal).then(pending.resolve, pending.reject)),
        );
      }
    } finally {
      inFlight--;
      for (const pending of batch) {
        pending.signal?.removeEventListener("abort", leave);
        busy.delete(pending.input.sessionId);
      }
      pump();
    }
  };

  const pump = (windowElapsed = false) => {
    while (inFlight < options.maxInFlight && queue.length > 0 && windowTimer === undefined) {
      if (!windowElapsed && inFlight > 0 && options.windowMs > 0 && queue.length < options.maxBatch) {
        windowTimer = setTimeout(() => {
          windowTimer = undefined;
          pump(true);
        }, options.windowMs);
        return;
      }
      windowElapsed = false;
      const batch = take();
      if (batch.length === 0) return; // every queued session is busy: a finishing batch pumps again
      void write(batch);
    }
  };

  const save: SessionRepository["save"] = (input, signal) => {
    if (signal?.aborted) return Promise.reject(new DatabaseAbortError(signal.reason));
    return new Promise<SaveResult>((resolve, reject) => {
      const pending: Pending = {
        input,
        signal,
        resolve,
        reject,
        onAbort: () => {
          const at = queue.indexOf(pending);
          if (at >= 0) queue.splice(at, 1);
          reject(new DatabaseAbortError(signal?.reason));
        },
      };
      signal?.addEventListener("abort", pending.onAbort, { once: true });
      queue.push(pending);
      pump();
    });
  };

  // Only Saves are grouped; everything else goes straight through. A write that is not a Save
  // (Append, Touch, Delete, replay) of a session with a queued Save is not ordered behind it: the
  // caller has no reply for that Save yet, so neither order was promised.
  return {
    save,
    saveMany: (inputs, signal) => repository.saveMany(inputs, signal),
    load: (sessionId, includeInactive, signal) => repository.load(sessionId, includeInactive, signal),
    list: (query, signal) => repository.list(query, signal),
    append: (input, signal) => repository.append(input, signal),
    touch: (sessionId, expiry, signal) => repository.touch(sessionId, expiry, signal),
    delete: (sessionId, hard, signal) => repository.delete(sessionId, hard, signal),
    statistics: (signal) => repository.statistics(signal),
    cleanup: (options, signal) => repository.cleanup(options, signal),
    countRestorable: (query, signal) => repository.countRestorable(query, signal),
    scan: (query, signal) => repository.scan(query, signal),
    replaySpooled: (sessionId, writes, signal) => repository.replaySpooled(sessionId, writes, signal),
    ping: (signal) => repository.ping(signal),
    status: () => repository.status(),
    async close() {
      // Queued Saves are the callers' to wait for; the drain finished them before close.
      await repository.close();
    },
  };
}
