/**
 * SessionService handlers. Each reads top-down: validate → repository → response. Expected
 * outcomes come back from the repository as values and become Connect codes here; database
 * failures are mapped by the error interceptor (src/errors.ts).
 */
import { create, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ListValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Durability,
  type RestoreFailure,
  RestoreFailureSchema,
  type SaveRequest,
  type Session,
  type SessionService,
  type TouchRequest,
  VersionConflictSchema,
} from "../../gen/isotope/session/v1/session_pb.js";
import type { Limits } from "../config/load-config.js";
import type { Db } from "../db/database.js";
import { isUnavailable } from "../rpc/interceptors/errors.js";
import { decodePageToken, encodePageToken, parseStoredObject, toDuration, toSession, toTimestamp } from "./convert.js";
import type { SessionCache } from "./repository/cache.js";
import type { Expiry, ScanQuery, SessionRepository, SpooledWrite, StoredSession } from "./repository/contract.js";
import type { Spool } from "./repository/spool.js";
import * as validate from "./validate.js";

export interface SessionServiceDeps {
  db: Db;
  repository: SessionRepository;
  limits: Limits;
  /** The outage journal, when a spool directory is configured. */
  spool?: Spool;
  /** The hot cache, for CheckConnection's figures. */
  cache?: SessionCache;
}

const defaultListLimit = 50;

export function createSessionService({
  db,
  repository,
  limits,
  spool,
  cache,
}: SessionServiceDeps): ServiceImpl<typeof SessionService> {
  const metadataFilter = (filter: JsonObject | undefined) =>
    filter === undefined ? undefined : validate.jsonDocument(filter, "metadata_filter", limits);

  const scanQuery = (
    req: { includeInactive: boolean; metadataFilter?: JsonObject; batchSize: number },
    includeData: boolean,
  ): ScanQuery => ({
    includeInactive: req.includeInactive,
    metadataFilterJson: metadataFilter(req.metadataFilter),
    batchSize: validate.inRange(req.batchSize, "batch_size", 1, 10_000, 500),
    includeData,
  });

  /**
   * Writes spooled for this session go to the database before this call touches it, so it lands
   * after them; while they cannot, the database is down and so is this call.
   */
  const settleFirst = async (sessionId: string, signal: AbortSignal) => {
    if (spool && (await spool.settle(sessionId, signal)) !== undefined) {
      throw new ConnectError("database unavailable, retry later", Code.Unavailable);
    }
  };

  const cacheStatus = () => {
    if (!cache) return { enabled: false };
    const { enabled, coherent, ...figures } = cache.stats();
    return { enabled, coherent, ...mapValues(figures, BigInt) };
  };

  return {
    async save(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      if (req.data === undefined) throw validate.invalidArgument("data", "is required");
      const dataJson = validate.jsonDocument(req.data, "data", limits);
      const metadataJson =
        req.metadata === undefined ? undefined : validate.jsonDocument(req.metadata, "metadata", limits);
      validate.withinSize(dataJson, "data", limits);
      if (metadataJson !== undefined) validate.withinSize(metadataJson, "metadata", limits);
      if (req.expectedVersion !== undefined && req.expectedVersion < 0n) {
        throw validate.invalidArgument("expected_version", "must be 0 (must not exist) or a stored version");
      }
      const expiry = expiryOf(req.expiry);

      let result: Awaited<ReturnType<SessionRepository["save"]>>;
      try {
        // A compare-and-set compares against the spooled writes too.
        await settleFirst(sessionId, ctx.signal);
        result = await repository.save(
          { sessionId, dataJson, metadataJson, expiry, expectedVersion: req.expectedVersion },
          ctx.signal,
        );
      } catch (error) {
        // Only a blind write can be spooled: a compare-and-set cannot be checked without the database.
        if (!spool || req.expectedVersion !== undefined || ctx.signal.aborted || !isUnavailable(error)) throw error;
        const expiresAt =
          expiry.kind === "never" ? undefined : expiry.kind === "in" ? spool.now() + expiry.micros : expiry.micros;
        if (expiresAt !== undefined && expiresAt <= spool.now())
          throw validate.invalidArgument("expires_at", "must be in the future");
        const write = await spool.append({ sessionId, dataJson, metadataJson, expiresAt });
        return { session: toSession(spooledRow(write, false)), created: false, durability: Durability.SPOOLED };
      }
      switch (result.kind) {
        case "saved":
          return { session: toSession(result.session), created: result.created, durability: Durability.DATABASE };
        case "expiry-in-past":
          throw validate.invalidArgument("expires_at", "must be in the future");
        case "conflict":
          throw versionConflict(sessionId, req.expectedVersion ?? 0n, result.currentVersion);
      }
    },

    async load(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const notFound = () => new ConnectError(`session_id: session "${sessionId}" not found`, Code.NotFound);
      const spooled = await spool?.settle(sessionId, ctx.signal);
      if (spooled !== undefined && spool) {
        // The database is down and this session's newest write is in the journal: serve that.
        if (spooled.expiresAt !== undefined && spooled.expiresAt <= spool.now()) throw notFound();
        return {
          session: lastMessages(servable(spooledRow(spooled, true)), req.lastMessages),
          durability: Durability.SPOOLED,
        };
      }
      const row = await repository.load(sessionId, req.includeInactive, ctx.signal);
      if (row === undefined) throw notFound();
      return { session: lastMessages(servable(row), req.lastMessages), durability: Durability.DATABASE };
    },

    async list(req, ctx) {
      const limit = validate.inRange(req.limit, "limit", 1, 1000, defaultListLimit);
      if (req.offset < 0) throw validate.invalidArgument("offset", "must not be negative");
      if (req.offset > 0 && req.pageToken !== "") {
        throw validate.invalidArgument("page_token", "cannot be combined with offset");
      }
      const after = req.pageToken === "" ? undefined : decodePageToken(req.pageToken);
      const rows = await repository.list(
        {
          // One row more than asked tells whether another page exists.
          limit: limit + 1,
          offset: req.offset,
          after,
          includeInactive: req.includeInactive,
          metadataFilterJson: metadataFilter(req.metadataFilter),
          includeData: req.includeData,
        },
        ctx.signal,
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        sessions: page.map((row) => (req.includeData ? servable(row) : toSession(row))),
        nextPageToken: rows.length > limit && last ? encodePageToken(last) : "",
      };
    },

    async delete(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      // Spooled writes land first, so a Delete is never undone by a later replay.
      await settleFirst(sessionId, ctx.signal);
      const deleted = await repository.delete(sessionId, req.hard, ctx.signal);
      if (!deleted && !req.allowMissing) {
        throw new ConnectError(`session_id: session "${sessionId}" not found`, Code.NotFound);
      }
      return { deleted, hard: req.hard };
    },

    async append(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const messages = req.messages === undefined ? [] : (toJson(ListValueSchema, req.messages) as JsonValue[]);
      const messagesJson = validate.jsonDocument(messages, "messages", limits);
      validate.withinSize(messagesJson, "messages", limits);
      const patch = req.patch === undefined ? {} : req.patch;
      if ("messages" in patch) throw validate.invalidArgument("patch", 'may not set "messages" (append them instead)');
      const patchJson = validate.jsonDocument(patch, "patch", limits);
      validate.withinSize(patchJson, "patch", limits);
      const set = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null));
      const removeKeys = Object.keys(patch).filter((key) => patch[key] === null);
      if (req.expectedVersion !== undefined && req.expectedVersion < 1n) {
        throw validate.invalidArgument("expected_version", "must be a stored version (Append needs a session)");
      }
      // Spooled writes land first, so the messages go after them.
      await settleFirst(sessionId, ctx.signal);
      const result = await repository.append(
        {
          sessionId,
          messagesJson,
          setJson: Object.keys(set).length > 0 ? JSON.stringify(set) : undefined,
          removeKeys,
          expectedVersion: req.expectedVersion,
        },
        ctx.signal,
      );
      switch (result.kind) {
        case "appended":
          return { version: result.session.version, messageCount: result.session.messageCount };
        case "missing":
          throw new ConnectError(`session_id: session "${sessionId}" not found`, Code.NotFound);
        case "not-a-list":
          throw new ConnectError(
            `session "${sessionId}": data.messages is not a list, there is nothing to append to`,
            Code.FailedPrecondition,
          );
        case "conflict":
          throw versionConflict(sessionId, req.expectedVersion ?? 0n, result.currentVersion);
      }
    },

    async touch(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      if (req.expiry.case === undefined || (req.expiry.case === "neverExpire" && !req.expiry.value)) {
        throw validate.invalidArgument("expiry", "set expires_in, expires_at or never_expire = true");
      }
      const expiry = expiryOf(req.expiry);
      // Spooled writes land first: a replay must not undo the new expiry.
      await settleFirst(sessionId, ctx.signal);
      const result = await repository.touch(sessionId, expiry, ctx.signal);
      switch (result.kind) {
        case "touched":
          return { session: toSession(result.session) };
        case "expiry-in-past":
          throw validate.invalidArgument("expires_at", "must be in the future");
        case "missing":
          throw new ConnectError(`session_id: session "${sessionId}" not found`, Code.NotFound);
      }
    },

    async statistics(_req, ctx) {
      const stats = await repository.statistics(ctx.signal);
      return {
        ...stats,
        oldestCreatedAt: stats.oldestCreatedAt === undefined ? undefined : toTimestamp(stats.oldestCreatedAt),
        latestUpdatedAt: stats.latestUpdatedAt === undefined ? undefined : toTimestamp(stats.latestUpdatedAt),
      };
    },

    async cleanup(req, ctx) {
      const batchSize = validate.inRange(req.batchSize, "batch_size", 1, 10_000, 1000);
      const purgeInactiveOlderThan =
        req.purgeInactiveOlderThan === undefined
          ? undefined
          : validate.positiveDuration(req.purgeInactiveOlderThan, "purge_inactive_older_than");
      const started = performance.now();
      const counts = await repository.cleanup(
        { hardDelete: req.hardDelete, purgeInactiveOlderThan, batchSize, dryRun: req.dryRun },
        ctx.signal,
      );
      return {
        expiredCount: BigInt(counts.expired),
        purgedCount: BigInt(counts.purged),
        duration: toDuration(performance.now() - started),
      };
    },

    async restore(req, ctx) {
      const query = scanQuery(req, true);
      const started = performance.now();
      const { expired } = await repository.countRestorable(query, ctx.signal);
      let restoredCount = 0n;
      const failed: RestoreFailure[] = [];
      for await (const batch of repository.scan(query, ctx.signal)) {
        for (const row of batch) {
          const failure = restoreCheck(row).failure;
          if (failure) failed.push(failure);
          else restoredCount++;
        }
      }
      return {
        restoredCount,
        failedCount: BigInt(failed.length),
        failed,
        skippedExpiredCount: expired,
        duration: toDuration(performance.now() - started),
      };
    },

    async *restoreStream(req, ctx) {
      const query = { ...scanQuery(req, true), startAfter: req.startAfter };
      const { restorable } = await repository.countRestorable(query, ctx.signal);
      const progress = { restoredCount: 0n, failedCount: 0n, totalEstimate: restorable };
      // One batch is read, converted and sent before the next is read: Connect writes each
      // yielded message before resuming the generator, so memory stays one batch deep.
      for await (const batch of repository.scan(query, ctx.signal)) {
        const sessions: Session[] = [];
        const failures: RestoreFailure[] = [];
        for (const row of batch) {
          const { session, failure } = restoreCheck(row);
          if (failure) failures.push(failure);
          else sessions.push(req.omitData ? toSession(row) : lastMessages(session as Session, req.lastMessages));
        }
        progress.restoredCount += BigInt(sessions.length);
        progress.failedCount += BigInt(failures.length);
        yield { sessions, failures, progress: { ...progress }, done: false };
      }
      yield { progress, done: true };
    },

    async checkConnection(_req, ctx) {
      const started = performance.now();
      const base = {
        backend: db.backend,
        database: db.location,
        spool: spool ? { enabled: true, ...mapValues(spool.status(), BigInt) } : { enabled: false },
        cache: cacheStatus(),
      };
      try {
        const { serverVersion } = await repository.ping(ctx.signal);
        const latency = toDuration(performance.now() - started);
        return { ...base, ok: true, latency, serverVersion, pool: db.poolStats() };
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        return { ...base, ok: false, pool: db.poolStats(), error: "database did not answer" };
      }
    },
  };
}

/** A spooled write as a row: version 0 until the database assigns one on replay. */
function spooledRow(write: SpooledWrite, withData: boolean): StoredSession {
  const data = JSON.parse(write.dataJson) as { messages?: unknown };
  return {
    sessionId: write.sessionId,
    dataJson: withData ? write.dataJson : undefined,
    metadataJson: write.metadataJson ?? "{}",
    createdAt: write.spooledAt,
    lastUpdated: write.spooledAt,
    expiresAt: write.expiresAt,
    version: 0n,
    isActive: true,
    messageCount: BigInt(Array.isArray(data.messages) ? data.messages.length : 0),
  };
}

function mapValues<K extends string, V, W>(record: Record<K, V>, fn: (value: V) => W): Record<K, W> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value as V)])) as Record<K, W>;
}

/** A row with its data, or DATA_LOSS when what is stored cannot be carried by a Struct. */
/** Save's and Touch's expiry oneof, validated; unset (or never_expire) is "never". */
function expiryOf(expiry: SaveRequest["expiry"] | TouchRequest["expiry"]): Expiry {
  if (expiry.case === "expiresIn") return { kind: "in", micros: validate.expiresIn(expiry.value, "expires_in") };
  if (expiry.case === "expiresAt") return { kind: "at", micros: validate.timestamp(expiry.value, "expires_at") };
  return { kind: "never" };
}

/** ABORTED with the current version in a VersionConflict detail. */
function versionConflict(sessionId: string, expectedVersion: bigint, currentVersion: bigint): ConnectError {
  return new ConnectError(
    `expected_version: session "${sessionId}" is at version ${currentVersion}, not ${expectedVersion}`,
    Code.Aborted,
    undefined,
    [
      {
        desc: VersionConflictSchema,
        value: create(VersionConflictSchema, { sessionId, expectedVersion, currentVersion }),
      },
    ],
  );
}

/**
 * Load's and RestoreStream's `last_messages` window: the same session with only the last `n`
 * entries of data.messages (a copy: the decoded message may be shared through the cache).
 * message_count keeps counting them all.
 */
function lastMessages(session: Session, n: number): Session {
  const messages = session.data?.messages;
  if (n === 0 || !Array.isArray(messages) || messages.length <= n) return session;
  return { ...session, data: { ...session.data, messages: messages.slice(-n) } };
}

/**
 * Decoded messages of rows the hot cache holds (src/sessions/cache.ts hands back the same row
 * object on every hit): JSON text → Struct is the costliest step of a Load, done once per version.
 * Weak, so a row the cache drops takes its message with it. Messages are never mutated once built.
 */
const decoded = new WeakMap<StoredSession, Session>();

function servable(row: StoredSession): Session {
  const known = decoded.get(row);
  if (known) return known;
  const { session, failure } = restoreCheck(row);
  if (failure) throw new ConnectError(`session "${row.sessionId}" cannot be served: ${failure.reason}`, Code.DataLoss);
  decoded.set(row, session as Session);
  return session as Session;
}

function restoreCheck(row: StoredSession): { session?: Session; failure?: RestoreFailure } {
  if (row.dataJson === undefined) return { session: toSession(row) };
  const data = parseStoredObject(row.dataJson, "session_data", true);
  const metadata = parseStoredObject(row.metadataJson, "metadata", false);
  const reason = !data.ok ? data.reason : !metadata.ok ? metadata.reason : undefined;
  if (reason !== undefined) return { failure: create(RestoreFailureSchema, { sessionId: row.sessionId, reason }) };
  return { session: toSession(row, (data as { value: JsonObject }).value) };
}
