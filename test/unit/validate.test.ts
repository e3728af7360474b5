// Request validation without a database: what is refused, with which field named, before any SQL.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import * as validate from "../../src/sessions/validate.js";

const limits = { maxSessionBytes: 100, maxDepth: 3, maxReceiveBytes: 1024 };

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return { code: ConnectError.from(error).code, message: ConnectError.from(error).rawMessage };
  }
  throw new Error("expected a refusal");
};

describe("validation", () => {
  it("takes a session id of 1–255 characters, refusing control characters and lone surrogates", () => {
    expect(validate.sessionId("会话-1")).toBe("会话-1");
    expect(validate.sessionId("😀".repeat(255))).toHaveLength(510); // characters, not UTF-16 units
    for (const bad of ["", "x".repeat(256), "a\u0007b", "a\u0085b", "\ud800x"]) {
      expect(refusal(() => validate.sessionId(bad))).toMatchObject({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^session_id: /),
      });
    }
  });

  it("names the path of what a document may not hold: U+0000, a lone surrogate, NaN, too deep", () => {
    expect(refusal(() => validate.jsonDocument({ a: { b: "x\u0000" } }, "data", limits)).message).toBe(
      "data.a.b: must not contain U+0000 (PostgreSQL jsonb cannot store it)",
    );
    expect(refusal(() => validate.jsonDocument({ "k\ud800": 1 }, "data", limits)).message).toMatch(/^data key "k\?"/);
    expect(refusal(() => validate.jsonDocument({ list: [1, Number.NaN] }, "data", limits)).message).toBe(
      "data.list[1]: must be a finite number (not NaN or Infinity)",
    );
    expect(refusal(() => validate.jsonDocument({ a: { b: { c: {} } } }, "data", limits)).message).toBe(
      "data.a.b.c: nesting deeper than 3 levels",
    );
    expect(validate.jsonDocument({ a: { b: { c: 1 } } }, "data", limits)).toBe('{"a":{"b":{"c":1}}}');
  });

  it("refuses a document over max_session_bytes as RESOURCE_EXHAUSTED, counting UTF-8 bytes", () => {
    expect(() => validate.withinSize(JSON.stringify("é".repeat(49)), "data", limits)).not.toThrow();
    expect(refusal(() => validate.withinSize(JSON.stringify("é".repeat(50)), "data", limits))).toMatchObject({
      code: Code.ResourceExhausted,
      message: expect.stringMatching(/^data: 102 bytes is over the limit of 100 bytes/),
    });
  });

  it("takes expiry as a positive duration of at most 1,000 years, or a timestamp in 0001–9999", () => {
    expect(validate.expiry({ case: "expiresIn", value: { seconds: 2n, nanos: 500_000_000 } } as never)).toEqual({
      kind: "in",
      micros: 2_500_000n,
    });
    expect(validate.expiry({ case: undefined })).toEqual({ kind: "never" });
    expect(refusal(() => validate.expiresIn({ seconds: 0n, nanos: 0 } as never, "expires_in")).message).toBe(
      "expires_in: must be positive",
    );
    expect(
      refusal(() => validate.expiresIn({ seconds: 31_557_600_001n, nanos: 0 } as never, "expires_in")).message,
    ).toBe("expires_in: must be at most 1,000 years");
    expect(
      refusal(() => validate.timestamp({ seconds: 253_402_300_800n, nanos: 0 } as never, "expires_at")).message,
    ).toBe("expires_at: is not a valid timestamp");
  });

  it("reads 0 as the default of an integer field and names the range otherwise", () => {
    expect(validate.inRange(0, "limit", 1, 1000, 50)).toBe(50);
    expect(validate.inRange(1000, "limit", 1, 1000, 50)).toBe(1000);
    expect(refusal(() => validate.inRange(1001, "limit", 1, 1000, 50)).message).toBe(
      "limit: must be between 1 and 1000 (0 means 50), got 1001",
    );
  });
});
