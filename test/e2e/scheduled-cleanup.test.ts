// Scheduled cleanup across replicas (src/maintenance/): three server processes on one PostgreSQL
// run each interval's cleanup on exactly one of them, coordinated by the job row on the database
// clock; kill -9 the replica in the middle of a run and another takes the job over within one
// interval plus the lease time, and finishes it batch by batch while Saves go on without failing.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { postgresUrl } from "../support/databases.js";
import { skipEachWithoutPostgres } from "../support/postgres-only.js";
import { readmeSnippet } from "../support/readme.js";
import { type Replicas, startReplicas } from "../support/replicas.js";
import { clientFor } from "../support/service.js";

const intervalMs = 1000;
const leaseMs = 2000;

// Two processes cannot share a PGlite data directory: replicas exist only on PostgreSQL.
describe("scheduled cleanup on three server processes, one PostgreSQL", () => {
  skipEachWithoutPostgres("PGlite is one process");
  const names = ["a", "b", "c"];
  let replicas: Replicas;
  let table: string;
  let admin: pg.Client;

  beforeAll(async () => {
    if (!postgresUrl) return;
    replicas = await startReplicas(postgresUrl, "direct", names, [
      ...["--cleanup-interval-ms", String(intervalMs), "--cleanup-lease-ms", String(leaseMs)],
      ...["--cleanup-batch-size", "25"],
    ]);
    ({ table, admin } = replicas);
  }, 90_000);
  afterAll(async () => {
    if (!postgresUrl) return;
    await replicas?.stop();
  });

  /** Every run each replica logged, whoever ran it (a killed replica's lines up to its death). */
  const loggedRuns = () =>
    replicas.services
      .flatMap((service) => service.lines())
      .filter((line) => String(line.msg).startsWith("scheduled cleanup ran"))
      .map((line) => ({
        replica: String(line.replica),
        run: Number(line.run),
        intervalStart: Date.parse(String(line.interval_start)),
        expired: Number(line.expired),
      }));
  const jobRow = async () =>
    (
      await admin.query<{ run: string; holder: string; running: boolean }>(
        `SELECT run::text, holder, lease_until IS NOT NULL AS running FROM ${table}_jobs WHERE job = 'cleanup'`,
      )
    ).rows[0];
  const expiredLeft = async () =>
    Number(
      (
        await admin.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${table} WHERE is_active AND expires_at <= now()`,
        )
      ).rows[0]?.n,
    );

  it("runs each interval's cleanup on exactly one of them, interval after interval", { timeout: 30_000 }, async () => {
    await vi.waitFor(() => expect(loggedRuns().length).toBeGreaterThanOrEqual(5), { timeout: 20_000, interval: 100 });
    // The runs the job row counted so far, each logged by one replica (log lines lag up to 200 ms).
    const counted = Number((await jobRow())?.run);
    await vi.waitFor(() => expect(loggedRuns().filter((run) => run.run <= counted)).toHaveLength(counted), {
      timeout: 5000,
      interval: 50,
    });
    const runs = loggedRuns()
      .filter((run) => run.run <= counted)
      .sort((x, y) => x.run - y.run);
    expect(runs.map((run) => run.run)).toEqual(Array.from({ length: counted }, (_, i) => i + 1));
    // Whole intervals apart on the database clock: none twice. An interval is left out only when no
    // replica ticked in it, or a run overran its slot and kept its lease (an overloaded machine):
    // so most runs come one interval after the last.
    const gaps = runs.slice(1).map((run, i) => run.intervalStart - (runs[i]?.intervalStart ?? 0));
    expect(gaps.filter((gap) => gap <= 0 || gap % intervalMs !== 0)).toEqual([]);
    expect(gaps.filter((gap) => gap === intervalMs).length).toBeGreaterThanOrEqual(Math.ceil(gaps.length / 2));

    // README's log line and queries say what the replicas write.
    const line = replicas
      .named(runs[0]?.replica as string)
      .lines()
      .find((logged) => logged.msg === "scheduled cleanup ran");
    const documented = JSON.parse(readmeSnippet("scheduled-cleanup-log", "json"));
    expect(Object.keys(line ?? {}).filter((key) => !["time", "pid", "hostname"].includes(key))).toEqual(
      Object.keys(documented),
    );
    const [last, sample] = (await admin.query(
      readmeSnippet("scheduled-cleanup-sql", "sql").replaceAll("isotope_sessions", table),
    )) as unknown as pg.QueryResult[];
    expect(names).toContain(last?.rows[0]?.last_replica);
    expect(last?.rows[0]).toMatchObject({ last_expired: "0", last_purged: "0", last_error: null });
    expect(sample?.rows[0]).toMatchObject({ active: "0", expired: "0" });
  });

  it("a replica killed mid-run is replaced within one interval plus the lease, and Saves go on", {
    timeout: 60_000,
  }, async () => {
    const expiring = 20_000;
    await admin.query(
      `INSERT INTO ${table} (session_id, session_data, expires_at)
       SELECT 'expired-' || i, '{"messages": ["hi"]}', now() - interval '1 minute' FROM generate_series(1, $1::int) i`,
      [expiring],
    );
    // Wait for a run to be cleaning these rows, then kill its replica.
    let holder: { run: string; holder: string; running: boolean } | undefined;
    await vi.waitFor(
      async () => {
        holder = await jobRow();
        expect(holder?.running && (await expiredLeft()) < expiring).toBe(true);
      },
      { timeout: 10_000, interval: 10 },
    );
    const killed = replicas.named(holder?.holder as string);
    killed.child.kill("SIGKILL");
    await killed.exited;
    const killedAt = (await admin.query<{ now: Date }>("SELECT now()")).rows[0]?.now as Date;
    const survivors = names
      .filter((name) => name !== holder?.holder)
      .map((name) => [name, replicas.named(name)] as const);

    // Saves through the survivors, while the cleanup goes on.
    let saving = true;
    const saved: string[] = [];
    const failures: unknown[] = [];
    const savers = survivors.flatMap(([name, service]) =>
      [0, 1].map(async (lane) => {
        const client = clientFor(service);
        for (let i = 0; saving; i++) {
          const sessionId = `live-${name}-${lane}-${i}`;
          await client.save({ sessionId, data: { messages: [name, i] } }).then(
            () => saved.push(sessionId),
            (error: unknown) => failures.push(error),
          );
        }
      }),
    );

    // Another replica takes the job over (a later run) …
    await vi.waitFor(
      async () => {
        const row = await jobRow();
        expect(Number(row?.run)).toBeGreaterThan(Number(holder?.run));
        expect(row?.holder).not.toBe(holder?.holder);
      },
      { timeout: 15_000, interval: 20 },
    );
    const { rows } = await admin.query<{ after_ms: number }>(
      `SELECT (extract(epoch FROM claimed_at - $1::timestamptz) * 1000)::float8 AS after_ms FROM ${table}_jobs`,
      [killedAt],
    );
    // … within one interval plus the lease (and a little for ticking and round trips).
    expect(rows[0]?.after_ms).toBeLessThan(intervalMs + leaseMs + 500);

    // … and cleans up the rest batch by batch: the count of expired rows is seen going down in steps.
    const seen = new Set<number>();
    await vi.waitFor(
      async () => {
        const left = await expiredLeft();
        seen.add(left);
        expect(left).toBe(0);
      },
      { timeout: 30_000, interval: 20 },
    );
    expect(seen.size).toBeGreaterThan(3);
    saving = false;
    await Promise.all(savers);

    expect(failures).toEqual([]);
    expect(saved.length).toBeGreaterThan(0);
    const stored = await admin.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${table} WHERE session_id = ANY($1::text[]) AND is_active`,
      [saved],
    );
    expect(Number(stored.rows[0]?.n)).toBe(saved.length);
    const marked = await admin.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${table} WHERE session_id LIKE 'expired-%' AND NOT is_active`,
    );
    expect(Number(marked.rows[0]?.n)).toBe(expiring);
    // The survivors' runs logged what they cleaned, and no run number or interval twice, ever.
    await vi.waitFor(() =>
      expect(loggedRuns().some((run) => run.replica !== holder?.holder && run.expired > 0)).toBe(true),
    );
    const runs = loggedRuns();
    expect(new Set(runs.map((run) => run.run)).size).toBe(runs.length);
    expect(new Set(runs.map((run) => run.intervalStart)).size).toBe(runs.length);
  });
});
