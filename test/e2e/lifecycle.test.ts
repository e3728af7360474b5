// The service as an operator runs it: a real process started the way README says, its first log
// lines, sessions surviving a restart on both backends (PostgreSQL also through PgBouncer), a graceful SIGTERM under load, and a bad
// configuration refused with every problem listed.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropServiceTable, postgresUrl } from "../support/databases.js";
import { type Pooler, startPgBouncer } from "../support/pgbouncer.js";
import { reportSkippedWithoutPostgres } from "../support/postgres-only.js";
import { clientFor, serviceMain, startService, stop } from "../support/service.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-lifecycle-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the embedded backend as a process", () => {
  const dataDir = join(scratch, "data");

  it("says which backend and where first, and keeps sessions across a restart", { timeout: 120_000 }, async () => {
    const first = await startService(["--data-dir", dataDir]);
    const opening = first.lines().slice(0, 3);
    expect(opening.some((line) => line.backend === "embedded" && line.data_dir === dataDir)).toBe(true);
    // Without tokens or a certificate nothing is guarded, and the log says so (as a warning).
    expect(first.lines()).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: "access control is off: no auth.tokens configured, every call is allowed",
      }),
    );
    expect(first.lines()).toContainEqual(expect.objectContaining({ tls: "off" }));
    const saved = await clientFor(first).save({ sessionId: "kept", data: { messages: [{ content: "remember me" }] } });
    await clientFor(first).save({
      sessionId: "kept",
      data: { messages: [{ content: "remember me" }, { content: "2" }] },
    });
    expect(saved.session?.version).toBe(1n);
    expect(await stop(first)).toBe(0);

    const second = await startService(["--data-dir", dataDir]);
    const loaded = await clientFor(second).load({ sessionId: "kept" });
    expect(loaded.session?.data).toEqual({ messages: [{ content: "remember me" }, { content: "2" }] });
    expect(loaded.session?.version).toBe(2n);
    expect(await stop(second)).toBe(0);
  });

  it("drains in-flight RPCs on SIGTERM, refuses new ones, and exits 0", { timeout: 120_000 }, async () => {
    const service = await startService(["--data-dir", dataDir, "--shutdown-grace-ms", "20000"]);
    const client = clientFor(service);
    for (let i = 0; i < 20; i++)
      await client.save({ sessionId: `drain-${i}`, data: { i }, metadata: { tenant: "drain" } });

    // A RestoreStream the client reads slowly is in flight when SIGTERM arrives.
    const stream = client.restoreStream({ metadataFilter: { tenant: "drain" }, batchSize: 1 })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value?.sessions).toHaveLength(1);
    service.child.kill("SIGTERM");
    // And writes racing the signal: each is either acknowledged or refused with UNAVAILABLE.
    const writes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => client.save({ sessionId: `late-${i}`, data: { i } })),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await client.load({ sessionId: "drain-0" }).catch((error: unknown) => ConnectError.from(error));
    expect((refused as ConnectError).code).toBe(Code.Unavailable);

    let restored = first.value?.sessions.length ?? 0;
    let done = false;
    for (let next = await stream.next(); !next.done; next = await stream.next()) {
      restored += next.value.sessions.length;
      done = next.value.done;
    }
    expect({ restored, done }).toEqual({ restored: 20, done: true });
    expect(await service.exited).toBe(0);

    // Every write that was acknowledged is there after a restart; the others were refused cleanly.
    const again = await startService(["--data-dir", dataDir]);
    for (const [i, result] of writes.entries()) {
      if (result.status === "fulfilled") {
        expect((await clientFor(again).load({ sessionId: `late-${i}` })).session?.data).toEqual({ i });
      } else {
        expect(ConnectError.from(result.reason).code).toBe(Code.Unavailable);
      }
    }
    expect(await stop(again)).toBe(0);
  });
});

// PostgreSQL runs only when DATABASE_URL names one (CI always sets it): directly, and through a
// PgBouncer in transaction mode (storage.transaction_pooler).
if (postgresUrl) {
  describe.each(["direct", "pgbouncer"] as const)("the PostgreSQL backend as a process, %s", (route) => {
    const table = `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    let pooler: Pooler | undefined;
    beforeAll(async () => {
      if (route === "pgbouncer") pooler = await startPgBouncer(postgresUrl as string);
    }, 30_000);
    afterAll(async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await dropServiceTable(client, table);
      await client.end();
      await pooler?.stop();
    });

    it("reads the seed's postgresql block, never logs the password, and keeps sessions", {
      timeout: 120_000,
    }, async () => {
      const database = new URL(postgresUrl as string).pathname.slice(1);
      const config = join(scratch, `config-${route}.yaml`);
      writeFileSync(
        config,
        `postgresql:\n  host: 127.0.0.1\n  port: ${pooler?.port ?? 5432}\n  user: postgres\n  password: s3cret-pw\n  database: ${database}\n` +
          (pooler ? "storage:\n  transaction_pooler: true\n" : ""),
      );
      const first = await startService(["--config", config, "--table", table]);
      expect(
        first
          .lines()
          .slice(0, 3)
          .some(
            (line) =>
              line.backend === "postgres" &&
              line.database === database &&
              line.transaction_pooler === (pooler !== undefined),
          ),
      ).toBe(true);
      await clientFor(first).save({ sessionId: "pg-kept", data: { n: 1 }, metadata: { user_id: "u" } });
      expect(await stop(first)).toBe(0);
      const second = await startService(["--config", config, "--table", table]);
      expect((await clientFor(second).load({ sessionId: "pg-kept" })).session?.data).toEqual({ n: 1 });
      expect(await stop(second)).toBe(0);
      expect(first.output() + second.output()).not.toContain("s3cret-pw");
      // Through the pooler indeed: migrations, the Save and the Load were its transactions.
      if (pooler) expect((await pooler.stats()).transactions).toBeGreaterThan(3);
    });
  });
}
reportSkippedWithoutPostgres("the PostgreSQL backend as a process, direct");
reportSkippedWithoutPostgres("the PostgreSQL backend as a process, pgbouncer");

describe("a bad configuration", () => {
  it("exits with code 2 and lists every problem at once", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [serviceMain, "--port", "notaport", "--table", "Bad Name"]);
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("--port");
    expect(stderr).toContain("table");
  });
});
