/**
 * How each protocol carries an answer the transport writes itself: gRPC (the status in HTTP
 * trailers, or trailers-only for an error), gRPC-Web (the status in a trailer frame at the end of
 * the body) and Connect (an HTTP status and a JSON error body for a unary call; an end-stream frame
 * for a streaming one). The encodings — status trailers, trailer frames, envelopes, error JSON,
 * code → HTTP status — are connect-es's public protocol helpers, so an answer reads the same
 * whichever side wrote it.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { JsonWriteOptions } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import * as connect from "@connectrpc/connect/protocol-connect";
import * as grpc from "@connectrpc/connect/protocol-grpc";
import * as grpcWeb from "@connectrpc/connect/protocol-grpc-web";
import type { Protocol } from "./binary-call.js";
import type { NodeRequest, NodeResponse } from "./node-handler.js";
import type { UnaryOutcome } from "./unary-invoke.js";

const messageFlag = 0;

/** Writes the answer to a unary call. */
export function writeUnaryAnswer(
  protocol: Protocol,
  req: NodeRequest,
  res: NodeResponse,
  outcome: UnaryOutcome,
  jsonOptions: Partial<JsonWriteOptions>,
): void {
  if (protocol === "connect") {
    writeConnectUnary(res, outcome, jsonOptions);
    return;
  }
  const { error } = outcome;
  const header = outcome.header ?? new Headers();
  const trailer = outcome.trailer ?? new Headers();
  if (error === undefined) trailer.set("grpc-status", grpc.grpcStatusOk);
  else grpc.setTrailerStatus(trailer, error);
  const frame = error === undefined ? messageFrame(outcome.message) : undefined;
  if (protocol === "grpc-web") writeGrpcWeb(res, header, frame, trailer);
  else writeGrpc(req, res, header, frame, trailer);
}

/**
 * The response message in its envelope. The one place not to use connect-es's encodeEnvelope:
 * it zero-fills a fresh buffer per call, and this is every unary call's hot path.
 */
export function messageFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength);
  frame[0] = messageFlag;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * Writes an error to a server-streaming call before its stream started (see
 * stream-request-check.ts): for gRPC and gRPC-Web as for a unary call, for Connect as the
 * end-stream frame of an otherwise empty stream.
 */
export function writeStreamError(
  protocol: Protocol,
  req: NodeRequest,
  res: NodeResponse,
  error: ConnectError,
  jsonOptions: Partial<JsonWriteOptions>,
): void {
  const status = grpc.setTrailerStatus(new Headers(), error);
  if (protocol === "grpc") writeGrpc(req, res, new Headers(), undefined, status);
  else if (protocol === "grpc-web") writeGrpcWeb(res, new Headers(), undefined, status);
  else {
    const end = connect.endStreamToJson(new Headers(), error, jsonOptions);
    res.writeHead(200, { "content-type": connect.contentTypeStreamProto });
    res.end(encodeEnvelope(connect.endStreamFlag, new TextEncoder().encode(JSON.stringify(end))));
  }
}

/** gRPC: the message, then the status in HTTP trailers; an error is trailers-only. */
function writeGrpc(
  req: NodeRequest,
  res: NodeResponse,
  header: Headers,
  frame: Uint8Array | undefined,
  trailer: Headers,
) {
  const head = fields(header, { "content-type": grpc.contentTypeProto });
  if (frame === undefined) {
    fields(trailer, head);
    if (isHttp2(req)) {
      // The compatibility response would follow its HEADERS with an empty DATA frame; a
      // trailers-only answer ends the stream on the HEADERS frame. Headers already set on the
      // response (CORS) are kept.
      req.stream.respond({ ...res.getHeaders(), ...head, ":status": 200 }, { endStream: true });
    } else {
      res.writeHead(200, head);
      res.end();
    }
    return;
  }
  res.writeHead(200, head);
  if (isHttp2(req)) {
    res.addTrailers(fields(trailer, {}));
    res.end(frame);
  } else {
    // HTTP/1.1 sends trailers only after a chunked body: a single end(body) would be sized instead.
    const http1 = res as ServerResponse;
    http1.write(frame);
    http1.addTrailers(fields(trailer, {}));
    http1.end();
  }
}

/** gRPC-Web: the message, then the status in a trailer frame; an error is the trailer frame alone. */
function writeGrpcWeb(res: NodeResponse, header: Headers, frame: Uint8Array | undefined, trailer: Headers) {
  res.writeHead(200, fields(header, { "content-type": grpcWeb.contentTypeProto }));
  const trailerFrame = encodeEnvelope(grpcWeb.trailerFlag, grpcWeb.trailerSerialize(trailer));
  res.end(frame === undefined ? trailerFrame : Buffer.concat([frame, trailerFrame]));
}

function writeConnectUnary(res: NodeResponse, outcome: UnaryOutcome, jsonOptions: Partial<JsonWriteOptions>) {
  const { error } = outcome;
  const header = outcome.header ?? new Headers();
  let status = 200;
  let body: Uint8Array;
  if (error === undefined) {
    header.set("content-type", connect.contentTypeUnaryProto);
    body = outcome.message;
  } else {
    status = connect.codeToHttpStatus(error.code);
    header.set("content-type", connect.contentTypeUnaryJson);
    // As connect-node's own Connect handler does: the error's metadata rides as headers.
    error.metadata.forEach((value, key) => {
      header.set(key, value);
    });
    body = connect.errorToJsonBytes(error, jsonOptions);
  }
  // A unary Connect answer has no trailers: they travel as "trailer-" headers.
  const head = fields(outcome.trailer ? connect.trailerMux(header, outcome.trailer) : header, {});
  head["content-length"] = body.byteLength;
  res.writeHead(status, head);
  res.end(body);
}

/** `headers` added to `into` as Node header fields. */
function fields(headers: Headers, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  headers.forEach((value, key) => {
    into[key] = value;
  });
  return into;
}

const isHttp2 = (req: NodeRequest): req is Http2ServerRequest => "stream" in req;
