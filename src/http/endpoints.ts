/**
 * The seed's HTTP endpoints, and PUT / DELETE beside them, each one SessionService call: read the
 * parameters (params.ts), call the RPC in process (in-process.ts), answer in the seed's field names
 * (shapes.ts). The paths are the OpenAPI document's (openapi.ts); a test holds the two together.
 */
import { create, fromJson, type JsonObject } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import type { RestoreResponse } from "../../gen/isotope/session/v1/session_pb.js";
import type { SessionClient } from "./in-process.js";
import { invalid, type ParamRules, type Params } from "./params.js";
import {
  cleanupShape,
  connectionShape,
  durabilityName,
  restoreShape,
  sessionShape,
  statisticsShape,
} from "./shapes.js";

export type Method = "GET" | "PUT" | "POST" | "DELETE";

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** One request, as an endpoint sees it. */
export interface Call {
  params: Params;
  /** The path's `{session_id}`, decoded; "" on paths without one. */
  sessionId: string;
  /** Forwarded headers and the caller's abort signal, for the RPC. */
  options: { headers: Headers; signal: AbortSignal };
  /** The `Idempotency-Key` header: the write's request_id ("" without one). */
  requestId: string;
}

export interface Endpoint {
  method: Method;
  /** The OpenAPI path template. */
  path: string;
  params: ParamRules;
  /** Parameters may come in a JSON body too. */
  body?: boolean;
  run(call: Call): Promise<Answer>;
}

const int32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const uint32 = [0, 2 ** 32 - 1] as const;
const ok = (body: unknown): Answer => ({ status: 200, body });
const scan = ["include_inactive", "batch_size", "metadata_filter"];

/** Every endpoint, over `client`; `document` is what GET /api/openapi.json serves. */
export function createEndpoints(client: SessionClient, document: unknown): Endpoint[] {
  // The last Restore this server ran through the HTTP API (the seed's GET /api/sessions/restored).
  let lastRestore: JsonObject | undefined;
  const restore = async ({ params, options }: Call): Promise<Answer> => {
    const result: RestoreResponse = await client.restore(
      {
        includeInactive: params.boolean("include_inactive"),
        batchSize: params.integer("batch_size", ...int32),
        metadataFilter: params.metadataFilter(),
      },
      options,
    );
    // The server's clock, not the database's: it says when this server ran it.
    lastRestore = { restored: true, restored_at: new Date().toISOString(), ...restoreShape(result) };
    return ok(restoreShape(result));
  };

  return [
    {
      method: "GET",
      path: "/api/sessions/postgres/sessions",
      params: {
        known: ["limit", "offset", "page_token", "include_inactive", "include_data", "metadata_filter"],
        filters: true,
      },
      async run({ params, options }) {
        const { sessions, nextPageToken } = await client.list(
          {
            limit: params.integer("limit", ...int32),
            offset: params.integer("offset", ...int32),
            pageToken: params.string("page_token"),
            includeInactive: params.boolean("include_inactive"),
            includeData: params.boolean("include_data"),
            metadataFilter: params.metadataFilter(),
          },
          options,
        );
        return ok({ sessions: sessions.map(sessionShape), next_page_token: nextPageToken, count: sessions.length });
      },
    },
    {
      method: "GET",
      path: "/api/sessions/postgres/sessions/{session_id}",
      params: { known: ["include_inactive", "last_messages"] },
      async run({ params, sessionId, options }) {
        const { session, durability } = await client.load(
          {
            sessionId,
            includeInactive: params.boolean("include_inactive"),
            lastMessages: params.integer("last_messages", ...uint32),
          },
          options,
        );
        return ok({ ...sessionShape(session), durability: durabilityName(durability) });
      },
    },
    {
      method: "PUT",
      path: "/api/sessions/postgres/sessions/{session_id}",
      params: { known: ["session_data", "data", "metadata", "expires_in_hours", "expires_at", "expected_version"] },
      body: true,
      async run({ params, sessionId, options, requestId }) {
        const data = params.object("session_data");
        if (data !== undefined && params.object("data") !== undefined) {
          throw invalid("session_data", "give session_data or data, not both");
        }
        const expiresInHours = params.number("expires_in_hours");
        const expiresAt = params.string("expires_at");
        if (expiresInHours !== undefined && expiresAt !== undefined) {
          throw invalid("expires_in_hours", "give expires_in_hours or expires_at, not both");
        }
        const expectedVersion = params.integer("expected_version", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        const { session, created, durability } = await client.save(
          {
            sessionId,
            data: data ?? params.object("data"),
            metadata: params.object("metadata"),
            expiry:
              expiresInHours !== undefined
                ? { case: "expiresIn", value: hours(expiresInHours, "expires_in_hours") }
                : expiresAt !== undefined
                  ? { case: "expiresAt", value: instant(expiresAt, "expires_at") }
                  : { case: undefined },
            expectedVersion: expectedVersion === undefined ? undefined : BigInt(expectedVersion),
            requestId,
          },
          options,
        );
        return {
          status: created ? 201 : 200,
          body: {
            session_id: sessionId,
            version: Number(session?.version ?? 0n),
            created,
            durability: durabilityName(durability),
          },
          headers: created
            ? { location: `/api/sessions/postgres/sessions/${encodeURIComponent(sessionId)}` }
            : undefined,
        };
      },
    },
    {
      method: "DELETE",
      path: "/api/sessions/postgres/sessions/{session_id}",
      params: { known: ["hard", "allow_missing"] },
      async run({ params, sessionId, options, requestId }) {
        const { deleted, hard } = await client.delete(
          { sessionId, hard: params.boolean("hard"), allowMissing: params.boolean("allow_missing"), requestId },
          options,
        );
        return ok({ deleted, hard });
      },
    },
    {
      method: "GET",
      path: "/api/sessions/postgres/statistics",
      params: { known: [] },
      run: async ({ options }) => ok(statisticsShape(await client.statistics({}, options))),
    },
    {
      method: "POST",
      path: "/api/sessions/postgres/restore",
      params: { known: scan, filters: true },
      body: true,
      run: restore,
    },
    {
      method: "POST",
      path: "/api/sessions/postgres/cleanup",
      params: { known: ["hard_delete", "dry_run", "batch_size", "purge_inactive_older_than_hours"] },
      body: true,
      async run({ params, options }) {
        const purgeHours = params.number("purge_inactive_older_than_hours");
        const dryRun = params.boolean("dry_run") ?? false;
        const result = await client.cleanup(
          {
            hardDelete: params.boolean("hard_delete"),
            dryRun,
            batchSize: params.integer("batch_size", ...int32),
            purgeInactiveOlderThan:
              purgeHours === undefined ? undefined : hours(purgeHours, "purge_inactive_older_than_hours"),
          },
          options,
        );
        return ok(cleanupShape(result, dryRun));
      },
    },
    {
      method: "GET",
      path: "/api/sessions/postgres/connection/test",
      params: { known: [] },
      async run({ options }) {
        const check = await client.checkConnection({}, options);
        // A status a load balancer or `curl -f` can act on; the body says why.
        return { status: check.ok ? 200 : 503, body: connectionShape(check) };
      },
    },
    { method: "POST", path: "/api/sessions/restore", params: { known: scan, filters: true }, body: true, run: restore },
    {
      method: "GET",
      path: "/api/sessions/restored",
      params: { known: [] },
      async run({ options }) {
        // It names sessions: whoever may run a restore may read it. The access check is the RPC
        // chain's, through CheckConnection (the same roles as Restore; one `SELECT 1`).
        await client.checkConnection({}, options);
        return ok(lastRestore ?? { restored: false, restored_at: null });
      },
    },
    { method: "GET", path: "/api/openapi.json", params: { known: [] }, run: async () => ok(document) },
  ];
}

/** A duration of `value` hours, as the RPC's Duration. */
function hours(value: number, name: string): Duration {
  const total = value * 3600;
  // Far beyond what any RPC accepts (1,000 years), but within what its message can carry.
  if (Math.abs(total) > 1e15) throw invalid(name, "is out of range");
  const seconds = Math.trunc(total);
  const nanos = Math.max(-999_999_999, Math.min(999_999_999, Math.round((total - seconds) * 1e9)));
  return create(DurationSchema, { seconds: BigInt(seconds), nanos });
}

function instant(text: string, name: string): Timestamp {
  try {
    return fromJson(TimestampSchema, text);
  } catch {
    throw invalid(name, "must be an RFC 3339 time, such as 2030-01-01T00:00:00Z");
  }
}
