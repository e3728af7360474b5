-- List and Restore filter by metadata containment (metadata @> '{"user_id": "u1"}'). On a big
-- table a selective filter needs an index, or every page is a scan of the whole table (1,000,000
-- sessions: 350 ms → under 1 ms for one user's page, bench/RESULTS.md). jsonb_path_ops: smaller
-- and faster than the default operator class, and containment is the only operator we use.
-- Built inside the migration's transaction, so it blocks writes while it builds on an existing
-- big table (seconds per million rows here); build it CONCURRENTLY by hand first to avoid that
-- — IF NOT EXISTS then skips it.
CREATE INDEX IF NOT EXISTS idx_{{table}}_metadata ON {{table}} USING gin (metadata jsonb_path_ops);
-- One user's sessions newest first, the List every engine UI makes: equality on user_id and the
-- list order in one btree, so a page is read straight off it.
CREATE INDEX IF NOT EXISTS idx_{{table}}_user_list ON {{table}} ((metadata->>'user_id'), last_updated DESC, session_id DESC);
