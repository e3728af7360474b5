/**
 * The outage spool as a layer of the repository stack. While the database is unavailable a blind
 * Save goes to the journal (spool-journal.ts) and is acknowledged once it is on disk, and a Load of
 * a session with spooled writes is served from the journal. Every other write of such a session
 * first settles it — its spooled writes go to the database first, so nothing written later is
 * undone by a replay — and fails with DatabaseUnavailableError while they cannot. A compare-and-set
 * is never spooled: it cannot be checked without the database. Every ping that gets through
 * teaches the layer the database's clock and replays what is pending.
 *
 * A read across sessions (List, Restore's count and scan, Statistics, Cleanup) first replays
 * everything pending, and while some of it cannot be replayed fails with SpooledWritesPendingError
 * (UNAVAILABLE, saying how many): it never answers without an acknowledged write. This replica's
 * spool only: another replica's List does not know what this one holds.
 *
 * A spooled answer (the Save's, a Load's from the journal) shows the metadata the session will
 * have once replayed, as far as this replica knows it: the newest spooled write that set some; else
 * the copy it last read or wrote (the cache's), since a Save without metadata keeps the stored
 * one; else none ({}), as for a new session. Replay itself keeps the database's, as a Save does.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { DatabaseUnavailableError } from "../../db/errors.js";
import {
  type Micros,
  type SessionRepository,
  type SpooledWrite,
  SpooledWritesPendingError,
  type StoredSession,
} from "./contract.js";
import { openJournal } from "./spool-journal.js";

const localMicros = (): Micros => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));

/** Wraps `repository` with the spool kept in `directory` (created if needed, replayed when possible). */
export async function withSpool(
  repository: SessionRepository,
  directory: string,
  log: Logger,
): Promise<SessionRepository> {
  // The database's clock, as last read by a ping: local time + the offset seen then.
  let offset = 0n;
  const now = () => localMicros() + offset;
  const journal = await openJournal(directory, repository, now, log);
  log.info({ spool_dir: journal.directory, pending: journal.status().pending }, "outage spool enabled");

  const settle = async (sessionId: string, signal?: AbortSignal) => {
    if ((await journal.settle(sessionId, signal)) !== undefined) {
      throw new DatabaseUnavailableError(
        `session "${sessionId}" has spooled writes the database cannot take yet`,
        undefined,
      );
    }
  };

  /** Replays everything pending before a read across sessions; refuses the read while some cannot be. */
  const settleAll = async () => {
    if (journal.status().pending === 0) return;
    await journal.replayAll();
    const { pending } = journal.status();
    if (pending > 0) throw new SpooledWritesPendingError(pending);
  };

  /** A spooled write as a row: version 0 until the database assigns one on replay. */
  const spooledRow = (write: SpooledWrite, withData: boolean): StoredSession => {
    const data = JSON.parse(write.dataJson) as { messages?: unknown };
    const metadataJson =
      journal.pendingOf(write.sessionId).findLast((w) => w.seq <= write.seq && w.metadataJson !== undefined)
        ?.metadataJson ??
      repository.lastKnown(write.sessionId)?.metadataJson ??
      "{}";
    return {
      sessionId: write.sessionId,
      dataJson: withData ? write.dataJson : undefined,
      metadataJson,
      createdAt: write.spooledAt,
      lastUpdated: write.spooledAt,
      expiresAt: write.expiresAt,
      version: 0n,
      isActive: true,
      messageCount: BigInt(Array.isArray(data.messages) ? data.messages.length : 0),
      spooled: true,
    };
  };

  /**
   * Settles the session's spooled writes; while they cannot reach the database (it is down) the
   * newest of them is what a Load serves — `row` undefined once it expired.
   */
  const fromJournal = async (sessionId: string, signal?: AbortSignal) => {
    const spooled = await journal.settle(sessionId, signal);
    if (spooled === undefined) return undefined;
    const expired = spooled.expiresAt !== undefined && spooled.expiresAt <= now();
    return { row: expired ? undefined : spooledRow(spooled, true) };
  };

  return {
    async save(input, signal) {
      try {
        // A compare-and-set compares against the spooled writes too.
        await settle(input.sessionId, signal);
        return await repository.save(input, signal);
      } catch (error) {
        // A compare-and-set or a fenced Save needs the database's answer now: neither is spooled.
        if (
          input.expectedVersion !== undefined ||
          input.fencingToken !== undefined ||
          signal?.aborted ||
          !(error instanceof DatabaseUnavailableError)
        ) {
          throw error;
        }
        const { expiry } = input;
        const expiresAt =
          expiry.kind === "never" ? undefined : expiry.kind === "in" ? now() + expiry.micros : expiry.micros;
        if (expiresAt !== undefined && expiresAt <= now()) return { kind: "expiry-in-past" };
        const write = await journal.append({
          sessionId: input.sessionId,
          dataJson: input.dataJson,
          metadataJson: input.metadataJson,
          expiresAt,
          // The caller's key, else one of the spool's: either way the replay applies it once.
          requestKey: input.requestKey ?? { id: `spool:${randomUUID()}`, method: "Save", hash: "spooled" },
        });
        return { kind: "saved", session: spooledRow(write, false), created: false };
      }
    },

    async saveMany(inputs, signal) {
      for (const input of inputs) await settle(input.sessionId, signal);
      return repository.saveMany(inputs, signal);
    },

    async load(sessionId, includeInactive, signal) {
      const spooled = await fromJournal(sessionId, signal);
      return spooled === undefined ? repository.load(sessionId, includeInactive, signal) : spooled.row;
    },

    loadMany: (keys, signal) =>
      Promise.all(
        keys.map(async (key) => {
          const spooled = await fromJournal(key.sessionId, signal);
          return spooled === undefined ? (await repository.loadMany([key], signal))[0] : spooled.row;
        }),
      ),

    async append(input, signal) {
      await settle(input.sessionId, signal);
      return repository.append(input, signal);
    },

    async touch(sessionId, expiry, signal, key, token) {
      await settle(sessionId, signal);
      return repository.touch(sessionId, expiry, signal, key, token);
    },

    async delete(sessionId, hard, signal, key, token) {
      await settle(sessionId, signal);
      return repository.delete(sessionId, hard, signal, key, token);
    },

    async list(query, signal) {
      await settleAll();
      return repository.list(query, signal);
    },
    async statistics(signal) {
      await settleAll();
      return repository.statistics(signal);
    },
    // Also a guard: a cleanup's write to a spooled session would make its replay a conflict.
    async cleanup(options, signal) {
      await settleAll();
      return repository.cleanup(options, signal);
    },
    async countRestorable(query, signal) {
      await settleAll();
      return repository.countRestorable(query, signal);
    },
    async *scan(query, signal) {
      await settleAll();
      yield* repository.scan(query, signal);
    },
    replaySpooled: (sessionId, writes, signal) => repository.replaySpooled(sessionId, writes, signal),
    acquireLease: (sessionId, holder, ttl, signal) => repository.acquireLease(sessionId, holder, ttl, signal),
    renewLease: (sessionId, holder, token, ttl, signal) => repository.renewLease(sessionId, holder, token, ttl, signal),
    releaseLease: (sessionId, holder, token, signal) => repository.releaseLease(sessionId, holder, token, signal),
    lastKnown: (sessionId) => repository.lastKnown(sessionId),

    async ping(signal) {
      const answer = await repository.ping(signal);
      offset = answer.now - localMicros();
      if (journal.status().pending > 0) void journal.replayAll();
      return answer;
    },

    status: () => ({ ...repository.status(), spool: journal.status() }),

    async close() {
      await journal.close();
      await repository.close();
    },
  };
}
