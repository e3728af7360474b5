// A RestoreStream its client abandons, over a real HTTP/2 connection on every backend: the server's
// handler ends as cancelled instead of staying suspended on a write nobody reads (a transport
// matter — flow control and stream resets — so it is proven on a socket, not in memory).
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { failureOf, saveThrough } from "../support/calls.js";
import { backends } from "../support/databases.js";
import { type RunningServer, startServer } from "../support/server.js";

describe.each(backends())("a cancelled RestoreStream on $name", (backend) => {
  let server: RunningServer;
  let client: Client<typeof SessionService>;

  beforeAll(async () => {
    server = await startServer(backend);
    client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  });
  afterAll(async () => server.stop());

  const save = saveThrough(() => client);
  const codeOf = failureOf;

  it("stops a RestoreStream when the client cancels it", async () => {
    // 30 × 8 KB is more than HTTP/2's 64 KB window: the handler is blocked writing when the client goes.
    const pad = "x".repeat(8000);
    for (let i = 0; i < 30; i++) await save(`cancel-${i}`, { i, pad }, { metadata: { tenant: "cancel" } });
    const linesBefore = server.logs.length; // earlier tests' RestoreStreams are logged too
    const abort = new AbortController();
    let received = 0;
    const error = await codeOf(
      (async () => {
        for await (const message of client.restoreStream(
          { metadataFilter: { tenant: "cancel" }, batchSize: 1 },
          { signal: abort.signal },
        )) {
          received += message.sessions.length;
          if (received === 3) abort.abort();
        }
      })(),
    );
    expect(error.code).toBe(Code.Canceled);
    // At least the three it read; fewer than all 30: the client stopped the stream early.
    expect(received).toBeGreaterThanOrEqual(3);
    expect(received).toBeLessThan(30);
    // The server's handler ends too (it must not stay suspended on a write nobody reads).
    const ended = async () => {
      for (let i = 0; i < 50; i++) {
        const line = server.logs
          .slice(linesBefore)
          .find((l) => l.msg === "rpc" && l.procedure === "isotope.session.v1.SessionService/RestoreStream");
        if (line) return line;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return undefined;
    };
    expect(await ended()).toMatchObject({ code: "canceled" });
    // The server is still healthy after the abandoned stream.
    expect((await client.checkConnection({})).ok).toBe(true);
  });
});
