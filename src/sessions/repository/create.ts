/**
 * The sessions repository on SQL: every statement against the sessions table, on the Db seam —
 * reads, writes, append and maintenance, each in its own file. The bottom of every stack: it
 * keeps no state, so it has no figures and nothing to close.
 */
import type { Db } from "../../db/database.js";
import { createAppend } from "./append.js";
import { type ChangeRecorder, changeRecorder } from "./change-log.js";
import type { SessionRepository } from "./contract.js";
import { createLeases } from "./leases.js";
import { createMaintenance } from "./maintenance.js";
import { createReads } from "./reads.js";
import { createRequestKeys, defaultRequestIdWindowMs } from "./request-keys.js";
import { createWrites } from "./writes.js";

/**
 * Creates the repository over `db` for the (already validated, migrated) `table`; its writes log
 * their changes through `changes` (default: logged, nobody told — the feed's poll finds them);
 * a keyed write's key is remembered for `requestIdWindowMs`.
 */
export function createSessionRepository(
  db: Db,
  table: string,
  changes: ChangeRecorder = changeRecorder(table, true),
  requestIdWindowMs = defaultRequestIdWindowMs,
): SessionRepository {
  const reads = createReads(db, table);
  const leases = createLeases(db, table);
  const requests = createRequestKeys(db, table, requestIdWindowMs, changes, leases);
  const writes = createWrites(db, table, changes, requests);
  const { append } = createAppend(table, changes, requests);
  const maintenance = createMaintenance(db, table, changes);
  return {
    save: writes.save,
    saveMany: writes.saveMany,
    load: reads.load,
    loadMany: reads.loadMany,
    list: reads.list,
    append,
    touch: writes.touch,
    delete: writes.delete,
    acquireLease: leases.acquire,
    renewLease: leases.renew,
    releaseLease: leases.release,
    statistics: maintenance.statistics,
    cleanup: maintenance.cleanup,
    countRestorable: reads.countRestorable,
    scan: reads.scan,
    replaySpooled: writes.replaySpooled,
    lastKnown: () => undefined,
    ping: maintenance.ping,
    status: () => ({}),
    close: async () => {},
  };
}
