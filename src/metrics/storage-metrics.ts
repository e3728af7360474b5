/**
 * What lies under the handlers: the database pool and whether the database answers, the hot cache,
 * the outage spool and group commit. Read at scrape from the figures each part already keeps
 * (`db.poolStats()`, `repository.status()`, health) — nothing is counted twice — except group
 * commit's batch sizes, observed as each batch starts.
 */
import { Histogram, type Registry } from "prom-client";
import { HealthCheckResponse_ServingStatus as Status } from "../../gen/health/v1/health_pb.js";
import type { Db } from "../db/database.js";
import type { HealthService } from "../rpc/health.js";
import type { SessionRepository } from "../sessions/repository/contract.js";
import { scraped } from "./scraped.js";

export interface StorageSources {
  db: Db;
  repository: SessionRepository;
  health: HealthService;
}

export interface StorageMetrics {
  /** Group commit's hook (GroupCommitOptions.onBatch). */
  groupCommitBatch(kind: "save" | "load", size: number): void;
  /** From now on scrapes read these (until then their series are absent). */
  readFrom(sources: StorageSources): void;
}

export function storageMetrics(registry: Registry): StorageMetrics {
  const registers = [registry];
  let sources: StorageSources | undefined;

  const read = scraped(registers);
  const gauge = (name: string, help: string, figure: (from: StorageSources) => number | undefined) =>
    read.gauge(name, help, () => (sources === undefined ? undefined : figure(sources)));
  const total = (name: string, help: string, figure: (from: StorageSources) => number | undefined) =>
    read.total(name, help, () => (sources === undefined ? undefined : figure(sources)));

  gauge("pg_pool_size", "Connections the database pool holds (busy and idle).", ({ db }) => db.poolStats().total);
  gauge("pg_pool_idle_connections", "Idle connections in the pool.", ({ db }) => db.poolStats().idle);
  gauge("pg_pool_waiting_connections", "Queries waiting for a connection.", ({ db }) => db.poolStats().waiting);
  gauge("pg_pool_max", "Most connections the pool opens (1 for the embedded database).", ({ db }) => db.poolMax);
  total(
    "pg_pool_errors_total",
    "Connections the pool lost: an idle one that failed, or one a statement found broken.",
    ({ db }) => db.poolStats().errors,
  );
  total(
    "isotope_database_connection_failures_total",
    "Database operations that failed because the database could not be reached (every failed connect included).",
    ({ db }) => db.poolStats().connectionFailures,
  );
  gauge(
    "isotope_database_up",
    "1 while the health probe's last round trip to the database succeeded (health SERVING), else 0.",
    ({ health }) => (health.status("") === Status.SERVING ? 1 : 0),
  );

  const cache = ({ repository }: StorageSources) => repository.status().cache;
  total("isotope_cache_hits_total", "Loads answered from the hot cache (proven current first).", (s) => cache(s)?.hits);
  total("isotope_cache_misses_total", "Loads the hot cache could not answer.", (s) => cache(s)?.misses);
  gauge("isotope_cache_bytes", "Bytes of sessions the hot cache holds.", (s) => cache(s)?.bytes);
  gauge("isotope_cache_entries", "Sessions the hot cache holds.", (s) => cache(s)?.entries);
  gauge("isotope_cache_max_bytes", "The hot cache's size limit in bytes.", (s) => cache(s)?.maxBytes);

  const spool = ({ repository }: StorageSources) => repository.status().spool;
  gauge(
    "isotope_spool_pending",
    "Writes journaled while the database was down, not yet replayed.",
    (s) => spool(s)?.pending,
  );
  total("isotope_spool_spooled_total", "Writes journaled because the database was down.", (s) => spool(s)?.spooled);
  total("isotope_spool_replayed_total", "Journaled writes replayed to the database.", (s) => spool(s)?.replayed);
  total(
    "isotope_spool_conflicts_total",
    "Journaled writes dropped at replay: the database held a later write of the session.",
    (s) => spool(s)?.conflicts,
  );

  const batches = new Histogram({
    name: "isotope_group_commit_batch_size",
    help: "Calls per group-commit statement, by kind: save (Saves written together), load (Loads read together).",
    labelNames: ["kind"] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  const saveBatches = batches.labels("save");
  const loadBatches = batches.labels("load");

  return {
    groupCommitBatch(kind, size) {
      (kind === "save" ? saveBatches : loadBatches).observe(size);
    },
    readFrom(from) {
      sources = from;
    },
  };
}
