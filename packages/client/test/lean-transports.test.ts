// The lean transports — Connect over node:http keep-alive (protocol "connect") and gRPC over
// node:http2 (protocol "grpc", the default) — where a user would notice them: against the real
// server across a restart and a process exit, and against a hand-written server for what the
// real one never sends (error details, proxies' replies, compression, a call left hanging), side
// by side with connect-node, whose behaviour they must keep. One suite, run over each protocol
// (support/connect-protocol.ts, support/grpc-protocol.ts say what differs on the wire); what
// only one transport has is at the end.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { freePort } from "../../../test/support/ports.js";
import { startServer } from "../../../test/support/server.js";
import { createSessionClient, LoadRequestSchema, type SessionClientOptions, SessionService } from "../src/index.js";
import { createLeanGrpcTransport } from "../src/lean-grpc-transport.js";
import { connect } from "./support/connect-protocol.js";
import { fakeGrpcServer, grpc, notFound } from "./support/grpc-protocol.js";
import type { FakeServer, Received } from "./support/lean-protocol.js";
import { failureOf, seen } from "./support/side-by-side.js";

const transports = ["lean", "connect-node"] as const;

/** Runs `test` on a fake server, closed after. */
async function on(server: Promise<FakeServer>, test: (server: FakeServer) => Promise<void>): Promise<void> {
  const started = await server;
  try {
    await test(started);
  } finally {
    await started.close();
  }
}

describe.each([connect, grpc])("the lean $name transport", (p) => {
  describe("against the real server", () => {
    it("reconnects on the next call after the server restarts, and streams RestoreStream", async () => {
      const port = await freePort();
      const client = createSessionClient({
        baseUrl: `http://127.0.0.1:${port}`,
        protocol: p.protocol,
        retry: false,
        timeoutMs: 5000,
      });
      const first = await startServer(embedded, undefined, port);
      await client.save({ sessionId: "before", data: { n: 1 } });
      await first.stop();
      await expect(client.load({ sessionId: "before" })).rejects.toMatchObject({ code: Code.Unavailable });
      const second = await startServer(embedded, undefined, port);
      try {
        await client.save({ sessionId: "after", data: { n: 2 } });
        expect((await client.load({ sessionId: "after" })).session?.data).toEqual({ n: 2 });
        const ids: string[] = [];
        for await (const batch of client.restoreStream({})) {
          for (const session of batch.sessions ?? []) ids.push(session.sessionId);
        }
        expect(ids).toContain("after");
      } finally {
        await second.stop();
      }
    }, 90_000); // two servers boot, each on a fresh embedded database

    it("lets the process exit after its last call, with the client never closed", async () => {
      const server = await startServer(embedded);
      try {
        const index = new URL("../src/index.ts", import.meta.url).pathname;
        const script = `
          const { createSessionClient } = await import(${JSON.stringify(index)});
          const client = createSessionClient({ baseUrl: process.env.SESSIONS_URL, protocol: "${p.protocol}", timeoutMs: 5000 });
          await client.save({ sessionId: "exit", data: {} });
          console.log("loaded", (await client.load({ sessionId: "exit" })).session?.sessionId);`;
        const started = Date.now();
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "--eval", script],
          { env: { ...process.env, SESSIONS_URL: server.url }, timeout: 20_000 },
        );
        expect(stdout).toContain("loaded exit");
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        await server.stop();
      }
    });
  });

  describe("errors, as connect-node's", () => {
    it.each(p.failures)("for %s", (_, serve, code) =>
      on(serve(), async (server) => {
        const options = { baseUrl: server.url, protocol: p.protocol };
        const lean = seen(await failureOf({ ...options, transport: "lean" }), p.ticking);
        const reference = seen(await failureOf({ ...options, transport: "connect-node" }), p.ticking);
        expect(lean.code).toBe(code);
        expect(lean).toEqual(reference);
      }),
    );

    it("decodes error details a caller can find by type, with the headers and trailers as metadata", () =>
      on(p.locked(), async (server) => {
        const error = ConnectError.from(await failureOf({ baseUrl: server.url, protocol: p.protocol }));
        expect(error.rawMessage).toBe("session is locked");
        expect(error.findDetails(DurationSchema)).toMatchObject([{ seconds: 3n, nanos: 0 }]);
        expect(error.metadata.get("x-lock-owner")).toBe("engine-7");
        expect(error.metadata.get("x-served-by")).toBe("fake");
      }));
  });

  describe("headers and trailers", () => {
    /** What the server received, but for what differs by transport unseen by a server. */
    const sent = (received: Received) =>
      Object.entries(received.headers)
        .filter(([key]) => !p.framing.includes(key))
        .sort(([a], [b]) => a.localeCompare(b));
    const tenant: Interceptor = (next) => (req) =>
      next({ ...req, header: new Headers([...req.header, ["x-tenant", "t1"]]) } as typeof req);
    const deadline = Object.fromEntries([p.deadlineHeader(5000)]);
    const cases: Array<[string, Partial<SessionClientOptions>, Record<string, string>, Record<string, string>]> = [
      ["a call with a deadline", { timeoutMs: 5000 }, {}, deadline],
      [
        "a token, an interceptor's header and the caller's own",
        { token: "t0k3n", interceptors: [tenant] },
        { "x-trace": "abc" },
        { authorization: "Bearer t0k3n", "x-tenant": "t1", "x-trace": "abc" },
      ],
      [
        "a token, the caller's own, a deadline",
        { token: "t0k3n", timeoutMs: 5000 },
        { "x-trace": "abc" },
        { authorization: "Bearer t0k3n", "x-trace": "abc", ...deadline },
      ],
    ];

    it.each(cases)("are sent as connect-node sends them, for %s", (_, options, headers, expected) =>
      on(p.answered(), async (server) => {
        for (const transport of transports) {
          const client = createSessionClient({ baseUrl: server.url, protocol: p.protocol, transport, ...options });
          await client.load({ sessionId: "s1" }, { headers });
        }
        const [lean, reference] = server.received.map(sent);
        expect(lean).toEqual(reference);
        expect(Object.fromEntries(lean ?? [])).toMatchObject({ ...p.callHeaders, ...expected });
        expect(server.received.map((r) => r.path)).toEqual([
          "/isotope.session.v1.SessionService/Load",
          "/isotope.session.v1.SessionService/Load",
        ]);
      }),
    );

    it.each(transports)("come back to onHeader and onTrailer over %s, trailers split off", (transport) =>
      on(p.answered(), async (server) => {
        const client = createSessionClient({ baseUrl: server.url, protocol: p.protocol, transport });
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        await client.load({ sessionId: "s1" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
        expect(header?.get("x-served-by")).toBe("fake");
        expect(header?.get("content-type")).toBe(p.contentType);
        expect(header?.has("trailer-x-cost")).toBe(false);
        expect(header?.has("x-cost")).toBe(false);
        expect(Object.fromEntries(trailer ?? [])).toMatchObject({ "x-cost": "3", ...p.okTrailers });
      }),
    );
  });

  it("keeps one connection for unary calls and RestoreStream alike", () =>
    on(p.notFound(), async (server) => {
      const client = createSessionClient({ baseUrl: server.url, protocol: p.protocol, retry: false });
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      await (async () => {
        for await (const _ of client.restoreStream({})) break;
      })().catch(() => undefined);
      await client.statistics({}).catch(() => undefined);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      expect(server.received.map((r) => r.path)).toEqual([
        "/isotope.session.v1.SessionService/Load",
        "/isotope.session.v1.SessionService/RestoreStream",
        "/isotope.session.v1.SessionService/Statistics",
        "/isotope.session.v1.SessionService/Load",
      ]);
      expect(server.connections).toBe(1);
    }));

  it("offers no compression, and refuses a compressed reply (as connect-node refuses one it never offered)", () =>
    on(p.compressed(), async (server) => {
      const error = seen(await failureOf({ baseUrl: server.url, protocol: p.protocol }));
      expect(error).toMatchObject({ code: Code.Internal, message: 'unsupported response encoding "gzip"' });
      for (const header of p.compressionHeaders) expect(server.received[0]?.headers[header]).toBeUndefined();
    }));

  describe("a call left hanging by the server", () => {
    let server: FakeServer;
    beforeAll(async () => {
      server = await p.silent();
    });
    afterAll(async () => server.close());

    it.each(transports)(`is cancelled by its AbortSignal over %s: CANCELED, the ${p.abandoned}`, async (transport) => {
      const client = createSessionClient({ baseUrl: server.url, protocol: p.protocol, transport, retry: false });
      const controller = new AbortController();
      const before = server.received.length;
      const pending = client.load({ sessionId: "s1" }, { signal: controller.signal }).catch((e: unknown) => e);
      await expect.poll(() => server.received.length).toBeGreaterThan(before);
      const call = server.received.at(-1) as Received;
      controller.abort();
      expect(seen(await pending).code).toBe(Code.Canceled);
      expect(await call.ended).toBe(p.abandoned);
    });

    it.each(transports)(
      "ends at its deadline over %s with DEADLINE_EXCEEDED, the server told it",
      async (transport) => {
        const client = createSessionClient({
          baseUrl: server.url,
          protocol: p.protocol,
          transport,
          retry: false,
          timeoutMs: 300,
        });
        const started = Date.now();
        const error = await client.load({ sessionId: "s1" }).catch((e: unknown) => e);
        expect(seen(error)).toMatchObject({ code: Code.DeadlineExceeded, message: "the operation timed out" });
        expect(Date.now() - started).toBeGreaterThanOrEqual(290);
        const call = server.received.at(-1) as Received;
        const [name, value] = p.deadlineHeader(300);
        expect(call.headers[name]).toBe(value);
        expect(await call.ended).toBe(p.pastDeadline[transport]);
      },
    );

    it.each(transports)(
      "gives interceptors the call's signal over %s, aborted once the call ends",
      async (transport) => {
        const signals: AbortSignal[] = [];
        const watch: Interceptor = (next) => (req) => {
          signals.push(req.signal);
          return next(req);
        };
        const client = createSessionClient({
          baseUrl: server.url,
          protocol: p.protocol,
          transport,
          retry: false,
          timeoutMs: 100,
          interceptors: [watch],
        });
        expect(seen(await client.load({ sessionId: "s1" }).catch((e: unknown) => e)).code).toBe(Code.DeadlineExceeded);
        expect(signals).toHaveLength(1);
        expect(signals[0]?.aborted).toBe(true);
        expect(seen(signals[0]?.reason).code).toBe(Code.DeadlineExceeded);
      },
    );
  });
});

describe("only the lean Connect transport", () => {
  it("sends a unary call's body with its Content-Length over a keep-alive socket", () =>
    on(connect.answered(), async (server) => {
      const client = createSessionClient({ baseUrl: server.url, protocol: "connect" });
      for (let i = 0; i < 3; i++) await client.load({ sessionId: "s1" });
      const length = String(toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: "s1" })).length);
      expect(server.received.map((r) => r.headers["content-length"])).toEqual([length, length, length]);
      expect(server.received.map((r) => r.headers.connection)).toEqual(["keep-alive", "keep-alive", "keep-alive"]);
      expect(server.connections).toBe(1);
    }));
});

describe("only the lean gRPC transport", () => {
  it("closes its connection after idleConnectionTimeoutMs without a call, and the next call opens another", async () => {
    const server = await fakeGrpcServer(notFound);
    try {
      const transport = createLeanGrpcTransport({ baseUrl: server.url, idleConnectionTimeoutMs: 200 });
      const client = createClient(SessionService, transport);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      expect(server.connections).toBe(1);
      await expect.poll(() => server.open(), { timeout: 2000 }).toBe(0);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      expect(server.connections).toBe(2);
    } finally {
      await server.close();
    }
  });
});
