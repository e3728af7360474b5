/**
 * What the change feed costs Save: the compiled server twice on one PostgreSQL, each on a table of
 * its own — one with the feed off (`--changes-enabled false`), one with it on — and Saves from 32
 * callers in flight, taking turns round after round so a noisy machine weighs on both alike. With
 * the feed on, each Save's statement also inserts its log row, the replica runs a sequencing step
 * after its writes and NOTIFYs once per step; the "on, watched" turns have a Watch stream reading
 * every event as well (in this process: its client CPU competes with the callers'). Figures per
 * turn: Saves/s, latency, the server's and PostgreSQL's CPU per Save; ratios are within one run.
 *
 * Usage: npm run bench:feed
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS
 * (per turn, default 5), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 32).
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { SessionService } from "../gen/isotope/session/v1/session_pb.js";
import { cpuWindow } from "./cpu.js";
import { benchDatabases } from "./data-set.js";
import { spawnServer } from "./server.js";
import { closedLoop, metadataFor, nextDocument, sessionId, sleep } from "./workload.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const sessions = 10_000;

// Fresh tables each run: the log does not carry one run's events (and dead rows) into the next.
async function dropTables(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  for (const table of ["bench_feed_off", "bench_feed_on"]) {
    await client.query(
      `DROP TABLE IF EXISTS ${table}_msg, ${table}_jobs, ${table}_samples, ${table}_changes, ${table}_feed, ${table}`,
    );
    await client.query(`DROP FUNCTION IF EXISTS ${table}_mh(), ${table}_seq(integer)`);
    await client.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]).catch(() => {});
  }
  await client.end();
}
await dropTables();

const server = (table: string, feed: boolean) =>
  spawnServer(["--database-url", databaseUrl, "--table", table, "--changes-enabled", String(feed)]);
const servers = { off: await server("bench_feed_off", false), on: await server("bench_feed_on", true) };
const clientOf = (url: string) => createClient(SessionService, createGrpcTransport({ baseUrl: url }));

type Turn = "off" | "on" | "on, watched";
type Figure = "savesPerSecond" | "serverCpuUs" | "postgresCpuUs";
const results = new Map<Turn, Array<Record<Figure, number>>>();

async function turn(name: Turn) {
  const target = name === "off" ? servers.off : servers.on;
  const client = clientOf(target.url);
  const watch = new AbortController();
  let watched = 0;
  if (name === "on, watched") {
    void (async () => {
      for await (const response of client.watch({}, { signal: watch.signal })) watched += response.events.length;
    })().catch((error: unknown) => {
      if (!watch.signal.aborted) console.error("the Watch failed:", error);
    });
  }
  const pid = target.child.pid as number;
  const window = cpuWindow(pid, benchDatabases(databaseUrl));
  const figures = await closedLoop(
    (_, index) => client.save({ sessionId: sessionId(index), data: nextDocument(index), metadata: metadataFor(index) }),
    { workload: "save", concurrency, warmupMs: 1000, durationMs: seconds * 1000, sessions },
    window,
  );
  const { server: cpuUsed, postgres: postgresUsed } = window.used;
  watch.abort();
  const list = results.get(name) ?? [];
  list.push({
    savesPerSecond: figures.opsPerSecond,
    serverCpuUs: (cpuUsed / figures.ops) * 1e6,
    postgresCpuUs: (postgresUsed / figures.ops) * 1e6,
  });
  results.set(name, list);
  console.log(
    `${name.padEnd(12)} ${figures.opsPerSecond.toFixed(0).padStart(6)} Saves/s  p50 ${figures.p50Ms.toFixed(1)} ms  p99 ${figures.p99Ms.toFixed(1)} ms  server CPU ${((cpuUsed / figures.ops) * 1e6).toFixed(0)} µs/Save  PostgreSQL CPU ${((postgresUsed / figures.ops) * 1e6).toFixed(0)} µs/Save  errors ${figures.errors}${name === "on, watched" ? `  events watched ${watched}` : ""}`,
  );
  await sleep(500);
}

try {
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}`);
    for (const name of ["off", "on", "on, watched"] as const) await turn(name);
  }
} finally {
  await Promise.all([servers.off.stop(), servers.on.stop()]);
  await dropTables();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const of = (name: Turn, key: Figure) => median((results.get(name) ?? []).map((r) => r[key]));
console.log("\nmedians over the rounds, relative to the feed off:");
for (const name of ["on", "on, watched"] as const) {
  console.log(
    `${name.padEnd(12)} throughput ${(of(name, "savesPerSecond") / of("off", "savesPerSecond")).toFixed(2)}×  server CPU per Save ${(of(name, "serverCpuUs") / of("off", "serverCpuUs")).toFixed(2)}×  PostgreSQL CPU per Save ${(of(name, "postgresCpuUs") / of("off", "postgresCpuUs")).toFixed(2)}×`,
  );
}
