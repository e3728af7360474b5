/**
 * `npm run bench:append`: the cost of one conversational turn as the history grows. For sessions
 * of 10, 1,000 and 10,000 messages (~200 bytes each) it measures, through the product's server
 * over gRPC, Append of one message and a full Save of the whole document with that message added,
 * and prints p50 / p99 and the ratios the issue asks for: Append at 10,000 vs Append at 10, and
 * full Save at 10,000 vs Append at 10,000.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_TURNS (measured turns per size, default 200; full Saves at 10,000 are capped at 40).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { SessionService } from "../gen/isotope/session/v1/session_pb.js";
import { percentile, spawnServer, timed } from "./server.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const turns = Number(process.env.BENCH_TURNS ?? 200);
const table = "bench_append";
const sizes = [10, 1000, 10_000];

const message = (i: number): JsonObject => ({
  role: i % 2 ? "assistant" : "user",
  content: `turn ${i}: ${"lorem ipsum dolor sit amet ".repeat(6)}`,
  at: 1_700_000_000 + i,
});

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP TABLE IF EXISTS ${table}_msg, ${table}`);
  await admin.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]).catch(() => {});
  const server = await spawnServer(["--database-url", databaseUrl, "--table", table, "--log-level", "warn"]);
  const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  const rows: Array<{ size: number; append: number[]; save: number[] }> = [];
  try {
    // Warm the server, its pool and the JIT before the first measured size.
    await client.save({ sessionId: "warm-up", data: { messages: [] } });
    await timed(50, (i) => client.append({ sessionId: "warm-up", messages: [message(i)] }));
    for (const size of sizes) {
      const history = Array.from({ length: size }, (_, i) => message(i));
      // Append: the session starts as a Save (as an engine's first turns would), then grows.
      await client.save({ sessionId: `append-${size}`, data: { messages: history, title: "bench" } });
      await client.append({ sessionId: `append-${size}`, messages: [message(size)] });
      const append = await timed(turns, (i) =>
        client.append({
          sessionId: `append-${size}`,
          messages: [message(size + 1 + i)],
        }),
      );
      // Full Save: the whole document, one message longer each turn.
      const saveTurns = size >= 10_000 ? Math.min(turns, 40) : turns;
      const save = await timed(saveTurns, (i) => {
        history.push(message(size + i));
        return client.save({ sessionId: `save-${size}`, data: { messages: history, title: "bench" } });
      });
      rows.push({ size, append, save });
      console.log(
        `${String(size).padStart(6)} messages  append p50 ${percentile(append, 50).toFixed(2)} ms p99 ${percentile(append, 99).toFixed(2)} ms   full save p50 ${percentile(save, 50).toFixed(2)} ms p99 ${percentile(save, 99).toFixed(2)} ms`,
      );
    }
  } finally {
    await server.stop();
    await admin.query(`DROP TABLE IF EXISTS ${table}_msg, ${table}`);
    await admin.query("DELETE FROM isotope_schema_migrations WHERE table_name = $1", [table]);
    await admin.end();
  }
  const at = (size: number) => rows.find((row) => row.size === size) as (typeof rows)[number];
  const small = percentile(at(10).append, 50);
  const large = percentile(at(10_000).append, 50);
  const fullSave = percentile(at(10_000).save, 50);
  console.log(`\nappend p50 at 10,000 / at 10: ${(large / small).toFixed(2)}× (target ≤ 2×)`);
  console.log(`full save p50 / append p50 at 10,000: ${(fullSave / large).toFixed(1)}× (target ≥ 20×)`);
}

await main();
