-- Hashes as bytes in the two tables that grow with every record (see hub/src/store/hash_bytes.rs):
-- a value of 64 lower-case hex digits (an HMAC-SHA256: key hashes, content hashes, the audit
-- chain's hashes) becomes its 32 bytes, any other (the link seal's `=`) its UTF-8 bytes; NULL
-- stays NULL. The hub reads them back as the same hex, so the audit chain verifies as before.
--
-- An audit entry no longer keeps `prev_hash`, the hash of the entry before it: the hub reads it
-- from that entry (hub/src/store/audit_log.rs). The ids, 1, 2, 3, … without gaps, and each
-- hash, which covers the previous one, make the chain without the copy.
-- Each table is rewritten once (its indexes rebuilt); the audit log's triggers refuse UPDATE
-- and DELETE, which a change of type is not.

ALTER TABLE links
    ALTER COLUMN key_hash TYPE BYTEA USING CASE WHEN key_hash ~ '^[0-9a-f]{64}$' THEN decode(key_hash, 'hex') ELSE convert_to(key_hash, 'UTF8') END,
    ALTER COLUMN a_hash TYPE BYTEA USING CASE WHEN a_hash ~ '^[0-9a-f]{64}$' THEN decode(a_hash, 'hex') ELSE convert_to(a_hash, 'UTF8') END,
    ALTER COLUMN a_written_hash TYPE BYTEA USING CASE WHEN a_written_hash ~ '^[0-9a-f]{64}$' THEN decode(a_written_hash, 'hex') ELSE convert_to(a_written_hash, 'UTF8') END,
    ALTER COLUMN a_settled_hash TYPE BYTEA USING CASE WHEN a_settled_hash ~ '^[0-9a-f]{64}$' THEN decode(a_settled_hash, 'hex') ELSE convert_to(a_settled_hash, 'UTF8') END,
    ALTER COLUMN b_hash TYPE BYTEA USING CASE WHEN b_hash ~ '^[0-9a-f]{64}$' THEN decode(b_hash, 'hex') ELSE convert_to(b_hash, 'UTF8') END,
    ALTER COLUMN b_written_hash TYPE BYTEA USING CASE WHEN b_written_hash ~ '^[0-9a-f]{64}$' THEN decode(b_written_hash, 'hex') ELSE convert_to(b_written_hash, 'UTF8') END,
    ALTER COLUMN b_settled_hash TYPE BYTEA USING CASE WHEN b_settled_hash ~ '^[0-9a-f]{64}$' THEN decode(b_settled_hash, 'hex') ELSE convert_to(b_settled_hash, 'UTF8') END;

ALTER TABLE audit
    ALTER COLUMN key_hash TYPE BYTEA USING CASE WHEN key_hash ~ '^[0-9a-f]{64}$' THEN decode(key_hash, 'hex') ELSE convert_to(key_hash, 'UTF8') END,
    DROP COLUMN prev_hash,
    ALTER COLUMN hash TYPE BYTEA USING CASE WHEN hash ~ '^[0-9a-f]{64}$' THEN decode(hash, 'hex') ELSE convert_to(hash, 'UTF8') END;
