// Append: messages added without rewriting the history, read back exactly as a sequence of Saves
// would have left them; Save of the whole document still replaces everything.
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory, startServer, tableChecksum } from "../support/server.js";

const turn = (i: number) => ({ role: i % 2 ? "assistant" : "user", content: `turn ${i}`, i });
const turns = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => turn(from + k));
/** Messages as engines hold them: plain JSON, every kind of value inside. */
const plain: JsonObject[] = [
  { role: "user", content: "你好 😀", n: 1.5, big: 9007199254740991, neg: -0.25 },
  { role: "assistant", content: "", tool_calls: [{ id: "c1", args: { q: null, deep: [[1], [true, "x"]] } }] },
  {},
];

describe.each(backends())("Append on $name", (backend) => {
  let server: InMemoryServer;
  let client: ReturnType<typeof createClient<typeof SessionService>>;
  const append = (sessionId: string, messages: JsonObject[], extra: object = {}) =>
    client.append({ sessionId, messages, ...extra });
  const stored = async (sessionId: string) => {
    const { rows } = await server.db.query<{ data: string; rows: string }>(
      `SELECT session_data::text AS data,
        (SELECT count(*) FROM ${server.table}_msg m WHERE m.session_id = s.session_id)::text AS rows
       FROM ${server.table} s WHERE session_id = $1`,
      [sessionId],
    );
    return { data: JSON.parse(rows[0]?.data ?? "null"), rows: Number(rows[0]?.rows) };
  };
  /** Both tables: Append writes to two. */
  const checksum = async () =>
    `${await tableChecksum(server)}/${
      (
        await server.db.query<{ sum: string | null }>(
          `SELECT md5(string_agg(md5(m::text), ',' ORDER BY session_id, seq)) AS sum FROM ${server.table}_msg m`,
        )
      ).rows[0]?.sum
    }`;

  beforeAll(async () => {
    server = await startInMemory(backend);
    client = createClient(SessionService, server.transport);
  });
  afterAll(async () => server.stop());

  it("reads back exactly what a sequence of Saves would have left, without keeping history in session_data", async () => {
    await client.save({ sessionId: "ap-1", data: { messages: turns(0, 3), title: "t", files: {} } });
    const first = await append("ap-1", turns(3, 5));
    expect(first).toMatchObject({ version: 2n, messageCount: 5n });
    const second = await append("ap-1", turns(5, 7));
    expect(second).toMatchObject({ version: 3n, messageCount: 7n });
    const { session } = await client.load({ sessionId: "ap-1" });
    expect(session?.data).toEqual({ messages: turns(0, 7), title: "t", files: {} });
    expect(session).toMatchObject({ version: 3n, messageCount: 7n });
    // The layout: messages live as rows, session_data keeps the rest.
    expect(await stored("ap-1")).toEqual({ data: { title: "t", files: {} }, rows: 7 });
    // List without data and Statistics count them too.
    const listed = await client.list({ metadataFilter: {}, limit: 1000 });
    expect(listed.sessions.find((s) => s.sessionId === "ap-1")?.messageCount).toBe(7n);
  });

  it("takes messages as a plain array and stores each one as it was sent", async () => {
    await client.save({ sessionId: "ap-plain", data: { messages: [] } });
    expect(await append("ap-plain", plain)).toMatchObject({ messageCount: 3n });
    const { rows } = await server.db.query<{ message: string }>(
      `SELECT message::text AS message FROM ${server.table}_msg WHERE session_id = 'ap-plain' ORDER BY seq`,
    );
    expect(rows.map((r) => JSON.parse(r.message))).toEqual(plain);
    expect((await client.load({ sessionId: "ap-plain" })).session?.data).toEqual({ messages: plain });
  });

  it("takes a plain JSON array over HTTP (Connect JSON, as curl sends it)", async () => {
    const wire = await startServer(backend);
    try {
      const call = (method: string, body: object) =>
        fetch(`${wire.url}/isotope.session.v1.SessionService/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      expect((await call("Save", { session_id: "ap-wire", data: { messages: [] } })).status).toBe(200);
      const reply = await call("Append", { session_id: "ap-wire", messages: plain });
      expect(await reply.json()).toEqual({ version: "2", messageCount: "3" });
      const loaded = (await (await call("Load", { session_id: "ap-wire" })).json()) as { session: { data: unknown } };
      expect(loaded.session.data).toEqual({ messages: plain });
      // A message that is not an object is refused by name, not stored as something else.
      const refused = await call("Append", { session_id: "ap-wire", messages: ["just a string"] });
      expect(await refused.json()).toMatchObject({
        code: "invalid_argument",
        message: expect.stringMatching(/Struct/),
      });
    } finally {
      await wire.stop();
    }
  }, 120_000); // a second server on its own database: slow on a busy machine

  it("merges a patch into data's top-level keys: null removes, anything else replaces", async () => {
    await client.save({ sessionId: "ap-patch", data: { messages: [], title: "old", drop: 1, keep: { a: 1 } } });
    await append("ap-patch", [turn(0)], { patch: { title: "new", drop: null, extra: [1, 2] } });
    expect((await client.load({ sessionId: "ap-patch" })).session?.data).toEqual({
      messages: [turn(0)],
      title: "new",
      keep: { a: 1 },
      extra: [1, 2],
    });
  });

  it("a Save of the whole document still replaces the history", async () => {
    await client.save({ sessionId: "ap-save", data: { messages: turns(0, 2) } });
    await append("ap-save", turns(2, 4));
    await client.save({ sessionId: "ap-save", data: { messages: [turn(9)], fresh: true } });
    expect((await client.load({ sessionId: "ap-save" })).session?.data).toEqual({ messages: [turn(9)], fresh: true });
    expect((await stored("ap-save")).rows).toBe(0);
    await append("ap-save", [turn(10)]);
    expect((await client.load({ sessionId: "ap-save" })).session?.data?.messages).toEqual([turn(9), turn(10)]);
  });

  it("works on a session the seed's manager wrote, and on one without messages", async () => {
    await server.db.query(
      `INSERT INTO ${server.table} (session_id, session_data, metadata)
       VALUES ('ap-seed', '{"messages":[{"type":"human","content":"你好"}],"files":{}}', '{"user_id":"u1"}')`,
    );
    expect(await append("ap-seed", [{ type: "ai", content: "hi" }])).toMatchObject({ messageCount: 2n });
    expect((await client.load({ sessionId: "ap-seed" })).session?.data).toEqual({
      messages: [
        { type: "human", content: "你好" },
        { type: "ai", content: "hi" },
      ],
      files: {},
    });
    await client.save({ sessionId: "ap-none", data: { state: 1 } });
    await append("ap-none", [turn(0)]);
    expect((await client.load({ sessionId: "ap-none" })).session?.data).toEqual({ state: 1, messages: [turn(0)] });
  });

  it("concurrent Appends all land, in some order, each exactly once", async () => {
    await client.save({ sessionId: "ap-race", data: { messages: [] } });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => append("ap-race", [turn(i)])));
    expect(results.map((r) => r.version).sort((a, b) => Number(a - b))).toEqual(
      Array.from({ length: 12 }, (_, i) => BigInt(i + 2)),
    );
    const messages = (await client.load({ sessionId: "ap-race" })).session?.data?.messages as Array<{ i: number }>;
    expect(messages.map((m) => m.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("windows, restores and deletes the appended history like any other", async () => {
    await client.save({ sessionId: "ap-win", data: { messages: turns(0, 5) }, metadata: { ap: "win" } });
    await append("ap-win", turns(5, 8));
    expect((await client.load({ sessionId: "ap-win", lastMessages: 2 })).session?.data?.messages).toEqual(turns(6, 8));
    const restored = [];
    for await (const message of client.restoreStream({ metadataFilter: { ap: "win" } })) {
      restored.push(...message.sessions);
    }
    expect(restored.map((s) => s.data?.messages)).toEqual([turns(0, 8)]);
    await client.delete({ sessionId: "ap-win", hard: true });
    expect((await stored("ap-win")).rows).toBeNaN(); // no session row, and its messages went with it
    const { rows } = await server.db.query(`SELECT 1 FROM ${server.table}_msg WHERE session_id = 'ap-win'`);
    expect(rows).toHaveLength(0);
  });

  it("refuses what it cannot do, changing nothing", async () => {
    await client.save({ sessionId: "ap-bad", data: { messages: "not a list" } });
    await client.save({ sessionId: "ap-cas", data: { messages: [] } });
    await client.save({ sessionId: "ap-gone", data: { messages: [] } });
    await client.delete({ sessionId: "ap-gone" });
    const before = await checksum();
    const cases: Array<[string, JsonObject[], object, Code]> = [
      ["ap-missing", [turn(0)], {}, Code.NotFound],
      ["ap-gone", [turn(0)], {}, Code.NotFound],
      ["ap-bad", [turn(0)], {}, Code.FailedPrecondition],
      ["ap-cas", [turn(0)], { expectedVersion: 7n }, Code.Aborted],
      ["ap-cas", [turn(0)], { patch: { messages: [] } }, Code.InvalidArgument],
      ["ap-cas", [{ bad: "\u0000" }], {}, Code.InvalidArgument],
      ["", [turn(0)], {}, Code.InvalidArgument],
    ];
    for (const [sessionId, messages, extra, code] of cases) {
      await expect(append(sessionId, messages, extra), `${sessionId} ${code}`).rejects.toMatchObject({ code });
    }
    expect(await checksum()).toBe(before);
  });
});
