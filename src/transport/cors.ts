/**
 * CORS for browser callers (Connect and gRPC-Web from a page on another origin). Off unless
 * origins are configured; "*" allows any origin. Preflights are answered here; other requests
 * get the allow/expose headers and go on to the Connect handler.
 */
import { cors } from "@connectrpc/connect";
import type { NodeHandler } from "./node-handler.js";

export function withCors(allowedOrigins: readonly string[], next: NodeHandler): NodeHandler {
  if (allowedOrigins.length === 0) return next;
  const any = allowedOrigins.includes("*");
  const allowed = new Set(allowedOrigins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && (any || allowed.has(origin))) {
      res.setHeader("access-control-allow-origin", any ? "*" : origin);
      res.setHeader("vary", "Origin");
      res.setHeader("access-control-expose-headers", cors.exposedHeaders.join(", "));
      if (req.method === "OPTIONS") {
        // PUT and DELETE: the HTTP API's (src/http); Connect itself needs only POST and GET.
        res.setHeader("access-control-allow-methods", [...cors.allowedMethods, "PUT", "DELETE"].join(", "));
        // W3C trace context too: a page may carry its trace into this service's log lines.
        res.setHeader(
          "access-control-allow-headers",
          [...cors.allowedHeaders, "Authorization", "Traceparent", "Tracestate", "Idempotency-Key"].join(", "),
        );
        res.setHeader("access-control-max-age", "7200");
        res.writeHead(204);
        res.end();
        return;
      }
    }
    next(req, res);
  };
}
