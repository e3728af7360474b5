// The published client as its users call it, against a real server on a real socket.

import { createHash } from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCertificates } from "../../../test/support/certificates.js";
import { embedded } from "../../../test/support/databases.js";
import { freePort } from "../../../test/support/ports.js";
import { type RunningServer, startServer, testLimits } from "../../../test/support/server.js";
import { createSessionClient, restoreAll, toSessionData } from "../src/index.js";

describe("toSessionData", () => {
  it("keeps what JSON can hold and converts what it cannot, reporting every loss", () => {
    class Message {
      constructor(readonly content: string) {}
      toJSON() {
        return { type: "human", content: this.content };
      }
    }
    const state: Record<string, unknown> = {
      messages: [new Message("hi"), { role: "ai", callback: () => 1 }],
      when: new Date("2024-01-02T03:04:05.000Z"),
      big: 12345678901234567890n,
      tags: new Set(["a", "b"]),
      index: new Map([["k", 1]]),
      bytes: new Uint8Array([1, 2, 3]),
      missing: undefined,
      sym: Symbol("x"),
      nan: Number.NaN,
      nul: "a\u0000b",
    };
    state.self = state;
    const { data, dropped } = toSessionData(state);
    expect(data).toEqual({
      messages: [{ type: "human", content: "hi" }, { role: "ai" }],
      when: "2024-01-02T03:04:05.000Z",
      big: "12345678901234567890",
      tags: ["a", "b"],
      index: { k: 1 },
      bytes: "AQID",
      nul: "ab",
    });
    expect(dropped.map((d) => d.path).sort()).toEqual([
      "data.messages[1].callback",
      "data.nan",
      "data.nul",
      "data.self",
      "data.sym",
    ]);
    expect(dropped.find((d) => d.path === "data.self")?.reason).toBe("circular reference");
  });

  it("skips a value over the size budget and keeps the rest", () => {
    const { data, dropped } = toSessionData(
      { small: { a: 1 }, memory: { blob: "x".repeat(5000) } },
      { maxValueBytes: 1000 },
    );
    expect(data).toEqual({ small: { a: 1 }, memory: {} });
    expect(dropped.map((d) => d.path)).toEqual(["data.memory.blob"]);
  });
});

describe("createSessionClient against a live server", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(embedded);
  });
  afterAll(async () => server.stop());

  it.each(["grpc", "connect", "grpc-web"] as const)("saves and loads over %s", async (protocol) => {
    const client = createSessionClient({ baseUrl: server.url, protocol, timeoutMs: 5000 });
    const { data } = toSessionData({ messages: [{ content: protocol }], at: new Date(0) });
    await client.save({ sessionId: `c-${protocol}`, data });
    expect((await client.load({ sessionId: `c-${protocol}` })).session?.data).toEqual(data);
  });

  it("restores every session into a Map, reporting progress", async () => {
    const client = createSessionClient({ baseUrl: server.url });
    for (let i = 0; i < 7; i++) await client.save({ sessionId: `r-${i}`, data: { i }, metadata: { app: "restore" } });
    const progress: number[] = [];
    const { sessions, failures } = await restoreAll(client, {
      filter: { app: "restore" },
      batchSize: 2,
      onProgress: (p) => progress.push(p.restored),
    });
    expect([...sessions.keys()].sort()).toEqual(["r-0", "r-1", "r-2", "r-3", "r-4", "r-5", "r-6"]);
    expect(sessions.get("r-3")?.data).toEqual({ i: 3 });
    expect(failures).toEqual([]);
    expect(progress).toEqual([2, 4, 6, 7, 7]);
  });
});

describe("restoreAll when the connection breaks", () => {
  it("resumes after the last session received and still returns every session once", async () => {
    const server = await startServer(embedded);
    // A real TCP hop between client and server that can be cut mid-stream.
    const sockets = new Set<net.Socket>();
    let connections = 0;
    const proxy = net.createServer((inbound) => {
      connections++;
      const outbound = net.connect(server.port, "127.0.0.1");
      inbound.pipe(outbound).pipe(inbound);
      for (const socket of [inbound, outbound]) {
        sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => sockets.delete(socket));
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const direct = createSessionClient({ baseUrl: server.url });
      // More than HTTP/2's flow-control window, so the stream is still flowing when it is cut.
      const ids = Array.from({ length: 120 }, (_, i) => `cut-${String(i).padStart(3, "0")}`);
      for (const id of ids)
        await direct.save({ sessionId: id, data: { pad: "x".repeat(4096) }, metadata: { app: "cut" } });
      const { port } = proxy.address() as net.AddressInfo;
      const client = createSessionClient({ baseUrl: `http://127.0.0.1:${port}` });
      let cut = false;
      const { sessions } = await restoreAll(client, {
        filter: { app: "cut" },
        batchSize: 1,
        onProgress: ({ restored }) => {
          if (restored === 2 && !cut) {
            cut = true;
            for (const socket of sockets) socket.destroy();
          }
        },
      });
      expect(cut).toBe(true);
      expect(connections).toBeGreaterThanOrEqual(2);
      expect([...sessions.keys()].sort()).toEqual(ids);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await server.stop();
    }
  });
});

describe("retries", () => {
  it("retries a side-effect-free call on UNAVAILABLE until the server is up", async () => {
    const port = await freePort();
    const retries: number[] = [];
    const client = createSessionClient({
      baseUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 20_000,
      retry: { maxAttempts: 30, initialBackoffMs: 100, maxBackoffMs: 400, onRetry: (r) => retries.push(r.attempt) },
    });
    const pending = client.checkConnection({});
    await new Promise((resolve) => setTimeout(resolve, 300));
    const server = await startServer(embedded, undefined, port);
    try {
      expect((await pending).ok).toBe(true);
      expect(retries.length).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });

  it("retries every write, keyed with the same request_id on every attempt", async () => {
    const port = await freePort();
    const sent: string[] = [];
    const client = createSessionClient({
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { maxAttempts: 2, initialBackoffMs: 1 },
      interceptors: [
        (next) => (req) => {
          if (!req.stream)
            sent.push(`${req.method.name} ${(req.message as unknown as { requestId: string }).requestId}`);
          return next(req);
        },
      ],
    });
    await client.save({ sessionId: "x", data: {} }).catch(() => undefined);
    await client.append({ sessionId: "x" }).catch(() => undefined);
    await client.touch({ sessionId: "x", expiry: { case: "neverExpire", value: true } }).catch(() => undefined);
    await client.delete({ sessionId: "x", requestId: "mine" }).catch(() => undefined);
    expect(sent).toHaveLength(8);
    const keys = sent.map((line) => line.split(" ")[1]);
    for (let i = 0; i < 8; i += 2) expect(keys[i]).toBe(keys[i + 1]);
    expect(new Set(keys).size).toBe(4);
    expect(keys[6]).toBe("mine");
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("without request ids, never retries a blind Save or Append, but does a compare-and-set and a Touch", async () => {
    const port = await freePort();
    const retried: string[] = [];
    const client = createSessionClient({
      baseUrl: `http://127.0.0.1:${port}`,
      requestIds: false,
      retry: { maxAttempts: 2, initialBackoffMs: 1, onRetry: (r) => retried.push(r.procedure.split("/")[1] ?? "") },
    });
    const blind = await client.save({ sessionId: "x", data: {} }).catch((e: unknown) => ConnectError.from(e));
    expect((blind as ConnectError).code).toBe(Code.Unavailable);
    await client.append({ sessionId: "x" }).catch(() => undefined);
    expect(retried).toEqual([]);
    await client.save({ sessionId: "x", data: {}, expectedVersion: 0n }).catch(() => undefined);
    await client.append({ sessionId: "x", expectedVersion: 3n }).catch(() => undefined);
    await client.touch({ sessionId: "x", expiry: { case: "neverExpire", value: true } }).catch(() => undefined);
    expect(retried).toEqual(["Save", "Append", "Touch"]);
  });

  it("applies a blind Append once when its first reply is lost and the client retries", async () => {
    const server = await startServer(embedded);
    try {
      let lost = 0;
      const client = createSessionClient({
        baseUrl: server.url,
        retry: { maxAttempts: 3, initialBackoffMs: 1 },
        interceptors: [
          // The call reaches the server and is applied; the reply is lost on the way back.
          (next) => async (req) => {
            const res = await next(req);
            if (req.method.name === "Append" && lost++ === 0) throw new ConnectError("reply lost", Code.Unavailable);
            return res;
          },
        ],
      });
      await client.save({ sessionId: "turns", data: { messages: [{ role: "user", content: "hi" }] } });
      const answer = await client.append({ sessionId: "turns", messages: [{ role: "assistant", content: "hello" }] });
      expect(lost).toBe(2);
      expect(answer).toMatchObject({ version: 2n, messageCount: 2n });
      const { session } = await client.load({ sessionId: "turns" });
      expect(session?.data?.messages).toEqual([
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
      ]);
      expect(session?.version).toBe(2n);
    } finally {
      await server.stop();
    }
  });
});

describe("the bearer token", () => {
  it("is sent on every call", async () => {
    const seen: Array<string | undefined> = [];
    const server = http2.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/grpc" });
      res.addTrailers({ "grpc-status": "12", "grpc-message": "unimplemented" });
      res.end();
    });
    const sessions: http2.ServerHttp2Session[] = [];
    server.on("session", (session) => sessions.push(session));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const client = createSessionClient({ baseUrl: `http://127.0.0.1:${port}`, token: "t0k3n" });
    await client.load({ sessionId: "a" }).catch(() => undefined);
    await client.statistics({}).catch(() => undefined);
    expect(seen).toEqual(["Bearer t0k3n", "Bearer t0k3n"]);
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("the tls option", () => {
  it("trusts the given CA and presents a client certificate to a mutual-TLS server", async () => {
    const certs = makeCertificates();
    const token = "client-package-token";
    const server = await startServer(embedded, testLimits, 0, [], undefined, {
      tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca },
      auth: {
        tokens: [{ name: "pkg", role: "read", sha256: createHash("sha256").update(token).digest("hex") }],
        protectHealth: false,
        protectReflection: false,
      },
    });
    try {
      const tls = { ca: certs.ca.toString(), cert: certs.clientCert.toString(), key: certs.clientKey.toString() };
      for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
        const client = createSessionClient({ baseUrl: server.url, protocol, token, tls });
        expect((await client.checkConnection({})).ok).toBe(true);
      }
      const noCertificate = createSessionClient({ baseUrl: server.url, token, tls: { ca: certs.ca }, retry: false });
      await expect(noCertificate.checkConnection({})).rejects.toThrow(ConnectError);
    } finally {
      await server.stop();
      certs.remove();
    }
  });
});
