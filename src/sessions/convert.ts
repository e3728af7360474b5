/**
 * Rows ↔ messages: turns repository values (StoredSession, microseconds) into protobuf messages
 * (Session, Timestamp, Duration), stored JSON text into objects a Struct can carry, and page tokens
 * into keyset cursors and back. responses.ts builds on it for what a handler answers with.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { type Session, SessionSchema } from "../../gen/isotope/session/v1/session_pb.js";
import type { Micros, StoredSession } from "./repository/contract.js";
import { invalidArgument } from "./validate.js";

export function toTimestamp(micros: Micros): Timestamp {
  // Floor division, so instants before 1970 keep nanos in [0, 1e9).
  let seconds = micros / 1_000_000n;
  let rest = micros % 1_000_000n;
  if (rest < 0n) {
    seconds -= 1n;
    rest += 1_000_000n;
  }
  return create(TimestampSchema, { seconds, nanos: Number(rest) * 1000 });
}

export function toDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return create(DurationSchema, { seconds: BigInt(seconds), nanos: Math.round((ms - seconds * 1000) * 1_000_000) });
}

/** Why stored JSON cannot be served as a Struct, or the object itself. */
export type Parsed = { ok: true; value: JsonObject } | { ok: false; reason: string };

/**
 * Parses stored JSON text into an object a Struct can carry. Rows written by other programs (the
 * seed's manager, hand-made SQL) may hold arrays, scalars or numbers beyond a double's range.
 */
export function parseStoredObject(json: string, what: string, checkNumbers: boolean): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, reason: `${what} is not valid JSON` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return {
      ok: false,
      reason: `${what} is ${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`}, not a JSON object`,
    };
  }
  if (checkNumbers && /[0-9][eE][+]?[0-9]{3}/.test(json) && !allFinite(value)) {
    return { ok: false, reason: `${what} holds a number beyond the range of a double` };
  }
  return { ok: true, value: value as JsonObject };
}

function allFinite(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === "number" && !Number.isFinite(node)) return false;
    if (node !== null && typeof node === "object") stack.push(...Object.values(node));
  }
  return true;
}

/** A Session message from a stored row; `data` only when the row carries it and it parses. */
export function toSession(row: StoredSession, data?: JsonObject): Session {
  const metadata = parseStoredObject(row.metadataJson, "metadata", false);
  return create(SessionSchema, {
    sessionId: row.sessionId,
    data,
    metadata: metadata.ok ? metadata.value : {},
    createdAt: toTimestamp(row.createdAt),
    lastUpdated: toTimestamp(row.lastUpdated),
    expiresAt: row.expiresAt === undefined ? undefined : toTimestamp(row.expiresAt),
    version: row.version,
    isActive: row.isActive,
    messageCount: row.messageCount,
  });
}

/**
 * Page tokens are opaque to clients: base64url of `[version, last_updated µs, session_id]` of the
 * last row of a page. A malformed token is INVALID_ARGUMENT; a well-formed but invented one only
 * moves the cursor (it grants nothing a List call could not read anyway).
 */
export function encodePageToken(last: StoredSession): string {
  return Buffer.from(JSON.stringify([1, last.lastUpdated.toString(), last.sessionId])).toString("base64url");
}

export function decodePageToken(token: string): { lastUpdated: Micros; sessionId: string } {
  const malformed = () =>
    invalidArgument("page_token", "malformed (pass next_page_token from a previous List unchanged)");
  if (token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== 1) throw malformed();
  const [, micros, sessionId] = parsed as [number, unknown, unknown];
  if (typeof micros !== "string" || !/^-?\d{1,19}$/.test(micros)) throw malformed();
  if (typeof sessionId !== "string" || sessionId.length === 0 || sessionId.length > 255 || sessionId.includes("\u0000"))
    throw malformed();
  const lastUpdated = BigInt(micros);
  // Within 0001–9999, so the database's timestamp conversion cannot overflow.
  if (lastUpdated > 253_402_300_799_999_999n || lastUpdated < -62_135_596_800_000_000n) throw malformed();
  return { lastUpdated, sessionId };
}
