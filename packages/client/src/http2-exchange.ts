/**
 * One unary exchange on an HTTP/2 stream: send the request headers and the framed request
 * message in one go, collect the response's status, headers, data and trailers, and nothing more
 * (grpc-response.ts reads them). A failure is the ConnectError connect-node raises for it; a call
 * cut short (deadline, the caller's signal, or a signal an interceptor put on the request) resets
 * the stream with CANCEL, as gRPC asks of a client that gives up.
 */
import {
  type ClientHttp2Stream,
  constants,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
  type OutgoingHttpHeaders,
} from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { exchangeEnd } from "./exchange-end.js";
import type { Http2Connection } from "./http2-connection.js";
import { connectErrorFromNodeReason, connectErrorFromResetCode, isWriteAfterEnd } from "./node-errors.js";
import type { UnaryCall } from "./unary-call.js";

/** What came back on the stream, as Node gave it. */
export interface Received {
  status: number;
  headers: IncomingHttpHeaders & IncomingHttpStatusHeader;
  /** Undefined for a trailers-only response (the status is in `headers`). */
  trailers: IncomingHttpHeaders | undefined;
  data: Buffer[];
}

/**
 * Sends `body` on a new stream of `connection` (`headers` with their pseudo-headers) and resolves
 * with the response once the stream has ended. `interceptorSignal` is a signal an interceptor
 * substituted for the call's own; it cancels this exchange only.
 */
export function exchange(
  connection: Http2Connection,
  headers: OutgoingHttpHeaders,
  body: Uint8Array,
  call: UnaryCall,
  interceptorSignal?: AbortSignal,
): Promise<Received> {
  return new Promise((resolve, reject) => {
    let stream: ClientHttp2Stream | undefined;
    const end = exchangeEnd(
      call,
      interceptorSignal,
      (error) => {
        if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(resetCodeFor(error));
      },
      reject,
    );
    if (end.settled) return;
    const fail = end.fail;
    try {
      stream = connection.stream(headers);
    } catch (error) {
      return fail(connectErrorFromNodeReason(error));
    }
    const opened = stream;
    const received: Received = { status: 0, headers: {}, trailers: undefined, data: [] };
    opened.on("response", (responseHeaders) => {
      received.status = responseHeaders[":status"] ?? 0;
      received.headers = responseHeaders;
    });
    opened.on("trailers", (trailers) => {
      received.trailers = trailers;
    });
    opened.on("data", (chunk: Buffer) => received.data.push(chunk));
    opened.on("end", () => {
      if (end.succeed()) resolve(received);
    });
    opened.on("error", (error: Error) => {
      // The server answered and ended the stream before reading all of ours: its answer counts.
      if (opened.writableEnded && isWriteAfterEnd(error)) return;
      fail(connectErrorFromNodeReason(connectionFailure(error) ?? error));
    });
    opened.on("close", () => {
      if (end.settled) return; // the usual case: "end" came first
      fail(connectErrorFromResetCode(opened.rstCode) ?? new ConnectError("Premature close", Code.Internal));
    });
    opened.end(body);
  });
}

/**
 * The connection's own failure (refused, TLS refused …) when node cancels a stream that waited
 * for it: connect-node reports that failure itself, having waited for the connection first.
 */
function connectionFailure(error: Error): unknown {
  const code = (error as { code?: unknown }).code;
  return code === "ERR_HTTP2_STREAM_CANCEL" && error.cause instanceof Error ? error.cause : undefined;
}

/** CANCEL when the client gave up (gRPC's mapping of a cancel and of a deadline), INTERNAL_ERROR otherwise. */
function resetCodeFor(error: ConnectError): number {
  return error.code === Code.Canceled || error.code === Code.DeadlineExceeded
    ? constants.NGHTTP2_CANCEL
    : constants.NGHTTP2_INTERNAL_ERROR;
}
