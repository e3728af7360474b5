/**
 * The drain: counts RPCs in flight (a streaming RPC until its stream ends) and, once shutdown
 * starts, refuses new ones with UNAVAILABLE so a client retries on another replica.
 */
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { afterStream } from "./stream-end.js";

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
