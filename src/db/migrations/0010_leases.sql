-- Leases with fencing (src/sessions/repository/leases.ts): one row per session ever leased. The
-- token only grows: a release or an expiry keeps the row (holder NULL / expires_at past), so the
-- next AcquireLease counts on from it. Writes carrying a token lock the row FOR SHARE in their
-- transaction, so an AcquireLease waits for them (or they see its new token).
CREATE TABLE IF NOT EXISTS {{table}}_leases (
  session_id varchar(255) PRIMARY KEY,
  holder text,
  token bigint NOT NULL,
  expires_at timestamptz NOT NULL);
