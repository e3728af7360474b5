/** openDatabase(config): the configured backend behind the Db seam, announced in the log. */
import type { Logger } from "pino";
import type { Db } from "./database.js";
import { openEmbedded } from "./embedded.js";
import { openPostgres, type PostgresOptions, redactUrl } from "./postgres.js";

export type { PostgresOptions };
export type DatabaseConfig = ({ kind: "postgres" } & PostgresOptions) | { kind: "embedded"; dataDir: string };

export async function openDatabase(config: DatabaseConfig, log: Logger): Promise<Db> {
  if (config.kind === "embedded") {
    log.info({ backend: "embedded", data_dir: config.dataDir }, "database: embedded PostgreSQL (PGlite)");
    return openEmbedded(config, log);
  }
  const where = config.connectionString
    ? { url: redactUrl(config.connectionString) }
    : { host: config.host, port: config.port, database: config.database, user: config.user };
  log.info({ backend: "postgres", ...where, pool_max: config.poolMax }, "database: PostgreSQL");
  return openPostgres(config, log);
}
