// A Watch stream's own rules, without a database: metadata filters mean what jsonb's @> means, and
// a client that stops reading gets its stream ended with where to resume, instead of the server
// queueing for it without bound.
import { describe, expect, it } from "vitest";
import { contains } from "../../src/feed/contains.js";
import { FeedError } from "../../src/feed/contract.js";
import { Subscription } from "../../src/feed/subscription.js";
import type { ChangeEvent } from "../../src/sessions/repository/change-log.js";

const event = (sequence: number, metadata: object = {}): ChangeEvent => ({
  sequence: BigInt(sequence),
  sessionId: `s${sequence}`,
  kind: "saved",
  version: 1n,
  metadataJson: JSON.stringify(metadata),
  changedAt: 0n,
});

describe("metadata containment, as jsonb @>", () => {
  it.each([
    [{ user_id: "u1", team: "a" }, { user_id: "u1" }, true],
    [{ user_id: "u1" }, { user_id: "u2" }, false],
    [{ user_id: "u1" }, { user_id: "u1", team: "a" }, false],
    [{ tags: ["a", "b", "c"] }, { tags: ["c", "a"] }, true],
    [{ tags: ["a"] }, { tags: "a" }, false],
    [{ n: { deep: [1, { x: null }] } }, { n: { deep: [{}] } }, true],
    [{ n: 1 }, { n: "1" }, false],
    [{ a: null }, { a: null }, true],
    [{}, {}, true],
  ])("%j contains %j: %s", (value, sub, expected) => {
    expect(contains(value, sub)).toBe(expected);
  });
});

describe("a Watch stream's queue", () => {
  const query = { sinceSequence: 0n, sessionIds: undefined, metadataFilter: undefined };

  it("hands over what matches in order, in batches, and moves its position past what does not", async () => {
    const stream = new Subscription({ ...query, metadataFilter: { user_id: "u1" } }, 10n, 100);
    stream.offer([event(11, { user_id: "u1" }), event(12, { user_id: "u2" }), event(13, { user_id: "u1" })], 14n);
    const batch = await stream.next(new AbortController().signal);
    expect(batch.events.map((e) => Number(e.sequence))).toEqual([11, 13]);
    expect(batch.position).toBe(14n);
    // Events at or before the position are not offered twice.
    stream.offer([event(13, { user_id: "u1" })], 14n);
    expect(stream.take()).toBeUndefined();
  });

  it("ends a stream whose client fell behind, naming the sequence to resume from", async () => {
    const stream = new Subscription(query, 0n, 1000);
    stream.offer([event(1)], 1n);
    expect((await stream.next(new AbortController().signal)).position).toBe(1n);
    const many = Array.from({ length: 1200 }, (_, i) => event(i + 2));
    stream.offer(many, 1201n);
    const failure = await stream.next(new AbortController().signal).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(FeedError);
    expect(failure).toMatchObject({ failure: "behind", position: 1n });
    expect((failure as FeedError).message).toMatch(/resume with since_sequence = 1$/);
  });
});
