/**
 * `npm run bench:million`: the product's server against a big table (fill it first with
 * `npm run bench:seed`), over gRPC. In this order, since Cleanup changes the table:
 * List of one user's sessions (filtered by metadata user_id) and by another metadata key, the last
 * page by keyset cursor (and by offset, for contrast), Statistics, RestoreStream of one user's
 * sessions and of every active one (server RSS sampled, progress counted), and last Cleanup of the
 * expired sessions while a Save load runs beside it (Save p99 before and during).
 *
 * Environment: DATABASE_URL, BENCH_TABLE (default bench_million), BENCH_SERVER_ARGS (extra server
 * flags), BENCH_STEPS (comma-separated subset of list,statistics,restore,cleanup; default all).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { SessionService } from "../gen/isotope/session/v1/session_pb.js";
import { percentile, rssBytes, spawnServer, timed } from "./server.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const table = process.env.BENCH_TABLE ?? "bench_million";
const serverArgs = (process.env.BENCH_SERVER_ARGS ?? "").split(" ").filter(Boolean);
const steps = new Set((process.env.BENCH_STEPS ?? "list,statistics,restore,cleanup").split(","));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

const report = (name: string, ms: number[], target = "") =>
  console.log(
    `${name.padEnd(44)} p50 ${percentile(ms, 50).toFixed(2).padStart(8)} ms  p99 ${percentile(ms, 99).toFixed(2).padStart(8)} ms  (${ms.length} calls)${target ? `  target ${target}` : ""}`,
  );

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const count = await admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`).catch(() => undefined);
  if (!count) throw new Error(`no table ${table}: run npm run bench:seed first`);
  console.log(`${table}: ${count.rows[0]?.n} sessions`);
  const server = await spawnServer([
    "--database-url",
    databaseUrl,
    "--table",
    table,
    "--log-level",
    "warn",
    ...serverArgs,
  ]);
  const pid = server.child.pid as number;
  const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  try {
    await client.list({ limit: 1 }); // warm up

    if (steps.has("list")) {
      report(
        "List, one user's page (user_id filter)",
        await timed(200, (i) => client.list({ limit: 50, metadataFilter: { user_id: `user-${(i * 37) % 10000}` } })),
        "p50 < 10 ms",
      );
      report(
        "List, by another key (tier gold, 14 %)",
        await timed(100, () => client.list({ limit: 50, metadataFilter: { tier: "gold" } })),
        "p50 < 10 ms",
      );
      let token = "";
      report(
        "List, channel api, paging on by token",
        await timed(100, async () => {
          const page = await client.list({ limit: 50, metadataFilter: { channel: "api" }, pageToken: token });
          token = page.nextPageToken;
        }),
      );

      // The last page: a cursor just before the oldest rows (what following next_page_token to the
      // end arrives at), and the same page by offset.
      const { rows } = await admin.query<{ micros: string; session_id: string; active: string }>(
        `SELECT (extract(epoch from last_updated) * 1000000)::int8::text AS micros, session_id,
         (SELECT count(*) FROM ${table} WHERE is_active AND (expires_at IS NULL OR expires_at > now()))::text AS active
       FROM ${table} WHERE is_active AND (expires_at IS NULL OR expires_at > now())
       ORDER BY last_updated, session_id OFFSET 30 LIMIT 1`,
      );
      const last = rows[0] as { micros: string; session_id: string; active: string };
      const cursor = Buffer.from(JSON.stringify([1, last.micros, last.session_id])).toString("base64url");
      report(
        "List, last page by keyset cursor",
        await timed(100, () => client.list({ limit: 50, pageToken: cursor })),
        "p50 < 10 ms",
      );
      report(
        "List, last page by offset (for contrast)",
        await timed(5, () => client.list({ limit: 50, offset: Number(last.active) - 30 })),
      );
    }
    if (steps.has("statistics")) report("Statistics", await timed(10, () => client.statistics({})), "< 500 ms");

    const restore = async (name: string, filter: JsonObject | undefined) => {
      let peak = rssBytes(pid);
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssBytes(pid));
      }, 100);
      const started = performance.now();
      let sessions = 0;
      let messages = 0;
      let estimate = 0n;
      for await (const message of client.restoreStream({ batchSize: 500, metadataFilter: filter })) {
        sessions += message.sessions.length;
        messages++;
        estimate = message.progress?.totalEstimate ?? estimate;
      }
      clearInterval(sampler);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `${name.padEnd(44)} ${sessions} sessions (estimate ${estimate}) in ${seconds.toFixed(1)} s, ${(sessions / seconds).toFixed(0)}/s, ${messages} progress messages, server RSS peak ${mb(peak)}  target RSS < 256 MB`,
      );
    };
    if (steps.has("restore")) {
      await restore("RestoreStream, one user's sessions", { user_id: "user-42" });
      await restore("RestoreStream, every active session", undefined);
    }
    if (!steps.has("cleanup")) return;

    // Cleanup beside a Save load: 8 writers, closed loop, on active sessions.
    const saves: number[] = [];
    let phase: "before" | "during" | "stop" = "before";
    const during: number[] = [];
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; phase !== "stop"; i++) {
        const started = performance.now();
        await client.save({
          sessionId: `session-${String(((w * 100_003 + i * 7919) % 1_000_000) | 1).padStart(8, "0")}`,
          data: { messages: [{ role: "user", content: `write ${i} by ${w} ${"x".repeat(800)}` }] },
        });
        (phase === "before" ? saves : during).push(performance.now() - started);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    phase = "during";
    const started = performance.now();
    const cleaned = await client.cleanup({ batchSize: 1000 });
    const cleanupSeconds = (performance.now() - started) / 1000;
    phase = "stop";
    await Promise.all(writers);
    console.log(
      `Cleanup: ${cleaned.expiredCount} expired sessions in ${cleanupSeconds.toFixed(1)} s beside 8 Save writers`,
    );
    report("  Save before Cleanup", saves);
    report("  Save during Cleanup", during, "p99 < 50 ms");
  } finally {
    await server.stop();
    await admin.end();
  }
}

await main();
