/**
 * What retry-safe Saves cost: Saves from 32 callers in flight, turn after turn, round after round
 * (so a noisy machine weighs on every turn alike), through four paths on one PostgreSQL:
 *
 * - "plain SQL": the limit — the simplest correct SQL on a plain table, one upsert per Save on a
 *   `pg` Pool of the server's size, in this process;
 * - "plain SQL, keyed": the simplest correct retry-safe Save on plain tables — a transaction that
 *   inserts the key (ON CONFLICT DO NOTHING) and, when it was new, upserts the row and records the
 *   answer: what an engine that hand-rolls idempotency pays;
 * - "service": the compiled server through the product's TypeScript client with `requestIds:
 *   false` (Saves without a `request_id`);
 * - "service, keyed": the same server and client as users get it: every Save with a fresh
 *   `request_id`.
 *
 * Figures per turn: Saves/s, latency, PostgreSQL's CPU per Save (the server's too, on its turns);
 * ratios of the medians are within one run.
 *
 * Usage: npm run bench:keyed
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS
 * (per turn, default 5), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 32).
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { createSessionClient } from "../packages/client/src/index.js";
import { cpuWindow } from "./cpu.js";
import { benchDatabases } from "./data-set.js";
import { spawnServer } from "./server.js";
import { closedLoop, nextDocument, sessionId, sleep } from "./workload.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const poolMax = 10; // the server's default storage.pool_max
const sessions = 10_000;
const table = "bench_keyed";
const plain = "bench_keyed_plain";

async function resetTables(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  for (const name of [
    `${table}_msg`,
    `${table}_jobs`,
    `${table}_samples`,
    `${table}_changes`,
    `${table}_feed`,
    `${table}_reqids`,
    `${table}_leases`,
    table,
    plain,
    `${plain}_keys`,
  ]) {
    await client.query(`DROP TABLE IF EXISTS ${name}`);
  }
  await client.query(`DROP FUNCTION IF EXISTS ${table}_mh(), ${table}_seq(integer)`);
  await client.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]).catch(() => {});
  await client.end();
}

async function createPlainTables(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`CREATE TABLE ${plain} (session_id text PRIMARY KEY, session_data jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}', last_updated timestamptz NOT NULL DEFAULT now(), version int8 NOT NULL DEFAULT 1)`);
  await client.query(`CREATE TABLE ${plain}_keys (request_id text PRIMARY KEY, result text,
    created_at timestamptz NOT NULL DEFAULT now())`);
  await client.end();
}

const upsertSql = `INSERT INTO ${plain} AS t (session_id, session_data) VALUES ($1, $2)
  ON CONFLICT (session_id) DO UPDATE SET session_data = EXCLUDED.session_data, last_updated = now(),
    version = t.version + 1
  RETURNING version::text`;
const claimSql = `INSERT INTO ${plain}_keys (request_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1`;
const recordSql = `UPDATE ${plain}_keys SET result = $2 WHERE request_id = $1`;

await resetTables();
await createPlainTables();
const pool = new pg.Pool({ connectionString: databaseUrl, max: poolMax });
const server = await spawnServer(["--database-url", databaseUrl, "--table", table, "--pool-max", String(poolMax)]);
const unkeyed = createSessionClient({ baseUrl: server.url, requestIds: false });
const keyed = createSessionClient({ baseUrl: server.url });

type Turn = "plain SQL" | "plain SQL, keyed" | "service" | "service, keyed";
const turns: Turn[] = ["plain SQL", "plain SQL, keyed", "service", "service, keyed"];
const calls: Record<Turn, (index: number) => Promise<unknown>> = {
  "plain SQL": (index) => pool.query(upsertSql, [sessionId(index), JSON.stringify(nextDocument(index))]),
  async "plain SQL, keyed"(index) {
    const connection = await pool.connect();
    try {
      await connection.query("BEGIN");
      const key = randomUUID();
      if ((await connection.query(claimSql, [key])).rows.length > 0) {
        const saved = await connection.query(upsertSql, [sessionId(index), JSON.stringify(nextDocument(index))]);
        await connection.query(recordSql, [key, saved.rows[0].version]);
      }
      await connection.query("COMMIT");
    } catch (error) {
      await connection.query("ROLLBACK");
      throw error;
    } finally {
      connection.release();
    }
  },
  service: (index) => unkeyed.save({ sessionId: sessionId(index), data: nextDocument(index) }),
  "service, keyed": (index) => keyed.save({ sessionId: sessionId(index), data: nextDocument(index) }),
};

type Figure = "savesPerSecond" | "postgresCpuUs" | "serverCpuUs";
const results = new Map<Turn, Array<Record<Figure, number>>>();

async function turn(name: Turn) {
  const pid = server.child.pid as number;
  const window = cpuWindow(pid, benchDatabases(databaseUrl));
  const figures = await closedLoop(
    (_, index) => calls[name](index),
    { workload: "save", concurrency, warmupMs: 1000, durationMs: seconds * 1000, sessions },
    window,
  );
  const { server: cpuUsed, postgres: postgresUsed } = window.used;
  const serverCpuUs = name.startsWith("service") ? (cpuUsed / figures.ops) * 1e6 : Number.NaN;
  const postgresCpuUs = (postgresUsed / figures.ops) * 1e6;
  const list = results.get(name) ?? [];
  list.push({ savesPerSecond: figures.opsPerSecond, postgresCpuUs, serverCpuUs });
  results.set(name, list);
  console.log(
    `${name.padEnd(17)} ${figures.opsPerSecond.toFixed(0).padStart(6)} Saves/s  p50 ${figures.p50Ms.toFixed(1)} ms  p99 ${figures.p99Ms.toFixed(1)} ms  PostgreSQL CPU ${postgresCpuUs.toFixed(0)} µs/Save${Number.isNaN(serverCpuUs) ? "" : `  server CPU ${serverCpuUs.toFixed(0)} µs/Save`}  errors ${figures.errors}`,
  );
  await sleep(500);
}

/** How many of the key rows' answers stayed on their page (HOT updates; migration 0011). */
async function hotShare(): Promise<string> {
  await sleep(1000); // the statistics collector lags the commits
  const { rows } = await pool.query<{ upd: string; hot: string }>(
    "SELECT n_tup_upd::text AS upd, n_tup_hot_upd::text AS hot FROM pg_stat_user_tables WHERE relname = $1",
    [`${table}_reqids`],
  );
  const [upd, hot] = [Number(rows[0]?.upd ?? 0), Number(rows[0]?.hot ?? 0)];
  return `${hot} of ${upd} key answers written in place (HOT): ${((hot / Math.max(1, upd)) * 100).toFixed(0)} %`;
}

try {
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}`);
    for (const name of turns) await turn(name);
  }
  console.log(await hotShare());
} finally {
  await server.stop();
  await pool.end();
  await resetTables();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const of = (name: Turn, key: Figure) => median((results.get(name) ?? []).map((r) => r[key]));
const ratio = (a: Turn, b: Turn) => (of(a, "savesPerSecond") / of(b, "savesPerSecond")).toFixed(2);
console.log("\nmedians over the rounds (throughput ratios):");
for (const name of turns)
  console.log(`${name.padEnd(17)} ${of(name, "savesPerSecond").toFixed(0).padStart(6)} Saves/s`);
console.log(`service, keyed / service:            ${ratio("service, keyed", "service")}×`);
console.log(`service, keyed / plain SQL, keyed:   ${ratio("service, keyed", "plain SQL, keyed")}×`);
console.log(`service, keyed / plain SQL (limit):  ${ratio("service, keyed", "plain SQL")}×`);
console.log(`service / plain SQL (limit):         ${ratio("service", "plain SQL")}×`);
