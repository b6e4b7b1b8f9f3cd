-- Hashes as bytes in the two tables that grow with every record (see hub/src/store/hash_bytes.rs):
-- a value of 64 lower-case hex digits (an HMAC-SHA256: key hashes, content hashes, the audit
-- chain's hashes) becomes its 32 bytes, any other (the link seal's `=`) its UTF-8 bytes; NULL
-- stays NULL. The hub reads them back as the same hex, so the audit chain verifies as before.
--
-- An audit entry no longer keeps `prev_hash`, the hash of the entry before it: the hub reads it
-- from that entry (hub/src/store/audit_log.rs). The ids, 1, 2, 3, … without gaps, and each
-- hash, which covers the previous one, make the chain without the copy. With the bytes, about
-- 270 bytes less per link (docs/performance.md).
--
-- `links.key_hash` must be bytes (a CHECK): a daemon of the previous version still running
-- when this migration ran (another `hub` command migrated the store under it) would otherwise
-- store text keys beside these, find no link of any record and create each again in the other
-- system after committing its intent. With the check its first commit fails, before any write.
-- (PostgreSQL refuses it by type.)
--
-- SQLite cannot change a column's type: each table is made again, its rows copied, its index
-- and triggers created again (the "generalized ALTER TABLE" of SQLite's documentation). The
-- file keeps its size until a VACUUM; the pages freed are reused by the rows to come.

CREATE TABLE links_0013 (
    sync            TEXT NOT NULL,
    key_hash        BLOB NOT NULL CHECK (typeof(key_hash) = 'blob'),
    a_remote_id       TEXT,
    a_version         TEXT,
    a_updated_at      TEXT,
    a_hash            BLOB,
    a_written_hash    BLOB,
    a_snapshot        BLOB,
    a_settled_hash    BLOB,
    a_settled         BLOB,
    a_intent          BLOB,
    a_deleted         INTEGER NOT NULL DEFAULT 0,
    a_settled_deleted INTEGER NOT NULL DEFAULT 0,
    b_remote_id       TEXT,
    b_version         TEXT,
    b_updated_at      TEXT,
    b_hash            BLOB,
    b_written_hash    BLOB,
    b_snapshot        BLOB,
    b_settled_hash    BLOB,
    b_settled         BLOB,
    b_intent          BLOB,
    b_deleted         INTEGER NOT NULL DEFAULT 0,
    b_settled_deleted INTEGER NOT NULL DEFAULT 0,
    base            BLOB,
    pending         INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      TEXT NOT NULL,
    sealed          BLOB,
    PRIMARY KEY (sync, key_hash)
);
INSERT INTO links_0013 (sync, key_hash, a_remote_id, a_version, a_updated_at, a_hash, a_written_hash, a_snapshot, a_settled_hash, a_settled, a_intent, a_deleted, a_settled_deleted, b_remote_id, b_version, b_updated_at, b_hash, b_written_hash, b_snapshot, b_settled_hash, b_settled, b_intent, b_deleted, b_settled_deleted, base, pending, attempts, last_error, updated_at, sealed)
SELECT sync,
       CASE WHEN length(key_hash) = 64 AND key_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(key_hash) ELSE CAST(key_hash AS BLOB) END,
       a_remote_id,
       a_version,
       a_updated_at,
       CASE WHEN length(a_hash) = 64 AND a_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(a_hash) ELSE CAST(a_hash AS BLOB) END,
       CASE WHEN length(a_written_hash) = 64 AND a_written_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(a_written_hash) ELSE CAST(a_written_hash AS BLOB) END,
       a_snapshot,
       CASE WHEN length(a_settled_hash) = 64 AND a_settled_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(a_settled_hash) ELSE CAST(a_settled_hash AS BLOB) END,
       a_settled,
       a_intent,
       a_deleted,
       a_settled_deleted,
       b_remote_id,
       b_version,
       b_updated_at,
       CASE WHEN length(b_hash) = 64 AND b_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(b_hash) ELSE CAST(b_hash AS BLOB) END,
       CASE WHEN length(b_written_hash) = 64 AND b_written_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(b_written_hash) ELSE CAST(b_written_hash AS BLOB) END,
       b_snapshot,
       CASE WHEN length(b_settled_hash) = 64 AND b_settled_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(b_settled_hash) ELSE CAST(b_settled_hash AS BLOB) END,
       b_settled,
       b_intent,
       b_deleted,
       b_settled_deleted,
       base,
       pending,
       attempts,
       last_error,
       updated_at,
       sealed
FROM links;
DROP TABLE links;
ALTER TABLE links_0013 RENAME TO links;
CREATE INDEX links_pending ON links (sync, key_hash) WHERE pending;

DROP TRIGGER audit_no_update;
DROP TRIGGER audit_no_delete;
CREATE TABLE audit_0013 (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    sync       TEXT NOT NULL,
    run_id     INTEGER NOT NULL,
    system     TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('a', 'b')),
    key_hash   BLOB NOT NULL,
    action     TEXT NOT NULL,
    result     TEXT NOT NULL,
    remote_id  TEXT,
    hash       BLOB NOT NULL,
    actor      TEXT,
    detail     TEXT
);
INSERT INTO audit_0013 (id, at, sync, run_id, system, side, key_hash, action, result, remote_id, hash, actor, detail)
SELECT id,
       at,
       sync,
       run_id,
       system,
       side,
       CASE WHEN length(key_hash) = 64 AND key_hash NOT GLOB '*[^0-9a-f]*' THEN unhex(key_hash) ELSE CAST(key_hash AS BLOB) END,
       action,
       result,
       remote_id,
       CASE WHEN length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*' THEN unhex(hash) ELSE CAST(hash AS BLOB) END,
       actor,
       detail
FROM audit;
DROP TABLE audit;
ALTER TABLE audit_0013 RENAME TO audit;
CREATE INDEX audit_sync ON audit (sync, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
