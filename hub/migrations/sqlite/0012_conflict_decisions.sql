-- A person's decision on a conflict, field by field: `take_fields` is a JSON object mapping
-- each chosen field's JSON pointer to the side whose value the next run takes ("a" or "b");
-- `take` (a side's record whole) stays for whole-side decisions. Who decided (the admin token's
-- name), when, and why (their words, masked as logs are) go with it.
ALTER TABLE conflicts ADD COLUMN take_fields TEXT;
ALTER TABLE conflicts ADD COLUMN decided_by TEXT;
ALTER TABLE conflicts ADD COLUMN decided_at TEXT;
ALTER TABLE conflicts ADD COLUMN decision_reason TEXT;
-- The audit log names the person behind an entry that is not a run's own doing: a decision, a
-- view of personal values in clear, or a write that carries out a decision (`actor`, the admin
-- token's name), with what they did (`detail`, JSON). Both are covered by the entry's hash when
-- set (see hub/src/audit.rs); entries without them hash as before.
ALTER TABLE audit ADD COLUMN actor TEXT;
ALTER TABLE audit ADD COLUMN detail TEXT;
