/**
 * The hot cache: active sessions held in memory, so a Load of a session this replica has recently
 * read, written or restored does not read its data from the database again — the seed's "restore
 * sessions into memory", made safe for several replicas on one database.
 *
 * - Never a stale read, by construction: every hit is proven current in the database first. The
 *   Load goes down with the held row's token (its xmin and version, see sql.ts); the by-key
 *   statement answers "current" while the row still has it — without reading or sending its data —
 *   or the row as it now is. Any write changes the token, also one made outside this service (the
 *   seed's manager, psql), and nothing is asked of those writers: no trigger, no notification.
 *   Concurrent Loads share that statement (group-commit.ts), so a hit costs a slice of one round
 *   trip, and the database's CPU per hit is below a plain by-key SELECT's.
 * - Byte-bounded, least recently used first out. An entry costs an estimate of its memory: the JSON
 *   text (one byte per character when it is all Latin-1, as V8 keeps it, else two), the encoded
 *   response the service memoizes on it (about as much again) and a fixed overhead.
 * - Filled on Load, on Save (its row, with the data the caller sent) and by Restore / RestoreStream
 *   (every session they stream); Touch updates the held expiry; emptied of a session on Delete,
 *   Append, a Save conflict. What it holds after its row changed elsewhere is simply not current:
 *   the next Load replaces it.
 */
import type { SessionRepository, StoredSession } from "./contract.js";

/** Per-entry bookkeeping beyond the text itself (Map slot, StoredSession object, bigints). */
const entryOverhead = 512;

const costOf = (session: StoredSession) => {
  const text = (session.dataJson?.length ?? 0) + session.metadataJson.length;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the Latin-1 range is the point
  const wide = /[^\u0000-\u00ff]/.test(session.dataJson ?? "");
  return (wide ? 4 : 2) * text + entryOverhead;
};

/** Wraps `repository` with a cache of at most `maxBytes`; 0 returns the repository unchanged. */
export function withCache(repository: SessionRepository, maxBytes: number): SessionRepository {
  if (maxBytes <= 0) return repository;
  const entries = new Map<string, { session: StoredSession; cost: number }>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;

  const evict = (sessionId: string) => {
    const entry = entries.get(sessionId);
    if (!entry) return;
    entries.delete(sessionId);
    bytes -= entry.cost;
  };

  /**
   * Holds `session` (active, with data and a token), unless a newer version is held already.
   * `warming` (Restore) only fills free room: a restore of more than fits would otherwise churn
   * through the whole cache and leave it holding whatever came last.
   */
  const remember = (session: StoredSession, warming = false) => {
    if (session.dataJson === undefined || !session.isActive || session.rowToken === undefined) return;
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

  return {
    async save(input, signal) {
      const result = await repository.save(input, signal);
      if (result.kind === "saved") remember({ ...result.session, dataJson: input.dataJson });
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
      const held = entries.get(sessionId);
      const known = held?.session.rowToken;
      const [answer] = await repository.loadMany([{ sessionId, includeInactive, known }], signal);
      if (answer === "current" && held) {
        hits++;
        if (entries.get(sessionId) === held) {
          entries.delete(sessionId); // most recently used goes last
          entries.set(sessionId, held);
        }
        return held.session;
      }
      misses++;
      if (answer === undefined || answer === "current") {
        if (answer === undefined) evict(sessionId);
        return undefined;
      }
      remember(answer);
      return answer;
    },

    loadMany: (keys, signal) => repository.loadMany(keys, signal),

    async touch(sessionId, expiry, signal, key, token) {
      const held = entries.get(sessionId);
      evict(sessionId); // whatever the outcome, the held expiry may be wrong from here on
      const result = await repository.touch(sessionId, expiry, signal, key, token);
      if (result.kind === "touched" && held?.session.version === result.session.version) {
        const { expiresAt, lastUpdated, rowToken } = result.session;
        remember({ ...held.session, expiresAt, lastUpdated, rowToken });
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

    async delete(sessionId, hard, signal, key, token) {
      try {
        return await repository.delete(sessionId, hard, signal, key, token);
      } finally {
        evict(sessionId);
      }
    },

    // A replay that failed leaves the held copy: the spool's answers take its metadata meanwhile
    // (lastKnown), and it is proven current before it is ever served as the session.
    async replaySpooled(sessionId, writes, signal) {
      const result = await repository.replaySpooled(sessionId, writes, signal);
      evict(sessionId);
      return result;
    },

    // Expired rows it removes are never served from here (a hit is proven current first); they
    // leave memory as the least recently used.
    cleanup: (options, signal) => repository.cleanup(options, signal),
    list: (query, signal) => repository.list(query, signal),
    statistics: (signal) => repository.statistics(signal),
    countRestorable: (query, signal) => repository.countRestorable(query, signal),
    ping: (signal) => repository.ping(signal),
    acquireLease: (sessionId, holder, ttl, signal) => repository.acquireLease(sessionId, holder, ttl, signal),
    renewLease: (sessionId, holder, token, ttl, signal) => repository.renewLease(sessionId, holder, token, ttl, signal),
    releaseLease: (sessionId, holder, token, signal) => repository.releaseLease(sessionId, holder, token, signal),
    lastKnown: (sessionId) => entries.get(sessionId)?.session ?? repository.lastKnown(sessionId),

    async *scan(query, signal) {
      const batches = repository.scan(query, signal);
      try {
        for (;;) {
          const next = await batches.next();
          if (next.done) return;
          if (query.includeData) for (const session of next.value) remember(session, true);
          yield next.value;
        }
      } finally {
        await batches.return(undefined);
      }
    },

    status: () => ({
      ...repository.status(),
      cache: { enabled: true, coherent: true, maxBytes, hits, misses, entries: entries.size, bytes },
    }),

    close: () => repository.close(),
  };
}
