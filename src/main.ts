/**
 * The process: loadConfig → createApp (the port bound first, then the database opened) → listen;
 * SIGTERM / SIGINT → app.stop → exit 0. Exit codes: 2 for a configuration error (every problem
 * listed), 1 when start-up fails — with one readable line on stderr besides the JSON log.
 */
import pino from "pino";
import { createApp } from "./app.js";
import { StartupError } from "./app-startup.js";
import { type Config, ConfigError, loadConfig } from "./config/load-config.js";
import { readTlsMaterial, type TlsMaterial } from "./transport/tls.js";

// Log lines are written asynchronously in batches of at least 4 KB, and whatever is buffered at
// least every 200 ms: a write(2) per RPC line cost ~5 % of the server's CPU under load
// (bench/RESULTS.md). Every exit path flushes what is buffered.
const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
setInterval(() => destination.flush(), 200).unref();

async function main(): Promise<void> {
  let config: Config;
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

  // Bound before the database is opened: a taken port fails before any data is touched.
  const app = await createApp(config, { log, tls, bindFirst: { port: config.port, host: config.host } });
  const port = await app.listen(config.port, config.host);
  if (config.auth.tokens.length === 0) {
    log.warn("access control is off: no auth.tokens configured, every call is allowed");
  } else {
    log.info(
      {
        tokens: config.auth.tokens.map(({ name, role }) => ({ name, role })),
        protect_health: config.auth.protectHealth,
        protect_reflection: config.auth.protectReflection,
        protect_metrics: config.auth.protectMetrics,
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
  log.info(
    { port, host: config.host ?? "all interfaces", backend: app.db.backend, database: app.db.location },
    "serving",
  );
  // Someone is watching (or asked): one line that says where, beside the JSON log.
  if (config.logFormat === "pretty" || (config.logFormat === "auto" && process.stdout.isTTY === true)) {
    const scheme = tls === undefined ? "http" : "https";
    const where =
      app.db.backend === "embedded"
        ? `embedded database in ${app.db.location}`
        : `PostgreSQL database "${app.db.location}"`;
    process.stderr.write(
      `isotope-sessions serving gRPC, gRPC-Web and Connect on ${scheme}://${config.host ?? "localhost"}:${port} ` +
        `(the HTTP API under /api, metrics at /metrics, the admin console at /admin) — ${where}; ` +
        `access control ${config.auth.tokens.length === 0 ? "off" : "on"}; Ctrl-C stops it\n`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, grace_ms: config.shutdownGraceMs }, "shutting down");
    await app.stop(config.shutdownGraceMs);
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
  process.stderr.write(`isotope-sessions failed to start: ${readable(error)}\n`);
  process.exit(1);
});

/** One line for a person: a StartupError's sentence, or the first line of anything else's message. */
function readable(error: unknown): string {
  if (error instanceof StartupError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `${message.split("\n")[0]} (details in the JSON log on stdout)`;
}
