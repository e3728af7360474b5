// Concurrent writers through the service (in memory), on every backend: compare-and-set loses no update,
// blind writes are last-writer-wins with one version per write, and a create race has one winner.
import type { JsonValue } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory } from "../support/server.js";

const writers = 32;
// 32 × 50 (the figure) takes minutes on a 2-core machine: each retry resends a growing document.
// 32 × 10 keeps all 32 writers contending on every version and the count exact.
const messagesPerWriter = 10;

describe.each(backends())("concurrent writers on $name", (backend) => {
  let server: InMemoryServer;
  // One transport (one HTTP/2 connection) per writer, as 32 engines would have.
  let clients: Array<Client<typeof SessionService>>;
  let reader: Client<typeof SessionService>;

  beforeAll(async () => {
    server = await startInMemory(backend);
    const connect = () => createClient(SessionService, server.transport);
    clients = Array.from({ length: writers }, connect);
    reader = connect();
  });
  afterAll(async () => server.stop());

  it(`${writers} writers × ${messagesPerWriter} messages through Load → Save(expected_version) lose nothing`, {
    timeout: 240_000,
  }, async () => {
    await reader.save({ sessionId: "cas", data: { messages: [] }, expectedVersion: 0n });
    let conflicts = 0;
    const append = async (client: Client<typeof SessionService>, writer: number, n: number) => {
      for (let attempt = 0; ; attempt++) {
        const { session } = await client.load({ sessionId: "cas" });
        const messages = (session?.data?.messages ?? []) as JsonValue[];
        try {
          await client.save({
            sessionId: "cas",
            data: { messages: [...messages, { writer, n }] },
            expectedVersion: session?.version,
          });
          return;
        } catch (error) {
          if (ConnectError.from(error).code !== Code.Aborted) throw error;
          conflicts++;
          // Jittered backoff, as a real engine retries, so the 32 do not move in lockstep.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20, 2 + attempt * 2)));
        }
      }
    };
    await Promise.all(
      clients.map(async (client, writer) => {
        for (let n = 0; n < messagesPerWriter; n++) await append(client, writer, n);
      }),
    );

    const { session } = await reader.load({ sessionId: "cas" });
    const messages = session?.data?.messages as Array<{ writer: number; n: number }>;
    expect(messages).toHaveLength(writers * messagesPerWriter);
    expect(session?.version).toBe(BigInt(writers * messagesPerWriter + 1));
    expect(session?.messageCount).toBe(BigInt(writers * messagesPerWriter));
    // Each writer's messages are all there, in the order it wrote them.
    for (let writer = 0; writer < writers; writer++) {
      expect(messages.filter((m) => m.writer === writer).map((m) => m.n)).toEqual(
        Array.from({ length: messagesPerWriter }, (_, n) => n),
      );
    }
    expect(conflicts).toBeGreaterThan(0);
  });

  it("blind Saves are last-writer-wins and every write bumps the version by exactly one", {
    timeout: 60_000,
  }, async () => {
    const perWriter = 10;
    const acknowledged: bigint[] = [];
    await Promise.all(
      clients.map(async (client, writer) => {
        for (let n = 0; n < perWriter; n++) {
          const { session } = await client.save({ sessionId: "blind", data: { writer, n } });
          acknowledged.push(session?.version ?? -1n);
        }
      }),
    );
    // Every acknowledged write got its own version: 1 … writers × perWriter, none shared, none skipped.
    expect(acknowledged.sort((a, b) => (a < b ? -1 : 1))).toEqual(
      Array.from({ length: writers * perWriter }, (_, i) => BigInt(i + 1)),
    );
    const { session } = await reader.load({ sessionId: "blind" });
    expect(session?.version).toBe(BigInt(writers * perWriter));
    // The stored data is one writer's last write, whole.
    const { writer, n } = (session?.data ?? {}) as { writer: number; n: number };
    expect(n).toBe(perWriter - 1);
    expect(writer).toBeGreaterThanOrEqual(0);
    expect(writer).toBeLessThan(writers);
  });

  it("two clients creating the same session with expected_version 0: exactly one wins", async () => {
    for (let round = 0; round < 20; round++) {
      const sessionId = `race-${round}`;
      const results = await Promise.allSettled(
        clients.slice(0, 2).map((client, i) => client.save({ sessionId, data: { winner: i }, expectedVersion: 0n })),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost.map((r) => ConnectError.from(r.reason).code)).toEqual([Code.Aborted]);
      const stored = await reader.load({ sessionId });
      const winner = results.findIndex((r) => r.status === "fulfilled");
      expect(stored.session?.data).toEqual({ winner });
      expect(stored.session?.version).toBe(1n);
    }
  });
});
