/**
 * What the interceptors share about a call's end: wrap a response stream so something runs when it
 * ends, however it ends — the log line of a streaming RPC, the drain's in-flight count, metrics —
 * and the error the call ended with, as its log line and metrics name it.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** Passes `stream` through and calls `onEnd` exactly once, however it ends (error, return, cancel). */
export async function* afterStream<T>(stream: AsyncIterable<T>, onEnd: (error: unknown) => void): AsyncIterable<T> {
  let error: unknown;
  try {
    yield* stream;
  } catch (caught) {
    error = caught ?? new Error("stream failed");
    throw caught;
  } finally {
    onEnd(error);
  }
}

/**
 * How a call ended, given what its handler threw (undefined = returned): undefined for OK, else the
 * ConnectError it ended with. A peer that went away mid-call ends it early (or as a write error):
 * that is a cancel (or the deadline), not a success and not a fault.
 */
export function endError(signal: AbortSignal, error: unknown): ConnectError | undefined {
  if (!signal.aborted) return error === undefined ? undefined : ConnectError.from(error);
  return signal.reason instanceof ConnectError
    ? signal.reason
    : new ConnectError("the client went away", Code.Canceled);
}
