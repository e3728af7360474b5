/**
 * createSessionClient: the typed SessionService client over a connect-node transport, with an
 * optional bearer token on every call, a default deadline, and safe retries.
 */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import { type RetryOptions, retryInterceptor } from "./retry.js";

export interface SessionClientOptions {
  /** Where the service listens, e.g. "http://127.0.0.1:50051". */
  baseUrl: string;
  /** Wire protocol: "grpc" (HTTP/2, the default), "connect" or "grpc-web" (HTTP/1.1). */
  protocol?: "grpc" | "connect" | "grpc-web";
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Default deadline of every call, in milliseconds (a call's own timeoutMs wins). */
  timeoutMs?: number;
  /** Retry policy for UNAVAILABLE on calls that are safe to repeat; false turns retries off. */
  retry?: RetryOptions | false;
  /** More interceptors, run inside the token and retry ones. */
  interceptors?: Interceptor[];
}

export type SessionClient = Client<typeof SessionService>;

export function createSessionClient(options: SessionClientOptions): SessionClient {
  const interceptors: Interceptor[] = [];
  if (options.retry !== false) interceptors.push(retryInterceptor(options.retry));
  if (options.token !== undefined) interceptors.push(bearer(options.token));
  interceptors.push(...(options.interceptors ?? []));
  const common = { baseUrl: options.baseUrl, defaultTimeoutMs: options.timeoutMs, interceptors };
  const transport =
    options.protocol === "connect"
      ? createConnectTransport({ ...common, httpVersion: "1.1" })
      : options.protocol === "grpc-web"
        ? createGrpcWebTransport({ ...common, httpVersion: "1.1" })
        : createGrpcTransport(common);
  return createClient(SessionService, transport);
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
