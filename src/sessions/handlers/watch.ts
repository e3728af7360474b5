/**
 * Watch: the change feed as a server stream (src/feed/ holds the reader and the streams). Validates
 * the request, then sends what the feed yields; the feed's failures become Connect codes here.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ChangeEvent_Kind,
  type ChangeEventSchema,
  type SessionService,
} from "../../../gen/isotope/session/v1/session_pb.js";
import { FeedError, type WatchBatch } from "../../feed/contract.js";
import { toTimestamp } from "../convert.js";
import type { ChangeKind } from "../repository/change-log.js";
import * as validate from "../validate.js";
import type { HandlerDeps } from "./deps.js";

const kinds: Record<ChangeKind, ChangeEvent_Kind> = {
  saved: ChangeEvent_Kind.SAVED,
  appended: ChangeEvent_Kind.APPENDED,
  touched: ChangeEvent_Kind.TOUCHED,
  deleted: ChangeEvent_Kind.DELETED,
  hard_deleted: ChangeEvent_Kind.HARD_DELETED,
  expired: ChangeEvent_Kind.EXPIRED,
  purged: ChangeEvent_Kind.PURGED,
};

/** Most session ids one Watch may name. */
const maxSessionIds = 1000;

export function createWatchHandler({ feed, limits }: HandlerDeps) {
  const watch: ServiceImpl<typeof SessionService>["watch"] = async function* (req, ctx) {
    if (!feed.enabled) {
      throw new ConnectError(
        "the change feed is off on this server (changes.enabled = false): Watch is not available",
        Code.FailedPrecondition,
      );
    }
    if (req.sinceSequence < 0n) throw validate.invalidArgument("since_sequence", "must not be negative");
    if (req.sessionIds.length > maxSessionIds) {
      throw validate.invalidArgument("session_ids", `at most ${maxSessionIds} may be named`);
    }
    const ids = req.sessionIds.map((id, i) => validate.sessionId(id, `session_ids[${i}]`));
    const filter = validate.metadataFilter(req.metadataFilter, limits);
    const query = {
      sinceSequence: req.sinceSequence,
      sessionIds: ids.length === 0 ? undefined : new Set(ids),
      metadataFilter: filter === undefined ? undefined : (JSON.parse(filter) as Record<string, unknown>),
    };
    try {
      for await (const batch of feed.watch(query, ctx.signal)) yield response(batch);
    } catch (error) {
      throw error instanceof FeedError ? new ConnectError(error.message, codes[error.failure]) : error;
    }
  };
  return { watch };
}

const codes: Record<FeedError["failure"], Code> = {
  "out-of-range": Code.OutOfRange,
  behind: Code.ResourceExhausted,
  stopped: Code.Unavailable,
};

function response(batch: WatchBatch) {
  return {
    sequence: batch.position,
    events: batch.events.map(
      (event): MessageInitShape<typeof ChangeEventSchema> => ({
        sequence: event.sequence,
        sessionId: event.sessionId,
        kind: kinds[event.kind],
        version: event.version,
        committedAt: toTimestamp(event.changedAt),
      }),
    ),
  };
}
