// Group commit (src/sessions/repository/group-commit.ts) on every backend: concurrent Saves share
// statements, yet each caller gets its own row's outcome, per-session order holds and a bad row
// fails alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import type { SaveResult, SessionRepository } from "../../src/sessions/repository/contract.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { withGroupCommit } from "../../src/sessions/repository/group-commit.js";
import { backends, silentLogger } from "../support/databases.js";
import { saveInput } from "../support/save-input.js";

const table = "isotope_sessions";

const input = saveInput;

const version = (result: SaveResult) => (result.kind === "saved" ? result.session.version : undefined);

describe.each(backends())("group commit on $name", (backend) => {
  let db: Db;
  let repo: SessionRepository;
  let cleanup: () => Promise<void>;
  /** The session ids of every batch the grouped repository handed to saveMany, in order. */
  let batches: string[][] = [];
  /** While set, a batch waits for it before it is written: the one slot stays taken. */
  let gate: Promise<void> | undefined;
  let grouped: SessionRepository;

  beforeAll(async () => {
    ({ db, cleanup } = await backend.open());
    await migrate(db, { table }, silentLogger());
    repo = createSessionRepository(db, table);
    const observed: SessionRepository = {
      ...repo,
      async saveMany(inputs, signal) {
        batches.push(inputs.map((input) => input.sessionId));
        await gate;
        return repo.saveMany(inputs, signal);
      },
    };
    grouped = withGroupCommit(observed, { maxBatch: 64, windowMs: 0, maxInFlight: 1 });
  });
  afterAll(async () => cleanup());

  /** Starts a Save whose batch is held open: every Save made before release() queues behind it. */
  const holdingOneBatch = (sessionId: string) => {
    batches = [];
    let open = () => {};
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const held = grouped.save(input(sessionId, {}));
    return {
      held,
      release() {
        expect(batches).toEqual([[sessionId]]); // one batch in flight at a time: the rest queued
        gate = undefined;
        open();
      },
    };
  };

  it("saveMany writes every shape in one call, each input getting its own outcome", async () => {
    await repo.save(input("gm-kept", { v: 0 }, { metadataJson: '{"user_id":"u1"}' }));
    await repo.save(input("gm-cas", { v: 0 }));
    await repo.save(input("gm-taken", { v: 0 }));
    const results = await repo.saveMany([
      input("gm-new", { v: 1 }, { metadataJson: '{"user_id":"u2"}', expiry: { kind: "in", micros: 3_600_000_000n } }),
      input("gm-kept", { v: 1 }),
      input("gm-cas", { v: 1 }, { expectedVersion: 1n }),
      input("gm-stale", { v: 1 }, { expectedVersion: 4n }),
      input("gm-taken", { v: 1 }, { expectedVersion: 0n }),
      input("gm-create", { v: 1 }, { expectedVersion: 0n }),
    ]);
    expect(results).toMatchObject([
      { kind: "saved", created: true, session: { sessionId: "gm-new", version: 1n } },
      { kind: "saved", created: false, session: { sessionId: "gm-kept", version: 2n } },
      { kind: "saved", created: false, session: { sessionId: "gm-cas", version: 2n } },
      { kind: "conflict", currentVersion: 0n },
      { kind: "conflict", currentVersion: 1n },
      { kind: "saved", created: true, session: { sessionId: "gm-create", version: 1n } },
    ]);
    expect(JSON.parse((await repo.load("gm-kept", false))?.metadataJson ?? "")).toEqual({ user_id: "u1" });
    expect(JSON.parse((await repo.load("gm-new", false))?.metadataJson ?? "")).toEqual({ user_id: "u2" });
    expect((await repo.load("gm-new", false))?.expiresAt).toBeGreaterThan(0n);
    expect(await repo.load("gm-stale", false)).toBeUndefined();
    expect(JSON.parse((await repo.load("gm-taken", false))?.dataJson ?? "")).toEqual({ v: 0 });
  });

  it("a lone Save is written at once, not held for a window", async () => {
    const patient = withGroupCommit(repo, { maxBatch: 64, windowMs: 60_000, maxInFlight: 1 });
    expect(version(await patient.save(input("gm-lone", { v: 1 })))).toBe(1n);
  });

  it("Saves arriving together share statements, and each caller gets its own version", async () => {
    batches = [];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => grouped.save(input(`gm-many-${i}`, { i }))));
    expect(results.every((result) => version(result) === 1n)).toBe(true);
    // The first Save goes alone (nothing was running); the rest queued behind it and went together.
    expect(batches.length).toBeLessThan(40);
    expect(batches.flat().sort()).toEqual(results.map((_, i) => `gm-many-${i}`).sort());
    const stored = await Promise.all(results.map((_, i) => repo.load(`gm-many-${i}`, false)));
    expect(stored.map((row) => JSON.parse(row?.dataJson ?? "null").i)).toEqual(results.map((_, i) => i));
  });

  it("keeps each session's Saves in arrival order, one version per write", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => grouped.save(input("gm-order", { n }))));
    expect(results.map(version)).toEqual(results.map((_, n) => BigInt(n + 1)));
    expect(JSON.parse((await repo.load("gm-order", false))?.dataJson ?? "")).toEqual({ n: 19 });
  });

  it("a compare-and-set conflict fails only its own caller", async () => {
    await repo.save(input("gm-cas-batch", { v: 0 }));
    const neighbours = Array.from({ length: 5 }, (_, i) => `gm-cas-neighbour-${i}`);
    const blocker = holdingOneBatch("gm-blocker");
    const stale = grouped.save(input("gm-cas-batch", { v: 1 }, { expectedVersion: 7n }));
    const blind = neighbours.map((id, i) => grouped.save(input(id, { i })));
    blocker.release();
    expect(await stale).toEqual({ kind: "conflict", currentVersion: 1n });
    expect((await Promise.all(blind)).map(version)).toEqual([1n, 1n, 1n, 1n, 1n]);
    // The stale write and its neighbours went to the database as one statement.
    expect(batches).toEqual([["gm-blocker"], ["gm-cas-batch", ...neighbours]]);
    await blocker.held;
  });

  it("a row the database refuses fails alone; its neighbours in the batch are written", async () => {
    const neighbours = Array.from({ length: 4 }, (_, i) => `gm-good-${i}`);
    const first = holdingOneBatch("gm-first");
    const outcomes = Promise.allSettled([
      // jsonb refuses \u0000 in text: the statement carrying it fails as a whole.
      grouped.save({ ...input("gm-bad", {}), dataJson: '{"nul":"\\u0000"}' }),
      ...neighbours.map((id, i) => grouped.save(input(id, { i }))),
    ]);
    first.release();
    const [bad, ...good] = await outcomes;
    // A batch formed around the bad row; only its own caller hears of the refusal.
    expect(batches).toEqual([["gm-first"], ["gm-bad", ...neighbours]]);
    expect(bad).toMatchObject({ status: "rejected", reason: { name: "DatabaseRefusedValueError", sqlState: "22P05" } }); // untranslatable character
    expect(good.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
    expect(await first.held).toMatchObject({ kind: "saved" });
    expect(await repo.load("gm-bad", false)).toBeUndefined();
    const stored = await Promise.all(neighbours.map((id) => repo.load(id, false)));
    expect(stored.map((row) => JSON.parse(row?.dataJson ?? "null"))).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
  });

  it("a caller that gives up while queued is not written", async () => {
    const controller = new AbortController();
    const first = grouped.save(input("gm-running", {}));
    const abandoned = grouped.save(input("gm-abandoned", {}), controller.signal);
    controller.abort();
    await expect(abandoned).rejects.toThrow(/aborted/);
    await first;
    expect(await repo.load("gm-abandoned", false)).toBeUndefined();
  });
});
