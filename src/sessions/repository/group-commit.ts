/**
 * Group commit: Saves that arrive while others are being written go to the database together,
 * as one multi-row statement (`saveMany`), instead of one round trip and one WAL flush each —
 * and Loads likewise share one by-key statement (`loadMany`). The queueing rules are batcher.ts's.
 *
 * - Each caller is answered from its own row, after the statement that wrote it committed.
 * - Per-session order: a session is in at most one Save batch at a time; later Saves of it wait,
 *   in arrival order, for the earlier one to finish.
 * - A Save that makes a batch fail (bad data the driver refuses) cannot fail its neighbours: a
 *   failed batch is retried one Save at a time, so only the faulty one gets the error. An
 *   unavailable database fails the whole batch (nothing to retry on).
 * - Loads and Saves batch apart: a long write batch never holds up the reads. Loads run at most
 *   two batches at once (fewer, bigger batches: the answers of one batch leave the server in one
 *   socket write — bench/RESULTS.md), Saves `maxInFlight`.
 */
import { DatabaseUnavailableError } from "../../db/errors.js";
import { createBatcher, ItemFailure } from "./batcher.js";
import type { Loaded, LoadKey, SaveInput, SaveResult, SessionRepository, StoredSession } from "./contract.js";

export interface GroupCommitOptions {
  /** Most Saves (and Loads) in one statement; 1 turns group commit and load batching off. */
  maxBatch: number;
  /** How long a Save batch formed under load waits for more Saves, in ms (0 = not at all). */
  windowMs: number;
  /** Save batches run at once (connections they hold); more queue. Load batches: at most 2. */
  maxInFlight: number;
  /** Told each batch's size as it starts (metrics: how much group commit groups). */
  onBatch?(kind: "save" | "load", size: number): void;
}

/**
 * Wraps `repository` so concurrent Saves and Loads share statements (see above); every other
 * method passes through. maxBatch 1 returns the repository unchanged.
 */
export function withGroupCommit(repository: SessionRepository, options: GroupCommitOptions): SessionRepository {
  if (options.maxBatch <= 1) return repository;
  /** Sessions with a Save in a running batch. */
  const busy = new Set<string>();

  const save = createBatcher<SaveInput, SaveResult>({
    ...options,
    // One Save per session and per request_id in a batch (a repeated key waits for the next one).
    admit: (input, taken) =>
      !busy.has(input.sessionId) &&
      !taken.some(
        (t) => t.sessionId === input.sessionId || (input.requestKey && t.requestKey?.id === input.requestKey.id),
      ),
    started: (inputs) => {
      for (const input of inputs) busy.add(input.sessionId);
      options.onBatch?.("save", inputs.length);
    },
    finished: (inputs) => {
      for (const input of inputs) busy.delete(input.sessionId);
    },
    async run(inputs, signal) {
      try {
        return await repository.saveMany(inputs, signal);
      } catch (error) {
        if (inputs.length === 1 || signal.aborted || error instanceof DatabaseUnavailableError) throw error;
        return Promise.all(
          inputs.map((input) => repository.save(input, signal).catch((failure) => new ItemFailure(failure))),
        );
      }
    },
  });

  const load = createBatcher<LoadKey, Loaded>({
    ...options,
    maxInFlight: Math.min(2, options.maxInFlight),
    windowMs: 0,
    started: (keys) => options.onBatch?.("load", keys.length),
    run: (keys, signal) => repository.loadMany(keys, signal),
  });

  // A write that is not a Save (Append, Touch, Delete, replay) of a session with a queued Save is
  // not ordered behind it: the caller has no reply for that Save yet, so neither order was promised.
  return {
    // A keyed Save joins a batch (whose keys are claimed and recorded in the batch's transaction);
    // a fenced one is written alone, in one transaction with its lease check (request-keys.ts).
    save: (input, signal) => (input.fencingToken === undefined ? save(input, signal) : repository.save(input, signal)),
    saveMany: (inputs, signal) => repository.saveMany(inputs, signal),
    load: (sessionId, includeInactive, signal) =>
      load({ sessionId, includeInactive }, signal) as Promise<StoredSession | undefined>,
    loadMany: (keys, signal) => Promise.all(keys.map((key) => load(key, signal))),
    list: (query, signal) => repository.list(query, signal),
    append: (input, signal) => repository.append(input, signal),
    touch: (sessionId, expiry, signal, key, token) => repository.touch(sessionId, expiry, signal, key, token),
    delete: (sessionId, hard, signal, key, token) => repository.delete(sessionId, hard, signal, key, token),
    acquireLease: (sessionId, holder, ttl, signal) => repository.acquireLease(sessionId, holder, ttl, signal),
    renewLease: (sessionId, holder, token, ttl, signal) => repository.renewLease(sessionId, holder, token, ttl, signal),
    releaseLease: (sessionId, holder, token, signal) => repository.releaseLease(sessionId, holder, token, signal),
    statistics: (signal) => repository.statistics(signal),
    cleanup: (options, signal) => repository.cleanup(options, signal),
    countRestorable: (query, signal) => repository.countRestorable(query, signal),
    scan: (query, signal) => repository.scan(query, signal),
    replaySpooled: (sessionId, writes, signal) => repository.replaySpooled(sessionId, writes, signal),
    lastKnown: (sessionId) => repository.lastKnown(sessionId),
    ping: (signal) => repository.ping(signal),
    status: () => repository.status(),
    async close() {
      // Queued calls are the callers' to wait for; the drain finished them before close.
      await repository.close();
    },
  };
}
