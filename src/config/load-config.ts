/**
 * The service's configuration, built from flags, environment and config/config.yaml (in that order
 * of precedence, else each setting's default: settings.ts) and checked as a whole. The one entry
 * point of the config room: the rest of the service imports from here.
 */
import { resolve } from "node:path";
import type { DatabaseConfig } from "../db/open.js";
import type { AuthConfig } from "./auth-tokens.js";
import { databaseConfig } from "./database-settings.js";
import { readSettings } from "./read-setting.js";
import { settings } from "./settings.js";
import { type ReadConfigFile, readConfigFileIfExists, readSources } from "./sources.js";
import { type TlsConfig, tlsConfig } from "./tls-settings.js";
import { checkEnvironmentNames, checkFileNames } from "./unknown-names.js";

export { type AuthConfig, type Role, roles, type TokenConfig } from "./auth-tokens.js";
export type { TlsConfig } from "./tls-settings.js";

export interface Config {
  /** Undefined = all interfaces. */
  host: string | undefined;
  port: number;
  database: DatabaseConfig;
  table: string;
  limits: Limits;
  shutdownGraceMs: number;
  /** Browser origins allowed to call (CORS); empty = none, "*" = any. */
  corsOrigins: string[];
  /** Memory for the hot cache of sessions, in bytes (0 = off). */
  cacheBytes: number;
  /** Concurrent Saves written together (see src/sessions/repository/group-commit.ts). */
  groupCommit: { maxBatch: number; windowMs: number };
  /** Where blind Saves are journaled while the database is unavailable; undefined = no spool. */
  spoolDir: string | undefined;
  /** How long a keyed write's request_id is remembered, in ms. */
  requestIdWindowMs: number;
  logLevel: string;
  /** "auto" (pretty on a terminal), "json" or "pretty": see settings.ts. */
  logFormat: string;
  auth: AuthConfig;
  /** Undefined = cleartext. */
  tls: TlsConfig | undefined;
  /** This replica's name in logs and in the scheduled jobs' row; undefined = host:pid. */
  replicaName: string | undefined;
  cleanup: CleanupConfig;
  changes: ChangesConfig;
  /** The config file that was read, if any (for the start-up log). */
  configFile: string | undefined;
}

export interface Limits {
  /** Largest session_data accepted by Save, as UTF-8 JSON bytes (RESOURCE_EXHAUSTED above). */
  maxSessionBytes: number;
  /**
   * Deepest nesting of objects and arrays accepted in data and metadata. Each JSON level is two
   * protobuf message levels (Value, then Struct or ListValue) and standard decoders — protobuf-es,
   * C++, Python — stop at 100 levels: past ~48 a session is stored but clients cannot read it.
   */
  maxDepth: number;
  /** Largest request message the server reads off the wire. */
  maxReceiveBytes: number;
}

/** Scheduled cleanup, run by one replica per interval (src/maintenance/). */
export interface CleanupConfig {
  /** 0 = off. */
  intervalMs: number;
  /** How long a run holds the job between signs of life (it renews between batches). */
  leaseMs: number;
  hardDelete: boolean;
  /** Purge sessions inactive for longer than this; undefined = never. */
  purgeInactiveAfterMs: number | undefined;
  batchSize: number;
  /** How long sessions-by-state samples are kept. */
  sampleRetentionMs: number;
}

/** The change feed behind Watch (src/feed/). */
export interface ChangesConfig {
  /** Off: writes log nothing, Watch is refused. */
  enabled: boolean;
  /** Events older than this are trimmed by the scheduled maintenance. */
  retentionMs: number;
  /** The feed's slow poll. */
  pollMs: number;
}

const dayMs = 24 * 60 * 60 * 1000;

/** Thrown with every problem found, one per line, so an operator fixes them all at once. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * Builds the configuration from flags (`--port 50052` or `--port=50052`), the environment and the
 * YAML file (`--config`, else ISOTOPE_CONFIG, else config/config.yaml when it exists). Pure apart
 * from `readFile`: tests pass literal env, argv and file text. Relative paths are resolved against
 * the working directory. A name it does not know — a flag, an ISOTOPE_ environment variable, a
 * section or key of the file — is a problem too, with the nearest known name (unknown-names.ts).
 *
 * @throws ConfigError listing every problem found, when there is any.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
  readFile: ReadConfigFile = readConfigFileIfExists,
): Config {
  const problems: string[] = [];
  const flagNames = Object.values(settings).map((setting) => setting.flag);
  const sources = readSources(env, argv, readFile, flagNames, problems);
  checkEnvironmentNames(env, problems);
  checkFileNames(sources.file, sources.configFile, problems);
  const values = readSettings(sources, problems);
  const database = databaseConfig(values, sources.file.postgresql, problems);
  const tls = tlsConfig(
    { certFile: values.tlsCertFile, keyFile: values.tlsKeyFile, clientCaFile: values.tlsClientCaFile },
    problems,
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host: values.host,
    port: values.port,
    database,
    table: values.table,
    limits: {
      maxSessionBytes: values.maxSessionBytes,
      maxDepth: values.maxDepth,
      maxReceiveBytes: values.maxReceiveBytes,
    },
    shutdownGraceMs: values.shutdownGraceMs,
    corsOrigins: values.corsOrigins,
    cacheBytes: values.cacheBytes,
    groupCommit: { maxBatch: values.groupCommitMaxBatch, windowMs: values.groupCommitWindowMs },
    spoolDir: values.spoolDir === undefined ? undefined : resolve(values.spoolDir),
    requestIdWindowMs: values.requestIdWindowHours * 60 * 60 * 1000,
    logLevel: values.logLevel,
    logFormat: values.logFormat,
    auth: {
      tokens: values.authTokens,
      protectHealth: values.authProtectHealth,
      protectReflection: values.authProtectReflection,
      protectMetrics: values.authProtectMetrics,
    },
    tls,
    replicaName: values.replicaName,
    cleanup: {
      intervalMs: values.cleanupIntervalMs,
      leaseMs: values.cleanupLeaseMs,
      hardDelete: values.cleanupHardDelete,
      purgeInactiveAfterMs: values.cleanupPurgeInactiveDays === 0 ? undefined : values.cleanupPurgeInactiveDays * dayMs,
      batchSize: values.cleanupBatchSize,
      sampleRetentionMs: values.cleanupSampleRetentionDays * dayMs,
    },
    changes: {
      enabled: values.changesEnabled,
      retentionMs: values.changesRetentionHours * 60 * 60 * 1000,
      pollMs: values.changesPollMs,
    },
    configFile: sources.configFile,
  };
}
