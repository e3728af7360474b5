// How the HTTP API is reached and who may use it: the same endpoints over HTTP/2 and over TLS
// (HTTP/1.1 and HTTP/2 by ALPN); bearer tokens and their roles exactly as for the RPCs (the calls
// go through the same interceptors); each in-process call marked "http" and carrying the caller's
// authorization and traceparent; CORS preflight for PUT and DELETE, and a state-changing request
// from an origin CORS does not allow refused.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig, Role } from "../../src/config/load-config.js";
import { createHttpApi } from "../../src/http/api.js";
import { callProtocolKey } from "../../src/transport/call-origin.js";
import { type Certificates, makeCertificates } from "../support/certificates.js";
import { backends, embedded } from "../support/databases.js";
import { type ApiCall, type ApiRoute, apiCaller } from "../support/http-api.js";
import {
  capturingLogger,
  type RunningServer,
  startApp,
  startServer,
  tableChecksum,
  testConfig,
  testLimits,
} from "../support/server.js";

const sessions = "/api/sessions/postgres/sessions";

/** Save, load, list and delete one session through `api`. */
async function roundTrip(api: ApiCall, id: string): Promise<void> {
  const saved = await api("PUT", `${sessions}/${id}`, { body: { session_data: { via: id }, metadata: { owner: id } } });
  expect(saved.status).toBe(201);
  expect((await api("GET", `${sessions}/${id}`)).body.data).toEqual({ via: id });
  expect((await api("GET", `${sessions}?owner=${id}`)).body.count).toBe(1);
  expect((await api("GET", "/api/sessions/postgres/statistics")).status).toBe(200);
  expect((await api("DELETE", `${sessions}/${id}?hard=true`)).body).toEqual({ deleted: true, hard: true });
}

describe("over HTTP/2 and TLS", () => {
  let certs: Certificates;
  let cleartext: RunningServer;
  let tls: RunningServer;
  beforeAll(async () => {
    certs = makeCertificates();
    cleartext = await startServer(embedded);
    tls = await startServer(embedded, testLimits, 0, [], undefined, {
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
  });
  afterAll(async () => {
    await cleartext?.stop();
    await tls?.stop();
    certs?.remove();
  });

  it.each<[string, () => ApiRoute]>([
    ["HTTP/2 cleartext (prior knowledge)", () => ({ port: cleartext.port, version: "2" })],
    ["HTTP/1.1 over TLS", () => ({ port: tls.port, version: "1.1", ca: certs.ca })],
    ["HTTP/2 over TLS (ALPN h2)", () => ({ port: tls.port, version: "2", ca: certs.ca })],
  ])("%s serves every kind of endpoint", async (name, route) => {
    await roundTrip(apiCaller(route()), name.replace(/\W+/g, "-"));
  });

  it("a body over max_receive_bytes is 413 over HTTP/2 too, and the connection serves on", async () => {
    const api = apiCaller({ port: cleartext.port, version: "2" });
    const big = await api("PUT", `${sessions}/big`, { body: "x".repeat(testLimits.maxReceiveBytes + 10) });
    expect([big.status, big.body.code]).toEqual([413, "resource_exhausted"]);
    expect((await api("GET", `${sessions}/big`)).status).toBe(404);
  });
});

const tokens: Record<Role, string> = {
  read: `r-${randomBytes(18).toString("base64url")}`,
  write: `w-${randomBytes(18).toString("base64url")}`,
  admin: `a-${randomBytes(18).toString("base64url")}`,
};
const auth: AuthConfig = {
  tokens: (Object.keys(tokens) as Role[]).map((role) => ({
    name: `${role}-bot`,
    role,
    sha256: createHash("sha256").update(tokens[role]).digest("hex"),
  })),
  protectHealth: false,
  protectReflection: false,
};

describe.each(backends())("bearer tokens on the HTTP API on $name", (backend) => {
  let server: RunningServer;
  let api: ApiCall;
  beforeAll(async () => {
    server = await startServer(backend, testLimits, 0, [], undefined, { auth });
    api = apiCaller({ port: server.port, version: "1.1" });
  });
  afterAll(async () => server?.stop());

  const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  it("no token is 401 with WWW-Authenticate, a wrong one 401; the document stays open", async () => {
    for (const headers of [{}, as("not-a-token")]) {
      const answer = await api("GET", "/api/sessions/postgres/statistics", { headers });
      expect([answer.status, answer.body.code, answer.headers["www-authenticate"]]).toEqual([
        401,
        "unauthenticated",
        "Bearer",
      ]);
      expect((await api("GET", "/api/sessions/restored", { headers })).status).toBe(401);
    }
    expect((await api("GET", "/api/openapi.json")).status).toBe(200);
  });

  it("a read token reads; its save, delete and cleanup are 403 permission_denied and change nothing", async () => {
    await api("PUT", `${sessions}/owned`, { body: { session_data: { n: 1 } }, headers: as(tokens.write) });
    const before = await tableChecksum(server);
    const read = as(tokens.read);
    for (const path of [`${sessions}/owned`, sessions, "/api/sessions/postgres/statistics", "/api/sessions/restored"]) {
      expect((await api("GET", path, { headers: read })).status).toBe(200);
    }
    expect((await api("GET", "/api/sessions/postgres/connection/test", { headers: read })).status).toBe(200);
    expect((await api("POST", "/api/sessions/postgres/restore", { headers: read })).status).toBe(200);
    for (const [method, path, body] of [
      ["PUT", `${sessions}/owned`, { session_data: {} }],
      ["DELETE", `${sessions}/owned`, undefined],
      ["POST", "/api/sessions/postgres/cleanup", { hard_delete: true }],
    ] as const) {
      const refused = await api(method, path, { body, headers: read });
      expect([refused.status, refused.body.code]).toEqual([403, "permission_denied"]);
      expect(refused.body.message).toContain("read-bot");
    }
    expect(await tableChecksum(server)).toBe(before);
  });

  it("a write token saves but may not clean up; an admin token may", async () => {
    expect((await api("PUT", `${sessions}/w`, { body: { data: {} }, headers: as(tokens.write) })).status).toBe(201);
    const cleanup = "/api/sessions/postgres/cleanup?dry_run=true";
    expect((await api("POST", cleanup, { headers: as(tokens.write) })).status).toBe(403);
    expect((await api("POST", cleanup, { headers: as(tokens.admin) })).body.dry_run).toBe(true);
    // The RPC's log line names the caller, never the token.
    const line = server.logs.findLast((entry) => entry.procedure === "isotope.session.v1.SessionService/Cleanup");
    expect(line).toMatchObject({ caller: "admin-bot", code: "ok" });
    expect(JSON.stringify(server.logs)).not.toContain(tokens.admin);
  });
});

describe("what each in-process call carries", () => {
  let stopApp: () => Promise<void>;
  let url: string;
  let listener: http.Server;
  const seen: Array<{ procedure: string; protocol: string; authorization: string | null; traceparent: string | null }> =
    [];
  beforeAll(async () => {
    const { app, stop } = await startApp(embedded);
    stopApp = stop;
    const recorder: Interceptor = (next) => (req) => {
      seen.push({
        procedure: req.method.name,
        protocol: String(req.contextValues.get(callProtocolKey)),
        authorization: req.header.get("authorization"),
        traceparent: req.header.get("traceparent"),
      });
      return next(req);
    };
    const page = createHttpApi({
      rpc: { routes: app.rpc.routes, interceptors: [recorder, ...app.rpc.interceptors] },
      config: testConfig(),
      shutdownSignal: new AbortController().signal,
      log: capturingLogger([]),
    });
    listener = http.createServer(page.handler);
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    listener?.close();
    await stopApp?.();
  });

  it("is marked http and carries the caller's authorization and traceparent", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const response = await fetch(`${url}/api/sessions/postgres/statistics`, {
      headers: { authorization: "Bearer some-token", traceparent },
    });
    expect(response.status).toBe(200);
    expect(seen.at(-1)).toEqual({
      procedure: "Statistics",
      protocol: "http",
      authorization: "Bearer some-token",
      traceparent,
    });
  });
});

describe("CORS and browser origins", () => {
  let server: RunningServer;
  let api: ApiCall;
  const allowed = "https://engine.example"; // testConfig's corsOrigins
  beforeAll(async () => {
    server = await startServer(embedded);
    api = apiCaller({ port: server.port, version: "1.1" });
  });
  afterAll(async () => server?.stop());

  it.each(["PUT", "DELETE"])("a preflight for %s with JSON, a token and a trace context is allowed", async (method) => {
    const preflight = await api("OPTIONS", `${sessions}/cors`, {
      headers: {
        origin: allowed,
        "access-control-request-method": method,
        "access-control-request-headers": "content-type, authorization, traceparent",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe(allowed);
    expect(String(preflight.headers["access-control-allow-methods"]).split(", ")).toContain(method);
    expect(String(preflight.headers["access-control-allow-headers"]).toLowerCase().split(", ")).toEqual(
      expect.arrayContaining(["content-type", "authorization", "traceparent"]),
    );
  });

  it("the allowed origin saves and reads the answer; another origin may read nothing and change nothing", async () => {
    const saved = await api("PUT", `${sessions}/cors`, {
      body: { session_data: {} },
      headers: { origin: allowed, "content-type": "application/json" },
    });
    expect([saved.status, saved.headers["access-control-allow-origin"]]).toEqual([201, allowed]);

    const before = await tableChecksum(server);
    const evil = { origin: "https://evil.example" };
    for (const [method, path] of [
      ["POST", "/api/sessions/postgres/cleanup?hard_delete=true"],
      ["DELETE", `${sessions}/cors?hard=true`],
      ["PUT", `${sessions}/cors`],
    ] as const) {
      const refused = await api(method, path, { body: { session_data: {} }, headers: evil });
      expect([refused.status, refused.body.code]).toEqual([403, "permission_denied"]);
    }
    expect(await tableChecksum(server)).toBe(before);
    const read = await api("GET", `${sessions}/cors`, { headers: evil });
    expect(read.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("OPTIONS without an origin says which methods a path answers", async () => {
    const answer = await api("OPTIONS", `${sessions}/cors`);
    expect([answer.status, answer.headers.allow]).toEqual([204, "GET, PUT, DELETE"]);
  });
});
