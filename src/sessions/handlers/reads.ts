/** The reading RPCs: Load and List. validate → repository → response, like the writes. */
import type { ServiceImpl } from "@connectrpc/connect";
import { Durability, type SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import { decodePageToken, encodePageToken, toSession } from "../convert.js";
import { lastMessages, servable, sessionNotFound } from "../responses.js";
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
      return {
        session: lastMessages(servable(row), req.lastMessages),
        durability: row.spooled ? Durability.SPOOLED : Durability.DATABASE,
      };
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
