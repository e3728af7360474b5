// W3C Trace Context as the log line reads it: a valid traceparent's trace id is kept, anything
// the spec calls invalid is replaced by a new id.
import { describe, expect, it } from "vitest";
import { newTraceId, traceIdOf } from "../../src/rpc/trace-context.js";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("traceIdOf", () => {
  it("reads the trace id of a valid version-00 header, and of a later version with more fields", () => {
    expect(traceIdOf(`00-${traceId}-00f067aa0ba902b7-01`)).toBe(traceId);
    expect(traceIdOf(`00-${traceId}-00f067aa0ba902b7-00`)).toBe(traceId);
    expect(traceIdOf(`01-${traceId}-00f067aa0ba902b7-01-what-comes-next`)).toBe(traceId);
  });

  it.each([
    ["none", null],
    ["empty", ""],
    ["version ff", `ff-${traceId}-00f067aa0ba902b7-01`],
    ["version 00 with a suffix", `00-${traceId}-00f067aa0ba902b7-01-extra`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`],
    ["an all-zero parent id", `00-${traceId}-${"0".repeat(16)}-01`],
    ["upper-case hex", `00-${traceId.toUpperCase()}-00f067aa0ba902b7-01`],
    ["a short trace id", `00-${traceId.slice(2)}-00f067aa0ba902b7-01`],
    ["two headers joined", `00-${traceId}-00f067aa0ba902b7-01, 00-${traceId}-00f067aa0ba902b7-01`],
  ])("finds no trace id in %s", (_, header) => {
    expect(traceIdOf(header)).toBeUndefined();
  });
});

describe("newTraceId", () => {
  it("makes valid, distinct ids, past the refill of its random pool", () => {
    const ids = Array.from({ length: 1000 }, () => newTraceId());
    for (const id of ids) expect(traceIdOf(`00-${id}-00f067aa0ba902b7-01`)).toBe(id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
