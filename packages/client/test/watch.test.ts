// watchChanges as an engine uses it: the change feed as an async iterator that resumes by itself
// when the connection breaks — here a proxy between client and server cuts every connection in the
// middle of a run of writes — delivering every change exactly once, in order.
import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { type RunningServer, startServer } from "../../../test/support/server.js";
import { type ChangeEvent, ChangeEvent_Kind, createSessionClient, watchChanges } from "../src/index.js";

/** A TCP proxy to `port` whose connections the test can cut. */
async function cuttableProxy(port: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(port, "127.0.0.1");
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut,
    /** Stops listening and cuts what is still connected (a kept-alive HTTP/2 connection would hold it open). */
    close() {
      const closed = new Promise((resolve) => server.close(resolve));
      cut();
      return closed;
    },
  };
}

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(embedded);
});
afterAll(async () => server.stop());

describe("watchChanges", () => {
  it("resumes after its connection is cut, with every change once and in order", async () => {
    const proxy = await cuttableProxy(server.port);
    const writer = createSessionClient({ baseUrl: server.url });
    const watcher = createSessionClient({ baseUrl: proxy.url });
    const controller = new AbortController();
    let started: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      started = resolve;
    });
    const events: ChangeEvent[] = [];
    const total = 60;
    const watching = (async () => {
      for await (const event of watchChanges(watcher, { signal: controller.signal, onPosition: () => started() })) {
        events.push(event);
        if (events.length === total) return;
      }
    })();
    await ready;
    for (let n = 0; n < total; n++) {
      await writer.save({ sessionId: `w-${n % 7}`, data: { n } });
      if (n % 15 === 7) proxy.cut(); // mid-run, several times
    }
    await watching;
    controller.abort();
    await proxy.close();

    const sequences = events.map((event) => event.sequence);
    expect(new Set(sequences).size).toBe(total);
    expect(sequences).toEqual([...sequences].sort((a, b) => Number(a - b)));
    expect(events.every((event) => event.kind === ChangeEvent_Kind.SAVED)).toBe(true);
    // Each session's versions arrive one by one, in order.
    for (let s = 0; s < 7; s++) {
      const versions = events.filter((event) => event.sessionId === `w-${s}`).map((event) => Number(event.version));
      expect(versions).toEqual(versions.map((_, i) => i + 1));
    }
  }, 60_000);

  it("ends with OUT_OF_RANGE when its position is not in the log, and on the caller's abort", async () => {
    const client = createSessionClient({ baseUrl: server.url });
    const beyond = watchChanges(client, { since: 1_000_000_000n });
    await expect(beyond.next()).rejects.toMatchObject({ code: Code.OutOfRange });

    const controller = new AbortController();
    const stopped = watchChanges(client, { signal: controller.signal });
    const next = stopped.next();
    setTimeout(() => controller.abort(), 200);
    const error = await next.then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(error?.code).toBe(Code.Canceled);
  });
});
