-- The hub's state: cursors, links, run history and dead letters.
-- No personal data in clear: keys are HMAC-SHA256 hex, record snapshots are sealed
-- (ChaCha20-Poly1305), hashes are keyed.

-- Where each endpoint's incremental read stands.
CREATE TABLE cursors (
    sync       TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('a', 'b')),
    cursor     TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sync, side)
);

-- One row per record key per sync: what each side holds, as last seen or written.
CREATE TABLE links (
    sync            TEXT NOT NULL,
    key_hash        TEXT NOT NULL,
    a_remote_id     TEXT,
    a_version       TEXT,
    a_updated_at    TEXT,
    a_hash          TEXT,
    a_written_hash  TEXT,
    a_snapshot      BLOB,
    -- The side's record when the key last settled: NULL hash = never settled; a NULL blob
    -- with a hash equal to a_hash = the snapshot itself.
    a_settled_hash  TEXT,
    a_settled       BLOB,
    -- The record being written there (set before the write, cleared by its result).
    a_intent        BLOB,
    a_deleted       INTEGER NOT NULL DEFAULT 0,
    b_remote_id     TEXT,
    b_version       TEXT,
    b_updated_at    TEXT,
    b_hash          TEXT,
    b_written_hash  TEXT,
    b_snapshot      BLOB,
    -- The side's record when the key last settled: NULL hash = never settled; a NULL blob
    -- with a hash equal to b_hash = the snapshot itself.
    b_settled_hash  TEXT,
    b_settled       BLOB,
    -- The record being written there (set before the write, cleared by its result).
    b_intent        BLOB,
    b_deleted       INTEGER NOT NULL DEFAULT 0,
    -- The merged record at the last complete reconcile (the common ancestor of both sides).
    base            BLOB,
    -- 1 while a side changed and the change is not yet written everywhere it must go.
    pending         INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (sync, key_hash)
);
CREATE INDEX links_pending ON links (sync, key_hash) WHERE pending = 1;

-- Sync run history.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sync        TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    stats       TEXT,
    error       TEXT
);
CREATE INDEX runs_sync ON runs (sync, id);

-- Records that could not be synced, with the reason and the place in the record.
CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sync         TEXT NOT NULL,
    run_id       INTEGER,
    side         TEXT NOT NULL CHECK (side IN ('a', 'b')),
    stage        TEXT NOT NULL CHECK (stage IN ('read', 'write')),
    key_hash     TEXT,
    key_masked   TEXT,
    remote_id    TEXT,
    record_hash  TEXT NOT NULL,
    errors       TEXT NOT NULL,
    record       BLOB,
    occurrences  INTEGER NOT NULL DEFAULT 1,
    status       TEXT NOT NULL DEFAULT 'open',
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE UNIQUE INDEX dead_letters_once ON dead_letters (sync, side, stage, record_hash) WHERE status = 'open';
