/**
 * GET /metrics: the registry in Prometheus' text format, on the service's own port. With
 * `auth.protect_metrics` (and tokens configured) it needs `authorization: Bearer <token>` — any
 * configured token, of any role, checked as the RPCs' tokens are.
 */
import type { Registry } from "prom-client";
import type { AuthConfig } from "../config/load-config.js";
import { bearerToken, callerIdentifier } from "../rpc/interceptors/auth.js";
import type { NodeRequest, NodeResponse } from "../transport/node-handler.js";
import type { Page } from "../transport/pages.js";

export const metricsPath = "/metrics";

export function metricsPage(registry: Registry, auth: AuthConfig | undefined): Page {
  const identify = auth?.protectMetrics === true && auth.tokens.length > 0 ? callerIdentifier(auth.tokens) : undefined;
  const answer = (res: NodeResponse, status: number, headers: Record<string, string>, body: string) => {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
    res.end(body);
  };
  return {
    prefix: metricsPath,
    handler(req: NodeRequest, res: NodeResponse) {
      if ((req.url ?? "").split("?")[0] !== metricsPath) {
        answer(res, 404, {}, "not found\n");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        answer(res, 405, { allow: "GET, HEAD" }, "GET /metrics\n");
        return;
      }
      if (identify !== undefined) {
        const token = bearerToken(req.headers.authorization ?? null);
        if (token === undefined || identify(token) === undefined) {
          answer(res, 401, { "www-authenticate": 'Bearer realm="metrics"' }, "a valid bearer token is needed\n");
          return;
        }
      }
      registry.metrics().then(
        (text) => answer(res, 200, { "content-type": registry.contentType }, req.method === "HEAD" ? "" : text),
        () => answer(res, 500, {}, "the metrics could not be collected\n"),
      );
    },
  };
}
