// createLeaseHolder against a real server: a Load by the lease holder returns from memory, without
// a call, while its lease lives; once another holder takes the session over, the old holder reads
// from the service again and its writes are refused; release and the cache's bound drop copies.
import { Code, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { type RunningServer, startServer } from "../../../test/support/server.js";
import { createLeaseHolder, createSessionClient } from "../src/index.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(embedded);
});
afterAll(async () => server.stop());

/** A client, and how many Loads it has sent. */
function countingClient() {
  const sent = { loads: 0 };
  const counting: Interceptor = (next) => (req) => {
    if (req.method.name === "Load") sent.loads++;
    return next(req);
  };
  return { client: createSessionClient({ baseUrl: server.url, interceptors: [counting] }), sent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("createLeaseHolder", () => {
  it("serves the holder's Loads from memory while its lease lives, and what it saved", async () => {
    const { client, sent } = countingClient();
    const engine = createLeaseHolder(client, { holder: "engine-1", ttlMs: 60_000 });
    await client.save({ sessionId: "held", data: { turn: 0 }, metadata: { user_id: "u1" } });
    const lease = await engine.acquire("held");
    expect(lease.fencingToken).toBe(1n);
    const afterAcquire = sent.loads;
    expect((await engine.load("held"))?.data).toEqual({ turn: 0 });
    const saved = await engine.save("held", { turn: 1 });
    expect(saved).toMatchObject({ version: 2n, data: { turn: 1 }, metadata: { user_id: "u1" } });
    for (let i = 0; i < 5; i++) expect((await engine.load("held"))?.data).toEqual({ turn: 1 });
    expect(sent.loads).toBe(afterAcquire);
    // What memory served is what the service holds.
    expect((await client.load({ sessionId: "held" })).session).toMatchObject({ version: 2n, data: { turn: 1 } });
    // An Append changes what only the service can say: the next Load reads it, then memory again.
    await engine.append("held", [{ role: "user", content: "hi" }]);
    expect((await engine.load("held"))?.data).toEqual({ turn: 1, messages: [{ role: "user", content: "hi" }] });
    const reread = sent.loads;
    await engine.load("held");
    expect(sent.loads).toBe(reread);
    await engine.release("held");
    expect(engine.holds("held")).toBe(false);
    await engine.load("held");
    expect(sent.loads).toBe(reread + 1);
  });

  it("once another holder takes over, reads from the service and its writes are refused", async () => {
    const { client, sent } = countingClient();
    const paused = createLeaseHolder(client, { holder: "paused", ttlMs: 300 });
    const next = createLeaseHolder(createSessionClient({ baseUrl: server.url }), { holder: "next", ttlMs: 60_000 });
    await client.save({ sessionId: "taken", data: { by: "nobody" } });
    await paused.acquire("taken");
    await sleep(400); // the paused engine's lease lapses
    await next.acquire("taken");
    await next.save("taken", { by: "next" });

    expect(paused.holds("taken")).toBe(false);
    const before = sent.loads;
    expect((await paused.load("taken"))?.data).toEqual({ by: "next" });
    expect(sent.loads).toBe(before + 1);
    await expect(paused.save("taken", { by: "paused" })).rejects.toMatchObject({ code: Code.FailedPrecondition });
    expect((await next.load("taken"))?.data).toEqual({ by: "next" });
  });

  it("does not serve a copy once the session itself may have expired: the service says it is gone", async () => {
    const { client, sent } = countingClient();
    // A lease of 5 s keeps 0.5 s back for clock distance; the session expires in 2 s.
    const engine = createLeaseHolder(client, { holder: "expiring", ttlMs: 5000 });
    const expiresIn = { case: "expiresIn" as const, value: { seconds: 2n } };
    await client.save({ sessionId: "short-lived", data: { v: 1 }, expiry: expiresIn });
    await engine.acquire("short-lived");
    const afterAcquire = sent.loads;
    expect((await engine.load("short-lived"))?.data).toEqual({ v: 1 });
    expect(sent.loads).toBe(afterAcquire);
    await sleep(2100);
    expect(engine.holds("short-lived")).toBe(true); // the lease still lives; the session does not
    expect(await engine.load("short-lived")).toBeUndefined();
    expect(sent.loads).toBe(afterAcquire + 1);
  });

  it("keeps at most maxSessions copies, the least recently used out first", async () => {
    const { client, sent } = countingClient();
    const engine = createLeaseHolder(client, { holder: "bounded", ttlMs: 60_000, maxSessions: 2 });
    for (const id of ["b1", "b2", "b3"]) {
      await client.save({ sessionId: id, data: { id } });
      await engine.acquire(id);
    }
    const before = sent.loads;
    await engine.load("b2");
    await engine.load("b3");
    expect(sent.loads).toBe(before);
    expect((await engine.load("b1"))?.data).toEqual({ id: "b1" });
    expect(sent.loads).toBe(before + 1);
    expect(engine.holds("b1")).toBe(true);
  });
});
