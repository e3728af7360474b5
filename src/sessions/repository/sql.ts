/**
 * SQL fragments every statement of the sessions repository shares: the columns a read selects,
 * time as microseconds, what "not expired" means, and the row → StoredSession mapping. Casts make
 * pg and PGlite return the same JavaScript types (text for int8 and timestamps).
 */
import type { StoredSession } from "./contract.js";

/** A timestamp column as microseconds since the epoch, as text. */
export const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::int8::text`;

/** Microseconds since the epoch (a parameter or a column) as a timestamptz. */
export const fromMicros = (value: string) => `(timestamptz 'epoch' + ${value}::int8 * interval '1 microsecond')`;

/**
 * An expiry from its two forms, either or both NULL: relative (`expires_in` µs, from the database's
 * now()) or absolute (`expires_at` µs since the epoch); both NULL = never.
 */
export const expiresAtFrom = (inMicros: string, atMicros: string) =>
  `(CASE WHEN ${atMicros}::int8 IS NOT NULL THEN ${fromMicros(atMicros)}
     WHEN ${inMicros}::int8 IS NOT NULL THEN now() + ${inMicros}::int8 * interval '1 microsecond' END)`;

export const notExpired = "(expires_at IS NULL OR expires_at > now())";

/** Whether a timestamp given in µs is not in the future on the database's clock. */
export const expiryInPastSql = `SELECT ${fromMicros("$1")} <= now() AS past`;

// A session's messages are in session_data, or — after an Append — rows of ${table}_msg put back
// in order (migration 0004).
export const messageCount = `(CASE WHEN messages_external THEN external_messages
        WHEN jsonb_typeof(session_data->'messages') = 'array' THEN jsonb_array_length(session_data->'messages')
        ELSE 0 END)`;

/**
 * StoredSession.rowToken of the row `of` names: xmin (the transaction that wrote this state of it;
 * any UPDATE, by anyone, makes a new one) and the version (two writes of one group-commit
 * transaction share an xmin, not a version).
 */
export const rowToken = (of: string) => `(${of}.xmin::text || '.' || COALESCE(${of}.version, 1)::text)`;

/** session_data as text, the appended messages put back; `table` names the row's table. */
const dataText = (table: string) => `(CASE WHEN messages_external THEN jsonb_set(session_data, '{messages}', COALESCE(
    (SELECT jsonb_agg(m.message ORDER BY m.seq) FROM ${table}_msg m WHERE m.session_id = ${table}.session_id),
    '[]'::jsonb)) ELSE session_data END)::text`;

/**
 * The columns every read selects. `data`: false, true, or a condition under which data is left
 * out (a copy the caller holds is current); `table` is needed with data, to put messages back.
 */
export const columns = (data: boolean | { unless: string }, table = "") => `
  session_id,
  ${data === false ? "NULL::text" : data === true ? dataText(table) : `CASE WHEN ${data.unless} THEN NULL ELSE ${dataText(table)} END`} AS data_json,
  COALESCE(metadata, '{}'::jsonb)::text AS metadata_json,
  ${micros("created_at")} AS created_at,
  ${micros("last_updated")} AS last_updated,
  ${micros("expires_at")} AS expires_at,
  COALESCE(version, 1)::int8::text AS version,
  COALESCE(is_active, true) AS is_active,
  ${messageCount}::int8::text AS message_count`;

/** A row of `columns`, as both drivers return it. */
export interface SessionRow {
  session_id: string;
  data_json: string | null;
  metadata_json: string;
  created_at: string | null;
  last_updated: string | null;
  expires_at: string | null;
  version: string;
  is_active: boolean;
  message_count: string;
  row_token?: string;
  [column: string]: unknown;
}

export function toStored(row: SessionRow): StoredSession {
  return {
    sessionId: row.session_id,
    dataJson: row.data_json ?? undefined,
    metadataJson: row.metadata_json,
    // The seed's defaults fill created_at / last_updated; a hand-made NULL reads as the epoch.
    createdAt: BigInt(row.created_at ?? 0),
    lastUpdated: BigInt(row.last_updated ?? 0),
    expiresAt: row.expires_at === null ? undefined : BigInt(row.expires_at),
    version: BigInt(row.version),
    isActive: row.is_active,
    messageCount: BigInt(row.message_count),
    ...(row.row_token === undefined ? {} : { rowToken: row.row_token }),
  };
}
