// Three server processes on one PostgreSQL, a client spreading its calls over them round-robin:
// the lifecycle, the compare-and-set race, cache coherence, the change feed and leases hold across
// replicas as on one — reached directly, and through PgBouncer in transaction mode
// (--transaction-pooler). A new cross-replica behaviour is one more `it` in the describe below: it
// runs on both routes.
import type { JsonValue } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { postgresUrl } from "../support/databases.js";
import { skipEachWithoutPostgres } from "../support/postgres-only.js";
import { type Replicas, type Route, startReplicas } from "../support/replicas.js";
import { startService, stop } from "../support/service.js";

const routes: Route[] = ["direct", "pgbouncer"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Two processes cannot share a PGlite data directory: replicas exist only on PostgreSQL.
describe.each(routes)("three replicas on one PostgreSQL, %s", (route) => {
  skipEachWithoutPostgres("PGlite is one process");
  let replicas: Replicas;
  let client: Client<typeof SessionService>;

  beforeAll(async () => {
    if (!postgresUrl) return;
    replicas = await startReplicas(postgresUrl, route);
    client = replicas.roundRobin();
  }, 90_000);
  afterAll(async () => {
    if (!postgresUrl) return;
    await replicas?.stop();
  });

  it("a session's whole life, each call on the next replica", { timeout: 30_000 }, async () => {
    const saved = await client.save({
      sessionId: "life",
      data: { messages: [{ content: "hi" }] },
      metadata: { tenant: "life", user_id: "u1" },
    });
    expect(saved.session?.version).toBe(1n);
    expect((await client.load({ sessionId: "life" })).session).toMatchObject({
      version: 1n,
      data: { messages: [{ content: "hi" }] },
      metadata: { tenant: "life", user_id: "u1" },
    });
    const listed = await client.list({ metadataFilter: { tenant: "life" } });
    expect(listed.sessions.map((session) => session.sessionId)).toEqual(["life"]);

    const appended = await client.append({ sessionId: "life", messages: [{ content: "again" }], expectedVersion: 1n });
    expect(appended).toMatchObject({ version: 2n, messageCount: 2n });
    expect((await client.load({ sessionId: "life" })).session?.data).toEqual({
      messages: [{ content: "hi" }, { content: "again" }],
    });
    // A blind Save without metadata keeps it.
    await client.save({ sessionId: "life", data: { messages: [{ content: "rewritten" }] } });
    expect((await client.load({ sessionId: "life" })).session).toMatchObject({
      version: 3n,
      metadata: { tenant: "life", user_id: "u1" },
    });

    const touched = await client.touch({
      sessionId: "life",
      expiry: { case: "expiresIn", value: { seconds: 3600n, nanos: 0 } },
    });
    expect(touched.session?.version).toBe(3n);
    expect((await client.load({ sessionId: "life" })).session?.expiresAt).toEqual(touched.session?.expiresAt);

    await client.save({ sessionId: "brief", data: {}, metadata: { tenant: "life" }, expiry: shortExpiry });
    await client.save({ sessionId: "gone", data: {}, metadata: { tenant: "life" } });
    expect((await client.delete({ sessionId: "gone" })).deleted).toBe(true);
    await expect(client.load({ sessionId: "gone" })).rejects.toMatchObject({ code: Code.NotFound });
    expect((await client.load({ sessionId: "gone", includeInactive: true })).session?.isActive).toBe(false);
    await sleep(600);
    await expect(client.load({ sessionId: "brief" })).rejects.toMatchObject({ code: Code.NotFound });

    const statistics = await client.statistics({});
    expect(statistics).toMatchObject({ totalSessions: 3n, activeSessions: 2n, inactiveSessions: 1n });
    expect(statistics.expiredSessions).toBe(1n);
    expect((await client.cleanup({})).expiredCount).toBe(1n);
    expect((await client.statistics({})).activeSessions).toBe(1n);

    const restored = await client.restore({ metadataFilter: { tenant: "life" } });
    expect(restored).toMatchObject({ restoredCount: 1n, failedCount: 0n });
    const streamed: string[] = [];
    for await (const page of client.restoreStream({ includeInactive: true, metadataFilter: { tenant: "life" } })) {
      streamed.push(...page.sessions.map((session) => session.sessionId));
    }
    // The expired one ("brief") is skipped, as on one server.
    expect(streamed).toEqual(["gone", "life"]);
    expect((await client.delete({ sessionId: "life", hard: true })).deleted).toBe(true);
    await expect(client.load({ sessionId: "life", includeInactive: true })).rejects.toMatchObject({
      code: Code.NotFound,
    });
    // On the pgbouncer route every one of these went through the pooler.
    if (replicas.pooler) expect((await replicas.pooler.stats()).transactions).toBeGreaterThan(20);
  });

  it("32 writers racing Load → Save(expected_version): one winner per version, no update lost", {
    timeout: 60_000,
  }, async () => {
    const writers = 32;
    const perWriter = 3;
    await client.save({ sessionId: "cas", data: { messages: [] }, expectedVersion: 0n });
    const won: bigint[] = [];
    let conflicts = 0;
    const append = async (writerClient: Client<typeof SessionService>, writer: number, n: number) => {
      for (let attempt = 0; ; attempt++) {
        const { session } = await writerClient.load({ sessionId: "cas" });
        const messages = (session?.data?.messages ?? []) as JsonValue[];
        try {
          const saved = await writerClient.save({
            sessionId: "cas",
            data: { messages: [...messages, { writer, n }] },
            expectedVersion: session?.version,
          });
          won.push(saved.session?.version ?? -1n);
          return;
        } catch (error) {
          if (ConnectError.from(error).code !== Code.Aborted) throw error;
          conflicts++;
          await sleep(Math.random() * Math.min(20, 2 + attempt * 2));
        }
      }
    };
    // Each writer spreads its own calls: its Load and its Save usually reach different replicas.
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        const writerClient = replicas.roundRobin();
        for (let n = 0; n < perWriter; n++) await append(writerClient, writer, n);
      }),
    );

    const total = writers * perWriter;
    expect(won.sort((a, b) => (a < b ? -1 : 1))).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 2)));
    const { session } = await client.load({ sessionId: "cas" });
    const messages = session?.data?.messages as Array<{ writer: number; n: number }>;
    expect(messages).toHaveLength(total);
    expect(session?.version).toBe(BigInt(total + 1));
    for (let writer = 0; writer < writers; writer++) {
      expect(messages.filter((m) => m.writer === writer).map((m) => m.n)).toEqual(
        Array.from({ length: perWriter }, (_, n) => n),
      );
    }
    expect(conflicts).toBeGreaterThan(0);
  });

  it("no replica serves a stale copy after a write acknowledged through another", { timeout: 30_000 }, async () => {
    const clients = replicas.services.map((_, i) => replicas.clientOf(i));
    // Every replica holds the session in its cache; each round one writes, and each other reads.
    await client.save({ sessionId: "coherent", data: { round: 0 } });
    for (let round = 1; round <= 30; round++) {
      await Promise.all(clients.map((reader) => reader.load({ sessionId: "coherent" })));
      const writer = clients[round % clients.length] as Client<typeof SessionService>;
      const { session } = await writer.save({ sessionId: "coherent", data: { round } });
      for (const reader of clients) {
        const read = await reader.load({ sessionId: "coherent" });
        expect({ version: read.session?.version, data: read.session?.data }).toEqual({
          version: session?.version,
          data: { round },
        });
      }
    }

    // Racing: writers on one replica, readers on the others; no read older than an acknowledged write.
    const ids = ["race-0", "race-1", "race-2"];
    const acknowledged = new Map<string, bigint>();
    let stale = 0;
    let reads = 0;
    const until = Date.now() + 3000;
    for (const id of ids) await client.save({ sessionId: id, data: {} });
    await Promise.all([
      ...ids.map(async (id, i) => {
        const writer = clients[i % clients.length] as Client<typeof SessionService>;
        while (Date.now() < until) {
          const { session } = await writer.save({ sessionId: id, data: { at: Date.now() } });
          acknowledged.set(id, session?.version ?? 0n);
        }
      }),
      ...ids.flatMap((id, i) =>
        clients
          .filter((_, j) => j !== i % clients.length)
          .map(async (reader) => {
            while (Date.now() < until) {
              const floor = acknowledged.get(id) ?? 0n;
              const { session } = await reader.load({ sessionId: id });
              reads++;
              if ((session?.version ?? 0n) < floor) stale++;
            }
          }),
      ),
    ]);
    expect(reads).toBeGreaterThan(100);
    expect(stale).toBe(0);
    // The replicas served hits from memory between writes: the cache was in play.
    const hits = await Promise.all(clients.map(async (c) => Number((await c.checkConnection({})).cache?.hits ?? 0)));
    expect(hits.every((n) => n > 0)).toBe(true);
  });

  it("a Watch on each replica sees every change once, in the same order", { timeout: 30_000 }, async () => {
    const events = replicas.services.map(() => [] as string[]);
    const writes = 45;
    const controller = new AbortController();
    let positioned = 0;
    const watching = replicas.services.map(async (_, i) => {
      let first = true;
      for await (const response of replicas.clientOf(i).watch({}, { signal: controller.signal })) {
        if (first) positioned++;
        first = false;
        for (const event of response.events) {
          if (!event.sessionId.startsWith("feed-")) continue;
          events[i]?.push(`${event.sequence} ${event.sessionId} ${event.kind} v${event.version}`);
        }
        if ((events[i]?.length ?? 0) >= writes) return;
      }
    });
    await vi.waitFor(() => expect(positioned).toBe(replicas.services.length), { timeout: 10_000, interval: 20 });
    // Saves, Appends, Touches and Deletes, each call on the next replica: one event each.
    for (let n = 0; n < writes / 3; n++) {
      const sessionId = `feed-${n % 5}`;
      await client.save({ sessionId, data: { messages: [] } });
      await client.append({ sessionId, messages: [{ n }] });
      if (n % 2 === 0) await client.touch({ sessionId, expiry: { case: "neverExpire", value: true } });
      else await client.delete({ sessionId });
    }
    await Promise.all(watching);
    controller.abort();
    expect(events[0]).toHaveLength(writes);
    for (const seen of events.slice(1)) expect(seen).toEqual(events[0]);
    const sequences = (events[0] ?? []).map((line) => BigInt(line.split(" ")[0] as string));
    expect(sequences).toEqual(sequences.map((_, i) => (sequences[0] as bigint) + BigInt(i)));
  });

  it("a lease contended from all three replicas has one holder at a time, and a fenced-off one cannot write", {
    timeout: 30_000,
  }, async () => {
    await client.save({ sessionId: "leased", data: { by: "nobody" } });
    const acquired: Array<{ holder: string; token: bigint }> = [];
    let wrote = 0;
    const until = Date.now() + 2000;
    // Three contenders per replica, each on its own replica's connection, acquiring in a loop.
    await Promise.all(
      Array.from({ length: 9 }, async (_, i) => {
        const own = replicas.clientOf(i);
        const holder = `h${i}`;
        while (Date.now() < until) {
          try {
            const { lease } = await own.acquireLease({ sessionId: "leased", holder, ttl: { seconds: 5n } });
            const token = lease?.fencingToken ?? 0n;
            acquired.push({ holder, token });
            await own.save({ sessionId: "leased", data: { by: holder, token: Number(token) }, fencingToken: token });
            wrote++;
            await own.releaseLease({ sessionId: "leased", holder, fencingToken: token });
          } catch (error) {
            if (ConnectError.from(error).code !== Code.FailedPrecondition) throw error;
            await sleep(Math.random() * 5);
          }
        }
      }),
    );
    // Every grant had its own token, one more than the last: no two holders at once.
    const tokens = acquired.map((grant) => grant.token).sort((a, b) => (a < b ? -1 : 1));
    expect(tokens.length).toBeGreaterThan(3);
    expect(tokens).toEqual(tokens.map((_, i) => BigInt(i + 1)));
    // Each holder wrote inside its lease: none was fenced off, since each released before the next.
    expect(wrote).toBe(acquired.length);
    const last = acquired.find((grant) => grant.token === tokens.at(-1)) as { holder: string; token: bigint };
    expect((await client.load({ sessionId: "leased" })).session?.data).toEqual({
      by: last.holder,
      token: Number(last.token),
    });
    // The first holder, long superseded, is refused; the last holder's data is intact.
    const stale = await client.save({ sessionId: "leased", data: { by: "stale" }, fencingToken: 1n }).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(stale?.code).toBe(Code.FailedPrecondition);
    expect((await client.load({ sessionId: "leased" })).session?.data).toEqual({
      by: last.holder,
      token: Number(last.token),
    });
  });

  it("a replica running the scheduled cleanup claims and finishes its runs on the job row", {
    timeout: 30_000,
  }, async () => {
    const cleaner = await startService([...replicas.argsFor("cleaner"), "--cleanup-interval-ms", "300"]);
    try {
      await replicas.admin.query(
        `INSERT INTO ${replicas.table} (session_id, session_data, expires_at) VALUES ('stale', '{}', now() - interval '1 hour')`,
      );
      const ran = () => cleaner.lines().filter((line) => line.msg === "scheduled cleanup ran");
      await vi.waitFor(() => expect(ran().length).toBeGreaterThanOrEqual(3), { timeout: 15_000, interval: 100 });
      expect(ran().map((line) => line.run)).toEqual(ran().map((_, i) => i + 1));
      expect(ran().reduce((sum, line) => sum + Number(line.expired), 0)).toBe(1);
      const { rows } = await replicas.admin.query(`SELECT holder FROM ${replicas.table}_jobs WHERE job = 'cleanup'`);
      expect(rows[0]?.holder).toBe("cleaner");
      expect(cleaner.lines().filter((line) => Number(line.level) >= 50)).toEqual([]);
    } finally {
      await stop(cleaner);
    }
  });
});

const shortExpiry = { case: "expiresIn", value: { seconds: 0n, nanos: 500_000_000 } } as const;
