// Every way a client reaches the one port: a grpc-js client that knows the service only from the
// .proto files (as a polyglot engine does), Connect JSON with plain fetch over HTTP/1.1 (POST and
// GET), gRPC-Web, the browser's Connect transport, health Check and Watch, and buf curl through
// reflection alone.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createConnectTransport } from "@connectrpc/connect-web";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflection, ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { embedded } from "../support/databases.js";
import { readmeSnippet } from "../support/readme.js";
import { type RunningServer, startServer } from "../support/server.js";

const run = promisify(execFile);

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(embedded);
});
afterAll(async () => server.stop());

describe("a grpc-js client built from the .proto files alone", () => {
  type Callback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
  type Unary = (request: object, callback: Callback) => void;
  let stub: grpc.Client & Record<string, Unary & ((request: object) => grpc.ClientReadableStream<unknown>)>;
  const call = (method: string, request: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      (stub[method] as Unary).call(stub, request, (error, response) => (error ? reject(error) : resolve(response)));
    });
  const fail = async (method: string, request: object) =>
    call(method, request).then(
      () => {
        throw new Error("expected failure");
      },
      (error: grpc.ServiceError) => error,
    );
  // google.protobuf.Struct in its wire form, as a client without JSON mapping writes it.
  const struct = (object: Record<string, string>) => ({
    fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, { stringValue: v }])),
  });

  beforeAll(() => {
    const definition = protoLoader.loadSync("isotope/session/v1/session.proto", {
      includeDirs: ["proto"],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      isotope: { session: { v1: { SessionService: grpc.ServiceClientConstructor } } };
    };
    const Service = loaded.isotope.session.v1.SessionService;
    stub = new Service(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as typeof stub;
  });
  afterAll(() => stub.close());

  it("runs a session's whole life", async () => {
    const saved = await call("Save", {
      session_id: "polyglot",
      data: { fields: { messages: { listValue: { values: [{ structValue: struct({ role: "user" }) }] } } } },
      metadata: struct({ user_id: "py" }),
    });
    expect(saved).toMatchObject({ created: true, session: { version: "1", message_count: "1" } });

    const loaded = await call("Load", { session_id: "polyglot" });
    expect(loaded.session).toMatchObject({ session_id: "polyglot", is_active: true });

    const conflict = await fail("Save", { session_id: "polyglot", data: struct({}), expected_version: 7 });
    expect(conflict.code).toBe(grpc.status.ABORTED);
    expect(conflict.details).toContain("version 1");

    await call("Save", { session_id: "brief", data: struct({}), expires_in: { seconds: 0, nanos: 1_000_000 } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await fail("Load", { session_id: "brief" })).code).toBe(grpc.status.NOT_FOUND);
    const cleanup = await call("Cleanup", {});
    expect(Number(cleanup.expired_count)).toBeGreaterThanOrEqual(1);

    const listed = await call("List", { metadata_filter: struct({ user_id: "py" }) });
    expect((listed.sessions as Array<{ session_id: string }>).map((s) => s.session_id)).toEqual(["polyglot"]);

    const stream = stub.RestoreStream({ metadata_filter: struct({ user_id: "py" }) });
    const messages: Array<{ done: boolean; sessions: unknown[] }> = [];
    for await (const message of stream) messages.push(message as (typeof messages)[number]);
    expect(messages.at(-1)?.done).toBe(true);
    expect(messages.flatMap((m) => m.sessions)).toHaveLength(1);

    expect(await call("Delete", { session_id: "polyglot" })).toMatchObject({ deleted: true, hard: false });
    expect((await fail("Load", { session_id: "polyglot" })).code).toBe(grpc.status.NOT_FOUND);
    expect(await call("Delete", { session_id: "polyglot", hard: true })).toMatchObject({ deleted: true, hard: true });
  });
});

describe("Connect JSON over HTTP/1.1 with plain fetch", () => {
  const url = (method: string) => `${server.url}/isotope.session.v1.SessionService/${method}`;

  it("saves with a POST and loads with a side-effect-free GET", async () => {
    const post = await fetch(url("Save"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_id: "curl-1", data: { messages: [{ content: "hi" }] } }),
    });
    expect(post.status).toBe(200);
    expect(await post.json()).toMatchObject({ created: true, session: { sessionId: "curl-1", version: "1" } });

    const message = encodeURIComponent(JSON.stringify({ session_id: "curl-1" }));
    const get = await fetch(`${url("Load")}?connect=v1&encoding=json&message=${message}`);
    expect(get.status).toBe(200);
    expect(await get.json()).toMatchObject({ session: { data: { messages: [{ content: "hi" }] }, messageCount: "1" } });
  });

  it("answers a missing session with HTTP 404 and code not_found", async () => {
    const response = await fetch(url("Load"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_id: "nobody" }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: "not_found" });
  });
});

describe("CORS for browser pages on another origin", () => {
  it("answers the preflight and allows a configured origin, and only that one", async () => {
    const target = `${server.url}/isotope.session.v1.SessionService/Load`;
    const preflight = await fetch(target, {
      method: "OPTIONS",
      headers: {
        origin: "https://engine.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://engine.example");
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/connect-protocol-version/i);

    const call = await fetch(target, {
      method: "POST",
      headers: { origin: "https://engine.example", "content-type": "application/json" },
      body: JSON.stringify({ session_id: "nobody" }),
    });
    expect(call.headers.get("access-control-allow-origin")).toBe("https://engine.example");
    const stranger = await fetch(target, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/json" },
      body: "{}",
    });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the README's shell lines", () => {
  it.each(["curl", "buf-curl"])(
    "%s lines run as written",
    async (name) => {
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", readmeSnippet(name, "sh")], {
        env: { ...process.env, SESSIONS: server.url },
      });
      expect(stdout.replace(/\s/g, "")).toContain('"sessionId":"s1"');
    },
    60_000,
  );
});

describe("gRPC-Web and the browser's Connect transport", () => {
  it.each([
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" })],
    ["connect-web (fetch)", () => createConnectTransport({ baseUrl: server.url })],
  ])("%s saves and loads", async (name, transport) => {
    const client = createClient(SessionService, transport());
    await client.save({ sessionId: `web-${name}`, data: { via: name } });
    expect((await client.load({ sessionId: `web-${name}` })).session?.data).toEqual({ via: name });
  });
});

describe("health", () => {
  it("reports SERVING on Check and first thing on Watch", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await health.check({ service: SessionService.typeName })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    const abort = new AbortController();
    const updates = [];
    for await (const update of health.watch({}, { signal: abort.signal })) {
      updates.push(update.status);
      break; // Watch never ends by itself: the first update is the one asserted
    }
    abort.abort();
    expect(updates).toEqual([HealthCheckResponse_ServingStatus.SERVING]);
  });
});

describe("buf curl through reflection alone", () => {
  const buf = async (...args: string[]) => {
    const { stdout } = await run("node_modules/.bin/buf", [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      ...args,
    ]);
    return stdout;
  };
  const rpc = (method: string, body: object, ...extra: string[]) =>
    buf("-d", JSON.stringify(body), ...extra, `${server.url}/isotope.session.v1.SessionService/${method}`);

  it("lists every service served", async () => {
    const services = (await buf("--list-services", server.url)).trim().split("\n").sort();
    expect(services).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "isotope.admin.v1.AdminService",
      "isotope.session.v1.SessionService",
    ]);
  });

  it("calls AdminService, the console's, by its descriptor from reflection", async () => {
    const admin = (method: string, body: object) =>
      buf("-d", JSON.stringify(body), `${server.url}/isotope.admin.v1.AdminService/${method}`).then(JSON.parse);
    expect((await admin("WhoAmI", {})).methods).toContain("isotope.session.v1.SessionService/Cleanup");
    expect(await admin("Trends", { range: "3600s" })).toMatchObject({ range: "3600s", step: "30s" });
    expect(await admin("MaintenanceStatus", {})).toHaveProperty("sampleRetention");
  });

  it("calls every SessionService RPC", async () => {
    expect(JSON.parse(await rpc("Save", { session_id: "buf-1", data: { n: 1 }, expires_in: "3600s" }))).toMatchObject({
      created: true,
    });
    expect(JSON.parse(await rpc("Load", { session_id: "buf-1" }))).toMatchObject({ session: { data: { n: 1 } } });
    expect(JSON.parse(await rpc("List", { limit: 1 })).sessions).toHaveLength(1);
    expect(JSON.parse(await rpc("Statistics", {}))).toHaveProperty("totalSessions");
    expect(JSON.parse(await rpc("Cleanup", { dry_run: true }))).toHaveProperty("duration");
    expect(JSON.parse(await rpc("Restore", {}))).toHaveProperty("restoredCount");
    const stream = (await rpc("RestoreStream", { batch_size: 1000 })).trim();
    expect(stream).toContain('"done": true');
    expect(JSON.parse(await rpc("CheckConnection", {}))).toMatchObject({ ok: true, backend: "embedded" });
    expect(JSON.parse(await rpc("Delete", { session_id: "buf-1", hard: true }))).toMatchObject({ deleted: true });
  });

  it("works with the v1alpha reflection protocol", async () => {
    const loaded = await rpc("CheckConnection", {}, "--reflect-protocol", "grpc-v1alpha");
    expect(JSON.parse(loaded)).toMatchObject({ ok: true });
  });
});

describe("reflection", () => {
  it("serves the contract with its comments, and its imports", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: server.url }));
    const requests = async function* () {
      yield create(ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "isotope.session.v1.SessionService.Save" },
      });
    };
    const responses = [];
    for await (const response of client.serverReflectionInfo(requests())) responses.push(response.messageResponse);
    // One request, one answer: the stream ends with the request stream.
    expect(responses.map((response) => response.case)).toEqual(["fileDescriptorResponse"]);
    const files =
      responses[0]?.case === "fileDescriptorResponse"
        ? responses[0].value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b))
        : [];
    expect(files.map((f) => f.name)).toContain("google/protobuf/struct.proto");
    const contract = files.find((f) => f.name === "isotope/session/v1/session.proto");
    const comments = contract?.sourceCodeInfo?.location.map((l) => l.leadingComments).join("\n");
    expect(comments).toContain("Compare-and-set");
  });
});
