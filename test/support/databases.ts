// Fresh databases for tests, one per suite, on every backend: PGlite always; PostgreSQL when
// DATABASE_URL is set (each suite in its own schema, so runs never collide).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import pino, { type Logger } from "pino";
import type { Db } from "../../src/db/database.js";
import { openEmbedded } from "../../src/db/embedded.js";
import { openPostgres } from "../../src/db/postgres.js";

export interface Backend {
  name: "embedded" | "postgres";
  open(log?: Logger): Promise<{ db: Db; cleanup(): Promise<void> }>;
}

export const silentLogger = (): Logger => pino({ level: "silent" });

export const postgresUrl = process.env.DATABASE_URL;

export const embedded: Backend = {
  name: "embedded",
  async open(log = silentLogger()) {
    const dir = mkdtempSync(join(tmpdir(), "isotope-pglite-"));
    const db = await openEmbedded({ dataDir: dir }, log);
    return {
      db,
      async cleanup() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgres: Backend = {
  name: "postgres",
  open(log = silentLogger()) {
    if (!postgresUrl) throw new Error("DATABASE_URL is not set");
    return postgresAt(postgresUrl).open(log);
  },
};

/** PostgreSQL at `url` (a test's own cluster, say), one schema per open(). */
export const postgresAt = (url: string, pool: { poolMax?: number; connectTimeoutMs?: number } = {}): Backend => ({
  name: "postgres",
  async open(log = silentLogger()) {
    const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const db = await openPostgres(
      {
        connectionString: url,
        poolMax: pool.poolMax ?? 5,
        statementTimeoutMs: 10_000,
        connectTimeoutMs: pool.connectTimeoutMs ?? 5_000,
        searchPath: schema,
      },
      log,
    );
    return {
      db,
      async cleanup() {
        await db.close();
        const dropper = new pg.Client({ connectionString: url });
        await dropper.connect();
        await dropper.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await dropper.end();
      },
    };
  },
});

/**
 * Drops a table the service created in PostgreSQL, with what its migrations made beside it, and
 * forgets its migrations: what a suite that started the service as a process leaves behind.
 */
export async function dropServiceTable(client: pg.Client, table: string): Promise<void> {
  await client.query(
    `DROP TABLE IF EXISTS ${table}_msg, ${table}_jobs, ${table}_samples, ${table}_changes, ${table}_feed, ${table}_reqids, ${table}`,
  );
  await client.query(`DROP FUNCTION IF EXISTS ${table}_mh(), ${table}_seq(integer)`);
  await client.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]);
}

/** Every backend this run can test: PGlite, plus PostgreSQL when DATABASE_URL is set. */
export function backends(): Backend[] {
  return postgresUrl ? [embedded, postgres] : [embedded];
}
