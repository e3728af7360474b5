// Property test (fast-check): any JSON object Save accepts comes back from Load deep-equal — and
// is what the database holds; anything Save refuses leaves the table unchanged. And Save accepts
// exactly what the documented rules allow (no U+0000, no lone surrogates, nesting within
// max_depth, size within max_session_bytes), so the property cannot pass by refusing everything.
//
// Each run saves over one of two real protocols, and the expectation is computed from what that
// protocol carries to the server:
// - gRPC (protobuf binary, connect-node's client): numbers go as doubles, NaN and ±Infinity
//   included (the server must refuse them); strings go as UTF-8, so the client replaces lone
//   surrogates with U+FFFD before sending (toWellFormed) and the server never sees them.
// - Connect JSON written by JSON.stringify: lone surrogates reach the server as escapes (it must
//   refuse them); NaN and ±Infinity become null, as JSON has no such numbers.
// "Deep-equal" is then equality after a JSON round trip of what was carried: -0 is stored as 0
// (JSONB has no -0, and JSON.stringify writes it as 0), and key order is not part of an object.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { backends } from "../support/databases.js";
import { type RunningServer, startServer, tableChecksum, testLimits } from "../support/server.js";

const normalize = (value: unknown) => JSON.parse(JSON.stringify(value));

/** The validator's rules, restated independently: why a document must be refused, if it must. */
function mustRefuse(value: JsonValue): string | undefined {
  const stack: Array<[JsonValue, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [JsonValue, number];
    if (typeof node === "number") {
      if (!Number.isFinite(node)) return "not finite";
    } else if (typeof node === "string") {
      if (node.includes("\u0000")) return "U+0000";
      if (!node.isWellFormed()) return "lone surrogate";
    } else if (node !== null && typeof node === "object") {
      if (depth > testLimits.maxDepth) return "too deep";
      for (const [key, item] of Array.isArray(node) ? node.entries() : Object.entries(node)) {
        if (typeof key === "string" && (key.includes("\u0000") || !key.isWellFormed())) return "bad key";
        stack.push([item, depth + 1]);
      }
    }
  }
  return undefined;
}
const bytes = (value: JsonValue) => Buffer.byteLength(JSON.stringify(value), "utf8");

/** What protobuf's UTF-8 carries of a document: every key and string made well-formed. */
function wellFormed(value: JsonValue): JsonValue {
  if (typeof value === "string") return value.toWellFormed();
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key.toWellFormed(), wellFormed(item)]));
  }
  return value;
}

// Strings from every Unicode plane, now and then with the characters the rules refuse.
const hostileString = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom("a\u0000b", "\ud800", "x\udfffy", "\u0000") },
);
const value: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(), // -0, subnormals, ±1.8e308, and now and then NaN and ±Infinity
    fc.constantFrom(-0, Number.MIN_VALUE, -Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2),
    fc.integer(),
    hostileString,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(hostileString, tie("value"), { maxKeys: 4 }),
  ),
})).value;
const nest = (inner: JsonObject, levels: number): JsonObject => {
  let out = inner;
  for (let i = 0; i < levels; i++) out = { d: out };
  return out;
};
// Objects: mostly ordinary, sometimes nested near max_depth or grown near max_session_bytes.
const document = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(hostileString, value, { maxKeys: 6 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.dictionary(hostileString, value, { maxKeys: 2 }),
        fc.integer({ min: testLimits.maxDepth - 8, max: testLimits.maxDepth + 8 }),
      )
      .map(([inner, levels]) => nest(inner, levels)),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: testLimits.maxSessionBytes - 4096, max: testLimits.maxSessionBytes + 4096 })
      .map((n): JsonObject => ({ big: "x".repeat(n) })),
  },
);

describe.each(backends())("Save and Load as a property on $name", (backend) => {
  let server: RunningServer;
  let client: ReturnType<typeof createClient<typeof SessionService>>;
  let grpc: ReturnType<typeof createClient<typeof SessionService>>;

  beforeAll(async () => {
    server = await startServer(backend);
    client = createClient(SessionService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    grpc = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  });
  afterAll(async () => server.stop());

  /** Save over Connect's JSON protocol, the body exactly JSON.stringify's; the error code or undefined. */
  const saveJson = async (request: object) => {
    const response = await fetch(`${server.url}/isotope.session.v1.SessionService/Save`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    const body = (await response.json()) as { code?: string };
    return response.ok ? undefined : (body.code ?? `http ${response.status}`);
  };
  /** Save over gRPC with connect-node's client; the error code or undefined. */
  const saveGrpc = (request: { sessionId: string; data: JsonObject; metadata?: JsonObject }) =>
    grpc.save(request).then(
      () => undefined,
      (error) => codeToString(ConnectError.from(error).code),
    );

  it("accepted documents come back deep-equal; refused ones change nothing", { timeout: 120_000 }, async () => {
    let n = 0;
    const seen = { grpc: { accepted: 0, refused: 0 }, "connect-json": { accepted: 0, refused: 0 } };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("grpc", "connect-json"),
        document,
        fc.option(document, { nil: undefined }),
        async (protocol, generatedData, generatedMetadata) => {
          const sessionId = `prop-${n++}`;
          const before = await tableChecksum(server);
          // What the protocol carries to the server (see the top of the file).
          const carried = (value: JsonObject) =>
            (protocol === "grpc" ? wellFormed(value) : normalize(value)) as JsonObject;
          const data = carried(generatedData);
          const metadata = generatedMetadata === undefined ? undefined : carried(generatedMetadata);
          const saved =
            protocol === "grpc"
              ? await saveGrpc({ sessionId, data: generatedData, metadata: generatedMetadata })
              : await saveJson({ sessionId, data: generatedData, metadata: generatedMetadata });
          const reason = mustRefuse(data) ?? (metadata === undefined ? undefined : mustRefuse(metadata));
          const size = Math.max(bytes(data), metadata === undefined ? 0 : bytes(metadata));
          if (saved) {
            seen[protocol].refused++;
            expect(["invalid_argument", "resource_exhausted"]).toContain(saved);
            expect(await tableChecksum(server)).toBe(before);
            // Refused only for a reason the rules give (sizes close to the limit may go either way).
            expect(reason !== undefined || size > testLimits.maxSessionBytes - 512).toBe(true);
            return;
          }
          seen[protocol].accepted++;
          expect(reason).toBeUndefined();
          expect(size).toBeLessThanOrEqual(testLimits.maxSessionBytes + 512);
          const { session } = await client.load({ sessionId });
          expect(session?.data).toEqual(normalize(data));
          expect(session?.metadata ?? {}).toEqual(normalize(metadata ?? {}));
          // Not just the cache: the row in the database holds the same document.
          const { rows } = await server.db.query<{ data: string; metadata: string }>(
            `SELECT session_data::text AS data, metadata::text AS metadata FROM ${server.table} WHERE session_id = $1`,
            [sessionId],
          );
          expect(JSON.parse(rows[0]?.data ?? "null")).toEqual(normalize(data));
          expect(JSON.parse(rows[0]?.metadata ?? "null")).toEqual(normalize(metadata ?? {}));
        },
      ),
      { numRuns: 200 },
    );
    // Both sides of the property were exercised, on both protocols.
    for (const counts of Object.values(seen)) {
      expect(counts.accepted).toBeGreaterThan(20);
      expect(counts.refused).toBeGreaterThan(3);
    }
  });
});
