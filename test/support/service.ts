// The service as a real process, started as production runs it (`node dist/src/main.js`, the
// compiled code that test/support/build-service.ts rebuilt at the start of this test run), on a
// free port, with its log lines parsed.
import { type ChildProcessWithoutNullStreams, type SpawnOptions, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, inject } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { freePort } from "./ports.js";

export interface Service {
  child: ChildProcessWithoutNullStreams;
  port: number;
  output: () => string;
  /** What it wrote on stderr alone. */
  errorOutput: () => string;
  lines: () => Array<Record<string, unknown>>;
  /** The exit code, or the signal's name when a signal ended the process. */
  exited: Promise<number | string>;
}

// A service still running when its test file ends (a test timed out before stop()) is killed:
// a failed run must not leave databases booting under the tests that follow.
const running = new Set<ChildProcessWithoutNullStreams>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

/** The compiled entry point; the vitest global setup builds it before any test runs. */
export const serviceMain = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));

/** The one place that says how the service is started: `node dist/src/main.js …`. */
function spawnService(
  args: string[],
  env: Record<string, string | undefined>,
  options: Pick<SpawnOptions, "uid" | "gid"> = {},
): ChildProcessWithoutNullStreams {
  if (!inject("serviceBuilt"))
    throw new Error("dist/ was not rebuilt for this run: vitest.config.ts's globalSetup (build-service.ts) does that");
  const { DATABASE_URL: _, ...rest } = process.env;
  const child = spawn(process.execPath, [serviceMain, ...args], {
    // Scheduled cleanup stays off unless a suite switches it on (by this variable or the flag).
    env: { ISOTOPE_CLEANUP_INTERVAL_MS: "0", ...rest, ...env },
    ...options,
  }) as ChildProcessWithoutNullStreams;
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Starts `node dist/src/main.js` and resolves once it logs "serving". */
export async function startService(args: string[], env: Record<string, string | undefined> = {}): Promise<Service> {
  const port = await freePort();
  const child = spawnService(["--port", String(port), ...args], env);
  let output = "";
  let errorOutput = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
    errorOutput += chunk;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGKILL")
        process.stderr.write(`service ended with ${code ?? signal}:\n${output.slice(-4000)}\n`);
      resolve(code ?? String(signal));
    }),
  );
  const lines = () =>
    output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`service did not start in 45 s:\n${output}`));
    }, 45_000);
    const check = () => {
      if (lines().some((line) => line.msg === "serving")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}:\n${output}`));
    });
  });
  return { child, port, output: () => output, errorOutput: () => errorOutput, lines, exited };
}

export const clientFor = (service: Service) =>
  createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.port}` }));

export async function stop(service: Service): Promise<number | string> {
  service.child.kill("SIGTERM");
  return service.exited;
}

/** How a service that was meant not to start ended. */
export interface FailedStart {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

/**
 * Runs the service until it exits by itself (a start-up that must fail); killed after `timeoutMs`.
 * `uid`/`gid` run it as another user.
 */
export async function runToExit(
  args: string[],
  options: { env?: Record<string, string | undefined>; uid?: number; gid?: number; timeoutMs?: number } = {},
): Promise<FailedStart> {
  const started = Date.now();
  const child = spawnService(args, options.env ?? {}, { uid: options.uid, gid: options.gid });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 45_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", (exit) => resolve(exit)));
  clearTimeout(timer);
  return { code, stdout, stderr, ms: Date.now() - started };
}
