// gRPC as the lean transports' shared suite sees it: a hand-written HTTP/2 server, the replies it
// can give, and what gRPC puts on the wire.
import http2 from "node:http2";
import type net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { LoadResponseSchema } from "../../src/index.js";
import type { FakeServer, LeanProtocol } from "./lean-protocol.js";

type Respond = (stream: http2.ServerHttp2Stream) => void;

/** An HTTP/2 server answering every stream with `respond`; `open()` counts the connections still open. */
export async function fakeGrpcServer(respond: Respond): Promise<FakeServer & { open(): number }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const received: FakeServer["received"] = [];
  server.on("session", (session) => sessions.add(session));
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const ended = new Promise<string>((resolve) => stream.on("close", () => resolve(howEnded(stream.rstCode))));
    received.push({ headers, path: headers[":path"], ended });
    respond(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get connections() {
      return sessions.size;
    },
    open: () => [...sessions].filter((session) => !session.closed && !session.destroyed).length,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A stream's end as `Received.ended` says it, by its RST_STREAM code. */
function howEnded(code: number): string {
  const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;
  if (code === NGHTTP2_NO_ERROR) return "answered";
  if (code === NGHTTP2_CANCEL) return "stream reset with CANCEL";
  return code === NGHTTP2_INTERNAL_ERROR ? "stream reset with INTERNAL_ERROR" : `stream reset with code ${code}`;
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

/** A trailers-only error: the status in the headers, no body. */
export const notFound: Respond = (stream) =>
  stream.respond({ ...grpcHeaders, "grpc-status": "5", "grpc-message": "no session %22s1%22" }, { endStream: true });

const locked: Respond = (stream) => {
  stream.respond({ ...grpcHeaders, "x-served-by": "fake" }, { waitForTrailers: true });
  stream.on("wantTrailers", () => stream.sendTrailers(errorTrailers(detailed)));
  stream.end();
};

const serve = (respond: Respond) => () => fakeGrpcServer(respond);

export const grpc: LeanProtocol = {
  name: "gRPC",
  protocol: "grpc",
  answered: serve((stream) => {
    stream.respond({ ...grpcHeaders, "x-served-by": "fake" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-cost": "3" }));
    stream.end(loaded);
  }),
  locked: serve(locked),
  compressed: serve((stream) => {
    stream.respond({ ...grpcHeaders, "grpc-encoding": "gzip" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(loaded);
  }),
  notFound: serve(notFound),
  silent: serve(() => {}),
  failures: [
    ["a trailers-only error (the status in the headers, no body)", serve(notFound), Code.NotFound],
    ["an error with details in grpc-status-details-bin", serve(locked), Code.FailedPrecondition],
    [
      "HTTP 503 from a proxy, without a gRPC status",
      serve((stream) => stream.respond({ ":status": 503, "content-type": "text/plain" }, { endStream: true })),
      Code.Unavailable,
    ],
    [
      "a reply that is not gRPC",
      serve((stream) => {
        stream.respond({ ":status": 200, "content-type": "text/html" });
        stream.end("<html></html>");
      }),
      Code.Unknown,
    ],
    [
      "a message and no status at all",
      serve((stream) => {
        stream.respond(grpcHeaders);
        stream.end(loaded);
      }),
      Code.Internal,
    ],
  ],
  ticking: ["date"],
  framing: ["grpc-accept-encoding", ":scheme", ":authority"],
  callHeaders: { te: "trailers", "content-type": "application/grpc+proto" },
  deadlineHeader: (ms) => ["grpc-timeout", `${ms}m`],
  compressionHeaders: ["grpc-accept-encoding", "grpc-encoding"],
  contentType: "application/grpc+proto",
  okTrailers: { "grpc-status": "0" },
  abandoned: "stream reset with CANCEL",
  // connect-node resets a stream it gives up at the deadline as if it had failed itself.
  pastDeadline: { lean: "stream reset with CANCEL", "connect-node": "stream reset with INTERNAL_ERROR" },
};
