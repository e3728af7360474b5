/**
 * openDatabase(config): the configured backend behind the Db seam, announced in the log. `servingPort`
 * is the port this process already listens on: the embedded backend writes it into its data
 * directory's lock, so a second server refused there is told which one holds it.
 */
import type { Logger } from "pino";
import type { Db } from "./database.js";
import { openEmbedded } from "./embedded.js";
import { openPostgres, type PostgresOptions, redactUrl } from "./postgres.js";

export type { PostgresOptions };
export type DatabaseConfig = ({ kind: "postgres" } & PostgresOptions) | { kind: "embedded"; dataDir: string };

export async function openDatabase(config: DatabaseConfig, log: Logger, servingPort?: number): Promise<Db> {
  if (config.kind === "embedded") {
    log.info({ backend: "embedded", data_dir: config.dataDir }, "database: embedded PostgreSQL (PGlite)");
    return openEmbedded({ dataDir: config.dataDir, port: servingPort }, log);
  }
  const where = config.connectionString
    ? { url: redactUrl(config.connectionString) }
    : { host: config.host, port: config.port, database: config.database, user: config.user };
  log.info(
    { backend: "postgres", ...where, pool_max: config.poolMax, transaction_pooler: config.transactionPooler === true },
    "database: PostgreSQL",
  );
  return openPostgres(config, log);
}
