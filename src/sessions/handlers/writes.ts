/**
 * The writing RPCs: Save, Append, Touch and Delete. Each reads top-down: validate → repository →
 * response; expected outcomes come back as values and become Connect codes here. A request_id
 * makes the write keyed (request-keys.ts): a repeat gets the first result. A fencing_token makes
 * it fenced (leases.ts): refused, FAILED_PRECONDITION, unless it is the session's newest token.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  AppendRequestSchema,
  DeleteRequestSchema,
  Durability,
  SaveRequestSchema,
  type SessionService,
  TouchRequestSchema,
} from "../../../gen/isotope/session/v1/session_pb.js";
import { toSession } from "../convert.js";
import { FencedOffError, RequestIdReusedError } from "../repository/contract.js";
import { sessionNotFound, versionConflict } from "../responses.js";
import * as validate from "../validate.js";
import type { HandlerDeps } from "./deps.js";
import { optionalFencingToken } from "./leases.js";

/**
 * A keyed write's key used by another request: INVALID_ARGUMENT; a fenced-off write:
 * FAILED_PRECONDITION naming the holder. Nothing was written either way.
 */
async function keyed<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof RequestIdReusedError) {
      throw validate.invalidArgument("request_id", `"${error.requestId}" was already used for a different request`);
    }
    if (error instanceof FencedOffError) throw new ConnectError(error.message, Code.FailedPrecondition);
    throw error;
  }
}

type Writes = Pick<ServiceImpl<typeof SessionService>, "save" | "append" | "touch" | "delete">;

export function createWriteHandlers({ repository, limits }: HandlerDeps): Writes {
  return {
    async save(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      if (req.data === undefined) throw validate.invalidArgument("data", "is required");
      const dataJson = validate.jsonDocument(req.data, "data", limits);
      const metadataJson =
        req.metadata === undefined ? undefined : validate.jsonDocument(req.metadata, "metadata", limits);
      validate.withinSize(dataJson, "data", limits);
      if (metadataJson !== undefined) validate.withinSize(metadataJson, "metadata", limits);
      if (req.expectedVersion !== undefined && req.expectedVersion < 0n) {
        throw validate.invalidArgument("expected_version", "must be 0 (must not exist) or a stored version");
      }
      const expiry = validate.expiry(req.expiry);
      const requestKey = validate.requestKey("Save", SaveRequestSchema, req, {
        data: dataJson,
        metadata: metadataJson,
      });
      const result = await keyed(
        repository.save(
          {
            sessionId,
            dataJson,
            metadataJson,
            expiry,
            expectedVersion: req.expectedVersion,
            requestKey,
            fencingToken: optionalFencingToken(req.fencingToken),
          },
          ctx.signal,
        ),
      );
      switch (result.kind) {
        case "saved":
          return {
            session: toSession(result.session),
            created: result.created,
            durability: result.session.spooled ? Durability.SPOOLED : Durability.DATABASE,
          };
        case "expiry-in-past":
          throw validate.invalidArgument("expires_at", "must be in the future");
        case "conflict":
          throw versionConflict(sessionId, req.expectedVersion ?? 0n, result.currentVersion);
      }
    },

    async append(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const messagesJson = validate.jsonDocument(req.messages, "messages", limits);
      validate.withinSize(messagesJson, "messages", limits);
      const patch = req.patch === undefined ? {} : req.patch;
      if ("messages" in patch) throw validate.invalidArgument("patch", 'may not set "messages" (append them instead)');
      const patchJson = validate.jsonDocument(patch, "patch", limits);
      validate.withinSize(patchJson, "patch", limits);
      const set = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null));
      const removeKeys = Object.keys(patch).filter((key) => patch[key] === null);
      if (req.expectedVersion !== undefined && req.expectedVersion < 1n) {
        throw validate.invalidArgument("expected_version", "must be a stored version (Append needs a session)");
      }
      const result = await keyed(
        repository.append(
          {
            sessionId,
            messagesJson,
            setJson: Object.keys(set).length > 0 ? JSON.stringify(set) : undefined,
            removeKeys,
            expectedVersion: req.expectedVersion,
            requestKey: validate.requestKey("Append", AppendRequestSchema, req, {
              messages: messagesJson,
              patch: req.patch === undefined ? undefined : patchJson,
            }),
            fencingToken: optionalFencingToken(req.fencingToken),
          },
          ctx.signal,
        ),
      );
      switch (result.kind) {
        case "appended":
          return { version: result.session.version, messageCount: result.session.messageCount };
        case "missing":
          throw sessionNotFound(sessionId);
        case "not-a-list":
          throw new ConnectError(
            `session "${sessionId}": data.messages is not a list, there is nothing to append to`,
            Code.FailedPrecondition,
          );
        case "conflict":
          throw versionConflict(sessionId, req.expectedVersion ?? 0n, result.currentVersion);
      }
    },

    async touch(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      if (req.expiry.case === undefined || (req.expiry.case === "neverExpire" && !req.expiry.value)) {
        throw validate.invalidArgument("expiry", "set expires_in, expires_at or never_expire = true");
      }
      const expiry = validate.expiry(req.expiry);
      const requestKey = validate.requestKey("Touch", TouchRequestSchema, req);
      const token = optionalFencingToken(req.fencingToken);
      const result = await keyed(repository.touch(sessionId, expiry, ctx.signal, requestKey, token));
      switch (result.kind) {
        case "touched":
          return { session: toSession(result.session) };
        case "expiry-in-past":
          throw validate.invalidArgument("expires_at", "must be in the future");
        case "missing":
          throw sessionNotFound(sessionId);
      }
    },

    async delete(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const requestKey = validate.requestKey("Delete", DeleteRequestSchema, req);
      const token = optionalFencingToken(req.fencingToken);
      const deleted = await keyed(repository.delete(sessionId, req.hard, ctx.signal, requestKey, token));
      if (!deleted && !req.allowMissing) throw sessionNotFound(sessionId);
      return { deleted, hard: req.hard };
    },
  };
}
