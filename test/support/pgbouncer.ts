// A private PgBouncer in transaction mode, in front of the PostgreSQL a test names: Debian's
// `pgbouncer` (scripts/prerequisites.sh installs it) in a temp dir, on a free port, in the
// foreground as a child of the test — as the postgres user when the tests run as root (it refuses
// to run as root). Trust authentication: the server behind it decides.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./ports.js";

export interface Pooler {
  /** `url` with PgBouncer's host and port in place of the server's. */
  url: string;
  port: number;
  /** What it logged (stderr). */
  log(): string;
  /** Transactions and statements it has passed to the server so far (its SHOW STATS, all databases). */
  stats(): Promise<{ transactions: number; queries: number }>;
  stop(): Promise<void>;
}

/** Starts PgBouncer in front of the server of `url` and resolves once it listens. */
export async function startPgBouncer(url: string): Promise<Pooler> {
  const server = new URL(url);
  const dir = mkdtempSync(join(tmpdir(), "isotope-pgbouncer-"));
  const port = await freePort();
  const user = decodeURIComponent(server.username || "postgres");
  writeFileSync(join(dir, "users.txt"), `"${user}" ""\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port || 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      "pool_mode = transaction",
      `admin_users = ${user}`,
      // Three replicas × pool_max 10 clients, on fewer server connections: the pooler's point.
      "max_client_conn = 200",
      "default_pool_size = 20",
      "",
    ].join("\n"),
  );
  const asRoot = userInfo().uid === 0;
  const ids = asRoot
    ? {
        uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
        gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
      }
    : {};
  // Its own files, whatever the umask: it reads them as the postgres user.
  if (ids.uid !== undefined) {
    for (const path of [dir, join(dir, "users.txt"), join(dir, "pgbouncer.ini")])
      chownSync(path, ids.uid, ids.gid as number);
  }
  const child: ChildProcess = spawn("pgbouncer", [join(dir, "pgbouncer.ini")], { ...ids, stdio: "pipe" });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pgbouncer did not start in 10 s:\n${output}`)), 10_000);
      child.once("error", reject);
      void exited.then(() => reject(new Error(`pgbouncer exited:\n${output}`)));
      const check = () => {
        if (output.includes(`listening on 127.0.0.1:${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr?.on("data", check);
      check();
    });
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pooled = new URL(url);
  pooled.hostname = "127.0.0.1";
  pooled.port = String(port);
  return {
    url: pooled.toString(),
    port,
    log: () => output,
    async stats() {
      // The admin console speaks only the simple query protocol.
      const console = new pg.Client({ connectionString: adminUrl(pooled) });
      await console.connect();
      try {
        const { rows } = await console.query<{ total_xact_count: string; total_query_count: string }>("SHOW STATS");
        return {
          transactions: rows.reduce((sum, row) => sum + Number(row.total_xact_count), 0),
          queries: rows.reduce((sum, row) => sum + Number(row.total_query_count), 0),
        };
      } finally {
        await console.end();
      }
    },
    async stop() {
      // SIGTERM: immediate shutdown (SIGINT would wait for clients to leave).
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function adminUrl(url: URL): string {
  const admin = new URL(url);
  admin.pathname = "/pgbouncer";
  return admin.toString();
}
