/**
 * `npm run bench:near-cache` — a Load by the session's lease holder (createLeaseHolder: from its
 * near cache, no call) against the job's limit for a Load, raw `pg` by key on the same rows
 * (Pool of 10, the simplest correct SQL), both from CONCURRENCY callers for SECONDS each, in one
 * run. Issue 15's target: the holder's Load ≥ 3× raw pg.
 */
import pg from "pg";
import { createLeaseHolder, createSessionClient } from "../packages/client/src/index.js";
import { spawnServer } from "./server.js";

const seconds = Number(process.env.SECONDS_TO_RUN ?? 4);
const concurrency = Number(process.env.CONCURRENCY ?? 32);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const table = "isotope_bench_near";
const sessions = 100;

const server = await spawnServer(["--database-url", databaseUrl, "--table", table, "--log-level", "warn"]);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
try {
  const client = createSessionClient({ baseUrl: server.url });
  const holder = createLeaseHolder(client, { holder: "bench", ttlMs: 10 * 60_000, maxSessions: sessions });
  const data = {
    messages: Array.from({ length: 20 }, (_, n) => ({ role: "user", content: `message ${n} `.repeat(20) })),
  };
  for (let i = 0; i < sessions; i++) {
    await client.save({ sessionId: `near-${i}`, data });
    await holder.acquire(`near-${i}`);
  }
  const rate = async (load: (sessionId: string) => Promise<unknown>) => {
    const until = Date.now() + seconds * 1000;
    let done = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, caller) => {
        for (let n = caller; Date.now() < until; n += concurrency) {
          await load(`near-${n % sessions}`);
          done++;
        }
      }),
    );
    return done / seconds;
  };
  const raw = (sessionId: string) =>
    pool.query("SELECT session_data::text AS data FROM isotope_bench_near WHERE session_id = $1", [sessionId]);
  const held = (sessionId: string) => holder.load(sessionId);
  for (let round = 1; round <= 2; round++) {
    const limit = await rate(raw);
    const near = await rate(held);
    console.log(
      `round ${round}: raw pg ${limit.toFixed(0)} loads/s · lease holder ${near.toFixed(0)} loads/s · ratio ${(near / limit).toFixed(1)}× (target ≥ 3×)`,
    );
  }
} finally {
  await pool.end();
  await server.stop();
}
