-- List pages newest first by the keyset (last_updated, session_id): one index serves the order
-- and the cursor comparison, so the last page costs what the first does.
CREATE INDEX IF NOT EXISTS idx_{{table}}_list_keyset ON {{table}} (last_updated DESC, session_id DESC);
