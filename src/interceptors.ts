/**
 * Interceptors around every RPC: one log line per call, errors mapped to Connect codes, and the
 * in-flight count that lets shutdown drain. They wrap response streams too, so a streaming RPC is
 * logged when it ends, with the code it ended with.
 */
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { callerKey } from "./auth.js";
import { toConnectError } from "./errors.js";

/** Counts RPCs in flight and refuses new ones once draining starts. */
export interface Drain {
  readonly interceptor: Interceptor;
  readonly inFlight: number;
  /** From now on every new RPC fails with UNAVAILABLE. */
  start(): void;
  /** Resolves when no RPC is in flight. */
  idle(): Promise<void>;
}

export function createDrain(): Drain {
  let inFlight = 0;
  let draining = false;
  let waiters: Array<() => void> = [];
  const done = () => {
    inFlight--;
    if (inFlight === 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  return {
    get inFlight() {
      return inFlight;
    },
    start() {
      draining = true;
    },
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    interceptor: (next) => async (req) => {
      if (draining) throw new ConnectError("server is shutting down, retry on another instance", Code.Unavailable);
      inFlight++;
      let response: Awaited<ReturnType<typeof next>>;
      try {
        response = await next(req);
      } catch (error) {
        done();
        throw error;
      }
      if (!response.stream) {
        done();
        return response;
      }
      return { ...response, message: afterStream(response.message, done) } as StreamResponse;
    },
  };
}

/**
 * Logs one line per RPC: procedure, code, duration in ms, session_id when the request has one and
 * the caller's token name when access control is on. Never the payload, never a header. INTERNAL errors are logged with their cause, which the client never sees.
 */
export function loggingInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const sessionId = req.stream ? undefined : (req.message as { sessionId?: unknown }).sessionId;
    const fields = {
      procedure: `${req.service.typeName}/${req.method.name}`,
      ...(typeof sessionId === "string" && sessionId !== "" ? { session_id: sessionId.slice(0, 255) } : {}),
    };
    const finish = (error: unknown) => {
      const duration_ms = Math.round((performance.now() - started) * 100) / 100;
      const caller = req.contextValues.get(callerKey);
      const line = caller === undefined ? fields : { ...fields, caller: caller.name };
      // A peer that went away mid-stream ends the call early (or as a write error): it is a
      // cancel (or the deadline), not a success and not a fault.
      if (error === undefined && !req.signal.aborted) {
        log.info({ ...line, code: "ok", duration_ms }, "rpc");
        return;
      }
      const connectError = !req.signal.aborted
        ? ConnectError.from(error)
        : req.signal.reason instanceof ConnectError
          ? req.signal.reason
          : new ConnectError("the client went away", Code.Canceled);
      const code = Code[connectError.code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
      if (connectError.code === Code.Internal || connectError.code === Code.Unknown) {
        log.error({ ...line, code, duration_ms, err: connectError.cause ?? connectError }, "rpc failed");
      } else {
        log.info({ ...line, code, duration_ms, message: connectError.rawMessage }, "rpc");
      }
    };
    try {
      const response = await next(req);
      if (!response.stream) {
        finish(undefined);
        return response;
      }
      return { ...response, message: afterStream(response.message, finish) } as StreamResponse;
    } catch (error) {
      finish(error);
      throw error;
    }
  };
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

/** Passes `stream` through and calls `onEnd` exactly once, however it ends (error, return, cancel). */
async function* afterStream<T>(stream: AsyncIterable<T>, onEnd: (error: unknown) => void): AsyncIterable<T> {
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
