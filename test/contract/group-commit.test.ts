// Group commit (src/sessions/repository/group-commit.ts) on every backend: concurrent Saves share statements,
// yet each caller gets its own row's outcome, per-session order holds and a bad row fails alone.
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
  /** Sizes of the batches the grouped repository wrote, in order. */
  let batches: number[];
  let grouped: SessionRepository;

  beforeAll(async () => {
    ({ db, cleanup } = await backend.open());
    await migrate(db, { table }, silentLogger());
    repo = createSessionRepository(db, table);
    const counting: SessionRepository = {
      ...repo,
      saveMany(inputs, signal) {
        batches.push(inputs.length);
        return repo.saveMany(inputs, signal);
      },
    };
    grouped = withGroupCommit(counting, { maxBatch: 64, windowMs: 0, maxInFlight: 1 });
  });
  afterAll(async () => cleanup());

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
    expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
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
    const [stale, ...blind] = await Promise.all([
      grouped.save(input("gm-blocker", {})), // keeps the next ones queued into one batch
      grouped.save(input("gm-cas-batch", { v: 1 }, { expectedVersion: 7n })),
      ...Array.from({ length: 5 }, (_, i) => grouped.save(input(`gm-cas-neighbour-${i}`, { i }))),
    ]).then((all) => all.slice(1));
    expect(stale).toEqual({ kind: "conflict", currentVersion: 1n });
    expect(blind.map(version)).toEqual([1n, 1n, 1n, 1n, 1n]);
  });

  it("a row the database refuses fails alone; its neighbours in the batch are written", async () => {
    const outcomes = await Promise.allSettled([
      grouped.save(input("gm-first", {})),
      // jsonb refuses \u0000 in text: the statement carrying it fails as a whole.
      grouped.save({ ...input("gm-bad", {}), dataJson: '{"nul":"\\u0000"}' }),
      ...Array.from({ length: 4 }, (_, i) => grouped.save(input(`gm-good-${i}`, { i }))),
    ]);
    expect(outcomes[1]?.status).toBe("rejected");
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(5);
    expect(await repo.load("gm-bad", false)).toBeUndefined();
    for (let i = 0; i < 4; i++) expect(await repo.load(`gm-good-${i}`, false)).toBeDefined();
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
