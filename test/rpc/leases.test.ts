// Leases with fencing, on both backends: acquire/renew/release, one winner among concurrent
// acquirers, tokens that only grow, expiry on the database clock, and a fenced-off writer whose
// Save, Append, Touch and Delete are refused while the new owner's data stays intact.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory } from "../support/server.js";

const failure = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (error) => ConnectError.from(error),
  );

const minute = { seconds: 60n };

describe.each(backends())("leases on $name", (backend) => {
  let server: InMemoryServer;
  let client: ReturnType<typeof createClient<typeof SessionService>>;

  beforeAll(async () => {
    server = await startInMemory(backend);
    client = createClient(SessionService, server.transport);
  });
  afterAll(async () => server.stop());

  it("acquires, renews and releases; another holder is refused until the release", async () => {
    const { lease } = await client.acquireLease({ sessionId: "l1", holder: "A", ttl: minute });
    expect(lease).toMatchObject({ sessionId: "l1", holder: "A", fencingToken: 1n });

    const refused = await failure(client.acquireLease({ sessionId: "l1", holder: "B", ttl: minute }));
    expect(refused?.code).toBe(Code.FailedPrecondition);
    expect(refused?.rawMessage).toContain('held by "A"');
    expect(refused?.rawMessage).toMatch(/until \d{4}-\d\d-\d\dT/);

    const renewed = await client.renewLease({ sessionId: "l1", holder: "A", fencingToken: 1n, ttl: { seconds: 120n } });
    expect(renewed.lease?.fencingToken).toBe(1n);
    expect(renewed.lease?.expiresAt?.seconds).toBeGreaterThan(lease?.expiresAt?.seconds ?? 0n);
    const wrongToken = await failure(
      client.renewLease({ sessionId: "l1", holder: "A", fencingToken: 7n, ttl: minute }),
    );
    expect(wrongToken?.code).toBe(Code.FailedPrecondition);

    expect((await client.releaseLease({ sessionId: "l1", holder: "A", fencingToken: 1n })).released).toBe(true);
    expect((await client.releaseLease({ sessionId: "l1", holder: "A", fencingToken: 1n })).released).toBe(false);
    const lost = await failure(client.renewLease({ sessionId: "l1", holder: "A", fencingToken: 1n, ttl: minute }));
    expect(lost?.code).toBe(Code.FailedPrecondition);
    expect((await client.acquireLease({ sessionId: "l1", holder: "B", ttl: minute })).lease?.fencingToken).toBe(2n);
  });

  it("gives tokens that only grow, also to the same holder acquiring again", async () => {
    const tokens: bigint[] = [];
    for (const holder of ["A", "A", "B"]) {
      const { lease } = await client.acquireLease({ sessionId: "l2", holder, ttl: minute });
      tokens.push(lease?.fencingToken ?? 0n);
      await client.releaseLease({ sessionId: "l2", holder, fencingToken: lease?.fencingToken ?? 0n });
    }
    expect(tokens).toEqual([1n, 2n, 3n]);
  });

  it("lets exactly one of 8 concurrent holders win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => client.acquireLease({ sessionId: "l3", holder: `h${i}`, ttl: minute })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.FailedPrecondition);
    }
  });

  it("expires on the database clock: another holder acquires after the ttl", async () => {
    await client.acquireLease({ sessionId: "l4", holder: "A", ttl: { seconds: 0n, nanos: 200_000_000 } });
    expect((await failure(client.acquireLease({ sessionId: "l4", holder: "B", ttl: minute })))?.code).toBe(
      Code.FailedPrecondition,
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await client.acquireLease({ sessionId: "l4", holder: "B", ttl: minute })).lease).toMatchObject({
      holder: "B",
      fencingToken: 2n,
    });
  });

  it("refuses a fenced-off writer's Save, Append, Touch and Delete; the new owner's data is intact", async () => {
    const a = (await client.acquireLease({ sessionId: "f1", holder: "A", ttl: { nanos: 100_000_000 } })).lease;
    await client.save({ sessionId: "f1", data: { messages: [{ turn: "A1" }] }, fencingToken: a?.fencingToken });
    await new Promise((resolve) => setTimeout(resolve, 250));
    const b = (await client.acquireLease({ sessionId: "f1", holder: "B", ttl: minute })).lease;
    expect(b?.fencingToken).toBe(2n);
    await client.save({ sessionId: "f1", data: { messages: [{ turn: "B1" }] }, fencingToken: 2n });
    const owned = (await client.load({ sessionId: "f1" })).session;

    const stale = 1n;
    const refusals = [
      failure(client.save({ sessionId: "f1", data: { messages: [{ turn: "A2" }] }, fencingToken: stale })),
      failure(client.append({ sessionId: "f1", messages: [{ turn: "A2" }], fencingToken: stale })),
      failure(
        client.touch({ sessionId: "f1", expiry: { case: "expiresIn", value: { seconds: 5n } }, fencingToken: stale }),
      ),
      failure(client.delete({ sessionId: "f1", hard: true, fencingToken: stale })),
      failure(client.save({ sessionId: "f1", data: {}, fencingToken: stale, requestId: "fenced-key" })),
    ];
    for (const error of await Promise.all(refusals)) {
      expect(error?.code).toBe(Code.FailedPrecondition);
      expect(error?.rawMessage).toContain('held by "B"');
    }
    expect((await client.load({ sessionId: "f1" })).session).toEqual(owned);
    expect(owned?.data).toEqual({ messages: [{ turn: "B1" }] });

    // The owner's writes go through; so do writes without a token.
    expect((await client.append({ sessionId: "f1", messages: [{ turn: "B2" }], fencingToken: 2n })).version).toBe(
      (owned?.version ?? 0n) + 1n,
    );
    await client.save({ sessionId: "f1", data: { messages: [] } });
    // A token never issued is refused too.
    expect((await failure(client.save({ sessionId: "f1", data: {}, fencingToken: 9n })))?.code).toBe(
      Code.FailedPrecondition,
    );
    expect((await failure(client.save({ sessionId: "f1", data: {}, fencingToken: 0n })))?.code).toBe(
      Code.InvalidArgument,
    );
  });
});
