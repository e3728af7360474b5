// Rows ↔ messages without a database: timestamps, page tokens, and stored JSON that cannot be served.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken, parseStoredObject, toTimestamp } from "../../src/sessions/convert.js";
import type { StoredSession } from "../../src/sessions/repository/contract.js";

const row = (sessionId: string, lastUpdated: bigint): StoredSession => ({
  sessionId,
  dataJson: undefined,
  metadataJson: "{}",
  createdAt: lastUpdated,
  lastUpdated,
  expiresAt: undefined,
  version: 1n,
  isActive: true,
  messageCount: 0n,
});

describe("conversion", () => {
  it("turns microseconds into a Timestamp with nanos in [0, 1e9), before 1970 too", () => {
    expect(toTimestamp(1_500_000n)).toMatchObject({ seconds: 1n, nanos: 500_000_000 });
    expect(toTimestamp(-1n)).toMatchObject({ seconds: -1n, nanos: 999_999_000 });
  });

  it("round-trips a page token and refuses one that was tampered with", () => {
    const token = encodePageToken(row("s/1 ü", 1_700_000_000_123_456n));
    expect(decodePageToken(token)).toEqual({ lastUpdated: 1_700_000_000_123_456n, sessionId: "s/1 ü" });
    const forged = Buffer.from(JSON.stringify([1, "99999999999999999999", "x"])).toString("base64url");
    for (const bad of [`${token}!`, "", forged, Buffer.from('[2,"1","x"]').toString("base64url")]) {
      let error: ConnectError | undefined;
      try {
        decodePageToken(bad);
      } catch (caught) {
        error = ConnectError.from(caught);
      }
      expect(error?.code, bad).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toMatch(/^page_token: malformed/);
    }
  });

  it("says why stored JSON cannot be served as a Struct", () => {
    expect(parseStoredObject('{"a":1}', "session_data", true)).toEqual({ ok: true, value: { a: 1 } });
    expect(parseStoredObject("[1]", "session_data", true)).toEqual({
      ok: false,
      reason: "session_data is an array, not a JSON object",
    });
    expect(parseStoredObject("null", "metadata", false)).toMatchObject({
      ok: false,
      reason: "metadata is null, not a JSON object",
    });
    expect(parseStoredObject('{"n":1e400}', "session_data", true)).toMatchObject({
      ok: false,
      reason: "session_data holds a number beyond the range of a double",
    });
  });
});
