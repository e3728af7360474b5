// GET /metrics on a live server: a small load over gRPC, gRPC-Web, Connect and the HTTP API moves the RPC
// counters by exactly the calls made, each with its protocol, method, type and code; restores,
// manual cleanups, the cache, group commit and Watch streams are counted; the pool is shown; the scrape passes
// promtool; a token guards it when asked; a database outage shows as database down; and the example
// alert rules (docs/alerts.yml) are valid and fire when they should.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { type Cluster, startCluster } from "../support/cluster.js";
import { backends, embedded, postgresAt } from "../support/databases.js";
import { hasSample, promtool, sample, scrape } from "../support/metrics.js";
import { readmeSnippet } from "../support/readme.js";
import { type RunningServer, startServer, testLimits } from "../support/server.js";

const service = SessionService.typeName;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (call: Promise<unknown>) =>
  call.then(
    () => "ok",
    (error: { code?: Code }) => error.code,
  );

const protocols: Array<[string, (url: string) => Transport]> = [
  ["grpc", (baseUrl) => createGrpcTransport({ baseUrl })],
  ["grpc-web", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
  ["connect", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" })],
];

describe.each(backends())("GET /metrics on $name", (backend) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(backend);
  });
  afterAll(async () => server.stop());

  it("counts every call once, by protocol, method, type and code, and what restores and cleanups did", async () => {
    const before = (await scrape(server.url)).text;
    let restored = 0;
    for (const [protocol, transport] of protocols) {
      const client = createClient(SessionService, transport(server.url));
      await client.save({ sessionId: `${protocol}-a`, data: { n: 1 } });
      await client.save({ sessionId: `${protocol}-b`, data: { n: 2 } });
      await client.load({ sessionId: `${protocol}-a` });
      await client.load({ sessionId: `${protocol}-b` });
      expect(await codeOf(client.load({ sessionId: `${protocol}-missing` }))).toBe(Code.NotFound);
      restored += Number((await client.restore({})).restoredCount);
      for await (const message of client.restoreStream({})) restored += message.sessions.length;
      await client.cleanup({ dryRun: true });
    }
    // The seed's HTTP API: its calls are the same RPCs, labelled protocol="http".
    const api = `${server.url}/api/sessions/postgres/sessions`;
    const put = await fetch(`${api}/http-a`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_data: { n: 3 } }),
    });
    expect(put.status).toBe(201);
    expect((await fetch(`${api}/http-a`)).status).toBe(200);
    expect((await fetch(`${api}/http-missing`)).status).toBe(404);
    const after = (await scrape(server.url)).text;
    const moved = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);

    for (const [protocol] of protocols) {
      const call = (grpc_method: string, grpc_type = "unary") => ({
        grpc_service: service,
        grpc_method,
        grpc_type,
        protocol,
      });
      expect(moved("grpc_server_started_total", call("Save")), protocol).toBe(2);
      expect(moved("grpc_server_handled_total", { ...call("Save"), grpc_code: "OK" }), protocol).toBe(2);
      expect(moved("grpc_server_started_total", call("Load")), protocol).toBe(3);
      expect(moved("grpc_server_handled_total", { ...call("Load"), grpc_code: "OK" }), protocol).toBe(2);
      expect(moved("grpc_server_handled_total", { ...call("Load"), grpc_code: "NotFound" }), protocol).toBe(1);
      expect(moved("grpc_server_handling_seconds_count", call("Load")), protocol).toBe(3);
      expect(moved("grpc_server_handled_total", { ...call("Restore"), grpc_code: "OK" }), protocol).toBe(1);
      const stream = { ...call("RestoreStream", "server_stream"), grpc_code: "OK" };
      expect(moved("grpc_server_handled_total", stream), protocol).toBe(1);
      expect(moved("grpc_server_handled_total", { ...call("Cleanup"), grpc_code: "OK" }), protocol).toBe(1);
    }
    const http = (grpc_method: string, grpc_code: string) => ({ grpc_method, grpc_code, protocol: "http" });
    expect(moved("grpc_server_handled_total", http("Save", "OK"))).toBe(1);
    expect(moved("grpc_server_handled_total", http("Load", "OK"))).toBe(1);
    expect(moved("grpc_server_handled_total", http("Load", "NotFound"))).toBe(1);
    // Nothing else was called, on any protocol.
    expect(moved("grpc_server_started_total", {})).toBe(3 * 8 + 3);
    expect(moved("grpc_server_handling_seconds_bucket", { le: "+Inf" })).toBe(3 * 8 + 3);

    expect(restored).toBeGreaterThan(0);
    expect(moved("isotope_restore_sessions_total", { result: "restored" })).toBe(restored);
    expect(moved("isotope_restore_sessions_total", { result: "failed" })).toBe(0);
    // A dry run deletes nothing: it is no cleanup run.
    expect(moved("isotope_cleanup_runs_total", { trigger: "rpc" })).toBe(0);
    // Every Load of a saved session is answered from the cache; each missing one is a miss.
    expect(moved("isotope_cache_hits_total", {})).toBe(3 * 2 + 1);
    expect(moved("isotope_cache_misses_total", {})).toBe(3 + 1);
    // One Save at a time: each is its own batch of one.
    expect(moved("isotope_group_commit_batch_size_count", { kind: "save" })).toBe(3 * 2 + 1);
    expect(moved("isotope_group_commit_batch_size_sum", { kind: "save" })).toBe(3 * 2 + 1);
    expect(moved("isotope_group_commit_batch_size_count", { kind: "load" })).toBeGreaterThan(0);
  });

  it("counts a manual cleanup's run, the sessions it expired and when it last succeeded", async () => {
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
    for (const sessionId of ["old-1", "old-2"]) await client.save({ sessionId, data: {} });
    await server.db.query(
      `UPDATE ${server.table} SET expires_at = now() - interval '1 hour' WHERE session_id IN ('old-1', 'old-2')`,
    );
    const before = (await scrape(server.url)).text;
    const startedAt = Date.now() / 1000;
    const { expiredCount } = await client.cleanup({});
    const after = (await scrape(server.url)).text;

    expect(expiredCount).toBeGreaterThanOrEqual(2n);
    const moved = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved("isotope_cleanup_runs_total", { trigger: "rpc", result: "ok" })).toBe(1);
    expect(moved("isotope_cleanup_sessions_total", { trigger: "rpc", action: "expired" })).toBe(Number(expiredCount));
    expect(moved("isotope_cleanup_duration_seconds_count", { trigger: "rpc" })).toBe(1);
    expect(moved("isotope_cleanup_runs_total", { trigger: "scheduled" })).toBe(0);
    const lastSuccess = sample(after, "isotope_cleanup_last_success_timestamp_seconds", { trigger: "rpc" });
    expect(lastSuccess).toBeGreaterThanOrEqual(Math.floor(startedAt));
    expect(lastSuccess).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it("shows open Watch streams, the events they were sent, the log's sequence and streams ended early", async () => {
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
    const before = (await scrape(server.url)).text;
    const watching = new AbortController();
    const stream = client.watch({ sessionIds: ["watched-1", "watched-2"] }, { signal: watching.signal });
    let position = 0n;
    let received = 0;
    const reading = (async () => {
      for await (const response of stream) {
        received += response.events.length;
        position = response.sequence;
        if (received === 3) return;
      }
    })();
    await sleep(300); // the stream is open and has joined the shared reader
    const open = (await scrape(server.url)).text;
    expect(sample(open, "isotope_watch_streams", { state: "live" })).toBe(1);
    expect(sample(open, "isotope_watch_streams", { state: "catching_up" })).toBe(0);
    await client.save({ sessionId: "watched-1", data: {} });
    await client.save({ sessionId: "unwatched", data: {} });
    await client.save({ sessionId: "watched-2", data: {} });
    await client.touch({ sessionId: "watched-1", expiry: { case: "expiresIn", value: { seconds: 3600n } } });
    await reading;
    watching.abort();
    await sleep(100);
    const after = (await scrape(server.url)).text;
    expect(sample(after, "isotope_watch_events_sent_total") - sample(before, "isotope_watch_events_sent_total")).toBe(
      3,
    );
    expect(sample(after, "isotope_changes_last_sequence")).toBeGreaterThanOrEqual(Number(position));
    expect(sample(after, "isotope_watch_streams", { state: "live" })).toBe(0);
    // A position the log never reached ends the stream at once: counted as out_of_range.
    expect(
      await codeOf(
        client
          .watch({ sinceSequence: 1n << 60n })
          [Symbol.asyncIterator]()
          .next(),
      ),
    ).toBe(Code.OutOfRange);
    const ended = (await scrape(server.url)).text;
    const endedMoved = (reason: string) =>
      sample(ended, "isotope_watch_streams_ended_total", { reason }) -
      sample(after, "isotope_watch_streams_ended_total", { reason });
    expect([endedMoved("out_of_range"), endedMoved("behind"), endedMoved("stopped")]).toEqual([1, 0, 0]);
  });

  it("shows the pool and the database as up, beside the process and Node.js defaults", async () => {
    const { text } = await scrape(server.url);
    expect(sample(text, "pg_pool_max")).toBe(server.db.poolMax);
    expect(hasSample(text, "pg_pool_size")).toBe(true);
    expect(sample(text, "pg_pool_idle_connections")).toBeLessThanOrEqual(sample(text, "pg_pool_size"));
    expect(hasSample(text, "pg_pool_waiting_connections")).toBe(true);
    expect(sample(text, "pg_pool_errors_total")).toBe(0);
    expect(sample(text, "isotope_database_connection_failures_total")).toBe(0);
    expect(sample(text, "isotope_database_up")).toBe(1);
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ])
      expect(hasSample(text, name), name).toBe(true);
  });

  it("is Prometheus' text format, as promtool checks it", async () => {
    const { status, type, text } = await scrape(server.url);
    expect(status).toBe(200);
    expect(type).toBe("text/plain; version=0.0.4; charset=utf-8");
    const check = promtool(["check", "metrics"], text);
    expect(check.output).toBe("");
    expect(check.status).toBe(0);
  });

  it("serves /metrics alone: a path under it is not found, a POST not allowed", async () => {
    expect((await fetch(`${server.url}/metrics/x`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
    const head = await fetch(`${server.url}/metrics?x=1`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});

describe("GET /metrics with auth.protect_metrics", () => {
  const token = "metrics-test-token";
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(embedded, testLimits, 0, [], undefined, {
      auth: {
        tokens: [{ name: "scraper", role: "read", sha256: createHash("sha256").update(token).digest("hex") }],
        protectHealth: false,
        protectReflection: false,
        protectMetrics: true,
      },
    });
  });
  afterAll(async () => server?.stop());

  it("answers 401 without a valid token, and the metrics with any configured one", async () => {
    expect((await scrape(server.url)).status).toBe(401);
    expect((await scrape(server.url, "not-the-token")).status).toBe(401);
    const scraped = await scrape(server.url, token);
    expect(scraped.status).toBe(200);
    expect(hasSample(scraped.text, "process_cpu_user_seconds_total")).toBe(true);
  });

  it("counts the calls access control refuses, with their code", async () => {
    const before = (await scrape(server.url, token)).text;
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
    expect(await codeOf(client.load({ sessionId: "x" }))).toBe(Code.Unauthenticated);
    const after = (await scrape(server.url, token)).text;
    const refused = { grpc_method: "Load", protocol: "grpc", grpc_code: "Unauthenticated" };
    expect(
      sample(after, "grpc_server_handled_total", refused) - sample(before, "grpc_server_handled_total", refused),
    ).toBe(1);
  });
});

describe("GET /metrics while the database is down", () => {
  let cluster: Cluster;
  let server: RunningServer | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
    server = await startServer(postgresAt(cluster.url, { connectTimeoutMs: 1000 }));
  }, 120_000);
  afterAll(async () => {
    await server?.stop().catch(() => {});
    cluster?.destroy();
  });

  it("shows it down and counts the failed connections, then up again", { timeout: 60_000 }, async () => {
    const url = (server as RunningServer).url;
    expect(sample((await scrape(url)).text, "isotope_database_up")).toBe(1);
    cluster.stop();
    let text = "";
    for (let tries = 0; tries < 50; tries++) {
      text = (await scrape(url)).text;
      if (sample(text, "isotope_database_up") === 0) break;
      await sleep(100);
    }
    expect(sample(text, "isotope_database_up")).toBe(0);
    expect(sample(text, "isotope_database_connection_failures_total")).toBeGreaterThan(0);
    const client: Client<typeof SessionService> = createClient(SessionService, createGrpcTransport({ baseUrl: url }));
    expect(await codeOf(client.load({ sessionId: "x" }))).toBe(Code.Unavailable);

    cluster.start();
    for (let tries = 0; tries < 100; tries++) {
      text = (await scrape(url)).text;
      if (sample(text, "isotope_database_up") === 1) break;
      await sleep(100);
    }
    expect(sample(text, "isotope_database_up")).toBe(1);
  });
});

describe("the example alert rules (docs/alerts.yml)", () => {
  const docs = fileURLToPath(new URL("../../docs/", import.meta.url));

  it("are valid rules, as promtool checks them", () => {
    const check = promtool(["check", "rules", `${docs}alerts.yml`]);
    expect(check.output).toContain("SUCCESS: 4 rules found");
    expect(check.status, check.output).toBe(0);
  });

  it("are what README's Metrics section shows", () => {
    type Rule = { alert: string; expr: string; for?: string };
    const shown = parse(readmeSnippet("alerts", "yaml")) as Rule[];
    const file = parse(readFileSync(`${docs}alerts.yml`, "utf8")) as { groups: Array<{ rules: Rule[] }> };
    const rules = file.groups.flatMap((group) => group.rules);
    expect(shown.map((rule) => rule.alert)).toEqual(rules.map((rule) => rule.alert));
    for (const rule of shown) expect(rules.find((r) => r.alert === rule.alert)).toMatchObject(rule);
  });

  it("fire on the series that should fire them, and not before (docs/alerts.test.yml)", () => {
    const run = promtool(["test", "rules", `${docs}alerts.test.yml`]);
    expect(run.status, run.output).toBe(0);
  });
});
