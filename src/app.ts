/**
 * createApp(config, deps): the one composition root. It opens the database (or takes one),
 * migrates it, builds the repository stack (SQL → group commit → cache → spool), the RPC routes
 * and their interceptors, the health probe and the port. main.ts runs it as a process; tests run
 * it on port 0, or serve its routes in memory without a socket (`app.rpc`).
 */
import { setMaxListeners } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Config } from "./config/load-config.js";
import type { Db } from "./db/database.js";
import { migrate } from "./db/migrate.js";
import { openDatabase } from "./db/open.js";
import { createHealthProbe } from "./rpc/health-probe.js";
import { createRpc, messageRecursionLimit, type Rpc } from "./rpc/routes.js";
import type { SessionRepository } from "./sessions/repository/contract.js";
import { createRepositoryStack } from "./sessions/repository/stack.js";
import { createRpcHandler } from "./transport/handler.js";
import { createHttpServer } from "./transport/http-server.js";
import type { TlsMaterial } from "./transport/tls.js";

/** The settings the app reads; the rest of Config (port, host, log level) is main.ts's. */
export type AppConfig = Pick<
  Config,
  "database" | "table" | "limits" | "cacheBytes" | "groupCommit" | "spoolDir" | "corsOrigins" | "auth"
>;

export interface AppDeps {
  log: Logger;
  /** An open database to use instead of opening `config.database`; its opener closes it. */
  db?: Db;
  /** Certificate and key (and client CA for mutual TLS), read from config.tls; none = cleartext. */
  tls?: TlsMaterial;
  /** How often health probes the database (ms). */
  healthProbeMs?: number;
}

export interface App {
  readonly db: Db;
  /** The whole repository stack, as the handlers see it. */
  readonly repository: SessionRepository;
  /** The routes and interceptors, to serve in memory with createRouterTransport. */
  readonly rpc: Rpc;
  /** Starts the health probe and listens; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful stop: health NOT_SERVING, new RPCs UNAVAILABLE, in-flight RPCs finish; after `graceMs`
   * the rest are cancelled. Then the repository stack closes, and the database if the app opened it.
   */
  stop(graceMs: number): Promise<void>;
}

export async function createApp(config: AppConfig, deps: AppDeps): Promise<App> {
  const { log } = deps;
  const db = deps.db ?? (await openDatabase(config.database, log));
  const { applied } = await migrate(db, { table: config.table }, log);
  if (applied.length > 0) log.info({ applied }, "migrations applied");

  const repository = await createRepositoryStack(
    db,
    { table: config.table, groupCommit: config.groupCommit, cacheBytes: config.cacheBytes, spoolDir: config.spoolDir },
    log,
  );
  log.info({ cache_bytes: config.cacheBytes, group_commit: config.groupCommit }, "hot cache and group commit");

  const rpc = createRpc({ db, repository, limits: config.limits, log, auth: config.auth });
  const shutdown = new AbortController();
  // Every in-flight handler listens on this signal: hundreds at once is normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const handler = createRpcHandler({
    routes: rpc.routes,
    interceptors: rpc.interceptors,
    readMaxBytes: config.limits.maxReceiveBytes,
    recursionLimit: messageRecursionLimit(config.limits),
    shutdownSignal: shutdown.signal,
    corsOrigins: config.corsOrigins,
    log,
  });
  const http = createHttpServer(handler, { tls: deps.tls, log });
  const probe = createHealthProbe({
    repository,
    health: rpc.health,
    intervalMs: deps.healthProbeMs ?? 2000,
    log,
  });

  return {
    db,
    repository,
    rpc,
    async listen(port, host) {
      await probe.check();
      probe.start();
      return http.listen(port, host);
    },
    async stop(graceMs) {
      probe.stop();
      rpc.drain.start();
      rpc.health.shutdown();
      const closed = http.stopAccepting();
      const graceOver = new Promise<"timeout">((resolve) => setTimeout(resolve, graceMs, "timeout").unref());
      if ((await Promise.race([rpc.drain.idle(), graceOver])) === "timeout") {
        log.warn({ in_flight: rpc.drain.inFlight }, "grace period over: cancelling the RPCs still running");
        shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
      }
      // Calls already on the wire still get their UNAVAILABLE rather than a refused stream.
      // Bounded: a handler stuck writing to a peer that never reads must not hold the exit.
      await Promise.race([
        new Promise((resolve) => setTimeout(resolve, 250)).then(() => rpc.drain.idle()),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
      await http.disconnect();
      await closed;
      await repository.close();
      if (deps.db === undefined) await db.close();
    },
  };
}
