/**
 * The HTTP API's way to SessionService: a client of the very routes and interceptor chain the port
 * serves (logging, access control, drain, error mapping), called in process — no second
 * implementation, no socket. Each call is marked "http" for its log line and metrics, and carries
 * the caller's `authorization` (so a token's role applies exactly as to an RPC) and `traceparent`.
 */
import { type Client, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { Rpc } from "../rpc/routes.js";
import { callProtocolKey } from "../transport/call-origin.js";
import type { NodeRequest } from "../transport/node-handler.js";

export type SessionClient = Client<typeof SessionService>;

export interface InProcessOptions {
  rpc: Pick<Rpc, "routes" | "interceptors">;
  readMaxBytes: number;
  /** How deep a message may nest (protobuf levels): the port's limit, so deep documents fare alike. */
  recursionLimit: number;
  /** Aborted when the grace period of a shutdown is over, as for every RPC. */
  shutdownSignal: AbortSignal;
}

/** Outermost: the protocol every later interceptor (logging, metrics) reports for the call. */
const markHttp: Interceptor = (next) => (req) => {
  req.contextValues.set(callProtocolKey, "http");
  return next(req);
};

export function createInProcessClient(options: InProcessOptions): SessionClient {
  const { rpc, readMaxBytes, shutdownSignal } = options;
  const binaryOptions = { recursionLimit: options.recursionLimit };
  const jsonOptions = { recursionLimit: options.recursionLimit };
  const transport = createRouterTransport(rpc.routes, {
    router: {
      interceptors: [markHttp, ...rpc.interceptors],
      readMaxBytes,
      binaryOptions,
      jsonOptions,
      acceptCompression: [],
      shutdownSignal,
    },
    // JSON, not protobuf, between the two ends: binary encoding would quietly turn a lone
    // surrogate into U+FFFD, where the RPC's validation refuses it as it does for every protocol.
    transport: { useBinaryFormat: false, binaryOptions, jsonOptions },
  });
  return createClient(SessionService, transport);
}

/** What a call takes from the HTTP request: the headers it forwards, and "the caller went away". */
export function callOptions(req: NodeRequest, signal: AbortSignal): { headers: Headers; signal: AbortSignal } {
  const headers = new Headers();
  for (const name of ["authorization", "traceparent", "tracestate"]) {
    const value = req.headers[name];
    if (typeof value === "string") headers.set(name, value);
  }
  return { headers, signal };
}
