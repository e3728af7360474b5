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
 * own) runs as runUnaryCall runs it, `req.signal` behaves as its does (unary-call.ts), requests
 * carry the same headers but for the offer of compression, and errors are built by connect's own
 * gRPC helpers (grpc-response.ts).
 */
import type * as http2 from "node:http2";
import { create, type DescMessage, type DescMethodUnary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
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
import { UnaryCall } from "./unary-call.js";
import { createUnaryRequest, hasOwnSignal, isUntouched } from "./unary-request.js";

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

type AnyFn = (req: UnaryRequest) => Promise<UnaryResponse>;

/** What a method needs on every call, worked out on its first. */
interface MethodPlan {
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
  const interceptors = options.interceptors ?? [];
  const plans = new Map<DescMethodUnary, MethodPlan>();

  const planFor = (method: DescMethodUnary): MethodPlan => {
    let plan = plans.get(method);
    if (plan === undefined) {
      const url = createMethodUrl(options.baseUrl, method);
      const serialization = createMethodSerializationLookup(method, undefined, undefined, limits);
      plan = { url, path: pathOf(url, connection.authority), serialization };
      plans.set(method, plan);
    }
    return plan;
  };

  function unary(
    method: DescMethodUnary,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: ConstructorParameters<typeof Headers>[0],
    input: unknown,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse> {
    const deadline = timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
    const plan = planFor(method);
    const call = new UnaryCall(signal, deadline);
    const message = create(method.input, input as never);
    const request = createUnaryRequest(
      method,
      plan.url,
      message,
      contextValues ?? createContextValues(),
      call,
      deadline,
      header,
    );
    const send: AnyFn = (req) => {
      if (call.reason !== undefined) return Promise.reject(call.reason);
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
        readUnaryResponse(received, method, plan.serialization.getO(true), limits.readMaxBytes),
      );
    };
    let next = send;
    for (let i = interceptors.length - 1; i >= 0; i--) next = (interceptors[i] as Interceptor)(next as never) as AnyFn;
    return next(request).then(
      (response) => {
        call.succeed();
        return response;
      },
      (reason: unknown) => Promise.reject(call.fail(reason)),
    );
  }

  return {
    unary: unary as Transport["unary"],
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
