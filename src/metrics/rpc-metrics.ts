/**
 * Every call on every protocol, as go-grpc-prometheus counts a gRPC server's: started, handled by
 * code, and how long it took — labelled with the protocol it came by (grpc, grpc-web, connect, or
 * http for the seed's HTTP API). One interceptor in the chain every protocol shares, so each call
 * is counted once. It also hands the outcomes the domain metrics count (restores, manual cleanups)
 * to `domain`, read from the responses themselves.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";
import {
  type CleanupRequest,
  type CleanupResponse,
  type RestoreResponse,
  type RestoreStreamResponse,
  SessionService,
} from "../../gen/isotope/session/v1/session_pb.js";
import { afterStream, endError } from "../rpc/interceptors/stream-end.js";
import { callProtocol } from "../transport/call-origin.js";
import type { SessionMetrics } from "./session-metrics.js";

const grpcTypes: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** The metrics of one method on one protocol, bound once: a call only increments. */
interface Bound {
  started: { inc(): void };
  seconds: { observe(value: number): void };
  /** By code number; filled as codes occur. */
  handled: Array<{ inc(): void } | undefined>;
}

const { restore, restoreStream, cleanup } = SessionService.method;

export function rpcMetrics(registry: Registry, domain: SessionMetrics): Interceptor {
  const labelNames = ["grpc_type", "grpc_service", "grpc_method", "protocol"] as const;
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server, on every protocol.",
    labelNames,
    registers: [registry],
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, whatever their code (refused ones included).",
    labelNames: [...labelNames, "grpc_code"],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time from the call reaching the interceptors to its answer (a stream: to its end), in seconds.",
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const byMethod = new Map<DescMethod, Map<string, Bound>>();
  const bound = (method: DescMethod, protocol: string): Bound => {
    let byProtocol = byMethod.get(method);
    if (byProtocol === undefined) {
      byProtocol = new Map();
      byMethod.set(method, byProtocol);
    }
    let metrics = byProtocol.get(protocol);
    if (metrics === undefined) {
      const labels = {
        grpc_type: grpcTypes[method.methodKind],
        grpc_service: method.parent.typeName,
        grpc_method: method.name,
        protocol,
      };
      metrics = { started: started.labels(labels), seconds: seconds.labels(labels), handled: [] };
      byProtocol.set(protocol, metrics);
    }
    return metrics;
  };
  const handledWith = (metrics: Bound, method: DescMethod, protocol: string, code: number) => {
    let counter = metrics.handled[code];
    if (counter === undefined) {
      counter = handled.labels({
        grpc_type: grpcTypes[method.methodKind],
        grpc_service: method.parent.typeName,
        grpc_method: method.name,
        protocol,
        grpc_code: code === 0 ? "OK" : Code[code],
      });
      metrics.handled[code] = counter;
    }
    counter.inc();
  };

  return (next) => async (req) => {
    const startedAt = performance.now();
    const protocol = callProtocol(req);
    const metrics = bound(req.method, protocol);
    metrics.started.inc();
    const finish = (error: unknown) => {
      metrics.seconds.observe((performance.now() - startedAt) / 1000);
      handledWith(metrics, req.method, protocol, endError(req.signal, error)?.code ?? 0);
    };
    let response: Awaited<ReturnType<typeof next>>;
    try {
      response = await next(req);
    } catch (error) {
      finish(error);
      throw error;
    }
    if (response.stream) {
      const messages =
        req.method === restoreStream
          ? countRestored(response.message as AsyncIterable<RestoreStreamResponse>, domain)
          : response.message;
      return { ...response, message: afterStream(messages, finish) } as StreamResponse;
    }
    finish(undefined);
    if (req.method === restore) {
      const { restoredCount, failedCount, skippedExpiredCount } = response.message as RestoreResponse;
      domain.restored(Number(restoredCount), Number(failedCount), Number(skippedExpiredCount));
    } else if (req.method === cleanup && !(req.message as CleanupRequest).dryRun) {
      const { expiredCount, purgedCount } = response.message as CleanupResponse;
      domain.cleanupRan("rpc", {
        durationMs: performance.now() - startedAt,
        expired: Number(expiredCount),
        purged: Number(purgedCount),
        endedAt: Date.now(),
      });
    }
    return response;
  };
}

/** Passes RestoreStream's messages on, counting the sessions and failures each carries. */
async function* countRestored(
  stream: AsyncIterable<RestoreStreamResponse>,
  domain: SessionMetrics,
): AsyncIterable<RestoreStreamResponse> {
  for await (const message of stream) {
    domain.restored(message.sessions.length, message.failures.length, 0);
    yield message;
  }
}
