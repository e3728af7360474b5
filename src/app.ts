/**
 * createApp(config, deps): the one composition root. It builds the RPC routes and their
 * interceptors and the port — bound first when `deps.bindFirst` asks, as the process does — then
 * opens the database (or takes one), migrates it and builds the repository stack (SQL → group
 * commit → cache → spool) the routes call, the change feed, the health probe and the scheduled
 * maintenance; the admin console's page and service come with the routes. main.ts runs it as a process;
 * tests run it on port 0, or serve its routes in memory without a socket (`app.rpc`).
 */
import { setMaxListeners } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { createAdminService } from "./admin/admin-service.js";
import { createAdminPage } from "./admin/page.js";
import { openFailure, opening, portFailure, StartupError } from "./app-startup.js";
import type { Config } from "./config/load-config.js";
import type { Db } from "./db/database.js";
import { migrate } from "./db/migrate.js";
import { openDatabase } from "./db/open.js";
import type { ChangeFeed } from "./feed/contract.js";
import { createChangeFeed } from "./feed/feed.js";
import { createHttpApi } from "./http/api.js";
import type { Maintenance } from "./maintenance/contract.js";
import { createMaintenance } from "./maintenance/schedule.js";
import { createMetrics } from "./metrics/metrics.js";
import { createHealthProbe } from "./rpc/health-probe.js";
import { createRpc, messageRecursionLimit, type Rpc } from "./rpc/routes.js";
import { changeLog, changeRecorder } from "./sessions/repository/change-log.js";
import type { SessionRepository } from "./sessions/repository/contract.js";
import { createRepositoryStack } from "./sessions/repository/stack.js";
import { createRpcHandler } from "./transport/handler.js";
import { createHttpServer } from "./transport/http-server.js";
import type { Page } from "./transport/pages.js";
import type { TlsMaterial } from "./transport/tls.js";

/** The settings the app reads; the rest of Config (port, host, log level) is main.ts's. */
export type AppConfig = Pick<
  Config,
  | "database"
  | "table"
  | "limits"
  | "cacheBytes"
  | "groupCommit"
  | "spoolDir"
  | "requestIdWindowMs"
  | "corsOrigins"
  | "auth"
  | "cleanup"
  | "changes"
  | "replicaName"
>;

export interface AppDeps {
  log: Logger;
  /** An open database to use instead of opening `config.database`; its opener closes it. */
  db?: Db;
  /** Certificate and key (and client CA for mutual TLS), read from config.tls; none = cleartext. */
  tls?: TlsMaterial;
  /** How often health probes the database (ms). */
  healthProbeMs?: number;
  /**
   * Bind this port before the database is opened: a taken port fails at once, with no data
   * touched, and calls arriving while the database opens get UNAVAILABLE (health: NOT_SERVING).
   * Without it, `listen` binds.
   */
  bindFirst?: { port: number; host?: string };
}

export interface App {
  readonly db: Db;
  /** The whole repository stack, as the handlers see it. */
  readonly repository: SessionRepository;
  /** The routes and interceptors, to serve in memory with createRouterTransport. */
  readonly rpc: Rpc;
  /** Scheduled cleanup and samples, led by one replica per interval. */
  readonly maintenance: Maintenance;
  /**
   * Starts the health probe and the maintenance schedule, and listens (already bound with
   * `bindFirst`: on that port); resolves with the bound port (useful with port 0).
   */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful stop: health NOT_SERVING, new RPCs UNAVAILABLE, a scheduled cleanup in progress
   * aborted, in-flight RPCs finish; after `graceMs` the rest are cancelled. Then the repository stack closes, and the database if the app opened it.
   */
  stop(graceMs: number): Promise<void>;
}

export async function createApp(config: AppConfig, deps: AppDeps): Promise<App> {
  const { log } = deps;
  // The routes are built before the database is open, over stand-ins that refuse every call as
  // unavailable until the database and the stack behind them are ready.
  const openDb = opening<Db>();
  const openStack = opening<SessionRepository>();
  const openMaintenance = opening<Maintenance>();
  const openFeed = opening<ChangeFeed>();
  const metrics = createMetrics({ auth: config.auth });
  const rpc = createRpc({
    db: openDb.standIn,
    repository: openStack.standIn,
    feed: openFeed.standIn,
    limits: config.limits,
    log,
    auth: config.auth,
    observer: metrics.interceptor,
    admin: createAdminService({ maintenance: openMaintenance.standIn, cleanup: config.cleanup, auth: config.auth }),
  });
  const shutdown = new AbortController();
  // Every in-flight handler listens on this signal: hundreds at once is normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  // What the port serves beside the RPCs, by path prefix (transport/pages.ts).
  const pages: Page[] = [
    metrics.page,
    createHttpApi({ rpc, config, shutdownSignal: shutdown.signal, log }),
    createAdminPage(),
  ];
  const handler = createRpcHandler({
    routes: rpc.routes,
    interceptors: rpc.interceptors,
    readMaxBytes: config.limits.maxReceiveBytes,
    recursionLimit: messageRecursionLimit(config.limits),
    shutdownSignal: shutdown.signal,
    corsOrigins: config.corsOrigins,
    pages,
    log,
  });
  const http = createHttpServer(handler, { tls: deps.tls, log });
  const healthProbeMs = deps.healthProbeMs ?? 2000;

  let bound: number | undefined;
  if (deps.bindFirst !== undefined) {
    const { port, host } = deps.bindFirst;
    bound = await http.listen(port, host).catch((error: unknown) => {
      throw new StartupError(portFailure(error, port, host), { cause: error });
    });
    // NOT_SERVING while the database opens: the stand-in refuses the probe's round trip.
    await createHealthProbe({
      repository: openStack.standIn,
      health: rpc.health,
      intervalMs: healthProbeMs,
      log,
    }).check();
    log.info({ port: bound, host: host ?? "all interfaces" }, "port bound: opening the database");
  }

  let db: Db | undefined;
  let repository: SessionRepository;
  let feed: ChangeFeed;
  try {
    db = deps.db ?? (await openDatabase(config.database, log, bound));
    const { applied } = await migrate(db, { table: config.table }, log);
    if (applied.length > 0) log.info({ applied }, "migrations applied");
    feed = createChangeFeed(db, changeLog(db, config.table), config.table, config.changes, log);
    const changes = changeRecorder(config.table, config.changes.enabled, feed.written);
    repository = await createRepositoryStack(
      db,
      {
        table: config.table,
        groupCommit: { ...config.groupCommit, onBatch: metrics.groupCommitBatch },
        cacheBytes: config.cacheBytes,
        spoolDir: config.spoolDir,
        changes,
        requestIdWindowMs: config.requestIdWindowMs,
      },
      log,
    );
  } catch (error) {
    // Closing what this call opened releases an embedded data directory's lock.
    if (deps.db === undefined) await db?.close().catch(() => {});
    if (bound !== undefined) await http.disconnect();
    throw openFailure(error, config.database);
  }
  openDb.open(db);
  openStack.open(repository);
  openFeed.open(feed);
  log.info({ cache_bytes: config.cacheBytes, group_commit: config.groupCommit }, "hot cache and group commit");
  const probe = createHealthProbe({ repository, health: rpc.health, intervalMs: healthProbeMs, log });
  const maintenance = createMaintenance({
    db,
    repository,
    table: config.table,
    cleanup: config.cleanup,
    replica: config.replicaName,
    changes: config.changes.enabled
      ? { log: changeLog(db, config.table), retentionMs: config.changes.retentionMs }
      : undefined,
    requestIdWindowMs: config.requestIdWindowMs,
    observer: metrics.maintenanceObserver,
    log,
  });
  openMaintenance.open(maintenance);
  metrics.readFrom({
    db,
    repository,
    health: rpc.health,
    feed,
    maintenance: { source: maintenance, cleanupIntervalMs: config.cleanup.intervalMs },
  });

  return {
    db,
    repository,
    rpc,
    maintenance,
    async listen(port, host) {
      await probe.check();
      probe.start();
      maintenance.start();
      feed.start();
      return bound ?? http.listen(port, host);
    },
    async stop(graceMs) {
      probe.stop();
      // A cleanup in progress is aborted now, not after the grace period; Watch streams end now
      // (UNAVAILABLE, with where to resume), they would never finish on their own.
      const maintenanceStopped = maintenance.stop();
      const feedStopped = feed.stop();
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
      await maintenanceStopped;
      await feedStopped;
      await repository.close();
      if (deps.db === undefined) await db.close();
    },
  };
}
