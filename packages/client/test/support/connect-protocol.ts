// Connect as the lean transports' shared suite sees it: a hand-written HTTP/1.1 server, the replies
// it can give, and what Connect puts on the wire.
import http from "node:http";
import type net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { LoadResponseSchema } from "../../src/index.js";
import type { FakeServer, LeanProtocol } from "./lean-protocol.js";

type Respond = (res: http.ServerResponse, req: http.IncomingMessage) => void;

/** An HTTP/1.1 server answering every request with `respond`. */
export async function fakeConnectServer(respond: Respond): Promise<FakeServer> {
  const received: FakeServer["received"] = [];
  const server = http.createServer((req, res) => {
    const ended = new Promise<string>((resolve) =>
      res.on("close", () => resolve(res.writableFinished ? "answered" : "request destroyed")),
    );
    received.push({ headers: req.headers, path: req.url, ended });
    req.resume();
    req.on("end", () => respond(res, req));
  });
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get connections() {
      return connections;
    },
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

const answered: Respond = (res) => {
  res.writeHead(200, { "content-type": "application/proto", "x-served-by": "fake", "trailer-x-cost": "3" });
  res.end(loaded);
};

const locked: Respond = (res) => {
  res.writeHead(400, { "content-type": "application/json", "x-served-by": "fake", "trailer-x-lock-owner": "engine-7" });
  res.end(Buffer.from(errorToJsonBytes(detailed, {})));
};

const unfound = JSON.stringify({ code: "not_found", message: 'no session "s1"' });
/** A stream's last envelope (flags 0x02), without an error: an empty stream. */
const endEnvelope = Buffer.from([2, 0, 0, 0, 2, ...Buffer.from("{}")]);

const notFound: Respond = (res, req) => {
  if (req.headers["content-type"] === "application/connect+proto") {
    res.writeHead(200, { "content-type": "application/connect+proto" });
    res.end(endEnvelope);
  } else {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(unfound);
  }
};

const serve = (respond: Respond) => () => fakeConnectServer(respond);

export const connect: LeanProtocol = {
  name: "Connect",
  protocol: "connect",
  answered: serve(answered),
  locked: serve(locked),
  compressed: serve((res) => {
    res.writeHead(200, { "content-type": "application/proto", "content-encoding": "gzip" });
    res.end(loaded);
  }),
  notFound: serve(notFound),
  silent: serve(() => {}),
  failures: [
    ["a Connect error with details, metadata and trailer- headers", serve(locked), Code.FailedPrecondition],
    [
      "a JSON error body that is not a Connect error",
      serve((res) => {
        res.writeHead(404, { "content-type": "application/json" });
        res.end("not json");
      }),
      Code.Unimplemented,
    ],
    [
      "HTTP 503 from a proxy, not Connect at all",
      serve((res) => {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("try later");
      }),
      Code.Unavailable,
    ],
    [
      "a 200 reply that is not Connect",
      serve((res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html></html>");
      }),
      Code.Unknown,
    ],
    [
      "a 200 reply in JSON to a binary request",
      serve((res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      }),
      Code.Internal,
    ],
    [
      "a message that does not parse",
      serve((res) => {
        res.writeHead(200, { "content-type": "application/proto" });
        res.end(Buffer.from([0xff, 0xff, 0xff]));
      }),
      Code.Internal,
    ],
  ],
  ticking: ["date", "keep-alive", "connection"],
  framing: ["accept-encoding", "content-length", "transfer-encoding", "host"],
  callHeaders: { "content-type": "application/proto", "connect-protocol-version": "1", connection: "keep-alive" },
  deadlineHeader: (ms) => ["connect-timeout-ms", String(ms)],
  compressionHeaders: ["accept-encoding", "content-encoding"],
  contentType: "application/proto",
  okTrailers: {},
  abandoned: "request destroyed",
  pastDeadline: { lean: "request destroyed", "connect-node": "request destroyed" },
};
