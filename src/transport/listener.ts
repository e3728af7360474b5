/**
 * One cleartext port for both HTTP versions. Node's HTTP/2 server only offers HTTP/1.1 fallback
 * over TLS (ALPN), so without TLS we look at the first bytes of each connection: the HTTP/2
 * client preface ("PRI * HTTP/2.0…") goes to the HTTP/2 server (gRPC with prior knowledge, and
 * Connect / gRPC-Web over h2c), anything else to the HTTP/1.1 server (Connect, gRPC-Web, curl).
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { installLane } from "./grpc-lane.js";
import type { NodeHandler } from "./node-handler.js";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** What the HTTP server listens with: this cleartext pair, or the TLS server of tls.ts. */
export interface Listener {
  /** The listening socket server ("connection" for every TCP socket). */
  readonly net: net.Server;
  /** Emits "session" and "sessionError" for every HTTP/2 connection. */
  readonly http2: http2.Http2Server | http2.Http2SecureServer;
  /** The HTTP/1.1 server, when it is a separate one (cleartext). */
  readonly http1?: http.Server;
}

export interface DualListener extends Listener {
  readonly http1: http.Server;
  readonly http2: http2.Http2Server;
}

/** A connection that has not said which protocol it speaks by then is closed (TLS: handshaken). */
export const defaultSniffTimeoutMs = 10_000;

export function createDualListener(
  handler: NodeHandler,
  options: { http2?: http2.ServerOptions; sniffTimeoutMs?: number } = {},
): DualListener {
  const h2 = http2.createServer(options.http2 ?? {}, handler);
  if (handler.lane) installLane(h2, handler.lane);
  const h1 = http.createServer(handler);
  // No Nagle: an answer is one write and must leave at once (a unary call is request / response).
  const server = net.createServer({ noDelay: true }, (socket) => {
    let seen = Buffer.alloc(0);
    // Until the first bytes decide, nothing else watches this socket: a peer that connects and
    // stays silent would hold a descriptor for ever.
    socket.setTimeout(options.sniffTimeoutMs ?? defaultSniffTimeoutMs, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, preface.length);
      const isHttp2 = seen.subarray(0, n).equals(preface.subarray(0, n));
      // Undecided until either the bytes diverge from the preface or the whole preface is here.
      if (isHttp2 && n < preface.length) return;
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.pause();
      // Both servers take bytes already buffered on the socket before reading from it.
      socket.unshift(seen);
      (isHttp2 ? h2 : h1).emit("connection", socket);
      // The HTTP/1.1 parser reads in flowing mode; HTTP/2 reads from the native handle itself
      // (resuming here would hand its bytes to no one).
      if (!isHttp2) socket.resume();
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  return { net: server, http1: h1, http2: h2 };
}
