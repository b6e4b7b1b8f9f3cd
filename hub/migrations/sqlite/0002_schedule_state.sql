-- Per-sync scheduling state, shared by every daemon on the store and by the CLI.
CREATE TABLE schedule_state (
    sync              TEXT PRIMARY KEY,
    -- Every fire time up to this instant (RFC 3339, UTC) has been run or deliberately skipped.
    handled_through   TEXT,
    paused            INTEGER NOT NULL DEFAULT 0,
    -- A manual run asked for (by `hub trigger`) and not yet started.
    trigger_requested TEXT,
    updated_at        TEXT NOT NULL
);
