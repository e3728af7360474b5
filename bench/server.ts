/**
 * The product's server for a benchmark: the compiled service (`node dist/src/main.js`, as
 * production runs it, rebuilt first so the figures are of the current source) in a process of its
 * own on a random port, ready when its health check says SERVING (at any --log-level), and its
 * memory read from /proc while it runs (its CPU: cpu.ts).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";

export interface BenchServer {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL("..", import.meta.url));
let built = false;

export async function spawnServer(args: string[], nodeArgs: string[] = []): Promise<BenchServer> {
  if (!built) {
    execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
    built = true;
  }
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [...nodeArgs, "dist/src/main.js", "--port", String(port), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  child.stdout?.resume();
  // The port is bound before the database is open (calls get UNAVAILABLE until then): ready is
  // the health check answering SERVING.
  const url = `http://127.0.0.1:${port}`;
  while (!(await serving(url))) {
    if (exited) throw new Error(`server exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/** Whether grpc.health.v1.Health/Check answers SERVING (status = 1: bytes 08 01 after the envelope). */
function serving(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const session = http2.connect(url);
    session.on("error", () => resolve(false));
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => resolve(false));
    stream.on("close", () => {
      session.close();
      const body = Buffer.concat(chunks);
      resolve(body.length >= 7 && body[5] === 0x08 && body[6] === 0x01);
    });
    stream.end(Buffer.alloc(5));
  });
}

/** Resident memory of a process, in bytes. */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line?.[1] ?? 0) * 1024;
}

/** The p-th percentile (0–100) of `values`, in their unit. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `call` `count` times one after another; the duration of each, in ms. */
export async function timed(count: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call(i);
    ms.push(performance.now() - started);
  }
  return ms;
}
