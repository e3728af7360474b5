/**
 * The HTTP API described as OpenAPI 3.1, served at GET /api/openapi.json. The one description of
 * the endpoints' parameters and answers: test/e2e/http-api-openapi.test.ts validates it with an
 * OpenAPI validator, checks every path and method against endpoints.ts, and checks real answers
 * against these schemas.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const json = (schema: object) => ({ content: { "application/json": { schema } } });
const nullable = (type: string, extra: object = {}) => ({ type: [type, "null"], ...extra });
const orNull = (schema: object) => ({ anyOf: [schema, { type: "null" }] });
const time = (description: string) => nullable("string", { format: "date-time", description });
const count = (description: string) => ({ type: "integer", minimum: 0, description });
const object = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({
  type: "object",
  properties,
  required,
  additionalProperties: false,
});
const query = (name: string, schema: object, description: string) => ({ name, in: "query", schema, description });

/** A session's figures, as list_sessions returned them. */
const summary = {
  session_id: { type: "string", description: "The caller-chosen key (1 to 255 characters)." },
  metadata: { type: "object", description: "Free-form metadata (user_id, name, ...)." },
  created_at: time("When the session was first saved (database clock, UTC)."),
  last_updated: time("When the session was last written (database clock, UTC)."),
  expires_at: time("When it expires; null = never."),
  version: { type: "integer", minimum: 0, description: "1 when created, +1 per write; 0 while a write is spooled." },
  is_active: { type: "boolean", description: "False once soft-deleted or expired by cleanup." },
  message_count: count("Length of data.messages when it is a list."),
};
const data = { type: "object", description: "The session_data object." };
const durability = {
  type: "string",
  enum: ["database", "spooled"],
  description: "Where the write (or the version read) is durable: the database, or the outage journal.",
};

const restoreResult = {
  restored_count: count("Sessions that can be served."),
  failed_count: count("Sessions that cannot (named in failed_sessions)."),
  failed_sessions: {
    type: "array",
    items: object({ session_id: { type: "string" }, reason: { type: "string" } }),
  },
  skipped_expired_count: count("Active sessions past expires_at, awaiting cleanup."),
  duration_seconds: { type: "number", minimum: 0 },
};

const error = (description: string) => ({ description, ...json(ref("Error")) });
const errors = {
  "400": error("invalid_argument: a malformed or unknown parameter, bad JSON, or a value the RPC refuses."),
  "401": error("unauthenticated: access control is on and no valid bearer token was sent."),
  "403": error("permission_denied: the token's role may not call this, or a browser origin CORS does not allow."),
  "413": error("resource_exhausted: the body is over max_receive_bytes, or data over max_session_bytes."),
  "503": error("unavailable: the database cannot be reached, or the server is shutting down; retry."),
  default: error("Any other failure, as {code, message} (see the Error schema)."),
};

const filterParameters = [parameter("MetadataFilter"), parameter("MetadataByKey")];
const scanParameters = [parameter("IncludeInactive"), parameter("BatchSize"), ...filterParameters];

const restoreOperation = (summaryText: string, operationId: string) => ({
  summary: summaryText,
  operationId,
  description:
    "Scans every active, unexpired session (and soft-deleted ones with include_inactive) and names each one whose " +
    "stored data cannot be served. Options from the query or the JSON body. The result is kept for GET /api/sessions/restored.",
  parameters: scanParameters,
  requestBody: { required: false, ...json(ref("ScanOptions")) },
  responses: { "200": { description: "The scan's result.", ...json(ref("RestoreResult")) }, ...errors },
});

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Isotope Sessions HTTP API",
    version: "1",
    description:
      "The seed's session endpoints as JSON on the service's one port (HTTP/1.1 and HTTP/2, TLS when configured). " +
      "Each endpoint is one isotope.session.v1.SessionService call through the same validation, access control and " +
      "logging as the RPCs. Query parameters an endpoint does not know are refused, except on the list and restore " +
      "endpoints, where each is a metadata filter (user_id=u1). A failure is {code, message} with Connect's code name.",
  },
  security: [{ bearerAuth: [] }, {}],
  paths: {
    "/api/sessions/postgres/sessions": {
      get: {
        summary: "List sessions",
        operationId: "listSessions",
        description:
          "Newest last_updated first. Page with offset (as the seed) or page_token (keyset, stable under writes).",
        parameters: [
          query("limit", { type: "integer", minimum: 1, maximum: 1000, default: 50 }, "Page size."),
          query("offset", { type: "integer", minimum: 0, default: 0 }, "Rows to skip; not with page_token."),
          query("page_token", { type: "string" }, "next_page_token of the previous page."),
          parameter("IncludeInactive"),
          query("include_data", { type: "boolean", default: false }, "Return each session's data too."),
          ...filterParameters,
        ],
        responses: { "200": { description: "One page.", ...json(ref("SessionList")) }, ...errors },
      },
    },
    "/api/sessions/postgres/sessions/{session_id}": {
      parameters: [parameter("SessionId")],
      get: {
        summary: "Load a session",
        operationId: "loadSession",
        parameters: [
          parameter("IncludeInactive"),
          query(
            "last_messages",
            { type: "integer", minimum: 0 },
            "Only the last N entries of data.messages (0 = all); message_count still counts all.",
          ),
        ],
        responses: {
          "200": { description: "The session with its data.", ...json(ref("Session")) },
          "404": error("not_found: missing, soft-deleted (without include_inactive) or expired."),
          ...errors,
        },
      },
      put: {
        summary: "Save a session",
        operationId: "saveSession",
        description:
          "Creates or replaces the session's data (reactivating a soft-deleted one). Unset metadata keeps the stored " +
          "metadata; no expiry = never expires. expected_version makes it a compare-and-set (0 = must not exist).",
        requestBody: { required: true, ...json(ref("SaveBody")) },
        responses: {
          "200": { description: "Replaced.", ...json(ref("SaveResult")) },
          "201": {
            description: "Created.",
            headers: { Location: { schema: { type: "string" }, description: "This session's path." } },
            ...json(ref("SaveResult")),
          },
          "409": error("aborted: expected_version does not match (version_conflict has the current version)."),
          ...errors,
        },
      },
      delete: {
        summary: "Delete a session",
        operationId: "deleteSession",
        description: "Soft by default (a later save revives it); hard=true removes the row.",
        parameters: [
          query("hard", { type: "boolean", default: false }, "Remove the row."),
          query("allow_missing", { type: "boolean", default: false }, "deleted=false instead of 404 when missing."),
        ],
        responses: {
          "200": { description: "Deleted.", ...json(ref("DeleteResult")) },
          "404": error("not_found: nothing to delete."),
          ...errors,
        },
      },
    },
    "/api/sessions/postgres/statistics": {
      get: {
        summary: "Figures over the whole table",
        operationId: "sessionStatistics",
        responses: { "200": { description: "The seed's statistics.", ...json(ref("Statistics")) }, ...errors },
      },
    },
    "/api/sessions/postgres/restore": {
      post: restoreOperation("Check every session an engine would restore", "restoreSessions"),
    },
    "/api/sessions/postgres/cleanup": {
      post: {
        summary: "Expire and purge sessions",
        operationId: "cleanupSessions",
        description:
          "Marks expired sessions inactive (or deletes them with hard_delete) and deletes rows inactive for longer " +
          "than purge_inactive_older_than_hours, in batches. Options from the query or the JSON body. Role admin.",
        parameters: [
          query("hard_delete", { type: "boolean", default: false }, "Delete expired sessions."),
          query("dry_run", { type: "boolean", default: false }, "Count only; change nothing."),
          parameter("BatchSize"),
          query("purge_inactive_older_than_hours", { type: "number", exclusiveMinimum: 0 }, "Purge age, in hours."),
        ],
        requestBody: { required: false, ...json(ref("CleanupOptions")) },
        responses: { "200": { description: "What was done.", ...json(ref("CleanupResult")) }, ...errors },
      },
    },
    "/api/sessions/postgres/connection/test": {
      get: {
        summary: "Test the database connection",
        operationId: "testConnection",
        responses: {
          "200": { description: "The database answered.", ...json(ref("ConnectionTest")) },
          "503": {
            description:
              "The database did not answer (success false, error set); or, as {code, message}, the server is still " +
              "opening its database or shutting down.",
            ...json({ anyOf: [ref("ConnectionTest"), ref("Error")] }),
          },
          default: errors.default,
        },
      },
    },
    "/api/sessions/restore": {
      post: restoreOperation("Run a restore check now (compatibility)", "restoreNow"),
    },
    "/api/sessions/restored": {
      get: {
        summary: "The last restore this server ran (compatibility)",
        operationId: "lastRestore",
        description: "restored=false (and nothing else) until a restore ran through this API on this server.",
        responses: { "200": { description: "The last result.", ...json(ref("LastRestore")) }, ...errors },
      },
    },
    "/api/openapi.json": {
      get: {
        summary: "This document",
        operationId: "openApi",
        security: [],
        responses: { "200": { description: "OpenAPI 3.1.", ...json({ type: "object" }) } },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: "http",
        scheme: "bearer",
        description:
          "Needed when auth tokens are configured; the token's role (read, write, admin) decides what it may call.",
      },
    },
    parameters: {
      SessionId: {
        name: "session_id",
        in: "path",
        required: true,
        schema: { type: "string", minLength: 1 },
        description: "The session key, percent-encoded.",
      },
      IncludeInactive: query("include_inactive", { type: "boolean", default: false }, "Include soft-deleted sessions."),
      BatchSize: query("batch_size", { type: "integer", minimum: 1, maximum: 10000 }, "Rows per batch."),
      MetadataFilter: query(
        "metadata_filter",
        { type: "string" },
        'Only sessions whose metadata contains this JSON object, e.g. {"user_id":"u1"} (typed values).',
      ),
      MetadataByKey: {
        name: "metadata",
        in: "query",
        style: "form",
        explode: true,
        schema: { type: "object", additionalProperties: { type: "string" } },
        description:
          "Any other query parameter, bare (user_id=u1) or as metadata.<key>=value: metadata must contain that key " +
          "with that string value.",
      },
    },
    schemas: {
      Error: object(
        {
          code: {
            type: "string",
            enum: [
              "canceled",
              "unknown",
              "invalid_argument",
              "deadline_exceeded",
              "not_found",
              "already_exists",
              "permission_denied",
              "resource_exhausted",
              "failed_precondition",
              "aborted",
              "out_of_range",
              "unimplemented",
              "internal",
              "unavailable",
              "data_loss",
              "unauthenticated",
            ],
          },
          message: { type: "string" },
          version_conflict: object({
            session_id: { type: "string" },
            expected_version: { type: "integer" },
            current_version: { type: "integer", description: "0 when the session does not exist." },
          }),
        },
        ["code", "message"],
      ),
      SessionSummary: object(summary),
      Session: object({ ...summary, data, durability }),
      SessionList: object({
        sessions: {
          type: "array",
          items: object({ ...summary, data }, Object.keys(summary)),
          description: "Each with data only when include_data=true.",
        },
        next_page_token: { type: "string", description: "Pass as page_token for the next page; empty on the last." },
        count: count("Sessions on this page."),
      }),
      SaveBody: object(
        {
          session_data: { ...data, description: "Required (or as data): the whole session_data object." },
          data: { ...data, description: "The same as session_data." },
          metadata: nullable("object", { description: "Metadata to store; unset keeps the stored metadata." }),
          expires_in_hours: nullable("number", { description: "Expire this long after the write." }),
          expires_at: nullable("string", { format: "date-time", description: "Expire at this instant." }),
          expected_version: nullable("integer", { minimum: 0, description: "Compare-and-set: 0 = must not exist." }),
        },
        [],
      ),
      SaveResult: object({
        session_id: { type: "string" },
        version: summary.version,
        created: { type: "boolean" },
        durability,
      }),
      DeleteResult: object({ deleted: { type: "boolean" }, hard: { type: "boolean" } }),
      Statistics: object({
        total_sessions: count("Every row, active or not."),
        active_sessions: count("Rows with is_active = true (including expired ones not yet cleaned up)."),
        inactive_sessions: count("Soft-deleted rows."),
        expired_sessions: count("Active rows past expires_at, awaiting cleanup."),
        total_messages: count("Sum of message_count over active sessions."),
        avg_messages_per_session: { type: "number", minimum: 0 },
        total_data_bytes: count("Stored size of session_data over all rows."),
        oldest_session: time("The oldest created_at."),
        latest_activity: time("The newest last_updated."),
        created_last_24h: count("Sessions created in the last 24 hours."),
      }),
      ScanOptions: object(
        {
          include_inactive: nullable("boolean"),
          batch_size: nullable("integer", { minimum: 1, maximum: 10000 }),
          metadata_filter: nullable("object"),
        },
        [],
      ),
      RestoreResult: object(restoreResult),
      LastRestore: object(
        { restored: { type: "boolean" }, restored_at: time("When this server ran it."), ...restoreResult },
        ["restored", "restored_at"],
      ),
      CleanupOptions: object(
        {
          hard_delete: nullable("boolean"),
          dry_run: nullable("boolean"),
          batch_size: nullable("integer", { minimum: 1, maximum: 10000 }),
          purge_inactive_older_than_hours: nullable("number", { exclusiveMinimum: 0 }),
        },
        [],
      ),
      CleanupResult: object({
        expired_count: count("Expired sessions marked inactive (or deleted with hard_delete)."),
        purged_count: count("Long-inactive sessions deleted."),
        cleaned_count: count("The seed's name for expired_count."),
        dry_run: { type: "boolean" },
        duration_seconds: { type: "number", minimum: 0 },
      }),
      ConnectionTest: object(
        {
          success: { type: "boolean", description: "The seed's name for ok." },
          ok: { type: "boolean" },
          latency_ms: { type: "number", minimum: 0 },
          backend: { type: "string", enum: ["postgres", "embedded"] },
          server_version: { type: "string" },
          database: { type: "string" },
          pool: object({ total: count("Connections open."), idle: count("Idle."), waiting: count("Queries waiting.") }),
          cache: orNull(
            object({
              enabled: { type: "boolean" },
              coherent: { type: "boolean" },
              hits: count("Loads answered from memory."),
              misses: count("Loads that read the database."),
              entries: count("Sessions held."),
              bytes: count("Memory held (estimate)."),
              max_bytes: count("The configured bound."),
            }),
          ),
          spool: orNull(
            object({
              enabled: { type: "boolean" },
              pending: count("Spooled writes not yet in the database."),
              spooled: count("Writes spooled since start-up."),
              replayed: count("Spooled writes replayed since start-up."),
              conflicts: count("Spooled writes not replayed: the session changed meanwhile."),
            }),
          ),
          error: { type: "string", description: "Why the round trip failed (success false only)." },
        },
        ["success", "ok", "latency_ms", "backend", "server_version", "database", "pool", "cache", "spool"],
      ),
    },
  },
};
