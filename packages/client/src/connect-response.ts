/**
 * A unary Connect response (binary), as node:http delivered it, turned into connect's
 * UnaryResponse — or into the very ConnectError connect's own Connect transport raises (code,
 * message, details, metadata), because the checks are connect's: validateResponseWithCompression
 * for the HTTP status, content type and encoding, trailerDemux to split `trailer-` headers off,
 * readAllBytes for the length and readMaxBytes, errorFromJsonBytes for an error's JSON body, in
 * the order its transport runs them.
 *
 * A plain success (HTTP 200, application/proto, no encoding, no trailers, within readMaxBytes) is
 * recognised first, on Node's header object: connect's checks could only pass, so they are
 * skipped and the response's Headers are made only if read (unary-response.ts).
 */
import type { DescMethodUnary } from "@bufbuild/protobuf";
import { appendHeaders, type UnaryResponse } from "@connectrpc/connect";
import { createAsyncIterable, readAllBytes, type Serialization } from "@connectrpc/connect/protocol";
import {
  contentTypeUnaryProto,
  errorFromJsonBytes,
  trailerDemux,
  validateResponseWithCompression,
} from "@connectrpc/connect/protocol-connect";
import type { Received1 } from "./http1-exchange.js";
import { lazyResponse, toHeaders } from "./unary-response.js";

type Output = Pick<Serialization<unknown>, "parse">;

/** The response message and its metadata, or a rejection with the call's ConnectError. */
export function readConnectResponse(
  received: Received1,
  method: DescMethodUnary,
  output: Output,
  readMaxBytes: number,
): UnaryResponse | Promise<UnaryResponse> {
  if (isPlainSuccess(received, readMaxBytes)) {
    return lazyResponse(received, method, output.parse(bodyOf(received)));
  }
  return checkedResponse(received, method, output, readMaxBytes);
}

/** connect's Connect transport's checks, in its order. */
async function checkedResponse(
  received: Received1,
  method: DescMethodUnary,
  output: Output,
  readMaxBytes: number,
): Promise<UnaryResponse> {
  const all = toHeaders(received.headers);
  // No compression was offered, so a content-encoding other than identity is an error here.
  const { isUnaryError, unaryError } = validateResponseWithCompression("unary", [], true, received.status, all);
  const [header, trailer] = trailerDemux(all);
  const body = await readAllBytes(createAsyncIterable(received.data), readMaxBytes, all.get("content-length"));
  if (isUnaryError) throw errorFromJsonBytes(body, appendHeaders(header, trailer), unaryError);
  return {
    stream: false,
    service: method.parent,
    method,
    header,
    message: output.parse(body),
    trailer,
  } as UnaryResponse;
}

/** True when every check of connect's would pass (no need to run them). */
function isPlainSuccess({ status, headers, length }: Received1, readMaxBytes: number): boolean {
  if (status !== 200 || headers["content-type"] !== contentTypeUnaryProto || length > readMaxBytes) return false;
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return false;
  for (const key in headers) if (key.startsWith("trailer-")) return false;
  return true;
}

function bodyOf({ data, length }: Received1): Uint8Array {
  if (data.length === 1) return data[0] as Buffer;
  return data.length === 0 ? new Uint8Array(0) : Buffer.concat(data, length);
}
