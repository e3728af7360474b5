-- Change notifications for the hot cache (src/sessions/repository/cache.ts): every statement that
-- inserts, updates or deletes sessions sends one NOTIFY on channel {{table}}_chg, delivered at
-- commit, carrying [[session_id, version, expires_at µs, last_updated µs], …] (version null for a
-- delete; Touch changes the expiry, not the version; the seed's manager changes last_updated, not
-- the version), or "*" when the list would not fit a payload. Statement-level triggers with
-- transition tables: one notification per statement, not per row, and writers outside this
-- service (the seed's manager, psql) are seen too. Names stay under PostgreSQL's 63-byte
-- identifier limit for a 55-character table name.
CREATE OR REPLACE FUNCTION {{table}}_ntf() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  payload text;
BEGIN
  SELECT json_agg(json_build_array(
           session_id,
           CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE COALESCE(version, 1) END,
           (extract(epoch from expires_at) * 1000000)::int8,
           (extract(epoch from last_updated) * 1000000)::int8))::text
    INTO payload
    FROM changed;
  IF payload IS NULL THEN
    RETURN NULL;
  END IF;
  IF octet_length(payload) > 7900 THEN
    payload := '"*"';
  END IF;
  PERFORM pg_notify('{{table}}_chg', payload);
  RETURN NULL;
END
$$;
CREATE TRIGGER {{table}}_ntf_i AFTER INSERT ON {{table}} REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION {{table}}_ntf();
CREATE TRIGGER {{table}}_ntf_u AFTER UPDATE ON {{table}} REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION {{table}}_ntf();
CREATE TRIGGER {{table}}_ntf_d AFTER DELETE ON {{table}} REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION {{table}}_ntf();
