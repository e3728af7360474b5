/**
 * Which protocol a call came by, for its log line and its metrics: "grpc", "grpc-web" or "connect"
 * as the transport read it — or "http" for a call made by the seed's HTTP API, which sets this key
 * on the calls it makes in process through the same routes and interceptors.
 */
import { type ContextValues, createContextKey } from "@connectrpc/connect";

export const callProtocolKey = createContextKey<string | undefined>(undefined, { description: "call protocol" });

export function callProtocol(req: { protocolName: string; contextValues: ContextValues }): string {
  return req.contextValues.get(callProtocolKey) ?? req.protocolName;
}
