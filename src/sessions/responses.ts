/**
 * What the handlers answer with, beyond convert.ts's plain mapping: the errors a session call
 * ends in (NOT_FOUND, ABORTED with its VersionConflict detail, DATA_LOSS for a row that cannot be
 * served), and the servable form of a stored row — its data decoded once per cached version.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type RestoreFailure,
  RestoreFailureSchema,
  type Session,
  VersionConflictSchema,
} from "../../gen/isotope/session/v1/session_pb.js";
import { parseStoredObject, toSession } from "./convert.js";
import type { StoredSession } from "./repository/contract.js";

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

/**
 * Decoded messages of rows the hot cache holds (repository/cache.ts hands back the same row
 * object on every hit): JSON text → Struct is the costliest step of a Load, done once per version.
 * Weak, so a row the cache drops takes its message with it. Messages are never mutated once built.
 */
const decoded = new WeakMap<StoredSession, Session>();

/** A row with its data, or DATA_LOSS when what is stored cannot be carried by a Struct. */
export function servable(row: StoredSession): Session {
  const known = decoded.get(row);
  if (known) return known;
  const { session, failure } = restoreCheck(row);
  if (failure) throw new ConnectError(`session "${row.sessionId}" cannot be served: ${failure.reason}`, Code.DataLoss);
  decoded.set(row, session as Session);
  return session as Session;
}

/** Restore's check of one row: the Session it serves as, or why it cannot be served. */
export function restoreCheck(row: StoredSession): { session?: Session; failure?: RestoreFailure } {
  if (row.dataJson === undefined) return { session: toSession(row) };
  const data = parseStoredObject(row.dataJson, "session_data", true);
  const metadata = parseStoredObject(row.metadataJson, "metadata", false);
  const reason = !data.ok ? data.reason : !metadata.ok ? metadata.reason : undefined;
  if (reason !== undefined) return { failure: create(RestoreFailureSchema, { sessionId: row.sessionId, reason }) };
  return { session: toSession(row, (data as { value: JsonObject }).value) };
}
