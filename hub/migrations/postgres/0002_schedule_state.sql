-- Per-sync scheduling state, shared by every daemon on the store and by the CLI.
CREATE TABLE schedule_state (
    sync              TEXT PRIMARY KEY,
    -- Every fire time up to this instant (RFC 3339, UTC, milliseconds) has been run or skipped.
    handled_through   TEXT,
    paused            BOOLEAN NOT NULL DEFAULT FALSE,
    trigger_requested TEXT,
    updated_at        TEXT NOT NULL
);
