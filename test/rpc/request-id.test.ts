// Retry-safe writes (request_id), on both backends: a repeat of a key applies nothing and answers
// as the first time did, logs no second change; the key with another request is INVALID_ARGUMENT
// with nothing changed; concurrent duplicates apply once; a key past the window is a new request.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory, tableChecksum } from "../support/server.js";

const codeOf = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (error) => ConnectError.from(error).code,
  );

describe.each(backends())("request_id on $name", (backend) => {
  let server: InMemoryServer;
  let client: ReturnType<typeof createClient<typeof SessionService>>;
  let n = 0;
  const key = () => `key-${++n}-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    server = await startInMemory(backend);
    client = createClient(SessionService, server.transport);
  });
  afterAll(async () => server.stop());

  /** The session's messages and version, and how many change events it has logged. */
  const state = async (sessionId: string) => {
    const session = (await client.load({ sessionId, includeInactive: true })).session;
    const { rows } = await server.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${server.table}_changes WHERE session_id = $1`,
      [sessionId],
    );
    return { messages: session?.data?.messages, version: session?.version, events: Number(rows[0]?.n) };
  };

  it("applies a repeated keyed Append once and answers the repeat as the first", async () => {
    await client.save({ sessionId: "a1", data: { messages: [{ role: "system" }] } });
    const requestId = key();
    const request = { sessionId: "a1", messages: [{ role: "user", content: "hi" }], requestId };
    const first = await client.append(request);
    const after = await state("a1");
    const again = await client.append(request);
    expect(again).toMatchObject({ version: first.version, messageCount: first.messageCount });
    expect(first).toMatchObject({ version: 2n, messageCount: 2n });
    expect(await state("a1")).toEqual(after);
    expect(after.messages).toEqual([{ role: "system" }, { role: "user", content: "hi" }]);
  });

  it("answers repeated keyed Save, Touch and Delete with their first result", async () => {
    const save = { sessionId: "s1", data: { step: 1 }, metadata: { user_id: "u" }, requestId: key() };
    const saved = await client.save(save);
    expect(await client.save(save)).toEqual(saved);
    expect(saved).toMatchObject({ created: true, session: { version: 1n } });

    const touch = {
      sessionId: "s1",
      expiry: { case: "expiresIn" as const, value: { seconds: 3600n } },
      requestId: key(),
    };
    const touched = await client.touch(touch);
    expect(await client.touch(touch)).toEqual(touched);

    const del = { sessionId: "s1", requestId: key() };
    expect(await client.delete(del)).toMatchObject({ deleted: true });
    // Unkeyed, a second soft delete would be NOT_FOUND: the key's repeat answers as the first.
    expect(await client.delete(del)).toMatchObject({ deleted: true });
    expect(await state("s1")).toMatchObject({ version: 2n, events: 3 });
  });

  it("refuses the key with another request (method, session or payload) and changes nothing", async () => {
    await client.save({ sessionId: "m1", data: { messages: [] } });
    await client.save({ sessionId: "m2", data: { messages: [] } });
    const requestId = key();
    await client.append({ sessionId: "m1", messages: [{ content: "one" }], requestId });
    const before = await tableChecksum(server);
    const misuses = await Promise.all([
      codeOf(client.append({ sessionId: "m1", messages: [{ content: "two" }], requestId })),
      codeOf(client.append({ sessionId: "m2", messages: [{ content: "one" }], requestId })),
      codeOf(client.save({ sessionId: "m1", data: { messages: [] }, requestId })),
      codeOf(client.delete({ sessionId: "m1", requestId })),
    ]);
    expect(misuses).toEqual(Array(4).fill(Code.InvalidArgument));
    expect(await tableChecksum(server)).toBe(before);
    const error = ConnectError.from(await client.delete({ sessionId: "m1", requestId }).catch((e) => e));
    expect(error.rawMessage).toContain("request_id");
  });

  it("applies concurrent duplicates exactly once", async () => {
    await client.save({ sessionId: "c1", data: { messages: [] } });
    const request = { sessionId: "c1", messages: [{ content: "once" }], requestId: key() };
    const answers = await Promise.all(Array.from({ length: 8 }, () => client.append(request)));
    expect(new Set(answers.map((a) => `${a.version}/${a.messageCount}`))).toEqual(new Set(["2/1"]));
    expect(await state("c1")).toMatchObject({ messages: [{ content: "once" }], version: 2n, events: 2 });
  });

  it("applies concurrent duplicate Saves once, amid other keyed Saves sharing their batches", async () => {
    const save = { sessionId: "c2", data: { messages: ["once"] }, requestId: key() };
    const others = Array.from({ length: 16 }, (_, i) => ({ sessionId: `c2-${i}`, data: { i }, requestId: key() }));
    const answers = await Promise.all([
      ...Array.from({ length: 8 }, () => client.save(save)),
      ...others.map((other) => client.save(other)),
    ]);
    expect(new Set(answers.slice(0, 8).map((a) => `${a.session?.version}/${a.created}`))).toEqual(new Set(["1/true"]));
    expect(answers.slice(8).map((a) => a.session?.version)).toEqual(others.map(() => 1n));
    expect(await state("c2")).toMatchObject({ messages: ["once"], version: 1n, events: 1 });
  });

  it("treats a key past the window as a new request", async () => {
    await client.save({ sessionId: "w1", data: { messages: [] } });
    const request = { sessionId: "w1", messages: [{ content: "x" }], requestId: key() };
    await client.append(request);
    await server.db.query(
      `UPDATE ${server.table}_reqids SET created_at = now() - interval '25 hours' WHERE request_id = $1`,
      [request.requestId],
    );
    expect(await client.append(request)).toMatchObject({ version: 3n, messageCount: 2n });
  });

  it("records no key for a write that applied nothing: its retry runs", async () => {
    const request = { sessionId: "late", messages: [{ content: "x" }], requestId: key() };
    expect(await codeOf(client.append(request))).toBe(Code.NotFound);
    await client.save({ sessionId: "late", data: { messages: [] } });
    expect(await client.append(request)).toMatchObject({ version: 2n, messageCount: 1n });
  });

  it("validates keys: at most 128 printable characters", async () => {
    const before = await tableChecksum(server);
    for (const requestId of ["k".repeat(129), "has space", "tab\t", "é"]) {
      expect(await codeOf(client.save({ sessionId: "v1", data: {}, requestId }))).toBe(Code.InvalidArgument);
    }
    expect(await tableChecksum(server)).toBe(before);
    expect(await client.save({ sessionId: "v1", data: {}, requestId: "k".repeat(128) })).toMatchObject({
      created: true,
    });
  });
});
