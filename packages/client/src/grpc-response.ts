/**
 * A unary gRPC response, as Node's HTTP/2 stream delivered it, turned into connect's
 * UnaryResponse — or into the very ConnectError connect's own gRPC transport raises (code,
 * message, details, metadata), because the checks are connect's: validateResponse for the HTTP
 * status and content type, validateTrailer / findTrailerError for grpc-status, grpc-message and
 * grpc-status-details-bin, in the order its transport runs them.
 *
 * A plain success (HTTP 200, a gRPC content type, no encoding, grpc-status 0 in the trailers and
 * nothing else to say) is recognised first, on Node's header objects: connect's checks could only
 * pass, so they are skipped, and the response's Headers are made only if read. Everything else
 * goes through connect's checks. The envelope reading is ours: the body is whole by now, so it
 * is a few lines over a buffer, not a stream of transforms.
 */
import type { DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, type UnaryResponse } from "@connectrpc/connect";
import { compressedFlag, type Serialization } from "@connectrpc/connect/protocol";
import {
  contentTypeProto,
  grpcStatusOk,
  headerGrpcStatus,
  validateResponseWithCompression,
  validateTrailer,
} from "@connectrpc/connect/protocol-grpc";
import type { Received } from "./http2-exchange.js";
import { lazyResponse, toHeaders } from "./unary-response.js";

type Output = Pick<Serialization<unknown>, "parse">;

/** The response message and its metadata, or a throw of the call's ConnectError. */
export function readUnaryResponse(
  received: Received,
  method: DescMethodUnary,
  output: Output,
  readMaxBytes: number,
): UnaryResponse {
  const message = isPlainSuccess(received) ? onlyMessage(received.data, output, readMaxBytes) : undefined;
  if (message !== undefined) return lazyResponse(received, method, message);
  // Anything else (an error status, a reply without a message, a broken one) is judged by connect's checks.
  const header = toHeaders(received.headers);
  const trailer = received.trailers === undefined ? new Headers() : toHeaders(received.trailers);
  const checked = checkedMessage(received, header, trailer, output, readMaxBytes);
  return { stream: false, service: method.parent, method, header, message: checked, trailer } as UnaryResponse;
}

/** True when every check of connect's would pass on these headers and trailers (no need to run them). */
function isPlainSuccess({ status, headers, trailers }: Received): boolean {
  const type = headers["content-type"];
  const encoding = headers["grpc-encoding"];
  return (
    status === 200 &&
    (type === contentTypeProto || type === "application/grpc") &&
    (encoding === undefined || encoding === "identity") &&
    headers[statusKey] === undefined &&
    headers[detailsKey] === undefined &&
    trailers?.[statusKey] === grpcStatusOk &&
    trailers[detailsKey] === undefined
  );
}

const statusKey = "grpc-status";
const detailsKey = "grpc-status-details-bin";

/** connect's gRPC transport's checks, in its order: the message, or a throw of the error it raises. */
function checkedMessage(received: Received, header: Headers, trailer: Headers, output: Output, readMaxBytes: number) {
  // No compression was offered, so a grpc-encoding other than identity is an error here.
  const { headerError } = validateResponseWithCompression([], received.status, header);
  const message = onlyMessage(received.data, output, readMaxBytes);
  validateTrailer(trailer, header);
  if (message === undefined) {
    // A trailers-only response: the status (an error, or a server that sent no message) is in the header.
    if (headerError) throw headerError;
    throw new ConnectError(
      "protocol error: missing output message for unary method",
      trailer.has(headerGrpcStatus) ? Code.Unimplemented : Code.Unknown,
    );
  }
  if (headerError) {
    throw new ConnectError("protocol error: received output message for unary method with error status", Code.Unknown);
  }
  return message;
}

/** The one enveloped message in the body (5-byte header: flags, big-endian length), if any. */
function onlyMessage(chunks: Buffer[], output: Output, readMaxBytes: number): unknown {
  if (chunks.length === 0) return undefined;
  const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  if (body.length < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body.readUInt8(0);
  const length = body.readUInt32BE(1);
  if (length > readMaxBytes) {
    throw new ConnectError(
      `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  if (body.length < 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.length > 5 + length) {
    throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
  }
  if ((flags & compressedFlag) === compressedFlag) {
    throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  }
  return output.parse(body.subarray(5));
}
