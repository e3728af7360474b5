/**
 * @isotope/session-client — the typed client for Isotope Sessions
 * (isotope.session.v1.SessionService). Everything a user needs is exported from here: the
 * generated service descriptor and message types, createSessionClient, toSessionData,
 * restoreAll, watchChanges, createLeaseHolder, toPlain and checkRequest. Nothing needs a path into gen/.
 */
export * from "../../../gen/isotope/session/v1/session_pb.js";
export { createSessionClient, type SessionClient, type SessionClientOptions, type TlsOptions } from "./client.js";
export { createLeaseHolder, type LeaseHolder, type LeaseHolderOptions } from "./lease-holder.js";
export { toPlain } from "./plain.js";
export { checkRequest } from "./request-check.js";
export { type RestoreAllOptions, type RestoreAllResult, restoreAll } from "./restore.js";
export { isSafeToRetry, type RetryOptions, retryInterceptor } from "./retry.js";
export { type Dropped, type SerializeOptions, toSessionData } from "./serialize.js";
export { type WatchOptions, watchChanges } from "./watch.js";
