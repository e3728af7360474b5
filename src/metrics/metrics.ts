/**
 * The service's metrics, in one registry of its own (never prom-client's global one: two apps in
 * one process each keep theirs): process and Node.js defaults, every RPC (rpc-metrics.ts), the
 * storage under the handlers (storage-metrics.ts), the sessions' own figures (session-metrics.ts)
 * and the change feed (feed-metrics.ts), served at GET /metrics (metrics-page.ts).
 *
 * Built before the routes (the interceptor goes into their chain) and the repository stack (group
 * commit reports its batches); told of the database, the stack and maintenance once they are open.
 */
import type { Interceptor } from "@connectrpc/connect";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { AuthConfig } from "../config/load-config.js";
import type { ChangeFeed } from "../feed/contract.js";
import type { Maintenance, MaintenanceObserver } from "../maintenance/contract.js";
import type { Page } from "../transport/pages.js";
import { feedMetrics } from "./feed-metrics.js";
import { metricsPage } from "./metrics-page.js";
import { rpcMetrics } from "./rpc-metrics.js";
import { sessionMetrics } from "./session-metrics.js";
import { type StorageSources, storageMetrics } from "./storage-metrics.js";

export interface Metrics {
  readonly registry: Registry;
  /** For createRpc's `observer`: counts every call on every protocol. */
  readonly interceptor: Interceptor;
  /** For GroupCommitOptions.onBatch. */
  groupCommitBatch(kind: "save" | "load", size: number): void;
  /** For the maintenance room: counts this replica's scheduled cleanups. */
  readonly maintenanceObserver: MaintenanceObserver;
  /** GET /metrics, for the app's pages. */
  readonly page: Page;
  /**
   * Once the database is open: scrapes read the pool, the stack's layers, health, the change feed
   * and maintenance (with its cleanup interval in ms, 0 = off).
   */
  readFrom(
    sources: StorageSources & { feed?: ChangeFeed; maintenance?: { source: Maintenance; cleanupIntervalMs: number } },
  ): void;
}

export function createMetrics(options: { auth?: AuthConfig }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Sums of nodejs_active_{handles,requests,resources} by type, but gauges named like counters:
  // promtool's lint refuses them, and the labelled ones say the same.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"])
    registry.removeSingleMetric(name);
  const sessions = sessionMetrics(registry);
  const storage = storageMetrics(registry);
  const feed = feedMetrics(registry);
  return {
    registry,
    interceptor: rpcMetrics(registry, sessions),
    groupCommitBatch: storage.groupCommitBatch,
    maintenanceObserver: sessions.maintenanceObserver,
    page: metricsPage(registry, options.auth),
    readFrom({ maintenance, feed: changeFeed, ...sources }) {
      storage.readFrom(sources);
      if (changeFeed !== undefined) feed.readFrom(changeFeed);
      if (maintenance !== undefined) sessions.readFrom(maintenance.source, maintenance.cleanupIntervalMs);
    },
  };
}
