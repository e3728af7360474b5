/** The reading RPCs: Load and List. validate → repository → response, like the writes. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import { decodePageToken, encodePageToken, toSession } from "../convert.js";
import { loadResponse, servable, sessionNotFound } from "../responses.js";
import * as validate from "../validate.js";
import type { HandlerDeps } from "./deps.js";

const defaultListLimit = 50;

type Reads = Pick<ServiceImpl<typeof SessionService>, "load" | "list">;

export function createReadHandlers({ repository, limits }: HandlerDeps): Reads {
  return {
    async load(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const row = await repository.load(sessionId, req.includeInactive, ctx.signal);
      if (row === undefined) throw sessionNotFound(sessionId);
      return loadResponse(row, req.lastMessages, readsProtobuf(ctx.requestHeader));
    },

    async list(req, ctx) {
      const limit = validate.inRange(req.limit, "limit", 1, 1000, defaultListLimit);
      if (req.offset < 0) throw validate.invalidArgument("offset", "must not be negative");
      if (req.offset > 0 && req.pageToken !== "") {
        throw validate.invalidArgument("page_token", "cannot be combined with offset");
      }
      const after = req.pageToken === "" ? undefined : decodePageToken(req.pageToken);
      const rows = await repository.list(
        {
          // One row more than asked tells whether another page exists.
          limit: limit + 1,
          offset: req.offset,
          after,
          includeInactive: req.includeInactive,
          metadataFilterJson: validate.metadataFilter(req.metadataFilter, limits),
          includeData: req.includeData,
        },
        ctx.signal,
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        sessions: page.map((row) => (req.includeData ? servable(row) : toSession(row))),
        nextPageToken: rows.length > limit && last ? encodePageToken(last) : "",
      };
    },
  };
}

/**
 * Whether the answer will be encoded as protobuf binary: a gRPC, gRPC-Web or Connect content type
 * that is not JSON. No content type (a Connect GET names its encoding in the query) counts as JSON:
 * the message then carries everything either encoding needs.
 */
function readsProtobuf(header: Headers): boolean {
  const type = header.get("content-type");
  return type?.startsWith("application/") === true && !type.includes("json");
}
