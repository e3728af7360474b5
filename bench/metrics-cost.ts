/**
 * What the metrics interceptor adds to one call's server CPU: the transport's own unary invoker
 * (src/transport/unary-invoke.ts, as the gRPC lane and the unary adapter run it) around a Load
 * that answers at once, with the drain and error mapping in the chain — once without metrics and
 * once with them in front, as src/rpc/routes.ts places them. The request carries a gRPC client's
 * usual header fields, so the interceptor's one header read (the content type, for the protocol
 * label) costs what it costs for real. No socket, no database: the difference between the two is
 * the interceptor alone. The two take turns, several rounds each; compare within a run.
 *
 * Usage: npx tsx bench/metrics-cost.ts
 * Environment: BENCH_CALLS (calls per round, default 200000), BENCH_ROUNDS (default 5).
 */
import { create } from "@bufbuild/protobuf";
import { createMethodImplSpec, type Interceptor } from "@connectrpc/connect";
import { LoadRequestSchema, SessionService } from "../gen/isotope/session/v1/session_pb.js";
import { createMetrics } from "../src/metrics/metrics.js";
import { createDrain } from "../src/rpc/interceptors/drain.js";
import { errorInterceptor } from "../src/rpc/interceptors/errors.js";
import { createUnaryInvoker } from "../src/transport/unary-invoke.js";

const calls = Number(process.env.BENCH_CALLS ?? 200_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);

const spec = createMethodImplSpec(SessionService.method.load, () => ({}));
if (spec.kind !== "unary") throw new Error("Load is unary");
const input = create(LoadRequestSchema, { sessionId: "bench-session" });
const fields = {
  "content-type": "application/grpc",
  te: "trailers",
  "user-agent": "connect-es/2.1.2",
  "grpc-timeout": "5000m",
  "grpc-accept-encoding": "gzip",
};

const invokerWith = (interceptors: Interceptor[]) =>
  createUnaryInvoker({ interceptors, shutdownSignal: new AbortController().signal });
const chains = {
  "without metrics": invokerWith([createDrain().interceptor, errorInterceptor()]),
  "with metrics": invokerWith([createMetrics({}).interceptor, createDrain().interceptor, errorInterceptor()]),
};

async function round(invoke: ReturnType<typeof invokerWith>): Promise<number> {
  const cpu = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const outcome = await invoke(spec as Parameters<typeof invoke>[0], input, {
      protocolName: "grpc",
      requestMethod: "POST",
      url: "/isotope.session.v1.SessionService/Load",
      requestFields: () => fields,
      traceparent: null,
      timeoutMs: 5000,
      controller: new AbortController(),
    });
    if (outcome.error !== undefined) throw outcome.error;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / calls;
}

const results = new Map<string, number[]>(Object.keys(chains).map((name) => [name, []]));
for (const invoke of Object.values(chains)) await round(invoke); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, invoke] of Object.entries(chains)) results.get(name)?.push(await round(invoke));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
for (const [name, values] of results) {
  console.log(`${name.padEnd(16)} ${median(values).toFixed(2)} µs CPU per call (median of ${rounds} × ${calls})`);
}
const added = median(results.get("with metrics") ?? []) - median(results.get("without metrics") ?? []);
console.log(`metrics add ${added.toFixed(2)} µs CPU per call`);
