/**
 * createSessionClient: the typed SessionService client, with an optional bearer token on every
 * call, TLS (and a client certificate for mutual TLS), a default deadline, a request_id on every
 * write (request-id.ts), safe retries (retry.ts), and every request checked before it is sent
 * (request-check.ts). Over gRPC and Connect it runs on the lean
 * transports (lean-grpc-transport.ts, lean-connect-transport.ts: a fraction of connect-node's CPU
 * per call); gRPC-web, and gRPC or Connect on request, run on connect-node.
 */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import { createLeanConnectTransport } from "./lean-connect-transport.js";
import { createLeanGrpcTransport } from "./lean-grpc-transport.js";
import { withRequestChecks } from "./request-check.js";
import { requestIdInterceptor } from "./request-id.js";
import { type RetryOptions, retryInterceptor } from "./retry.js";

export interface SessionClientOptions {
  /** Where the service listens, e.g. "http://127.0.0.1:50051" ("https://…" when it has TLS). */
  baseUrl: string;
  /**
   * Wire protocol: "grpc" (HTTP/2, the default), "connect" (binary, HTTP/1.1 keep-alive: the
   * cheapest for the server, one socket per call in flight; see the README) or "grpc-web" (HTTP/1.1).
   */
  protocol?: "grpc" | "connect" | "grpc-web";
  /**
   * What carries gRPC and Connect calls. "lean" (the default): unary calls straight on
   * node:http2 (gRPC) or node:http(s) keep-alive (Connect), a fraction of connect-node's CPU per
   * call, with the same interceptors, deadlines, errors and TLS; RestoreStream still on
   * connect-node, over the same connection or sockets. "connect-node": everything on
   * connect-node's gRPC or Connect transport, as before — the escape hatch should the lean path
   * misbehave. gRPC-web always runs on connect-node.
   */
  transport?: "lean" | "connect-node";
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** PEM material for an https:// baseUrl; omit to trust the system's CAs with no client certificate. */
  tls?: TlsOptions;
  /** Default deadline of every call, in milliseconds (a call's own timeoutMs wins). */
  timeoutMs?: number;
  /** Retry policy for UNAVAILABLE on calls that are safe to repeat; false turns retries off. */
  retry?: RetryOptions | false;
  /**
   * Give every Save, Append, Touch and Delete sent without a request_id a fresh one (default
   * true), which makes them safe to retry: the server applies each key once. false: for a server
   * older than request_id, which would ignore the key (such writes are then never retried).
   */
  requestIds?: boolean;
  /** More interceptors, run inside the token and retry ones. */
  interceptors?: Interceptor[];
}

/** PEM strings or buffers, as node:tls takes them. */
export interface TlsOptions {
  /** CA(s) that signed the server's certificate, when it is not a public one. */
  ca?: string | Buffer;
  /** Client certificate and its key, for a server that requires mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export type SessionClient = Client<typeof SessionService>;

export function createSessionClient(options: SessionClientOptions): SessionClient {
  const interceptors: Interceptor[] = [];
  // Outside the retries: every attempt of a call carries the same key.
  if (options.requestIds !== false) interceptors.push(requestIdInterceptor());
  if (options.retry !== false) interceptors.push(retryInterceptor(options.retry));
  if (options.token !== undefined) interceptors.push(bearer(options.token));
  interceptors.push(...(options.interceptors ?? []));
  // connect-node passes nodeOptions to http2.connect() (HTTP/2) or https.request() (HTTP/1.1),
  // the lean Connect transport to its https.Agent: all take ca / cert / key as node:tls does.
  const nodeOptions = options.tls === undefined ? undefined : { ...options.tls };
  const common = { baseUrl: options.baseUrl, defaultTimeoutMs: options.timeoutMs, interceptors, nodeOptions };
  const lean = options.transport !== "connect-node";
  const transport =
    options.protocol === "connect"
      ? lean
        ? createLeanConnectTransport(common)
        : createConnectTransport({ ...common, httpVersion: "1.1" })
      : options.protocol === "grpc-web"
        ? createGrpcWebTransport({ ...common, httpVersion: "1.1" })
        : lean
          ? createLeanGrpcTransport(common)
          : createGrpcTransport(common);
  return withRequestChecks(createClient(SessionService, transport), SessionService);
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
