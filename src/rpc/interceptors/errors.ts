/**
 * The one table that turns failures below the API edge into Connect codes: the database's error
 * classes (src/db/errors.ts) each become a code with a fixed message (the spool's refusal also says
 * how many writes it holds). Anything it does not
 * recognise becomes INTERNAL: SQL text, parameters and stacks never reach a client (the original
 * stays as `cause` for the log line).
 */
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import {
  DatabaseAbortError,
  DatabaseConflictError,
  type DatabaseError,
  DatabaseLimitError,
  DatabaseRefusedValueError,
  DatabaseTimeoutError,
  DatabaseUnavailableError,
} from "../../db/errors.js";
import { SpooledWritesPendingError } from "../../sessions/repository/contract.js";

const databaseErrors: ReadonlyArray<[new (...args: never[]) => DatabaseError, Code, string]> = [
  [DatabaseUnavailableError, Code.Unavailable, "database unavailable, retry later"],
  [DatabaseTimeoutError, Code.DeadlineExceeded, "the statement was cancelled: deadline exceeded or statement timeout"],
  [DatabaseRefusedValueError, Code.InvalidArgument, "the database refused a value in the request"],
  [DatabaseConflictError, Code.Aborted, "the write conflicted with a concurrent one, retry"],
  [DatabaseLimitError, Code.ResourceExhausted, "the request is beyond a database limit"],
];

/** The ConnectError a client sees for `error`. ConnectErrors pass through unchanged. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof DatabaseAbortError) {
    return error.reason instanceof ConnectError
      ? error.reason
      : new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, error);
  }
  // Says how many, so a caller knows its List was refused, not that the database is down.
  if (error instanceof SpooledWritesPendingError) {
    return new ConnectError(`${error.message}, retry later`, Code.Unavailable, undefined, undefined, error);
  }
  for (const [errorClass, code, message] of databaseErrors) {
    if (error instanceof errorClass) return new ConnectError(message, code, undefined, undefined, error);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** Maps every error a handler throws (or a response stream ends with) through `toConnectError`. */
export function errorInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      const response = await next(req);
      if (!response.stream) return response;
      return { ...response, message: mapStreamErrors(response.message) } as StreamResponse;
    } catch (error) {
      throw toConnectError(error);
    }
  };
}

async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (error) {
    throw toConnectError(error);
  }
}
