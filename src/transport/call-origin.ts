/**
 * Where a call came from, as the transport saw it, for its log line and its metrics — set on every
 * call it serves (unary-invoke.ts, connect-adapter.ts), read by interceptors:
 * - the protocol: "grpc", "grpc-web" or "connect" — or "http" for a call the seed's HTTP API makes
 *   in process through the same routes and interceptors, which sets it itself. Interceptors cannot
 *   see the protocol otherwise: connect-es gives it to the handler's context only.
 * - its W3C `traceparent` header, taken from the raw header fields: reading `req.header` would
 *   build a Headers object per call that the fast paths otherwise never make.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type ContextValues, createContextKey } from "@connectrpc/connect";

export type CallProtocol = "grpc" | "grpc-web" | "connect" | "http";

export const callProtocolKey = createContextKey<CallProtocol | undefined>(undefined, {
  description: "call protocol",
});

export function callProtocol(req: { contextValues: ContextValues }): CallProtocol | "unknown" {
  return req.contextValues.get(callProtocolKey) ?? "unknown";
}

/** The protocol of a request connect-es serves, from its content type (as connect-es tells them apart). */
export function protocolOfContentType(contentType: string | undefined): CallProtocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * The call's `traceparent` header: a string, or null when the transport looked and there was none.
 * Undefined = no transport looked (a call made in process): read the request's headers.
 */
export const traceparentKey = createContextKey<string | null | undefined>(undefined, { description: "traceparent" });

/** The raw `traceparent` field; repeated, it is invalid (W3C Trace Context) and counts as none. */
export function traceparentOf(headers: IncomingHttpHeaders): string | null {
  const value = headers.traceparent;
  return typeof value === "string" ? value : null;
}
