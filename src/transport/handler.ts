/**
 * The one NodeHandler the port serves: CORS first; then each call goes where it is answered —
 * unary gRPC calls over HTTP/2 to the gRPC lane (on the core stream API, before any of this: see
 * grpc-lane.ts), other unary calls with a protobuf body to the transport's own adapter, server-streaming calls with a
 * protobuf body to connect-es once their request message is checked, everything else (JSON,
 * compression, client and bidi streams) straight to connect-es; paths no service serves go to the
 * pages (the HTTP API, /metrics: pages.ts), and when none takes them get UNIMPLEMENTED (gRPC) or 404. Knows services and methods only as descriptors and implementations
 * handed over by the routes: nothing here knows sessions.
 */
import type { Http2ServerRequest } from "node:http2";
import type { BinaryReadOptions, JsonReadOptions } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { recogniseBinaryCall } from "./binary-call.js";
import { createConnectAdapter } from "./connect-adapter.js";
import { withCors } from "./cors.js";
import { createGrpcLane } from "./grpc-lane.js";
import type { NodeHandler } from "./node-handler.js";
import { createPages, type Page } from "./pages.js";
import { registerRoutes } from "./registered-methods.js";
import { createStreamRequestCheck } from "./stream-request-check.js";
import { createUnaryAdapter } from "./unary-adapter.js";
import { createUnaryInvoker } from "./unary-invoke.js";

export interface RpcHandlerOptions {
  /** Registers every service on a Connect router. */
  routes: (router: ConnectRouter) => void;
  /** The same chain on every path: every call is logged, authorised, drained and mapped alike. */
  interceptors: Interceptor[];
  readMaxBytes: number;
  /** How deep a request message may nest (protobuf message levels). */
  recursionLimit: number;
  /** Aborted when the grace period of a shutdown is over: every handler is cancelled. */
  shutdownSignal: AbortSignal;
  /** Browser origins allowed by CORS ("*" = any); none by default. */
  corsOrigins: readonly string[];
  /** What serves the paths no service serves (pages.ts); none = each is `unknownRoute`. */
  pages?: readonly Page[];
  log: Logger;
}

export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const { interceptors, readMaxBytes, shutdownSignal, log } = options;
  const binaryOptions: Partial<BinaryReadOptions> = { recursionLimit: options.recursionLimit };
  const jsonOptions: Partial<JsonReadOptions> = { recursionLimit: options.recursionLimit };
  const router = createConnectRouter({
    interceptors,
    readMaxBytes,
    binaryOptions,
    jsonOptions,
    // Compressing 4 KB responses costs more CPU than the loopback / LAN bytes it saves.
    acceptCompression: [],
    shutdownSignal,
  });
  const methods = registerRoutes(router, options.routes);
  const fallback = createPages(options.pages ?? [], unknownRoute);
  const connect = createConnectAdapter(router, { fallback, log });
  const invoke = createUnaryInvoker({ interceptors, shutdownSignal });
  const unary = createUnaryAdapter({ invoke, readMaxBytes, binaryOptions, jsonOptions, log });
  const checkStream = createStreamRequestCheck({
    readMaxBytes,
    binaryOptions,
    jsonOptions,
    replay: connect.replay,
    log,
  });
  const handler: NodeHandler = withCors(options.corsOrigins, (req, res) => {
    const call = recogniseBinaryCall(req, methods);
    if (call === undefined) connect.serve(req, res);
    else if (call.spec.kind === "unary") unary(call, req, res);
    else checkStream(call, req, res);
  });
  handler.lane = createGrpcLane({ methods, invoke, readMaxBytes, binaryOptions, log });
  return handler;
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
