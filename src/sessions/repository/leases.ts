/**
 * Leases with fencing (migration 0010): one row per session ever leased, whose token only grows.
 * Acquire, renew and release are one statement each, deciding on the database clock (now()), so
 * replicas never compare their own clocks. A write carrying a token checks it in its own
 * transaction (request-keys.ts), the lease row locked FOR SHARE: an Acquire waits for that write
 * to commit, and a write after the Acquire sees its newer token.
 */
import type { Db, Queryable } from "../../db/database.js";
import { FencedOffError, type Lease, type LeaseResult } from "./contract.js";
import { micros } from "./sql.js";

type LeaseRow = { session_id: string; holder: string | null; token: string; expires_at: string };

const toLease = (row: LeaseRow): Lease => ({
  sessionId: row.session_id,
  holder: row.holder ?? "",
  token: BigInt(row.token),
  expiresAt: BigInt(row.expires_at),
});

export interface Leases {
  acquire(sessionId: string, holder: string, ttlMicros: bigint, signal?: AbortSignal): Promise<LeaseResult>;
  renew(
    sessionId: string,
    holder: string,
    token: bigint,
    ttlMicros: bigint,
    signal?: AbortSignal,
  ): Promise<LeaseResult>;
  release(sessionId: string, holder: string, token: bigint, signal?: AbortSignal): Promise<boolean>;
  /** Throws FencedOffError unless `token` is the session's newest (on `tx`, in the write's transaction). */
  check(tx: Queryable, sessionId: string, token: bigint): Promise<void>;
}

export function createLeases(db: Db, table: string): Leases {
  const returning = `RETURNING session_id, holder, token::text AS token, ${micros("expires_at")} AS expires_at`;
  const until = `now() + $3::int8 * interval '1 microsecond'`;
  // A free row (released, expired, or held by the caller) is taken with the next token; one held
  // by another holder returns no row. Concurrent acquirers queue on the row (or its key): the
  // first wins, the others then see its lease.
  const acquireSql = `INSERT INTO ${table}_leases AS l (session_id, holder, token, expires_at)
    VALUES ($1, $2, 1, ${until})
    ON CONFLICT (session_id) DO UPDATE SET holder = EXCLUDED.holder, token = l.token + 1,
      expires_at = EXCLUDED.expires_at
    WHERE l.holder IS NULL OR l.expires_at <= now() OR l.holder = EXCLUDED.holder
    ${returning}`;
  // Also just after expiry while nobody acquired it since: the token is still the newest.
  const renewSql = `UPDATE ${table}_leases SET expires_at = now() + $4::int8 * interval '1 microsecond'
    WHERE session_id = $1 AND holder = $2 AND token = $3 ${returning}`;
  const releaseSql = `UPDATE ${table}_leases SET holder = NULL, expires_at = now()
    WHERE session_id = $1 AND holder = $2 AND token = $3 AND expires_at > now() RETURNING 1`;
  const currentSql = `SELECT session_id, holder, token::text AS token, ${micros("expires_at")} AS expires_at,
      (holder IS NOT NULL AND expires_at > now()) AS live
    FROM ${table}_leases WHERE session_id = $1`;
  const checkSql = `SELECT session_id, holder, token::text AS token, ${micros("expires_at")} AS expires_at,
      (holder IS NOT NULL AND expires_at > now()) AS live
    FROM ${table}_leases WHERE session_id = $1 FOR SHARE`;

  /** Who holds the session now (the answer to a refused acquire or renew); undefined: nobody. */
  const holderNow = async (sessionId: string, signal?: AbortSignal) => {
    const row = (await db.query<LeaseRow & { live: boolean }>(currentSql, [sessionId], signal)).rows[0];
    return row?.live ? toLease(row) : undefined;
  };

  return {
    async acquire(sessionId, holder, ttlMicros, signal) {
      // Refused, then free again before we looked (it lapsed in between): try again.
      for (;;) {
        const { rows } = await db.query<LeaseRow>(acquireSql, [sessionId, holder, ttlMicros.toString()], signal);
        if (rows[0] !== undefined) return { kind: "held", lease: toLease(rows[0]) };
        const current = await holderNow(sessionId, signal);
        if (current !== undefined) return { kind: "taken", current };
      }
    },

    async renew(sessionId, holder, token, ttlMicros, signal) {
      const params = [sessionId, holder, token.toString(), ttlMicros.toString()];
      const { rows } = await db.query<LeaseRow>(renewSql, params, signal);
      if (rows[0] !== undefined) return { kind: "held", lease: toLease(rows[0]) };
      return { kind: "lost", current: await holderNow(sessionId, signal) };
    },

    async release(sessionId, holder, token, signal) {
      return (await db.query(releaseSql, [sessionId, holder, token.toString()], signal)).rows.length > 0;
    },

    async check(tx, sessionId, token) {
      const row = (await tx.query<LeaseRow & { live: boolean }>(checkSql, [sessionId])).rows[0];
      const newest = row === undefined ? 0n : BigInt(row.token);
      if (token !== newest) {
        throw new FencedOffError(sessionId, token, newest, row?.live ? toLease(row) : undefined);
      }
    },
  };
}
