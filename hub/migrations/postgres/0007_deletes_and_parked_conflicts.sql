-- Deletes: whether each side showed the record deleted when its key last settled.
ALTER TABLE links ADD COLUMN a_settled_deleted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE links ADD COLUMN b_settled_deleted BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE conflicts ADD COLUMN kind TEXT NOT NULL DEFAULT 'write' CHECK (kind IN ('write', 'park'));
