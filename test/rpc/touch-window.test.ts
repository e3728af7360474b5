// Touch (sliding expiry without a rewrite) and the last_messages window of Load and RestoreStream.
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory, tableChecksum } from "../support/server.js";

const messages = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? "assistant" : "user", i }));

describe.each(backends())("Touch and last_messages on $name", (backend) => {
  let server: InMemoryServer;
  let client: ReturnType<typeof createClient<typeof SessionService>>;
  const row = async (sessionId: string) =>
    (
      await server.db.query<{ data: string; version: string; last_updated: string; expires_at: string | null }>(
        `SELECT session_data::text AS data, version::text, last_updated::text, expires_at::text
         FROM ${server.table} WHERE session_id = $1`,
        [sessionId],
      )
    ).rows[0];

  beforeAll(async () => {
    server = await startInMemory(backend);
    client = createClient(SessionService, server.transport);
  });
  afterAll(async () => server.stop());

  it("Touch changes expires_at and last_updated only: same data, same version", async () => {
    await client.save({ sessionId: "touch-1", data: { messages: messages(3) } });
    await client.load({ sessionId: "touch-1" }); // held by the cache too
    const before = await row("touch-1");
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { session } = await client.touch({
      sessionId: "touch-1",
      expiry: { case: "expiresIn", value: { seconds: 3600n, nanos: 0 } },
    });
    const after = await row("touch-1");
    expect(after?.data).toBe(before?.data);
    expect(after?.version).toBe(before?.version);
    expect(after?.last_updated).not.toBe(before?.last_updated);
    expect(before?.expires_at).toBeNull();
    expect(after?.expires_at).not.toBeNull();
    expect(session).toMatchObject({ sessionId: "touch-1", version: 1n, messageCount: 3n });
    expect(Number(session?.expiresAt?.seconds) - Number(session?.lastUpdated?.seconds)).toBe(3600);
    // A Load sees the new expiry, whether from the database or memory.
    const loaded = (await client.load({ sessionId: "touch-1" })).session;
    expect(loaded?.expiresAt).toEqual(session?.expiresAt);
    await client.touch({ sessionId: "touch-1", expiry: { case: "neverExpire", value: true } });
    expect((await client.load({ sessionId: "touch-1" })).session?.expiresAt).toBeUndefined();
  });

  it("a short Touch makes the session expire: Load answers NOT_FOUND after it", async () => {
    await client.save({ sessionId: "touch-short", data: {} });
    await client.load({ sessionId: "touch-short" });
    await client.touch({
      sessionId: "touch-short",
      expiry: { case: "expiresIn", value: { seconds: 0n, nanos: 300_000_000 } },
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await expect(client.load({ sessionId: "touch-short" })).rejects.toMatchObject({ code: Code.NotFound });
    // An expired session cannot be revived by Touch.
    await expect(
      client.touch({ sessionId: "touch-short", expiry: { case: "neverExpire", value: true } }),
    ).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("refuses what it cannot do, changing nothing", async () => {
    await client.save({ sessionId: "touch-deleted", data: {} });
    await client.delete({ sessionId: "touch-deleted" });
    const sum = await tableChecksum(server);
    const never = { case: "neverExpire" as const, value: true };
    const cases = [
      [{ sessionId: "touch-missing", expiry: never }, Code.NotFound],
      [{ sessionId: "touch-deleted", expiry: never }, Code.NotFound],
      [{ sessionId: "touch-1" }, Code.InvalidArgument],
      [{ sessionId: "touch-1", expiry: { case: "neverExpire" as const, value: false } }, Code.InvalidArgument],
      [
        { sessionId: "touch-1", expiry: { case: "expiresAt" as const, value: { seconds: 1n, nanos: 0 } } },
        Code.InvalidArgument,
      ],
      [
        { sessionId: "touch-1", expiry: { case: "expiresIn" as const, value: { seconds: -5n, nanos: 0 } } },
        Code.InvalidArgument,
      ],
      [{ sessionId: "", expiry: never }, Code.InvalidArgument],
    ] as const;
    for (const [request, code] of cases) {
      await expect(
        client.touch(request),
        JSON.stringify(request, (_, v) => (typeof v === "bigint" ? `${v}` : v)),
      ).rejects.toMatchObject({ code });
    }
    expect(await tableChecksum(server)).toBe(sum);
  });

  it("Load with last_messages returns the last N in order and counts them all", async () => {
    await client.save({ sessionId: "window", data: { messages: messages(10), title: "t" } });
    const tail = (await client.load({ sessionId: "window", lastMessages: 3 })).session;
    expect(tail?.data).toEqual({ messages: messages(10).slice(-3), title: "t" });
    expect(tail?.messageCount).toBe(10n);
    for (const n of [0, 10, 50]) {
      expect((await client.load({ sessionId: "window", lastMessages: n })).session?.data?.messages).toEqual(
        messages(10),
      );
    }
    // The window never shrinks what a later full Load returns (the decoded session is shared).
    expect((await client.load({ sessionId: "window" })).session?.data?.messages).toHaveLength(10);
  });

  it("RestoreStream with last_messages sends each session's last N", async () => {
    await client.save({ sessionId: "window-r1", data: { messages: messages(5) }, metadata: { w: "r" } });
    await client.save({ sessionId: "window-r2", data: { messages: messages(1) }, metadata: { w: "r" } });
    const sessions = [];
    for await (const message of client.restoreStream({ metadataFilter: { w: "r" }, lastMessages: 2 })) {
      sessions.push(...message.sessions);
    }
    expect(sessions.map((s) => [s.sessionId, s.data?.messages, s.messageCount])).toEqual([
      ["window-r1", messages(5).slice(-2), 5n],
      ["window-r2", messages(1), 1n],
    ]);
  });
});
