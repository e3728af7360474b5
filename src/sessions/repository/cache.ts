/**
 * The hot cache: active sessions held in memory, so a Load of a session this replica has recently
 * read, written or restored skips the database — the seed's "restore sessions into memory",
 * made safe for several replicas on one database.
 *
 * - Byte-bounded, least recently used first out. An entry costs an estimate of its memory: the
 *   JSON text (UTF-16, twice its length) plus the decoded message the service memoizes on it
 *   (about as much again, twice), plus a fixed overhead.
 * - Filled on Load, on Save (its row, with the data the caller sent) and by Restore / RestoreStream
 *   (every session they stream); Touch updates the held expiry; emptied of a session on Delete, a
 *   Save conflict, Cleanup.
 * - Never a stale version. Every statement that changes the table notifies its sessions,
 *   versions and expiries (migration 0003, a trigger: writers outside this service count too). A notification
 *   evicts any older entry it names; a hit is served only after `ChangeFeed.sync` proved that
 *   every change committed before the Load began has been heard. A read or write that raced a
 *   change of its session is not cached (its result may already be old).
 * - While the notification channel is down the cache is bypassed — Loads go to the database —
 *   and it is emptied when the channel comes back, since what was missed is unknown.
 */
import type { ChangeFeed, Db } from "../../db/database.js";
import type { Micros, SessionRepository, StoredSession } from "./contract.js";

/** Per-entry bookkeeping beyond the text itself (Map slot, StoredSession object, bigints). */
const entryOverhead = 512;
/** An entry whose expiry is this close is not served: the service's clock may lag the database's. */
const expiryMarginMicros = 1_000_000n;

const costOf = (session: StoredSession) =>
  4 * ((session.dataJson?.length ?? 0) + session.metadataJson.length) + entryOverhead;

/** Wraps `repository` with a cache of at most `maxBytes`; 0 returns the repository unchanged. */
export function withCache(repository: SessionRepository, db: Db, table: string, maxBytes: number): SessionRepository {
  if (maxBytes <= 0) return repository;
  const entries = new Map<string, { session: StoredSession; cost: number }>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;
  /** Bumped on every notification: reads remember it to learn whether a change raced them. */
  let generation = 0;
  /** Sessions named by a notification: when, and the state it named (version null: deleted). */
  const changed = new Map<string, Change & { generation: number }>();
  /** Reads that started before this generation cannot tell what changed under them. */
  let floor = 0;

  const evict = (sessionId: string) => {
    const entry = entries.get(sessionId);
    if (!entry) return;
    entries.delete(sessionId);
    bytes -= entry.cost;
  };
  const clear = () => {
    entries.clear();
    bytes = 0;
    floor = ++generation;
    changed.clear();
  };

  const onNotification = (payload: string) => {
    let list: unknown;
    try {
      list = JSON.parse(payload);
    } catch {
      list = "*";
    }
    // Anything but [[id, version | null, expiry µs | null, last_updated µs | null], …] — "*", or a payload from another
    // version of the trigger (the channel is per table name, shared by schemas) — empties the cache.
    const wellFormed = (item: unknown): item is [string, number | null, number | null, number | null] =>
      Array.isArray(item) &&
      typeof item[0] === "string" &&
      item.slice(1, 4).every((n) => n === null || Number.isSafeInteger(n));
    if (!Array.isArray(list) || !list.every(wellFormed)) return clear();
    generation++;
    for (const [sessionId, version, expires, updated] of list) {
      const change = {
        generation,
        version: version === null ? null : BigInt(version),
        expiresAt: expires === null ? undefined : BigInt(expires),
        lastUpdated: BigInt(updated ?? 0),
      };
      // PostgreSQL delivers notifications in commit order: the last one names the newest state.
      changed.set(sessionId, change);
      const entry = entries.get(sessionId);
      // Our own write's notification names the state we already hold: keep that entry.
      if (entry && !olderOrSame(change, entry.session)) evict(sessionId);
    }
    // The race ledger only needs to outlive the reads in flight; rather than track them, forget it
    // all now and then, refusing to cache any read that started before.
    if (changed.size > 10_000) {
      changed.clear();
      floor = generation;
    }
  };

  const feed: ChangeFeed = db.subscribe(`${table}_chg`, { notification: onNotification, reset: clear });

  /**
   * Caches `session` unless a change of it may have raced the read or write that produced it.
   * `warming` (Restore) only fills free room: a restore of more than fits would otherwise churn
   * through the whole cache and leave it holding whatever came last.
   */
  const remember = (session: StoredSession, startedAt: number, warming = false) => {
    if (session.dataJson === undefined || !session.isActive || !feed.connected || startedAt < floor) return;
    const change = changed.get(session.sessionId);
    if (change && change.generation > startedAt && !olderOrSame(change, session)) return;
    const current = entries.get(session.sessionId);
    if (current && current.session.version > session.version) return;
    evict(session.sessionId);
    const cost = costOf(session);
    if (cost > maxBytes || (warming && bytes + cost > maxBytes)) return;
    entries.set(session.sessionId, { session, cost });
    bytes += cost;
    for (const [id, entry] of entries) {
      if (bytes <= maxBytes) break;
      entries.delete(id);
      bytes -= entry.cost;
    }
  };

  const servable = (session: StoredSession, now: Micros) =>
    session.expiresAt === undefined || session.expiresAt > now + expiryMarginMicros;

  return {
    async save(input, signal) {
      const startedAt = generation;
      const result = await repository.save(input, signal);
      if (result.kind === "saved") remember({ ...result.session, dataJson: input.dataJson }, startedAt);
      else evict(input.sessionId);
      return result;
    },

    async saveMany(inputs, signal) {
      try {
        return await repository.saveMany(inputs, signal);
      } finally {
        for (const input of inputs) evict(input.sessionId);
      }
    },

    async load(sessionId, includeInactive, signal) {
      const startedAt = generation;
      if (feed.connected && entries.has(sessionId)) {
        // Hear every change committed before this Load began, then look again. A listening
        // connection that does not answer promptly (a half-dead socket) sends the Load to the
        // database instead of holding it past its deadline.
        const synced = await heard(feed);
        const entry = synced ? entries.get(sessionId) : undefined;
        if (entry && servable(entry.session, BigInt(Date.now()) * 1000n)) {
          hits++;
          entries.delete(sessionId); // most recently used goes last
          entries.set(sessionId, entry);
          return entry.session;
        }
      }
      misses++;
      const session = await repository.load(sessionId, includeInactive, signal);
      if (session) remember(session, startedAt);
      return session;
    },

    async touch(sessionId, expiry, signal) {
      const startedAt = generation;
      const held = entries.get(sessionId);
      evict(sessionId); // whatever the outcome, the held expiry may be wrong from here on
      const result = await repository.touch(sessionId, expiry, signal);
      if (result.kind === "touched" && held?.session.version === result.session.version) {
        const { expiresAt, lastUpdated } = result.session;
        remember({ ...held.session, expiresAt, lastUpdated }, startedAt);
      }
      return result;
    },

    async append(input, signal) {
      try {
        return await repository.append(input, signal);
      } finally {
        evict(input.sessionId);
      }
    },

    async delete(sessionId, hard, signal) {
      try {
        return await repository.delete(sessionId, hard, signal);
      } finally {
        evict(sessionId);
      }
    },

    async cleanup(options, signal) {
      try {
        return await repository.cleanup(options, signal);
      } finally {
        if (!options.dryRun) clear();
      }
    },

    async replaySpooled(sessionId, writes, signal) {
      try {
        return await repository.replaySpooled(sessionId, writes, signal);
      } finally {
        evict(sessionId);
      }
    },

    list: (query, signal) => repository.list(query, signal),
    statistics: (signal) => repository.statistics(signal),
    countRestorable: (query, signal) => repository.countRestorable(query, signal),
    ping: (signal) => repository.ping(signal),

    async *scan(query, signal) {
      const batches = repository.scan(query, signal);
      try {
        for (;;) {
          const startedAt = generation;
          const next = await batches.next();
          if (next.done) return;
          if (query.includeData) for (const session of next.value) remember(session, startedAt, true);
          yield next.value;
        }
      } finally {
        await batches.return(undefined);
      }
    },

    status: () => ({
      ...repository.status(),
      cache: { enabled: true, coherent: feed.connected, maxBytes, hits, misses, entries: entries.size, bytes },
    }),

    async close() {
      await feed.close();
      await repository.close();
    },
  };
}

/** How long a hit waits for the change feed's round trip before it reads the database instead. */
const syncTimeoutMs = 500;

/** Resolves true once `feed.sync()` did, false if it failed or took longer than syncTimeoutMs. */
function heard(feed: ChangeFeed): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), syncTimeoutMs);
  });
  const synced = feed.sync().then(
    () => true,
    () => false,
  );
  return Promise.race([synced, late]).finally(() => clearTimeout(timer));
}

/** The state of a session a notification names (version null: deleted). */
interface Change {
  version: bigint | null;
  expiresAt: Micros | undefined;
  lastUpdated: Micros;
}

/**
 * Whether a notified change is already reflected in `session`: an older version, or this very
 * state. Same version is not enough — Touch moves expiry and last_updated without a new version,
 * and the seed's manager rewrites data and last_updated without one.
 */
const olderOrSame = (change: Change, session: StoredSession) =>
  change.version !== null &&
  (change.version < session.version ||
    (change.version === session.version &&
      change.expiresAt === session.expiresAt &&
      change.lastUpdated === session.lastUpdated));
