// Boots the real service in-process on a real socket (port 0) over a fresh database of one
// backend, through the same composition root as src/main.ts.
import { Writable } from "node:stream";
import { createRouterTransport, type Transport } from "@connectrpc/connect";
import pino, { type Logger } from "pino";
import { type App, type AppConfig, createApp } from "../../src/app.js";
import { type AuthConfig, type CleanupConfig, type Limits, loadConfig } from "../../src/config/load-config.js";
import { settings } from "../../src/config/settings.js";
import type { Db } from "../../src/db/database.js";
import { messageRecursionLimit } from "../../src/rpc/routes.js";
import type { SessionRepository } from "../../src/sessions/repository/contract.js";
import type { TlsMaterial } from "../../src/transport/tls.js";
import type { Backend } from "./databases.js";

/** A test's service: the app over a fresh database, and what a test looks at behind it. */
interface TestService {
  db: Db;
  table: string;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The whole repository stack the server runs on (its layers' figures: `status()`). */
  repository: SessionRepository;
  /** RPCs in flight now, as the drain counts them (a streaming RPC until its stream ends). */
  inFlight(): number;
  stop(): Promise<void>;
}

/** The service on a real socket. */
export interface RunningServer extends TestService {
  /** http://127.0.0.1:port, or https://… with TLS. */
  url: string;
  port: number;
}

export const testLimits: Limits = {
  maxSessionBytes: 64 * 1024,
  maxDepth: settings.maxDepth.default,
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

/** Scheduled cleanup with production's settings, but off: suites that test it switch it on. */
export const testCleanup: CleanupConfig = {
  ...loadConfig({}, [], () => undefined).cleanup,
  intervalMs: 0,
};

/** What a test may switch on beyond the positional basics. */
export interface ServerOptions {
  /** Bearer tokens and roles (src/rpc/interceptors/auth.ts); none = access control off. */
  auth?: AuthConfig;
  /** Certificate, key and optional client CA (PEM); none = cleartext. */
  tls?: TlsMaterial;
  /** How often the health probe pings the database (and so replays the spool): 200 ms unless set. */
  healthProbeMs?: number;
}

/** The configuration tests run with: production's defaults, small limits, a small cache. */
export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    database: { kind: "embedded", dataDir: "unused: tests pass an open database" },
    table: "isotope_sessions",
    limits: testLimits,
    cacheBytes: 8 * 1024 * 1024,
    groupCommit: { maxBatch: 64, windowMs: 0 },
    spoolDir: undefined,
    corsOrigins: ["https://engine.example"],
    auth: { tokens: [], protectHealth: false, protectReflection: false },
    cleanup: testCleanup,
    changes: { ...loadConfig({}, [], () => undefined).changes, pollMs: 200 },
    requestIdWindowMs: loadConfig({}, [], () => undefined).requestIdWindowMs,
    replicaName: undefined,
    ...overrides,
  };
}

/** The app over a fresh database of `backend`, not listening: for in-memory tests. */
export async function startApp(
  backend: Backend,
  overrides: Partial<AppConfig> = {},
  deps: { tls?: TlsMaterial; logs?: Array<Record<string, unknown>>; healthProbeMs?: number } = {},
): Promise<{ app: App; logs: Array<Record<string, unknown>>; stop(): Promise<void> }> {
  const { db, cleanup } = await backend.open();
  const logs = deps.logs ?? [];
  const app = await createApp(testConfig(overrides), {
    log: capturingLogger(logs),
    db,
    tls: deps.tls,
    healthProbeMs: deps.healthProbeMs ?? 200,
  });
  return {
    app,
    logs,
    async stop() {
      await app.stop(2000);
      await cleanup();
    },
  };
}

export async function startServer(
  backend: Backend,
  limits: Limits = testLimits,
  port = 0,
  corsOrigins: string[] = ["https://engine.example"],
  spoolDir?: string,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const { app, logs, stop } = await startApp(
    backend,
    { limits, corsOrigins, spoolDir, ...(options.auth === undefined ? {} : { auth: options.auth }) },
    { tls: options.tls, healthProbeMs: options.healthProbeMs },
  );
  const bound = await app.listen(port, "127.0.0.1");
  return {
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${bound}`,
    port: bound,
    ...testService(app, logs, stop),
  };
}

/** What a test sees of a started app, whichever way it is served. */
function testService(app: App, logs: Array<Record<string, unknown>>, stop: () => Promise<void>): TestService {
  return {
    db: app.db,
    table: "isotope_sessions",
    logs,
    repository: app.repository,
    inFlight: () => app.rpc.drain.inFlight,
    stop,
  };
}

/** The service without a socket: its routes and interceptors behind an in-memory transport. */
export interface InMemoryServer extends TestService {
  transport: Transport;
}

/**
 * The app over a fresh database of `backend`, served in memory (Connect protocol, binary) through
 * the same routes, interceptors and limits as on the port.
 */
export async function startInMemory(backend: Backend, overrides: Partial<AppConfig> = {}): Promise<InMemoryServer> {
  const { app, logs, stop } = await startApp(backend, overrides);
  const limits = overrides.limits ?? testLimits;
  const recursionLimit = messageRecursionLimit(limits);
  const transport = createRouterTransport(app.rpc.routes, {
    router: {
      interceptors: app.rpc.interceptors,
      readMaxBytes: limits.maxReceiveBytes,
      binaryOptions: { recursionLimit },
      jsonOptions: { recursionLimit },
    },
  });
  return { transport, ...testService(app, logs, stop) };
}

/** An order-independent checksum of the sessions table, to prove a request changed nothing. */
export async function tableChecksum(server: Pick<RunningServer, "db" | "table">): Promise<string> {
  const { rows } = await server.db.query<{ sum: string | null }>(
    `SELECT md5(string_agg(md5(t::text), ',' ORDER BY session_id)) AS sum FROM ${server.table} t`,
  );
  return rows[0]?.sum ?? "empty";
}
