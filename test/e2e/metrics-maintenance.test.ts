// NEEDS THE MAINTENANCE BRANCH (issue 14 part 2): `app.maintenance`, `AppConfig.cleanup` and
// `testCleanup` come from it, and app.ts must hand metrics the observer and the source —
// `createMaintenance({ …, observer: metrics.maintenanceObserver })` and
// `metrics.readFrom({ …, maintenance: { source: maintenance, cleanupIntervalMs: config.cleanup.intervalMs } })`.
//
// GET /metrics under scheduled maintenance: the replica's scheduled cleanups are counted with what
// they expired and how long they took; the last success, the sessions by state and the sample's
// time are what the database says (the newest run and sample by any replica).
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { App } from "../../src/app.js";
import { backends } from "../support/databases.js";
import { promtool, sample, scrape } from "../support/metrics.js";
import { startApp, testCleanup } from "../support/server.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const intervalMs = 500;

describe.each(backends())("GET /metrics under scheduled maintenance on $name", (backend) => {
  let app: App;
  let url: string;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ app, stop } = await startApp(backend, { cleanup: { ...testCleanup, intervalMs } }));
    url = `http://127.0.0.1:${await app.listen(0, "127.0.0.1")}`;
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: url }));
    for (const sessionId of ["kept-1", "kept-2", "gone", "old"]) await client.save({ sessionId, data: {} });
    await client.delete({ sessionId: "gone" });
    await app.db.query(`UPDATE isotope_sessions SET expires_at = now() - interval '1 hour' WHERE session_id = 'old'`);
  });
  afterAll(async () => stop());

  /** Scrapes until a scheduled cleanup that expired something has been counted. */
  const afterScheduledCleanup = async (): Promise<string> => {
    for (let tries = 0; tries < 100; tries++) {
      const { text } = await scrape(url);
      if (sample(text, "isotope_cleanup_sessions_total", { trigger: "scheduled", action: "expired" }) >= 1) return text;
      await sleep(100);
    }
    throw new Error("no scheduled cleanup expired the expired session within 10 s");
  };

  it("counts this replica's scheduled cleanups: runs, sessions expired, durations, last success", async () => {
    const text = await afterScheduledCleanup();
    const runs = sample(text, "isotope_cleanup_runs_total", { trigger: "scheduled", result: "ok" });
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(sample(text, "isotope_cleanup_runs_total", { trigger: "scheduled", result: "failed" })).toBe(0);
    expect(sample(text, "isotope_cleanup_duration_seconds_count", { trigger: "scheduled" })).toBe(runs);
    expect(sample(text, "isotope_cleanup_interval_seconds")).toBe(intervalMs / 1000);
    expect(promtool(["check", "metrics"], text).output).toBe("");

    const last = await app.maintenance.lastCleanup();
    expect(last?.error).toBeUndefined();
    const lastSuccess = sample(text, "isotope_cleanup_last_success_timestamp_seconds", { trigger: "scheduled" });
    expect(lastSuccess).toBeGreaterThanOrEqual(((last?.startedAt.getTime() ?? 0) + (last?.durationMs ?? 0)) / 1000);
    expect(lastSuccess).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it("shows the sessions by state of the newest sample in the database, and when it was taken", async () => {
    await afterScheduledCleanup();
    // A run between reading the sample and scraping would show a newer one: read until they agree.
    for (let tries = 0; tries < 20; tries++) {
      const newest = await app.maintenance.latestSample();
      const { text } = await scrape(url);
      if (newest === undefined) throw new Error("a cleanup ran, but no sample is recorded");
      if (sample(text, "isotope_sessions_sample_timestamp_seconds") !== newest.takenAt.getTime() / 1000) continue;
      expect(sample(text, "isotope_sessions", { state: "active" })).toBe(newest.active);
      expect(sample(text, "isotope_sessions", { state: "inactive" })).toBe(newest.inactive);
      expect(sample(text, "isotope_sessions", { state: "expired" })).toBe(newest.expired);
      // Four sessions were saved: two kept, one deleted, one expired (then cleaned up).
      expect(newest.active + newest.inactive + newest.expired).toBe(4);
      expect(newest.active).toBeGreaterThanOrEqual(2);
      return;
    }
    throw new Error("the scrape never showed the newest sample");
  });
});
