/**
 * @isotope/session-client: the generated SessionService descriptor and message types, and a
 * factory for a typed client over the connect-node transports. Users import from here, never
 * from gen/ paths. (Retries, serialization and restore helpers arrive with the client issue.)
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SessionService } from "../../../gen/isotope/session/v1/session_pb.js";

export * from "../../../gen/isotope/session/v1/session_pb.js";

export interface SessionClientOptions {
  /** Where the service listens, e.g. "http://127.0.0.1:50051". */
  baseUrl: string;
  /** Wire protocol: "grpc" (HTTP/2, default), "connect" or "grpc-web" (HTTP/1.1 or HTTP/2). */
  protocol?: "grpc" | "connect" | "grpc-web";
  /** Default deadline for every call, in milliseconds. */
  timeoutMs?: number;
}

export type SessionClient = Client<typeof SessionService>;

export function createSessionClient(options: SessionClientOptions): SessionClient {
  const common = { baseUrl: options.baseUrl, defaultTimeoutMs: options.timeoutMs };
  const transport =
    options.protocol === "connect"
      ? createConnectTransport({ ...common, httpVersion: "1.1" })
      : options.protocol === "grpc-web"
        ? createGrpcWebTransport({ ...common, httpVersion: "1.1" })
        : createGrpcTransport(common);
  return createClient(SessionService, transport);
}
