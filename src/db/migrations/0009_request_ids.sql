-- Idempotency keys of keyed writes (request_id; src/sessions/repository/request-keys.ts): the key's
-- row is inserted in the same transaction as its write, so the two commit together or not at all.
-- A duplicate waits on the primary key until the first commits, then reads its result. Rows older
-- than the window are replaced by a new request with the key, and trimmed by the scheduled maintenance.
-- Short suffixes keep a 55-character table name within PostgreSQL's 63-byte identifiers.
CREATE TABLE IF NOT EXISTS {{table}}_reqids (
  request_id text PRIMARY KEY,
  method text NOT NULL,
  session_id varchar(255) NOT NULL,
  request_hash text NOT NULL,
  result text,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS {{table}}_reqat ON {{table}}_reqids (created_at);
