// Scheduled maintenance (src/maintenance/) on every backend: the job row's claim lets exactly one
// replica run each interval and hands a dead holder's job over once its lease expires; a run
// cleans up through the repository stack, records its counts and a sessions sample, trims old
// samples (read back as a trend: each step's newest), and survives its own failure; stop() aborts a run and frees the job for the others.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { CleanupConfig } from "../../src/config/load-config.js";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import type { CleanupRun, Maintenance, SessionsSample } from "../../src/maintenance/contract.js";
import { jobRow } from "../../src/maintenance/job.js";
import { createMaintenance, type MaintenanceDeps } from "../../src/maintenance/schedule.js";
import { changeLog } from "../../src/sessions/repository/change-log.js";
import type { SessionRepository } from "../../src/sessions/repository/contract.js";
import { backends, silentLogger } from "../support/databases.js";
import { capturingLogger, testCleanup } from "../support/server.js";
import { stacks } from "../support/stacks.js";

const dayMs = 24 * 60 * 60 * 1000;
const fullStack = stacks.find((stack) => stack.name === "spooled") as (typeof stacks)[number];

describe.each(backends())("scheduled maintenance on $name", (backend) => {
  let db: Db;
  let cleanupDb: () => Promise<void>;
  let table: string;
  let repository: SessionRepository;
  const started: Maintenance[] = [];
  let tables = 0;

  beforeAll(async () => {
    ({ db, cleanup: cleanupDb } = await backend.open());
  });
  afterAll(async () => cleanupDb());

  // Each test on its own table (and so its own job row and samples), under one stack.
  const freshTable = async (name = `maint_${++tables}`) => {
    table = name;
    await migrate(db, { table }, silentLogger());
    repository = await fullStack.open(db, table);
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((maintenance) => maintenance.stop()));
    await repository?.close();
  });

  /** A replica's maintenance on this test's table, started; what it did, as its observer and log saw it. */
  const replica = (
    name: string,
    cleanup: Partial<CleanupConfig>,
    changesRetentionMs?: number,
    more: Partial<MaintenanceDeps> = {},
  ) => {
    const runs: CleanupRun[] = [];
    const samples: SessionsSample[] = [];
    const logs: Array<Record<string, unknown>> = [];
    const maintenance = createMaintenance({
      db,
      repository,
      table,
      cleanup: { ...testCleanup, intervalMs: 60_000, ...cleanup },
      replica: name,
      changes:
        changesRetentionMs === undefined ? undefined : { log: changeLog(db, table), retentionMs: changesRetentionMs },
      log: capturingLogger(logs),
      observer: { cleanupRan: (run) => runs.push(run), sampled: (sample) => samples.push(sample) },
      ...more,
    });
    maintenance.start();
    started.push(maintenance);
    return { maintenance, runs, samples, logs };
  };

  /** `count` sessions of two messages each, with `column` set to `value` (SQL). */
  const insertSessions = async (count: number, prefix: string, column: string, value: string) =>
    db.query(
      `INSERT INTO ${table} (session_id, session_data, ${column})
       SELECT '${prefix}-' || i, '{"messages": [1, 2]}', ${value} FROM generate_series(1, ${count}) i`,
    );
  const expiredAgo = "now() - interval '1 minute'";
  const countWhere = async (where: string) =>
    Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE ${where}`)).rows[0]?.n);

  it("of replicas claiming one interval at once, exactly one wins; the lease keeps the job until it ends", async () => {
    await freshTable();
    const job = jobRow(db, table, "cleanup");
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => job.claim(`replica-${i}`, 3_600_000, 60_000)));
    const winners = claims.filter((claim) => claim.run !== undefined);
    expect(winners.map((claim) => claim.run)).toEqual([1n]);
    // Every claim saw the same interval, on the database's clock.
    expect(new Set(claims.map((claim) => claim.slotMs)).size).toBe(1);
    expect((await job.claim("late", 1, 60_000)).run).toBeUndefined();
  });

  it("a holder that died mid-run is replaced once its lease expired, and cannot renew it any more", async () => {
    await freshTable();
    const job = jobRow(db, table, "cleanup");
    const dead = await job.claim("dead", 100, 300);
    expect(dead.run).toBe(1n);
    expect((await job.claim("other", 100, 300)).run).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const taken = await job.claim("other", 100, 300);
    expect(taken.run).toBe(2n);
    expect(await job.renew(1n, 300)).toBe(false);
    expect(await job.renew(2n, 300)).toBe(true);
  });

  it("two replicas on one database clean up once per interval between them, every interval", {
    timeout: 20_000,
  }, async () => {
    await freshTable();
    const intervalMs = 400;
    const a = replica("a", { intervalMs });
    const b = replica("b", { intervalMs });
    await vi.waitFor(() => expect(a.runs.length + b.runs.length).toBeGreaterThanOrEqual(6), {
      timeout: 15_000,
      interval: 50,
    });
    await Promise.all(started.splice(0).map((maintenance) => maintenance.stop()));
    const lines = [...a.logs, ...b.logs].filter((line) => line.msg === "scheduled cleanup ran");
    const intervals = lines.map((line) => Date.parse(String(line.interval_start))).sort((x, y) => x - y);
    // Never two runs in one interval, and no interval left out between the first and the last.
    expect(new Set(intervals).size).toBe(intervals.length);
    expect(intervals.slice(1).map((start, i) => start - (intervals[i] as number))).toEqual(
      intervals.slice(1).map(() => intervalMs),
    );
    // The job row counted as many claims as runs were logged: none ran unseen.
    const { rows } = await db.query<{ run: string }>(`SELECT run::text AS run FROM ${table}_jobs`);
    expect(Number(rows[0]?.run)).toBe(lines.length);
    expect(new Set(lines.map((line) => line.replica)).size).toBeGreaterThanOrEqual(1);
  });

  it("a run numbers the change log and trims the events past their retention, in batches", async () => {
    /** A fresh table with 25 Saves logged through the stack (left unnumbered: no feed runs here). */
    const logged = async () => {
      await freshTable();
      for (let i = 0; i < 25; i++) {
        await repository.save({
          sessionId: `c${i}`,
          dataJson: "{}",
          metadataJson: undefined,
          expiry: { kind: "never" },
          expectedVersion: undefined,
        });
      }
      return changeLog(db, table);
    };
    const ran = async (name: string, retentionMs: number) => {
      const { logs } = replica(name, { batchSize: 10 }, retentionMs);
      await vi.waitFor(() => expect(logs.some((line) => line.msg === "scheduled cleanup ran")).toBe(true), {
        timeout: 5000,
        interval: 20,
      });
      await Promise.all(started.splice(0).map((maintenance) => maintenance.stop()));
      return logs.find((line) => line.msg === "scheduled cleanup ran");
    };

    const kept = await logged();
    expect(await ran("keeper", dayMs)).toMatchObject({ changes_trimmed: 0 });
    expect((await kept.read(0n, 100)).events.map((e) => Number(e.sequence))).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    await repository.close();

    const trimmed = await logged();
    expect(await ran("trimmer", 0)).toMatchObject({ changes_trimmed: 25 });
    expect(await trimmed.read(0n, 100)).toEqual({ lastSeq: 25n, trimmedThrough: 25n, events: [] });
  });

  it("a run trims the request_ids past their window, in batches, and keeps the younger ones", async () => {
    await freshTable();
    for (let i = 0; i < 12; i++) {
      await repository.save({
        sessionId: `k${i}`,
        dataJson: "{}",
        metadataJson: undefined,
        expiry: { kind: "never" },
        expectedVersion: undefined,
        requestKey: { id: `key-${i}`, method: "Save", hash: "h" },
      });
    }
    await db.query(`UPDATE ${table}_reqids SET created_at = now() - interval '2 hours' WHERE request_id <> 'key-0'`);
    const { logs } = replica("trimmer", { batchSize: 5 }, undefined, { requestIdWindowMs: 60 * 60 * 1000 });
    await vi.waitFor(() => expect(logs.some((line) => line.msg === "scheduled cleanup ran")).toBe(true), {
      timeout: 5000,
      interval: 20,
    });
    expect(logs.find((line) => line.msg === "scheduled cleanup ran")).toMatchObject({ request_ids_trimmed: 11 });
    const { rows } = await db.query<{ request_id: string }>(`SELECT request_id FROM ${table}_reqids`);
    expect(rows.map((row) => row.request_id)).toEqual(["key-0"]);
  });

  it("a run cleans up in batches through the stack, records its counts and a sample, read back from the database", async () => {
    await freshTable();
    await insertSessions(25, "expired", "expires_at", expiredAgo);
    await insertSessions(3, "live", "expires_at", "now() + interval '1 hour'");
    await insertSessions(4, "old", "is_active", "false");
    await db.query(`UPDATE ${table} SET last_updated = now() - interval '40 days' WHERE NOT is_active`);
    const solo = replica("solo", { batchSize: 10, purgeInactiveAfterMs: 30 * dayMs });
    expect(await solo.maintenance.lastCleanup()).toBeUndefined();
    await vi.waitFor(() => expect(solo.runs).toHaveLength(1), { timeout: 5000, interval: 20 });

    const run = solo.runs[0] as CleanupRun;
    expect(run).toMatchObject({ replica: "solo", expired: 25, purged: 4 });
    expect(run.error).toBeUndefined();
    expect(await countWhere("is_active AND expires_at <= now()")).toBe(0);
    expect(await countWhere("NOT is_active")).toBe(25);
    const batches = solo.logs.filter((line) => line.msg === "scheduled cleanup: batch done");
    expect(batches.map((line) => line.expired)).toEqual([10, 20, 25, 25]);
    expect(solo.logs.find((line) => line.msg === "scheduled cleanup ran")).toMatchObject({
      replica: "solo",
      run: 1,
      expired: 25,
      purged: 4,
    });

    const recorded = await solo.maintenance.lastCleanup();
    expect(recorded).toEqual({ ...run, durationMs: Math.round(run.durationMs) });
    const sample = await solo.maintenance.latestSample();
    expect(sample).toMatchObject({ active: 3, inactive: 25, expired: 0, totalMessages: 6 });
    expect(sample).toEqual(solo.samples[0]);
    expect(sample?.totalDataBytes).toBeGreaterThan(0);
  });

  it("hard delete removes expired sessions instead of marking them", async () => {
    await freshTable();
    await insertSessions(5, "gone", "expires_at", expiredAgo);
    const hard = replica("hard", { hardDelete: true });
    await vi.waitFor(() => expect(hard.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(hard.runs[0]).toMatchObject({ expired: 5, purged: 0 });
    expect(await countWhere("true")).toBe(0);
  });

  it("samples older than the retention time are trimmed by the run", async () => {
    await freshTable();
    const sample = (age: string) =>
      db.query(
        `INSERT INTO ${table}_samples (taken_at, active, inactive, expired, total_messages, total_data_bytes)
         VALUES (now() - interval '${age}', 1, 0, 0, 0, 0)`,
      );
    for (const age of ["100 days", "40 days", "31 days", "1 hour"]) await sample(age);
    const solo = replica("solo", { sampleRetentionMs: 30 * dayMs });
    await vi.waitFor(() => expect(solo.samples).toHaveLength(1), { timeout: 5000, interval: 20 });
    const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}_samples`);
    expect(Number(rows[0]?.n)).toBe(2);
    expect(await solo.maintenance.latestSample()).toEqual(solo.samples[0]);
  });

  it("a trend holds the newest sample of each step in the range, oldest first, with the database's now", async () => {
    await freshTable();
    // Whole hours on the database clock, so the steps (1 h) have known members.
    const sample = (at: string, active: number) =>
      db.query(
        `INSERT INTO ${table}_samples (taken_at, active, inactive, expired, total_messages, total_data_bytes)
         VALUES (date_trunc('hour', now()) - interval '${at}', $1::int8, 1, 2, 3, 4)`,
        [String(active)],
      );
    for (const [at, active] of [
      ["7 days", 1], // outside a 6 h range
      ["3 hours - 10 minutes", 2],
      ["3 hours - 50 minutes", 3], // the newest of its hour
      ["2 hours - 20 minutes", 4],
    ] as const)
      await sample(at, active);
    const maintenance = createMaintenance({
      db,
      repository,
      table,
      cleanup: testCleanup,
      replica: "reader",
      log: silentLogger(),
    });
    const before = Date.now();
    const trend = await maintenance.trend(6 * 3_600_000, 3_600_000);
    expect(trend.samples.map((s) => s.active)).toEqual([3, 4]);
    expect(trend.samples[0]).toMatchObject({ inactive: 1, expired: 2, totalMessages: 3, totalDataBytes: 4 });
    expect(Math.abs(trend.until.getTime() - before)).toBeLessThan(60_000);
    expect((await maintenance.trend(8 * dayMs, 3_600_000)).samples.map((s) => s.active)).toEqual([1, 3, 4]);
    expect((await maintenance.trend(60_000, 1000)).samples).toEqual([]);
  });

  it("works beside a table name of the longest length allowed", async () => {
    await freshTable(`m${"x".repeat(54)}`);
    const solo = replica("solo", {});
    await vi.waitFor(() => expect(solo.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(solo.runs[0]?.error).toBeUndefined();
    expect(await solo.maintenance.lastCleanup()).toMatchObject({ replica: "solo" });
    expect(await solo.maintenance.latestSample()).toEqual(solo.samples[0]);
  });

  it("a failed run is logged and recorded, and the next interval runs again", { timeout: 15_000 }, async () => {
    await freshTable();
    await insertSessions(3, "expired", "expires_at", expiredAgo);
    await db.query(`ALTER TABLE ${table} RENAME TO ${table}_away`);
    const solo = replica("solo", { intervalMs: 300 });
    await vi.waitFor(() => expect(solo.runs.length).toBeGreaterThanOrEqual(1), { timeout: 5000, interval: 20 });
    expect(solo.runs[0]?.error).toMatch(/does not exist/);
    expect((await solo.maintenance.lastCleanup())?.error).toMatch(/does not exist/);
    expect(
      solo.logs.find((line) => line.msg === "scheduled cleanup failed: the next interval tries again"),
    ).toMatchObject({ level: 40, replica: "solo" });
    await db.query(`ALTER TABLE ${table}_away RENAME TO ${table}`);
    await vi.waitFor(() => expect(solo.runs.some((run) => run.error === undefined)).toBe(true), {
      timeout: 5000,
      interval: 20,
    });
    expect(await countWhere("is_active")).toBe(0);
    expect((await solo.maintenance.lastCleanup())?.error).toBeUndefined();
  });

  it("a replica that cannot reach the job row warns, and claims again the next interval", async () => {
    await freshTable();
    await db.query(`ALTER TABLE ${table}_jobs RENAME TO ${table}_jobs_away`);
    const solo = replica("solo", { intervalMs: 300 });
    const warned = () =>
      solo.logs.filter(
        (line) => line.msg === "scheduled cleanup: cannot reach the job row, trying again next interval",
      );
    await vi.waitFor(() => expect(warned().length).toBeGreaterThanOrEqual(2), { timeout: 5000, interval: 20 });
    expect(warned()[0]).toMatchObject({ level: 40, replica: "solo" });
    expect(solo.runs).toEqual([]);
    await db.query(`ALTER TABLE ${table}_jobs_away RENAME TO ${table}_jobs`);
    await vi.waitFor(() => expect(solo.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(solo.runs[0]?.error).toBeUndefined();
  });

  it("stop() aborts a run in progress and frees the job: the next replica finishes it", {
    timeout: 20_000,
  }, async () => {
    await freshTable();
    await insertSessions(3000, "expired", "expires_at", expiredAgo);
    const first = replica("first", { intervalMs: 300, batchSize: 1 });
    await vi.waitFor(() => expect(first.logs.some((line) => line.msg === "scheduled cleanup: batch done")).toBe(true), {
      timeout: 5000,
      interval: 5,
    });
    await first.maintenance.stop();
    expect(first.runs).toHaveLength(1);
    const aborted = first.runs[0] as CleanupRun;
    expect(aborted.error).toMatch(/shutting down/);
    expect(aborted.expired).toBeGreaterThan(0);
    expect(aborted.expired).toBeLessThan(3000);
    expect(await first.maintenance.lastCleanup()).toMatchObject({ replica: "first", error: aborted.error });
    const { rows } = await db.query(`SELECT 1 FROM ${table}_jobs WHERE lease_until IS NULL`);
    expect(rows).toHaveLength(1);

    const next = replica("next", { intervalMs: 300, batchSize: 500 });
    await vi.waitFor(() => expect(next.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(next.runs[0]).toMatchObject({ replica: "next", expired: 3000 - aborted.expired });
    expect(await countWhere("is_active")).toBe(0);
  });
});
