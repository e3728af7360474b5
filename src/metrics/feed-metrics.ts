/**
 * The change feed behind Watch, read at scrape from the figures the replica's feed keeps
 * (`feed.status()`): its open streams, how far through the log it has seen, the events it sent
 * and the streams it ended early. Absent while the feed is off or the database is not open yet.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ChangeFeed, FeedFailure } from "../feed/contract.js";
import { scraped } from "./scraped.js";

export interface FeedMetrics {
  /** From now on scrapes read `feed` (when it is on). */
  readFrom(feed: ChangeFeed): void;
}

/** The `reason` label of each way a stream ends early. */
const reasons: Record<FeedFailure, string> = { behind: "behind", "out-of-range": "out_of_range", stopped: "stopped" };

export function feedMetrics(registry: Registry): FeedMetrics {
  const registers = [registry];
  let feed: ChangeFeed | undefined;
  const status = () => (feed?.enabled ? feed.status() : undefined);

  new Gauge({
    name: "isotope_watch_streams",
    help: "Open Watch streams on this replica, by state: catching_up (reading their way to the log's head), live.",
    labelNames: ["state"] as const,
    registers,
    collect() {
      this.reset();
      const now = status();
      if (now === undefined) return;
      this.labels("catching_up").set(now.streams.catchingUp);
      this.labels("live").set(now.streams.live);
    },
  });
  const read = scraped(registers);
  read.gauge(
    "isotope_changes_last_sequence",
    "The newest change-log sequence this replica has seen numbered (0 before any): compare replicas, or rate() it.",
    () => {
      const now = status();
      return now === undefined ? undefined : Number(now.lastSequence);
    },
  );
  read.total(
    "isotope_watch_events_sent_total",
    "Change events this replica sent on Watch streams.",
    () => status()?.eventsSent,
  );
  new Counter({
    name: "isotope_watch_streams_ended_total",
    help: "Watch streams this replica ended early, by reason: behind (the client read too slowly), out_of_range, stopped (shutdown).",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      this.reset();
      const now = status();
      if (now === undefined) return;
      for (const [failure, reason] of Object.entries(reasons))
        this.labels(reason).inc(now.ended[failure as FeedFailure]);
    },
  });

  return {
    readFrom(from) {
      feed = from;
    },
  };
}
