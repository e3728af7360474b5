/**
 * `npm run bench`: one run, one data set, three paths — raw `pg` with the product's SQL (the
 * limit), connect-pg-simple (the peer) and the product's server in its own process driven over
 * gRPC from a separate driver process — on save, load and mixed (80 % load) at concurrency 32, and
 * a latency run at concurrency 1. "product" is a server whose hot cache holds the data set
 * (--cache-bytes 256 MiB); "product-nocache" a second one with the cache off; "product-lean" the
 * first server through a minimal gRPC client (see driver.ts). Prints ops/s, p50/p99, CPU per op of each process and the
 * ratios product/raw-pg and product/peer. Figures go to stdout; bench/RESULTS.md records them.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_SECONDS (measured seconds per run, default 5), BENCH_SESSIONS (default 10000),
 * BENCH_SERVER_ARGS (extra flags for the servers, e.g. "--log-level warn"),
 * BENCH_PLAN (runs as workload/concurrency, comma-separated; default
 * save/32,load/32,mixed/32,save/1,load/1), BENCH_PATHS (default
 * raw-pg,peer,product,product-nocache,product-lean),
 * BENCH_PROFILE (a directory: the server runs with --cpu-prof and writes its profile there on
 * exit; `tsx bench/profile.ts DIR` summarises it).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import pg from "pg";
import pino from "pino";
import { migrate } from "../src/db/migrate.js";
import { openPostgres } from "../src/db/postgres.js";
import type { DriverArgs } from "./driver.js";
import { cpuSeconds } from "./cpu.js";
import { type BenchServer, spawnServer } from "./server.js";
import { type Figures, metadataFor, sessionData, sessionId, type Workload } from "./workload.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const sessions = Number(process.env.BENCH_SESSIONS ?? 10_000);
const serverArgs = (process.env.BENCH_SERVER_ARGS ?? "").split(" ").filter(Boolean);
const table = "bench_sessions";
const peerTable = "bench_peer_sessions";
const poolMax = 10;
const tsx = ["--import", "tsx"];
const profileDir = process.env.BENCH_PROFILE;
const plan = (process.env.BENCH_PLAN ?? "save/32,load/32,mixed/32,save/1,load/1").split(",").map((run) => {
  const [workload, concurrency] = run.split("/");
  return [workload as Workload, Number(concurrency)] as const;
});
const paths = (process.env.BENCH_PATHS ?? "raw-pg,peer,product,product-nocache,product-lean").split(",") as Array<
  DriverArgs["path"]
>;

async function seed(): Promise<void> {
  const db = await openPostgres(
    { connectionString: databaseUrl, poolMax: 2, statementTimeoutMs: 120_000, connectTimeoutMs: 5000 },
    pino({ level: "silent" }),
  );
  await db.query(`DROP TABLE IF EXISTS ${table}_msg, ${table}, ${peerTable}`);
  await db.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]).catch(() => {});
  await migrate(db, { table }, pino({ level: "silent" }));
  // connect-pg-simple's own table.sql, under our name.
  await db.query(`CREATE TABLE ${peerTable} (sid varchar NOT NULL COLLATE "default", sess json NOT NULL,
    expire timestamp(6) NOT NULL, CONSTRAINT ${peerTable}_pkey PRIMARY KEY (sid))`);
  await db.query(`CREATE INDEX ${peerTable}_expire ON ${peerTable} (expire)`);
  for (let from = 0; from < sessions; from += 500) {
    const indexes = Array.from({ length: Math.min(500, sessions - from) }, (_, i) => from + i);
    const ids = indexes.map(sessionId);
    const data = indexes.map((i) => JSON.stringify(sessionData(i, 0)));
    await db.query(
      `INSERT INTO ${table} (session_id, session_data, metadata)
       SELECT * FROM unnest($1::text[], $2::jsonb[], $3::jsonb[])`,
      [ids, data, indexes.map((i) => JSON.stringify(metadataFor(i)))],
    );
    const cookie = { originalMaxAge: 86_400_000, maxAge: 86_400_000 };
    await db.query(
      `INSERT INTO ${peerTable} (sid, sess, expire)
       SELECT sid, sess, now() + interval '1 day' FROM unnest($1::text[], $2::json[]) AS t(sid, sess)`,
      [ids, indexes.map((i) => JSON.stringify({ cookie, ...sessionData(i, 0) }))],
    );
  }
  await db.query(`VACUUM ANALYZE ${table}`);
  await db.query(`VACUUM ANALYZE ${peerTable}`);
  await db.close();
}

const startServer = (cacheBytes: number) =>
  spawnServer(
    ["--database-url", databaseUrl, "--table", table, "--cache-bytes", String(cacheBytes), ...serverArgs],
    profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
  );

interface Run extends Figures {
  path: DriverArgs["path"];
  workload: Workload;
  concurrency: number;
  serverCpuMsPerOp: number | undefined;
}

async function drive(
  path: DriverArgs["path"],
  workload: Workload,
  concurrency: number,
  server: BenchServer,
): Promise<Run> {
  const args: DriverArgs = {
    path,
    workload,
    concurrency,
    warmupMs: 1000,
    durationMs: seconds * 1000,
    sessions,
    databaseUrl,
    table,
    peerTable,
    url: server.url,
    poolMax,
  };
  const child = spawn(process.execPath, [...tsx, "bench/driver.ts", JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let serverCpu = 0;
  let figures: Figures | undefined;
  const serverPid = server.child.pid as number;
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    if (line === "window-open") serverCpu = cpuSeconds(serverPid);
    else if (line === "window-closed") serverCpu = cpuSeconds(serverPid) - serverCpu;
    else if (line.startsWith("{")) figures = JSON.parse(line) as Figures;
  }
  if (!figures) throw new Error(`driver ${path}/${workload} printed no figures`);
  return {
    ...figures,
    path,
    workload,
    concurrency,
    serverCpuMsPerOp: path.startsWith("product") ? (serverCpu * 1000) / Math.max(1, figures.ops) : undefined,
  };
}

const fixed = (n: number | undefined, digits = 2) => (n === undefined ? "—" : n.toFixed(digits));

async function main(): Promise<void> {
  console.log(`seeding ${sessions} sessions of ~4.5 KB into ${table} and ${peerTable} …`);
  await seed();
  const servers = {
    product: await startServer(256 * 1024 * 1024),
    "product-nocache": await startServer(0),
  };
  const runs: Run[] = [];
  try {
    for (const [workload, concurrency] of plan) {
      for (const path of paths) {
        const run = await drive(
          path,
          workload,
          concurrency,
          path === "product-nocache" ? servers[path] : servers.product,
        );
        runs.push(run);
        console.log(
          `${workload.padEnd(5)} c=${String(concurrency).padEnd(2)} ${path.padEnd(15)} ${fixed(run.opsPerSecond, 0).padStart(7)} ops/s  p50 ${fixed(run.p50Ms)} ms  p99 ${fixed(run.p99Ms)} ms  cpu/op client ${fixed(run.clientCpuMsPerOp, 3)} ms server ${fixed(run.serverCpuMsPerOp, 3)} ms${run.errors ? `  errors ${run.errors}` : ""}`,
        );
      }
    }
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }

  console.log("\nratios (same run, same data):");
  console.log(
    "| workload | c | product ops/s | no cache | lean client | raw pg ops/s | peer ops/s | product/raw-pg | no cache/raw-pg | lean/raw-pg | product/peer | lean/peer | p50 product/raw | p99 product/raw |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [workload, concurrency] of new Map(
    runs.map((r) => [`${r.workload}/${r.concurrency}`, [r.workload, r.concurrency] as const]),
  ).values()) {
    const find = (path: Run["path"]) =>
      runs.find((r) => r.path === path && r.workload === workload && r.concurrency === concurrency) as Run;
    const [product, raw, peer, nocache, lean] = [
      find("product"),
      find("raw-pg"),
      find("peer"),
      find("product-nocache"),
      find("product-lean"),
    ];
    if (!product || !raw) continue;
    const ratio = (a: Run | undefined, b: Run | undefined) =>
      a && b ? `${fixed(a.opsPerSecond / b.opsPerSecond)}×` : "—";
    console.log(
      `| ${workload} | ${concurrency} | ${fixed(product.opsPerSecond, 0)} | ${fixed(nocache?.opsPerSecond, 0)} | ${fixed(lean?.opsPerSecond, 0)} | ${fixed(raw.opsPerSecond, 0)} | ${fixed(peer?.opsPerSecond, 0)} | ${ratio(product, raw)} | ${ratio(nocache, raw)} | ${ratio(lean, raw)} | ${ratio(product, peer)} | ${ratio(lean, peer)} | ${fixed(product.p50Ms)} / ${fixed(raw.p50Ms)} ms | ${fixed(product.p99Ms)} / ${fixed(raw.p99Ms)} ms |`,
    );
  }
  const cleanup = new pg.Client({ connectionString: databaseUrl });
  await cleanup.connect();
  await cleanup.query(`DROP TABLE IF EXISTS ${table}_msg, ${table}, ${peerTable}`);
  await cleanup.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]);
  await cleanup.end();
}

await main();
