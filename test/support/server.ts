// Boots the real service in-process on a real socket (port 0) over a fresh database of one backend.
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import { type AuthConfig, defaults, type Limits } from "../../src/config.js";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { createServer } from "../../src/server.js";
import { withCache } from "../../src/sessions/cache.js";
import { withGroupCommit } from "../../src/sessions/group-commit.js";
import { createSessionRepository } from "../../src/sessions/repository.js";
import { openSpool, type Spool } from "../../src/sessions/spool.js";
import type { TlsMaterial } from "../../src/tls.js";
import type { Backend } from "./databases.js";

export interface RunningServer {
  /** http://127.0.0.1:port, or https://… with TLS. */
  url: string;
  port: number;
  db: Db;
  table: string;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  spool: Spool | undefined;
  stop(): Promise<void>;
}

export const testLimits: Limits = {
  maxSessionBytes: 64 * 1024,
  maxDepth: defaults.maxDepth,
  maxReceiveBytes: 1024 * 1024,
};

export function capturingLogger(lines: Array<Record<string, unknown>>): Logger {
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return pino({ level: "debug" }, sink);
}

/** What a test may switch on beyond the positional basics. */
export interface ServerOptions {
  /** Bearer tokens and roles (src/auth.ts); none = access control off. */
  auth?: AuthConfig;
  /** Certificate, key and optional client CA (PEM); none = cleartext. */
  tls?: TlsMaterial;
}

export async function startServer(
  backend: Backend,
  limits: Limits = testLimits,
  port = 0,
  corsOrigins: string[] = ["https://engine.example"],
  spoolDir?: string,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const { db, cleanup } = await backend.open();
  const table = "isotope_sessions";
  const logs: Array<Record<string, unknown>> = [];
  const log = capturingLogger(logs);
  await migrate(db, { table }, log);
  // As in production (src/main.ts): every server test also exercises group commit and the cache.
  const grouped = withGroupCommit(createSessionRepository(db, table), { maxBatch: 64, windowMs: 0, maxInFlight: 2 });
  const cache = withCache(grouped, db, table, 8 * 1024 * 1024);
  const repository = cache.repository;
  const spool = spoolDir === undefined ? undefined : await openSpool(spoolDir, repository, log);
  const server = createServer({
    db,
    repository,
    spool,
    cache,
    limits,
    log,
    healthProbeMs: 200,
    corsOrigins,
    auth: options.auth,
    tls: options.tls,
  });
  const bound = await server.listen(port, "127.0.0.1");
  return {
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${bound}`,
    port: bound,
    db,
    table,
    logs,
    spool,
    async stop() {
      await server.close(2000);
      await spool?.close();
      await cache.close();
      await cleanup();
    },
  };
}

/** An order-independent checksum of the sessions table, to prove a request changed nothing. */
export async function tableChecksum(server: RunningServer): Promise<string> {
  const { rows } = await server.db.query<{ sum: string | null }>(
    `SELECT md5(string_agg(md5(t::text), ',' ORDER BY session_id)) AS sum FROM ${server.table} t`,
  );
  return rows[0]?.sum ?? "empty";
}
