// The hostile-input battery: malformed and malicious requests on every protocol the port speaks.
// Each case asserts the answer the caller gets, that the server still serves afterwards, and that
// the sessions table is exactly as it was (tableChecksum).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaveRequestSchema, SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { createDualListener, defaultSniffTimeoutMs } from "../../src/transport/listener.js";
import { backends } from "../support/databases.js";
import { silentConnectionLifetime } from "../support/ports.js";
import { type RunningServer, startServer, tableChecksum, testLimits } from "../support/server.js";

const service = "/isotope.session.v1.SessionService";

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, bytes. */
const envelope = (bytes: Uint8Array, length = bytes.length, flags = 0) => {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, bytes]);
};

// Protobuf wire format by hand, for messages the encoder would never produce.
const varint = (n: number) => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
};
const field = (number: number, bytes: Buffer) =>
  Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
const text = (number: number, value: string) => field(number, Buffer.from(value, "utf8"));
/** google.protobuf.Value { number_value } holding any double, NaN included. */
const numberValue = (n: number) => {
  const bytes = Buffer.alloc(9);
  bytes[0] = (2 << 3) | 1;
  bytes.writeDoubleLE(n, 1);
  return bytes;
};
/** A Struct { "k": value }. */
const struct = (value: Buffer) => field(1, Buffer.concat([text(1, "k"), field(2, value)]));
/** SaveRequest { session_id, data: Struct } from raw Struct bytes. */
const saveRequest = (sessionId: string, structBytes: Buffer) =>
  Buffer.concat([text(1, sessionId), field(2, structBytes)]);
/** A Struct nested `depth` levels: { "k": { "k": … } }, built inside out. */
const deepStruct = (depth: number) => {
  let inner = struct(numberValue(1));
  for (let i = 1; i < depth; i++) inner = struct(field(5, inner));
  return inner;
};
/** A Struct { "k": [[[…1…]]] }: Value.list_value → ListValue.values → Value, `depth` times. */
const deepList = (depth: number) => {
  let inner = numberValue(1);
  for (let i = 0; i < depth; i++) inner = field(6, field(1, inner));
  return struct(inner);
};
/** Unknown field 15 as a group (wire types 3 and 4) nested `depth` deep: skipping it recurses. */
const deepGroups = (depth: number) => Buffer.concat([Buffer.alloc(depth, 0x7b), Buffer.alloc(depth, 0x7c)]);
const deepJson = (depth: number) => `${'{"k":'.repeat(depth)}1${"}".repeat(depth)}`;

interface Answer {
  status: number;
  /** grpc-status from the trailers or a trailers-only response; undefined for Connect. */
  grpcStatus: number | undefined;
  body: Buffer;
}

/** One HTTP/2 request on its own connection; resolves with what came back. */
async function h2(url: string, path: string, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<Answer> {
  const session = http2.connect(url);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
      let status = 0;
      let grpcStatus: number | undefined;
      const chunks: Buffer[] = [];
      const read = (fields: http2.IncomingHttpHeaders) => {
        if (fields["grpc-status"] !== undefined) grpcStatus = Number(fields["grpc-status"]);
      };
      stream.on("response", (fields) => {
        status = Number(fields[":status"]);
        read(fields);
      });
      stream.on("trailers", read);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => resolve({ status, grpcStatus, body: Buffer.concat(chunks) }));
      stream.on("error", reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

const grpcCall = (url: string, method: string, message: Buffer, contentType = "application/grpc") =>
  h2(url, `${service}/${method}`, { "content-type": contentType }, message);
const connectCall = (url: string, method: string, body: Buffer | string, contentType = "application/json") =>
  h2(url, `${service}/${method}`, { "content-type": contentType, "connect-protocol-version": "1" }, Buffer.from(body));
/** The code of a Connect unary error body ({"code":"invalid_argument",…}). */
const connectCode = (answer: { body: Buffer }) =>
  (JSON.parse(answer.body.toString() || "{}") as { code?: string }).code;

/** One HTTP/1.1 request (Connect, curl's protocol); resolves with the status and body. */
function h1(port: number, path: string, method: string, headers: http.OutgoingHttpHeaders, body?: string) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

/**
 * A TCP peer that sends `bytes` (perhaps none) and then nothing; resolves once connected. `open`
 * turns false when the server closes the connection; `answered` turns true if it ever replies.
 */
async function quietPeer(port: number, bytes: string) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const peer = { open: true, answered: false, closed: new Promise<void>((resolve) => socket.once("close", resolve)) };
  void peer.closed.then(() => {
    peer.open = false;
  });
  socket.on("data", () => {
    peer.answered = true;
  });
  await new Promise((resolve) => socket.once("connect", resolve));
  if (bytes) socket.write(bytes);
  return peer;
}

/**
 * Resolves once `server` has no RPC in flight, however slowly a busy machine works through them;
 * fails when the count stays unchanged, above 0, for `stallMs`: calls that never end. (It may
 * rise first: the server is still starting calls it had received.)
 */
async function everyCallEnds(server: RunningServer, stallMs: number) {
  let count = server.inFlight();
  let changedAt = performance.now();
  while (count > 0) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = server.inFlight();
    if (now !== count) [count, changedAt] = [now, performance.now()];
    else expect(performance.now() - changedAt, `${now} RPCs in flight, none ending`).toBeLessThan(stallMs);
  }
}

describe.each(backends())("hostile input on $name", (backend) => {
  let server: RunningServer;
  let client: ReturnType<typeof createClient<typeof SessionService>>;
  let before: string;

  beforeAll(async () => {
    server = await startServer(backend);
    client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
    for (let i = 0; i < 5; i++) {
      await client.save({ sessionId: `keep-${i}`, data: { messages: [{ role: "user", content: `m${i}` }] } });
    }
    before = await tableChecksum(server);
  });
  afterAll(async () => server.stop());

  /** After every case: the server answers, and nothing stored changed. */
  const unharmed = async () => {
    expect((await client.load({ sessionId: "keep-0" })).session?.data).toEqual({
      messages: [{ role: "user", content: "m0" }],
    });
    expect(await tableChecksum(server)).toBe(before);
  };

  it("garbage bytes on the port: the connection is closed", async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1", () => socket.write(Buffer.from([0, 255, 13, 10, 7, 1, 2])));
      let got = "";
      socket.on("data", (chunk) => {
        got += chunk.toString("latin1");
      });
      socket.on("close", () => resolve(got));
      socket.on("error", () => {});
    });
    // Node's HTTP/1.1 parser refuses it and the server's clientError handler closes the socket
    // without a word: nothing to parse for a peer that speaks no HTTP.
    expect(reply).toBe("");
    await unharmed();
  });

  it("an HTTP/2 preface then junk: the connection is dropped, nothing else", async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1", () => {
        socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        socket.write(Buffer.alloc(64, 0xff));
      });
      socket.on("data", () => {});
      socket.on("close", () => resolve(true));
      socket.on("error", () => {});
    });
    expect(closed).toBe(true);
    await unharmed();
  });

  it("connections that never speak hold up neither other callers nor shutdown", async () => {
    // A server of its own, as stop() is one of the assertions.
    const own = await startServer(backend);
    // Peers that connect and say nothing, or stop halfway through the HTTP/2 preface: the sniff
    // keeps each one open until its timeout, waiting for the bytes that decide the protocol.
    const peers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => quietPeer(own.port, i % 2 ? "PRI * HTTP/2.0\r\n" : "")),
    );
    // Callers on new connections, over both HTTP versions, are served meanwhile…
    const ownClient = createClient(SessionService, createGrpcTransport({ baseUrl: own.url }));
    await ownClient.save({ sessionId: "quiet", data: { n: 1 } });
    expect((await ownClient.load({ sessionId: "quiet" })).session?.data).toEqual({ n: 1 });
    const overHttp1 = await h1(own.port, `${service}/Load`, "POST", { "content-type": "application/json" }, "{}");
    expect([overHttp1.status, connectCode(overHttp1)]).toEqual([400, "invalid_argument"]);
    // …while every silent peer is still connected and unanswered: none had to be let go first.
    expect(peers.filter((peer) => !peer.open || peer.answered)).toEqual([]);
    // Shutdown does not wait out their sniff timeout either: stop() closes them.
    const started = performance.now();
    await own.stop();
    expect(performance.now() - started).toBeLessThan(defaultSniffTimeoutMs / 2);
    await Promise.all(peers.map((peer) => peer.closed));
  });

  const valid = Buffer.from(toBinary(SaveRequestSchema, create(SaveRequestSchema, { sessionId: "keep-0" })));
  // Protobuf bodies the encoder would never produce: each one is sent as a gRPC message (fast path),
  // a gRPC-Web message and a Connect unary body, and must get the same code on all three.
  const messageCases: Array<[string, Buffer, Code]> = [
    ["bytes that are not protobuf", Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Code.InvalidArgument],
    ["a message cut off inside a field", valid.subarray(0, 4), Code.InvalidArgument],
    ["a field length of 2 GB", Buffer.concat([Buffer.from([0x0a]), varint(0x7fffffff)]), Code.InvalidArgument],
    ["a string that is not UTF-8", field(1, Buffer.from([0x61, 0xed, 0xa0, 0x80])), Code.InvalidArgument],
    ["a Struct nested 10,000 deep", saveRequest("keep-0", deepStruct(10_000)), Code.InvalidArgument],
    ["a list nested 10,000 deep", saveRequest("keep-0", deepList(10_000)), Code.InvalidArgument],
    ["an unknown group nested 100,000 deep", Buffer.concat([valid, deepGroups(100_000)]), Code.InvalidArgument],
    ["NaN in a Struct", saveRequest("keep-0", struct(numberValue(Number.NaN))), Code.InvalidArgument],
    ["+Infinity in a Struct", saveRequest("keep-0", struct(numberValue(Infinity))), Code.InvalidArgument],
    ["-Infinity in a Struct", saveRequest("keep-0", struct(numberValue(-Infinity))), Code.InvalidArgument],
    [
      "U+0000 in a Struct key",
      saveRequest("keep-0", field(1, Buffer.concat([text(1, "a\u0000"), field(2, numberValue(1))]))),
      Code.InvalidArgument,
    ],
    ["an id with a control character", saveRequest("a\u0007b", struct(numberValue(1))), Code.InvalidArgument],
    ["a 256-character id", saveRequest("x".repeat(256), struct(numberValue(1))), Code.InvalidArgument],
  ];
  // What only a length-prefixed (enveloped) protocol can get wrong.
  const envelopeCases: Array<[string, Buffer, Code]> = [
    ["a truncated envelope", Buffer.from([0, 0, 0]), Code.InvalidArgument],
    ["a length prefix beyond the body", envelope(valid.subarray(0, 4), 200), Code.InvalidArgument],
    // Connect's own answer, kept by the fast path: a unary method given a stream.
    ["two messages on a unary call", Buffer.concat([envelope(valid), envelope(valid)]), Code.Unimplemented],
    [
      "a message over max_receive_bytes",
      envelope(Buffer.alloc(16), testLimits.maxReceiveBytes + 1),
      Code.ResourceExhausted,
    ],
    // The gRPC spec's code for a compressed flag with no grpc-encoding: the peer is broken.
    ["the compressed flag without grpc-encoding", envelope(valid, valid.length, 1), Code.Internal],
  ];
  const grpcStatusOf = (answer: Answer) =>
    // gRPC-Web carries its status in a trailer frame inside the body.
    answer.grpcStatus ?? Number(/grpc-status:\s*(\d+)/.exec(answer.body.toString("latin1"))?.[1] ?? Number.NaN);
  for (const contentType of ["application/grpc", "application/grpc-web+proto"]) {
    const cases = [
      ...messageCases.map(([name, bytes, code]): [string, Buffer, Code] => [name, envelope(bytes), code]),
      ...envelopeCases,
    ];
    for (const [name, body, code] of cases) {
      it(`Save with ${name} over ${contentType}: ${Code[code]}`, async () => {
        const answer = await grpcCall(server.url, "Save", body, contentType);
        expect(answer.status).toBe(200);
        expect(Code[grpcStatusOf(answer)]).toBe(Code[code]);
        await unharmed();
      });
    }
  }
  const connectUnaryCases: Array<[string, Buffer, Code]> = [
    ...messageCases,
    ["a body over max_receive_bytes", Buffer.alloc(testLimits.maxReceiveBytes + 1), Code.ResourceExhausted],
  ];
  for (const [name, body, code] of connectUnaryCases) {
    it(`Save with ${name} over Connect application/proto: ${codeToString(code)}`, async () => {
      const answer = await connectCall(server.url, "Save", body, "application/proto");
      expect(connectCode(answer)).toBe(codeToString(code));
      expect(answer.status).toBe(codeToHttpStatus(code));
      await unharmed();
    });
  }

  const jsonCases: Array<[string, string, Code]> = [
    ["data nested 10,000 deep", `{"sessionId":"keep-0","data":${deepJson(10_000)}}`, Code.InvalidArgument],
    [
      "an array nested 300,000 deep",
      `{"sessionId":"keep-0","data":{"k":${"[".repeat(300_000)}${"]".repeat(300_000)}}}`,
      Code.InvalidArgument,
    ],
    ["a lone surrogate in a value", '{"sessionId":"keep-0","data":{"k":"\\ud800"}}', Code.InvalidArgument],
    ["a lone surrogate in a key", '{"sessionId":"keep-0","data":{"\\udfff":1}}', Code.InvalidArgument],
    [
      "a lone surrogate in a metadata key",
      '{"sessionId":"keep-0","data":{},"metadata":{"\\udbff":1}}',
      Code.InvalidArgument,
    ],
    ["U+0000 in a value", '{"sessionId":"keep-0","data":{"k":"a\\u0000"}}', Code.InvalidArgument],
    ["U+0000 in a key", '{"sessionId":"keep-0","data":{"a\\u0000":1}}', Code.InvalidArgument],
    ["U+0000 in metadata", '{"sessionId":"keep-0","data":{},"metadata":{"k":"\\u0000"}}', Code.InvalidArgument],
    ["a number beyond a double", '{"sessionId":"keep-0","data":{"k":1e400}}', Code.InvalidArgument],
    ["a truncated JSON body", '{"sessionId":"keep-0","data":{"k"', Code.InvalidArgument],
    ["a number where an object belongs", '{"sessionId":"keep-0","data":5}', Code.InvalidArgument],
    ["a duplicated field", '{"sessionId":"keep-0","sessionId":"keep-1","data":{}}', Code.InvalidArgument],
  ];
  jsonCases.push(["Load of a lone-surrogate id", '{"sessionId":"\\ud800x"}', Code.InvalidArgument]);
  jsonCases.push(["Delete of a control-character id", '{"sessionId":"a\\u0007b","hard":true}', Code.InvalidArgument]);
  const methodOf = (name: string) => (name.startsWith("Load") ? "Load" : name.startsWith("Delete") ? "Delete" : "Save");
  for (const [name, body, code] of jsonCases) {
    const method = methodOf(name);
    const label = method === "Save" ? `Save with ${name}` : name;
    it(`${label} over Connect JSON: ${codeToString(code)}`, async () => {
      const answer = await connectCall(server.url, method, body);
      expect(connectCode(answer)).toBe(codeToString(code));
      expect(answer.status).toBe(codeToHttpStatus(code));
      await unharmed();
    });
    for (const contentType of ["application/grpc+json", "application/grpc-web+json"]) {
      it(`${label} over ${contentType}: ${Code[code]}`, async () => {
        const answer = await grpcCall(server.url, method, envelope(Buffer.from(body)), contentType);
        expect(Code[grpcStatusOf(answer)]).toBe(Code[code]);
        await unharmed();
      });
    }
  }

  it("gRPC JSON with a broken envelope: INVALID_ARGUMENT", async () => {
    for (const body of [Buffer.from([0, 0, 0]), envelope(Buffer.from("{}"), 200)]) {
      const answer = await grpcCall(server.url, "Save", body, "application/grpc+json");
      expect(Code[grpcStatusOf(answer)]).toBe("InvalidArgument");
    }
    await unharmed();
  });

  it("Connect GET with a message that does not decode: invalid_argument", async () => {
    const deepFilter = encodeURIComponent(`{"metadataFilter":${deepJson(1000)}}`);
    for (const query of [
      "encoding=proto&base64=1&message=__8",
      "encoding=json&message=%7B",
      `encoding=json&message=${deepFilter}`,
    ]) {
      const method = query.includes("metadataFilter") ? "List" : "Load";
      const answer = await h1(server.port, `${service}/${method}?${query}`, "GET", {});
      expect([answer.status, connectCode(answer)]).toEqual([400, "invalid_argument"]);
    }
    await unharmed();
  });

  it("gzip (never offered) and an unparsable grpc-timeout: UNIMPLEMENTED and INVALID_ARGUMENT", async () => {
    const gzip = await h2(
      server.url,
      `${service}/Load`,
      { "content-type": "application/grpc", "grpc-encoding": "gzip" },
      envelope(Buffer.from([1, 2, 3]), 3, 1),
    );
    const timeout = await h2(
      server.url,
      `${service}/Load`,
      { "content-type": "application/grpc", "grpc-timeout": "soon" },
      envelope(text(1, "keep-0")),
    );
    expect([Code[grpcStatusOf(gzip)], Code[grpcStatusOf(timeout)]]).toEqual(["Unimplemented", "InvalidArgument"]);
    await unharmed();
  });

  it("a content-type the server does not speak: HTTP 415, on HTTP/2 and HTTP/1.1", async () => {
    const statuses = [];
    for (const contentType of ["text/plain", "application/grpc+xml", "application/x-www-form-urlencoded"]) {
      statuses.push(
        (await h2(server.url, `${service}/Save`, { "content-type": contentType }, Buffer.from("hi"))).status,
      );
    }
    statuses.push((await h2(server.url, `${service}/Save`, {}, envelope(valid))).status);
    statuses.push((await h1(server.port, `${service}/Save`, "POST", { "content-type": "text/plain" }, "hi")).status);
    expect(statuses).toEqual([415, 415, 415, 415, 415]);
    await unharmed();
  });

  it("unknown service and unknown method: UNIMPLEMENTED", async () => {
    const unknownService = await h2(
      server.url,
      "/evil.Service/Save",
      { "content-type": "application/grpc" },
      envelope(valid),
    );
    const unknownMethod = await grpcCall(server.url, "DropAllTables", envelope(valid));
    const overGrpcWeb = await grpcCall(server.url, "DropAllTables", envelope(valid), "application/grpc-web+proto");
    expect([unknownService.grpcStatus, unknownMethod.grpcStatus, overGrpcWeb.grpcStatus]).toEqual([
      Code.Unimplemented,
      Code.Unimplemented,
      Code.Unimplemented,
    ]);
    // Connect has no status trailer: an unknown procedure is HTTP 404, on both HTTP versions.
    const overConnect = await connectCall(server.url, "DropAllTables", "{}");
    const overHttp1 = await h1(server.port, "/evil.Service/Save", "POST", { "content-type": "application/json" }, "{}");
    expect([overConnect.status, overHttp1.status]).toEqual([404, 404]);
    await unharmed();
  });

  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "ok",
      (error) => Code[ConnectError.from(error).code],
    );
  const sql = "x'; DROP TABLE isotope_sessions; --";

  it("bad ids on Load and Delete: INVALID_ARGUMENT", async () => {
    // (A lone surrogate cannot cross in protobuf's UTF-8; over JSON it can: see the JSON cases.)
    for (const sessionId of ["", "x".repeat(256), "a\nb", "a\u0000b"]) {
      expect(await codeOf(client.load({ sessionId }))).toBe("InvalidArgument");
      expect(await codeOf(client.delete({ sessionId, hard: true }))).toBe("InvalidArgument");
    }
    await unharmed();
  });

  it("SQL in ids, metadata filters and page tokens is only ever data", async () => {
    expect(await codeOf(client.load({ sessionId: sql }))).toBe("NotFound");
    expect(await codeOf(client.delete({ sessionId: sql, hard: true }))).toBe("NotFound");
    const filtered = await client.list({ metadataFilter: { [sql]: sql } });
    expect(filtered.sessions).toEqual([]);
    const forged = Buffer.from(JSON.stringify([1, "0", sql])).toString("base64url");
    expect((await client.list({ pageToken: forged })).sessions).toEqual([]); // a cursor before every row
    expect(await codeOf(client.list({ pageToken: Buffer.from(sql).toString("base64url") }))).toBe("InvalidArgument");
    await unharmed();
  });

  it("an expiry past 9999-12-31 is refused, not stored for JSON readers to choke on", async () => {
    // 10,000 years is a valid Duration; the instant it names is not a valid Timestamp.
    const tenThousandYears = { case: "expiresIn" as const, value: { seconds: 315_576_000_000n, nanos: 0 } };
    expect(await codeOf(client.save({ sessionId: "far", data: {}, expiry: tenThousandYears }))).toBe("InvalidArgument");
    expect(await codeOf(client.touch({ sessionId: "keep-0", expiry: tenThousandYears }))).toBe("InvalidArgument");
    const overJson = await connectCall(server.url, "Save", '{"sessionId":"far","data":{},"expiresIn":"315576000000s"}');
    expect([overJson.status, connectCode(overJson)]).toEqual([400, "invalid_argument"]);
    await unharmed();
  });

  it("hostile text where RestoreStream and Cleanup take it is only ever data", async () => {
    const restored = async (startAfter: string) => {
      let count = 0n;
      for await (const message of client.restoreStream({ startAfter })) count = message.progress?.restoredCount ?? 0n;
      return count;
    };
    expect(await restored(sql)).toBe(0n); // every keep-* sorts before "x'…"
    expect(await restored("keep-3")).toBe(1n);
    // PostgreSQL refuses U+0000 in text (22021), on both backends, before reading a row.
    expect(await codeOf(restored("a\u0000b"))).toBe("InvalidArgument");
    const restore = await client.restore({ metadataFilter: { user_id: sql } });
    expect(restore.restoredCount).toBe(0n);
    await unharmed();
  });

  it("a tampered page token: INVALID_ARGUMENT", async () => {
    const { nextPageToken } = await client.list({ limit: 2 });
    expect(nextPageToken).not.toBe("");
    for (const token of [`${nextPageToken}!`, nextPageToken.slice(0, -3), `x${nextPageToken}`]) {
      expect(await codeOf(client.list({ pageToken: token }))).toBe("InvalidArgument");
    }
    await unharmed();
  });

  it("limit 10^9 and a negative offset: INVALID_ARGUMENT", async () => {
    expect(await codeOf(client.list({ limit: 1_000_000_000 }))).toBe("InvalidArgument");
    expect(await codeOf(client.list({ offset: -1 }))).toBe("InvalidArgument");
    expect(await codeOf(client.restore({ batchSize: 1_000_000_000 }))).toBe("InvalidArgument");
    await unharmed();
  });

  it("1,000 streams opened and abandoned: the server carries on", { timeout: 30_000 }, async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    await new Promise((resolve) => session.once("connect", resolve));
    for (let i = 0; i < 1000; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": `${service}/${i % 2 ? "Save" : "RestoreStream"}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", () => {});
      // Half a message: the server waits for the rest, which never comes.
      stream.write(envelope(valid).subarray(0, 8));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    session.destroy();
    await unharmed();
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => codeOf(client.load({ sessionId: `keep-${i % 5}` }))),
    );
    expect(statuses.every((status) => status === "ok")).toBe(true);
  });

  it("1,000 streams abandoned mid-call: nothing stays in flight, stop() is prompt", { timeout: 30_000 }, async () => {
    // A server of its own, as stop() is the assertion. Rows big enough that a RestoreStream fills
    // the connection's flow-control window: those handlers are blocked writing when the peer goes.
    const own = await startServer(backend);
    const ownClient = createClient(SessionService, createGrpcTransport({ baseUrl: own.url }));
    await own.db.query(
      `INSERT INTO ${own.table} (session_id, session_data)
       SELECT 'bulk-' || g, jsonb_build_object('blob', repeat('z', 8000)) FROM generate_series(1, 200) g`,
    );
    const session = http2.connect(own.url);
    session.on("error", () => {});
    await new Promise((resolve) => session.once("connect", resolve));
    const restoreStream = Buffer.from([0x18, 0x0a]); // batch_size = 10
    const load = text(1, "bulk-1");
    for (let i = 0; i < 1000; i++) {
      const [method, body] = (
        [
          ["RestoreStream", envelope(restoreStream)], // whole request: in flight, then stalled
          ["Load", envelope(load)], // whole request on the fast path
          ["Save", envelope(valid).subarray(0, 8)], // half a message: never starts
          ["RestoreStream", envelope(restoreStream).subarray(0, 3)],
        ] as const
      )[i % 4] as readonly [string, Buffer];
      const stream = session.request({
        ":method": "POST",
        ":path": `${service}/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", () => {});
      stream.pause(); // never read
      if (i % 4 < 2) stream.end(body);
      else stream.write(body);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(own.inFlight()).toBeGreaterThan(0);
    session.destroy();
    // The server learns that the peer left only after working through what it had already
    // received (hundreds of RestoreStream queries: seconds on a busy machine), so the calls end
    // over time; what must not happen is that they stop ending. (A call made meanwhile would
    // queue behind them for a pool connection, and fail after connect_timeout: the server's
    // speed, not what this test is about.)
    await everyCallEnds(own, 5000);
    expect((await ownClient.load({ sessionId: "bulk-7" })).session?.data).toEqual({ blob: "z".repeat(8000) });
    // Every handler has ended: stop() does not wait out its 2-second grace for one.
    const started = performance.now();
    await own.stop();
    expect(performance.now() - started).toBeLessThan(1900);
    expect(own.logs.filter((line) => String(line.msg).startsWith("grace period over"))).toEqual([]);
  });

  it("a RestoreStream reader that stops reading: server memory stays bounded", { timeout: 60_000 }, async () => {
    const rows = 3000;
    await server.db.query(
      `INSERT INTO ${server.table} (session_id, session_data)
       SELECT 'bulk-' || g, jsonb_build_object('blob', repeat('y', 8000), 'n', g) FROM generate_series(1, ${rows}) g`,
    );
    const withBulk = await tableChecksum(server);
    // How long the whole ~24 MB stream takes to a reader that keeps up: the stalled reader below
    // is given twice that, so a server that buffered the stream would have done so by then.
    let started = performance.now();
    let streamed = 0n;
    for await (const message of client.restoreStream({ batchSize: 100 }))
      streamed = message.progress?.restoredCount ?? 0n;
    expect(streamed).toBe(BigInt(rows + 5));
    const whole = performance.now() - started;

    global.gc?.();
    // Queued response bytes are Buffers, outside the JS heap: count both.
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const memoryBefore = used();
    const session = http2.connect(server.url);
    session.on("error", () => {});
    const stream = session.request({
      ":method": "POST",
      ":path": `${service}/RestoreStream`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("error", () => {});
    stream.pause(); // never read: HTTP/2 flow control stops the server after one window
    stream.end(envelope(Buffer.from([0x18, 0x64]))); // batch_size = 100
    started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(1500, 2 * whole)));
    // A stalled reader may cost the server a batch or two (~1 MB each) and its window, never the
    // stream: buffered whole it would be ~24 MB of queued frames plus the decoded sessions.
    expect(used() - memoryBefore).toBeLessThan(16 * 1024 * 1024);
    // Everyone else is served meanwhile, by the database too (not only the cache).
    expect((await client.list({ limit: 1 })).sessions).toHaveLength(1);
    expect(await codeOf(client.load({ sessionId: "not-cached" }))).toBe("NotFound");
    expect((await client.load({ sessionId: "bulk-2999" })).session?.data?.n).toBe(2999);
    session.destroy();
    await server.db.query(`DELETE FROM ${server.table} WHERE session_id LIKE 'bulk-%'`);
    expect(withBulk).not.toBe(before);
    await unharmed();
  });
});

describe("the port's protocol sniffing", () => {
  it("drops a connection that sends nothing within the sniff timeout", async () => {
    const listener = createDualListener(() => {}, { sniffTimeoutMs: 200 });
    expect(await silentConnectionLifetime(listener.net)).toBeGreaterThanOrEqual(150);
  });
});
