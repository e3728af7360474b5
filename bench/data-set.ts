/**
 * The bench's three stores, filled with the same sessions (workload.ts):
 * - the product's table (`bench_sessions`, every migration applied) in DATABASE_URL's database,
 *   which the product's server and the product-sql path use;
 * - connect-pg-simple's table (`bench_peer_sessions`) beside it, for the peer;
 * - the seed's table as the seed creates it (migration 0001 alone: its CREATE TABLE and four
 *   indexes, no trigger, no added column) in a database of its own, `isotope_bench_limit` on the
 *   same server, for the limit.
 */
import pg from "pg";
import pino from "pino";
import { loadMigrations, migrate } from "../src/db/migrate.js";
import { openPostgres } from "../src/db/postgres.js";
import { metadataFor, sessionData, sessionId } from "./workload.js";

export const productTable = "bench_sessions";
export const peerTable = "bench_peer_sessions";
export const limitTable = "isotope_sessions";
const limitDatabase = "isotope_bench_limit";

/** DATABASE_URL with the limit's database in place of its own. */
export function limitUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${limitDatabase}`;
  return url.toString();
}

/** The databases the bench works in: DATABASE_URL's (pg's default: the user's name) and the limit's. */
export function benchDatabases(databaseUrl: string): string[] {
  const url = new URL(databaseUrl);
  return [decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username) || "postgres", limitDatabase];
}

const batch = 500;

export async function seed(databaseUrl: string, sessions: number): Promise<void> {
  const db = await connect(databaseUrl);
  const exists = await db.query("SELECT 1 FROM pg_database WHERE datname = $1", [limitDatabase]);
  if (exists.rows.length === 0) await db.query(`CREATE DATABASE ${limitDatabase}`);
  await dropProductTables(db);
  const product = await openPostgres(
    { connectionString: databaseUrl, poolMax: 1, statementTimeoutMs: 120_000, connectTimeoutMs: 5000 },
    pino({ level: "silent" }),
  );
  await migrate(product, { table: productTable }, pino({ level: "silent" }));
  await product.close();
  // connect-pg-simple's own table.sql, under our name.
  await db.query(`CREATE TABLE ${peerTable} (sid varchar NOT NULL COLLATE "default", sess json NOT NULL,
    expire timestamp(6) NOT NULL, CONSTRAINT ${peerTable}_pkey PRIMARY KEY (sid))`);
  await db.query(`CREATE INDEX ${peerTable}_expire ON ${peerTable} (expire)`);

  const limit = await connect(limitUrl(databaseUrl));
  await limit.query(`DROP TABLE IF EXISTS ${limitTable}`);
  await limit.query((loadMigrations(limitTable)[0] as { sql: string }).sql);

  const cookie = { originalMaxAge: 86_400_000, maxAge: 86_400_000 };
  for (let from = 0; from < sessions; from += batch) {
    const indexes = Array.from({ length: Math.min(batch, sessions - from) }, (_, i) => from + i);
    const ids = indexes.map(sessionId);
    const data = indexes.map((i) => JSON.stringify(sessionData(i, 0)));
    const metadata = indexes.map((i) => JSON.stringify(metadataFor(i)));
    const insertSessions = (table: string) => `INSERT INTO ${table} (session_id, session_data, metadata)
      SELECT * FROM unnest($1::text[], $2::jsonb[], $3::jsonb[])`;
    await db.query(insertSessions(productTable), [ids, data, metadata]);
    await limit.query(insertSessions(limitTable), [ids, data, metadata]);
    await db.query(
      `INSERT INTO ${peerTable} (sid, sess, expire)
       SELECT sid, sess, now() + interval '1 day' FROM unnest($1::text[], $2::json[]) AS t(sid, sess)`,
      [ids, indexes.map((i) => JSON.stringify({ cookie, ...sessionData(i, 0) }))],
    );
  }
  await db.query(`VACUUM ANALYZE ${productTable}`);
  await db.query(`VACUUM ANALYZE ${peerTable}`);
  await limit.query(`VACUUM ANALYZE ${limitTable}`);
  await limit.end();
  await db.end();
}

/** Drops the tables; the limit's database stays (it is cheap to keep, slow to create). */
export async function drop(databaseUrl: string): Promise<void> {
  const db = await connect(databaseUrl);
  await dropProductTables(db);
  await db.end();
  const limit = await connect(limitUrl(databaseUrl));
  await limit.query(`DROP TABLE IF EXISTS ${limitTable}`);
  await limit.end();
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function dropProductTables(db: pg.Client): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${productTable}_msg, ${productTable}, ${peerTable}`);
  // The ledger exists once the product has migrated any table in this database.
  await db.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [productTable]).catch(() => {});
}
