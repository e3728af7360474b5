/**
 * The service's entry point: loadConfig → openDatabase → migrate → createServer → listen;
 * SIGTERM / SIGINT → drain, close the database, exit 0.
 */
import pino from "pino";
import { ConfigError, loadConfig } from "./config.js";
import { migrate } from "./db/migrate.js";
import { openDatabase } from "./db/open.js";
import { createServer } from "./server.js";
import { withCache } from "./sessions/cache.js";
import { withGroupCommit } from "./sessions/group-commit.js";
import { createSessionRepository } from "./sessions/repository.js";
import { openSpool } from "./sessions/spool.js";
import { readTlsMaterial, type TlsMaterial } from "./tls.js";

// Log lines are written asynchronously, batched while a write is in flight: a synchronous
// write(2) per RPC line cost ~5 % of the server's CPU under load (bench/RESULTS.md). Every exit
// path flushes what is buffered.
const destination = pino.destination({ dest: 1, sync: false });

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  let tls: TlsMaterial | undefined;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
    // Read before anything starts: an unreadable certificate is a configuration error (exit 2).
    tls = config.tls === undefined ? undefined : readTlsMaterial(config.tls);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = pino(
    {
      level: config.logLevel,
      // Secrets never reach the log, even if a future line passes a whole config object.
      redact: [
        "password",
        "*.password",
        "database.password",
        "connectionString",
        "*.connectionString",
        "authorization",
        "*.authorization",
        "headers.authorization",
        "token",
        "*.token",
      ],
    },
    destination,
  );
  log.info({ config_file: config.configFile ?? null, table: config.table }, "isotope-sessions starting");

  const db = await openDatabase(config.database, log);
  const { applied } = await migrate(db, { table: config.table }, log);
  if (applied.length > 0) log.info({ applied }, "migrations applied");
  const grouped = withGroupCommit(createSessionRepository(db, config.table), {
    ...config.groupCommit,
    // Half the pool writes batches, the rest stays free for reads; PGlite has one connection.
    maxInFlight: config.database.kind === "postgres" ? Math.max(1, Math.floor(config.database.poolMax / 2)) : 1,
  });
  const cache = withCache(grouped, db, config.table, config.cacheBytes);
  const repository = cache.repository;
  log.info({ cache_bytes: config.cacheBytes, group_commit: config.groupCommit }, "hot cache and group commit");
  const spool = config.spoolDir === undefined ? undefined : await openSpool(config.spoolDir, repository, log);
  if (spool) log.info({ spool_dir: spool.directory, pending: spool.status().pending }, "outage spool enabled");
  const server = createServer({
    db,
    repository,
    limits: config.limits,
    log,
    corsOrigins: config.corsOrigins,
    spool,
    cache,
    auth: config.auth,
    tls,
  });
  const port = await server.listen(config.port, config.host);
  if (config.auth.tokens.length === 0) {
    log.warn("access control is off: no auth.tokens configured, every call is allowed");
  } else {
    log.info(
      {
        tokens: config.auth.tokens.map(({ name, role }) => ({ name, role })),
        protect_health: config.auth.protectHealth,
        protect_reflection: config.auth.protectReflection,
      },
      "access control on: bearer tokens required",
    );
  }
  log.info(
    {
      tls: config.tls === undefined ? "off" : config.tls.clientCaFile === undefined ? "on" : "mutual",
      ...(config.tls === undefined ? {} : { cert_file: config.tls.certFile, client_ca_file: config.tls.clientCaFile }),
    },
    config.tls === undefined ? "cleartext: no TLS certificate configured" : "TLS on",
  );
  log.info({ port, host: config.host ?? "all interfaces", backend: db.backend, database: db.location }, "serving");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, grace_ms: config.shutdownGraceMs }, "shutting down");
    await server.close(config.shutdownGraceMs);
    await spool?.close();
    await cache.close();
    await db.close();
    log.info("stopped");
    destination.flushSync();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  pino({}, destination).fatal({ err: error }, "isotope-sessions failed to start");
  destination.flushSync();
  process.exit(1);
});
