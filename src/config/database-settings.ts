/**
 * Which database: a URL (`--database-url`, DATABASE_URL, storage.database_url) first; else the
 * seed's `postgresql:` block in config.yaml; else the embedded database in the data directory.
 */
import { resolve } from "node:path";
import type { DatabaseConfig } from "../db/open.js";
import type { SettingValues } from "./settings.js";
import { mappingOrUndefined } from "./sources.js";

type StorageValues = Pick<
  SettingValues,
  "databaseUrl" | "dataDir" | "poolMax" | "statementTimeoutMs" | "connectTimeoutMs" | "transactionPooler" | "listenUrl"
>;

/** The keys of the seed's `postgresql:` block, as its Python manager read them. */
export const seedBlockKeys = ["host", "port", "user", "password", "database"] as const;

/**
 * `seedBlock` is the file's `postgresql:` value as found: a mapping of host (default localhost),
 * port (default 5432), user, password and database, as the seed's Python manager read it.
 */
export function databaseConfig(values: StorageValues, seedBlock: unknown, problems: string[]): DatabaseConfig {
  const pool = {
    poolMax: values.poolMax,
    statementTimeoutMs: values.statementTimeoutMs,
    connectTimeoutMs: values.connectTimeoutMs,
    transactionPooler: values.transactionPooler,
    listenConnectionString: values.listenUrl,
  };
  if (values.databaseUrl !== undefined) return { kind: "postgres", connectionString: values.databaseUrl, ...pool };
  if (seedBlock === undefined || seedBlock === null) return { kind: "embedded", dataDir: resolve(values.dataDir) };
  const block = mappingOrUndefined(seedBlock);
  if (block === undefined) {
    problems.push(`postgresql: expected a mapping of ${seedBlockKeys.join(", ")}`);
    return { kind: "embedded", dataDir: resolve(values.dataDir) };
  }
  const port = block.port === undefined ? 5432 : Number(block.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    problems.push(`postgresql.port: "${block.port}" is not a port`);
  }
  const text = (key: string) => (block[key] === undefined || block[key] === null ? undefined : String(block[key]));
  return {
    kind: "postgres",
    host: text("host") ?? "localhost",
    port,
    user: text("user"),
    password: text("password"),
    database: text("database"),
    ...pool,
  };
}
