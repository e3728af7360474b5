/**
 * `npm run bench`: every path of paths.ts on one data set (data-set.ts), each run in a driver
 * process of its own, against the job's limit — the simplest correct SQL on the seed's table. The
 * product's server is the compiled current source with the product's defaults. Per run: ops/s,
 * p50 / p99 and the CPU per operation of the driver, the product servers running and PostgreSQL
 * (its own processes and the bench databases' backends, read from /proc over the window: cpu.ts);
 * then report.ts's tables.
 *
 * Environment:
 * - DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): the product's and the
 *   peer's tables go there; the limit's database (isotope_bench_limit) is created beside it.
 * - BENCH_PATHS (comma-separated, default limit,product-sql,peer,client,connect-node,grpc-js,
 *   python,product-lean; product-nocache on request)
 * - BENCH_PLAN (workload/concurrency, comma-separated; default save/32,load/32,mixed/32,save/1,load/1)
 * - BENCH_SECONDS (measured, default 6), BENCH_WARMUP_SECONDS (default 2), BENCH_SESSIONS (10000)
 * - BENCH_SERVER_ARGS: extra flags for the servers (e.g. "--log-level warn"; none by default)
 * - BENCH_PYTHON: the interpreter of the python path (default /usr/bin/python3, Debian's grpcio)
 * - BENCH_PROFILE: a directory; the servers run with --cpu-prof and write profiles there on exit
 *   (`tsx bench/profile.ts DIR` summarises them).
 */
import { execFileSync, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { cpuSeconds, type PostgresCpu, watchPostgresCpu } from "./cpu.js";
import { benchDatabases, drop, productTable, seed } from "./data-set.js";
import { type DriverArgs, isPathName, type PathName, paths } from "./paths.js";
import { type Run, runLine, tables } from "./report.js";
import { type BenchServer, spawnServer } from "./server.js";
import type { Figures, Workload } from "./workload.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const sessions = Number(process.env.BENCH_SESSIONS ?? 10_000);
const serverArgs = (process.env.BENCH_SERVER_ARGS ?? "").split(" ").filter(Boolean);
const python = process.env.BENCH_PYTHON ?? "/usr/bin/python3";
const profileDir = process.env.BENCH_PROFILE;
const poolMax = 10;
const plan = (process.env.BENCH_PLAN ?? "save/32,load/32,mixed/32,save/1,load/1").split(",").map((run) => {
  const [workload, concurrency] = run.split("/");
  if (!["save", "load", "mixed"].includes(workload as string) || !(Number(concurrency) >= 1)) {
    throw new Error(`BENCH_PLAN: "${run}" is not workload/concurrency (save, load or mixed; a count ≥ 1)`);
  }
  return [workload as Workload, Number(concurrency)] as const;
});
const pathOrder = (process.env.BENCH_PATHS ?? "limit,product-sql,peer,client,connect-node,grpc-js,python,product-lean")
  .split(",")
  .map((name) => {
    if (!isPathName(name)) throw new Error(`BENCH_PATHS: no path "${name}" (paths: ${Object.keys(paths).join(", ")})`);
    return name;
  });

/** The product's server with its defaults ("product"), or with the hot cache off ("nocache"). */
const startServer = (kind: "product" | "nocache") =>
  spawnServer(
    [
      "--database-url",
      databaseUrl,
      "--table",
      productTable,
      ...(kind === "nocache" ? ["--cache-bytes", "0"] : []),
      ...serverArgs,
    ],
    profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
  );

/**
 * One run: a driver process for `path` (calling `server`, if it has one), and the CPU over its
 * window of every server running (an idle one costs next to nothing, but whatever it does while
 * the path runs is the path's) and of PostgreSQL.
 */
async function drive(
  path: PathName,
  workload: Workload,
  concurrency: number,
  server: BenchServer | undefined,
  running: BenchServer[],
): Promise<Run> {
  const args: DriverArgs = {
    path,
    workload,
    concurrency,
    warmupMs: warmupSeconds * 1000,
    durationMs: seconds * 1000,
    sessions,
    databaseUrl,
    url: server?.url,
    poolMax,
  };
  const child =
    paths[path].driver === "python"
      ? spawn(python, ["bench/driver.py", JSON.stringify(args)], {
          cwd: root,
          env: { ...process.env, PYTHONPATH: "clients/python" },
          stdio: ["ignore", "pipe", "inherit"],
        })
      : spawn(process.execPath, [driverScript, JSON.stringify(args)], {
          cwd: root,
          stdio: ["ignore", "pipe", "inherit"],
        });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const serverCpu = () => running.reduce((sum, { child }) => sum + cpuSeconds(child.pid as number), 0);
  let open: { server: number; postgres: ReturnType<typeof watchPostgresCpu> } | undefined;
  let closed: { server: number; postgres: PostgresCpu } | undefined;
  let figures: Figures | undefined;
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    if (line === "window-open") open = { server: serverCpu(), postgres: watchPostgresCpu(benchDatabases(databaseUrl)) };
    else if (line === "window-closed" && open) {
      closed = { server: serverCpu() - open.server, postgres: open.postgres.stop() };
    } else if (line.startsWith("{")) figures = JSON.parse(line) as Figures;
  }
  const code = await exited;
  if (!figures || !closed) throw new Error(`driver ${path} ${workload}/${concurrency} exited with ${code}, no figures`);
  return {
    path,
    workload,
    concurrency,
    figures,
    cpu: {
      client: figures.clientCpuSeconds,
      server: running.length > 0 ? closed.server : undefined,
      postgres: closed.postgres.seconds,
    },
    postgres: closed.postgres,
  };
}

/** The machine is shared: how busy it was says how far to trust absolute figures. */
const machineLoad = () =>
  `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(" ")}`;

/**
 * The Node drivers run compiled by tsc, as users run their code — not transpiled on the fly by
 * tsx, whose keepNames helper costs every closure a call (a client that makes a few per call would
 * look ~2× dearer than it is; packages/client/bench/unary-cost.ts measured it).
 */
const driverScript = join(root, ".bench-build/bench/driver.js");
function compileDrivers(): void {
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.bench.json"], {
    cwd: root,
    stdio: "inherit",
  });
}

async function main(): Promise<void> {
  compileDrivers();
  console.log(`seeding ${sessions} sessions of ~4.5 KB into the product's, the peer's and the limit's tables …`);
  await seed(databaseUrl, sessions);
  const servers = new Map<"product" | "nocache", BenchServer>();
  for (const kind of new Set(pathOrder.map((path) => paths[path].server))) {
    if (kind) servers.set(kind, await startServer(kind));
  }
  console.log(
    `${warmupSeconds} s warm-up + ${seconds} s measured per run; server: the compiled current source, ` +
      `defaults${serverArgs.length ? ` + ${serverArgs.join(" ")}` : ""}; ${machineLoad()}\n`,
  );
  const runs: Run[] = [];
  try {
    for (const [workload, concurrency] of plan) {
      for (const path of pathOrder) {
        const server = paths[path].server;
        const run = await drive(path, workload, concurrency, server && servers.get(server), [...servers.values()]);
        runs.push(run);
        console.log(runLine(run));
      }
    }
  } finally {
    for (const server of servers.values()) await server.stop();
  }
  console.log(`(at the end: ${machineLoad()})\n\n${tables(runs, plan, pathOrder)}\n`);
  console.log("Paths:");
  for (const path of pathOrder) console.log(`- ${path}: ${paths[path].about}`);
  await drop(databaseUrl);
}

await main();
