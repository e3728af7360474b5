/**
 * Versioned schema migrations, applied at start-up. Files in ./migrations named NNNN_name.sql,
 * with `{{table}}` standing for the configured (validated) table name, each run whole as the
 * script it is (`exec`: no statement splitting, so plpgsql bodies are written as SQL is). One
 * transaction holds a transaction-level advisory lock keyed on the table, so two replicas starting
 * together apply each migration once: the second waits, then finds nothing left to do.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Db } from "./database.js";
import { assertTableName } from "./table-name.js";

const migrationsDir = fileURLToPath(new URL("./migrations/", import.meta.url));

interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(table: string): Migration[] {
  assertTableName(table);
  return readdirSync(migrationsDir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(migrationsDir + file, "utf8").replaceAll("{{table}}", table),
    }));
}

const createLedgerSql = `CREATE TABLE IF NOT EXISTS isotope_schema_migrations (
  table_name text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, version))`;
const lockSql = "SELECT pg_advisory_xact_lock(hashtext('isotope_sessions.migrate:' || $1))";
const appliedSql = "SELECT version FROM isotope_schema_migrations WHERE table_name = $1";
const recordSql = "INSERT INTO isotope_schema_migrations (table_name, version, name) VALUES ($1, $2, $3)";

export async function migrate(db: Db, options: { table: string }, log: Logger): Promise<{ applied: number[] }> {
  const migrations = loadMigrations(options.table);
  return db.transaction(async (tx) => {
    await tx.query(lockSql, [options.table]);
    // Two first-ever starts can race on the ledger itself; the lock above serialises them, and
    // IF NOT EXISTS makes the loser's attempt a no-op.
    await tx.query(createLedgerSql);
    const done = new Set(
      (await tx.query<{ version: number }>(appliedSql, [options.table])).rows.map((r) => Number(r.version)),
    );
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query(recordSql, [options.table, migration.version, migration.name]);
      log.info({ table: options.table, version: migration.version, name: migration.name }, "migration applied");
      applied.push(migration.version);
    }
    return { applied };
  });
}
