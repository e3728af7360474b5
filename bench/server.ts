/**
 * The product's server for a benchmark: the compiled service (`node dist/src/main.js`, as
 * production runs it, rebuilt first so the figures are of the current source) in a process of its
 * own on a random port, ready when the port accepts connections (at any --log-level), and its
 * memory read from /proc while it runs (its CPU: cpu.ts).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
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
  for (;;) {
    if (exited) throw new Error(`server exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => resolve(true)).once("error", () => resolve(false));
      socket.once("connect", () => socket.destroy());
    });
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
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
