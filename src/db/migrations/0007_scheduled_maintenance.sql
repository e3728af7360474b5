-- Scheduled maintenance (src/maintenance/): one row per job, claimed by one replica per interval
-- with one atomic upsert on the database clock (job.ts says how), and the sessions-by-state
-- samples the leading replica takes each interval. Suffixes keep a 55-character table name
-- within PostgreSQL's 63-byte identifiers. No lock is held between statements: a killed
-- replica or a lost connection leaves only a lease that expires on its own.
CREATE TABLE IF NOT EXISTS {{table}}_jobs (
  job text PRIMARY KEY,
  -- Claims so far; a run's number, so only its own claim may renew or end its lease.
  run bigint NOT NULL,
  -- The interval last claimed: its start, in milliseconds since the epoch (database clock).
  slot_ms bigint NOT NULL,
  holder text NOT NULL,
  claimed_at timestamptz NOT NULL,
  -- Until when the run in progress holds the job; NULL once it ended.
  lease_until timestamptz,
  -- The last run that ended, as its replica recorded it.
  last_replica text,
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_duration_ms bigint,
  last_expired bigint,
  last_purged bigint,
  last_error text);
CREATE TABLE IF NOT EXISTS {{table}}_samples (
  taken_at timestamptz PRIMARY KEY,
  active bigint NOT NULL,
  inactive bigint NOT NULL,
  expired bigint NOT NULL,
  total_messages bigint NOT NULL,
  total_data_bytes bigint NOT NULL);
