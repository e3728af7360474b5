-- Append without rewriting history (DESIGN notes: docs/append.md). PostgreSQL rewrites a whole
-- TOASTed jsonb on any change, so a session's messages move, on its first Append, out of
-- session_data into {{table}}_msg, one row per message keyed by (session_id, seq); later Appends
-- insert rows and touch the session row's small columns only. messages_external says where a
-- session's messages are; external_messages counts them. Reads put them back in order under
-- data.messages. A Save of the whole document brings them home (messages_external = false) and
-- the trigger below deletes the rows. Rows written by the seed's manager have
-- messages_external = false and read as before.
ALTER TABLE {{table}} ADD COLUMN IF NOT EXISTS messages_external boolean NOT NULL DEFAULT false;
ALTER TABLE {{table}} ADD COLUMN IF NOT EXISTS external_messages bigint NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS {{table}}_msg (
  session_id varchar(255) NOT NULL REFERENCES {{table}} (session_id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  message jsonb NOT NULL,
  PRIMARY KEY (session_id, seq));
CREATE OR REPLACE FUNCTION {{table}}_mh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM {{table}}_msg WHERE session_id = NEW.session_id; RETURN NULL; END
$$;
CREATE TRIGGER {{table}}_mh AFTER UPDATE OF messages_external ON {{table}}
  FOR EACH ROW WHEN (OLD.messages_external AND NOT NEW.messages_external)
  EXECUTE FUNCTION {{table}}_mh();
