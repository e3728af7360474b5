/**
 * The port: one listening socket for HTTP/1.1 and HTTP/2 — cleartext (sniffed, see listener.ts) or
 * TLS (ALPN, see tls.ts) — that hands every request to one NodeHandler. It keeps track of its
 * connections so a shutdown can stop accepting, let answers flush, then cut what is left.
 */
import type { Http2Session } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "pino";
import { createDualListener, type Listener } from "./listener.js";
import type { NodeHandler } from "./node-handler.js";
import { createTlsListener, type TlsMaterial } from "./tls.js";

export interface HttpServer {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting connections. Open ones stay up, so a call arriving on them now still gets a
   * real answer (UNAVAILABLE from the drain) — a GOAWAY now would make nghttp2 refuse every later
   * stream (node has no two-phase "shutdown notice"), and connect-node reports a refused stream as
   * INTERNAL. Resolves when every connection has closed (see disconnect).
   */
  stopAccepting(): Promise<void>;
  /**
   * Final GOAWAY to every HTTP/2 connection, a moment for the last responses and trailers to
   * flush, then every socket still open (idle HTTP/1.1 keep-alive, peers that never read) is cut.
   */
  disconnect(): Promise<void>;
}

export function createHttpServer(handler: NodeHandler, options: { tls?: TlsMaterial; log: Logger }): HttpServer {
  const { log } = options;
  const listener: Listener =
    options.tls === undefined ? createDualListener(handler) : createTlsListener(handler, options.tls);
  const server = listener.net;
  const sessions = new Set<Http2Session>();
  listener.http2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    // A peer that sends garbage must not take the process down.
    session.on("error", (error) => log.debug({ err: error }, "http2 session error"));
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  listener.http2.on("sessionError", (error: Error) => log.debug({ err: error }, "http2 session error"));
  // A failed handshake: no certificate (mutual TLS), an untrusted one, or not TLS at all.
  listener.http2.on("tlsClientError", (error: Error) => log.debug({ err: error }, "tls handshake refused"));
  listener.http1?.on("clientError", (error, socket) => {
    log.debug({ err: error }, "http/1.1 client error");
    socket.destroy();
  });

  let closed: Promise<void> | undefined;
  return {
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    },
    stopAccepting() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closed;
    },
    async disconnect() {
      const allClosed = this.stopAccepting();
      for (const session of sessions) if (!session.closed) session.close();
      const flushed = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
      await Promise.race([allClosed, flushed]);
      for (const socket of sockets) socket.destroy();
      await allClosed;
    },
  };
}
