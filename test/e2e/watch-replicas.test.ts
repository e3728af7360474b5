// Watch across replicas: two server processes on one PostgreSQL, 2,000 writes from eight writers
// spread over both, a Watch on each replica, and a third that disconnects and resumes at random
// points on alternating replicas. Every Watch ends with every change exactly once, in the same
// order — the log's — and each session's changes in version order. The issue's "killed and
// restarted during a 10,000-write run", cut down to keep the suite short. Then a server shutting
// down ends its streams with UNAVAILABLE and the resume point, and the other replica carries on.
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChangeEvent_Kind as Kind } from "../../gen/isotope/session/v1/session_pb.js";
import { dropServiceTable, postgresUrl } from "../support/databases.js";
import { skipEachWithoutPostgres } from "../support/postgres-only.js";
import { clientFor, type Service, startService, stop } from "../support/service.js";
import { watching } from "../support/watch.js";

const writes = 2000;
const writers = 8;
const sessions = 40;

describe("Watch on two server processes, one PostgreSQL", () => {
  skipEachWithoutPostgres("PGlite is one process");
  const table = `watch_${process.pid}`;
  let a: Service;
  let b: Service;
  let admin: pg.Client;

  beforeAll(async () => {
    if (!postgresUrl) return;
    admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    const args = (name: string) => [
      ...["--database-url", postgresUrl as string, "--table", table, "--replica-name", name],
      ...["--changes-poll-ms", "300"],
    ];
    [a, b] = await Promise.all([startService(args("a")), startService(args("b"))]);
  }, 90_000);
  afterAll(async () => {
    if (!postgresUrl) return;
    await Promise.all([a, b].filter(Boolean).map((service) => stop(service).catch(() => {})));
    await dropServiceTable(admin, table);
    await admin.end();
  });

  const logSince = async (after: bigint) =>
    (
      await admin.query<{ at: string; session_id: string; kind: string; version: string }>(
        `SELECT seq::text AS at, session_id, kind, version::text FROM ${table}_changes WHERE seq > $1 ORDER BY seq`,
        [after.toString()],
      )
    ).rows.map((row) => `${row.at} ${row.session_id} ${row.kind} ${row.version}`);
  const brief = (events: { sequence: bigint; sessionId: string; kind: Kind; version: bigint }[]) =>
    events.map((e) => `${e.sequence} ${e.sessionId} ${Kind[e.kind].toLowerCase()} ${e.version}`);

  it("every Watch, resumed or not, ends with every change exactly once, in the same order", {
    timeout: 60_000,
  }, async () => {
    const clients = [clientFor(a), clientFor(b)];
    const onA = watching(clients[0] as (typeof clients)[0]);
    const onB = watching(clients[1] as (typeof clients)[0]);
    await Promise.all([onA.started(), onB.started()]);
    const start = onA.position < onB.position ? onA.position : onB.position;

    let done = 0;
    const writer = async (w: number) => {
      const client = clients[w % 2] as (typeof clients)[0];
      for (let i = w; i < writes; i += writers) {
        const sessionId = `s${i % sessions}`;
        if (i % 10 === 7) await client.delete({ sessionId, allowMissing: true });
        else if (i % 10 === 3) await client.touch({ sessionId }).catch(() => {});
        else if (i % 10 === 5) await client.append({ sessionId, messages: [{ i }] }).catch(() => {});
        else await client.save({ sessionId, data: { messages: [], i }, metadata: { w: String(w) } });
        done++;
      }
    };

    // Resumes at random points, alternating replicas, until the writers are done and it has caught up.
    const resumed: typeof onA.events = [];
    // Its first stream starts with the others, before any write.
    const first = watching(clients[1] as (typeof clients)[0], { sinceSequence: start });
    await first.started();
    const resumer = async () => {
      let position = start;
      for (let round = 0; ; round++) {
        const watch =
          round === 0 ? first : watching(clients[round % 2] as (typeof clients)[0], { sinceSequence: position });
        const target = resumed.length + 1 + Math.floor(Math.random() * 300);
        await watch
          .until(
            () => watch.events.length + resumed.length >= target || (done === writes && watch.position >= lastSeq),
            20_000,
          )
          .catch(() => {});
        watch.close();
        resumed.push(...watch.events);
        if (watch.position > position) position = watch.position;
        if (done === writes && position >= lastSeq) return round;
      }
    };
    let lastSeq = Number.MAX_SAFE_INTEGER as unknown as bigint;
    const resuming = resumer();
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    // Every write is numbered by the replica that made it (or by a poll).
    await vi.waitFor(
      async () => {
        const { rows } = await admin.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${table}_changes WHERE seq IS NULL`,
        );
        expect(rows[0]?.n).toBe("0");
      },
      { timeout: 10_000, interval: 100 },
    );
    const log = await logSince(start);
    lastSeq = start + BigInt(log.length);
    await Promise.all([onA.until(() => onA.position >= lastSeq), onB.until(() => onB.position >= lastSeq)]);
    const rounds = await resuming;
    onA.close();
    onB.close();

    expect(log.length).toBeGreaterThanOrEqual(writes / 2);
    expect(brief(onA.events)).toEqual(log);
    expect(brief(onB.events)).toEqual(log);
    expect(brief(resumed)).toEqual(log);
    expect(rounds).toBeGreaterThanOrEqual(3);
    // Each session's versions never go back (no hard deletes here; a Touch keeps its version).
    const last = new Map<string, bigint>();
    for (const event of onA.events) {
      expect(event.version).toBeGreaterThanOrEqual(last.get(event.sessionId) ?? 0n);
      last.set(event.sessionId, event.version);
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
