// The outage journal against a real repository on every backend: it survives a restart (a torn
// last line ignored), replays in order with one version per write, and never overwrites a
// session written in the database after it was spooled — that write is kept as a conflict.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import type { SessionRepository } from "../../src/sessions/repository/contract.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { openJournal } from "../../src/sessions/repository/spool-journal.js";
import { backends, silentLogger } from "../support/databases.js";
import { capturingLogger } from "../support/server.js";

describe.each(backends())("the outage spool's journal on $name", (backend) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let repository: SessionRepository;
  const scratch = mkdtempSync(join(tmpdir(), "isotope-spool-"));

  beforeAll(async () => {
    ({ db, cleanup } = await backend.open());
    await migrate(db, { table: "isotope_sessions" }, silentLogger());
    repository = createSessionRepository(db, "isotope_sessions");
  });
  afterAll(async () => {
    await cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  // The journal stamps writes with the database's time as spool.ts estimates it; here, local time
  // (or the database's own, where the test races the database).
  const localMicros = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  const databaseClock = async () => {
    const offset = (await repository.ping()).now - localMicros();
    return () => localMicros() + offset;
  };

  const stored = async (sessionId: string) => {
    const row = await repository.load(sessionId, true);
    return row && { data: JSON.parse(row.dataJson ?? "null"), version: row.version };
  };

  it("keeps acknowledged writes across a restart and replays them in order, one version each", async () => {
    const dir = join(scratch, "restart");
    const first = await openJournal(dir, repository, localMicros, silentLogger());
    await first.append({ sessionId: "s1", dataJson: '{"n":1}', metadataJson: '{"user_id":"u"}', expiresAt: undefined });
    await first.append({ sessionId: "s2", dataJson: '{"n":1}', metadataJson: undefined, expiresAt: undefined });
    await first.append({ sessionId: "s1", dataJson: '{"n":2}', metadataJson: undefined, expiresAt: undefined });
    await first.close(); // as a crash would leave it: nothing replayed
    // A write cut short by the crash: never acknowledged, so it must not be replayed.
    appendFileSync(join(dir, "journal.ndjson"), '{"w":{"seq":4,"sessionId":"s3","dataJs');

    const second = await openJournal(dir, repository, localMicros, silentLogger());
    expect(second.status().pending).toBe(3);
    await second.replayAll();
    expect(second.status()).toMatchObject({ pending: 0, replayed: 3, conflicts: 0 });
    expect(await stored("s1")).toEqual({ data: { n: 2 }, version: 2n });
    expect((await repository.load("s1", false))?.metadataJson).toBe('{"user_id": "u"}');
    expect(await stored("s2")).toEqual({ data: { n: 1 }, version: 1n });
    expect(await stored("s3")).toBeUndefined();
    await second.close();

    // Nothing pending, so the journal is emptied, and a third start replays nothing again.
    expect(readFileSync(join(dir, "journal.ndjson"), "utf8")).toBe("");
    const third = await openJournal(dir, repository, localMicros, silentLogger());
    expect(third.status().pending).toBe(0);
    await third.close();
    expect((await stored("s1"))?.version).toBe(2n);
  });

  it("never applies a keyed write twice: not after a lost done-marker, not when spooled twice", async () => {
    const dir = join(scratch, "keyed");
    const key = (id: string) => ({ id, method: "Save", hash: "h" });
    const first = await openJournal(dir, repository, localMicros, silentLogger());
    const write = { dataJson: '{"n":1}', metadataJson: undefined, expiresAt: undefined };
    await first.append({ sessionId: "k1", ...write, requestKey: key("spool-k1") });
    // A caller's retry during the outage: the same key spooled again.
    await first.append({ sessionId: "k2", ...write, requestKey: key("spool-k2") });
    await first.append({ sessionId: "k2", ...write, requestKey: key("spool-k2") });
    const journaled = readFileSync(join(dir, "journal.ndjson"), "utf8");
    await first.replayAll();
    expect(first.status()).toMatchObject({ pending: 0, conflicts: 0 });
    await first.close();
    expect(await stored("k1")).toEqual({ data: { n: 1 }, version: 1n });
    expect(await stored("k2")).toEqual({ data: { n: 1 }, version: 1n });

    // The replay committed but its done-markers never reached the disk: the next start replays again.
    writeFileSync(join(dir, "journal.ndjson"), journaled);
    const second = await openJournal(dir, repository, localMicros, silentLogger());
    expect(second.status().pending).toBe(3);
    await second.replayAll();
    expect(second.status()).toMatchObject({ pending: 0, conflicts: 0 });
    await second.close();
    expect(await stored("k1")).toEqual({ data: { n: 1 }, version: 1n });
    expect(await stored("k2")).toEqual({ data: { n: 1 }, version: 1n });
  });

  it("keeps a spooled write as a conflict when the session changed in the database after it", async () => {
    const dir = join(scratch, "conflict");
    const logs: Array<Record<string, unknown>> = [];
    const spool = await openJournal(dir, repository, await databaseClock(), capturingLogger(logs));
    await spool.append({
      sessionId: "c1",
      dataJson: '{"from":"spool"}',
      metadataJson: undefined,
      expiresAt: undefined,
    });
    await spool.append({
      sessionId: "c2",
      dataJson: '{"from":"spool"}',
      metadataJson: undefined,
      expiresAt: undefined,
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Another replica writes c1 once the database is back, before this one replays.
    await repository.save({
      sessionId: "c1",
      dataJson: '{"from":"database"}',
      metadataJson: undefined,
      expiry: { kind: "never" },
      expectedVersion: undefined,
    });

    await spool.replayAll();
    expect(spool.status()).toMatchObject({ pending: 0, replayed: 1, conflicts: 1 });
    expect(await stored("c1")).toEqual({ data: { from: "database" }, version: 1n });
    expect(await stored("c2")).toEqual({ data: { from: "spool" }, version: 1n });
    const kept = readFileSync(join(dir, "conflicts.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(kept).toEqual([
      expect.objectContaining({ sessionId: "c1", dataJson: '{"from":"spool"}', currentVersion: "1" }),
    ]);
    expect(logs.some((line) => line.session_id === "c1" && String(line.msg).includes("conflicts file"))).toBe(true);
    await spool.close();
  });

  it("settles a session before it is read or written: its spooled writes land first", async () => {
    const spool = await openJournal(join(scratch, "settle"), repository, localMicros, silentLogger());
    await spool.append({ sessionId: "t1", dataJson: '{"n":1}', metadataJson: undefined, expiresAt: undefined });
    expect(await spool.settle("t1")).toBeUndefined();
    expect(await stored("t1")).toEqual({ data: { n: 1 }, version: 1n });
    expect(spool.status().pending).toBe(0);
    await spool.close();
  });

  it("a spooled Save without metadata keeps the stored metadata on replay, as a database Save would", async () => {
    await repository.save({
      sessionId: "m1",
      dataJson: '{"n":1}',
      metadataJson: '{"tenant":"t","user_id":"u"}',
      expiry: { kind: "never" },
      expectedVersion: undefined,
    });
    const spool = await openJournal(join(scratch, "metadata"), repository, await databaseClock(), silentLogger());
    await spool.append({ sessionId: "m1", dataJson: '{"n":2}', metadataJson: undefined, expiresAt: undefined });
    expect(spool.pendingOf("m1").map((write) => write.metadataJson)).toEqual([undefined]);
    await spool.replayAll();
    const row = await repository.load("m1", false);
    expect({ data: JSON.parse(row?.dataJson ?? "null"), metadata: JSON.parse(row?.metadataJson ?? "null") }).toEqual({
      data: { n: 2 },
      metadata: { tenant: "t", user_id: "u" },
    });
    expect(row?.version).toBe(2n);
    await spool.close();
  });
});
