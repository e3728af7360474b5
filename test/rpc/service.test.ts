// SessionService in memory (its routes and interceptors behind createRouterTransport), on every
// backend: the README's Semantics table, and the codes of its Errors table that a request alone
// provokes (FAILED_PRECONDITION: append.test.ts; UNAVAILABLE: outage.test.ts; UNIMPLEMENTED: hostile.test.ts).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SaveRequest,
  SaveRequestSchema,
  SessionService,
  VersionConflictSchema,
} from "../../gen/isotope/session/v1/session_pb.js";
import { failureOf, saveThrough } from "../support/calls.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory, tableChecksum, testLimits } from "../support/server.js";

type SaveInit = MessageInitShape<typeof SaveRequestSchema>;

describe.each(backends())("SessionService over gRPC on $name", (backend) => {
  let server: InMemoryServer;
  let client: Client<typeof SessionService>;

  beforeAll(async () => {
    server = await startInMemory(backend);
    client = createClient(SessionService, server.transport);
  });
  afterAll(async () => server.stop());

  const save = saveThrough(() => client);
  const codeOf = failureOf;

  it("runs a session's whole life: save, load, list, soft delete, revive, hard delete", async () => {
    const saved = await save(
      "life",
      { messages: [{ role: "user", content: "hi" }], files: {} },
      {
        metadata: { user_id: "u-life", name: "会话" },
        expiry: { case: "expiresIn", value: { seconds: 3600n, nanos: 0 } },
      },
    );
    expect(saved.created).toBe(true);
    expect(saved.session?.version).toBe(1n);
    expect(saved.session?.data).toBeUndefined();
    expect(saved.session?.messageCount).toBe(1n);
    const expiresIn = Number(saved.session?.expiresAt?.seconds) - Number(saved.session?.lastUpdated?.seconds);
    expect(expiresIn).toBe(3600);

    const loaded = await client.load({ sessionId: "life" });
    expect(loaded.session?.data).toEqual({ messages: [{ role: "user", content: "hi" }], files: {} });
    expect(loaded.session?.metadata).toEqual({ user_id: "u-life", name: "会话" });

    const listed = await client.list({ metadataFilter: { user_id: "u-life" }, includeData: true });
    expect(listed.sessions.map((s) => s.sessionId)).toEqual(["life"]);
    expect(listed.sessions[0]?.data).toEqual(loaded.session?.data);

    expect(await client.delete({ sessionId: "life" })).toMatchObject({ deleted: true, hard: false });
    expect((await codeOf(client.load({ sessionId: "life" }))).code).toBe(Code.NotFound);
    expect((await client.load({ sessionId: "life", includeInactive: true })).session?.isActive).toBe(false);
    expect((await client.list({ metadataFilter: { user_id: "u-life" } })).sessions).toHaveLength(0);

    const revived = await save("life", { messages: [] });
    expect(revived).toMatchObject({ created: false, session: { isActive: true, version: 3n } });
    expect(await client.delete({ sessionId: "life", hard: true })).toMatchObject({ deleted: true, hard: true });
    expect((await codeOf(client.load({ sessionId: "life", includeInactive: true }))).code).toBe(Code.NotFound);
    expect((await codeOf(client.delete({ sessionId: "life" }))).code).toBe(Code.NotFound);
    expect(await client.delete({ sessionId: "life", allowMissing: true })).toMatchObject({ deleted: false });
  });

  it("answers a stale expected_version with ABORTED and the current version in the details", async () => {
    await save("cas", { n: 1 }, { expectedVersion: 0n });
    const error = await codeOf(save("cas", { n: 2 }, { expectedVersion: 0n }));
    expect(error.code).toBe(Code.Aborted);
    expect(error.rawMessage).toContain("expected_version");
    const [conflict] = error.findDetails(VersionConflictSchema);
    expect(conflict).toMatchObject({ sessionId: "cas", expectedVersion: 0n, currentVersion: 1n });
    expect((await save("cas", { n: 2 }, { expectedVersion: 1n })).session?.version).toBe(2n);
  });

  it("honours expiry on Load before Cleanup, then Cleanup expires it and Statistics agrees", async () => {
    await save("short", {}, { expiry: { case: "expiresIn", value: { seconds: 0n, nanos: 1_000_000 } } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await codeOf(client.load({ sessionId: "short" }))).code).toBe(Code.NotFound);
    expect((await client.statistics({})).expiredSessions).toBeGreaterThanOrEqual(1n);
    const dry = await client.cleanup({ dryRun: true });
    expect(dry.expiredCount).toBeGreaterThanOrEqual(1n);
    expect((await client.statistics({})).expiredSessions).toBe(dry.expiredCount);
    const done = await client.cleanup({ batchSize: 1 });
    expect(done.expiredCount).toBe(dry.expiredCount);
    expect((await client.statistics({})).expiredSessions).toBe(0n);
  });

  it("pages by token through every session exactly once", async () => {
    for (let i = 0; i < 5; i++) await save(`pg-${i}`, { i }, { metadata: { user_id: "pager" } });
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await client.list({ limit: 2, pageToken, metadataFilter: { user_id: "pager" } });
      ids.push(...page.sessions.map((s) => s.sessionId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(ids).toEqual(["pg-4", "pg-3", "pg-2", "pg-1", "pg-0"]);
    const byOffset = await client.list({ limit: 2, offset: 2, metadataFilter: { user_id: "pager" } });
    expect(byOffset.sessions.map((s) => s.sessionId)).toEqual(["pg-2", "pg-1"]);
  });

  it("restores in batches with cumulative progress, naming the sessions it cannot serve", async () => {
    for (let i = 0; i < 5; i++) await save(`rs-${i}`, { i }, { metadata: { tenant: "rs" } });
    // A row the seed's manager could have written: session_data that is not an object.
    await server.db.query(
      `INSERT INTO ${server.table} (session_id, session_data, metadata) VALUES ('rs-bad', '[1,2]', '{"tenant":"rs"}')`,
    );
    const restore = await client.restore({ metadataFilter: { tenant: "rs" }, batchSize: 2 });
    expect(restore).toMatchObject({ restoredCount: 5n, failedCount: 1n });
    expect(restore.failed[0]?.sessionId).toBe("rs-bad");
    expect(restore.failed[0]?.reason).toContain("not a JSON object");

    const messages = [];
    for await (const message of client.restoreStream({ metadataFilter: { tenant: "rs" }, batchSize: 2 })) {
      messages.push(message);
    }
    const last = messages[messages.length - 1];
    expect(last?.done).toBe(true);
    expect(last?.progress).toMatchObject({ restoredCount: 5n, failedCount: 1n, totalEstimate: 6n });
    expect(messages.slice(0, -1).every((m) => !m.done && m.sessions.length + m.failures.length <= 2)).toBe(true);
    const sessions = messages.flatMap((m) => m.sessions);
    expect(sessions.map((s) => s.sessionId)).toEqual(["rs-0", "rs-1", "rs-2", "rs-3", "rs-4"]);
    expect(sessions[3]?.data).toEqual({ i: 3 });
    expect((await codeOf(client.load({ sessionId: "rs-bad" }))).code).toBe(Code.DataLoss);
  });

  it("resumes a RestoreStream after the last session received", async () => {
    const resumed = [];
    for await (const message of client.restoreStream({ metadataFilter: { tenant: "rs" }, startAfter: "rs-2" })) {
      resumed.push(message);
    }
    expect(resumed.flatMap((m) => m.sessions.map((s) => s.sessionId))).toEqual(["rs-3", "rs-4"]);
    expect(resumed.at(-1)?.progress).toMatchObject({ restoredCount: 2n, failedCount: 1n, totalEstimate: 3n });
  });

  // PGlite has one connection: no second writer can hold a lock there.
  if (backend.name === "postgres") {
    it("answers DEADLINE_EXCEEDED when the caller's deadline passes, and cancels the SQL", async () => {
      await save("locked", { n: 1 });
      // Another writer holds the row, so the Save waits on the lock until the deadline.
      const holder = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await holder.connect();
      const schema = (await server.db.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]?.s;
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM ${schema}.${server.table} WHERE session_id = 'locked' FOR UPDATE`);
      try {
        const error = await codeOf(client.save({ sessionId: "locked", data: { n: 2 } }, { timeoutMs: 300 }));
        expect(error.code).toBe(Code.DeadlineExceeded);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const { rows } = await holder.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%'",
        );
        expect(rows[0].n).toBe(0);
      } finally {
        await holder.query("ROLLBACK");
        await holder.end();
      }
      expect((await client.load({ sessionId: "locked" })).session?.data).toEqual({ n: 1 });
    });
  }

  it("reports the connection with backend, version and pool figures", async () => {
    const check = await client.checkConnection({});
    expect(check).toMatchObject({ ok: true, backend: backend.name === "embedded" ? "embedded" : "postgres" });
    expect(check.serverVersion).toMatch(/PostgreSQL/);
    expect(check.pool?.total).toBeGreaterThanOrEqual(1);
  });

  describe("bad input is refused with the field named and nothing stored changed", () => {
    const deep = (levels: number) => {
      let value: Record<string, unknown> = { leaf: true };
      for (let i = 0; i < levels; i++) value = { nested: value };
      return value as SaveRequest["data"];
    };
    const cases: Array<[string, SaveInit, Code, string]> = [
      ["empty session_id", { sessionId: "", data: {} }, Code.InvalidArgument, "session_id"],
      ["256-character session_id", { sessionId: "x".repeat(256), data: {} }, Code.InvalidArgument, "session_id"],
      ["control character in session_id", { sessionId: "a\nb", data: {} }, Code.InvalidArgument, "session_id"],
      ["missing data", { sessionId: "bad" }, Code.InvalidArgument, "data"],
      ["U+0000 in a value", { sessionId: "bad", data: { a: "x\u0000y" } }, Code.InvalidArgument, "data.a"],
      ["U+0000 in a key", { sessionId: "bad", data: { "k\u0000": 1 } }, Code.InvalidArgument, "data key"],
      [
        "U+0000 in metadata",
        { sessionId: "bad", data: {}, metadata: { n: "\u0000" } },
        Code.InvalidArgument,
        "metadata.n",
      ],
      ["NaN", { sessionId: "bad", data: { n: Number.NaN } }, Code.InvalidArgument, "data.n"],
      [
        "Infinity",
        { sessionId: "bad", data: { list: [1, Number.POSITIVE_INFINITY] } },
        Code.InvalidArgument,
        "data.list[1]",
      ],
      ["nesting too deep", { sessionId: "bad", data: deep(testLimits.maxDepth + 5) }, Code.InvalidArgument, "nesting"],
      [
        "non-positive expires_in",
        { sessionId: "bad", data: {}, expiry: { case: "expiresIn", value: create(DurationSchema) } },
        Code.InvalidArgument,
        "expires_in",
      ],
      [
        "expires_at in the past",
        { sessionId: "bad", data: {}, expiry: { case: "expiresAt", value: { seconds: 1000n, nanos: 0 } } },
        Code.InvalidArgument,
        "expires_at",
      ],
      [
        "negative expected_version",
        { sessionId: "bad", data: {}, expectedVersion: -1n },
        Code.InvalidArgument,
        "expected_version",
      ],
      [
        "data over max_session_bytes",
        { sessionId: "bad", data: { blob: "x".repeat(testLimits.maxSessionBytes) } },
        Code.ResourceExhausted,
        "max_session_bytes",
      ],
    ];

    it.each(cases)("Save with %s", async (_name, request, code, field) => {
      const before = await tableChecksum(server);
      const error = await codeOf(client.save(create(SaveRequestSchema, request)));
      expect(error.code).toBe(code);
      expect(error.rawMessage).toContain(field);
      expect(await tableChecksum(server)).toBe(before);
    });

    it.each([
      ["limit over 1000", { limit: 1001 }, "limit"],
      ["negative limit", { limit: -1 }, "limit"],
      ["negative offset", { offset: -5 }, "offset"],
      ["malformed page_token", { pageToken: "not a token!" }, "page_token"],
      ["forged page_token", { pageToken: Buffer.from('[1,"x","y"]').toString("base64url") }, "page_token"],
      ["page_token with offset", { pageToken: "WzEsIjEiLCJ4Il0", offset: 1 }, "page_token"],
      ["U+0000 in metadata_filter", { metadataFilter: { a: "\u0000" } }, "metadata_filter.a"],
    ])("List with %s", async (_name, request, field) => {
      const error = await codeOf(client.list(request));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain(field);
    });

    it("Cleanup and RestoreStream with a batch size out of range", async () => {
      const before = await tableChecksum(server);
      expect((await codeOf(client.cleanup({ batchSize: 20_000 }))).rawMessage).toContain("batch_size");
      const stream = async () => {
        for await (const _ of client.restoreStream({ batchSize: -1 })) {
          // drain
        }
      };
      expect((await codeOf(stream())).code).toBe(Code.InvalidArgument);
      expect(await tableChecksum(server)).toBe(before);
    });
  });

  it("writes one log line per RPC with procedure, code, duration and session_id, never the payload", async () => {
    await save("logged", { secret: "do-not-log-me" });
    const line = server.logs.find(
      (l) => l.procedure === "isotope.session.v1.SessionService/Save" && l.session_id === "logged",
    );
    expect(line).toMatchObject({ code: "ok" });
    expect(typeof line?.duration_ms).toBe("number");
    expect(JSON.stringify(server.logs)).not.toContain("do-not-log-me");
  });
});
