/**
 * `npm run bench:batch-shape` — what group commit's batches look like under load, for
 * docs/scale-out.md: the server (compiled, on PostgreSQL at DATABASE_URL) takes Saves and Loads of
 * distinct sessions from CONCURRENCY callers each way for SECONDS; its /metrics histogram says how
 * many Saves and Loads shared a statement, and a hash of the sessions each batch could have held
 * says how many shards such a batch would touch on a distributed PostgreSQL with session_id as the
 * distribution column (Citus hashes it into 32 shards by default).
 */
import { createHash } from "node:crypto";
import { createSessionClient } from "../packages/client/src/index.js";
import { spawnServer } from "./server.js";

const seconds = Number(process.env.SECONDS_TO_RUN ?? 8);
const concurrency = Number(process.env.CONCURRENCY ?? 32);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const server = await spawnServer([
  "--database-url",
  databaseUrl,
  "--table",
  "isotope_batch_shape",
  "--log-level",
  "warn",
]);
try {
  const client = createSessionClient({ baseUrl: server.url, timeoutMs: 10_000 });
  const data = { messages: [{ role: "user", content: "x".repeat(400) }] };
  const until = Date.now() + seconds * 1000;
  const callers = (what: "save" | "load") =>
    Array.from({ length: concurrency }, async (_, caller) => {
      let n = 0;
      while (Date.now() < until) {
        const sessionId = `c${caller}-${n++ % 50}`;
        if (what === "save") await client.save({ sessionId, data });
        else await client.load({ sessionId }).catch(() => undefined);
      }
    });
  await Promise.all([...callers("save"), ...callers("load")]);
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const histogram = (kind: string) => {
    const buckets = [
      ...text.matchAll(
        new RegExp(`isotope_group_commit_batch_size_bucket\\{le="([^"]+)",kind="${kind}"\\} (\\d+)`, "g"),
      ),
    ];
    const count = Number(
      /* count */ new RegExp(`isotope_group_commit_batch_size_count\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1],
    );
    const sum = Number(new RegExp(`isotope_group_commit_batch_size_sum\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1]);
    return { count, mean: sum / count, buckets: buckets.map(([, le, n]) => `≤${le}: ${n}`).join(", ") };
  };
  const shardsTouched = (batch: number, shards: number) => {
    // Sessions named as the callers name them, hashed as a distribution column would be.
    let total = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      const seen = new Set<number>();
      for (let i = 0; i < batch; i++) {
        const id = `c${(t * 7 + i * 13) % concurrency}-${(t + i) % 50}-${t}`;
        seen.add(createHash("md5").update(id).digest().readUInt32BE(0) % shards);
      }
      total += seen.size;
    }
    return total / trials;
  };
  console.log(
    `${concurrency} savers + ${concurrency} loaders, ${seconds} s, PostgreSQL ${databaseUrl.replace(/\/\/[^@]*@/, "//")}`,
  );
  for (const kind of ["save", "load"]) {
    const { count, mean, buckets } = histogram(kind);
    const rounded = Math.max(1, Math.round(mean));
    console.log(
      `${kind}: ${count} batches, mean ${mean.toFixed(2)} per statement (${buckets}); ` +
        `a batch of ${rounded} touches ${[4, 16, 32].map((s) => `${shardsTouched(rounded, s).toFixed(2)} of ${s}`).join(", ")} shards`,
    );
  }
} finally {
  await server.stop();
}
