// Group commit (src/sessions/repository/group-commit.ts) on every backend: concurrent Saves share
// statements, yet each caller gets its own row's outcome, per-session order holds and a bad row
// fails alone. Keyed Saves (request_id) share batches too, each key applied once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import {
  RequestIdReusedError,
  type RequestKey,
  type SaveResult,
  type SessionRepository,
} from "../../src/sessions/repository/contract.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { withGroupCommit } from "../../src/sessions/repository/group-commit.js";
import { backends, silentLogger } from "../support/databases.js";
import { saveInput } from "../support/save-input.js";

const table = "isotope_sessions";

const input = saveInput;

const version = (result: SaveResult) => (result.kind === "saved" ? result.session.version : undefined);

let keys = 0;
/** A fresh request_id for a Save whose request hashes to `hash`. */
const keyed = (hash = "h"): { requestKey: RequestKey } => ({
  requestKey: { id: `gm-key-${++keys}-${Math.random().toString(36).slice(2)}`, method: "Save", hash },
});

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

  /** The keys recorded for `ids`, with the version each recorded answer carries. */
  const recorded = async (ids: string[]) => {
    const { rows } = await db.query<{ request_id: string; result: string }>(
      `SELECT request_id, result FROM ${table}_reqids WHERE request_id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.request_id, JSON.parse(row.result).session.version.n as string]));
  };

  it("keyed Saves share a batch: each written and its key recorded once, a repeat answered as the first", async () => {
    const first = keyed();
    const earlier = await grouped.save(input("gk-repeat", { v: 1 }, first));
    const ids = Array.from({ length: 6 }, (_, i) => `gk-${i}`);
    const keysOf = ids.map(() => keyed());
    const blocker = holdingOneBatch("gk-blocker");
    const saves = ids.map((id, i) => grouped.save(input(id, { i }, keysOf[i])));
    const repeat = grouped.save(input("gk-repeat", { v: 1 }, first));
    blocker.release();
    const results = await Promise.all(saves);
    expect(results.map(version)).toEqual([1n, 1n, 1n, 1n, 1n, 1n]);
    expect(await repeat).toEqual(earlier);
    expect(batches).toEqual([["gk-blocker"], [...ids, "gk-repeat"]]);
    // The repeat wrote nothing: its session is still at the first Save's version.
    expect((await repo.load("gk-repeat", false))?.version).toBe(1n);
    const records = await recorded(keysOf.map((k) => k.requestKey.id));
    expect([...records.values()]).toEqual(["1", "1", "1", "1", "1", "1"]);
    // Each key's repeat, alone, gets the batch's answer back and applies nothing.
    expect(await grouped.save(input("gk-0", { i: 0 }, keysOf[0]))).toEqual(results[0]);
    expect((await repo.load("gk-0", false))?.version).toBe(1n);
    await blocker.held;
  });

  it("a key reused for another request fails only its own Save; its neighbours are written", async () => {
    const reused = keyed();
    await grouped.save(input("gk-reused", { v: 1 }, reused));
    const neighbours = Array.from({ length: 3 }, (_, i) => `gk-neighbour-${i}`);
    const blocker = holdingOneBatch("gk-blocker-2");
    const misuse = grouped.save(input("gk-reused", { v: 2 }, { requestKey: { ...reused.requestKey, hash: "other" } }));
    const others = neighbours.map((id, i) => grouped.save(input(id, { i }, keyed())));
    blocker.release();
    await expect(misuse).rejects.toBeInstanceOf(RequestIdReusedError);
    expect((await Promise.all(others)).map(version)).toEqual([1n, 1n, 1n]);
    expect(JSON.parse((await repo.load("gk-reused", false))?.dataJson ?? "")).toEqual({ v: 1 });
    await blocker.held;
  });

  it("a keyed Save that applied nothing in a batch keeps no key: its retry runs", async () => {
    await repo.save(input("gk-cas", { v: 0 }));
    const stale = keyed();
    const blocker = holdingOneBatch("gk-blocker-3");
    const conflict = grouped.save(input("gk-cas", { v: 1 }, { ...stale, expectedVersion: 5n }));
    const neighbour = grouped.save(input("gk-cas-neighbour", {}, keyed()));
    blocker.release();
    expect(await conflict).toEqual({ kind: "conflict", currentVersion: 1n });
    expect(version(await neighbour)).toBe(1n);
    expect(await recorded([stale.requestKey.id])).toEqual(new Map());
    const retried = await grouped.save(input("gk-cas", { v: 1 }, { ...stale, expectedVersion: 1n }));
    expect(version(retried)).toBe(2n);
    await blocker.held;
  });

  it("one request_id sent twice at once is written once; the second waits for the next batch", async () => {
    const twice = keyed();
    const blocker = holdingOneBatch("gk-blocker-4");
    // (The RPC's hash covers the session id: the same key for another session hashes apart.)
    const other = { requestKey: { ...twice.requestKey, hash: "for gk-twice-b" } };
    const both = [grouped.save(input("gk-twice", { v: 1 }, twice)), grouped.save(input("gk-twice-b", { v: 1 }, other))];
    blocker.release();
    const [first, second] = await Promise.allSettled(both);
    expect(first).toMatchObject({ status: "fulfilled", value: { kind: "saved", created: true } });
    // The key with another request: refused, and never written.
    expect(second).toMatchObject({ status: "rejected", reason: expect.any(RequestIdReusedError) });
    expect(await repo.load("gk-twice-b", false)).toBeUndefined();
    expect(batches).toEqual([["gk-blocker-4"], ["gk-twice"], ["gk-twice-b"]]);
    await blocker.held;
  });

  it("two group commits (two replicas) saving the same keys in opposite orders apply each once", async () => {
    const a = withGroupCommit(repo, { maxBatch: 64, windowMs: 0, maxInFlight: 2 });
    const b = withGroupCommit(repo, { maxBatch: 64, windowMs: 0, maxInFlight: 2 });
    const ids = Array.from({ length: 24 }, (_, i) => `gk-pair-${String(i).padStart(2, "0")}`);
    const keysOf = ids.map(() => keyed());
    const saves = (via: SessionRepository, order: number[]) =>
      order.map((i) => via.save(input(ids[i] as string, { i }, keysOf[i])));
    const forward = ids.map((_, i) => i);
    const results = await Promise.all([...saves(a, forward), ...saves(b, [...forward].reverse())]);
    // Every Save answered; each session written once, whichever replica's answer came first.
    expect(results.map(version)).toEqual(results.map(() => 1n));
    const stored = await Promise.all(ids.map((id) => repo.load(id, false)));
    expect(stored.map((row) => row?.version)).toEqual(ids.map(() => 1n));
  });
});
