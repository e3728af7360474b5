/**
 * Which protocol a call came by, for its log line and its metrics: "grpc", "grpc-web" or "connect"
 * — or "http" for a call made by the seed's HTTP API, which sets this key on the calls it makes in
 * process through the same routes and interceptors.
 */
import { type ContextValues, createContextKey } from "@connectrpc/connect";

export const callProtocolKey = createContextKey<string | undefined>(undefined, { description: "call protocol" });

/**
 * Takes an interceptor's request. connect-es's requests do not name their protocol (its handler
 * context does): the content type tells. The transport's own invoker names it on the request
 * (`protocolName`), which spares building the header it otherwise leaves unbuilt.
 */
export function callProtocol(req: { header: Headers; contextValues: ContextValues; protocolName?: string }): string {
  const named = req.contextValues.get(callProtocolKey) ?? req.protocolName;
  if (named !== undefined) return named;
  const contentType = req.header.get("content-type") ?? "";
  if (!contentType.startsWith("application/grpc")) return "connect";
  return contentType.startsWith("application/grpc-web") ? "grpc-web" : "grpc";
}
