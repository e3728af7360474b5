/**
 * The admin console as a page of the port (`/admin`, see transport/pages.ts): the static files
 * scripts/build.mjs bundles from web/admin into dist/admin — one HTML shell, one script, one
 * stylesheet, nothing fetched from elsewhere. The page itself holds no data: it calls
 * SessionService and AdminService over Connect with the operator's token, like any client.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeRequest, NodeResponse } from "../transport/node-handler.js";
import type { Page } from "../transport/pages.js";

export const adminPrefix = "/admin";

const types: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/** Only this origin's script and style; nothing may frame the page (clickjacking of its actions). */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * dist/admin, whether this module runs compiled (dist/src/admin/page.js) or from the sources
 * (src/admin/page.ts, as the tests run it): the bundle is only ever built into dist/.
 */
export function bundleDirectory(): URL {
  const up = new URL("../../", import.meta.url);
  return basename(fileURLToPath(up)) === "dist" ? new URL("admin/", up) : new URL("dist/admin/", up);
}

export function createAdminPage(directory: URL = bundleDirectory()): Page {
  let files: Map<string, Buffer> | undefined;
  const load = () => {
    files ??= new Map(Object.keys(types).map((name) => [name, readFileSync(new URL(name, directory))]));
    return files;
  };

  const serve = (req: NodeRequest, res: NodeResponse) => {
    const [path = "", search] = (req.url ?? "").split("?", 2);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return answer(res, 405, "text/plain; charset=utf-8", `${adminPrefix} answers GET and HEAD only\n`, {
        allow: "GET, HEAD",
      });
    }
    // Relative URLs in the shell resolve under /admin/.
    if (path === adminPrefix) {
      return answer(res, 308, "text/plain; charset=utf-8", "", {
        location: `${adminPrefix}/${search === undefined ? "" : `?${search}`}`,
      });
    }
    const name = path === `${adminPrefix}/` ? "index.html" : path.slice(adminPrefix.length + 1);
    const type = types[name];
    if (type === undefined) return answer(res, 404, "text/plain; charset=utf-8", `no file ${path}\n`);
    let body: Buffer;
    try {
      body = load().get(name) as Buffer;
    } catch {
      return answer(
        res,
        503,
        "text/plain; charset=utf-8",
        `the admin console is not built: \`npm run build\` writes it to ${fileURLToPath(directory)}\n`,
      );
    }
    answer(res, 200, type, req.method === "HEAD" ? undefined : body, { "content-length": String(body.length) });
  };

  return { prefix: adminPrefix, handler: serve };
}

function answer(
  res: NodeResponse,
  status: number,
  type: string,
  body: string | Buffer | undefined,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": type, ...securityHeaders, ...headers });
  if (body === undefined) res.end();
  else res.end(body);
}
