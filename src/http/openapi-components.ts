/**
 * The OpenAPI document's components: the bearer-token scheme, the parameters several operations
 * share, and the schema of every body and answer the HTTP API sends or takes (snake_case, as the
 * seed's endpoints answered).
 */
import { count, nullable, object, orNull, query, time } from "./openapi-builders.js";

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

export const components = {
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
    IdempotencyKey: {
      name: "Idempotency-Key",
      in: "header",
      schema: { type: "string", minLength: 1, maxLength: 128, pattern: "^[!-~]+$" },
      description:
        "The write's request_id: a repeat within the server's window applies nothing and answers as the first did; " +
        "the same key with another request is 400.",
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
};
