// What plain JavaScript gets wrong, refused before it is sent; and every response as plain JSON.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { type RunningServer, startServer, tableChecksum } from "../../../test/support/server.js";
import { createSessionClient, SaveRequestSchema, type SessionClient, toPlain } from "../src/index.js";

describe("the client against a live server", () => {
  let server: RunningServer;
  let client: SessionClient;
  beforeAll(async () => {
    server = await startServer(embedded);
    client = createSessionClient({ baseUrl: server.url, timeoutMs: 5000 });
  });
  afterAll(async () => server.stop());

  // Each of these was sent and stored as something else before the check (a string as {}, a Date
  // as {}, a wrong case name as no expiry at all).
  const mistakes: Array<[string, () => Promise<unknown>, RegExp]> = [
    [
      "a JSON string as data",
      () => client.save({ sessionId: "m", data: '{"messages":[]}' as never }),
      /SaveRequest\.data: must be a plain JSON object, got a string/,
    ],
    [
      "an array as metadata",
      () => client.save({ sessionId: "m", data: {}, metadata: ["u1"] as never }),
      /SaveRequest\.metadata: must be a plain JSON object, got an array/,
    ],
    [
      "a Date inside data",
      () => client.save({ sessionId: "m", data: { at: new Date() } as never }),
      /SaveRequest\.data\.at: a Date is not JSON \(toSessionData\(\)/,
    ],
    [
      "a snake_case expiry case",
      () => client.save({ sessionId: "m", data: {}, expiry: { case: "expires_in", value: { seconds: 60n } } as never }),
      /SaveRequest\.expiry: unknown case "expires_in" \(did you mean "expiresIn"\?\)/,
    ],
    [
      "a snake_case field",
      () => client.save({ session_id: "m", data: {} } as never),
      /SaveRequest: has no field "session_id" \(did you mean "sessionId"\?\)/,
    ],
    [
      "a Date as expiresAt",
      () => client.touch({ sessionId: "m", expiry: { case: "expiresAt", value: new Date() as never } }),
      /TouchRequest\.expiry\.expiresAt: must be an object, got a Date/,
    ],
    [
      "a string among Append's messages",
      () => client.append({ sessionId: "m", messages: ["hi"] as never }),
      /AppendRequest\.messages\[0\]: must be a plain JSON object, got a string/,
    ],
    [
      "a string as a list filter",
      () => client.list({ metadataFilter: "u1" as never }),
      /ListRequest\.metadataFilter: must be a plain JSON object/,
    ],
  ];

  it.each(mistakes)("refuses %s with INVALID_ARGUMENT naming the field, sending nothing", async (_, call, message) => {
    const before = await tableChecksum(server);
    const error = await call().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toMatch(message);
    expect(await tableChecksum(server)).toBe(before);
  });

  it("refuses a bad RestoreStream request when the stream is read", async () => {
    const stream = client.restoreStream({ metadataFilter: 42 as never });
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow(/RestoreStreamRequest\.metadataFilter/);
  });

  it("lets well-formed requests through, including ones made with create()", async () => {
    await client.save(create(SaveRequestSchema, { sessionId: "ok-create", data: { messages: [] } }));
    await client.save({
      sessionId: "ok-plain",
      data: { messages: [{ role: "user", content: "hi" }], nested: { a: [1, null, true, "x"] } },
      metadata: Object.assign(Object.create(null), { user_id: "u1" }),
      expiry: { case: "expiresIn", value: { seconds: 3600n, nanos: 0 } },
    });
    const { session } = await client.load({ sessionId: "ok-plain" });
    expect(session?.expiresAt).toBeDefined();
    expect(session?.metadata).toEqual({ user_id: "u1" });
  });

  it("toPlain makes Save, Load, List and Statistics replies JSON-safe: numbers, ISO times, enum names", async () => {
    const saved = toPlain(
      await client.save({
        sessionId: "plain-1",
        data: { messages: [{ role: "user", content: "你好" }] },
        metadata: { user_id: "u-plain" },
        expiry: { case: "expiresIn", value: { seconds: 86_400n, nanos: 0 } },
      }),
    );
    expect(() => JSON.stringify(saved)).not.toThrow();
    expect(saved).toMatchObject({ created: true, durability: "DURABILITY_DATABASE", session: { version: 1 } });
    const loaded = JSON.parse(JSON.stringify(toPlain(await client.load({ sessionId: "plain-1" }))));
    expect(loaded).toEqual({
      session: {
        sessionId: "plain-1",
        data: { messages: [{ role: "user", content: "你好" }] },
        metadata: { user_id: "u-plain" },
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
        lastUpdated: expect.stringMatching(/Z$/),
        expiresAt: expect.stringMatching(/Z$/),
        version: 1,
        isActive: true,
        messageCount: 1,
      },
      durability: "DURABILITY_DATABASE",
    });
    expect(Date.parse(loaded.session.expiresAt) - Date.parse(loaded.session.lastUpdated)).toBe(86_400_000);
    const listed = toPlain(await client.list({ metadataFilter: { user_id: "u-plain" } }));
    expect(JSON.parse(JSON.stringify(listed))).toMatchObject({ sessions: [{ sessionId: "plain-1", version: 1 }] });
    const stats = toPlain(await client.statistics({}));
    expect(stats.totalSessions).toBeTypeOf("number");
    expect(JSON.stringify(stats)).toContain('"avgMessagesPerSession"');
  });
});

describe("toPlain", () => {
  it("gives an int64 beyond 2^53 as a decimal string, never a rounded number", () => {
    const plain = toPlain(create(SaveRequestSchema, { sessionId: "s", expectedVersion: 2n ** 53n + 1n, data: {} }));
    expect(plain.expectedVersion).toBe("9007199254740993");
    expect(toPlain(create(SaveRequestSchema, { expectedVersion: 2n ** 53n - 1n })).expectedVersion).toBe(
      9007199254740991,
    );
  });

  it("names a oneof's chosen field as protobuf JSON does, and refuses a message of another package", () => {
    const plain = toPlain(
      create(SaveRequestSchema, { sessionId: "s", expiry: { case: "expiresIn", value: { seconds: 90n, nanos: 5e8 } } }),
    );
    expect(plain).toEqual({ sessionId: "s", expiresIn: "90.500s", requestId: "" });
    expect(() => toPlain({ $typeName: "other.Thing" } as never)).toThrow(TypeError);
  });
});
