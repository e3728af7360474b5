/**
 * Hints on PostgreSQL (Db.hints): LISTEN on a connection of its own, outside the pool — a
 * listening connection cannot be shared, nor pass a transaction pooler — and NOTIFY sent on that
 * same connection, so sending one never takes a pooled connection from the calls. On loss it
 * reconnects with back-off (100 ms doubling to 5 s) and, once back, calls `onHint`: hints sent
 * meanwhile are gone.
 */
import pg from "pg";
import type { Logger } from "pino";
import type { Hints } from "./database.js";

export function listen(connection: pg.ClientConfig, channel: string, onHint: () => void, log: Logger): Hints {
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = 100;
  let retry: NodeJS.Timeout | undefined;
  // The channel is an identifier derived from the validated table name.
  const quoted = `"${channel}"`;

  const lost = (lostClient: pg.Client, error?: Error) => {
    if (client !== lostClient) return;
    client = undefined;
    lostClient.end().catch(() => {});
    if (closed) return;
    log.warn({ channel, err: error && { message: error.message } }, "hint connection lost: reconnecting");
    schedule();
  };
  const schedule = () => {
    retry = setTimeout(open, retryMs);
    retry.unref();
    retryMs = Math.min(retryMs * 2, 5000);
  };
  const open = async () => {
    // Named after its channel, so an operator (or a test) can tell it from the pool's connections.
    const candidate = new pg.Client({
      ...connection,
      statement_timeout: 5000,
      application_name: `isotope-sessions ${channel}`,
    });
    candidate.on("error", (error) => lost(candidate, error));
    candidate.on("end", () => lost(candidate));
    // Its own NOTIFYs come back to it too: the sender has already woken its own listener.
    candidate.on("notification", (message) => {
      const own = message.processId === (candidate as unknown as { processID: number }).processID;
      if (message.channel === channel && !own) onHint();
    });
    try {
      await candidate.connect();
      await candidate.query(`LISTEN ${quoted}`);
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
    log.info({ channel }, "listening for hints");
    onHint();
  };
  void open();

  // One NOTIFY on the wire at a time; hints asked for meanwhile go as one after it.
  let sending = false;
  let again = false;
  const send = () => {
    if (client === undefined) return;
    sending = true;
    again = false;
    client
      .query(`NOTIFY ${quoted}`)
      .catch(() => {})
      .finally(() => {
        sending = false;
        if (again) send();
      });
  };

  return {
    notify() {
      if (sending) again = true;
      else send();
      onHint();
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
