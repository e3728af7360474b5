/**
 * The repository stack: the SQL repository, then — each optional, each a whole SessionRepository
 * over the one below — group commit, the hot cache and the outage spool. The one place that
 * decides their order (app.ts builds production's; the contract tests build every composition).
 */
import type { Logger } from "pino";
import type { Db } from "../../db/database.js";
import { withCache } from "./cache.js";
import type { ChangeRecorder } from "./change-log.js";
import type { SessionRepository } from "./contract.js";
import { createSessionRepository } from "./create.js";
import { type GroupCommitOptions, withGroupCommit } from "./group-commit.js";
import { withSpool } from "./spool.js";

export interface StackOptions {
  table: string;
  /** Concurrent Saves written together; undefined (or maxBatch 1) = each Save alone. */
  groupCommit?: Omit<GroupCommitOptions, "maxInFlight">;
  /** Bytes for the hot cache; undefined or 0 = no cache. */
  cacheBytes?: number;
  /** Directory of the outage journal; undefined = Saves fail while the database is down. */
  spoolDir?: string;
  /** How writes log their changes for Watch; undefined = logged, nobody told (change-log.ts). */
  changes?: ChangeRecorder;
  /** How long a keyed write's request_id is remembered (ms); undefined = 24 hours. */
  requestIdWindowMs?: number;
}

export async function createRepositoryStack(db: Db, options: StackOptions, log: Logger): Promise<SessionRepository> {
  let repository = createSessionRepository(db, options.table, options.changes, options.requestIdWindowMs);
  if (options.groupCommit !== undefined) {
    repository = withGroupCommit(repository, {
      ...options.groupCommit,
      // Half the pool writes batches, the rest stays free for reads; PGlite has one connection.
      maxInFlight: Math.max(1, Math.floor(db.poolMax / 2)),
    });
  }
  if (options.cacheBytes !== undefined) repository = withCache(repository, options.cacheBytes);
  if (options.spoolDir !== undefined) repository = await withSpool(repository, options.spoolDir, log);
  return repository;
}
