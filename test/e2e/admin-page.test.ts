// /admin as a page of the one port: the built console's files over HTTP/1.1 and HTTP/2, cleartext
// and TLS, with a Content-Security-Policy that allows this origin's script and nothing else; /admin
// redirects to /admin/; unknown files are 404 and other methods 405. And the console itself in
// Chromium over TLS, where it speaks HTTP/2 (ALPN) to the service. The page serves files and calls
// no database, so one backend (PGlite) is enough here; admin-console.test.ts covers both.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Certificates, makeCertificates } from "../support/certificates.js";
import { consoleTokens, launchChromium } from "../support/console.js";
import { embedded } from "../support/databases.js";
import { type RunningServer, startServer, testLimits } from "../support/server.js";
import { rawRequest } from "../support/transport.js";

const built = (name: string) => readFileSync(fileURLToPath(new URL(`../../dist/admin/${name}`, import.meta.url)));
const { tokens, auth } = consoleTokens();

describe("the /admin page", () => {
  let certs: Certificates;
  let cleartext: RunningServer;
  let tls: RunningServer;
  let browser: Browser;
  beforeAll(async () => {
    certs = makeCertificates();
    cleartext = await startServer(embedded, testLimits, 0, [], undefined, { auth });
    tls = await startServer(embedded, testLimits, 0, [], undefined, {
      auth,
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await cleartext?.stop();
    await tls?.stop();
    certs?.remove();
  });

  const routes = () =>
    [
      ["HTTP/1.1", cleartext.port, "1.1", undefined],
      ["HTTP/2 (prior knowledge)", cleartext.port, "2", undefined],
      ["HTTP/1.1 over TLS", tls.port, "1.1", certs.ca],
      ["HTTP/2 over TLS (ALPN h2)", tls.port, "2", certs.ca],
    ] as const;

  it("serves the shell, its script and its stylesheet the same way on every protocol, with no token needed", async () => {
    for (const [name, port, version, ca] of routes()) {
      const get = (path: string, method = "GET") => rawRequest(port, version, { method, path }, ca);
      const shell = await get("/admin/");
      expect({ name, status: shell.status, type: shell.headers["content-type"] }).toEqual({
        name,
        status: 200,
        type: "text/html; charset=utf-8",
      });
      expect(shell.body).toEqual(built("index.html"));
      expect(shell.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(shell.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(shell.headers["x-content-type-options"]).toBe("nosniff");

      const script = await get("/admin/app.js");
      expect([script.status, script.headers["content-type"]]).toEqual([200, "text/javascript; charset=utf-8"]);
      expect(script.body).toEqual(built("app.js"));
      expect((await get("/admin/app.css")).headers["content-type"]).toBe("text/css; charset=utf-8");

      const bare = await get("/admin?x=1");
      expect([bare.status, bare.headers.location]).toEqual([308, "/admin/?x=1"]);
      expect((await get("/admin/secrets.txt")).status).toBe(404);
      expect((await get("/admin/../package.json")).status).toBe(404);
      const posted = await get("/admin/", "POST");
      expect([posted.status, posted.headers.allow]).toEqual([405, "GET, HEAD"]);
      const head = await get("/admin/app.js", "HEAD");
      expect([head.status, head.body.length, head.headers["content-length"]]).toEqual([
        200,
        0,
        String(built("app.js").length),
      ]);
    }
  });

  it("works in Chromium over TLS, calling the service over HTTP/2", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${tls.url.replace("127.0.0.1", "localhost")}/admin/`);
    await page.getByLabel("Bearer token").fill(tokens.write);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator('[data-item="Database"]').textContent()).toContain("reachable");
    const used = await page.evaluate(
      "performance.getEntriesByType('resource').filter((e) => e.name.includes('Service/')).map((e) => e.nextHopProtocol)",
    );
    expect(new Set(used as string[])).toEqual(new Set(["h2"]));
    await context.close();
  });
});
