/**
 * The request message of a call the transport reads itself, from the wire: the one length-prefixed
 * message of a gRPC or gRPC-Web body, or a Connect GET's query, decoded with protobuf-es. Each
 * failure is a ConnectError with the code connect-es gives the same bytes, except one: bytes that
 * are not the request message are the caller's fault, INVALID_ARGUMENT (connect-es's binary
 * serialization answers INTERNAL, which tells a caller that sent garbage the server is broken).
 */
import { type BinaryReadOptions, type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";

/** Flags byte, then a 4-byte big-endian length. */
const envelopeHeaderBytes = 5;
const compressedFlag = 0b1;

/** How far an enveloped body may grow while being read: one message and its envelope. */
export const envelopedBodyLimit = (readMaxBytes: number) => readMaxBytes + envelopeHeaderBytes;

/** A body that grew past readMaxBytes (and its envelope) while being read. */
export const bodyTooLarge = (readMaxBytes: number) =>
  new ConnectError(`message size is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);

/** The one message of a unary call's gRPC or gRPC-Web body. */
export function singleEnvelopedMessage(body: Buffer, readMaxBytes: number): Uint8Array {
  if (body.byteLength === 0)
    throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (body.byteLength < envelopeHeaderBytes) {
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  if ((body[0] as number) & compressedFlag) {
    // No compression is ever negotiated (the router accepts none), so this peer is broken.
    throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  }
  const length = body.readUInt32BE(1);
  if (length > readMaxBytes) {
    throw new ConnectError(
      `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  const end = envelopeHeaderBytes + length;
  if (body.byteLength < end) {
    throw new ConnectError(
      `protocol error: promised ${length} bytes, received ${body.byteLength - envelopeHeaderBytes}`,
      Code.InvalidArgument,
    );
  }
  if (body.byteLength > end)
    throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  return body.subarray(envelopeHeaderBytes);
}

/** The message of a Connect GET: the `message` query parameter, base64url when base64=1. */
export function connectGetMessage(query: URLSearchParams, readMaxBytes: number): Uint8Array {
  const text = query.get("message") ?? "";
  let bytes: Uint8Array;
  try {
    bytes = query.get("base64") === "1" ? base64Decode(text) : new TextEncoder().encode(text);
  } catch (error) {
    throw new ConnectError(
      "the message query parameter is not base64",
      Code.InvalidArgument,
      undefined,
      undefined,
      error,
    );
  }
  if (bytes.byteLength > readMaxBytes) {
    throw new ConnectError(
      `message size ${bytes.byteLength} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  return bytes;
}

/** `bytes` decoded as `schema`; INVALID_ARGUMENT, naming the message type, when they are not one. */
export function decodeRequest<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
  options: Partial<BinaryReadOptions>,
): MessageShape<Desc> {
  try {
    return fromBinary(schema, bytes, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectError(
      `the request is not a valid ${schema.typeName}: ${reason}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      error,
    );
  }
}
