-- Replaying dead letters after a fix: a request flag, and the history of every replay.
-- `replays` is a JSON array (as text) of {"requested_at", "run_id", "at", "result"}.
ALTER TABLE dead_letters ADD COLUMN replay_requested_at TEXT;
ALTER TABLE dead_letters ADD COLUMN replays TEXT NOT NULL DEFAULT '[]';
