/**
 * The paths with no service in between: SQL on a `pg` Pool in the driver's own process, as an
 * engine that talked to PostgreSQL itself would run it.
 */
import connectPgSimple from "connect-pg-simple";
import session from "express-session";
import pg from "pg";
import pino from "pino";
import { openPostgres } from "../src/db/postgres.js";
import { createSessionRepository } from "../src/sessions/repository/create.js";
import { limitTable, limitUrl, peerTable, productTable } from "./data-set.js";
import type { DriverArgs, OpenPath } from "./paths.js";
import { nextDocument, sessionId } from "./workload.js";

/**
 * The seed manager's load: the row while it is active and unexpired. Its columns are the
 * product's Session but message_count, which a caller can count itself.
 */
const limitLoadSql = `SELECT session_data, metadata, created_at, last_updated, expires_at, version, is_active
  FROM ${limitTable} WHERE session_id = $1 AND is_active AND (expires_at IS NULL OR expires_at > now())`;

/**
 * The seed manager's upsert, for a Save with no metadata and no expiry (what the workload sends):
 * metadata kept, never expires, a new version, alive again — the product's rule for that Save.
 */
const limitSaveSql = `INSERT INTO ${limitTable} AS t (session_id, session_data) VALUES ($1, $2)
  ON CONFLICT (session_id) DO UPDATE SET session_data = EXCLUDED.session_data, expires_at = EXCLUDED.expires_at,
    last_updated = now(), version = t.version + 1, is_active = true`;

/** The limit: the simplest correct SQL on the seed's table — unnamed statements, pg's defaults. */
export async function openLimit(args: DriverArgs): Promise<OpenPath> {
  const pool = new pg.Pool({ connectionString: limitUrl(args.databaseUrl), max: args.poolMax });
  return {
    call: async (operation, index) =>
      operation === "load"
        ? (await pool.query(limitLoadSql, [sessionId(index)])).rows[0]
        : await pool.query(limitSaveSql, [sessionId(index), JSON.stringify(nextDocument(index))]),
    close: () => pool.end(),
  };
}

/** The product's own repository (its SQL, no group commit, no cache) on its migrated table. */
export async function openProductSql(args: DriverArgs): Promise<OpenPath> {
  const db = await openPostgres(
    { connectionString: args.databaseUrl, poolMax: args.poolMax, statementTimeoutMs: 30_000, connectTimeoutMs: 5000 },
    pino({ level: "silent" }),
  );
  const repository = createSessionRepository(db, productTable);
  return {
    call: (operation, index) =>
      operation === "load"
        ? repository.load(sessionId(index), false)
        : repository.save({
            sessionId: sessionId(index),
            dataJson: JSON.stringify(nextDocument(index)),
            metadataJson: undefined,
            expiry: { kind: "never" },
            expectedVersion: undefined,
          }),
    close: () => db.close(),
  };
}

/** connect-pg-simple's store API (get / set) on its own table. */
export async function openPeer(args: DriverArgs): Promise<OpenPath> {
  const pool = new pg.Pool({ connectionString: args.databaseUrl, max: args.poolMax });
  const Store = connectPgSimple(session);
  const store = new Store({ pool, tableName: peerTable });
  const get = (sid: string) =>
    new Promise((resolve, reject) => store.get(sid, (error, value) => (error ? reject(error) : resolve(value))));
  const set = (sid: string, value: session.SessionData) =>
    new Promise<void>((resolve, reject) => store.set(sid, value, (error) => (error ? reject(error) : resolve())));
  const cookie = { originalMaxAge: 86_400_000, maxAge: 86_400_000 } as session.Cookie;
  return {
    call: (operation, index) =>
      operation === "load" ? get(sessionId(index)) : set(sessionId(index), { cookie, ...nextDocument(index) }),
    close: async () => {
      store.close();
      await pool.end();
    },
  };
}
