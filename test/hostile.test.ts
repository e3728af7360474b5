// The hostile-input battery: malformed and malicious requests on every protocol the port speaks.
// Each case asserts the answer the caller gets, that the server still serves afterwards, and that
// the sessions table is exactly as it was (tableChecksum).
import http2 from "node:http2";
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaveRequestSchema, SessionService } from "../gen/isotope/session/v1/session_pb.js";
import { createDualListener } from "../src/listener.js";
import { backends } from "./support/databases.js";
import { type RunningServer, startServer, tableChecksum, testLimits } from "./support/server.js";

const service = "/isotope.session.v1.SessionService";

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, bytes. */
const envelope = (bytes: Uint8Array, length = bytes.length) => {
  const head = Buffer.alloc(5);
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
const connectCode = (answer: Answer) => (JSON.parse(answer.body.toString() || "{}") as { code?: string }).code;

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
    // Node's HTTP/1.1 parser refuses it: a 400 when it can still write one, else just the close.
    expect(reply === "" || reply.startsWith("HTTP/1.1 400")).toBe(true);
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

  it("a connection that never speaks does not hold anyone else up", async () => {
    const silent = net.connect(server.port, "127.0.0.1");
    await new Promise((resolve) => silent.once("connect", resolve));
    await unharmed();
    silent.destroy();
  });

  const valid = Buffer.from(toBinary(SaveRequestSchema, create(SaveRequestSchema, { sessionId: "keep-0" })));
  const gRPCCases: Array<[string, Buffer, Code]> = [
    ["a truncated envelope", Buffer.from([0, 0, 0]), Code.InvalidArgument],
    ["a length prefix beyond the body", envelope(valid.subarray(0, 4), 200), Code.InvalidArgument],
    ["bytes that are not protobuf", envelope(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), Code.InvalidArgument],
    // Connect's own answer, kept by the fast path: a unary method given a stream.
    ["two messages on a unary call", Buffer.concat([envelope(valid), envelope(valid)]), Code.Unimplemented],
    [
      "a message over max_receive_bytes",
      envelope(Buffer.alloc(16), testLimits.maxReceiveBytes + 1),
      Code.ResourceExhausted,
    ],
    ["a Struct nested 10,000 deep", envelope(saveRequest("keep-0", deepStruct(10_000))), Code.InvalidArgument],
    ["NaN in a Struct", envelope(saveRequest("keep-0", struct(numberValue(Number.NaN)))), Code.InvalidArgument],
    ["+Infinity in a Struct", envelope(saveRequest("keep-0", struct(numberValue(Infinity)))), Code.InvalidArgument],
    ["-Infinity in a Struct", envelope(saveRequest("keep-0", struct(numberValue(-Infinity)))), Code.InvalidArgument],
    [
      "U+0000 in a Struct key",
      envelope(saveRequest("keep-0", field(1, Buffer.concat([text(1, "a\u0000"), field(2, numberValue(1))])))),
      Code.InvalidArgument,
    ],
    ["an id with a control character", envelope(saveRequest("a\u0007b", struct(numberValue(1)))), Code.InvalidArgument],
    ["a 256-character id", envelope(saveRequest("x".repeat(256), struct(numberValue(1)))), Code.InvalidArgument],
  ];
  for (const contentType of ["application/grpc", "application/grpc-web+proto"]) {
    for (const [name, body, code] of gRPCCases) {
      it(`Save with ${name} over ${contentType}: ${Code[code]}`, async () => {
        const answer = await grpcCall(server.url, "Save", body, contentType);
        // gRPC-Web carries its status in a trailer frame inside the body.
        const status =
          answer.grpcStatus ?? Number(/grpc-status:\s*(\d+)/.exec(answer.body.toString("latin1"))?.[1] ?? Number.NaN);
        expect(Code[status]).toBe(Code[code]);
        await unharmed();
      });
    }
  }

  const jsonCases: Array<[string, string, string]> = [
    ["data nested 10,000 deep", `{"sessionId":"keep-0","data":${deepJson(10_000)}}`, "invalid_argument"],
    ["a lone surrogate in a value", '{"sessionId":"keep-0","data":{"k":"\\ud800"}}', "invalid_argument"],
    ["a lone surrogate in a key", '{"sessionId":"keep-0","data":{"\\udfff":1}}', "invalid_argument"],
    ["U+0000 in a value", '{"sessionId":"keep-0","data":{"k":"a\\u0000"}}', "invalid_argument"],
    ["U+0000 in metadata", '{"sessionId":"keep-0","data":{},"metadata":{"k":"\\u0000"}}', "invalid_argument"],
    ["a truncated JSON body", '{"sessionId":"keep-0","data":{"k"', "invalid_argument"],
    ["a number where an object belongs", '{"sessionId":"keep-0","data":5}', "invalid_argument"],
  ];
  jsonCases.push(["Load of a lone-surrogate id", '{"sessionId":"\\ud800x"}', "invalid_argument"]);
  jsonCases.push(["Delete of a control-character id", '{"sessionId":"a\\u0007b","hard":true}', "invalid_argument"]);
  for (const [name, body, code] of jsonCases) {
    const method = name.startsWith("Load") ? "Load" : name.startsWith("Delete") ? "Delete" : "Save";
    it(`${method === "Save" ? "Save with " : ""}${name} over Connect JSON: ${code}`, async () => {
      const answer = await connectCall(server.url, method, body);
      expect(connectCode(answer)).toBe(code);
      expect(answer.status).toBe(400);
      await unharmed();
    });
  }

  it("Connect binary with bytes that are not protobuf: invalid_argument", async () => {
    const answer = await connectCall(server.url, "Save", Buffer.from([0xff, 0xff, 0xff]), "application/proto");
    expect(connectCode(answer)).toBe("invalid_argument");
    expect(answer.status).toBe(400);
    await unharmed();
  });

  it("a content-type the server does not speak: HTTP 415", async () => {
    const answer = await h2(server.url, `${service}/Save`, { "content-type": "text/plain" }, Buffer.from("hi"));
    expect(answer.status).toBe(415);
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
    expect([unknownService.grpcStatus, unknownMethod.grpcStatus]).toEqual([Code.Unimplemented, Code.Unimplemented]);
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

  it("a RestoreStream reader that stops reading: server memory stays bounded", { timeout: 60_000 }, async () => {
    const blob = "y".repeat(4000);
    const rows = 3000;
    await server.db.query(
      `INSERT INTO ${server.table} (session_id, session_data)
       SELECT 'bulk-' || g, jsonb_build_object('blob', $1::text, 'n', g) FROM generate_series(1, ${rows}) g`,
      [blob],
    );
    const withBulk = await tableChecksum(server);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
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
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const grown = process.memoryUsage().heapUsed - heapBefore;
    // The whole stream is ~12 MB of JSON, several times that as messages; a stalled reader may
    // cost the server a batch or two and its window, not the stream.
    expect(grown).toBeLessThan(24 * 1024 * 1024);
    expect((await client.load({ sessionId: "keep-1" })).session?.sessionId).toBe("keep-1");
    session.destroy();
    await server.db.query(`DELETE FROM ${server.table} WHERE session_id LIKE 'bulk-%'`);
    expect(withBulk).not.toBe(before);
    await unharmed();
  });
});

describe("the port's protocol sniffing", () => {
  it("drops a connection that sends nothing within the sniff timeout", async () => {
    const listener = createDualListener(() => {}, { sniffTimeoutMs: 200 });
    await new Promise<void>((resolve) => listener.net.listen(0, "127.0.0.1", resolve));
    const { port } = listener.net.address() as net.AddressInfo;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await new Promise((resolve) => listener.net.close(resolve));
  });
});
