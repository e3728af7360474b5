/**
 * Client CPU per unary call: createSessionClient over the lean gRPC transport against the same
 * client over connect-node's, loading a ~4.5 KB session (bench/workload.ts's document) from the
 * compiled service in a process of its own (bench/server.ts). CPU is this process's user + system
 * time (process.cpuUsage) over the measured calls, divided by the calls; the server's is not
 * counted. A third path, "floor", is the least a Node client can do — node:http2 and protobuf-es
 * with no deadline, interceptor, check or error handling — to tell the transport's share from
 * Node's and protobuf's. Paths take turns, several rounds each, so drift on a shared machine hits
 * all of them alike; compare within a run.
 *
 * Usage: npx tsx packages/client/bench/unary-cost.ts
 * Environment: BENCH_CALLS (measured calls per round, default 20000), BENCH_ROUNDS (default 3),
 * BENCH_CONCURRENCY (default "32,1"), BENCH_PATHS (default "connect-node,lean,floor"). The server
 * runs on an embedded database in a temporary directory (loads come from its cache), so nothing
 * is left behind.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { spawnServer } from "../../../bench/server.js";
import { sessionData, sessionId } from "../../../bench/workload.js";
import type * as Client from "../src/index.js";

// The client as users run it: compiled by tsc (the package's build), not transpiled on the fly by
// tsx, whose keepNames helper would add its own cost to every closure.
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(packageDir, "../../node_modules/typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: packageDir, stdio: "inherit" });
const { createSessionClient, LoadRequestSchema, LoadResponseSchema, SessionService } = (await import(
  join(packageDir, "dist/packages/client/src/index.js")
)) as typeof Client;

const calls = Number(process.env.BENCH_CALLS ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? "32,1").split(",").map(Number);
const pathNames = (process.env.BENCH_PATHS ?? "connect-node,lean,floor").split(",");
const sessions = 100;

type Load = (index: number) => Promise<unknown>;

/** Runs `count` loads with `concurrency` in flight: client CPU µs per call, and calls per second. */
async function measure(load: Load, count: number, concurrency: number) {
  let issued = 0;
  const worker = async () => {
    while (issued < count) await load(issued++ % sessions);
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuMicrosPerCall: (used.user + used.system) / count, callsPerSecond: count / seconds };
}

/** The floor: one HTTP/2 session, a framed request, the response's message decoded, nothing else. */
function floorLoad(url: string): Load {
  const session = http2.connect(url);
  session.unref();
  const path = `/${SessionService.typeName}/${SessionService.method.load.name}`;
  return (index) =>
    new Promise((resolve, reject) => {
      const request = toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: sessionId(index) }));
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc+proto" });
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("end", () => resolve(fromBinary(LoadResponseSchema, Buffer.concat(chunks).subarray(5))));
      const frame = Buffer.alloc(5 + request.length);
      frame.writeUInt32BE(request.length, 1);
      frame.set(request, 5);
      stream.end(frame);
    });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const dataDir = mkdtempSync(join(tmpdir(), "isotope-unary-cost-"));
const server = await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]);
try {
  const client = (transport: "lean" | "connect-node") =>
    createSessionClient({ baseUrl: server.url, transport, timeoutMs: 10_000 });
  const lean = client("lean");
  const reference = client("connect-node");
  const paths: Record<string, Load> = {
    "connect-node": (index) => reference.load({ sessionId: sessionId(index) }),
    lean: (index) => lean.load({ sessionId: sessionId(index) }),
    floor: floorLoad(server.url),
  };
  // The service binds its port before its database is open, and answers UNAVAILABLE until then.
  while (!(await lean.checkConnection({}).catch(() => ({ ok: false }))).ok) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  for (let index = 0; index < sessions; index++) {
    await lean.save({ sessionId: sessionId(index), data: sessionData(index, 1) });
  }
  const document = (await lean.load({ sessionId: sessionId(0) })).session?.data;
  console.log(`Load of a ${JSON.stringify(document).length}-byte JSON document, ${calls} calls a round`);
  for (const concurrency of concurrencies) {
    const results = new Map<string, number[]>(pathNames.map((name) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, figures] of results) {
        const load = paths[name] as Load;
        await measure(load, Math.min(2000, calls), concurrency); // warm-up
        const { cpuMicrosPerCall, callsPerSecond } = await measure(load, calls, concurrency);
        figures.push(cpuMicrosPerCall);
        const cpu = `${cpuMicrosPerCall.toFixed(1).padStart(7)} µs CPU/call`;
        console.log(
          `c=${concurrency} round ${round} ${name.padEnd(13)}${cpu} ${callsPerSecond.toFixed(0).padStart(6)} calls/s`,
        );
      }
    }
    const medians = [...results].map(([name, figures]) => `${name} ${median(figures).toFixed(1)} µs`);
    console.log(`c=${concurrency} median client CPU per Load: ${medians.join(", ")}`);
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
