// Watch across replicas: two server processes on one PostgreSQL, 10,000 writes from sixteen
// writers spread over both, a Watch on each replica read in this process, and a Watch client that
// is a process of its own (test/support/watch-to-file.ts: one line per change in a file, resuming
// after the file's last whole line), killed with SIGKILL at random points and restarted on the
// other replica, over and over while the writes go on. Every one of them ends with every change
// exactly once, in the log's order (the `{table}_changes` rows read straight from PostgreSQL), and
// each session's changes in version order. Then a server shutting down ends its streams with
// UNAVAILABLE and the resume point, and the other replica carries on.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { build } from "esbuild";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChangeEvent_Kind as Kind } from "../../gen/isotope/session/v1/session_pb.js";
import { createSessionClient } from "../../packages/client/src/index.js";
import { postgresUrl } from "../support/databases.js";
import { skipEachWithoutPostgres } from "../support/postgres-only.js";
import { type Replicas, startReplicas } from "../support/replicas.js";
import { clientFor, type Service, stop } from "../support/service.js";
import { watching } from "../support/watch.js";

const writes = 10_000;
const writers = 16;
const sessions = 100;

/** Watch processes still running (killed after the suite, should a test fail with one alive). */
const watchers = new Set<ChildProcess>();

/**
 * test/support/watch-to-file.ts bundled into one script in `dir`, as a consumer ships the client:
 * it starts in a fraction of the CPU tsx takes to compile it again at every restart.
 */
async function bundleWatcher(dir: string): Promise<string> {
  const outfile = join(dir, "watch-to-file.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("../support/watch-to-file.ts", import.meta.url))],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  return outfile;
}

/** Starts the Watch process (`script`) on `service`; `resumed` is where it resumed, once its stream is open. */
function startWatcher(script: string, service: Service, file: string, start: bigint) {
  const child = spawn(process.execPath, [script, `http://127.0.0.1:${service.port}`, file, `${start}`]);
  watchers.add(child);
  let output = "";
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => watchers.delete(child));
  const resumed = new Promise<bigint>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      const said = /watching after (\d+)/.exec(String(chunk));
      if (said) resolve(BigInt(said[1] as string));
    });
    void exited.then(() => reject(new Error(`the Watch process ended before its stream opened:\n${output}`)));
  });
  return { child, resumed, exited };
}

/** The sequence of the file's last whole line, if it has one. */
function lastLine(file: string): bigint | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  const last = text.slice(0, text.lastIndexOf("\n")).split("\n").at(-1);
  return last ? BigInt(last.split(" ")[0] as string) : undefined;
}

describe("Watch on two server processes, one PostgreSQL", () => {
  skipEachWithoutPostgres("PGlite is one process");
  let replicas: Replicas;
  let a: Service;
  let b: Service;
  let table: string;
  let admin: pg.Client;
  let dir: string;
  let watcherScript: string;

  beforeAll(async () => {
    if (!postgresUrl) return;
    dir = mkdtempSync(join(tmpdir(), "isotope-watch-"));
    watcherScript = await bundleWatcher(dir);
    replicas = await startReplicas(postgresUrl, "direct", ["a", "b"], ["--changes-poll-ms", "300"]);
    [a, b] = [replicas.named("a"), replicas.named("b")];
    ({ table, admin } = replicas);
  }, 90_000);
  afterAll(async () => {
    if (!postgresUrl) return;
    for (const child of watchers) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await replicas?.stop();
  });

  const logSince = async (after: bigint) =>
    (
      await admin.query<{ at: string; session_id: string; kind: string; version: string }>(
        `SELECT seq::text AS at, session_id, kind, version::text FROM ${table}_changes WHERE seq > $1 ORDER BY seq`,
        [after.toString()],
      )
    ).rows.map((row) => `${row.at} ${row.session_id} ${row.kind} ${row.version}`);
  /** The last sequence given, once every change committed so far has one. */
  const sequenced = async () => {
    await vi.waitFor(
      async () => {
        const { rows } = await admin.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${table}_changes WHERE seq IS NULL`,
        );
        expect(rows[0]?.n).toBe("0");
      },
      { timeout: 10_000, interval: 100 },
    );
    const { rows } = await admin.query<{ last: string }>(`SELECT last_seq::text AS last FROM ${table}_feed`);
    return BigInt(rows[0]?.last as string);
  };
  const brief = (events: { sequence: bigint; sessionId: string; kind: Kind; version: bigint }[]) =>
    events.map((e) => `${e.sequence} ${e.sessionId} ${Kind[e.kind].toLowerCase()} ${e.version}`);

  it("a Watch process killed and restarted at random points through 10,000 writes ends with every change exactly once", {
    timeout: 240_000,
  }, async () => {
    // The writers use the published client (its lean transport: a fraction of connect-node's CPU per
    // call, which this test makes 10,000 of), with no request ids or retries: each write is sent once.
    const clients = [a, b].map((service) =>
      createSessionClient({ baseUrl: `http://127.0.0.1:${service.port}`, requestIds: false, retry: false }),
    );
    // A first change, so the run starts after sequence ≥ 1 (since_sequence 0 means "from now on").
    await clients[0]?.save({ sessionId: "before", data: {} });
    const start = await sequenced();
    const onA = watching(clientFor(a), { sinceSequence: start });
    const onB = watching(clientFor(b), { sinceSequence: start });
    await Promise.all([onA.started(), onB.started()]);

    let writing = true;
    // Read on while the writes go (a stream whose client stops reading is ended as too slow).
    const draining = [onA, onB].map((watch) => watch.until(() => !writing, 230_000));
    const writer = async (w: number) => {
      const client = clients[w % 2] as (typeof clients)[0];
      for (let i = w; i < writes; i += writers) {
        const sessionId = `s${i % sessions}`;
        if (i % 10 === 7) await client.delete({ sessionId, allowMissing: true });
        else if (i % 10 === 3) await client.touch({ sessionId }).catch(() => {});
        else if (i % 10 === 5) await client.append({ sessionId, messages: [{ i }] }).catch(() => {});
        else await client.save({ sessionId, data: { messages: [], i }, metadata: { w: String(w) } });
      }
    };

    // The Watch process: killed 300–1500 ms after each start, restarted on the other replica.
    const file = join(dir, "changes.log");
    const restarts: Array<{ expected: bigint; resumed: bigint }> = [];
    const run = async (round: number) => {
      const expected = lastLine(file) ?? start;
      // A kill mid-write leaves half a line; a SIGKILL between two whole-line writes seldom does, so add one.
      if (round % 3 === 1) appendFileSync(file, `${expected + 1n} s`);
      const watcher = startWatcher(watcherScript, [a, b][round % 2] as Service, file, start);
      restarts.push({ expected, resumed: await watcher.resumed });
      return watcher;
    };
    const killing = (async () => {
      let round = 0;
      for (; writing; round++) {
        const watcher = await run(round);
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1200));
        watcher.child.kill("SIGKILL");
        await watcher.exited;
      }
      return round;
    })();

    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    writing = false;
    // One more change after `writing` turned false wakes every stream to see it.
    await clients[1]?.save({ sessionId: "after", data: {} });
    await Promise.all(draining);
    const kills = await killing;
    const lastSeq = await sequenced();
    const log = await logSince(start);
    const last = await run(kills);
    await vi.waitFor(() => expect(lastLine(file)).toBe(lastSeq), { timeout: 30_000, interval: 100 });
    last.child.kill("SIGKILL");
    await Promise.all([onA.until(() => onA.position >= lastSeq), onB.until(() => onB.position >= lastSeq)]);
    onA.close();
    onB.close();

    // The log itself: every seq after the start once, no gaps.
    expect(log.length).toBeGreaterThanOrEqual(writes / 2);
    expect(log.map((line) => BigInt(line.split(" ")[0] as string))).toEqual(log.map((_, i) => start + 1n + BigInt(i)));
    expect(brief(onA.events)).toEqual(log);
    expect(brief(onB.events)).toEqual(log);
    expect(readFileSync(file, "utf8")).toBe(log.map((line) => `${line}\n`).join(""));
    expect(kills).toBeGreaterThanOrEqual(5);
    // Every restart resumed right after the last whole line, the half line dropped.
    expect(restarts.map(({ resumed }) => resumed)).toEqual(restarts.map(({ expected }) => expected));
    expect(restarts.filter(({ expected }) => expected > start).length).toBeGreaterThanOrEqual(3);
    // Each session's versions never go back (no hard deletes here; a Touch keeps its version).
    const versions = new Map<string, bigint>();
    for (const event of onA.events) {
      expect(event.version).toBeGreaterThanOrEqual(versions.get(event.sessionId) ?? 0n);
      versions.set(event.sessionId, event.version);
    }
  });

  it("a replica shutting down ends its streams with UNAVAILABLE and where to resume; the other carries on", {
    timeout: 30_000,
  }, async () => {
    const onA = watching(clientFor(a));
    await onA.started();
    const client = clientFor(b);
    await client.save({ sessionId: "last", data: {} });
    await onA.until(() => onA.events.length >= 1);
    const stopping = stop(a);
    const error = await onA.until(() => false).catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.Unavailable });
    expect((error as ConnectError).rawMessage).toMatch(/shutting down: resume on another with since_sequence/);
    expect(await stopping).toBe(0);
    const onB = watching(client, { sinceSequence: onA.position });
    await client.save({ sessionId: "last", data: {} });
    await onB.until(() => onB.events.length >= 1);
    onB.close();
    expect(onB.events.map((e) => [e.sessionId, Number(e.version)])).toEqual([["last", 2]]);
  });
});
