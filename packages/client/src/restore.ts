/**
 * restoreAll: what an engine calls at start-up — drains RestoreStream into a Map of sessions,
 * reporting progress, and resumes after the last session received when the stream breaks.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { RestoreFailure, RestoreProgress, Session } from "../../../gen/isotope/session/v1/session_pb.js";
import type { SessionClient } from "./client.js";

export interface RestoreAllOptions {
  /** Only sessions whose metadata contains this object. */
  filter?: JsonObject;
  /** Sessions per streamed batch (server default 500). */
  batchSize?: number;
  /** Called after every batch with the running totals. */
  onProgress?: (progress: { restored: number; failed: number; totalEstimate: number }) => void;
  /** How many times a broken stream is resumed before giving up (default 5). */
  maxResumes?: number;
  signal?: AbortSignal;
}

export interface RestoreAllResult {
  sessions: Map<string, Session>;
  failures: RestoreFailure[];
}

export async function restoreAll(client: SessionClient, options: RestoreAllOptions = {}): Promise<RestoreAllResult> {
  const sessions = new Map<string, Session>();
  const failures: RestoreFailure[] = [];
  let startAfter = "";
  let totalEstimate: number | undefined;
  for (let resumes = 0; ; resumes++) {
    try {
      const stream = client.restoreStream(
        { metadataFilter: options.filter, batchSize: options.batchSize ?? 0, startAfter },
        { signal: options.signal },
      );
      for await (const message of stream) {
        for (const session of message.sessions) sessions.set(session.sessionId, session);
        failures.push(...message.failures);
        const last = [...message.sessions, ...message.failures]
          .map((s) => s.sessionId)
          .sort()
          .at(-1);
        if (last !== undefined && last > startAfter) startAfter = last;
        totalEstimate ??= Number((message.progress as RestoreProgress | undefined)?.totalEstimate ?? 0);
        options.onProgress?.({ restored: sessions.size, failed: failures.length, totalEstimate });
        if (message.done) return { sessions, failures };
      }
      throw new ConnectError("RestoreStream ended without its done message", Code.Unavailable);
    } catch (caught) {
      const error = ConnectError.from(caught);
      // Resuming a read is always safe. connect-node reports a broken HTTP/2 stream as INTERNAL or
      // CANCELED; a cancel we did not ask for (no aborted signal) is a broken stream too.
      const broken = [Code.Unavailable, Code.Internal, Code.Canceled].includes(error.code);
      if (!broken || resumes >= (options.maxResumes ?? 5) || options.signal?.aborted) throw caught;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** resumes)));
    }
  }
}
