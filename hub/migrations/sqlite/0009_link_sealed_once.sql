-- A link's records sealed once: the record each side holds, its settled record, a write's intent
-- and the base, kept together in one sealed value (identical records stored once) instead of a
-- sealed copy per column. Rows written before keep their per-column copies (a_snapshot …
-- base) and are read as they are; the run that next commits such a row writes it in this form
-- and sets those columns to NULL.
ALTER TABLE links ADD COLUMN sealed BLOB;
