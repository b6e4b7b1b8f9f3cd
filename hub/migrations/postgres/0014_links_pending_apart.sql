-- The links in two tables (issue 17). `links` becomes `links_at_rest`; a commit stores a
-- pending link (a change staged, a write decided or in flight, a retry, a conflict: work left)
-- in `links_pending` instead, and the commit that settles it writes it at rest and deletes its
-- pending row. A new record's link is thus written at rest once, at its settled size,
-- appended after the others, instead of being written when its change is staged and rewritten
-- bigger when it settles, which split the table's pages (about 118 bytes of free space per
-- link: docs/performance.md). `links_pending` holds the keys with work left, about a batch's
-- during a run; its pages are reused batch after batch.
--
-- `links` is now the view the hub reads: a key's row in `links_pending` if it has one, else its
-- row at rest; the row at rest of a pending key is the link as it last settled, never read,
-- replaced by the commit that settles the key. What each commit stores, and so each crash
-- point of docs/architecture.md, is unchanged: only the table that holds it is. Links stored
-- pending before this migration stay at rest and are read as they are; the partial index of
-- pending links at rest stays for them and for keys marked pending in place (a person's
-- decision on a conflict, a dead letter's replay: both tables are marked).
--
-- A daemon of the previous version still running when this migration runs (another `hub`
-- command migrated the store under it) reads the same links through the view, and its first
-- commit of a batch, which comes before any write, fails: a view takes no INSERT.
--
-- The view lists the columns by name: a later migration that adds a column to the links adds
-- it to both tables and to this view (a missing one fails every read of the hub's tests).

ALTER TABLE links RENAME TO links_at_rest;
ALTER INDEX links_pending RENAME TO links_at_rest_pending;

CREATE TABLE links_pending (
    LIKE links_at_rest INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (sync, key_hash)
);

CREATE VIEW links AS
SELECT sync, key_hash, a_remote_id, a_version, a_updated_at, a_hash, a_written_hash, a_snapshot, a_settled_hash, a_settled, a_intent, a_deleted, a_settled_deleted, b_remote_id, b_version, b_updated_at, b_hash, b_written_hash, b_snapshot, b_settled_hash, b_settled, b_intent, b_deleted, b_settled_deleted, base, pending, attempts, last_error, updated_at, sealed FROM links_pending
UNION ALL
SELECT l.sync, l.key_hash, l.a_remote_id, l.a_version, l.a_updated_at, l.a_hash, l.a_written_hash, l.a_snapshot, l.a_settled_hash, l.a_settled, l.a_intent, l.a_deleted, l.a_settled_deleted, l.b_remote_id, l.b_version, l.b_updated_at, l.b_hash, l.b_written_hash, l.b_snapshot, l.b_settled_hash, l.b_settled, l.b_intent, l.b_deleted, l.b_settled_deleted, l.base, l.pending, l.attempts, l.last_error, l.updated_at, l.sealed FROM links_at_rest l
WHERE NOT EXISTS (SELECT 1 FROM links_pending p WHERE p.sync = l.sync AND p.key_hash = l.key_hash);
