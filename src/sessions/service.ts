/**
 * SessionService: the contract's RPCs, each from its handler file — writes (Save, Append, Touch,
 * Delete), reads (Load, List), the change feed (Watch) and maintenance (Statistics, Cleanup, Restore, RestoreStream,
 * CheckConnection) and leases (AcquireLease, RenewLease, ReleaseLease). Listed one by one, so a new RPC in the proto fails to compile until it is
 * given a handler here.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { HandlerDeps } from "./handlers/deps.js";
import { createLeaseHandlers } from "./handlers/leases.js";
import { createMaintenanceHandlers } from "./handlers/maintenance.js";
import { createReadHandlers } from "./handlers/reads.js";
import { createWatchHandler } from "./handlers/watch.js";
import { createWriteHandlers } from "./handlers/writes.js";

export function createSessionService(deps: HandlerDeps): ServiceImpl<typeof SessionService> {
  const writes = createWriteHandlers(deps);
  const reads = createReadHandlers(deps);
  const maintenance = createMaintenanceHandlers(deps);
  const leases = createLeaseHandlers(deps);
  return {
    save: writes.save,
    append: writes.append,
    touch: writes.touch,
    delete: writes.delete,
    load: reads.load,
    list: reads.list,
    statistics: maintenance.statistics,
    cleanup: maintenance.cleanup,
    restore: maintenance.restore,
    restoreStream: maintenance.restoreStream,
    checkConnection: maintenance.checkConnection,
    watch: createWatchHandler(deps).watch,
    acquireLease: leases.acquireLease,
    renewLease: leases.renewLease,
    releaseLease: leases.releaseLease,
  };
}
