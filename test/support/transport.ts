// The transport alone on a real port: createRpcHandler and createHttpServer (as src/app.ts builds
// them) serving a stand-in SessionService — no database, no sessions code — whose Load behaves as
// its session id says, behind one interceptor that records every call it sees. Plus a raw client
// for bodies no generated client would send, and a reader for the status of any protocol's answer.
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { createRpcHandler } from "../../src/transport/handler.js";
import { createHttpServer } from "../../src/transport/http-server.js";
import { capturingLogger } from "./server.js";

export interface SeenCall {
  procedure: string;
  requestMethod: string;
  /** The x-caller request header, as the interceptor saw it. */
  caller: string | null;
}

export interface TransportServer {
  url: string;
  port: number;
  /** Every call the interceptor saw, in order. */
  seen: SeenCall[];
  /** Why each "wait" call's signal was aborted, as the handler saw it. */
  aborted: unknown[];
  /** "wait" calls in their handler now. */
  readonly waiting: number;
  logs: Array<Record<string, unknown>>;
  /** Aborting it cancels every call in flight (what src/app.ts does when the grace period ends). */
  shutdown: AbortController;
  stop(): Promise<void>;
}

/**
 * Load by session id: "echo" answers with the id, a response header and a trailer; "wait" waits
 * for its signal and throws the reason; "fail" throws NOT_FOUND with metadata; "boom" throws a
 * plain Error. RestoreStream sends one message with restored_count = batch_size; Health Check
 * answers SERVING. CORS allows https://page.example.
 */
export async function startTransportServer(readMaxBytes = 64 * 1024): Promise<TransportServer> {
  const seen: SeenCall[] = [];
  const aborted: unknown[] = [];
  let waiting = 0;
  const logs: Array<Record<string, unknown>> = [];
  const recording: Interceptor = (next) => async (req) => {
    seen.push({
      procedure: `${req.service.typeName}/${req.method.name}`,
      requestMethod: req.requestMethod,
      caller: req.header.get("x-caller"),
    });
    const response = await next(req);
    response.header.set("x-intercepted", "yes");
    return response;
  };
  const shutdown = new AbortController();
  const handler = createRpcHandler({
    routes: (router) =>
      router
        .service(Health, { check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) })
        .service(SessionService, {
          async load(request, context) {
            if (request.sessionId === "wait") {
              waiting++;
              await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
              waiting--;
              aborted.push(context.signal.reason);
              throw context.signal.reason;
            }
            if (request.sessionId === "fail")
              throw new ConnectError("no such thing", Code.NotFound, { "x-why": "gone" });
            if (request.sessionId === "boom") throw new Error("secret database text");
            context.responseHeader.set("x-protocol", context.protocolName);
            context.responseTrailer.set("x-trailer", "last");
            return { session: { sessionId: request.sessionId } };
          },
          async *restoreStream(request) {
            yield { progress: { restoredCount: BigInt(request.batchSize) }, done: true };
          },
        }),
    interceptors: [recording],
    readMaxBytes,
    recursionLimit: 100,
    shutdownSignal: shutdown.signal,
    corsOrigins: ["https://page.example"],
    log: capturingLogger(logs),
  });
  const server = createHttpServer(handler, { log: capturingLogger(logs) });
  const port = await server.listen(0, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    aborted,
    get waiting() {
      return waiting;
    },
    logs,
    shutdown,
    stop: () => server.disconnect(),
  };
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on a connection of its own, over HTTP/1.1 or HTTP/2; over TLS when `ca` is given. */
export function rawRequest(
  port: number,
  version: "1.1" | "2",
  request: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer },
  ca?: Buffer,
): Promise<RawAnswer> {
  const method = request.method ?? "POST";
  return new Promise((resolve, reject) => {
    if (version === "1.1") {
      const call = (ca === undefined ? http : https).request({
        ca,
        host: "127.0.0.1",
        port,
        method,
        path: request.path,
        headers: request.headers,
        agent: false,
      });
      call.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            trailers: response.trailers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      call.on("error", reject);
      call.end(request.body);
      return;
    }
    const session = http2.connect(`${ca === undefined ? "http" : "https"}://127.0.0.1:${port}`, { ca });
    session.on("error", reject);
    const stream = session.request({ ":method": method, ":path": request.path, te: "trailers", ...request.headers });
    const answer: RawAnswer = { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    stream.on("response", (headers) => {
      answer.status = Number(headers[":status"]);
      answer.headers = headers;
    });
    stream.on("trailers", (trailers) => {
      answer.trailers = trailers;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({ ...answer, body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    stream.end(request.body);
  });
}

/** A length-prefixed message: flags, a 4-byte big-endian length, the bytes. */
export const envelope = (bytes: Uint8Array, flags = 0) => {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
};

/**
 * The code an answer carries, by name ("InvalidArgument", "OK" …), whatever the protocol: a
 * grpc-status header or trailer, a gRPC-Web trailer frame, a Connect unary error body, or a
 * Connect end-stream frame.
 */
export function codeOf(answer: RawAnswer): string {
  const grpcStatus = answer.trailers["grpc-status"] ?? answer.headers["grpc-status"];
  if (grpcStatus !== undefined) return grpcCodeName(grpcStatus);
  const type = String(answer.headers["content-type"] ?? "");
  if (type.startsWith("application/grpc-web")) {
    for (const frame of frames(answer.body)) {
      if (frame.flags === trailerFlag) return grpcCodeName(trailerParse(frame.data).get("grpc-status"));
    }
    return "no trailer frame";
  }
  if (type === "application/connect+proto") {
    const end = frames(answer.body).find((frame) => frame.flags === 0b10);
    const error = end && (JSON.parse(end.data.toString()) as { error?: { code: string } }).error;
    return error ? connectCodeName(error.code) : "OK";
  }
  if (type === "application/json")
    return connectCodeName((JSON.parse(answer.body.toString()) as { code: string }).code);
  return answer.status === 200 ? "OK" : `HTTP ${answer.status}`;
}

/** Connect's Code has no member for success. */
const grpcCodeName = (status: unknown) => (String(status) === "0" ? "OK" : (Code[Number(status)] ?? `?${status}`));
const connectCodeName = (code: string) => code.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());

function frames(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body[at] as number, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}
