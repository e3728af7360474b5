/**
 * Which protocol a call came by, for its log line and its metrics: "grpc", "grpc-web" or "connect"
 * as its content type says — or "http" for a call made by the seed's HTTP API, which sets this key
 * on the calls it makes in process through the same routes and interceptors.
 */
import { type ContextValues, createContextKey } from "@connectrpc/connect";

export const callProtocolKey = createContextKey<string | undefined>(undefined, { description: "call protocol" });

/** Takes an interceptor's request (which, unlike a handler's context, does not name its protocol). */
export function callProtocol(req: { header: Headers; contextValues: ContextValues }): string {
  const named = req.contextValues.get(callProtocolKey);
  if (named !== undefined) return named;
  const contentType = req.header.get("content-type") ?? "";
  if (!contentType.startsWith("application/grpc")) return "connect";
  return contentType.startsWith("application/grpc-web") ? "grpc-web" : "grpc";
}
