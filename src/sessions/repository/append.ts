/**
 * Append without rewriting history (docs/append.md): a session's messages move, on its first
 * Append, out of session_data into `${table}_msg` (one row per message); later Appends insert rows
 * and touch the session row's small columns only, so a turn costs the same at 10 or 10,000
 * messages. One transaction, the session row locked first (a keyed Append: its key's, request-keys.ts).
 */
import type { Queryable } from "../../db/database.js";
import type { ChangeRecorder } from "./change-log.js";
import type { AppendResult, SessionRepository } from "./contract.js";
import type { RequestKeys } from "./request-keys.js";
import { columns, notExpired, type SessionRow, toStored } from "./sql.js";

export function createAppend(
  table: string,
  changes: ChangeRecorder,
  requests: RequestKeys,
): Pick<SessionRepository, "append"> {
  const lockSql = `SELECT messages_external AS external, external_messages::text AS count,
      COALESCE(version, 1)::int8::text AS version,
      CASE WHEN messages_external THEN NULL ELSE jsonb_typeof(session_data->'messages') END AS kind
    FROM ${table} WHERE session_id = $1 AND is_active AND ${notExpired} FOR UPDATE`;
  const moveMessagesSql = `INSERT INTO ${table}_msg (session_id, seq, message)
    SELECT t.session_id, x.ord - 1, x.e FROM ${table} t,
      jsonb_array_elements(COALESCE(t.session_data->'messages', '[]'::jsonb)) WITH ORDINALITY AS x(e, ord)
    WHERE t.session_id = $1`;
  const addMessagesSql = `INSERT INTO ${table}_msg (session_id, seq, message)
    SELECT $1, $2::int8 + x.ord - 1, x.e FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, ord)`;
  // session_data is rewritten only when it must change (its messages leave it, or a patch):
  // otherwise the new row version keeps pointing at the same TOASTed value.
  // Last in the transaction: its log row is inserted after every other change of it.
  const updateSql = changes.logged(
    "appended",
    `UPDATE ${table} AS t SET
      session_data = CASE WHEN $3::boolean
        THEN (t.session_data - 'messages' - $4::text[]) || COALESCE($5::jsonb, '{}'::jsonb)
        ELSE t.session_data END,
      messages_external = true, external_messages = $2::int8,
      version = COALESCE(t.version, 1) + 1, last_updated = now()
    WHERE session_id = $1
    RETURNING ${columns(false)}`,
  );

  return {
    async append(input, signal) {
      const appendOn = async (tx: Queryable): Promise<AppendResult> => {
        const { rows } = await tx.query<{ external: boolean; count: string; version: string; kind: string | null }>(
          lockSql,
          [input.sessionId],
        );
        const current = rows[0];
        if (!current) return { kind: "missing" };
        if (input.expectedVersion !== undefined && BigInt(current.version) !== input.expectedVersion) {
          return { kind: "conflict", currentVersion: BigInt(current.version) };
        }
        if (!current.external && current.kind !== null && current.kind !== "array") return { kind: "not-a-list" };
        const before = current.external
          ? BigInt(current.count)
          : BigInt((await tx.query(moveMessagesSql, [input.sessionId])).rowCount);
        const added = await tx.query(addMessagesSql, [input.sessionId, before.toString(), input.messagesJson]);
        const rewrite = !current.external || input.setJson !== undefined || input.removeKeys.length > 0;
        const updated = await tx.query<SessionRow>(updateSql, [
          input.sessionId,
          (before + BigInt(added.rowCount)).toString(),
          rewrite,
          input.removeKeys,
          input.setJson ?? null,
        ]);
        return { kind: "appended", session: toStored(updated.rows[0] as SessionRow) };
      };
      return requests.write(input.requestKey, input.sessionId, appendOn, (result) => result.kind === "appended", {
        signal,
        transaction: true,
        fencingToken: input.fencingToken,
      });
    },
  };
}
