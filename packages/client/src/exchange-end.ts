/**
 * How one exchange ends, for both lean transports (http1-exchange.ts, http2-exchange.ts): once,
 * by whichever comes first — its answer, a failure, the call's own abort (deadline, the caller's
 * signal: unary-call.ts) or a signal an interceptor substituted. A failure first cancels what is
 * on the wire (`cancelWire`: destroy the request, reset the stream).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { getAbortSignalReason } from "@connectrpc/connect/protocol";
import type { UnaryCall } from "./unary-call.js";

export interface ExchangeEnd {
  /** Whether the exchange has ended. */
  readonly settled: boolean;
  /** Ends it with its answer (the caller resolves); false if it had already ended. */
  succeed(): boolean;
  /** Ends it with `error` (cancelling the wire, rejecting); nothing if it had already ended. */
  fail(error: ConnectError): void;
}

export function exchangeEnd(
  call: UnaryCall,
  interceptorSignal: AbortSignal | undefined,
  cancelWire: (error: ConnectError) => void,
  reject: (error: ConnectError) => void,
): ExchangeEnd {
  let settled = false;
  const settle = () => {
    if (settled) return false;
    settled = true;
    call.onAbort = undefined;
    interceptorSignal?.removeEventListener("abort", cancelled);
    return true;
  };
  const fail = (error: ConnectError) => {
    if (!settle()) return;
    cancelWire(error);
    reject(error);
  };
  function cancelled(this: AbortSignal) {
    fail(ConnectError.from(getAbortSignalReason(this), Code.Canceled));
  }
  call.onAbort = fail;
  if (interceptorSignal?.aborted) cancelled.call(interceptorSignal);
  else interceptorSignal?.addEventListener("abort", cancelled);
  return {
    get settled() {
      return settled;
    },
    succeed: settle,
    fail,
  };
}
