/**
 * The gRPC lane: unary gRPC calls with a protobuf body over HTTP/2 — what every native gRPC client
 * sends, the hot path — served on node:http2's core stream API. Node's compatibility layer builds a
 * request and a response object (two streams, header copies) per call before our handler sees it;
 * here the call is the HTTP/2 stream itself: read its one message, run it through the shared
 * invoker (unary-invoke.ts: the same interceptors as every other path), answer with one HEADERS,
 * one DATA and one trailing HEADERS frame — or a single HEADERS frame for an error.
 *
 * What it does not take goes on to the compatibility layer unchanged (see `installLane`): other
 * protocols, JSON, compression, a browser's call (CORS), an unknown path, a deadline that does not
 * parse — each is answered exactly as before by handler.ts.
 */
import type {
  Http2SecureServer,
  Http2Server,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  ServerHttp2Stream,
} from "node:http2";
import type { BinaryReadOptions } from "@bufbuild/protobuf";
import type { ConnectError, MethodImplSpec } from "@connectrpc/connect";
import * as grpc from "@connectrpc/connect/protocol-grpc";
import type { Logger } from "pino";
import { traceparentOf } from "./call-origin.js";
import { messageFrame } from "./protocol-answers.js";
import type { RegisteredMethods } from "./registered-methods.js";
import { wentAway } from "./request-body.js";
import { bodyTooLarge, decodeRequest, envelopedBodyLimit, singleEnvelopedMessage } from "./request-message.js";
import { requestFields } from "./unary-adapter.js";
import type { UnaryInvoker, UnaryOutcome } from "./unary-invoke.js";

/** Serves `stream` and returns true, or returns false and leaves it untouched. */
export type StreamLane = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

export interface GrpcLaneOptions {
  methods: RegisteredMethods;
  invoke: UnaryInvoker;
  readMaxBytes: number;
  binaryOptions: Partial<BinaryReadOptions>;
  log: Logger;
}

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

export function createGrpcLane(options: GrpcLaneOptions): StreamLane {
  const { methods, invoke, readMaxBytes, binaryOptions, log } = options;
  const limit = envelopedBodyLimit(readMaxBytes);

  return (stream, headers) => {
    const spec = methods.get(headers[":path"] ?? "");
    if (
      spec?.kind !== "unary" ||
      headers[":method"] !== "POST" ||
      headers.origin !== undefined ||
      !grpc.parseContentType(headers["content-type"] ?? null)?.binary ||
      (headers["grpc-encoding"] !== undefined && headers["grpc-encoding"] !== "identity")
    ) {
      return false;
    }
    const timeout = grpc.parseTimeout(field(headers["grpc-timeout"]), Number.MAX_SAFE_INTEGER);
    if (timeout.error !== undefined) return false;

    const controller = new AbortController();
    let answered = false;
    stream.once("close", () => {
      if (!answered) controller.abort(wentAway);
    });
    const answer = (outcome: UnaryOutcome) => {
      if (answered) return;
      answered = true;
      // A client that reset the stream or dropped the connection gets nothing.
      if (stream.destroyed || stream.closed) {
        log.debug({ procedure: headers[":path"], err: outcome.error }, "response not completed");
        return;
      }
      try {
        writeAnswer(stream, outcome);
      } catch (error) {
        log.debug({ procedure: headers[":path"], err: error }, "response not completed");
      }
    };

    // Past the limit the rest is read and dropped, so the peer can finish sending.
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on("data", (chunk: Buffer) => {
      const before = received;
      received += chunk.byteLength;
      if (received <= limit) chunks.push(chunk);
      else if (before <= limit) {
        chunks.length = 0;
        answer(errorOutcome(bodyTooLarge(readMaxBytes)));
      }
    });
    stream.once("end", () => {
      if (answered || received > limit || stream.aborted || stream.closed) return;
      let input: ReturnType<typeof decodeRequest>;
      try {
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        input = decodeRequest(spec.method.input, singleEnvelopedMessage(body, readMaxBytes), binaryOptions);
      } catch (error) {
        answer(errorOutcome(error as ConnectError));
        return;
      }
      void invoke(spec as UnarySpec, input, {
        protocolName: "grpc",
        requestMethod: "POST",
        url: `${headers[":scheme"] ?? "http"}://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
        requestFields: () => requestFields(headers),
        traceparent: traceparentOf(headers),
        timeoutMs: timeout.timeoutMs,
        controller,
      }).then(answer);
    });
    return true;
  };
}

/**
 * Puts `lane` in front of the compatibility layer of `server` (which must already have its
 * "request" listener): streams the lane does not take are handed to Node's own stream listener,
 * which turns them into compatibility requests as before.
 */
export function installLane(server: Http2Server | Http2SecureServer, lane: StreamLane): void {
  const compatibility = server.listeners("stream") as Array<(...args: unknown[]) => void>;
  server.removeAllListeners("stream");
  server.on("stream", function (this: unknown, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest) {
    if (lane(stream, headers)) return;
    for (const listener of compatibility) listener.call(this, stream, headers, ...rest);
  });
}

const errorOutcome = (error: ConnectError): UnaryOutcome => ({ header: undefined, trailer: undefined, error });

/** gRPC's answer: HEADERS, the message, status in trailing HEADERS; an error is one HEADERS frame. */
function writeAnswer(stream: ServerHttp2Stream, outcome: UnaryOutcome): void {
  const head: OutgoingHttpHeaders = { ":status": 200, "content-type": grpc.contentTypeProto };
  outcome.header?.forEach((value, key) => {
    head[key] = value;
  });
  if (outcome.error !== undefined) {
    grpc.setTrailerStatus(outcome.trailer ?? new Headers(), outcome.error).forEach((value, key) => {
      head[key] = value;
    });
    stream.respond(head, { endStream: true });
    return;
  }
  const trailers: OutgoingHttpHeaders = { "grpc-status": grpc.grpcStatusOk };
  outcome.trailer?.forEach((value, key) => {
    trailers[key] = value;
  });
  stream.respond(head, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(trailers));
  stream.end(messageFrame(outcome.message));
}

const field = (value: string | string[] | undefined) => (typeof value === "string" ? value : null);
