/**
 * createServer(deps): the HTTP/2 listener with every service on one port — SessionService,
 * grpc.health.v1.Health and gRPC reflection (v1 and v1alpha) — speaking gRPC (h2c, prior
 * knowledge, or TLS when a certificate is given), gRPC-Web and Connect over HTTP/2 and HTTP/1.1,
 * behind bearer-token access control when tokens are configured. It does not listen: `listen()` does,
 * and `close()` drains in-flight RPCs within a grace period.
 */

import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { createFileRegistry, type DescFile, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { Logger } from "pino";
import { file_health_v1_health, HealthCheckResponse_ServingStatus } from "../gen/health/v1/health_pb.js";
import { file_isotope_session_v1_session, SessionService } from "../gen/isotope/session/v1/session_pb.js";
import { authInterceptor } from "./auth.js";
import type { AuthConfig, Limits } from "./config.js";
import { createConnectHandler, type NodeHandler } from "./connect-handler.js";
import { withCors } from "./cors.js";
import type { Db } from "./db/database.js";
import { createGrpcFastPath } from "./grpc-fast-path.js";
import { createHealth } from "./health.js";
import { createDrain, errorInterceptor, loggingInterceptor } from "./interceptors.js";
import { createDualListener, type Listener } from "./listener.js";
import { registerReflection } from "./reflection.js";
import type { SessionCache } from "./sessions/cache.js";
import type { SessionRepository } from "./sessions/repository.js";
import { createSessionService } from "./sessions/service.js";
import type { Spool } from "./sessions/spool.js";
import { createTlsListener, type TlsMaterial } from "./tls.js";

export interface ServerDeps {
  db: Db;
  repository: SessionRepository;
  limits: Limits;
  log: Logger;
  /** How often the database is probed for health (ms). */
  healthProbeMs?: number;
  /** Browser origins allowed by CORS ("*" = any); none by default. */
  corsOrigins?: readonly string[];
  /** The outage journal (blind Saves while the database is down); replayed when it is back. */
  spool?: Spool;
  /** The hot cache wrapping `repository`, for CheckConnection's figures. */
  cache?: SessionCache;
  /** Bearer tokens and their roles; none = every call allowed. */
  auth?: AuthConfig;
  /** Certificate and key (and client CA for mutual TLS); none = cleartext h2c and HTTP/1.1. */
  tls?: TlsMaterial;
}

export interface Server {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful stop: health NOT_SERVING, no new connections or RPCs (UNAVAILABLE), in-flight RPCs
   * finish; after `graceMs` the rest are cancelled. Does not close the database.
   */
  close(graceMs: number): Promise<void>;
}

const sessionServiceName = SessionService.typeName;

/**
 * A path no service serves. gRPC callers get UNIMPLEMENTED as a gRPC status (a bare HTTP 404
 * reaches some clients as an unexplained transport error); everyone else gets 404.
 */
const unknownRoute: NodeHandler = (req, res) => {
  const type = String(req.headers["content-type"] ?? "");
  if (!type.startsWith("application/grpc")) {
    res.writeHead(404);
    res.end();
    return;
  }
  const status = {
    "content-type": type,
    "grpc-status": String(Code.Unimplemented),
    "grpc-message": encodeURIComponent(`unknown method ${req.url ?? ""}`),
  };
  const stream = (req as Http2ServerRequest).stream;
  // Over HTTP/2 a trailers-only response is one HEADERS frame that ends the stream.
  if (stream && !stream.closed) stream.respond({ ":status": 200, ...status }, { endStream: true });
  else {
    res.writeHead(200, status);
    res.end();
  }
};

export function createServer({
  db,
  repository,
  limits,
  log,
  healthProbeMs = 2000,
  corsOrigins = [],
  spool,
  cache,
  auth,
  tls,
}: ServerDeps): Server {
  const health = createHealth();
  const drain = createDrain();
  const shutdown = new AbortController();
  // Every in-flight handler listens on this signal: hundreds at once is normal, not a leak.
  setMaxListeners(0, shutdown.signal);

  const sessionService = createSessionService({ db, repository, limits, spool, cache });
  // One chain for the Connect router (every service, health and reflection included) and the gRPC
  // fast path, so both enforce the same access control. Auth runs inside logging (a refused call
  // is logged with its code, never its token) and before the drain: a refused call never counts
  // as in flight, and an unauthenticated caller gets UNAUTHENTICATED even while we shut down —
  // retrying on another replica would not help it.
  const access = auth === undefined ? undefined : authInterceptor(auth);
  const interceptors = [
    loggingInterceptor(log),
    ...(access === undefined ? [] : [access]),
    drain.interceptor,
    errorInterceptor(),
  ];
  // Each JSON level of a Struct is two or three protobuf message levels (Struct → Value → …):
  // let the decoder reach past max_depth so the validator can refuse it with the field named.
  const recursionLimit = limits.maxDepth * 4 + 32;
  const routes = (router: ConnectRouter) => {
    router.service(SessionService, sessionService);
    health.registerOn(router);
    registerReflection(router, [describedSessionFile(), file_health_v1_health]);
  };
  const handler = createConnectHandler({
    routes,
    interceptors,
    readMaxBytes: limits.maxReceiveBytes,
    binaryOptions: { recursionLimit },
    jsonOptions: { recursionLimit },
    // Compressing 4 KB responses costs more CPU than the loopback / LAN bytes it saves.
    acceptCompression: [],
    shutdownSignal: shutdown.signal,
    fallback: unknownRoute,
    log,
  });

  const fastPath = createGrpcFastPath({
    service: SessionService,
    implementation: sessionService,
    interceptors,
    readMaxBytes: limits.maxReceiveBytes,
    binaryOptions: { recursionLimit },
    shutdownSignal: shutdown.signal,
  });
  const connect = releaseOnClose(handler);
  const serve: NodeHandler = (req, res) => {
    if (req.httpVersionMajor === 2 && fastPath(req as Http2ServerRequest, res as Http2ServerResponse)) return;
    connect(req, res);
  };
  const listener: Listener =
    tls === undefined
      ? createDualListener(withCors(corsOrigins, serve))
      : createTlsListener(withCors(corsOrigins, serve), tls);
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

  // SERVING only while the database answers: probe it, and flip on the first failure.
  const setStatus = (serving: boolean) => {
    const status = serving ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
    health.set("", status);
    health.set(sessionServiceName, status);
  };
  let lastServing: boolean | undefined;
  const probe = async () => {
    let serving = false;
    try {
      const { now } = await repository.ping(AbortSignal.timeout(Math.max(500, healthProbeMs)));
      serving = true;
      if (spool) {
        spool.observeDatabaseClock(now);
        if (spool.status().pending > 0) void spool.replayAll();
      }
    } catch {
      serving = false;
    }
    if (shutdown.signal.aborted) return;
    if (serving !== lastServing) {
      if (lastServing !== undefined)
        log.warn({ serving }, serving ? "database answers again" : "database does not answer");
      lastServing = serving;
      setStatus(serving);
    }
  };
  let probeTimer: NodeJS.Timeout | undefined;
  const probeLoop = async () => {
    await probe();
    if (!shutdown.signal.aborted) probeTimer = setTimeout(probeLoop, healthProbeMs);
  };

  return {
    async listen(port, host) {
      await probe();
      void probeLoop();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    },

    async close(graceMs) {
      clearTimeout(probeTimer);
      drain.start();
      health.shutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Open connections stay up while RPCs drain: a call arriving now gets a real UNAVAILABLE
      // status from the drain interceptor. A GOAWAY now would make nghttp2 refuse every later
      // stream (node has no two-phase "shutdown notice"), and connect-node reports a refused
      // stream as INTERNAL.
      const graceOver = new Promise<"timeout">((resolve) => setTimeout(resolve, graceMs, "timeout").unref());
      if ((await Promise.race([drain.idle(), graceOver])) === "timeout") {
        log.warn({ in_flight: drain.inFlight }, "grace period over: cancelling the RPCs still running");
        shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
      }
      // Calls already on the wire still get their UNAVAILABLE rather than a refused stream.
      // Bounded: a handler stuck writing to a peer that never reads must not hold the exit.
      await Promise.race([
        new Promise((resolve) => setTimeout(resolve, 250)).then(() => drain.idle()),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
      // Final GOAWAY, let the last responses and trailers flush, then cut whatever is still open
      // (idle HTTP/1.1 keep-alive connections, peers that never read).
      for (const session of sessions) if (!session.closed) session.close();
      const flushed = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
      await Promise.race([closed, flushed]);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * A response stream whose peer went away (connection reset, stream cancelled) closes without an
 * "error" event, and connect-node's writer waits for "drain" or "error" forever: the handler of an
 * abandoned RestoreStream would stay suspended, holding its batch and the drain count. Turning
 * such a close into an error lets the writer fail and the handler finish.
 */
function releaseOnClose(handler: NodeHandler): NodeHandler {
  return (req, res) => {
    res.once("close", () => {
      if (!res.writableFinished && res.listenerCount("error") > 0) {
        res.emit("error", new Error("the client closed the stream before the response was complete"));
      }
    });
    handler(req, res);
  };
}

/**
 * The contract as reflection serves it: from the descriptor set `npm run generate` builds, which
 * keeps the .proto comments (the descriptor embedded in gen/*_pb.ts drops them).
 */
function describedSessionFile(): DescFile {
  const bytes = readFileSync(new URL("../gen/isotope/session/v1/session.binpb", import.meta.url));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  return registry.getFile(file_isotope_session_v1_session.proto.name) ?? file_isotope_session_v1_session;
}
