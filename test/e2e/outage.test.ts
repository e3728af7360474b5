// A database outage under load, on a PostgreSQL cluster of the test's own that it stops and
// starts: RPCs fail fast with UNAVAILABLE, health says NOT_SERVING, the service recovers by itself,
// and with a spool directory blind Saves are journaled, served, and replayed — none lost.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../gen/health/v1/health_pb.js";
import { Durability, SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { type Cluster, startCluster } from "../support/cluster.js";
import { postgresAt } from "../support/databases.js";
import { type RunningServer, startServer } from "../support/server.js";

const poolMax = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

const codeOf = async (call: Promise<unknown>): Promise<Code | "ok"> =>
  call.then(
    () => "ok" as const,
    (error: unknown) => ConnectError.from(error).code,
  );

/** Blind writers, one session each, saving n = 1, 2, 3 … until stopped; remembers what was acknowledged. */
function writeLoad(client: Client<typeof SessionService>, writers: number, prefix: string) {
  let running = true;
  const acknowledged = new Map<string, { n: number; durability: Durability }>();
  const failures: Code[] = [];
  const done = Promise.all(
    Array.from({ length: writers }, async (_, i) => {
      const sessionId = `${prefix}-${i}`;
      for (let n = 1; running; n++) {
        try {
          const reply = await client.save({ sessionId, data: { n, text: "x".repeat(200) } }, { timeoutMs: 5000 });
          acknowledged.set(sessionId, { n, durability: reply.durability });
        } catch (error) {
          failures.push(ConnectError.from(error).code);
          await sleep(20);
        }
      }
    }),
  );
  return {
    acknowledged,
    failures,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Connections the service holds on the cluster, counted by the database itself. */
async function serviceConnections(cluster: Cluster): Promise<number> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    const { rows } = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'isotope-sessions'",
    );
    return rows[0].n;
  } finally {
    await admin.end();
  }
}

describe("a database outage under load", () => {
  let cluster: Cluster;
  const scratch = mkdtempSync(join(tmpdir(), "isotope-outage-"));
  beforeAll(async () => {
    cluster = await startCluster();
  }, 120_000);
  afterAll(() => {
    cluster?.destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  const boot = async (spoolDir?: string, healthProbeMs?: number) => {
    const server = await startServer(
      postgresAt(cluster.url, { poolMax, connectTimeoutMs: 2000 }),
      undefined,
      0,
      undefined,
      spoolDir,
      { healthProbeMs },
    );
    const transport = createGrpcTransport({ baseUrl: server.url });
    return { server, client: createClient(SessionService, transport), health: createClient(Health, transport) };
  };
  const healthIs = (health: Client<typeof Health>, status: Serving) => async () =>
    (await health.check({ service: SessionService.typeName }, { timeoutMs: 1000 })).status === status;

  it("fails fast with UNAVAILABLE, says NOT_SERVING, holds no extra connections, and recovers by itself", {
    timeout: 120_000,
  }, async () => {
    let server: RunningServer | undefined;
    try {
      const booted = await boot();
      server = booted.server;
      const { client, health } = booted;
      const load = writeLoad(client, 4, "plain");
      await sleep(500);

      cluster.stop();
      // Every kind of RPC answers UNAVAILABLE well inside a 5 s deadline, never DEADLINE_EXCEEDED.
      const calls = {
        save: codeOf(client.save({ sessionId: "during", data: {} }, { timeoutMs: 5000 })),
        load: codeOf(client.load({ sessionId: "plain-0" }, { timeoutMs: 5000 })),
        list: codeOf(client.list({}, { timeoutMs: 5000 })),
        statistics: codeOf(client.statistics({}, { timeoutMs: 5000 })),
        delete: codeOf(client.delete({ sessionId: "plain-1" }, { timeoutMs: 5000 })),
      };
      expect(Object.fromEntries(await Promise.all(Object.entries(calls).map(async ([k, v]) => [k, await v])))).toEqual({
        save: Code.Unavailable,
        load: Code.Unavailable,
        list: Code.Unavailable,
        statistics: Code.Unavailable,
        delete: Code.Unavailable,
      });
      await waitFor("health NOT_SERVING", healthIs(health, Serving.NOT_SERVING), 5000);
      const checked = await client.checkConnection({});
      expect(checked.ok).toBe(false);
      expect(server.db.poolStats().total).toBeLessThanOrEqual(poolMax);
      await sleep(1000);

      cluster.start();
      await waitFor("health SERVING again", healthIs(health, Serving.SERVING), 15_000);
      await sleep(500);
      await load.stop();

      // Writes failed only as UNAVAILABLE, and every acknowledged one is in the database.
      expect(load.failures.length).toBeGreaterThan(0);
      expect(new Set(load.failures)).toEqual(new Set([Code.Unavailable]));
      expect(load.acknowledged.size).toBe(4); // every writer had a Save acknowledged: the loop checks something
      for (const [sessionId, { n }] of load.acknowledged) {
        const { session } = await client.load({ sessionId });
        expect(session?.data?.n).toBeGreaterThanOrEqual(n);
      }
      expect(await serviceConnections(cluster)).toBeLessThanOrEqual(poolMax);
    } finally {
      await server?.stop();
    }
  });

  it("with a spool: blind Saves are journaled and served during the outage, and all replayed after", {
    timeout: 120_000,
  }, async () => {
    let server: RunningServer | undefined;
    try {
      const booted = await boot(join(scratch, "spool"));
      server = booted.server;
      const { client, health } = booted;
      const load = writeLoad(client, 4, "spooled");
      await sleep(500);

      cluster.stop();
      await waitFor("health NOT_SERVING", healthIs(health, Serving.NOT_SERVING), 5000);
      const offline = await client.save({ sessionId: "offline", data: { messages: [{ content: "while down" }] } });
      expect(offline.durability).toBe(Durability.SPOOLED);
      expect(offline.session?.version).toBe(0n);
      const served = await client.load({ sessionId: "offline" });
      expect(served).toMatchObject({ durability: Durability.SPOOLED, session: { messageCount: 1n } });
      expect(served.session?.data).toEqual({ messages: [{ content: "while down" }] });
      // A compare-and-set cannot be checked without the database.
      expect(await codeOf(client.save({ sessionId: "offline", data: {}, expectedVersion: 1n }))).toBe(Code.Unavailable);
      const during = await client.checkConnection({});
      expect(during.ok).toBe(false);
      expect(during.spool?.pending).toBeGreaterThan(0n);
      await sleep(1000);

      cluster.start();
      await waitFor("spool replayed", async () => (await client.checkConnection({})).spool?.pending === 0n, 20_000);
      await sleep(300);
      await load.stop();

      const durabilities = [...load.acknowledged.values()].map((a) => a.durability);
      expect(durabilities).toContain(Durability.DATABASE);
      expect(server.repository.status().spool?.spooled).toBeGreaterThan(1);
      expect(server.repository.status().spool?.conflicts).toBe(0);
      for (const [sessionId, { n }] of load.acknowledged) {
        const { session, durability } = await client.load({ sessionId });
        expect(durability).toBe(Durability.DATABASE);
        expect(session?.data?.n).toBeGreaterThanOrEqual(n);
      }
      const replayed = await client.load({ sessionId: "offline" });
      expect(replayed).toMatchObject({ durability: Durability.DATABASE, session: { version: 1n } });
      expect(replayed.session?.data).toEqual({ messages: [{ content: "while down" }] });
    } finally {
      await server?.stop();
    }
  });
  it("with a spool: List, Restore, RestoreStream and Statistics include spooled Saves once the database is back, before any ping replays them", {
    timeout: 120_000,
  }, async () => {
    let server: RunningServer | undefined;
    let down = false;
    try {
      // The probe pings once at start, then not for an hour: only the reads themselves can replay.
      const booted = await boot(join(scratch, "spool-reads"), 3_600_000);
      server = booted.server;
      const { client } = booted;
      const tenant = { tenant: "spool-reads" };
      const metadata = { ...tenant, user_id: "u1" };
      await client.save({ sessionId: "kept", data: { n: 1 }, metadata });
      const stopDatabase = () => {
        cluster.stop();
        down = true;
      };
      const startDatabase = () => {
        cluster.start();
        down = false;
      };
      const spoolOne = async (sessionId: string, withMetadata = true) => {
        stopDatabase();
        const saved = await client.save({ sessionId, data: { n: 2 }, ...(withMetadata ? { metadata } : {}) });
        expect(saved.durability).toBe(Durability.SPOOLED);
        return saved;
      };

      // A spooled Save without metadata keeps the stored metadata, and says so: this replica knows it.
      const kept = await spoolOne("kept", false);
      expect(kept.session?.metadata).toEqual(metadata);
      expect((await client.load({ sessionId: "kept" })).session).toMatchObject({ metadata, data: { n: 2 } });
      // A session this replica never saw has none it knows of.
      const fresh = await client.save({ sessionId: "fresh", data: { n: 1 } });
      expect(fresh).toMatchObject({ durability: Durability.SPOOLED, session: { metadata: {} } });
      // While they cannot be replayed, a List says so rather than answer without them.
      const refused = await client.list({}).catch((error: unknown) => ConnectError.from(error));
      expect(refused).toMatchObject({ code: Code.Unavailable });
      expect((refused as ConnectError).rawMessage).toBe(
        "2 spooled writes not yet replayed to the database, retry later",
      );
      startDatabase();
      const listed = await client.list({ metadataFilter: tenant, includeData: true });
      expect(
        listed.sessions.map((s) => ({ id: s.sessionId, data: s.data, version: s.version, metadata: s.metadata })),
      ).toEqual([{ id: "kept", data: { n: 2 }, version: 2n, metadata }]);
      expect(server.repository.status().spool).toMatchObject({ pending: 0, replayed: 2, conflicts: 0 });

      await spoolOne("for-restore");
      startDatabase();
      expect((await client.restore({ metadataFilter: tenant })).restoredCount).toBe(2n);

      await spoolOne("for-stream");
      startDatabase();
      const streamed: string[] = [];
      for await (const page of client.restoreStream({ metadataFilter: tenant })) {
        streamed.push(...page.sessions.map((s) => s.sessionId));
      }
      expect(streamed).toEqual(["for-restore", "for-stream", "kept"]);

      const before = (await client.statistics({})).totalSessions;
      await spoolOne("for-statistics");
      startDatabase();
      expect((await client.statistics({})).totalSessions).toBe(before + 1n);
      expect(server.repository.status().spool).toMatchObject({ pending: 0, replayed: 5, conflicts: 0 });
      // Replayed, the Save without metadata left the stored metadata as it was.
      expect((await client.load({ sessionId: "kept" })).session).toMatchObject({ version: 2n, metadata });
    } finally {
      if (down) cluster.start(); // a failed assertion left it stopped: the server's cleanup needs it
      await server?.stop();
    }
  });
});
