-- The change feed's durable log (Watch; src/sessions/repository/change-log.ts says how it is
-- written and sequenced). Every write of this service inserts one row per changed session in the
-- same statement as the change, so a rolled-back write leaves none. `id` is insert order only; the
-- commit order clients resume by is `seq`, given later to committed rows by one sequencing step at
-- a time (locking {{table}}_feed's row), in id order — so it is never reused, has no gaps, and a
-- session's changes get it in version order. `metadata` is the session's at the change: Watch
-- filters on it, and a hard-deleted or purged session has no row left to join.
-- Suffixes keep a 55-character table name within PostgreSQL's 63-byte identifiers.
CREATE TABLE IF NOT EXISTS {{table}}_changes (
  id bigserial PRIMARY KEY,
  seq bigint,
  session_id varchar(255) NOT NULL,
  kind text NOT NULL CHECK (kind IN ('saved', 'appended', 'touched', 'deleted', 'hard_deleted', 'expired', 'purged')),
  version bigint NOT NULL,
  metadata jsonb NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT clock_timestamp());
-- Partial: an event gets no entry here until it is numbered (reads ask for seq > n, which implies it).
CREATE UNIQUE INDEX IF NOT EXISTS {{table}}_chseq ON {{table}}_changes (seq) WHERE seq IS NOT NULL;
-- Rows waiting for their seq: the sequencing step reads them in id order.
CREATE INDEX IF NOT EXISTS {{table}}_chnew ON {{table}}_changes (id) WHERE seq IS NULL;
-- One row: the last seq given, and how far trimming went (a Watch from before it is OUT_OF_RANGE).
CREATE TABLE IF NOT EXISTS {{table}}_feed (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  last_seq bigint NOT NULL,
  trimmed_through bigint NOT NULL);
INSERT INTO {{table}}_feed (one, last_seq, trimmed_through) VALUES (true, 0, 0) ON CONFLICT DO NOTHING;
-- One sequencing step, in one round trip: lock the feed row, then — with a snapshot taken after
-- the lock (a VOLATILE function's statements each take a fresh one), so every earlier step's work
-- is seen — number up to `batch` committed, unnumbered events in id order after last_seq.
CREATE OR REPLACE FUNCTION {{table}}_seq(batch integer,
    OUT new_last_seq bigint, OUT retained_after bigint, OUT numbered bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  base bigint;
BEGIN
  SELECT f.last_seq INTO base FROM {{table}}_feed f FOR UPDATE;
  WITH pending AS (
      SELECT c.id, row_number() OVER (ORDER BY c.id) AS n FROM {{table}}_changes c
      WHERE c.seq IS NULL ORDER BY c.id LIMIT batch),
    given AS (
      UPDATE {{table}}_changes c SET seq = base + p.n FROM pending p WHERE c.id = p.id AND c.seq IS NULL
      RETURNING c.seq)
  UPDATE {{table}}_feed f SET last_seq = COALESCE((SELECT max(g.seq) FROM given g), f.last_seq)
  RETURNING f.last_seq, f.trimmed_through, (SELECT count(*) FROM given)
  INTO new_last_seq, retained_after, numbered;
END
$$;
