// The lean Connect transport (the default for protocol "connect") where a user would notice it:
// against the real server across a restart, and against a hand-written HTTP/1.1 server for what
// the real one never sends (error bodies with details, trailer- headers, proxies' replies, a call
// left hanging), side by side with connect-node, whose behaviour it must keep.
import { execFile } from "node:child_process";
import http from "node:http";
import type net from "node:net";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { freePort } from "../../../test/support/ports.js";
import { startServer } from "../../../test/support/server.js";
import { createSessionClient, LoadRequestSchema, LoadResponseSchema } from "../src/index.js";
import { failureOf, seen } from "./support/side-by-side.js";

const transports = ["lean", "connect-node"] as const;

describe("the lean Connect transport against the real server", () => {
  it("reconnects on the next call after the server restarts, and streams RestoreStream", async () => {
    const port = await freePort();
    const client = createSessionClient({
      baseUrl: `http://127.0.0.1:${port}`,
      protocol: "connect",
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
        const client = createSessionClient({ baseUrl: process.env.SESSIONS_URL, protocol: "connect", timeoutMs: 5000 });
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

interface Seen {
  headers: http.IncomingHttpHeaders;
  url: string | undefined;
  /** Resolves true when the client hung up before the response was finished. */
  aborted: Promise<boolean>;
}

/** An HTTP/1.1 server answering every request with `respond`; `requests` are the ones it received. */
async function fakeConnectServer(respond: (res: http.ServerResponse, req: http.IncomingMessage) => void) {
  const requests: Seen[] = [];
  const server = http.createServer((req, res) => {
    const aborted = new Promise<boolean>((resolve) => res.on("close", () => resolve(!res.writableFinished)));
    requests.push({ headers: req.headers, url: req.url, aborted });
    req.resume();
    req.on("end", () => respond(res, req));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const loaded = Buffer.from(toBinary(LoadResponseSchema, create(LoadResponseSchema, {})));
const detailed = new ConnectError("session is locked", Code.FailedPrecondition);
// A retry delay as the detail: any message a server attaches is carried the same way.
detailed.details = [{ desc: DurationSchema, value: { seconds: 3n } }];

/** Answers a server could give, each with what a caller should get (as connect-node gives it). */
const answers: Array<[string, (res: http.ServerResponse) => void, Code]> = [
  [
    "a Connect error with details, metadata and trailer- headers",
    (res) => {
      res.writeHead(400, {
        "content-type": "application/json",
        "x-served-by": "fake",
        "trailer-x-lock-owner": "engine-7",
      });
      res.end(Buffer.from(errorToJsonBytes(detailed, {})));
    },
    Code.FailedPrecondition,
  ],
  [
    "a JSON error body that is not a Connect error",
    (res) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end("not json");
    },
    Code.Unimplemented,
  ],
  [
    "HTTP 503 from a proxy, not Connect at all",
    (res) => {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("try later");
    },
    Code.Unavailable,
  ],
  [
    "a 200 reply that is not Connect",
    (res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html></html>");
    },
    Code.Unknown,
  ],
  [
    "a 200 reply in JSON to a binary request",
    (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    },
    Code.Internal,
  ],
  [
    "a message that does not parse",
    (res) => {
      res.writeHead(200, { "content-type": "application/proto" });
      res.end(Buffer.from([0xff, 0xff, 0xff]));
    },
    Code.Internal,
  ],
];

/** HTTP/1.1 adds headers that tick or say how the socket is kept. */
const connectIgnored = ["date", "keep-alive", "connection"];

describe("the lean Connect transport's errors are connect-node's", () => {
  it.each(answers)("for %s", async (_, answer, code) => {
    const server = await fakeConnectServer(answer);
    try {
      const lean = seen(
        await failureOf({ baseUrl: server.url, protocol: "connect", transport: "lean" }),
        connectIgnored,
      );
      const reference = seen(
        await failureOf({ baseUrl: server.url, protocol: "connect", transport: "connect-node" }),
        connectIgnored,
      );
      expect(lean.code).toBe(code);
      expect(lean).toEqual(reference);
    } finally {
      await server.close();
    }
  });

  it("decodes error details a caller can find by type, with the headers and trailers as metadata", async () => {
    const server = await fakeConnectServer(answers[0]?.[1] as (res: http.ServerResponse) => void);
    try {
      const error = ConnectError.from(await failureOf({ baseUrl: server.url, protocol: "connect" }));
      expect(error.rawMessage).toBe("session is locked");
      expect(error.findDetails(DurationSchema)).toMatchObject([{ seconds: 3n, nanos: 0 }]);
      expect(error.metadata.get("x-lock-owner")).toBe("engine-7");
      expect(error.metadata.get("x-served-by")).toBe("fake");
    } finally {
      await server.close();
    }
  });
});

describe("headers and trailers over Connect", () => {
  const answered = (res: http.ServerResponse) => {
    res.writeHead(200, { "content-type": "application/proto", "x-served-by": "fake", "trailer-x-cost": "3" });
    res.end(loaded);
  };
  /** What the server received, but for connect-node's offer of compression and how each frames the body. */
  const sent = (headers: http.IncomingHttpHeaders) =>
    Object.entries(headers)
      .filter(([key]) => !["accept-encoding", "content-length", "transfer-encoding", "host"].includes(key))
      .sort(([a], [b]) => a.localeCompare(b));

  it("are sent as connect-node sends them: a token, the caller's own, a deadline", async () => {
    const server = await fakeConnectServer(answered);
    try {
      for (const transport of transports) {
        const client = createSessionClient({
          baseUrl: server.url,
          protocol: "connect",
          transport,
          token: "t0k3n",
          timeoutMs: 5000,
        });
        await client.load({ sessionId: "s1" }, { headers: { "x-trace": "abc" } });
      }
      const [lean, reference] = server.requests.map((request) => sent(request.headers));
      expect(lean).toEqual(reference);
      expect(Object.fromEntries(lean ?? [])).toMatchObject({
        authorization: "Bearer t0k3n",
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        "connect-timeout-ms": "5000",
        "x-trace": "abc",
        connection: "keep-alive",
      });
      expect(server.requests[0]?.url).toBe("/isotope.session.v1.SessionService/Load");
      expect(server.requests[0]?.headers["content-length"]).toBe(
        String(toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: "s1" })).length),
      );
    } finally {
      await server.close();
    }
  });

  it.each(transports)("come back to onHeader and onTrailer over %s, trailer- headers split off", async (transport) => {
    const server = await fakeConnectServer(answered);
    try {
      const client = createSessionClient({ baseUrl: server.url, protocol: "connect", transport });
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      await client.load({ sessionId: "s1" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
      expect(header?.get("x-served-by")).toBe("fake");
      expect(header?.has("trailer-x-cost")).toBe(false);
      expect(trailer?.get("x-cost")).toBe("3");
    } finally {
      await server.close();
    }
  });

  it("reuses one keep-alive socket for calls one after another", async () => {
    const sockets = new Set<unknown>();
    const server = await fakeConnectServer((res, req) => {
      sockets.add(req.socket);
      answered(res);
    });
    try {
      const client = createSessionClient({ baseUrl: server.url, protocol: "connect" });
      for (let i = 0; i < 3; i++) await client.load({ sessionId: "s1" });
      expect(server.requests).toHaveLength(3);
      expect(sockets.size).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe("compression over Connect", () => {
  it("is not offered, and a compressed reply is refused (as connect-node refuses one it never offered)", async () => {
    const server = await fakeConnectServer((res) => {
      res.writeHead(200, { "content-type": "application/proto", "content-encoding": "gzip" });
      res.end(loaded);
    });
    try {
      const error = seen(await failureOf({ baseUrl: server.url, protocol: "connect" }));
      expect(error).toMatchObject({ code: Code.Internal, message: 'unsupported response encoding "gzip"' });
      expect(server.requests[0]?.headers["accept-encoding"]).toBeUndefined();
      expect(server.requests[0]?.headers["content-encoding"]).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe("a Connect call left hanging by the server", () => {
  let server: Awaited<ReturnType<typeof fakeConnectServer>>;
  beforeAll(async () => {
    server = await fakeConnectServer(() => {}); // never answers
  });
  afterAll(async () => server.close());

  it.each(transports)("is cancelled by its AbortSignal over %s: CANCELED, the request destroyed", async (transport) => {
    const client = createSessionClient({ baseUrl: server.url, protocol: "connect", transport, retry: false });
    const controller = new AbortController();
    const before = server.requests.length;
    const pending = client.load({ sessionId: "s1" }, { signal: controller.signal }).catch((e: unknown) => e);
    await expect.poll(() => server.requests.length).toBeGreaterThan(before);
    const request = server.requests.at(-1) as Seen;
    controller.abort();
    expect(seen(await pending).code).toBe(Code.Canceled);
    expect(await request.aborted).toBe(true);
  });

  it.each(transports)("ends at its deadline over %s with DEADLINE_EXCEEDED, the server told it", async (transport) => {
    const client = createSessionClient({
      baseUrl: server.url,
      protocol: "connect",
      transport,
      retry: false,
      timeoutMs: 300,
    });
    const started = Date.now();
    const error = await client.load({ sessionId: "s1" }).catch((e: unknown) => e);
    expect(seen(error)).toMatchObject({ code: Code.DeadlineExceeded, message: "the operation timed out" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const request = server.requests.at(-1) as Seen;
    expect(request.headers["connect-timeout-ms"]).toBe("300");
    expect(await request.aborted).toBe(true);
  });
});
