// Access control over real sockets: every SessionService method × every kind of caller (read,
// write and admin tokens, no token, a wrong token), through the three ways a call reaches the
// handlers — gRPC from connect-node and from grpc-js (the unary ones take the gRPC fast path), and
// Connect (HTTP/1.1 and HTTP/2) and gRPC-Web through connect-node's router. Health and reflection are open
// unless protected; tokens never reach the log; a refused Save changes nothing.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { create, type DescMethod, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflection, ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { AdminService } from "../../gen/isotope/admin/v1/admin_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { AuthConfig, Role } from "../../src/config/load-config.js";
import { allowedAdminMethods, allowedMethods } from "../../src/rpc/interceptors/auth.js";
import { backends, embedded } from "../support/databases.js";
import { type RunningServer, startServer, tableChecksum, testLimits } from "../support/server.js";

const tokens: Record<Role, string> = {
  read: `r-${randomBytes(18).toString("base64url")}`,
  write: `w-${randomBytes(18).toString("base64url")}`,
  admin: `a-${randomBytes(18).toString("base64url")}`,
};
const wrongToken = `x-${randomBytes(18).toString("base64url")}`;
const sha256 = (token: string) => createHash("sha256").update(token).digest("hex");
const authConfig = (protect = false): AuthConfig => ({
  tokens: (Object.keys(tokens) as Role[]).map((role) => ({ name: `${role}-bot`, role, sha256: sha256(tokens[role]) })),
  protectHealth: protect,
  protectReflection: protect,
});

/** The spec, written out: what each role may call. */
const expected: Record<Role, string[]> = {
  read: ["Load", "List", "Statistics", "Restore", "RestoreStream", "CheckConnection", "Watch"],
  write: [
    "Load",
    "List",
    "Statistics",
    "Restore",
    "RestoreStream",
    "CheckConnection",
    "Watch",
    "Save",
    "Append",
    "Touch",
    "Delete",
    "AcquireLease",
    "RenewLease",
    "ReleaseLease",
  ],
  admin: [
    ...["Load", "List", "Statistics", "Restore", "RestoreStream", "CheckConnection", "Watch"],
    ...["Save", "Append", "Touch", "Delete", "AcquireLease", "RenewLease", "ReleaseLease", "Cleanup"],
  ],
};

/** A request every method accepts (or refuses for a reason other than access). */
const requests: Record<string, object> = {
  Save: { sessionId: "matrix", data: { turn: 1 } },
  Load: { sessionId: "matrix" },
  List: { limit: 5 },
  Append: { sessionId: "matrix" },
  Touch: { sessionId: "matrix", expiry: { case: "neverExpire", value: true } },
  Delete: { sessionId: "nobody", allowMissing: true },
  AcquireLease: { sessionId: "matrix-lease", holder: "bot", ttl: { seconds: 60n } },
  RenewLease: { sessionId: "matrix-lease", holder: "bot", fencingToken: 1n, ttl: { seconds: 60n } },
  ReleaseLease: { sessionId: "matrix-lease", holder: "bot", fencingToken: 1n },
  Statistics: {},
  Cleanup: { dryRun: true },
  Restore: {},
  RestoreStream: { batchSize: 10 },
  CheckConnection: {},
  Watch: {},
};

type Caller = Role | "no token" | "wrong token";
const callers: Caller[] = ["read", "write", "admin", "no token", "wrong token"];
const tokenOf = (caller: Caller) =>
  caller === "no token" ? undefined : caller === "wrong token" ? wrongToken : tokens[caller];

/** "allowed" when the call reached the handler (whatever it answered), else the refusal. */
type Outcome = "allowed" | "unauthenticated" | "permission_denied";
const outcomeOf = (code: Code | undefined): Outcome =>
  code === Code.Unauthenticated ? "unauthenticated" : code === Code.PermissionDenied ? "permission_denied" : "allowed";
const expectedOutcome = (caller: Caller, method: string): Outcome =>
  caller === "no token" || caller === "wrong token"
    ? "unauthenticated"
    : expected[caller].includes(method)
      ? "allowed"
      : "permission_denied";

const bearer =
  (token: string | undefined): Interceptor =>
  (next) =>
  (req) => {
    if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };

/** Calls `method` with connect-node over `transport`; resolves with the code (undefined = OK). */
async function callConnect(transport: Transport, method: string): Promise<{ code?: Code; message?: string }> {
  const client = createClient(SessionService, transport) as unknown as Record<
    string,
    (request: object) => Promise<unknown> & AsyncIterable<unknown>
  >;
  const localName = method[0]?.toLowerCase() + method.slice(1);
  try {
    const call = client[localName] as (request: object) => unknown;
    const result = call(requests[method] as object);
    // A Watch never ends by itself: its first message (where it starts) shows it was allowed.
    if (method === "RestoreStream") for await (const _ of result as AsyncIterable<unknown>);
    else if (method === "Watch") for await (const _ of result as AsyncIterable<unknown>) break;
    else await result;
    return {};
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, message: connectError.message };
  }
}

/** Calls `method` with a grpc-js generic client; the same shape of answer. */
function callGrpcJs(client: grpc.Client, method: string, token: string | undefined) {
  const desc = SessionService.method[(method[0]?.toLowerCase() + method.slice(1)) as "load"] as DescMethod;
  const path = `/${SessionService.typeName}/${method}`;
  const serialize = (value: object) => Buffer.from(toBinary(desc.input, create(desc.input, value as never)));
  const deserialize = (bytes: Buffer) => fromBinary(desc.output, bytes);
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  const options = { deadline: Date.now() + 10_000 };
  return new Promise<{ code?: Code; message?: string }>((resolve) => {
    const settle = (error: grpc.ServiceError | null) =>
      resolve(error ? { code: error.code as number as Code, message: error.details } : {});
    if (desc.methodKind === "server_streaming") {
      const stream = client.makeServerStreamRequest(path, serialize, deserialize, requests[method] as object, metadata);
      // A Watch never ends by itself: its first message (where it starts) shows it was allowed.
      stream.on("data", () => {
        if (method !== "Watch") return;
        settle(null);
        stream.cancel();
      });
      stream.on("error", settle);
      stream.on("end", () => settle(null));
    } else {
      client.makeUnaryRequest(path, serialize, deserialize, requests[method] as object, metadata, options, settle);
    }
  });
}

const methods = SessionService.methods.map((m) => m.name);

it("classifies every SessionService method, exactly as the spec's role table says", () => {
  expect([...allowedMethods.admin].sort()).toEqual([...methods].sort());
  for (const role of Object.keys(expected) as Role[])
    expect([...allowedMethods[role]].sort()).toEqual(expected[role].sort());
});

/** AdminService (the console's reads): every role may call every method. */
const adminMethods = AdminService.methods.map((m) => m.name);

it("classifies every AdminService method: each open to every role, none to a caller without a valid token", () => {
  for (const role of Object.keys(expected) as Role[])
    expect([...allowedAdminMethods[role]].sort()).toEqual([...adminMethods].sort());
});

describe.each(backends())("access control on $name", (backend) => {
  let server: RunningServer;
  let grpcJs: grpc.Client;
  beforeAll(async () => {
    server = await startServer(backend, testLimits, 0, [], undefined, { auth: authConfig() });
    grpcJs = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    grpcJs?.close();
    await server?.stop();
  });

  const transports = {
    "gRPC via connect-node (fast path for unary)": (token: string | undefined) =>
      createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(token)] }),
    "Connect over HTTP/1.1 (connect-node router)": (token: string | undefined) =>
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [bearer(token)] }),
    "Connect over HTTP/2 (connect-node router)": (token: string | undefined) =>
      createConnectTransport({ baseUrl: server.url, httpVersion: "2", interceptors: [bearer(token)] }),
    "gRPC-Web over HTTP/1.1 (connect-node router)": (token: string | undefined) =>
      createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [bearer(token)] }),
  };

  it.each(Object.keys(transports))("every method × every caller over %s", async (name) => {
    const make = transports[name as keyof typeof transports];
    const seen: Record<string, Outcome> = {};
    const want: Record<string, Outcome> = {};
    for (const caller of callers) {
      const transport = make(tokenOf(caller));
      for (const method of methods) {
        const { code, message } = await callConnect(transport, method);
        seen[`${caller} ${method}`] = outcomeOf(code);
        want[`${caller} ${method}`] = expectedOutcome(caller, method);
        // A refusal never echoes the token back.
        for (const token of [...Object.values(tokens), wrongToken]) expect(message ?? "").not.toContain(token);
      }
    }
    expect(seen).toEqual(want);
  });

  it("every method × every caller over gRPC via grpc-js", async () => {
    const seen: Record<string, Outcome> = {};
    const want: Record<string, Outcome> = {};
    for (const caller of callers) {
      for (const method of methods) {
        const { code } = await callGrpcJs(grpcJs, method, tokenOf(caller));
        seen[`${caller} ${method}`] = outcomeOf(code);
        want[`${caller} ${method}`] = expectedOutcome(caller, method);
      }
    }
    expect(seen).toEqual(want);
  });

  it("every AdminService method × every caller over gRPC and Connect", async () => {
    const seen: Record<string, Outcome> = {};
    const want: Record<string, Outcome> = {};
    for (const name of ["gRPC via connect-node (fast path for unary)", "Connect over HTTP/1.1 (connect-node router)"]) {
      for (const caller of callers) {
        const client = createClient(AdminService, transports[name as keyof typeof transports](tokenOf(caller)));
        for (const method of AdminService.methods) {
          const call = client[method.localName as "whoAmI"] as (request: object) => Promise<unknown>;
          const code = await call({}).then(
            () => undefined,
            (error: unknown) => ConnectError.from(error).code,
          );
          seen[`${name} ${caller} ${method.name}`] = outcomeOf(code);
          want[`${name} ${caller} ${method.name}`] =
            caller === "no token" || caller === "wrong token" ? "unauthenticated" : "allowed";
        }
      }
    }
    expect(seen).toEqual(want);
  });

  it("says what is wrong without saying the token", async () => {
    const none = await callConnect(transports["gRPC via connect-node (fast path for unary)"](undefined), "Load");
    expect(none).toMatchObject({ code: Code.Unauthenticated, message: expect.stringContaining("Bearer") });
    const wrong = await callGrpcJs(grpcJs, "Load", wrongToken);
    expect(wrong).toEqual({ code: Code.Unauthenticated, message: "the bearer token is not valid" });
    const denied = await callGrpcJs(grpcJs, "Cleanup", tokens.write);
    expect(denied).toEqual({
      code: Code.PermissionDenied,
      message: 'token "write-bot" (role write) may not call isotope.session.v1.SessionService.Cleanup',
    });
  });

  it("a refused Save leaves the table as it was, on every path", async () => {
    await callGrpcJs(grpcJs, "Save", tokens.write);
    const before = await tableChecksum(server);
    expect(before).not.toBe("empty");
    const save = { sessionId: "matrix", data: { overwritten: true } };
    for (const token of [tokens.read, wrongToken, undefined]) {
      for (const make of Object.values(transports)) {
        const client = createClient(SessionService, make(token));
        await expect(client.save(save)).rejects.toThrow(ConnectError);
      }
      const metadata = new grpc.Metadata();
      if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
      expect((await callGrpcJs(grpcJs, "Save", token)).code).toBeOneOf([Code.Unauthenticated, Code.PermissionDenied]);
    }
    expect(await tableChecksum(server)).toBe(before);
  });

  it("logs each refusal with its code and each accepted call with the token's name, never a token", async () => {
    await callGrpcJs(grpcJs, "Statistics", tokens.read);
    await callGrpcJs(grpcJs, "Statistics", wrongToken);
    const rpcLines = server.logs.filter((line) => line.msg === "rpc");
    expect(rpcLines).toContainEqual(
      expect.objectContaining({ procedure: "isotope.session.v1.SessionService/Statistics", caller: "read-bot" }),
    );
    expect(rpcLines).toContainEqual(expect.objectContaining({ code: "unauthenticated" }));
    expect(rpcLines).toContainEqual(expect.objectContaining({ code: "permission_denied", caller: "read-bot" }));
    const everything = JSON.stringify(server.logs);
    for (const token of [...Object.values(tokens), wrongToken]) expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/"authorization"/i);
  });
});

// Health and reflection do not touch the repository: one backend is enough for them.
describe("health and reflection", () => {
  const check = (server: RunningServer, token?: string) =>
    createClient(Health, createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(token)] }))
      .check({})
      .then(
        (response) => response.status,
        (error: unknown) => ConnectError.from(error).code,
      );
  const listServices = async (server: RunningServer, token?: string) => {
    const client = createClient(
      ServerReflection,
      createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(token)] }),
    );
    const requests = async function* () {
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    };
    try {
      for await (const response of client.serverReflectionInfo(requests())) {
        if (response.messageResponse.case === "listServicesResponse")
          return response.messageResponse.value.service.map((s) => s.name);
      }
      return [];
    } catch (error) {
      return ConnectError.from(error).code;
    }
  };

  describe("by default", () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(embedded, testLimits, 0, [], undefined, { auth: authConfig(false) });
    });
    afterAll(async () => server?.stop());

    it("are open to callers without a token, while SessionService is not", async () => {
      expect(await check(server)).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect(await listServices(server)).toEqual(
        expect.arrayContaining([SessionService.typeName, AdminService.typeName]),
      );
      const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
      await expect(sessions.checkConnection({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    });
  });

  describe("with protect_health and protect_reflection", () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(embedded, testLimits, 0, [], undefined, { auth: authConfig(true) });
    });
    afterAll(async () => server?.stop());

    it("need a valid token, of any role", async () => {
      expect(await check(server)).toBe(Code.Unauthenticated);
      expect(await check(server, wrongToken)).toBe(Code.Unauthenticated);
      expect(await check(server, tokens.read)).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect(await listServices(server)).toBe(Code.Unauthenticated);
      expect(await listServices(server, tokens.read)).toContain(Health.typeName);
    });

    it("let the container health check in with ISOTOPE_HEALTHCHECK_TOKEN", async () => {
      const healthcheck = (env: Record<string, string>) =>
        promisify(execFile)(process.execPath, ["scripts/healthcheck.mjs"], {
          env: { ...process.env, PORT: String(server.port), ...env },
        }).then(
          () => 0,
          (error: { code?: number }) => error.code ?? -1,
        );
      expect(await healthcheck({})).toBe(1);
      expect(await healthcheck({ ISOTOPE_HEALTHCHECK_TOKEN: tokens.read })).toBe(0);
    });
  });
});
