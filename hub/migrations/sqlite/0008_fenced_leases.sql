-- Several daemons on one store. A lease carries a fencing token, raised by one every time the
-- lease changes hands (a released lease keeps its row, expired, so the count never restarts):
-- every commit of a run checks, in its transaction, that its holder and token still hold the
-- lease, so a daemon that was paused past its lease cannot write after another took over.
ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
-- Which fire time a scheduled run ran (RFC 3339, UTC): at most one run per fire time, whichever
-- daemon claimed it; which daemon ran it (host:pid); the run it took over from, if any.
ALTER TABLE runs ADD COLUMN scheduled_for TEXT;
ALTER TABLE runs ADD COLUMN holder TEXT;
ALTER TABLE runs ADD COLUMN resumed_from INTEGER;
CREATE UNIQUE INDEX runs_scheduled_once ON runs (sync, scheduled_for) WHERE scheduled_for IS NOT NULL;
-- Facts about the store itself. `key_check`: a keyed hash of a fixed text under the state key
-- the store was first used with, so that a daemon started with another key (which would hash
-- every record key differently) is refused instead of duplicating every record.
CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The pending links' index, on the bare flag: the form both backends' queries write
-- (`AND pending`), which SQLite matches to a partial index only when written the same way.
DROP INDEX links_pending;
CREATE INDEX links_pending ON links (sync, key_hash) WHERE pending;
-- Open dead letters by key, for the per-batch look-up of those a valid copy fixes.
CREATE INDEX dead_letters_open_key ON dead_letters (sync, side, key_hash) WHERE status = 'open';
-- Runs still marked running, which every daemon looks for each second (a run to take over):
-- without it the look-up walks a sync's whole run history whenever none is running.
CREATE INDEX runs_running ON runs (sync, id) WHERE status = 'running';
