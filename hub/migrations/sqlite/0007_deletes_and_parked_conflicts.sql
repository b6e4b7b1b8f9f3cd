-- Deletes: whether each side showed the record deleted when its key last settled, so that a
-- delete is propagated once, when it first appears (see `[syncs.NAME.deletes]`).
ALTER TABLE links ADD COLUMN a_settled_deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN b_settled_deleted INTEGER NOT NULL DEFAULT 0;

-- Conflicts of two kinds: `write`, a write a system refused because its record changed since
-- it was read (optimistic concurrency); `park`, both sides changed a field whose policy is
-- `park`, so nothing is written for the key until a person decides.
ALTER TABLE conflicts ADD COLUMN kind TEXT NOT NULL DEFAULT 'write' CHECK (kind IN ('write', 'park'));
