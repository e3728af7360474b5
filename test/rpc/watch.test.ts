// Watch through the routes and interceptors, on both backends: a stream sees every kind of change
// in order with growing sequences, filters by session ids and by metadata, resumes from the
// sequence it last received missing nothing and repeating nothing, refuses a sequence older than
// the retained history (OUT_OF_RANGE) or a server whose feed is off (FAILED_PRECONDITION).
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeEvent_Kind as Kind, SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { changeLog } from "../../src/sessions/repository/change-log.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory } from "../support/server.js";
import { watching } from "../support/watch.js";

const brief = (events: { sessionId: string; kind: Kind; version: bigint }[]) =>
  events.map((e) => [e.sessionId, Kind[e.kind], Number(e.version)]);

describe.each(backends())("Watch on $name", (backend) => {
  let server: InMemoryServer;
  let client: Client<typeof SessionService>;

  beforeAll(async () => {
    server = await startInMemory(backend);
    client = createClient(SessionService, server.transport);
  });
  afterAll(async () => server.stop());

  const save = (sessionId: string, metadata: Record<string, string> = { user_id: "u1" }, extra = {}) =>
    client.save({ sessionId, data: { messages: [] }, metadata, ...extra });

  it("delivers every kind of change in commit order, each with its version and a growing sequence", async () => {
    const watch = watching(client, { sessionIds: ["k1", "k2"] });
    await watch.started();
    await save("k1");
    await client.append({ sessionId: "k1", messages: [{ role: "user" }] });
    await client.touch({ sessionId: "k1", expiry: { case: "expiresIn", value: { seconds: 3600n } } });
    await client.delete({ sessionId: "k1" });
    await save("k1");
    await client.delete({ sessionId: "k1", hard: true });
    await save("k2", { user_id: "u1" }, { expiry: { case: "expiresIn", value: { nanos: 1_000_000 } } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.cleanup({});
    await watch.until(() => watch.events.length >= 8);
    watch.close();
    expect(brief(watch.events)).toEqual([
      ["k1", "SAVED", 1],
      ["k1", "APPENDED", 2],
      ["k1", "TOUCHED", 2],
      ["k1", "DELETED", 3],
      ["k1", "SAVED", 4],
      ["k1", "HARD_DELETED", 4],
      ["k2", "SAVED", 1],
      ["k2", "EXPIRED", 2],
    ]);
    const sequences = watch.events.map((e) => e.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(sequences).size).toBe(8);
    expect(watch.events.every((e) => e.committedAt !== undefined)).toBe(true);
  });

  it("filters by session ids and by metadata containment", async () => {
    const byId = watching(client, { sessionIds: ["f1", "f3"] });
    const byUser = watching(client, { metadataFilter: { user_id: "u9" } });
    await Promise.all([byId.started(), byUser.started()]);
    await save("f1", { user_id: "u8" });
    await save("f2", { user_id: "u9", team: "t" });
    await save("f3", { user_id: "u9" });
    await save("f4", { user_id: "u8" });
    await Promise.all([byId.until(() => byId.events.length >= 2), byUser.until(() => byUser.events.length >= 2)]);
    // A marker written last, seen by both, proves nothing else was coming.
    await save("f3", { user_id: "u9" });
    await Promise.all([byId.until(() => byId.events.length >= 3), byUser.until(() => byUser.events.length >= 3)]);
    byId.close();
    byUser.close();
    expect(brief(byId.events)).toEqual([
      ["f1", "SAVED", 1],
      ["f3", "SAVED", 1],
      ["f3", "SAVED", 2],
    ]);
    expect(brief(byUser.events)).toEqual([
      ["f2", "SAVED", 1],
      ["f3", "SAVED", 1],
      ["f3", "SAVED", 2],
    ]);
  });

  it("resumes from the last sequence received with nothing missed and nothing twice", async () => {
    const first = watching(client, { metadataFilter: { user_id: "r" } });
    await first.started();
    for (let i = 0; i < 5; i++) await save(`r${i}`, { user_id: "r" });
    await first.until(() => first.events.length >= 5);
    first.close();
    const resumeFrom = first.position;
    // Written while nobody watched.
    for (let i = 5; i < 10; i++) await save(`r${i}`, { user_id: "r" });
    const second = watching(client, { sinceSequence: resumeFrom, metadataFilter: { user_id: "r" } });
    await second.until(() => second.events.length >= 5);
    for (let i = 10; i < 12; i++) await save(`r${i}`, { user_id: "r" });
    await second.until(() => second.events.length >= 7);
    second.close();
    const all = [...first.events, ...second.events].map((e) => e.sessionId);
    expect(all).toEqual(Array.from({ length: 12 }, (_, i) => `r${i}`));
  });

  it("answers OUT_OF_RANGE for a sequence older than the retained history, and for one past the end", async () => {
    await save("t1");
    const log = changeLog(server.db, server.table);
    await log.sequence();
    await log.trim(0, 1000);
    const { trimmedThrough, lastSeq } = await log.read(0n, 0);
    expect(trimmedThrough).toBeGreaterThan(0n);
    const tooOld = watching(client, { sinceSequence: trimmedThrough - 1n });
    const error = await tooOld.started().catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.OutOfRange });
    expect((error as ConnectError).rawMessage).toMatch(/older than the retained change history: re-list/);
    const ahead = watching(client, { sinceSequence: lastSeq + 100n });
    expect(await ahead.started().catch((e: unknown) => ConnectError.from(e).code)).toBe(Code.OutOfRange);
    // From exactly the trimmed point it is fine.
    const fromTrim = watching(client, { sinceSequence: trimmedThrough });
    await fromTrim.started();
    fromTrim.close();
  });

  it("refuses bad input with INVALID_ARGUMENT", async () => {
    for (const request of [{ sinceSequence: -1n }, { sessionIds: [""] }, { metadataFilter: { a: "\u0000" } }]) {
      const watch = watching(client, request);
      expect(await watch.started().catch((e: unknown) => ConnectError.from(e).code)).toBe(Code.InvalidArgument);
    }
  });
});

describe("Watch with the feed off", () => {
  let server: InMemoryServer;
  beforeAll(async () => {
    server = await startInMemory(backends()[0] as ReturnType<typeof backends>[number], {
      changes: { enabled: false, retentionMs: 0, pollMs: 1000 },
    });
  });
  afterAll(async () => server.stop());

  it("is FAILED_PRECONDITION, and writes log nothing", async () => {
    const client = createClient(SessionService, server.transport);
    await client.save({ sessionId: "off", data: {} });
    const watch = watching(client);
    const error = await watch.started().catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.FailedPrecondition });
    expect((error as ConnectError).rawMessage).toMatch(/change feed is off.*changes.enabled = false/);
    const { rows } = await server.db.query(`SELECT * FROM ${server.table}_changes`);
    expect(rows).toEqual([]);
  });
});
