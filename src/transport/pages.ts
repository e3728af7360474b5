/**
 * What the port serves beside the RPCs — the seed's HTTP API, /metrics, later the console: each a
 * NodeHandler under a path prefix, tried in order for a path no service serves. A path none of
 * them takes is the transport's `unknownRoute` (UNIMPLEMENTED for gRPC callers, 404 otherwise).
 */
import type { NodeHandler } from "./node-handler.js";

/** A handler for every path equal to `prefix` or under it (`prefix` + "/" or "?"). */
export interface Page {
  prefix: string;
  handler: NodeHandler;
}

export function createPages(pages: readonly Page[], notFound: NodeHandler): NodeHandler {
  return (req, res) => {
    const path = req.url ?? "";
    for (const { prefix, handler } of pages) {
      const next = path.charAt(prefix.length);
      if (path.startsWith(prefix) && (next === "" || next === "/" || next === "?")) {
        handler(req, res);
        return;
      }
    }
    notFound(req, res);
  };
}
