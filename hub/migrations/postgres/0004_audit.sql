-- The audit log: one row per write the hub made to a system (see hub/src/audit.rs).
-- Append-only and hash-chained; ids are given by the hub (each hash covers its id).
CREATE TABLE audit (
    id         BIGINT PRIMARY KEY,
    at         TEXT NOT NULL,
    sync       TEXT NOT NULL,
    run_id     BIGINT NOT NULL,
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
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
