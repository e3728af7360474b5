/**
 * connect-node's adapter (its connectNodeAdapter is these thirty lines) with two differences:
 *
 * - A request body that is not protobuf is INVALID_ARGUMENT on every protocol. connect-es answers
 *   INTERNAL — hard-coded in its binary serialization — which tells a caller that sent garbage the
 *   server is broken; our gRPC fast path already answers INVALID_ARGUMENT.
 * - A handler that ends because its client went away is logged at debug through pino, not printed
 *   on stderr.
 */
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
} from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { NodeHandler } from "./node-handler.js";
import { explainUnsupportedMediaType } from "./unsupported-media-type.js";

export interface ConnectHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** For paths no service serves. */
  fallback: NodeHandler;
  log: Logger;
}

export function createConnectHandler(options: ConnectHandlerOptions): NodeHandler {
  const router = createConnectRouter(options);
  options.routes(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (req, res) => {
    const handler = handlers.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) return options.fallback(req, res);
    handler(universalRequestFromNodeRequest(req, res, undefined, undefined))
      .then((response) => explainUnsupportedMediaType(response, req.headers["content-type"]))
      .then((response) => universalResponseToNodeResponse(undecodableAsInvalidArgument(response), res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.log.debug(
          { err: reason, procedure: `${handler.service.typeName}/${handler.method.name}` },
          "response not completed",
        );
      });
  };
}

const undecodable = (message: string | null | undefined) => message?.startsWith("parse binary:") === true;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** connect-es's INTERNAL for a request body protobuf cannot decode, as INVALID_ARGUMENT. */
function undecodableAsInvalidArgument(response: UniversalServerResponse): UniversalServerResponse {
  // Connect unary: the error is the (small) JSON body of an HTTP 500.
  if (response.status === 500 && response.body !== undefined) {
    const fixed = { ...response };
    fixed.body = connectErrorFixed(fixed, response.body);
    return fixed;
  }
  // gRPC and gRPC-Web: the status is in the headers (trailers-only), the trailers, or — gRPC-Web —
  // the body's trailer frame.
  grpcStatusFix(response.header);
  grpcStatusFix(response.trailer);
  const grpcWeb = response.header?.get("content-type")?.startsWith("application/grpc-web") === true;
  return response.body === undefined || !grpcWeb ? response : { ...response, body: trailerFramesFixed(response.body) };
}

async function* connectErrorFixed(response: UniversalServerResponse, chunks: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  const body = Buffer.concat(parts);
  try {
    const error = JSON.parse(decoder.decode(body)) as { code?: string; message?: string };
    if (error.code === "internal" && undecodable(error.message)) {
      // connect-node writes status and headers after the body's first chunk: still in time.
      const fixed = encoder.encode(JSON.stringify({ ...error, code: "invalid_argument" }));
      response.status = 400;
      response.header?.set("content-length", String(fixed.byteLength));
      yield fixed;
      return;
    }
  } catch {
    // not a Connect error body: pass it on as it was
  }
  yield body;
}

function grpcStatusFix(fields: Headers | undefined): void {
  const message = fields?.get("grpc-message");
  if (fields?.get("grpc-status") !== String(Code.Internal) || !undecodable(message && decodeURIComponent(message)))
    return;
  fields.set("grpc-status", String(Code.InvalidArgument));
}

async function* trailerFramesFixed(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of chunks) {
    // A gRPC-Web trailer frame: flag 0x80, a 4-byte length, then "name: value\r\n" lines.
    if (chunk.byteLength < 5 || chunk[0] !== 0x80) {
      yield chunk;
      continue;
    }
    const text = decoder.decode(chunk.subarray(5));
    const message = /^grpc-message: (.*)$/m.exec(text)?.[1]?.trim();
    if (!/^grpc-status: 13\r?$/m.test(text) || !undecodable(message && decodeURIComponent(message))) {
      yield chunk;
      continue;
    }
    const fixed = encoder.encode(text.replace(/^grpc-status: 13/m, `grpc-status: ${Code.InvalidArgument}`));
    const frame = new Uint8Array(5 + fixed.byteLength);
    frame[0] = 0x80;
    new DataView(frame.buffer).setUint32(1, fixed.byteLength);
    frame.set(fixed, 5);
    yield frame;
  }
}
