-- Links sealed in form 2 (hub/src/sync/link_seal.rs): the sealed text's Zstandard frame is
-- compressed with a fixed dictionary, the canonical JSON of the schemas' example records
-- (hub/src/sync/link_seal_dictionary.txt, frozen), 279 bytes of a worker record to 90 instead
-- of 254. Links of form 1 are still read and are rewritten in form 2 by their next commit.
-- This row names the dictionary those frames need; and, being a migration, it makes a binary
-- from before form 2 refuse this store at start ("migration 11 was previously applied but is
-- missing") instead of failing to open its links one by one.
CREATE TABLE link_seal_forms (
    form              INTEGER PRIMARY KEY,
    dictionary_sha256 TEXT NOT NULL
);
INSERT INTO link_seal_forms (form, dictionary_sha256)
VALUES (2, 'bf49d8faf728bb41239f2fc42f61056378420174c1dd394270525b444b63de81');
