/**
 * createLeaseHolder: an engine's sessions held under leases, with a near cache. A lease holder is
 * the only one that can write its sessions (every write carries its fencing token, and a newer
 * holder's token refuses it), so while its lease lives its own copy is the session: a Load by the
 * holder returns from memory, without a call. The copy is dropped when the lease is released, is
 * lost (a write refused FAILED_PRECONDITION) or may have lapsed — judged on this process's clock
 * from when the lease was asked for, so it is dropped before the database's clock could expire
 * it — and the cache is bounded (least recently used copies out; their leases stay).
 */
import { clone, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Lease, type Session, SessionSchema } from "../../../gen/isotope/session/v1/session_pb.js";
import type { SessionClient } from "./client.js";

export interface LeaseHolderOptions {
  /** The holder's name, as AcquireLease records it (e.g. the engine instance). */
  holder: string;
  /** How long each lease lasts unless renewed, in milliseconds. */
  ttlMs: number;
  /** Most session copies kept in memory (default 1,000); leases beyond it are kept, not their copies. */
  maxSessions?: number;
}

export interface LeaseHolder {
  /** Takes the session's lease (FAILED_PRECONDITION while another holds it) and keeps its copy. */
  acquire(sessionId: string): Promise<Lease>;
  /** Extends a held lease by ttlMs. */
  renew(sessionId: string): Promise<Lease>;
  /** Gives the lease up and forgets the copy. */
  release(sessionId: string): Promise<void>;
  /**
   * The session: from memory while this holder's lease lives, else from the service. A copy from
   * memory is the holder's own, shared by every Load: read it, never change it in place (Save a new
   * document instead) — copying a document on every Load would cost more than the call it saves.
   */
  load(sessionId: string): Promise<Session | undefined>;
  /** Saves under the lease (its fencing token) and keeps `data` itself as the copy: do not change it afterwards. */
  save(sessionId: string, data: JsonObject, metadata?: JsonObject): Promise<Session>;
  /** Appends under the lease; the copy is read again on the next Load. */
  append(sessionId: string, messages: JsonObject[]): Promise<void>;
  /** Whether this holder holds a live lease on the session now (by its own clock). */
  holds(sessionId: string): boolean;
}

interface Held {
  lease: Lease;
  /** performance.now() past which the lease may have lapsed. */
  deadline: number;
  copy: Session | undefined;
}

// Of a lease's ttl, the part not trusted: the call's own time and clock drift between here and the database.
const safetyShare = 0.1;

export function createLeaseHolder(client: SessionClient, options: LeaseHolderOptions): LeaseHolder {
  const { holder, ttlMs } = options;
  const maxSessions = options.maxSessions ?? 1000;
  const ttl = { seconds: BigInt(Math.floor(ttlMs / 1000)), nanos: (ttlMs % 1000) * 1_000_000 };
  const held = new Map<string, Held>(); // insertion order = least recently used first
  let copies = 0;

  const live = (sessionId: string): Held | undefined => {
    const entry = held.get(sessionId);
    if (entry !== undefined && performance.now() >= entry.deadline) forget(sessionId);
    return held.get(sessionId);
  };
  const forget = (sessionId: string) => {
    if (held.get(sessionId)?.copy !== undefined) copies--;
    held.delete(sessionId);
  };
  const keep = (sessionId: string, entry: Held, copy: Session | undefined) => {
    if (entry.copy === undefined && copy !== undefined) copies++;
    if (entry.copy !== undefined && copy === undefined) copies--;
    entry.copy = copy;
    held.delete(sessionId);
    held.set(sessionId, entry);
    for (const [id, other] of held) {
      if (copies <= maxSessions) break;
      if (other.copy !== undefined && id !== sessionId) {
        other.copy = undefined;
        copies--;
      }
    }
  };
  /**
   * Whether the session itself may have expired by now (its own expires_at, not the lease's): then
   * only the service can say — it answers NOT_FOUND once the database's clock has passed it. The
   * same share of the ttl is kept back for the distance between this clock and the database's.
   */
  const mayHaveExpired = (copy: Session) =>
    copy.expiresAt !== undefined &&
    Date.now() >= Number(copy.expiresAt.seconds) * 1000 + copy.expiresAt.nanos / 1e6 - ttlMs * safetyShare;
  const granted = (lease: Lease | undefined, askedAt: number): Held => {
    if (lease === undefined) throw new ConnectError("the service answered without a lease", Code.Internal);
    return { lease, deadline: askedAt + ttlMs * (1 - safetyShare), copy: undefined };
  };
  const mine = (sessionId: string): Held => {
    const entry = live(sessionId);
    if (entry === undefined) {
      throw new ConnectError(`${holder} holds no live lease on session "${sessionId}"`, Code.FailedPrecondition);
    }
    return entry;
  };
  /** A write under the lease; a refusal means the lease is gone: forget it. */
  const fenced = async <T>(sessionId: string, write: (token: bigint) => Promise<T>): Promise<T> => {
    const entry = mine(sessionId);
    try {
      return await write(entry.lease.fencingToken);
    } catch (error) {
      if (ConnectError.from(error).code === Code.FailedPrecondition) forget(sessionId);
      throw error;
    }
  };

  return {
    async acquire(sessionId) {
      const askedAt = performance.now();
      const entry = granted((await client.acquireLease({ sessionId, holder, ttl })).lease, askedAt);
      forget(sessionId);
      held.set(sessionId, entry);
      const copy = await client.load({ sessionId }).then(
        (answer) => answer.session,
        (error: unknown) => {
          if (ConnectError.from(error).code === Code.NotFound) return undefined;
          throw error;
        },
      );
      keep(sessionId, entry, copy);
      return entry.lease;
    },
    async renew(sessionId) {
      const entry = mine(sessionId);
      const askedAt = performance.now();
      const renewed = granted(
        (await client.renewLease({ sessionId, holder, fencingToken: entry.lease.fencingToken, ttl })).lease,
        askedAt,
      );
      entry.lease = renewed.lease;
      entry.deadline = renewed.deadline;
      return entry.lease;
    },
    async release(sessionId) {
      const entry = held.get(sessionId);
      forget(sessionId);
      if (entry !== undefined) await client.releaseLease({ sessionId, holder, fencingToken: entry.lease.fencingToken });
    },
    async load(sessionId) {
      const entry = live(sessionId);
      if (entry?.copy !== undefined && !mayHaveExpired(entry.copy)) {
        keep(sessionId, entry, entry.copy);
        return entry.copy;
      }
      const answer = await client.load({ sessionId }).catch((error: unknown) => {
        if (ConnectError.from(error).code === Code.NotFound) return undefined;
        throw error;
      });
      if (entry !== undefined && live(sessionId) === entry) keep(sessionId, entry, answer?.session);
      return answer?.session;
    },
    save(sessionId, data, metadata) {
      return fenced(sessionId, async (fencingToken) => {
        const { session } = await client.save({ sessionId, data, metadata, fencingToken });
        if (session === undefined)
          throw new ConnectError("the service answered a Save without its session", Code.Internal);
        // The answer is the session as stored, without its data: the data is what was just sent.
        const copy = clone(SessionSchema, session);
        copy.data = data;
        const entry = live(sessionId);
        if (entry !== undefined) keep(sessionId, entry, copy);
        return copy;
      });
    },
    append(sessionId, messages) {
      return fenced(sessionId, async (fencingToken) => {
        await client.append({ sessionId, messages, fencingToken });
        const entry = live(sessionId);
        if (entry !== undefined) keep(sessionId, entry, undefined);
      });
    },
    holds: (sessionId) => live(sessionId) !== undefined,
  };
}
