// The transport's own unary adapter, through real clients on a real port: every way a unary call
// with a protobuf body arrives (gRPC, gRPC-Web and Connect over HTTP/1.1 and HTTP/2, Connect GET)
// goes through the interceptors, carries headers and trailers both ways, keeps its deadline, is
// cancelled by shutdown and by its client leaving, and never shows a client a non-Connect error.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadRequestSchema, SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { envelope, rawRequest, startTransportServer, type TransportServer } from "../support/transport.js";

let server: TransportServer;
beforeAll(async () => {
  server = await startTransportServer();
});
afterAll(async () => server.stop());

const transports: Record<string, { protocol: string; verb: string; transport: (url: string) => Transport }> = {
  gRPC: { protocol: "grpc", verb: "POST", transport: (baseUrl) => createGrpcTransport({ baseUrl }) },
  "gRPC-Web over HTTP/1.1": {
    protocol: "grpc-web",
    verb: "POST",
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  },
  "gRPC-Web over HTTP/2": {
    protocol: "grpc-web",
    verb: "POST",
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" }),
  },
  "Connect proto over HTTP/1.1": {
    protocol: "connect",
    verb: "POST",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  },
  "Connect proto over HTTP/2": {
    protocol: "connect",
    verb: "POST",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  },
  "Connect GET, encoding=proto": {
    protocol: "connect",
    verb: "GET",
    transport: (baseUrl) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, useHttpGet: true }),
  },
};

const codeOf = (call: Promise<unknown>) =>
  call.then(
    () => "OK",
    (error: unknown) => Code[ConnectError.from(error).code],
  );

describe.each(Object.entries(transports))("a unary call over %s", (_, { protocol, verb, transport }) => {
  const client = () => createClient(SessionService, transport(server.url));

  it("passes the interceptors and the handler, headers and trailers both ways", async () => {
    const before = server.seen.length;
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const response = await client().load(
      { sessionId: "echo" },
      { headers: { "x-caller": "engine-7" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    );
    expect(response.session?.sessionId).toBe("echo");
    expect(server.seen.slice(before)).toEqual([
      { procedure: "isotope.session.v1.SessionService/Load", requestMethod: verb, caller: "engine-7" },
    ]);
    expect(header?.get("x-protocol")).toBe(protocol);
    expect(header?.get("x-intercepted")).toBe("yes");
    expect(trailer?.get("x-trailer")).toBe("last");
  });

  it("an error keeps its code and metadata; anything else is a bare internal error", async () => {
    let metadata: Headers | undefined;
    await client()
      .load({ sessionId: "fail" })
      .catch((error: unknown) => {
        metadata = ConnectError.from(error).metadata;
      });
    expect(metadata?.get("x-why")).toBe("gone");
    expect(await codeOf(client().load({ sessionId: "fail" }))).toBe("NotFound");
    const boom = await client()
      .load({ sessionId: "boom" })
      .catch((error: unknown) => ConnectError.from(error));
    expect([boom instanceof ConnectError && Code[boom.code], String(boom)]).toEqual([
      "Internal",
      expect.not.stringContaining("secret"),
    ]);
  });

  it("its deadline reaches the handler: DEADLINE_EXCEEDED", async () => {
    const before = server.aborted.length;
    // The header by hand, so the client does not race the server to it by giving up itself.
    const deadline = protocol === "connect" ? { "connect-timeout-ms": "200" } : { "grpc-timeout": "200m" };
    expect(await codeOf(client().load({ sessionId: "wait" }, { headers: deadline }))).toBe("DeadlineExceeded");
    expect(ConnectError.from(server.aborted[before]).code).toBe(Code.DeadlineExceeded);
  });

  it("a client that goes away cancels the handler; that is logged at debug, nothing else", async () => {
    const before = server.aborted.length;
    const logged = server.logs.length;
    const abort = new AbortController();
    const call = codeOf(client().load({ sessionId: "wait" }, { signal: abort.signal }));
    await until(() => server.waiting > 0);
    abort.abort();
    expect(await call).toBe("Canceled");
    await until(() => server.aborted.length > before);
    expect(ConnectError.from(server.aborted[before]).code).toBe(Code.Canceled);
    await until(() => server.logs.length > logged);
    const lines = server.logs.slice(logged);
    expect(lines.map((line) => [line.level, line.msg])).toContainEqual([20, "response not completed"]);
    expect(lines.filter((line) => Number(line.level) >= 40)).toEqual([]);
  });
});

describe("CORS", () => {
  it("its headers ride on the adapter's answers, success and error, both HTTP versions", async () => {
    const message = Buffer.from(toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: "echo" })));
    const origins = [];
    for (const version of ["1.1", "2"] as const) {
      for (const [contentType, body] of [
        ["application/proto", message],
        ["application/grpc-web+proto", envelope(message)],
        ["application/grpc", envelope(Buffer.from([0xff]))], // an error: trailers-only over HTTP/2
      ] as const) {
        const answer = await rawRequest(server.port, version, {
          path: "/isotope.session.v1.SessionService/Load",
          headers: { "content-type": contentType, origin: "https://page.example" },
          body,
        });
        origins.push(answer.headers["access-control-allow-origin"]);
      }
    }
    expect(origins).toEqual(Array(6).fill("https://page.example"));
  });
});

describe("shutdown", () => {
  it("cancels every call in flight with the shutdown's reason, on every path", async () => {
    const calls = Object.values(transports).map(({ transport }) =>
      codeOf(createClient(SessionService, transport(server.url)).load({ sessionId: "wait" })),
    );
    await until(() => server.waiting === calls.length);
    server.shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    expect(await Promise.all(calls)).toEqual(calls.map(() => "Unavailable"));
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the server");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
