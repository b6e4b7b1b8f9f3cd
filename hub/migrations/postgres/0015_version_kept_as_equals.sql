-- A side's version token equal to its update time (HY-ESMS's version is its update time, 25
-- bytes) is kept as `=` from now on, the way a hash equal to the side's own already is
-- (hub/src/sync/link_seal.rs, `version_as_kept`); the hub reads `=` as the update time. A
-- version that itself begins with `=` is kept with one more `=` in front, so that `=` keeps one
-- meaning. This migration gives that escape to the versions stored before it; every other
-- version reads as it did, and each link takes the shorter form at its next commit (nothing is
-- rewritten here: a store's links stay as they are until they change).
--
-- A daemon of the previous version still running when this migration runs (another `hub`
-- command migrated the store under it) would send `=` as the version it last saw; a system that
-- checks versions refuses that write (HY-ESMS: `If-Unmodified-Since: =`), which the daemon
-- records as a conflict or a dead letter like any refused write: nothing is lost or written
-- twice. A binary of the previous version started again refuses the store ("migration 15 was
-- previously applied but is missing").

UPDATE links_at_rest SET a_version = '=' || a_version WHERE a_version LIKE '=%';
UPDATE links_at_rest SET b_version = '=' || b_version WHERE b_version LIKE '=%';
UPDATE links_pending SET a_version = '=' || a_version WHERE a_version LIKE '=%';
UPDATE links_pending SET b_version = '=' || b_version WHERE b_version LIKE '=%';
