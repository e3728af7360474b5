/**
 * Retries with exponential back-off and full jitter on UNAVAILABLE, only where repeating a call
 * is safe: side-effect-free RPCs (Load, List, Statistics, CheckConnection), a write with a
 * request_id (the server applies it once per key: request-id.ts gives every write one) and a
 * Save or Append with expected_version (a compare-and-set cannot apply twice). A write with
 * neither is never retried: it may have been applied before the connection broke. Retries stop
 * at the call's deadline.
 */
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor, type UnaryRequest } from "@connectrpc/connect";
import { isKeyedWrite } from "./request-id.js";

export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  maxAttempts?: number;
  /** Back-off before the first retry, doubled each time (default 100 ms). */
  initialBackoffMs?: number;
  /** Ceiling of one back-off (default 2,000 ms). */
  maxBackoffMs?: number;
  /** Called before each retry (for logs and metrics). */
  onRetry?: (info: { procedure: string; attempt: number; delayMs: number; error: ConnectError }) => void;
}

export function isSafeToRetry(req: UnaryRequest): boolean {
  if (req.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS || isKeyedWrite(req)) return true;
  const message = req.message as { expectedVersion?: bigint };
  // A compare-and-set cannot apply twice: a repeat after a lost reply is ABORTED, not a second
  // write. Touch sets an expiry, which repeating does not change in kind.
  if (req.method.name === "Save" || req.method.name === "Append") return message.expectedVersion !== undefined;
  return req.method.name === "Touch";
}

export function retryInterceptor(options: RetryOptions = {}): Interceptor {
  const maxAttempts = options.maxAttempts ?? 4;
  const initial = options.initialBackoffMs ?? 100;
  const ceiling = options.maxBackoffMs ?? 2000;
  return (next) => async (req) => {
    if (req.stream || !isSafeToRetry(req)) return next(req);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (caught) {
        const error = ConnectError.from(caught);
        if (error.code !== Code.Unavailable || attempt >= maxAttempts || req.signal.aborted) throw caught;
        const delayMs = Math.random() * Math.min(ceiling, initial * 2 ** (attempt - 1));
        options.onRetry?.({ procedure: `${req.service.typeName}/${req.method.name}`, attempt, delayMs, error });
        await sleep(delayMs, req.signal);
      }
    }
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
