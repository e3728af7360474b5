// The lean gRPC transport (the default for protocol "grpc") where a user would notice it: against
// the real server across a restart and a process exit, and against a hand-written HTTP/2 server
// for what the real one never sends (error details, trailers-only and broken responses, a call
// left hanging), side by side with connect-node, whose behaviour it must keep.
import { execFile } from "node:child_process";
import http2 from "node:http2";
import type net from "node:net";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { freePort } from "../../../test/support/ports.js";
import { startServer } from "../../../test/support/server.js";
import { createSessionClient, LoadResponseSchema, SessionService } from "../src/index.js";
import { createLeanGrpcTransport } from "../src/lean-grpc-transport.js";
import { failureOf, seen } from "./support/side-by-side.js";

const transports = ["lean", "connect-node"] as const;

describe("the lean transport against the real server", () => {
  it("reconnects on the next call after the server restarts", async () => {
    const port = await freePort();
    const client = createSessionClient({ baseUrl: `http://127.0.0.1:${port}`, retry: false, timeoutMs: 5000 });
    const first = await startServer(embedded, undefined, port);
    await client.save({ sessionId: "before", data: { n: 1 } });
    await first.stop();
    await expect(client.load({ sessionId: "before" })).rejects.toMatchObject({ code: Code.Unavailable });
    const second = await startServer(embedded, undefined, port);
    try {
      await client.save({ sessionId: "after", data: { n: 2 } });
      expect((await client.load({ sessionId: "after" })).session?.data).toEqual({ n: 2 });
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
        const client = createSessionClient({ baseUrl: process.env.SESSIONS_URL, timeoutMs: 5000 });
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

/** An HTTP/2 server answering every stream with `respond`; `streams` are the ones it received. */
async function fakeGrpcServer(respond: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void) {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const streams: Array<{ headers: http2.IncomingHttpHeaders; closed: Promise<number> }> = [];
  server.on("session", (session) => sessions.add(session));
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const closed = new Promise<number>((resolve) => stream.on("close", () => resolve(stream.rstCode)));
    streams.push({ headers, closed });
    respond(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    streams,
    /** Connections accepted so far. */
    get sessions() {
      return sessions.size;
    },
    /** Connections still open. */
    open: () => [...sessions].filter((session) => !session.closed && !session.destroyed).length,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A gRPC length-prefixed message frame. */
function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** Trailers as connect's own server writes them for `error` (grpc-status, grpc-message, details). */
function errorTrailers(error: ConnectError): http2.OutgoingHttpHeaders {
  const trailers: http2.OutgoingHttpHeaders = {};
  setTrailerStatus(new Headers(), error).forEach((value, key) => {
    trailers[key] = value;
  });
  return trailers;
}

const grpcHeaders = { ":status": 200, "content-type": "application/grpc+proto" };
const loaded = frame(toBinary(LoadResponseSchema, create(LoadResponseSchema, {})));
const detailed = new ConnectError("session is locked", Code.FailedPrecondition, { "x-lock-owner": "engine-7" });
// A retry delay as the detail: any message a server attaches is carried the same way.
detailed.details = [{ desc: DurationSchema, value: { seconds: 3n } }];

/** Answers a server could give, each with what a caller should get (as connect-node gives it). */
const answers: Array<[string, (stream: http2.ServerHttp2Stream) => void, Code]> = [
  [
    "a trailers-only error (the status in the headers, no body)",
    (stream) =>
      stream.respond(
        { ...grpcHeaders, "grpc-status": "5", "grpc-message": "no session %22s1%22" },
        { endStream: true },
      ),
    Code.NotFound,
  ],
  [
    "an error with details in grpc-status-details-bin",
    (stream) => {
      stream.respond({ ...grpcHeaders, "x-served-by": "fake" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers(errorTrailers(detailed)));
      stream.end();
    },
    Code.FailedPrecondition,
  ],
  [
    "HTTP 503 from a proxy, without a gRPC status",
    (stream) => stream.respond({ ":status": 503, "content-type": "text/plain" }, { endStream: true }),
    Code.Unavailable,
  ],
  [
    "a reply that is not gRPC",
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "text/html" });
      stream.end("<html></html>");
    },
    Code.Unknown,
  ],
  [
    "a message and no status at all",
    (stream) => {
      stream.respond(grpcHeaders);
      stream.end(loaded);
    },
    Code.Internal,
  ],
];

describe("the lean transport's errors are connect-node's", () => {
  it.each(answers)("for %s", async (_, answer, code) => {
    const server = await fakeGrpcServer(answer);
    try {
      const lean = seen(await failureOf({ baseUrl: server.url, transport: "lean" }));
      const reference = seen(await failureOf({ baseUrl: server.url, transport: "connect-node" }));
      expect(lean.code).toBe(code);
      expect(lean).toEqual(reference);
    } finally {
      await server.close();
    }
  });

  it("decodes error details a caller can find by type", async () => {
    const server = await fakeGrpcServer(answers[1]?.[1] as (stream: http2.ServerHttp2Stream) => void);
    try {
      const error = ConnectError.from(await failureOf({ baseUrl: server.url }));
      expect(error.findDetails(DurationSchema)).toMatchObject([{ seconds: 3n, nanos: 0 }]);
      expect(error.metadata.get("x-lock-owner")).toBe("engine-7");
      expect(error.metadata.get("x-served-by")).toBe("fake");
    } finally {
      await server.close();
    }
  });
});

describe("headers and trailers", () => {
  const answered = (stream: http2.ServerHttp2Stream) => {
    stream.respond({ ...grpcHeaders, "x-served-by": "fake" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-cost": "3" }));
    stream.end(loaded);
  };
  /** What the server received, but for connect-node's offer of compression and HTTP/2's own. */
  const sent = (headers: http2.IncomingHttpHeaders) =>
    Object.entries(headers)
      .filter(([key]) => key !== "grpc-accept-encoding" && key !== ":scheme" && key !== ":authority")
      .sort(([a], [b]) => a.localeCompare(b));

  const renamed: Interceptor = (next) => (req) =>
    next({ ...req, header: new Headers([...req.header, ["x-tenant", "t1"]]) } as typeof req);

  it.each([
    ["a call with a deadline", { timeoutMs: 5000 }, {}],
    [
      "a token, an interceptor's header and the caller's own",
      { token: "t0k3n", interceptors: [renamed] },
      { "x-trace": "abc" },
    ],
  ])("are sent as connect-node sends them, for %s", async (_, options, headers) => {
    const server = await fakeGrpcServer(answered);
    try {
      for (const transport of transports) {
        const client = createSessionClient({ baseUrl: server.url, transport, ...options });
        await client.load({ sessionId: "s1" }, { headers });
      }
      const [lean, reference] = server.streams.map((stream) => sent(stream.headers));
      expect(lean).toEqual(reference);
      expect(Object.fromEntries(lean ?? [])).toMatchObject({
        te: "trailers",
        "content-type": "application/grpc+proto",
      });
    } finally {
      await server.close();
    }
  });

  it.each(transports)("come back to onHeader and onTrailer over %s", async (transport) => {
    const server = await fakeGrpcServer(answered);
    try {
      const client = createSessionClient({ baseUrl: server.url, transport });
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      await client.load({ sessionId: "s1" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
      expect(header?.get("x-served-by")).toBe("fake");
      expect(header?.get("content-type")).toBe("application/grpc+proto");
      expect(trailer?.get("x-cost")).toBe("3");
      expect(trailer?.get("grpc-status")).toBe("0");
    } finally {
      await server.close();
    }
  });
});

describe("the lean transport's connection", () => {
  it("is one for unary calls and RestoreStream alike", async () => {
    const server = await fakeGrpcServer(answers[0]?.[1] as (stream: http2.ServerHttp2Stream) => void);
    try {
      const client = createSessionClient({ baseUrl: server.url, retry: false });
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      await (async () => {
        for await (const _ of client.restoreStream({})) break;
      })().catch(() => undefined);
      await client.statistics({}).catch(() => undefined);
      expect(server.streams.map((s) => s.headers[":path"])).toEqual([
        "/isotope.session.v1.SessionService/Load",
        "/isotope.session.v1.SessionService/RestoreStream",
        "/isotope.session.v1.SessionService/Statistics",
      ]);
      expect(server.sessions).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("closes after idleConnectionTimeoutMs without a call, and the next call opens another", async () => {
    const server = await fakeGrpcServer(answers[0]?.[1] as (stream: http2.ServerHttp2Stream) => void);
    try {
      const transport = createLeanGrpcTransport({ baseUrl: server.url, idleConnectionTimeoutMs: 200 });
      const client = createClient(SessionService, transport);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      expect(server.sessions).toBe(1);
      await expect.poll(() => server.open(), { timeout: 2000 }).toBe(0);
      await client.load({ sessionId: "s1" }).catch(() => undefined);
      expect(server.sessions).toBe(2);
    } finally {
      await server.close();
    }
  });
});

describe("compression", () => {
  it("is not offered, and a compressed reply is refused (as connect-node refuses one it never offered)", async () => {
    const server = await fakeGrpcServer((stream) => {
      stream.respond({ ...grpcHeaders, "grpc-encoding": "gzip" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(loaded);
    });
    try {
      const error = seen(await failureOf({ baseUrl: server.url }));
      expect(error).toMatchObject({ code: Code.Internal, message: 'unsupported response encoding "gzip"' });
      expect(server.streams[0]?.headers["grpc-accept-encoding"]).toBeUndefined();
      expect(server.streams[0]?.headers["grpc-encoding"]).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe("a call left hanging by the server", () => {
  let server: Awaited<ReturnType<typeof fakeGrpcServer>>;
  beforeAll(async () => {
    server = await fakeGrpcServer(() => {}); // never answers
  });
  afterAll(async () => server.close());

  it.each(transports)(
    "is cancelled by its AbortSignal over %s: CANCELED, the stream reset with CANCEL",
    async (transport) => {
      const client = createSessionClient({ baseUrl: server.url, transport, retry: false });
      const controller = new AbortController();
      const before = server.streams.length;
      const pending = client.load({ sessionId: "s1" }, { signal: controller.signal }).catch((e: unknown) => e);
      await expect.poll(() => server.streams.length).toBeGreaterThan(before);
      const stream = server.streams.at(-1) as (typeof server.streams)[number];
      controller.abort();
      expect(seen(await pending).code).toBe(Code.Canceled);
      expect(await stream.closed).toBe(http2.constants.NGHTTP2_CANCEL);
    },
  );

  it("ends at its deadline with DEADLINE_EXCEEDED, having told the server the deadline", async () => {
    const client = createSessionClient({ baseUrl: server.url, retry: false, timeoutMs: 300 });
    const started = Date.now();
    const error = await client.load({ sessionId: "s1" }).catch((e: unknown) => e);
    expect(seen(error).code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const stream = server.streams.at(-1) as (typeof server.streams)[number];
    expect(stream.headers["grpc-timeout"]).toBe("300m");
    expect(await stream.closed).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it.each(transports)("gives interceptors the call's signal over %s, aborted once the call ends", async (transport) => {
    const signals: AbortSignal[] = [];
    const watch: Interceptor = (next) => (req) => {
      signals.push(req.signal);
      return next(req);
    };
    const client = createSessionClient({
      baseUrl: server.url,
      transport,
      retry: false,
      timeoutMs: 100,
      interceptors: [watch],
    });
    expect(seen(await client.load({ sessionId: "s1" }).catch((e: unknown) => e)).code).toBe(Code.DeadlineExceeded);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(seen(signals[0]?.reason).code).toBe(Code.DeadlineExceeded);
  });
});
