-- Conflicts: a key whose write a system refused because its record changed since it was read
-- (optimistic concurrency). Each run tries again under the sync's merge policy; a person can
-- decide instead by taking one side's record whole (`take`). Resolved rows are kept as history.
CREATE TABLE conflicts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sync         TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    key_masked   TEXT,
    side         TEXT NOT NULL CHECK (side IN ('a', 'b')),
    reason       TEXT NOT NULL,
    first_run_id INTEGER,
    last_run_id  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 1,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    take         TEXT CHECK (take IN ('a', 'b')),
    resolution   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    resolved_at  TEXT
);
CREATE UNIQUE INDEX conflicts_open ON conflicts (sync, key_hash) WHERE status = 'open';
