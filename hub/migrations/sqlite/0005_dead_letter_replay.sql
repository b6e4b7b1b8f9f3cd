-- Replaying dead letters after a fix: a request flag, and the history of every replay.
-- `replays` is a JSON array of {"requested_at", "run_id", "at", "result"} (RFC 3339 times).
ALTER TABLE dead_letters ADD COLUMN replay_requested_at TEXT;
ALTER TABLE dead_letters ADD COLUMN replays TEXT NOT NULL DEFAULT '[]';
