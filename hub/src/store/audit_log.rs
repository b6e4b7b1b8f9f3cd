//! Reading and verifying the audit log (table `audit`; entries are appended by the commit of
//! the links they record, see `commit` and [`crate::audit`]).

use super::*;

/// Audit entries read back per query while verifying.
pub(super) const AUDIT_PAGE: i64 = 5_000;

/// The chain's head: the newest entry's id and hash (no row: an empty log).
pub(super) const SELECT_HEAD: &str = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1";

/// A row of [`SELECT_HEAD`]: (id, hash as hex).
pub(super) fn head_from_row(r: &impl Cols) -> (i64, String) {
    (r.int("id"), r.hash("hash"))
}

/// `SELECT` of audit entries, each with its `prev_hash`: the hash of the entry before it by id
/// ([`GENESIS`] for entry 1), which the table does not keep since migration 0013. It kept a copy
/// of that hash in each row; the ids (1, 2, 3, … without gaps) and each hash, which covers the
/// previous one, already make the chain, so a deleted entry still shows as a gap and an altered
/// one as a hash mismatch. `$rest`: the `WHERE`, `ORDER BY` and `LIMIT` over `a`.
macro_rules! select_entries {
    ($rest:literal) => {
        concat!(
            "SELECT a.*, p.hash AS prev_hash FROM audit a LEFT JOIN audit p ON p.id = a.id - 1 ",
            $rest
        )
    };
}

/// The `prev_hash` of entry `id` in a row of [`select_entries!`]: the hash of entry `id - 1`,
/// [`GENESIS`] for entry 1, empty if that entry is missing (a gap, which verification reports
/// first).
fn prev_hash(r: &impl Cols, id: i64) -> String {
    r.opt_hash("prev_hash").unwrap_or_else(|| {
        if id == 1 {
            GENESIS.to_string()
        } else {
            String::new()
        }
    })
}

/// An audit entry as read by [`select_entries!`]; [`StoreError::Corrupt`] if its row is
/// corrupt (a side other than `a` or `b`).
pub(super) fn audit_from_row(r: &impl Cols) -> Result<AuditEntry> {
    let id = r.int("id");
    Ok(AuditEntry {
        id,
        at: r.text("at"),
        sync: r.text("sync"),
        run_id: r.int("run_id"),
        system: r.text("system"),
        side: Side::stored(&r.text("side"), &format_args!("audit entry {id}"), "side")?,
        key_hash: r.hash("key_hash"),
        action: r.text("action"),
        result: r.text("result"),
        remote_id: r.opt_text("remote_id"),
        actor: r.opt_text("actor"),
        detail: r.opt_text("detail"),
        prev_hash: prev_hash(r, id),
        hash: r.hash("hash"),
    })
}

impl Store {
    /// The latest audit entries, newest first (all syncs if `sync` is `None`).
    pub async fn audit_entries(&self, sync: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                select_entries!("WHERE ($1 IS NULL OR a.sync = $1) ORDER BY a.id DESC LIMIT $2"),
            )
            .bind(sync)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter().map(audit_from_row).collect()
        })
    }

    /// Recomputes the whole audit chain under `key`, in id order, a page at a time: the count
    /// and head if intact, else the first entry out of place ([`Break`]; a row that does not
    /// read as an entry, such as a side other than `a` or `b`, is [`Break::Corrupt`] there).
    pub async fn verify_audit(&self, key: &AuditKey) -> Result<Result<Intact, Break>> {
        on_pool!(self, p => {
            let mut v = ChainVerifier::new(key);
            let mut after = i64::MIN;
            loop {
                let rows = sqlx::query(select_entries!("WHERE a.id > $1 ORDER BY a.id LIMIT $2"))
                    .bind(after)
                    .bind(AUDIT_PAGE)
                    .fetch_all(p)
                    .await?;
                for r in &rows {
                    // A row altered so that it no longer reads as an entry is a break of the
                    // chain at that entry, not a failure of the verification.
                    let e = match audit_from_row(r) {
                        Ok(e) => e,
                        Err(StoreError::Corrupt { column, detail, .. }) => {
                            let id = r.int("id");
                            return Ok(Err(v.unreadable(id, &prev_hash(r, id), &column, &detail)));
                        }
                        Err(e) => return Err(e),
                    };
                    if let Err(b) = v.push(&e) {
                        return Ok(Err(b));
                    }
                    after = e.id;
                }
                if (rows.len() as i64) < AUDIT_PAGE {
                    return Ok(Ok(v.finish()));
                }
            }
        })
    }

    /// The chain's head as stored, without verifying the chain: the newest entry's id (= the
    /// entry count, ids being 1, 2, 3, … without gaps) and hash; `(0, None)` for an empty log.
    pub async fn audit_head(&self) -> Result<(i64, Option<String>)> {
        on_pool!(self, p => {
            let row = sqlx::query(SELECT_HEAD).fetch_optional(p).await?;
            Ok(row.map_or((0, None), |r| {
                let (id, hash) = head_from_row(&r);
                (id, Some(hash))
            }))
        })
    }

    /// The stored hash of entry `id`, if there is one.
    pub async fn audit_hash(&self, id: i64) -> Result<Option<String>> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT hash FROM audit WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            Ok(row.map(|r| r.hash("hash")))
        })
    }
}
