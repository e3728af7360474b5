/**
 * watchChanges: the change feed as an async iterator that resumes by itself. Each WatchResponse
 * says how far the stream has delivered (`sequence`); when the stream breaks — the server restarts,
 * the network drops, or the client read too slowly and the server ended it — a new stream starts
 * from there, on whatever replica answers, so nothing is missed and nothing comes twice.
 * OUT_OF_RANGE (history trimmed past the position) and every other error end the iteration: the
 * caller re-lists its sessions and watches again from the position a new stream reports.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ChangeEvent } from "../../../gen/isotope/session/v1/session_pb.js";
import type { SessionClient } from "./client.js";

export interface WatchOptions {
  /** Deliver changes after this sequence (the last one handled); 0n (the default) = from now on. */
  since?: bigint;
  /** Only these sessions' changes. */
  sessionIds?: string[];
  /** Only changes of sessions whose metadata (at the change) contains this object. */
  filter?: JsonObject;
  /** Broken streams resumed in a row (without a response between them) before giving up (default 10). */
  maxResumes?: number;
  /** Told the position after every response, events or not: persist it to resume after a restart. */
  onPosition?: (sequence: bigint) => void;
  signal?: AbortSignal;
}

/** Codes a stream breaks with that a new stream from the same position cures. */
const resumable = new Set([Code.Unavailable, Code.Internal, Code.Canceled, Code.ResourceExhausted, Code.Aborted]);

export async function* watchChanges(client: SessionClient, options: WatchOptions = {}): AsyncGenerator<ChangeEvent> {
  let since = options.since ?? 0n;
  let failures = 0;
  for (;;) {
    try {
      const stream = client.watch(
        { sinceSequence: since, sessionIds: options.sessionIds ?? [], metadataFilter: options.filter },
        { signal: options.signal, timeoutMs: 0 },
      );
      for await (const response of stream) {
        failures = 0;
        for (const event of response.events) yield event;
        since = response.sequence;
        options.onPosition?.(since);
      }
      // A Watch never ends on its own: an end is the server going away.
      throw new ConnectError("the Watch stream ended", Code.Unavailable);
    } catch (caught) {
      const error = ConnectError.from(caught);
      // A cancel we did not ask for (no aborted signal) is a broken stream too.
      if (options.signal?.aborted || !resumable.has(error.code) || ++failures > (options.maxResumes ?? 10))
        throw caught;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** failures)));
    }
  }
}
