// TLS and mutual TLS on the one port, with certificates openssl makes for the run: grpc-js and
// connect-node (gRPC, which takes the fast path for unary calls, and Connect over HTTP/1.1) reach
// SessionService, health and reflection; under mutual TLS a client without a certificate, or with
// one from another CA, is refused in the handshake and no RPC runs. Then the real process, started
// with the TLS and token settings from the environment.
//
// One backend (PGlite) only: TLS sits below the interceptors and the repository, which
// test/security.test.ts and the other suites cover on every backend.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflection, ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { createSessionClient } from "../../packages/client/src/index.js";
import { ConfigError } from "../../src/config/load-config.js";
import { createTlsListener, readTlsMaterial } from "../../src/transport/tls.js";
import { type Certificates, makeCertificates } from "../support/certificates.js";
import { embedded } from "../support/databases.js";
import { silentConnectionLifetime } from "../support/ports.js";
import { type RunningServer, startServer, testLimits } from "../support/server.js";
import { serviceMain, startService, stop } from "../support/service.js";

let certs: Certificates;
beforeAll(() => {
  certs = makeCertificates();
});
afterAll(() => certs?.remove());

/** grpc.health.v1.Health/Check through a grpc-js generic client: the status, or the error code. */
function grpcJsHealth(port: number, credentials: grpc.ChannelCredentials): Promise<number | string> {
  const client = new grpc.Client(`127.0.0.1:${port}`, credentials);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      () => Buffer.alloc(0),
      (bytes: Buffer) => bytes,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error, response) => {
        client.close();
        // HealthCheckResponse { status: SERVING } is 08 01 on the wire.
        resolve(error ? `error ${grpc.status[error.code]}` : response?.toString("hex") === "0801" ? "SERVING" : "?");
      },
    );
  });
}

/** Load through a grpc-js generic client (unary gRPC: the fast path): "ok", "not_found" or the error. */
function grpcJsLoad(port: number, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new grpc.Client(`127.0.0.1:${port}`, credentials);
  // LoadRequest { session_id: "nobody" }: field 1, length-delimited.
  const request = Buffer.concat([Buffer.from([0x0a, 6]), Buffer.from("nobody")]);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/isotope.session.v1.SessionService/Load",
      () => request,
      (bytes: Buffer) => bytes,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error) => {
        client.close();
        resolve(error ? grpc.status[error.code].toLowerCase() : "ok");
      },
    );
  });
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => "succeeded",
    (error: unknown) => ConnectError.from(error).code,
  );
// connect-node reports a failed handshake as INTERNAL or UNAVAILABLE, depending on the HTTP
// version and the moment it fails (the server may refuse after the client thinks it is done).
const handshakeFailed = [Code.Internal, Code.Unavailable];

/** The container health check (scripts/healthcheck.mjs) against `port`: its exit code. */
const healthcheck = (port: number, env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ["scripts/healthcheck.mjs"], {
    env: { ...process.env, PORT: String(port), ...env },
  }).then(
    () => 0,
    (error: { code?: number }) => error.code ?? -1,
  );

const rpcLines = (server: RunningServer) => server.logs.filter((line) => line.msg === "rpc").length;

describe("TLS with a certificate and key", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(embedded, testLimits, 0, [], undefined, {
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
  });
  afterAll(async () => server?.stop());

  it("serves gRPC to grpc-js: SessionService (fast path) and health", async () => {
    const credentials = grpc.credentials.createSsl(certs.ca);
    expect(await grpcJsHealth(server.port, credentials)).toBe("SERVING");
    expect(await grpcJsLoad(server.port, credentials)).toBe("not_found");
  });

  it.each(["grpc", "connect", "grpc-web"] as const)("serves the session client over %s", async (protocol) => {
    expect(server.url).toMatch(/^https:/);
    const client = createSessionClient({ baseUrl: server.url, protocol, tls: { ca: certs.ca }, timeoutMs: 5000 });
    await client.save({ sessionId: `tls-${protocol}`, data: { over: protocol } });
    expect((await client.load({ sessionId: `tls-${protocol}` })).session?.data).toEqual({ over: protocol });
    // RestoreStream goes through connect-node's router rather than the fast path.
    let done = false;
    for await (const message of client.restoreStream({})) done ||= message.done;
    expect(done).toBe(true);
  });

  it("serves health and reflection to connect-node", async () => {
    const transport = createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca: certs.ca } });
    expect((await createClient(Health, transport).check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const requests = async function* () {
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    };
    const services = [];
    for await (const response of createClient(ServerReflection, transport).serverReflectionInfo(requests())) {
      services.push(response.messageResponse.case === "listServicesResponse" ? response.messageResponse.value : null);
    }
    // One request, one answer, naming the contract's service.
    expect(services).toHaveLength(1);
    expect(services[0]?.service.map((s) => s.name)).toContain("isotope.session.v1.SessionService");
  });

  it("is refused by a client that does not trust the CA, and refuses cleartext", async () => {
    expect(await grpcJsHealth(server.port, grpc.credentials.createSsl())).toBe("error UNAVAILABLE");
    expect(await grpcJsHealth(server.port, grpc.credentials.createInsecure())).toBe("error UNAVAILABLE");
    const untrusting = createSessionClient({ baseUrl: server.url, retry: false, timeoutMs: 5000 });
    expect(await failure(untrusting.checkConnection({}))).toBeOneOf(handshakeFailed);
  });
});

describe("a TLS port", () => {
  it("drops a connection that never completes its handshake", async () => {
    const listener = createTlsListener(
      () => {},
      { cert: certs.serverCert, key: certs.serverKey },
      {
        handshakeTimeoutMs: 200,
      },
    );
    expect(await silentConnectionLifetime(listener.net)).toBeGreaterThanOrEqual(150);
  });
});

describe("shutdown over TLS", () => {
  it("closes connections that HTTP/2 and HTTP/1.1 clients hold open, within the grace period", async () => {
    const server = await startServer(embedded, testLimits, 0, [], undefined, {
      tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca },
    });
    const grpcJs = grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert);
    const held = new grpc.Client(`127.0.0.1:${server.port}`, grpcJs);
    const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    const clients = (["grpc", "connect"] as const).map((protocol) =>
      createSessionClient({ baseUrl: server.url, protocol, tls, retry: false, timeoutMs: 5000 }),
    );
    try {
      expect(await grpcJsHealth(server.port, grpcJs)).toBe("SERVING");
      await new Promise<void>((resolve, reject) =>
        held.waitForReady(Date.now() + 5000, (error) => (error ? reject(error) : resolve())),
      );
      for (const client of clients) await client.checkConnection({});
      // Every connection is idle and open now: close() must not wait for the clients to leave.
      const started = performance.now();
      await server.stop();
      // ~300 ms here; stop() gives in-flight RPCs 2 s, and none is in flight.
      expect(performance.now() - started).toBeLessThan(2000);
      // And the port is closed: nothing to connect to (reported like a failed handshake).
      expect(await failure(clients[0]?.checkConnection({}) ?? Promise.resolve())).toBeOneOf(handshakeFailed);
    } finally {
      held.close();
    }
  });
});

describe("mutual TLS with a client CA", () => {
  let server: RunningServer;
  const token = "mtls-and-a-token";
  beforeAll(async () => {
    server = await startServer(embedded, testLimits, 0, [], undefined, {
      tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca },
      // Both layers at once: the certificate gets the connection, the token the method.
      auth: {
        tokens: [{ name: "engine", role: "write", sha256: createHash("sha256").update(token).digest("hex") }],
        protectHealth: false,
        protectReflection: false,
      },
    });
  });
  afterAll(async () => server?.stop());

  it("refuses a grpc-js client without a certificate, or with one from another CA, before any RPC", async () => {
    const before = rpcLines(server);
    expect(await grpcJsHealth(server.port, grpc.credentials.createSsl(certs.ca))).toBe("error UNAVAILABLE");
    const stranger = grpc.credentials.createSsl(certs.ca, certs.strangerKey, certs.strangerCert);
    expect(await grpcJsLoad(server.port, stranger)).toBe("unavailable");
    expect(rpcLines(server)).toBe(before);
  });

  it("refuses a connect-node client without a certificate, over HTTP/2 and HTTP/1.1", async () => {
    const before = rpcLines(server);
    for (const protocol of ["grpc", "connect"] as const) {
      const client = createSessionClient({ baseUrl: server.url, protocol, token, tls: { ca: certs.ca }, retry: false });
      expect(await failure(client.checkConnection({}))).toBeOneOf(handshakeFailed);
    }
    const health = createClient(
      Health,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { ca: certs.ca } }),
    );
    expect(await failure(health.check({}))).toBeOneOf(handshakeFailed);
    expect(rpcLines(server)).toBe(before);
  });

  it("serves a client with the right certificate, with grpc-js and connect-node", async () => {
    const credentials = grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert);
    expect(await grpcJsHealth(server.port, credentials)).toBe("SERVING");
    // The certificate alone is not a token: SessionService still wants one.
    expect(await grpcJsLoad(server.port, credentials)).toBe("unauthenticated");
    for (const protocol of ["grpc", "connect"] as const) {
      const client = createSessionClient({
        baseUrl: server.url,
        protocol,
        token,
        tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      });
      await client.save({ sessionId: `mtls-${protocol}`, data: { ok: true } });
      expect((await client.load({ sessionId: `mtls-${protocol}` })).session?.data).toEqual({ ok: true });
    }
  });

  it("lets the container health check in with the client certificate it is given, and only then", async () => {
    const tls = { ISOTOPE_TLS_CERT_FILE: certs.paths.serverCert };
    expect(await healthcheck(server.port, tls)).toBe(1);
    const client = {
      ISOTOPE_HEALTHCHECK_CERT_FILE: certs.paths.clientCert,
      ISOTOPE_HEALTHCHECK_KEY_FILE: certs.paths.clientKey,
    };
    expect(await healthcheck(server.port, { ...tls, ...client })).toBe(0);
  });
});

describe("the TLS settings", () => {
  it("name the setting whose file cannot be read", () => {
    let error: unknown;
    try {
      readTlsMaterial({ certFile: "/nonexistent/cert.pem", keyFile: certs.paths.ca, clientCaFile: "/nonexistent/ca" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "tls.cert_file: cannot read /nonexistent/cert.pem (ENOENT)",
      "tls.client_ca_file: cannot read /nonexistent/ca (ENOENT)",
    ]);
  });

  it("name the setting whose file is not what it should be", () => {
    const problems = (config: Parameters<typeof readTlsMaterial>[0]) => {
      try {
        readTlsMaterial(config);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    const { paths } = certs;
    expect(problems({ certFile: paths.serverCert, keyFile: paths.serverKey, clientCaFile: paths.ca })).toEqual([]);
    expect(problems({ certFile: paths.serverCert, keyFile: paths.clientKey, clientCaFile: undefined })).toEqual([
      "tls.key_file: not the private key of the certificate in tls.cert_file",
    ]);
    expect(problems({ certFile: paths.serverKey, keyFile: paths.serverCert, clientCaFile: paths.clientKey })).toEqual([
      "tls.cert_file: not a PEM certificate",
      "tls.key_file: not a PEM private key",
      "tls.client_ca_file: not a PEM certificate",
    ]);
  });

  it("stop the real process at start, exit code 2, when the key is not the certificate's", {
    timeout: 60_000,
  }, async () => {
    const child = spawn(process.execPath, [serviceMain, "--data-dir", `${certs.dir}/never`], {
      env: {
        ...process.env,
        ISOTOPE_TLS_CERT_FILE: certs.paths.serverCert,
        ISOTOPE_TLS_KEY_FILE: certs.paths.clientKey,
      },
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(2);
    expect(stderr).toContain("tls.key_file: not the private key of the certificate in tls.cert_file");
  });

  it("start the real process with TLS and tokens from the environment", { timeout: 60_000 }, async () => {
    const token = "process-level-token";
    const service = await startService(["--data-dir", `${certs.dir}/data`], {
      ISOTOPE_TLS_CERT_FILE: certs.paths.serverCert,
      ISOTOPE_TLS_KEY_FILE: certs.paths.serverKey,
      ISOTOPE_AUTH_TOKENS: `ops:admin:${createHash("sha256").update(token).digest("hex")}`,
    });
    try {
      const lines = service.lines();
      expect(lines).toContainEqual(expect.objectContaining({ msg: "TLS on", tls: "on" }));
      expect(lines).toContainEqual(
        expect.objectContaining({
          msg: "access control on: bearer tokens required",
          tokens: [{ name: "ops", role: "admin" }],
        }),
      );
      const baseUrl = `https://127.0.0.1:${service.port}`;
      const client = createSessionClient({ baseUrl, token, tls: { ca: certs.ca } });
      expect((await client.cleanup({ dryRun: true })).expiredCount).toBe(0n);
      const anonymous = createSessionClient({ baseUrl, tls: { ca: certs.ca }, retry: false });
      expect(await failure(anonymous.statistics({}))).toBe(Code.Unauthenticated);
      // The container health check finds TLS in the same environment the service was given.
      expect(await healthcheck(service.port, { ISOTOPE_TLS_CERT_FILE: certs.paths.serverCert })).toBe(0);
      expect(await healthcheck(service.port, {})).toBe(1);
    } finally {
      expect(await stop(service)).toBe(0);
    }
    expect(service.output()).not.toContain(token);
  });
});
