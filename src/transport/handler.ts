/**
 * The one NodeHandler the port serves: CORS first, then unary gRPC calls on the fast path, and
 * everything else through the Connect adapter; paths no service serves get UNIMPLEMENTED (gRPC)
 * or 404. Knows services and methods only as descriptors: nothing here knows sessions.
 */
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { BinaryReadOptions, DescService } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { createConnectHandler } from "./connect-adapter.js";
import { withCors } from "./cors.js";
import { createGrpcFastPath } from "./grpc-fast-path.js";
import type { NodeHandler } from "./node-handler.js";

export interface RpcHandlerOptions {
  /** Registers every service on a Connect router. */
  routes: (router: ConnectRouter) => void;
  /** The service (and its implementation) whose unary methods the fast path serves. */
  fastPath: { service: DescService; implementation: Record<string, unknown> };
  /** The same chain on both paths: every call is logged, authorised, drained and mapped alike. */
  interceptors: Interceptor[];
  readMaxBytes: number;
  /** How deep a request message may nest (protobuf message levels). */
  recursionLimit: number;
  /** Aborted when the grace period of a shutdown is over: every handler is cancelled. */
  shutdownSignal: AbortSignal;
  /** Browser origins allowed by CORS ("*" = any); none by default. */
  corsOrigins: readonly string[];
  log: Logger;
}

export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const binaryOptions: Partial<BinaryReadOptions> = { recursionLimit: options.recursionLimit };
  const connect = releaseOnClose(
    createConnectHandler({
      routes: options.routes,
      interceptors: options.interceptors,
      readMaxBytes: options.readMaxBytes,
      binaryOptions,
      jsonOptions: { recursionLimit: options.recursionLimit },
      // Compressing 4 KB responses costs more CPU than the loopback / LAN bytes it saves.
      acceptCompression: [],
      shutdownSignal: options.shutdownSignal,
      fallback: unknownRoute,
      log: options.log,
    }),
  );
  const fastPath = createGrpcFastPath({
    ...options.fastPath,
    interceptors: options.interceptors,
    readMaxBytes: options.readMaxBytes,
    binaryOptions,
    shutdownSignal: options.shutdownSignal,
  });
  return withCors(options.corsOrigins, (req, res) => {
    if (req.httpVersionMajor === 2 && fastPath(req as Http2ServerRequest, res as Http2ServerResponse)) return;
    connect(req, res);
  });
}

/**
 * A path no service serves. gRPC callers get UNIMPLEMENTED as a gRPC status (a bare HTTP 404
 * reaches some clients as an unexplained transport error); everyone else gets 404.
 */
const unknownRoute: NodeHandler = (req, res) => {
  const type = String(req.headers["content-type"] ?? "");
  if (!type.startsWith("application/grpc")) {
    res.writeHead(404);
    res.end();
    return;
  }
  const status = {
    "content-type": type,
    "grpc-status": String(Code.Unimplemented),
    "grpc-message": encodeURIComponent(`unknown method ${req.url ?? ""}`),
  };
  const stream = (req as Http2ServerRequest).stream;
  // Over HTTP/2 a trailers-only response is one HEADERS frame that ends the stream.
  if (stream && !stream.closed) stream.respond({ ":status": 200, ...status }, { endStream: true });
  else {
    res.writeHead(200, status);
    res.end();
  }
};

/**
 * A response stream whose peer went away (connection reset, stream cancelled) closes without an
 * "error" event, and connect-node's writer waits for "drain" or "error" forever: the handler of an
 * abandoned server stream would stay suspended, holding its batch and the drain count. Turning
 * such a close into an error lets the writer fail and the handler finish.
 */
function releaseOnClose(handler: NodeHandler): NodeHandler {
  return (req, res) => {
    res.once("close", () => {
      if (!res.writableFinished && res.listenerCount("error") > 0) {
        res.emit("error", new Error("the client closed the stream before the response was complete"));
      }
    });
    handler(req, res);
  };
}
