// The change log (src/sessions/repository/change-log.ts) over every stack on every backend: each
// write logs its kind and version in the same statement (a write that fails or changes nothing
// logs nothing), a group-commit batch logs one event per session, sequencing numbers committed
// events 1..n with no gap in commit order — a session's in version order — and trimming drops a
// prefix that a reader can tell.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { type ChangeEvent, changeLog, changeRecorder } from "../../src/sessions/repository/change-log.js";
import type { SaveInput, SessionRepository } from "../../src/sessions/repository/contract.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { backends, silentLogger } from "../support/databases.js";
import { stacks } from "../support/stacks.js";

const saveInput = (sessionId: string, extra: Partial<SaveInput> = {}): SaveInput => ({
  sessionId,
  dataJson: JSON.stringify({ messages: [{ role: "user", content: sessionId }] }),
  metadataJson: JSON.stringify({ user_id: "u1" }),
  expiry: { kind: "never" },
  expectedVersion: undefined,
  ...extra,
});

describe.each(backends())("the change log on $name", (backend) => {
  let db: Db;
  let cleanupDb: () => Promise<void>;
  let tables = 0;
  let table: string;
  let repository: SessionRepository | undefined;

  beforeAll(async () => {
    ({ db, cleanup: cleanupDb } = await backend.open());
  });
  afterAll(async () => cleanupDb());
  afterEach(async () => {
    await repository?.close();
    repository = undefined;
  });

  /** `repo`, closed after the test. */
  const use = (repo: SessionRepository) => {
    repository = repo;
    return repo;
  };
  const freshTable = async () => {
    table = `changes_${++tables}`;
    await migrate(db, { table }, silentLogger());
    return changeLog(db, table);
  };
  /** Every event so far, numbered first. */
  const events = async (log: ReturnType<typeof changeLog>): Promise<ChangeEvent[]> => {
    await log.sequence();
    return (await log.read(0n, 10_000)).events;
  };
  const brief = (list: ChangeEvent[]) => list.map((e) => [e.sessionId, e.kind, Number(e.version)]);

  describe.each(stacks)("through the $name stack", (stack) => {
    it("logs every kind of write with the session's version, in order, numbered 1..n", async () => {
      const log = await freshTable();
      const repo = use(await stack.open(db, table));
      await repo.save(saveInput("a"));
      await repo.save(saveInput("a"));
      await repo.append({
        sessionId: "a",
        messagesJson: JSON.stringify([{ role: "assistant" }]),
        setJson: undefined,
        removeKeys: [],
        expectedVersion: undefined,
      });
      await repo.touch("a", { kind: "in", micros: 3_600_000_000n });
      await repo.delete("a", false);
      await repo.save(saveInput("a"));
      await repo.delete("a", true);
      await repo.save(saveInput("b", { expiry: { kind: "in", micros: 1000n } }));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await repo.cleanup({ hardDelete: false, purgeInactiveOlderThan: 1n, batchSize: 100, dryRun: false });

      const logged = await events(log);
      expect(brief(logged)).toEqual([
        ["a", "saved", 1],
        ["a", "saved", 2],
        ["a", "appended", 3],
        ["a", "touched", 3],
        ["a", "deleted", 4],
        ["a", "saved", 5],
        ["a", "hard_deleted", 5],
        ["b", "saved", 1],
        ["b", "expired", 2],
        ["b", "purged", 2],
      ]);
      expect(logged.map((e) => Number(e.sequence))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(logged.every((e) => JSON.parse(e.metadataJson).user_id === "u1")).toBe(true);
      const { rows } = await db.query<{ now: string }>(
        "SELECT (extract(epoch from now()) * 1000000)::int8::text AS now",
      );
      for (const event of logged)
        expect(Math.abs(Number(BigInt(rows[0]?.now ?? 0) - event.changedAt))).toBeLessThan(60e6);
    });

    it("logs nothing for a write that fails or changes nothing", async () => {
      const log = await freshTable();
      const repo = use(await stack.open(db, table));
      await repo.save(saveInput("a"));
      expect((await repo.save(saveInput("a", { expectedVersion: 7n }))).kind).toBe("conflict");
      expect((await repo.save(saveInput("a", { expectedVersion: 0n }))).kind).toBe("conflict");
      expect(
        (
          await repo.append({
            sessionId: "nobody",
            messagesJson: "[]",
            setJson: undefined,
            removeKeys: [],
            expectedVersion: undefined,
          })
        ).kind,
      ).toBe("missing");
      expect((await repo.touch("nobody", { kind: "never" })).kind).toBe("missing");
      expect(await repo.delete("nobody", true)).toBe(false);
      await repo.delete("a", false);
      expect(await repo.delete("a", false)).toBe(false);
      // jsonb refuses \u0000: the statement fails, with its log row.
      await expect(repo.save(saveInput("c", { dataJson: '{"bad":"\\u0000"}' }))).rejects.toThrow();
      expect(brief(await events(log))).toEqual([
        ["a", "saved", 1],
        ["a", "deleted", 2],
      ]);
    });
  });

  it("logs one event per session of a group-commit batch, and spooled writes replayed one each", async () => {
    const log = await freshTable();
    const grouped = stacks.find((s) => s.name === "grouped") as (typeof stacks)[number];
    const repo = use(await grouped.open(db, table));
    const ids = Array.from({ length: 40 }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => repo.save(saveInput(id))));
    const replayed = await repo.replaySpooled("r", [
      { seq: 1, sessionId: "r", dataJson: "{}", metadataJson: undefined, expiresAt: undefined, spooledAt: 0n },
      { seq: 2, sessionId: "r", dataJson: "{}", metadataJson: undefined, expiresAt: undefined, spooledAt: 0n },
    ]);
    expect(replayed).toEqual({ kind: "applied", version: 2n });
    const logged = await events(log);
    expect(
      logged
        .filter((e) => e.sessionId.startsWith("s"))
        .map((e) => e.sessionId)
        .sort(),
    ).toEqual([...ids].sort());
    expect(brief(logged.filter((e) => e.sessionId === "r"))).toEqual([
      ["r", "saved", 1],
      ["r", "saved", 2],
    ]);
  });

  it("numbers concurrent writers' events without a gap or a repeat, each session's in version order", async () => {
    const log = await freshTable();
    const repo = use(createSessionRepository(db, table));
    const writers = Array.from({ length: 6 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 15; i++) {
          await repo.save(saveInput(`w${w % 3}`));
          if (i % 4 === 0) await log.sequence();
        }
      })(),
    );
    await Promise.all([...writers, log.sequence(), log.sequence()]);
    const logged = await events(log);
    expect(logged.map((e) => Number(e.sequence))).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    for (const id of ["w0", "w1", "w2"]) {
      expect(logged.filter((e) => e.sessionId === id).map((e) => Number(e.version))).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
    }
  });

  it("trims a prefix past the retention, says how far, and numbers on after it", async () => {
    const log = await freshTable();
    const repo = use(createSessionRepository(db, table));
    for (const id of ["a", "b", "c"]) await repo.save(saveInput(id));
    await log.sequence();
    expect(await log.trim(3_600_000, 100)).toBe(0);
    expect(await log.trim(0, 2)).toBe(3);
    await repo.save(saveInput("d"));
    await log.sequence();
    const after = await log.read(0n, 100);
    expect(after.trimmedThrough).toBe(3n);
    expect(after.lastSeq).toBe(4n);
    expect(brief(after.events)).toEqual([["d", "saved", 1]]);
    expect(after.events[0]?.sequence).toBe(4n);
  });

  it("writes no event when the feed is off", async () => {
    const log = await freshTable();
    const repo = use(createSessionRepository(db, table, changeRecorder(table, false)));
    await repo.save(saveInput("a"));
    await repo.delete("a", true);
    expect(await events(log)).toEqual([]);
  });
});
