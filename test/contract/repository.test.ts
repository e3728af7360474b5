// The repository contract (src/sessions/repository/contract.ts), run over every composition of
// the stack — plain, group commit, cache, spool — on every backend (PGlite always, PostgreSQL when
// DATABASE_URL is set): a layer may add what it does, never change what the contract promises.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import type { SessionRepository } from "../../src/sessions/repository/contract.js";
import { backends, silentLogger } from "../support/databases.js";
import { saveInput } from "../support/save-input.js";
import { stacks } from "../support/stacks.js";

const table = "isotope_sessions";

const input = saveInput;

const compositions = backends().flatMap((backend) => stacks.map((stack) => ({ backend, stack })));

describe.each(compositions)("repository $stack.name on $backend.name", ({ backend, stack }) => {
  let db: Db;
  let repo: SessionRepository;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ db, cleanup } = await backend.open());
    await migrate(db, { table }, silentLogger());
    repo = await stack.open(db, table);
  });
  afterAll(async () => {
    await repo.close();
    await cleanup();
  });

  it("creates at version 1, then bumps the version by one on every write", async () => {
    const first = await repo.save(input("v-1", { messages: [1, 2] }));
    expect(first).toMatchObject({ kind: "saved", created: true, session: { version: 1n, messageCount: 2n } });
    const second = await repo.save(input("v-1", { messages: [1, 2, 3] }));
    expect(second).toMatchObject({ kind: "saved", created: false, session: { version: 2n, messageCount: 3n } });
    const loaded = await repo.load("v-1", false);
    expect(JSON.parse(loaded?.dataJson ?? "null")).toEqual({ messages: [1, 2, 3] });
    expect(loaded?.createdAt).toBeLessThanOrEqual(loaded?.lastUpdated ?? 0n);
  });

  it("loadMany answers each key in order: current while the held token is the row's, the row after any write", async () => {
    await repo.save(input("lm-1", { n: 1 }));
    await repo.save(input("lm-2", { n: 2 }));
    await repo.delete("lm-2", false);
    const held = (await repo.load("lm-1", false)) as NonNullable<Awaited<ReturnType<typeof repo.load>>>;
    expect(held.rowToken).toEqual(expect.any(String));
    const keys = [
      { sessionId: "lm-1", includeInactive: false, known: held.rowToken },
      { sessionId: "lm-missing", includeInactive: false },
      { sessionId: "lm-2", includeInactive: false },
      { sessionId: "lm-2", includeInactive: true },
      { sessionId: "lm-1", includeInactive: false },
    ];
    const answers = await repo.loadMany(keys);
    expect(answers[0]).toBe("current");
    expect(answers[1]).toBeUndefined();
    expect(answers[2]).toBeUndefined();
    expect(answers[3]).toMatchObject({ sessionId: "lm-2", isActive: false });
    expect(JSON.parse((answers[4] as { dataJson: string }).dataJson)).toEqual({ n: 1 });
    // A write by anyone — here plain SQL that leaves the version alone, as the seed's manager does.
    await db.query(`UPDATE ${table} SET session_data = '{"n": 9}' WHERE session_id = 'lm-1'`);
    const [after] = await repo.loadMany([keys[0] as (typeof keys)[0]]);
    expect(after).not.toBe("current");
    expect(JSON.parse((after as { dataJson: string }).dataJson)).toEqual({ n: 9 });
  });

  it("keeps metadata when a Save leaves it unset and replaces it when given", async () => {
    await repo.save(input("m-1", {}, { metadataJson: JSON.stringify({ user_id: "u1" }) }));
    await repo.save(input("m-1", { x: 1 }));
    expect(JSON.parse((await repo.load("m-1", false))?.metadataJson ?? "")).toEqual({ user_id: "u1" });
    await repo.save(input("m-1", { x: 2 }, { metadataJson: JSON.stringify({ user_id: "u2" }) }));
    expect(JSON.parse((await repo.load("m-1", false))?.metadataJson ?? "")).toEqual({ user_id: "u2" });
  });

  it("compare-and-set: 0 means must not exist, a stale version is a conflict naming the current one", async () => {
    expect(await repo.save(input("cas-1", {}, { expectedVersion: 0n }))).toMatchObject({
      kind: "saved",
      created: true,
    });
    expect(await repo.save(input("cas-1", {}, { expectedVersion: 0n }))).toEqual({
      kind: "conflict",
      currentVersion: 1n,
    });
    expect(await repo.save(input("cas-1", { a: 1 }, { expectedVersion: 1n }))).toMatchObject({
      kind: "saved",
      session: { version: 2n },
    });
    expect(await repo.save(input("cas-1", { a: 2 }, { expectedVersion: 1n }))).toEqual({
      kind: "conflict",
      currentVersion: 2n,
    });
    expect(await repo.save(input("cas-missing", {}, { expectedVersion: 3n }))).toEqual({
      kind: "conflict",
      currentVersion: 0n,
    });
    expect(JSON.parse((await repo.load("cas-1", false))?.dataJson ?? "")).toEqual({ a: 1 });
  });

  it("hides an expired session from Load before any cleanup ran", async () => {
    await repo.save(input("exp-1", {}, { expiry: { kind: "in", micros: 1n } }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await repo.load("exp-1", false)).toBeUndefined();
    expect(await repo.load("exp-1", true)).toBeUndefined();
  });

  it("refuses an expires_at in the past on the database clock", async () => {
    const past = BigInt(Date.now() - 60_000) * 1000n;
    expect(await repo.save(input("exp-past", {}, { expiry: { kind: "at", micros: past } }))).toEqual({
      kind: "expiry-in-past",
    });
    expect(await repo.load("exp-past", true)).toBeUndefined();
  });

  it("soft delete hides a session from Load and List, and Save reactivates it", async () => {
    await repo.save(input("soft-1", { n: 1 }));
    expect(await repo.delete("soft-1", false)).toBe(true);
    expect(await repo.delete("soft-1", false)).toBe(false);
    expect(await repo.load("soft-1", false)).toBeUndefined();
    expect((await repo.load("soft-1", true))?.isActive).toBe(false);
    const listed = await repo.list(listAll());
    expect(listed.map((s) => s.sessionId)).not.toContain("soft-1");
    const revived = await repo.save(input("soft-1", { n: 2 }));
    expect(revived).toMatchObject({ kind: "saved", created: false, session: { isActive: true, version: 3n } });
  });

  it("hard delete removes the row", async () => {
    await repo.save(input("hard-1", {}));
    expect(await repo.delete("hard-1", true)).toBe(true);
    expect(await repo.load("hard-1", true)).toBeUndefined();
    expect(await repo.delete("hard-1", true)).toBe(false);
  });

  it("lists newest first, pages by keyset without gaps or repeats, and filters by metadata", async () => {
    for (let i = 0; i < 7; i++) {
      await repo.save(input(`page-${i}`, { i }, { metadataJson: JSON.stringify({ user_id: "pager", i }) }));
    }
    const filter = JSON.stringify({ user_id: "pager" });
    const seen: string[] = [];
    let after: { lastUpdated: bigint; sessionId: string } | undefined;
    for (;;) {
      const page = await repo.list({ ...listAll(), limit: 3, after, metadataFilterJson: filter });
      seen.push(...page.map((s) => s.sessionId));
      const last = page[page.length - 1];
      if (page.length < 3 || !last) break;
      after = { lastUpdated: last.lastUpdated, sessionId: last.sessionId };
      // A write between pages moves that session to the front, never into a later page twice.
      await repo.save(input("page-0", { touched: true }));
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, 3)).toEqual(["page-6", "page-5", "page-4"]);
    const byOffset = await repo.list({ ...listAll(), limit: 2, offset: 1, metadataFilterJson: filter });
    expect(byOffset).toHaveLength(2);
  });

  it("a filtered List gives the same pages whether a filter matches many rows or few", async () => {
    // 1,500 rows: "common" on every other one (a page is found among the newest rows), "rare" on
    // 1 in 150 (the metadata index serves it), and user_id (its own index).
    await db.query(
      `INSERT INTO ${table} (session_id, session_data, metadata, last_updated)
       SELECT 'f-' || lpad(g::text, 5, '0'), '{}'::jsonb,
         jsonb_build_object('user_id', 'fu-' || (g % 4), 'kind', CASE WHEN g % 150 = 0 THEN 'rare' WHEN g % 2 = 0 THEN 'common' ELSE 'other' END),
         now() - g * interval '1 second' - (g % 3) * interval '1 microsecond'
       FROM generate_series(1, 1500) g`,
    );
    const { rows } = await db.query<{ session_id: string; metadata: string }>(
      `SELECT session_id, metadata::text AS metadata FROM ${table} WHERE session_id LIKE 'f-%'
       ORDER BY last_updated DESC, session_id DESC`,
    );
    for (const filter of [
      { kind: "common" },
      { kind: "rare" },
      { user_id: "fu-3" },
      { user_id: "fu-1", kind: "common" },
    ]) {
      const expected = rows
        .filter((row) => Object.entries(filter).every(([key, value]) => JSON.parse(row.metadata)[key] === value))
        .map((row) => row.session_id);
      const seen: string[] = [];
      let after: { lastUpdated: bigint; sessionId: string } | undefined;
      for (;;) {
        const page = await repo.list({ ...listAll(), limit: 40, after, metadataFilterJson: JSON.stringify(filter) });
        seen.push(...page.map((s) => s.sessionId));
        const last = page[page.length - 1];
        if (page.length < 40 || !last) break;
        after = { lastUpdated: last.lastUpdated, sessionId: last.sessionId };
      }
      expect(seen, JSON.stringify(filter)).toEqual(expected);
    }
  });

  it("cleans up in batches, counting expired and purged, and dry_run changes nothing", async () => {
    for (let i = 0; i < 5; i++) await repo.save(input(`cl-${i}`, {}, { expiry: { kind: "in", micros: 1n } }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const dry = await repo.cleanup({
      hardDelete: false,
      purgeInactiveOlderThan: undefined,
      batchSize: 2,
      dryRun: true,
    });
    expect(dry.expired).toBeGreaterThanOrEqual(5);
    expect((await repo.statistics()).expiredSessions).toBeGreaterThanOrEqual(5n);
    const batches: number[] = [];
    const real = await repo.cleanup({
      hardDelete: false,
      purgeInactiveOlderThan: undefined,
      batchSize: 2,
      dryRun: false,
      onBatch: ({ expired }) => batches.push(expired),
    });
    expect(real.expired).toBe(dry.expired);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect((await repo.statistics()).expiredSessions).toBe(0n);
    const purged = await repo.cleanup({ hardDelete: false, purgeInactiveOlderThan: 1n, batchSize: 2, dryRun: false });
    expect(purged.purged).toBeGreaterThanOrEqual(5);
    expect(await repo.load("cl-0", true)).toBeUndefined();
  });

  it("scans restorable sessions in keyset batches, skipping expired and inactive ones", async () => {
    for (let i = 0; i < 5; i++) {
      await repo.save(input(`scan-${i}`, { i }, { metadataJson: JSON.stringify({ tenant: "scan" }) }));
    }
    await repo.delete("scan-4", false);
    const query = {
      includeInactive: false,
      metadataFilterJson: JSON.stringify({ tenant: "scan" }),
      batchSize: 2,
      includeData: true,
    };
    const batches: string[][] = [];
    for await (const batch of repo.scan(query)) batches.push(batch.map((s) => s.sessionId));
    expect(batches).toEqual([
      ["scan-0", "scan-1"],
      ["scan-2", "scan-3"],
    ]);
    expect(await repo.countRestorable(query)).toEqual({ restorable: 4n, expired: 0n });
  });

  it("computes statistics with the seed's figures", async () => {
    const stats = await repo.statistics();
    expect(stats.totalSessions).toBe(stats.activeSessions + stats.inactiveSessions);
    expect(stats.totalDataBytes).toBeGreaterThan(0n);
    expect(stats.oldestCreatedAt).toBeDefined();
    expect(stats.createdLast24h).toBeGreaterThan(0n);
  });
});

function listAll() {
  return {
    limit: 1000,
    offset: 0,
    after: undefined,
    includeInactive: false,
    metadataFilterJson: undefined,
    includeData: false,
  };
}
