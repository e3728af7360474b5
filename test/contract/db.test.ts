// The Db seam and migrations on real databases: adoption of the seed's table, migrations under an
// advisory lock, cancellation and statement timeouts, and the embedded backend's persistence.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/database.js";
import { openEmbedded } from "../../src/db/embedded.js";
import { DatabaseAbortError, DatabaseTimeoutError } from "../../src/db/errors.js";
import { loadMigrations, migrate } from "../../src/db/migrate.js";
import { openPostgres, type PostgresOptions } from "../../src/db/postgres.js";
import { assertTableName } from "../../src/db/table-name.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { backends, dropServiceTable, postgresUrl, silentLogger } from "../support/databases.js";
import { type Pooler, startPgBouncer } from "../support/pgbouncer.js";
import { reportSkippedWithoutPostgres } from "../support/postgres-only.js";

const log = silentLogger();

// The DDL the seed's Python manager ran, verbatim.
const seedDdl = `CREATE TABLE isotope_sessions (
    session_id VARCHAR(255) PRIMARY KEY,
    session_data JSONB NOT NULL,
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    last_updated TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP WITH TIME ZONE,
    version INTEGER DEFAULT 1,
    is_active BOOLEAN DEFAULT TRUE)`;

const indexNames = async (db: Db, table: string) =>
  (
    await db.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND schemaname = current_schema() ORDER BY indexname",
      [table],
    )
  ).rows.map((r) => r.indexname);

describe.each(backends())("migrations on $name", (backend) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ db, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());

  it("creates the seed's table with its four indexes, the keyset and metadata indexes, once", async () => {
    expect((await migrate(db, { table: "fresh" }, log)).applied).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await indexNames(db, "fresh")).toEqual([
      "fresh_pkey",
      "idx_fresh_created_at",
      "idx_fresh_expires_at",
      "idx_fresh_is_active",
      "idx_fresh_last_updated",
      "idx_fresh_list_keyset",
      "idx_fresh_metadata",
      "idx_fresh_user_list",
    ]);
    expect((await migrate(db, { table: "fresh" }, log)).applied).toEqual([]);
    // The one trigger left is Append's (0004), which fires only when a Save brings appended
    // messages home: a plain write — the service's or anyone's — runs no trigger and sends no NOTIFY.
    const { rows } = await db.query<{ tgname: string }>(
      "SELECT tgname FROM pg_trigger WHERE tgrelid = 'fresh'::regclass AND NOT tgisinternal ORDER BY tgname",
    );
    expect(rows.map((row) => row.tgname)).toEqual(["fresh_mh"]);
    // Keys' rows keep room on their page for the answer their claim's transaction writes (0011).
    const options = await db.query<{ reloptions: string[] | null }>(
      "SELECT reloptions FROM pg_class WHERE oid = 'fresh_reqids'::regclass",
    );
    expect(options.rows[0]?.reloptions).toEqual(["fillfactor=50"]);
  });

  it("adopts a table the seed's manager made, rows intact", async () => {
    await db.query(seedDdl);
    await db.query(
      `INSERT INTO isotope_sessions (session_id, session_data, metadata, created_at, last_updated, expires_at)
       VALUES ('legacy', '{"messages":[{"type":"human","content":"你好"}],"files":{},"extra_key":1}',
               '{"name":"旧会话","user_id":"user123"}', '2024-01-02 03:04:05', '2024-01-02 03:04:05', NULL)`,
    );
    expect((await migrate(db, { table: "isotope_sessions" }, log)).applied).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    const repo = createSessionRepository(db, "isotope_sessions");
    const legacy = await repo.load("legacy", false);
    expect(JSON.parse(legacy?.dataJson ?? "")).toMatchObject({ extra_key: 1, files: {} });
    expect(legacy).toMatchObject({ version: 1n, isActive: true, messageCount: 1n });
    const saved = await repo.save({
      sessionId: "legacy",
      dataJson: "{}",
      metadataJson: undefined,
      expiry: { kind: "never" },
      expectedVersion: 1n,
    });
    expect(saved).toMatchObject({ kind: "saved", session: { version: 2n } });
  });

  it("refuses a table name that is not a plain identifier", () => {
    for (const bad of ["x; drop table y", "A", "", "1abc", "a".repeat(56), "sessions-v2"]) {
      expect(() => assertTableName(bad)).toThrow(/invalid table name/);
    }
    expect(loadMigrations("ok_name")[0]?.sql).toContain("ok_name");
  });
});

// PostgreSQL runs only when DATABASE_URL names one (CI always sets it).
if (postgresUrl) {
  describe("PostgreSQL connections", () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      const postgres = backends().find((b) => b.name === "postgres");
      ({ db, cleanup } = await (postgres as NonNullable<typeof postgres>).open());
    });
    afterAll(async () => cleanup());

    it("two replicas migrating at once apply each migration exactly once", async () => {
      const schema = (await db.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]?.s as string;
      const open = () =>
        openPostgres(
          {
            connectionString: postgresUrl,
            poolMax: 2,
            statementTimeoutMs: 10_000,
            connectTimeoutMs: 5000,
            searchPath: schema,
          },
          log,
        );
      const [a, b] = await Promise.all([open(), open()]);
      const results = await Promise.all([migrate(a, { table: "raced" }, log), migrate(b, { table: "raced" }, log)]);
      const all = loadMigrations("raced").length;
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, all]);
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM isotope_schema_migrations WHERE table_name = 'raced'",
      );
      expect(rows[0]?.n).toBe(String(all));
      await Promise.all([a.close(), b.close()]);
    });

    it("cancels a running statement on the server when the caller aborts", async () => {
      const started = Date.now();
      const error = await db.query("SELECT pg_sleep(10)", [], AbortSignal.timeout(100)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseAbortError);
      expect(Date.now() - started).toBeLessThan(3000);
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'",
      );
      expect(rows[0]?.n).toBe("0");
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
    });

    it("a cancel sent for an abandoned statement never lands on the next caller's", async () => {
      // One connection, so the next statement runs on the backend the cancel was aimed at. The
      // abort comes near the end of a short statement, which often finishes before its cancel
      // arrives: a cancel still on its way must not meet the next statement.
      const single = await openPostgres(
        { connectionString: postgresUrl, poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 },
        log,
      );
      try {
        await expectLateCancelsToMissTheNextStatement(single);
      } finally {
        await single.close();
      }
    });

    it("stops a statement that runs past the statement timeout with SQLSTATE 57014", async () => {
      const short = await openPostgres(
        { connectionString: postgresUrl, poolMax: 1, statementTimeoutMs: 100, connectTimeoutMs: 5000 },
        log,
      );
      const error = await short.query("SELECT pg_sleep(5)").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseTimeoutError);
      expect((error as DatabaseTimeoutError).sqlState).toBe("57014");
      await short.close();
    });

    it("names the server, never the password, when it cannot connect", async () => {
      const error = await openPostgres(
        {
          host: "127.0.0.1",
          port: 1,
          password: "hunter2",
          poolMax: 1,
          statementTimeoutMs: 1000,
          connectTimeoutMs: 1000,
        },
        log,
      ).catch((e: unknown) => e as Error);
      expect(String(error)).toContain("127.0.0.1:1");
      expect(String(error)).not.toContain("hunter2");
    });
  });
}
reportSkippedWithoutPostgres("PostgreSQL connections");

/**
 * On a one-connection pool, statements abandoned at random moments (their cancel racing their
 * end) never cancel the statement that runs next on the connection.
 */
async function expectLateCancelsToMissTheNextStatement(single: Db): Promise<void> {
  const next: string[] = [];
  for (let i = 0; i < 40; i++) {
    await single.query("SELECT pg_sleep(0.005)", [], AbortSignal.timeout(1 + (i % 6))).catch(() => {});
    next.push(
      await single.query("SELECT pg_sleep(0.05)").then(
        () => "ok",
        (error: { code?: string }) => error.code ?? String(error),
      ),
    );
  }
  expect(next.filter((outcome) => outcome !== "ok")).toEqual([]);
}

// The same promises through a transaction-mode pooler: each transaction may get another server
// backend, session settings are refused at connect, and a backend pid seen through it is not the server's.
if (postgresUrl) {
  describe("PostgreSQL connections through PgBouncer (transaction mode)", () => {
    let pooler: Pooler;
    let admin: pg.Client;
    const table = `pgb_raced_${process.pid}`;
    const open = (options: Partial<PostgresOptions> = {}) =>
      openPostgres(
        {
          connectionString: pooler.url,
          poolMax: 2,
          statementTimeoutMs: 10_000,
          connectTimeoutMs: 5000,
          transactionPooler: true,
          ...options,
        },
        log,
      );
    beforeAll(async () => {
      pooler = await startPgBouncer(postgresUrl as string);
      admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
    }, 30_000);
    afterAll(async () => {
      if (admin) {
        await dropServiceTable(admin, table);
        await admin.end();
      }
      await pooler?.stop();
    });

    it("without transactionPooler the service cannot connect, and is told which setting it needs", async () => {
      const error = await open({ transactionPooler: false }).catch((e: unknown) => e as Error);
      expect(String(error)).toContain("unsupported startup parameter");
      expect(String(error)).toContain("transaction_pooler");
    });

    it("two replicas migrating at once apply each migration exactly once", async () => {
      const [a, b] = await Promise.all([open(), open()]);
      const results = await Promise.all([migrate(a, { table }, log), migrate(b, { table }, log)]);
      const all = loadMigrations(table).length;
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, all]);
      const { rows } = await admin.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM isotope_schema_migrations WHERE table_name = $1",
        [table],
      );
      expect(rows[0]?.n).toBe(String(all));
      // The same statements again and again, each time maybe on another backend: none is a
      // prepared statement some backend lacks.
      const repository = createSessionRepository(a, table);
      for (let i = 0; i < 30; i++) {
        await Promise.all([repository.load("nobody", false), createSessionRepository(b, table).load("nobody", true)]);
      }
      await Promise.all([a.close(), b.close()]);
    });

    it("cancels a running statement on the server when the caller aborts", async () => {
      const db = await open();
      try {
        const error = await db.query("SELECT pg_sleep(10)", [], AbortSignal.timeout(100)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DatabaseAbortError);
        const { rows } = await admin.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'",
        );
        expect(rows[0]?.n).toBe("0");
        expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
      } finally {
        await db.close();
      }
    });

    it("a cancel sent for an abandoned statement never lands on the next caller's", async () => {
      const single = await open({ poolMax: 1 });
      try {
        await expectLateCancelsToMissTheNextStatement(single);
      } finally {
        await single.close();
      }
    });

    it("stops a statement that runs past the statement timeout with SQLSTATE 57014", async () => {
      const short = await open({ poolMax: 1, statementTimeoutMs: 100 });
      try {
        const error = await short.query("SELECT pg_sleep(5)").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DatabaseTimeoutError);
        expect((error as DatabaseTimeoutError).sqlState).toBe("57014");
        expect((await short.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
      } finally {
        await short.close();
      }
    });
  });
}
reportSkippedWithoutPostgres("PostgreSQL connections through PgBouncer (transaction mode)");

describe("the embedded database", () => {
  const dir = mkdtempSync(join(tmpdir(), "isotope-embedded-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps what was written across close and reopen", async () => {
    const first = await openEmbedded({ dataDir: dir }, log);
    await migrate(first, { table: "kept" }, log);
    await createSessionRepository(first, "kept").save({
      sessionId: "survivor",
      dataJson: '{"n":42}',
      metadataJson: undefined,
      expiry: { kind: "never" },
      expectedVersion: undefined,
    });
    await first.close();
    const second = await openEmbedded({ dataDir: dir }, log);
    expect((await createSessionRepository(second, "kept").load("survivor", false))?.dataJson).toBe('{"n": 42}');
    await second.close();
  });

  it("runs a statement issued during a transaction outside it", async () => {
    const db = await openEmbedded({ dataDir: join(dir, "tx") }, log);
    await db.query("CREATE TABLE t (n int)");
    const outside = { done: undefined as Promise<unknown> | undefined };
    await db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES (1)");
        outside.done = db.query("INSERT INTO t VALUES (2)");
        throw new Error("roll back");
      })
      .catch(() => {});
    await outside.done;
    expect((await db.query<{ n: number }>("SELECT n FROM t")).rows).toEqual([{ n: 2 }]);
    await db.close();
  });
});
