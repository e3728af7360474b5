// What the lean transports' shared suite (lean-transports.test.ts) needs to know of a protocol:
// a hand-written server that gives every call one reply, and what differs on the wire between
// Connect and gRPC. connect-protocol.ts and grpc-protocol.ts fill it in.
import type { Code } from "@connectrpc/connect";

/** One call a fake server received. */
export interface Received {
  /** The request's headers (over HTTP/2 with its pseudo-headers). */
  headers: Record<string, string | string[] | undefined>;
  path: string | undefined;
  /** How the call ended at the server: "answered", or how the client gave it up. */
  ended: Promise<string>;
}

/** A server for what the real one never sends (error details, proxies' replies, silence). */
export interface FakeServer {
  url: string;
  received: Received[];
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Replies every protocol can give, each to every call a fake server receives. */
export interface Replies {
  /** A Load response, the header x-served-by: fake and the trailer x-cost: 3. */
  answered(): Promise<FakeServer>;
  /** FAILED_PRECONDITION "session is locked" with a Duration detail (3 s), the header x-served-by: fake
   * and x-lock-owner: engine-7 in the trailers. */
  locked(): Promise<FakeServer>;
  /** A Load response compressed with gzip, which the client never offered. */
  compressed(): Promise<FakeServer>;
  /** NOT_FOUND to every unary call, and to RestoreStream what leaves its connection open: over
   * gRPC the same NOT_FOUND, over Connect an empty stream (connect-node, which carries Connect's
   * streams, closes a socket whose stream ended in an error). */
  notFound(): Promise<FakeServer>;
  /** Nothing, ever. */
  silent(): Promise<FakeServer>;
}

export interface LeanProtocol extends Replies {
  name: "Connect" | "gRPC";
  protocol: "connect" | "grpc";
  /** Replies a server could give that end a call, each with what a caller should get (as connect-node gives it). */
  failures: Array<[description: string, serve: () => Promise<FakeServer>, code: Code]>;
  /** Response headers that tick or say how the socket is kept, left out when errors are compared. */
  ticking: string[];
  /** Request headers that differ by transport unseen by a server: connect-node's offer of
   * compression, and how the HTTP version frames the body or names the origin. */
  framing: string[];
  /** Headers every call sends. */
  callHeaders: Record<string, string>;
  /** The request header that tells the server a deadline of `ms`. */
  deadlineHeader(ms: number): [name: string, value: string];
  /** The request headers that would offer or declare compression. */
  compressionHeaders: string[];
  /** The content type of a successful reply. */
  contentType: string;
  /** The trailers the protocol itself adds to a successful reply. */
  okTrailers: Record<string, string>;
  /** How a call the client gave up on ends at the server (`Received.ended`). */
  abandoned: string;
  /** How a call past its deadline ends at the server, by transport. */
  pastDeadline: Record<"lean" | "connect-node", string>;
}
