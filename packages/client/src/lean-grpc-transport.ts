/**
 * createLeanGrpcTransport: the client's transport for protocol "grpc". Unary calls — every RPC
 * but RestoreStream — go straight onto node:http2 with protobuf-es: one framed message out, the
 * response read whole. RestoreStream goes through connect-node's gRPC transport, built with the
 * same options and sharing the same HTTP/2 connection (http2-connection.ts).
 *
 * Why: on a unary Load of a 4.5 KB session connect-node's transport costs about three times the
 * client CPU of this one (packages/client/bench/unary-cost.ts), mostly in machinery a unary call
 * does not need: async-iterable pipelines, two AbortControllers and a DOMException per call,
 * header copies. An engine saves and loads a session per turn, so that is the client's cost.
 *
 * What a caller sees stays connect's: the interceptor chain (retry, bearer token, the caller's
 * own) runs as runUnaryCall runs it (lean-unary.ts, shared with the lean Connect transport), `req.signal` behaves as its does (unary-call.ts), requests
 * carry the same headers but for the offer of compression, and errors are built by connect's own
 * gRPC helpers (grpc-response.ts).
 */
import type * as http2 from "node:http2";
import type { DescMessage, DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createMethodSerializationLookup,
  createMethodUrl,
  encodeEnvelope,
  type MethodSerializationLookup,
  validateReadWriteMaxBytes,
} from "@connectrpc/connect/protocol";
import { requestHeader } from "@connectrpc/connect/protocol-grpc";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { readUnaryResponse } from "./grpc-response.js";
import { Http2Connection } from "./http2-connection.js";
import { exchange } from "./http2-exchange.js";
import { leanUnary } from "./lean-unary.js";
import { hasOwnSignal, isUntouched } from "./unary-request.js";

export interface LeanGrpcTransportOptions {
  /** e.g. "http://127.0.0.1:50051" (cleartext HTTP/2) or "https://…" (TLS). */
  baseUrl: string;
  /** Run on every call, first to last, as connect runs them. */
  interceptors?: Interceptor[];
  /** The deadline of a call that sets no timeoutMs of its own. */
  defaultTimeoutMs?: number;
  /** Passed to http2.connect(): ca, cert, key and the rest of node:tls. */
  nodeOptions?: http2.ClientSessionOptions | http2.SecureClientSessionOptions;
  /** Close the connection after this long without a call (default 15 minutes, as connect-node). */
  idleConnectionTimeoutMs?: number;
  readMaxBytes?: number;
  writeMaxBytes?: number;
}

/** What a method needs on every call, worked out on its first. */
interface MethodPlan {
  method: DescMethodUnary;
  url: string;
  path: string;
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  /** The headers of a request nobody touched, for the deadline of the last such request. */
  fixed?: { deadline: number | undefined; headers: http2.OutgoingHttpHeaders };
}

export function createLeanGrpcTransport(options: LeanGrpcTransportOptions): Transport {
  const limits = validateReadWriteMaxBytes(options.readMaxBytes, options.writeMaxBytes, undefined);
  const connection = new Http2Connection(options.baseUrl, options.nodeOptions, options.idleConnectionTimeoutMs);
  const streaming = createGrpcTransport({ ...options, sessionManager: connection });

  const unary = leanUnary<MethodPlan>(options, {
    requestHeader: (timeoutMs, init) => requestHeader(true, timeoutMs, init),
    plan(method: DescMethodUnary) {
      const url = createMethodUrl(options.baseUrl, method);
      const serialization = createMethodSerializationLookup(method, undefined, undefined, limits);
      return { method, url, path: pathOf(url, connection.authority), serialization };
    },
    send(plan, req, request, call, deadline) {
      let body: Uint8Array;
      let headers: http2.OutgoingHttpHeaders;
      try {
        body = encodeEnvelope(0, plan.serialization.getI(true).serialize(req.message));
        const path = req.url === plan.url ? plan.path : pathOf(req.url, connection.authority);
        headers =
          path === plan.path && isUntouched(req, request)
            ? fixedHeaders(plan, deadline)
            : nodeHeaders(path, req.header);
      } catch (error) {
        return Promise.reject(error);
      }
      // An interceptor may hand on a signal of its own; the call's own is watched through `call`.
      const substitute = hasOwnSignal(req, request) ? undefined : req.signal;
      return exchange(connection, headers, body, call, substitute).then((received) =>
        readUnaryResponse(received, plan.method, plan.serialization.getO(true), limits.readMaxBytes),
      );
    },
  });

  return {
    unary,
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      streaming.stream(method, signal, timeoutMs, header, input, contextValues),
  };
}

/** The request path for `url`, which must be on the session's origin (connect-node's rule). */
function pathOf(url: string, authority: string): string {
  const parsed = new URL(url);
  if (parsed.origin !== authority) {
    throw new ConnectError(
      `cannot make a request to ${parsed.origin}: the http2 session is connected to ${authority}`,
      Code.Internal,
    );
  }
  return parsed.pathname + parsed.search;
}

/** What connect's requestHeader gives a request with this deadline and nothing else (node copies it on use). */
function fixedHeaders(plan: MethodPlan, deadline: number | undefined): http2.OutgoingHttpHeaders {
  if (plan.fixed === undefined || plan.fixed.deadline !== deadline) {
    plan.fixed = { deadline, headers: nodeHeaders(plan.path, requestHeader(true, deadline, undefined)) };
  }
  return plan.fixed.headers;
}

/** A POST to `path` with `header` as Node's header object (Headers has already joined repeated names). */
function nodeHeaders(path: string, header: Headers): http2.OutgoingHttpHeaders {
  const node: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": path };
  header.forEach((value, key) => {
    node[key] = value;
  });
  return node;
}
