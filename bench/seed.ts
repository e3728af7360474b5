/**
 * `npm run bench:seed`: fills a sessions table with a big, realistic population, in SQL (no
 * round trip per row). Default 1,000,000 sessions of ~1 KB in table bench_million: 10,000 users,
 * created over the last 90 days, last touched some time since; 10 % expired (still active, as
 * before a Cleanup), 5 % soft-deleted, the rest expiring in the future or never.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_SESSIONS (default 1000000), BENCH_TABLE (default bench_million).
 */
import pino from "pino";
import { migrate } from "../src/db/migrate.js";
import { openPostgres } from "../src/db/postgres.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const sessions = Number(process.env.BENCH_SESSIONS ?? 1_000_000);
const table = process.env.BENCH_TABLE ?? "bench_million";
const chunk = 50_000;

async function main(): Promise<void> {
  const log = pino({ level: "silent" });
  const db = await openPostgres(
    { connectionString: databaseUrl, poolMax: 2, statementTimeoutMs: 3_600_000, connectTimeoutMs: 5000 },
    log,
  );
  const started = performance.now();
  await db.query(`DROP TABLE IF EXISTS ${table}_msg, ${table}`);
  await db.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]).catch(() => {});
  await migrate(db, { table }, log);
  for (let from = 0; from < sessions; from += chunk) {
    const to = Math.min(sessions, from + chunk) - 1;
    // g picks the user (g % 10000), the shape of the conversation and the fate of the session:
    // g % 20 = 0 soft-deleted (5 %), g % 10 = 1 expired (10 %), g % 10 in 2..5 expiring later,
    // the rest never.
    await db.query(
      `INSERT INTO ${table} (session_id, session_data, metadata, created_at, last_updated, expires_at, version, is_active)
       SELECT 'session-' || lpad(g::text, 8, '0'),
         jsonb_build_object(
           'messages', (SELECT jsonb_agg(jsonb_build_object(
               'role', CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END,
               'content', 'message ' || m || ' of session ' || g || ': ' || repeat('lorem ipsum ', 12)))
             FROM generate_series(0, 2 + g % 4) m),
           'title', 'conversation ' || g, 'files', '{}'::jsonb),
         jsonb_build_object('user_id', 'user-' || (g % 10000), 'channel', (ARRAY['web','app','api'])[1 + g % 3],
           'tier', CASE WHEN g % 7 = 0 THEN 'gold' ELSE 'standard' END),
         created, created + (now() - created) * ((g * 7919) % 1000) / 1000.0,
         CASE WHEN g % 10 = 1 THEN now() - interval '1 hour' * (1 + g % 48)
              WHEN g % 10 BETWEEN 2 AND 5 THEN now() + interval '1 day' * (1 + g % 30) END,
         1 + g % 5, g % 20 <> 0
       FROM generate_series($1::int8, $2::int8) g,
         LATERAL (SELECT now() - interval '90 days' * ((g * 104729) % 100000) / 100000.0 AS created) c`,
      [from, to],
    );
    process.stdout.write(`\rseeded ${to + 1} / ${sessions} sessions`);
  }
  process.stdout.write("\nanalyzing …\n");
  await db.query(`VACUUM ANALYZE ${table}`);
  const { rows } = await db.query<{ size: string }>(
    `SELECT pg_size_pretty(pg_total_relation_size('${table}')) AS size`,
  );
  console.log(
    `${table}: ${sessions} sessions, ${rows[0]?.size}, in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  await db.close();
}

await main();
