/**
 * What the handlers answer with, beyond convert.ts's plain mapping: the errors a session call
 * ends in (NOT_FOUND, ABORTED with its VersionConflict detail, DATA_LOSS for a row that cannot be
 * served), and the servable form of a stored row — its data decoded once per cached version.
 */
import { create, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Durability,
  type LoadResponse,
  LoadResponseSchema,
  type RestoreFailure,
  RestoreFailureSchema,
  type Session,
  SessionSchema,
  VersionConflictSchema,
} from "../../gen/isotope/session/v1/session_pb.js";
import { parseStoredObject, toSession } from "./convert.js";
import type { StoredSession } from "./repository/contract.js";
import { encodeStruct, fieldHeader, lengthPrefixed } from "./struct-wire.js";

/** NOT_FOUND for a session that is missing, soft-deleted or expired. */
export function sessionNotFound(sessionId: string): ConnectError {
  return new ConnectError(`session_id: session "${sessionId}" not found`, Code.NotFound);
}

/** ABORTED with the current version in a VersionConflict detail. */
export function versionConflict(sessionId: string, expectedVersion: bigint, currentVersion: bigint): ConnectError {
  return new ConnectError(
    `expected_version: session "${sessionId}" is at version ${currentVersion}, not ${expectedVersion}`,
    Code.Aborted,
    undefined,
    [
      {
        desc: VersionConflictSchema,
        value: create(VersionConflictSchema, { sessionId, expectedVersion, currentVersion }),
      },
    ],
  );
}

/**
 * Load's and RestoreStream's `last_messages` window: the same session with only the last `n`
 * entries of data.messages (a copy: the decoded message may be shared through the cache).
 * message_count keeps counting them all.
 */
export function lastMessages(session: Session, n: number): Session {
  const messages = session.data?.messages;
  if (n === 0 || !Array.isArray(messages) || messages.length <= n) return session;
  return { ...session, data: { ...session.data, messages: messages.slice(-n) } };
}

/** A row with its data, or DATA_LOSS when what is stored cannot be carried by a Struct. */
export function servable(row: StoredSession): Session {
  const { session, failure } = restoreCheck(row);
  if (failure) throw new ConnectError(`session "${row.sessionId}" cannot be served: ${failure.reason}`, Code.DataLoss);
  return session as Session;
}

/**
 * LoadResponse.session (field 1) of rows as protobuf bytes — length and the encoded Session —
 * made once per row: the hot cache (repository/cache.ts) hands back the same row object on every
 * hit, and JSON text → Struct → bytes is the costliest step of a Load. Weak, so a row the cache
 * drops takes its bytes with it; only bytes are kept, not the decoded message (half the memory).
 */
const encodedSessions = new WeakMap<StoredSession, Uint8Array>();

/**
 * Load's answer. For a caller that reads protobuf (`binary`) the whole session is sent as bytes
 * encoded once per row, carried as the response's unknown field 1: protobuf-es writes unknown
 * fields verbatim, so the wire bytes are exactly those of the field — no message is built. A
 * JSON caller, or a `last_messages` window, gets the message built from the row.
 */
export function loadResponse(row: StoredSession, lastMessagesN: number, binary: boolean): LoadResponse {
  const durability = row.spooled ? Durability.SPOOLED : Durability.DATABASE;
  if (!binary || lastMessagesN > 0) {
    return create(LoadResponseSchema, { session: lastMessages(servable(row), lastMessagesN), durability });
  }
  let data = encodedSessions.get(row);
  if (data === undefined) {
    data = encodeSession(row) ?? lengthPrefixed(toBinary(SessionSchema, servable(row)));
    encodedSessions.set(row, data);
  }
  const response = create(LoadResponseSchema, { durability });
  response.$unknown = [{ no: 1, wireType: WireType.LengthDelimited, data }];
  return response;
}

/**
 * LoadResponse.session's length and bytes for `row`: every field but data encoded by protobuf-es
 * from a small message, then data written straight from its JSON (struct-wire.ts) — no Struct
 * built. Fields may come in any order on the wire; every protobuf decoder merges them.
 * Undefined when the data is not a document a Struct can carry: servable() then says why.
 */
function encodeSession(row: StoredSession): Uint8Array | undefined {
  if (row.dataJson === undefined) return undefined;
  const data = parseStoredObject(row.dataJson, "session_data", false);
  const struct = data.ok ? encodeStruct(data.value) : undefined;
  if (struct === undefined) return undefined;
  return lengthPrefixed(toBinary(SessionSchema, toSession(row)), fieldHeader(dataField, struct.byteLength), struct);
}

/** Session.data's field number. */
const dataField = SessionSchema.field.data.number;

/** Restore's check of one row: the Session it serves as, or why it cannot be served. */
export function restoreCheck(row: StoredSession): { session?: Session; failure?: RestoreFailure } {
  if (row.dataJson === undefined) return { session: toSession(row) };
  const data = parseStoredObject(row.dataJson, "session_data", true);
  const metadata = parseStoredObject(row.metadataJson, "metadata", false);
  const reason = !data.ok ? data.reason : !metadata.ok ? metadata.reason : undefined;
  if (reason !== undefined) return { failure: create(RestoreFailureSchema, { sessionId: row.sessionId, reason }) };
  return { session: toSession(row, (data as { value: JsonObject }).value) };
}
