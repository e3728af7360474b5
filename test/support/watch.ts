// A Watch stream as tests read it: what it delivered so far, and a way to read on until a
// condition holds (or fail, naming what arrived, after a timeout).
import type { Client } from "@connectrpc/connect";
import type { ChangeEvent, SessionService, WatchRequest } from "../../gen/isotope/session/v1/session_pb.js";

export interface Watching {
  /** Every event received, in order. */
  readonly events: ChangeEvent[];
  /** The sequence of the last response (-1n before the first). */
  readonly position: bigint;
  /** Reads responses until `done()` holds; rejects when the stream fails or ends first, or on timeout. */
  until(done: () => boolean, timeoutMs?: number): Promise<void>;
  /** Until the first response (where the stream starts) arrived. */
  started(): Promise<void>;
  close(): void;
}

export function watching(
  client: Client<typeof SessionService>,
  request: Partial<Pick<WatchRequest, "sinceSequence" | "sessionIds" | "metadataFilter">> = {},
  headers?: Record<string, string>,
): Watching {
  const controller = new AbortController();
  const iterator = client.watch(request, { signal: controller.signal, headers })[Symbol.asyncIterator]();
  const events: ChangeEvent[] = [];
  let position = -1n;
  let pending: Promise<IteratorResult<{ events: ChangeEvent[]; sequence: bigint }>> | undefined;
  const self: Watching = {
    events,
    get position() {
      return position;
    },
    async until(done, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        pending ??= iterator.next();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
        });
        const next = await Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
        if (next === "timeout") {
          throw new Error(`Watch: timed out with ${events.length} events, position ${position}`);
        }
        pending = undefined;
        if (next.done) throw new Error("Watch: the stream ended");
        events.push(...next.value.events);
        position = next.value.sequence;
      }
    },
    started: () => self.until(() => position >= 0n),
    close() {
      controller.abort();
      pending?.catch(() => {});
      iterator.return?.().catch(() => {});
    },
  };
  return self;
}
