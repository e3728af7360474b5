/**
 * A scheduled job's row (`{table}_jobs`, migration 0007): which replica runs this interval's run,
 * decided by the database, on its clock, in one statement — and the last run's outcome.
 *
 * Why one upsert and a lease, not a lock: every replica, at the start of each interval, runs
 * `claim`. The interval ("slot") is computed from the database's now(), so replicas' clocks play no
 * part. The upsert succeeds only when the row's slot is older than this one AND no run holds a
 * lease (none, or it expired). PostgreSQL locks the row for the upsert and re-checks that WHERE
 * against the committed row, so of all the replicas claiming one slot exactly one wins; the slot
 * only moves forward, so no interval runs twice. The winner's lease (lease_ms, renewed between
 * batches while the run goes on) keeps the next interval from starting a second run beside a long
 * one. Nothing is held on a connection between statements: a replica killed mid-run leaves a lease
 * that simply expires, and the first replica to tick after it takes the job — within one interval
 * plus the lease time of the kill.
 */
import type { Db } from "../db/database.js";
import { fromMicros, micros } from "../sessions/repository/sql.js";
import type { CleanupRun } from "./contract.js";

export interface Claim {
  /** This replica's run number when it won the slot; undefined when another has it (or a lease holds it). */
  run: bigint | undefined;
  /** When the claim was made, on the database clock (µs since the epoch). */
  claimedAt: bigint;
  /** The slot's start (ms since the epoch, database clock) and how long until the next slot starts. */
  slotMs: bigint;
  msToNextSlot: number;
}

export interface JobRow {
  claim(replica: string, intervalMs: number, leaseMs: number, signal?: AbortSignal): Promise<Claim>;
  /** Extends this run's lease; false when the job is no longer this run's (another replica took it). */
  renew(run: bigint, leaseMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Records the run's outcome and ends its lease, so the next interval's claim may succeed. */
  finish(run: bigint, claimedAt: bigint, outcome: CleanupRun): Promise<void>;
  last(signal?: AbortSignal): Promise<CleanupRun | undefined>;
}

export function jobRow(db: Db, table: string, job: string): JobRow {
  const jobs = `${table}_jobs`;
  const claimSql = `WITH clock AS (
      SELECT floor(extract(epoch FROM now()) * 1000)::int8 AS now_ms),
    slot AS (SELECT now_ms, now_ms - now_ms % $2::int8 AS slot_ms FROM clock),
    claimed AS (
      INSERT INTO ${jobs} AS job (job, run, slot_ms, holder, claimed_at, lease_until)
      SELECT $1, 1, slot_ms, $3, now(), now() + $4::int8 * interval '1 millisecond' FROM slot
      ON CONFLICT (job) DO UPDATE SET run = job.run + 1, slot_ms = excluded.slot_ms, holder = excluded.holder,
        claimed_at = excluded.claimed_at, lease_until = excluded.lease_until
      WHERE job.slot_ms < excluded.slot_ms AND (job.lease_until IS NULL OR job.lease_until <= now())
      RETURNING job.run)
    SELECT claimed.run::text AS run, ${micros("now()")} AS now, slot.slot_ms::text AS slot_ms,
      (slot.slot_ms + $2::int8 - slot.now_ms)::text AS to_next
    FROM slot LEFT JOIN claimed ON true`;
  const renewSql = `UPDATE ${jobs} SET lease_until = now() + $3::int8 * interval '1 millisecond'
    WHERE job = $1 AND run = $2::int8`;
  // A run that lost its lease still records its outcome, unless a later run already did.
  const finishSql = `UPDATE ${jobs} SET lease_until = CASE WHEN run = $2::int8 THEN NULL ELSE lease_until END,
      last_replica = $3, last_started_at = ${fromMicros("$4")}, last_finished_at = now(),
      last_duration_ms = $5::int8, last_expired = $6::int8, last_purged = $7::int8, last_error = $8
    WHERE job = $1 AND (last_started_at IS NULL OR last_started_at <= ${fromMicros("$4")})`;
  const lastSql = `SELECT last_replica, ${micros("last_started_at")} AS started, last_duration_ms::text AS duration,
      last_expired::text AS expired, last_purged::text AS purged, last_error
    FROM ${jobs} WHERE job = $1 AND last_finished_at IS NOT NULL`;

  return {
    async claim(replica, intervalMs, leaseMs, signal) {
      const { rows } = await db.query<{ run: string | null; now: string; slot_ms: string; to_next: string }>(
        claimSql,
        [job, String(intervalMs), replica, String(leaseMs)],
        signal,
      );
      const row = rows[0];
      if (row === undefined) throw new Error("the claim statement returned no row");
      return {
        run: row.run === null ? undefined : BigInt(row.run),
        claimedAt: BigInt(row.now),
        slotMs: BigInt(row.slot_ms),
        msToNextSlot: Number(row.to_next),
      };
    },

    async renew(run, leaseMs, signal) {
      return (await db.query(renewSql, [job, run.toString(), String(leaseMs)], signal)).rowCount === 1;
    },

    async finish(run, claimedAt, outcome) {
      await db.query(finishSql, [
        job,
        run.toString(),
        outcome.replica,
        claimedAt.toString(),
        String(Math.round(outcome.durationMs)),
        String(outcome.expired),
        String(outcome.purged),
        outcome.error ?? null,
      ]);
    },

    async last(signal) {
      const { rows } = await db.query<{
        last_replica: string;
        started: string;
        duration: string;
        expired: string;
        purged: string;
        last_error: string | null;
      }>(lastSql, [job], signal);
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        replica: row.last_replica,
        startedAt: dateOf(BigInt(row.started)),
        durationMs: Number(row.duration),
        expired: Number(row.expired),
        purged: Number(row.purged),
        ...(row.last_error === null ? {} : { error: row.last_error }),
      };
    },
  };
}

/** A Date from microseconds since the epoch (to the millisecond). */
export const dateOf = (micros: bigint): Date => new Date(Number(micros / 1000n));
