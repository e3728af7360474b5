/**
 * The request side of a call the transport answers itself: its whole body (bounded), and a signal
 * for "the client went away". HTTP/1.1 and HTTP/2 alike; over HTTP/2 the body is read off the
 * stream itself — the compatibility request would add a stream and a copy per chunk, and nothing
 * else reads it.
 */
import type { Http2ServerRequest } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeRequest, NodeResponse } from "./node-handler.js";

export type BodyRead = { kind: "read"; body: Buffer } | { kind: "too large" };

/**
 * Calls `done` once: with the body when it has ended, or as soon as it grows past `limit` bytes
 * (what follows is read and dropped, so the peer can finish sending). Never calls it for a body
 * that does not end — a peer that reset the stream or closed the connection.
 */
export function readBody(req: NodeRequest, limit: number, done: (read: BodyRead) => void): void {
  const stream = (req as Http2ServerRequest).stream;
  const source = stream ?? req;
  const chunks: Buffer[] = [];
  let received = 0;
  let tooLarge = false;
  source.on("data", (chunk: Buffer) => {
    received += chunk.byteLength;
    if (tooLarge) return;
    if (received > limit) {
      tooLarge = true;
      chunks.length = 0;
      done({ kind: "too large" });
      return;
    }
    chunks.push(chunk);
  });
  source.once("end", () => {
    // An HTTP/2 stream's readable side also ends when the peer resets it: that is no body.
    if (tooLarge || (stream !== undefined && (stream.aborted || stream.closed))) return;
    done({ kind: "read", body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
  });
}

/** The client of one call: `controller` aborts (Canceled) if it goes away before `answered()`. */
export interface CallClient {
  /** The call's one controller (see unary-invoke.ts), aborted when the client leaves. */
  readonly controller: AbortController;
  /** Whether the client went away before the answer was on its way. */
  readonly gone: boolean;
  /** The answer is on its way: a close from now on is the call ending, not the client leaving. */
  answered(): void;
}

// One reason for every client that left: a ConnectError per call would capture a stack each time.
export const wentAway = new ConnectError("the client went away", Code.Canceled);

export function watchClient(req: NodeRequest, res: NodeResponse): CallClient {
  const controller = new AbortController();
  let answered = false;
  let gone = false;
  const onClose = () => {
    if (answered) return;
    gone = true;
    controller.abort(wentAway);
  };
  // The HTTP/2 stream closes on a reset or a lost connection; the HTTP/1.1 response when its
  // socket does (the request closes as soon as its body has been read).
  const stream = (req as Http2ServerRequest).stream;
  if (stream !== undefined) stream.once("close", onClose);
  else res.once("close", onClose);
  return {
    controller,
    get gone() {
      return gone;
    },
    answered: () => {
      answered = true;
    },
  };
}
