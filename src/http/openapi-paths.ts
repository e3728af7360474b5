/**
 * The OpenAPI document's paths: every endpoint of endpoints.ts with its parameters, body and
 * answers, the failures each may answer with among them.
 */
import { json, parameter, query, ref } from "./openapi-builders.js";

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

export const paths = {
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
      parameters: [parameter("IdempotencyKey")],
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
        parameter("IdempotencyKey"),
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
};
