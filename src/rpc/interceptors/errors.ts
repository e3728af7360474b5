/**
 * The one table that turns failures below the API edge into Connect codes. Anything it does not
 * recognise becomes INTERNAL with a fixed message: SQL text, parameters and stacks never reach a
 * client (the original stays as `cause` for the log).
 */
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { DatabaseAbortError } from "../../db/database.js";

const unavailableNetworkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Maps a SQLSTATE (or Node network error code) to a Connect code; undefined when unknown. */
export function codeForSqlState(sqlState: string): Code | undefined {
  if (unavailableNetworkCodes.has(sqlState)) return Code.Unavailable;
  if (sqlState.startsWith("08")) return Code.Unavailable; // connection exceptions
  if (sqlState.startsWith("57P0")) return Code.Unavailable; // admin / crash shutdown, cannot connect now
  if (sqlState === "53300") return Code.Unavailable; // too many connections
  if (sqlState === "40001" || sqlState === "40P01") return Code.Aborted; // serialization failure, deadlock
  if (sqlState === "57014") return Code.DeadlineExceeded; // statement timeout or cancelled
  if (sqlState === "22P05" || sqlState === "22P02" || sqlState === "22021" || sqlState === "2202E") {
    return Code.InvalidArgument; // untranslatable character, bad text representation, bad encoding
  }
  if (sqlState === "22008" || sqlState === "22003") return Code.InvalidArgument; // value out of range
  if (sqlState === "54000" || sqlState === "54001") return Code.ResourceExhausted; // program limit, stack depth
  return undefined;
}

const messages: Partial<Record<Code, string>> = {
  [Code.Unavailable]: "database unavailable, retry later",
  [Code.DeadlineExceeded]: "the statement was cancelled: deadline exceeded or statement timeout",
  [Code.InvalidArgument]: "the database refused a value in the request",
  [Code.Aborted]: "the write conflicted with a concurrent one, retry",
  [Code.ResourceExhausted]: "the request is beyond a database limit",
};

/** The ConnectError a client sees for `error`. ConnectErrors pass through unchanged. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof DatabaseAbortError) {
    return error.reason instanceof ConnectError
      ? error.reason
      : new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, error);
  }
  const code = errorCode(error);
  const mapped = code === undefined ? undefined : codeForSqlState(code);
  if (mapped !== undefined) return new ConnectError(messages[mapped] ?? "", mapped, undefined, undefined, error);
  if (isConnectionLoss(error)) {
    return new ConnectError(messages[Code.Unavailable] as string, Code.Unavailable, undefined, undefined, error);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

function errorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

// pg reports a lost or unobtainable connection with plain Errors, not SQLSTATEs.
function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|the database system is (starting up|shutting down)|not queryable/i.test(
    error.message,
  );
}

/** True when `error` means the database cannot be reached now (what the spool falls back on). */
export function isUnavailable(error: unknown): boolean {
  return !(error instanceof DatabaseAbortError) && toConnectError(error).code === Code.Unavailable;
}

/** Maps every error a handler throws (or a response stream ends with) through src/errors.ts. */
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
