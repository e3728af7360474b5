/**
 * createLeanConnectTransport: the client's transport for protocol "connect". Unary calls — every
 * RPC but RestoreStream — are a plain binary POST on node:http (or node:https) over keep-alive
 * sockets: `application/proto` out, `application/proto` back, read whole. RestoreStream goes
 * through connect-node's Connect transport (HTTP/1.1, binary), built with the same options and
 * the same agent, so it shares the sockets.
 *
 * Why: Connect's binary protocol over HTTP/1.1 keep-alive costs the server less per call than
 * gRPC over HTTP/2 (bench/rpc-paths.ts, `connect-h1-lean`), and connect-node's HTTP/1.1 client
 * spends most of a unary call in async-iterable pipelines, a sentinel and header copies it does
 * not need: this transport takes well under half its client CPU per call. (Node's HTTP/1.1
 * client still costs more per call than the lean gRPC transport's HTTP/2 stream; README.)
 *
 * What a caller sees stays connect's: the call itself (interceptors, deadline, signal) is the
 * lean gRPC transport's (lean-unary.ts), requests carry connect's headers but for the offer of
 * compression, and errors are built by connect's own Connect helpers (connect-response.ts).
 */
import http from "node:http";
import https from "node:https";
import type { DescMessage, DescMethodUnary } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createMethodSerializationLookup,
  createMethodUrl,
  type MethodSerializationLookup,
  validateReadWriteMaxBytes,
} from "@connectrpc/connect/protocol";
import { headerUnaryEncoding, requestHeader } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { readConnectResponse } from "./connect-response.js";
import { exchange1 } from "./http1-exchange.js";
import { leanUnary } from "./lean-unary.js";
import { isSafeToRetry } from "./retry.js";
import { hasOwnSignal, isUntouched } from "./unary-request.js";

export interface LeanConnectTransportOptions {
  /** e.g. "http://127.0.0.1:50051" or "https://…" (TLS). */
  baseUrl: string;
  /** Run on every call, first to last, as connect runs them. */
  interceptors?: Interceptor[];
  /** The deadline of a call that sets no timeoutMs of its own. */
  defaultTimeoutMs?: number;
  /** node:tls options for an https:// baseUrl (ca, cert, key); given to the agent. */
  nodeOptions?: https.AgentOptions;
  /** Sockets per origin at most (default: no limit, as Node's). Each call in flight holds one. */
  maxSockets?: number;
  readMaxBytes?: number;
  writeMaxBytes?: number;
}

/** What a method needs on every call, worked out on its first. */
interface MethodPlan {
  method: DescMethodUnary;
  url: string;
  /** http.request options for `url`, headers aside. */
  target: http.RequestOptions;
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  /** The headers of a request nobody touched, for the deadline of the last such request. */
  fixed?: { deadline: number | undefined; headers: http.OutgoingHttpHeaders };
}

export function createLeanConnectTransport(options: LeanConnectTransportOptions): Transport {
  const limits = validateReadWriteMaxBytes(options.readMaxBytes, options.writeMaxBytes, undefined);
  const secure = new URL(options.baseUrl).protocol === "https:";
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  // Node keeps an idle keep-alive socket unref'd, so an idle client does not hold the process.
  const agent = secure
    ? new https.Agent({ ...options.nodeOptions, ...agentOptions })
    : new http.Agent({ ...agentOptions });
  const streaming = createConnectTransport({
    ...options,
    httpVersion: "1.1",
    useBinaryFormat: true,
    nodeOptions: { ...options.nodeOptions, agent },
  });
  const targetOf = (url: string): http.RequestOptions => {
    const parsed = new URL(url);
    const tls = parsed.protocol === "https:";
    return {
      protocol: parsed.protocol,
      hostname: parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname,
      port: parsed.port === "" ? (tls ? 443 : 80) : Number(parsed.port),
      path: parsed.pathname + parsed.search,
      method: "POST",
      // The agent for the baseUrl's scheme; a URL an interceptor moved to the other gets Node's default.
      agent: tls === secure ? agent : undefined,
      ...(tls ? options.nodeOptions : undefined),
    };
  };

  const unary = leanUnary<MethodPlan>(options, {
    requestHeader: (timeoutMs, init) => requestHeader("unary", true, timeoutMs, init, true),
    plan(method) {
      const url = createMethodUrl(options.baseUrl, method);
      const serialization = createMethodSerializationLookup(method, undefined, undefined, limits);
      return { method, url, target: targetOf(url), serialization };
    },
    send(plan, req, request, call, deadline) {
      let body: Uint8Array;
      let target: http.RequestOptions;
      let headers: http.OutgoingHttpHeaders;
      try {
        body = plan.serialization.getI(true).serialize(req.message);
        target = req.url === plan.url ? plan.target : targetOf(req.url);
        headers =
          target === plan.target && isUntouched(req, request)
            ? { ...fixedHeaders(plan, deadline), "content-length": body.byteLength }
            : nodeHeaders(req.header, body.byteLength);
      } catch (error) {
        return Promise.reject(error);
      }
      // An interceptor may hand on a signal of its own; the call's own is watched through `call`.
      const substitute = hasOwnSignal(req, request) ? undefined : req.signal;
      const send = target.protocol === "https:" ? https.request : http.request;
      return exchange1(send, { ...target, headers }, body, call, isSafeToRetry(req), substitute).then((received) =>
        readConnectResponse(received, plan.method, plan.serialization.getO(true), limits.readMaxBytes),
      );
    },
  });

  return {
    unary,
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      streaming.stream(method, signal, timeoutMs, header, input, contextValues),
  };
}

/** What connect's requestHeader gives a request with this deadline and nothing else. */
function fixedHeaders(plan: MethodPlan, deadline: number | undefined): http.OutgoingHttpHeaders {
  if (plan.fixed === undefined || plan.fixed.deadline !== deadline) {
    const header = requestHeader("unary", true, deadline, undefined, true);
    plan.fixed = { deadline, headers: nodeHeaders(header, undefined) };
  }
  return plan.fixed.headers;
}

/**
 * `header` as Node's header object (Headers has already joined repeated names), without the
 * content-encoding connect's transport also drops when it does not compress.
 */
function nodeHeaders(header: Headers, contentLength: number | undefined): http.OutgoingHttpHeaders {
  const node: http.OutgoingHttpHeaders = {};
  header.forEach((value, key) => {
    if (key !== headerUnaryEncoding) node[key] = value;
  });
  if (contentLength !== undefined) node["content-length"] = contentLength;
  return node;
}
