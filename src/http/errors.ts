/**
 * How the HTTP API answers a failure: the Connect code of the call (or of the request's own
 * problem: bad JSON, too large, unknown path) becomes an HTTP status and a JSON body
 * `{code, message}` with Connect's snake_case code name; an ABORTED Save's VersionConflict detail
 * rides along as `version_conflict`.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { VersionConflictSchema } from "../../gen/isotope/session/v1/session_pb.js";

/**
 * Connect code → HTTP status. Connect's own table, except RESOURCE_EXHAUSTED (here: data or a body
 * over a size limit, so 413 rather than 429) and FAILED_PRECONDITION (412, not a plain 400).
 */
const statusOf: Readonly<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 413,
  [Code.FailedPrecondition]: 412,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

export interface ErrorAnswer {
  status: number;
  body: {
    code: string;
    message: string;
    version_conflict?: { session_id: string; expected_version: number; current_version: number };
  };
}

/**
 * The answer to a call that failed with `error`. Anything not a ConnectError is a fault of ours:
 * INTERNAL, its text never sent (the caller logs it).
 */
export function errorAnswer(error: unknown, status?: number): ErrorAnswer {
  const connectError = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal);
  const body: ErrorAnswer["body"] = { code: codeToString(connectError.code), message: connectError.rawMessage };
  const [conflict] = connectError.findDetails(VersionConflictSchema);
  if (conflict !== undefined) {
    body.version_conflict = {
      session_id: conflict.sessionId,
      expected_version: Number(conflict.expectedVersion),
      current_version: Number(conflict.currentVersion),
    };
  }
  return { status: status ?? statusOf[connectError.code], body };
}
