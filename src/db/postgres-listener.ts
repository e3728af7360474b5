/**
 * A change feed on PostgreSQL: LISTEN on a connection of its own, outside the pool (a listening
 * connection cannot be shared, nor pass a transaction pooler).
 */
import pg from "pg";
import type { Logger } from "pino";
import type { ChangeFeed } from "./database.js";

/**
 * LISTEN on a dedicated client. On loss it reports a reset and reconnects with backoff (100 ms
 * doubling to 5 s); on reconnect it reports a reset again, since notifications sent meanwhile are
 * gone. `sync` coalesces: callers arriving while a round trip is in flight share the next one.
 */
export function listen(
  connection: pg.ClientConfig,
  channel: string,
  handlers: { notification(payload: string): void; reset(): void },
  log: Logger,
): ChangeFeed {
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = 100;
  let retry: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;

  const lost = (lostClient: pg.Client, error?: Error) => {
    if (client !== lostClient) return;
    client = undefined;
    lostClient.end().catch(() => {});
    if (closed) return;
    log.warn(
      { channel, err: error && { message: error.message } },
      "change feed lost: cache bypassed until it is back",
    );
    handlers.reset();
    schedule();
  };
  const schedule = () => {
    retry = setTimeout(open, retryMs);
    retry.unref();
    retryMs = Math.min(retryMs * 2, 5000);
  };
  const open = async () => {
    // Named after its channel, so an operator (or a test) can tell the feeds apart.
    const candidate = new pg.Client({
      ...connection,
      statement_timeout: 5000,
      application_name: `isotope-sessions ${channel}`,
    });
    candidate.on("error", (error) => lost(candidate, error));
    candidate.on("end", () => lost(candidate));
    candidate.on("notification", (message) => {
      if (message.channel === channel && message.payload !== undefined) handlers.notification(message.payload);
    });
    try {
      await candidate.connect();
      await candidate.query(`LISTEN "${channel}"`);
    } catch {
      candidate.end().catch(() => {});
      if (!closed) schedule();
      return;
    }
    if (closed) {
      await candidate.end().catch(() => {});
      return;
    }
    client = candidate;
    retryMs = 100;
    handlers.reset();
    log.info({ channel }, "change feed listening");
  };
  void open();

  const roundTrip = async () => {
    if (!client) throw new Error("change feed disconnected");
    await client.query("SELECT 1");
  };
  const start = () => {
    const trip: Promise<void> = roundTrip().finally(() => {
      if (running === trip) running = undefined;
    });
    running = trip;
    return trip;
  };
  return {
    get connected() {
      return client !== undefined;
    },
    sync() {
      if (!running) return start();
      // The round trip in flight was sent before this caller arrived: it proves nothing for it.
      next ??= running
        .catch(() => {})
        .then(() => {
          next = undefined;
          return start();
        });
      return next;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
