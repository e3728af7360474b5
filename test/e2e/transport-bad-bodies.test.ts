// A body that is not the request message is the caller's fault — INVALID_ARGUMENT — on every
// protocol and HTTP version the port speaks, for unary calls (the transport's own adapter) and for
// server-streaming calls (checked, then served by connect-es from the bytes already read), while
// every other fault keeps connect-es's code for it. Raw requests: no generated client sends these.
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadRequestSchema, RestoreStreamRequestSchema } from "../../gen/isotope/session/v1/session_pb.js";
import { codeOf, envelope, rawRequest, startTransportServer, type TransportServer } from "../support/transport.js";

const readMaxBytes = 1024;
let server: TransportServer;
beforeAll(async () => {
  server = await startTransportServer(readMaxBytes);
});
afterAll(async () => server.stop());

const service = "/isotope.session.v1.SessionService";
const notProtobuf = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
const load = Buffer.from(toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: "echo" })));
const restore = Buffer.from(toBinary(RestoreStreamRequestSchema, create(RestoreStreamRequestSchema, { batchSize: 7 })));
const tooLarge = Buffer.alloc(readMaxBytes + 1, 0x08);

type Version = "1.1" | "2";
const versions: Version[] = ["1.1", "2"];
const send = (version: Version, path: string, contentType: string, body: Buffer) =>
  rawRequest(server.port, version, { path, headers: { "content-type": contentType }, body }).then(codeOf);

describe.each(versions)("over HTTP/%s", (version) => {
  // Connect unary takes the message as the body itself; the others put it in an envelope.
  const unary: Array<[string, string, (message: Buffer) => Buffer]> = [
    ["gRPC", "application/grpc", envelope],
    ["gRPC-Web", "application/grpc-web+proto", envelope],
    ["Connect", "application/proto", (message) => message],
  ];
  for (const [name, contentType, frame] of unary) {
    it(`a unary ${name} call: OK, INVALID_ARGUMENT for garbage, RESOURCE_EXHAUSTED past the limit`, async () => {
      const codes = await Promise.all(
        [load, notProtobuf, tooLarge].map((message) => send(version, `${service}/Load`, contentType, frame(message))),
      );
      expect(codes).toEqual(["OK", "InvalidArgument", "ResourceExhausted"]);
      // Another service's unary method is served the same way.
      const health = await send(version, "/grpc.health.v1.Health/Check", contentType, frame(notProtobuf));
      expect(health).toBe("InvalidArgument");
    });
  }

  it("Connect GET: OK, INVALID_ARGUMENT for garbage and for a message that is not base64", async () => {
    const get = (message: string) =>
      rawRequest(server.port, version, {
        method: "GET",
        path: `${service}/Load?encoding=proto&base64=1&message=${message}`,
      }).then(codeOf);
    const codes = await Promise.all([load.toString("base64url"), "__8", "!!!!"].map(get));
    expect(codes).toEqual(["OK", "InvalidArgument", "InvalidArgument"]);
  });

  const streaming: Array<[string, string]> = [
    ["gRPC-Web", "application/grpc-web+proto"],
    ["Connect", "application/connect+proto"],
    ["gRPC", "application/grpc"],
  ];
  for (const [name, contentType] of streaming) {
    it(`a server-streaming ${name} call: served, INVALID_ARGUMENT for garbage, connect-es's codes for the rest`, async () => {
      const call = (body: Buffer) => send(version, `${service}/RestoreStream`, contentType, body);
      const served = await rawRequest(server.port, version, {
        path: `${service}/RestoreStream`,
        headers: { "content-type": contentType },
        body: envelope(restore),
      });
      expect(codeOf(served)).toBe("OK");
      // restored_count = 7, inside progress (field 3): served by the implementation from the replayed bytes.
      expect(served.body.includes(Buffer.from([0x1a, 0x02, 0x08, 0x07]))).toBe(true);
      const codes = await Promise.all(
        [
          envelope(notProtobuf),
          envelope(tooLarge),
          Buffer.concat([envelope(restore), envelope(restore)]),
          envelope(restore).subarray(0, 4),
        ].map(call),
      );
      expect(codes).toEqual(["InvalidArgument", "ResourceExhausted", "Unimplemented", "InvalidArgument"]);
    });
  }
});

it("a request without an authority (HTTP/1.0, no Host) is a 400 on every path; the server carries on", async () => {
  const http10 = (head: string, body = "") =>
    new Promise<string>((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1", () => socket.end(`${head}\r\n\r\n${body}`));
      let reply = "";
      socket.on("data", (chunk) => {
        reply += chunk.toString("latin1");
      });
      socket.on("close", () => resolve(reply.split("\r\n")[0] ?? ""));
      socket.on("error", () => resolve("error"));
    });
  const json = '{"sessionId":"echo"}';
  const post = (type: string, body: string) =>
    http10(`POST ${service}/Load HTTP/1.0\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}`, body);
  expect(await post("application/json", json)).toBe("HTTP/1.1 400 Bad Request");
  expect(await http10(`GET ${service}/Load?encoding=json&message=%7B%7D HTTP/1.0`)).toBe("HTTP/1.1 400 Bad Request");
  // The transport's own adapter needs no authority: it answers.
  expect(await post("application/proto", load.toString("latin1"))).toBe("HTTP/1.1 200 OK");
  expect(await send("2", `${service}/Load`, "application/proto", load)).toBe("OK");
});
