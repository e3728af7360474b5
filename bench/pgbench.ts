/**
 * `npm run bench:pgbench`: what the service's migrations cost a writer that is not the service —
 * the seed's manager, a script, psql. Debian's pgbench runs the seed's upsert of a ~4.5 KB session
 * against two tables in one database: the seed's table as the seed makes it (migration 0001) and
 * the same table with every migration applied. Rounds alternate between them (the machine is
 * shared: alternation spreads its noise over both) and the medians are compared.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), PGBENCH_SECONDS
 * (per round, default 8), PGBENCH_ROUNDS (per table, default 3), PGBENCH_CLIENTS (default 8).
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import pino from "pino";
import { loadMigrations, migrate } from "../src/db/migrate.js";
import { openPostgres } from "../src/db/postgres.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const seconds = Number(process.env.PGBENCH_SECONDS ?? 8);
const rounds = Number(process.env.PGBENCH_ROUNDS ?? 3);
const clients = Number(process.env.PGBENCH_CLIENTS ?? 8);
const sessions = 10_000;
const tables = { plain: "pgb_plain", migrated: "pgb_migrated" } as const;

async function prepare(): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query(`DROP TABLE IF EXISTS ${tables.plain}, ${tables.migrated}_msg, ${tables.migrated}`);
  await db.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [tables.migrated]).catch(() => {});
  await db.query((loadMigrations(tables.plain)[0] as { sql: string }).sql);
  const product = await openPostgres(
    { connectionString: databaseUrl, poolMax: 1, statementTimeoutMs: 120_000, connectTimeoutMs: 5000 },
    pino({ level: "silent" }),
  );
  await migrate(product, { table: tables.migrated }, pino({ level: "silent" }));
  await product.close();
  for (const table of Object.values(tables)) {
    await db.query(`INSERT INTO ${table} (session_id, session_data)
      SELECT 'pgb-' || g, jsonb_build_object('messages', jsonb_build_array(repeat('x', 4400)))
      FROM generate_series(1, ${sessions}) g`);
    await db.query(`VACUUM ANALYZE ${table}`);
  }
  await db.end();
}

/** The seed manager's save: an upsert that bumps the version. */
const script = (table: string) => `\\set id random(1, ${sessions})
INSERT INTO ${table} (session_id, session_data, metadata, last_updated, expires_at)
VALUES ('pgb-' || :id, jsonb_build_object('messages', jsonb_build_array(repeat('y', 4400)), 'n', :id), '{}', now(), NULL)
ON CONFLICT (session_id) DO UPDATE SET session_data = EXCLUDED.session_data, metadata = EXCLUDED.metadata,
  last_updated = EXCLUDED.last_updated, expires_at = EXCLUDED.expires_at, version = ${table}.version + 1, is_active = TRUE;
`;

function tps(table: string): number {
  const file = join(tmpdir(), `isotope-pgbench-${table}.sql`);
  writeFileSync(file, script(table));
  const output = execFileSync(
    "pgbench",
    ["-n", "-f", file, "-c", String(clients), "-j", "2", "-T", String(seconds), databaseUrl],
    { encoding: "utf8" },
  );
  const match = /tps = ([\d.]+)/.exec(output);
  if (!match) throw new Error(`pgbench printed no tps:\n${output}`);
  return Number(match[1]);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

await prepare();
const measured: Record<keyof typeof tables, number[]> = { plain: [], migrated: [] };
for (let round = 0; round < rounds; round++) {
  for (const kind of ["plain", "migrated"] as const) {
    const value = tps(tables[kind]);
    measured[kind].push(value);
    console.log(`round ${round + 1} ${kind.padEnd(8)} ${value.toFixed(0)} tps`);
  }
}
const [plain, migrated] = [median(measured.plain), median(measured.migrated)];
console.log(
  `\nthe seed's upsert, ${clients} clients, ${rounds} × ${seconds} s each: seed's table ${plain.toFixed(0)} tps, ` +
    `migrated table ${migrated.toFixed(0)} tps — ${(migrated / plain).toFixed(2)}× (medians)`,
);
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
await db.query(`DROP TABLE IF EXISTS ${tables.plain}, ${tables.migrated}_msg, ${tables.migrated}`);
await db.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [tables.migrated]);
await db.end();
