// The hot cache (src/sessions/repository/cache.ts): Loads served from memory, and never a stale version —
// not after a change made in SQL behind the service's back, not across two server processes on
// one database, not while writers on one replica race readers on the other.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { migrate } from "../../src/db/migrate.js";
import { withCache } from "../../src/sessions/repository/cache.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { backends, dropServiceTable, postgresUrl, silentLogger } from "../support/databases.js";
import { skipEachWithoutPostgres } from "../support/postgres-only.js";
import { type RunningServer, startServer } from "../support/server.js";
import { clientFor, type Service, startService, stop } from "../support/service.js";

const cacheOf = async (client: ReturnType<typeof clientFor>) => {
  const { cache } = await client.checkConnection({});
  return { hits: Number(cache?.hits ?? 0), misses: Number(cache?.misses ?? 0) };
};

describe.each(backends())("hot cache on $name", (backend) => {
  let server: RunningServer;
  let client: ReturnType<typeof clientFor>;

  beforeAll(async () => {
    server = await startServer(backend);
    client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  });
  afterAll(async () => server.stop());

  it("serves a Save's session from memory, the version and data it wrote", async () => {
    await client.save({ sessionId: "hot-1", data: { messages: [{ role: "user", content: "hi" }] } });
    const before = await cacheOf(client);
    const { session } = await client.load({ sessionId: "hot-1" });
    expect(session).toMatchObject({ version: 1n, data: { messages: [{ role: "user", content: "hi" }] } });
    expect((await cacheOf(client)).hits).toBe(before.hits + 1);
  });

  it("a change made in SQL behind the service's back is what the next Load returns", async () => {
    await client.save({ sessionId: "hot-sql", data: { n: 1 } });
    await client.load({ sessionId: "hot-sql" });
    await server.db.query(
      `UPDATE ${server.table} SET session_data = '{"n": 2}', version = version + 1 WHERE session_id = 'hot-sql'`,
    );
    expect((await client.load({ sessionId: "hot-sql" })).session).toMatchObject({ version: 2n, data: { n: 2 } });
    // The seed's manager rewrites data and last_updated but never the version.
    await server.db.query(
      `UPDATE ${server.table} SET session_data = '{"n": 3}', last_updated = CURRENT_TIMESTAMP WHERE session_id = 'hot-sql'`,
    );
    expect((await client.load({ sessionId: "hot-sql" })).session).toMatchObject({ version: 2n, data: { n: 3 } });
    await server.db.query(`DELETE FROM ${server.table} WHERE session_id = 'hot-sql'`);
    const gone = await client.load({ sessionId: "hot-sql" }).catch((error) => ConnectError.from(error));
    expect(gone).toMatchObject({ code: Code.NotFound });
  });

  it("Delete and an expired session are not served from memory", async () => {
    await client.save({ sessionId: "hot-del", data: {} });
    await client.load({ sessionId: "hot-del" });
    await client.delete({ sessionId: "hot-del" });
    await expect(client.load({ sessionId: "hot-del" })).rejects.toMatchObject({ code: Code.NotFound });
    await client.save({
      sessionId: "hot-exp",
      data: {},
      expiry: { case: "expiresIn", value: { seconds: 0n, nanos: 500_000_000 } },
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    await expect(client.load({ sessionId: "hot-exp" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("RestoreStream warms it: the Loads that follow are all hits", async () => {
    for (let i = 0; i < 20; i++)
      await server.db.query(`INSERT INTO ${server.table} (session_id, session_data) VALUES ($1, $2::jsonb)`, [
        `warm-${i}`,
        JSON.stringify({ i }),
      ]);
    for await (const _ of client.restoreStream({ batchSize: 7 })) {
      // drained
    }
    const before = await cacheOf(client);
    for (let i = 0; i < 20; i++) {
      expect((await client.load({ sessionId: `warm-${i}` })).session?.data).toEqual({ i });
    }
    const after = await cacheOf(client);
    expect(after.hits - before.hits).toBe(20);
    expect(after.misses).toBe(before.misses);
  });

  it("holds no more than its byte bound, dropping the least recently used", async () => {
    const { db, cleanup } = await backend.open();
    try {
      await migrate(db, { table: "bounded" }, silentLogger());
      const cache = withCache(createSessionRepository(db, "bounded"), 40_000);
      const data = JSON.stringify({ text: "x".repeat(1000) });
      for (let i = 0; i < 30; i++) {
        await cache.save({
          sessionId: `b-${i}`,
          dataJson: data,
          metadataJson: undefined,
          expiry: { kind: "never" },
          expectedVersion: undefined,
        });
      }
      const stats = cache.status().cache ?? { bytes: Number.NaN, entries: Number.NaN };
      expect(stats.bytes).toBeLessThanOrEqual(40_000);
      expect(stats.entries).toBeGreaterThan(0);
      expect(stats.entries).toBeLessThan(30);
      await cache.load("b-29", false); // the newest is held
      await cache.load("b-0", false); // the oldest was dropped
      expect(cache.status().cache).toMatchObject({ hits: 1, misses: 1 });
      await cache.close();
    } finally {
      await cleanup();
    }
  });
});

// Two processes cannot share a PGlite data directory: replicas exist only on PostgreSQL.
describe("two server processes on one PostgreSQL", () => {
  skipEachWithoutPostgres("PGlite is one process");
  const table = `cache_two_${process.pid}`;
  let a: Service;
  let b: Service;
  let admin: pg.Client;

  beforeAll(async () => {
    if (!postgresUrl) return;
    const args = ["--database-url", postgresUrl as string, "--table", table];
    a = await startService(args);
    b = await startService(args);
    admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
  }, 90_000);
  afterAll(async () => {
    if (!postgresUrl) return;
    await Promise.all([stop(a), stop(b)]);
    await dropServiceTable(admin, table);
    await admin.end();
  });

  /** Each round: both have the session cached, one writes, the other must read that write. */
  const rounds = async (sessionId: string, count: number) => {
    const [ca, cb] = [clientFor(a), clientFor(b)];
    for (let round = 1; round <= count; round++) {
      const [writer, reader] = round % 2 ? [ca, cb] : [cb, ca];
      await reader.load({ sessionId }).catch(() => {});
      const { session } = await writer.save({ sessionId, data: { round } });
      const read = await reader.load({ sessionId });
      expect({ version: read.session?.version, data: read.session?.data }).toEqual({
        version: session?.version,
        data: { round },
      });
    }
  };

  it("never serve each other's stale data", { timeout: 60_000 }, async () => {
    const [before] = await Promise.all([cacheOf(clientFor(a)), cacheOf(clientFor(b))]);
    await rounds("shared", 200);
    // The cache was in play: rounds start with the reader's cached copy, which the database
    // answered was no longer current, and Loads between writes were hits.
    const ca = clientFor(a);
    for (let i = 0; i < 5; i++) await ca.load({ sessionId: "shared" });
    expect((await cacheOf(ca)).hits).toBeGreaterThan(before.hits);
  });

  it("a Touch on one replica is what the other serves: same version, new expiry", async () => {
    const [ca, cb] = [clientFor(a), clientFor(b)];
    await ca.save({ sessionId: "touched", data: { n: 1 } });
    for (let i = 0; i < 10; i++) {
      await ca.load({ sessionId: "touched" });
      const { session } = await cb.touch({
        sessionId: "touched",
        expiry: { case: "expiresIn", value: { seconds: BigInt(3600 + i), nanos: 0 } },
      });
      expect((await ca.load({ sessionId: "touched" })).session?.expiresAt).toEqual(session?.expiresAt);
    }
  });

  it("a Load that starts after a write on the other replica was acknowledged sees that write", {
    timeout: 60_000,
  }, async () => {
    const [ca, cb] = [clientFor(a), clientFor(b)];
    const ids = ["race-0", "race-1", "race-2", "race-3"];
    /** The newest version acknowledged to the writer, per session. */
    const acknowledged = new Map<string, bigint>();
    let stale = 0;
    let reads = 0;
    const until = Date.now() + 4000;
    const writer = async (id: string) => {
      while (Date.now() < until) {
        const { session } = await ca.save({ sessionId: id, data: { at: Date.now() } });
        acknowledged.set(id, session?.version ?? 0n);
      }
    };
    const reader = async (id: string) => {
      while (Date.now() < until) {
        const floor = acknowledged.get(id) ?? 0n;
        const { session } = await cb.load({ sessionId: id }).catch(() => ({ session: undefined }));
        if (session === undefined) continue;
        reads++;
        if (session.version < floor) stale++;
      }
    };
    for (const id of ids) await ca.save({ sessionId: id, data: {} });
    await Promise.all([...ids.map(writer), ...ids.map(reader), ...ids.map(reader)]);
    expect(reads).toBeGreaterThan(100);
    expect(stale).toBe(0);
    // Readers were served from memory between the writes they did not see yet.
    expect((await cacheOf(cb)).hits).toBeGreaterThan(0);
  });
});
