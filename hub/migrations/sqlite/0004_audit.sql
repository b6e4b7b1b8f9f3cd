-- The audit log: one row per write the hub made to a system (see hub/src/audit.rs).
-- Append-only and hash-chained: `hash` is HMAC-SHA256, under a key derived from the state key,
-- of the row's fields and `prev_hash` (the previous row's `hash`). Ids run 1, 2, 3, ... and are
-- given by the hub (not AUTOINCREMENT) because each hash covers its id. No personal data:
-- records are named by their key hash and the system's id.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    sync       TEXT NOT NULL,
    run_id     INTEGER NOT NULL,
    system     TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('a', 'b')),
    key_hash   TEXT NOT NULL,
    action     TEXT NOT NULL,
    result     TEXT NOT NULL,
    remote_id  TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_sync ON audit (sync, id);

-- The hub never changes or removes an entry. These refuse it to anyone using the database
-- through SQL by mistake; someone who drops them is caught by `hub audit verify`.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
