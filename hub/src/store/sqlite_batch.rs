//! The SQLite store's per-batch statements, through rusqlite: the links a run reads
//! ([`Store::links`](super::Store::links), [`Store::pending`](super::Store::pending)) and the
//! commit of a batch ([`Store::commit`](super::Store::commit)).
//!
//! Everything else of the SQLite store goes through sqlx's pool; these are the statements a
//! sync run makes per record, and sqlx's SQLite driver hands each statement and each row to its
//! worker thread and back (about 110 µs a statement, 8,900 statements/s measured by the `state`
//! bench). Here one connection, opened on the same file (same SQLite library: WAL, the same
//! busy timeout), runs a batch's statements on a blocking thread, each statement prepared once
//! and kept in rusqlite's cache. The SQL is the same as the PostgreSQL path's, with SQLite's
//! `?N` parameters.

use super::{
    Cols, Commit, LINK_COLUMNS, Link, NewConflict, NewDeadLetter, Result, StoreError, hash_bytes,
    now,
};
use crate::audit::{AuditKey, NewAuditEntry};
use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One rusqlite connection to the store's file, shared by the clones of a [`super::Store`];
/// each call runs on tokio's blocking pool.
#[derive(Clone)]
pub(super) struct BatchConn {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for BatchConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchConn(..)")
    }
}

/// A commit's content, owned, to move onto the blocking thread.
pub(super) struct OwnedCommit {
    links: Vec<Link>,
    dead_letters: Vec<NewDeadLetter>,
    cursor: Option<(super::Side, Option<String>)>,
    audit: Vec<NewAuditEntry>,
    conflicts: Vec<NewConflict>,
    settled: Vec<String>,
    run_stats: Option<(i64, String)>,
}

impl OwnedCommit {
    pub(super) fn new(c: &Commit<'_>) -> OwnedCommit {
        OwnedCommit {
            links: super::last_of_each_key(c.links)
                .into_iter()
                .cloned()
                .collect(),
            dead_letters: c.dead_letters.to_vec(),
            cursor: c.cursor.map(|(s, v)| (s, v.map(str::to_string))),
            audit: c.audit.to_vec(),
            conflicts: c.conflicts.to_vec(),
            settled: c.settled.to_vec(),
            run_stats: c.run_stats.map(|(id, v)| (id, v.to_string())),
        }
    }
}

/// The fence a commit checks: (sync, holder, token).
pub(super) type Fence = (String, String, i64);

/// Why a fenced commit was refused: the lease's token is not the one held.
#[derive(Debug)]
pub(super) struct FenceRefused;

impl Cols for rusqlite::Row<'_> {
    fn text(&self, c: &str) -> String {
        self.get(c).expect("column of the links table")
    }
    fn opt_text(&self, c: &str) -> Option<String> {
        self.get(c).expect("column of the links table")
    }
    fn int(&self, c: &str) -> i64 {
        self.get(c).expect("column of the links table")
    }
    fn opt_int(&self, c: &str) -> Option<i64> {
        self.get(c).expect("column of the links table")
    }
    fn opt_blob(&self, c: &str) -> Option<Vec<u8>> {
        use rusqlite::types::ValueRef;
        // Bytes, or text (a hash column written before migration 0013 was); anything else
        // fails as `get` did.
        match self.get_ref(c).expect("column of the links table") {
            ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
            ValueRef::Null => None,
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                panic!("column {c} of the links table holds a number, not bytes")
            }
        }
    }
    fn flag(&self, c: &str) -> bool {
        self.get(c).expect("column of the links table")
    }
}

/// `INSERT INTO {table} (…) VALUES (?1, …, ?30) ON CONFLICT (sync, key_hash) DO UPDATE SET …`:
/// one link, every column but the key replaced; `table` is `links_at_rest` or `links_pending`.
fn upsert_link_sql(table: &str) -> String {
    let marks: Vec<String> = (1..=LINK_COLUMNS.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = LINK_COLUMNS[2..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT (sync, key_hash) DO UPDATE SET {}",
        LINK_COLUMNS.join(", "),
        marks.join(", "),
        updates.join(", ")
    )
}

impl BatchConn {
    /// Opens the store's file `path` (already created and migrated through sqlx): busy timeout
    /// `busy_timeout` (the sqlx pool's, 10 s but in tests), `synchronous = NORMAL` (the WAL journal survives a killed process), foreign keys
    /// on, as the sqlx pool's connections.
    ///
    /// `path` is the file sqlx opened (its URL parsed: query and escapes removed). Errors: an
    /// in-memory database (it would be another, empty database), a file that does not open.
    pub(super) fn open(
        path: &std::path::Path,
        busy_timeout: Duration,
    ) -> anyhow::Result<BatchConn> {
        let shown = path.display();
        if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
            anyhow::bail!(
                "state store {shown:?}: an in-memory SQLite store cannot be shared by the store's connections; give a file"
            );
        }
        let conn = Connection::open(path)
            .with_context(|| format!("failed to open the state store {shown}"))?;
        conn.busy_timeout(busy_timeout)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(BatchConn {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on tokio's blocking pool. Its error is classified once
    /// ([`StoreError::classify`]: a busy database, wherever in the chain, as
    /// [`StoreError::Busy`]).
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier call rolled its transaction back (rusqlite's `Transaction`
            // does on drop): the connection is fit to use again.
            let mut c = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut c)
        })
        .await
        .context("state store: the blocking task failed")?
        .map_err(StoreError::classify)
    }

    /// The links of these keys of `sync` (missing keys are absent from the answer).
    pub(super) async fn links(&self, sync: &str, keys: &[String]) -> Result<Vec<Link>> {
        let (sync, keys) = (sync.to_string(), keys.to_vec());
        self.with(move |c| {
            let mut out = Vec::with_capacity(keys.len());
            let mut q =
                c.prepare_cached("SELECT * FROM links WHERE sync = ?1 AND key_hash = ?2")?;
            for k in &keys {
                if let Some(l) = q
                    .query_row(params![sync, hash_bytes::to_bytes(k)], |r| {
                        Ok(super::link_from_row(r))
                    })
                    .optional()?
                {
                    out.push(l);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Up to `limit` pending links of `sync` with key hash after `after`, in key-hash order.
    pub(super) async fn pending(
        &self,
        sync: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Link>> {
        let (sync, after) = (sync.to_string(), hash_bytes::to_bytes(after.unwrap_or("")));
        self.with(move |c| {
            let mut q = c.prepare_cached(
                "SELECT * FROM links WHERE sync = ?1 AND pending AND key_hash > ?2 ORDER BY key_hash LIMIT ?3",
            )?;
            let rows = q.query_map(params![sync, after, i64::from(limit)], |r| {
                Ok(super::link_from_row(r))
            })?;
            Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// [`Store::commit`](super::Store::commit) on SQLite: one `BEGIN IMMEDIATE` transaction
    /// (the write lock at once, so the audit chain's head it reads stays the head), the fence
    /// checked first. Errors: the fence refused (`Ok(Err(FenceRefused))`), a statement
    /// failed (nothing is kept; [`StoreError::Busy`] if the database stayed locked).
    pub(super) async fn commit(
        &self,
        sync: &str,
        c: OwnedCommit,
        fence: Option<Fence>,
        audit_key: Option<Arc<AuditKey>>,
    ) -> Result<Result<(), FenceRefused>> {
        let sync = sync.to_string();
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("state store: cannot begin a write transaction")?;
            if let Some((fsync, holder, token)) = &fence {
                let held: Option<i64> = tx
                    .prepare_cached("SELECT token FROM leases WHERE sync = ?1 AND holder = ?2")?
                    .query_row(params![fsync, holder], |r| r.get(0))
                    .optional()?;
                if held != Some(*token) {
                    return Ok(Err(FenceRefused));
                }
            }
            let now = now();
            write_links(&tx, &sync, &c.links, &now)?;
            if let Some(key) = audit_key {
                append_audit(&tx, &sync, &c.audit, &key, &now)?;
            }
            write_outcomes(&tx, &sync, &c, &now)?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }
}

/// Upserts `links` of `sync`, one cached statement run per link: a pending link
/// ([`Link::pending`]) into `links_pending`, any other into `links_at_rest`, its pending row, if
/// any, deleted (migration 0014).
fn write_links(
    tx: &rusqlite::Transaction<'_>,
    sync: &str,
    links: &[Link],
    now: &str,
) -> anyhow::Result<()> {
    static SQL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    let [at_rest_sql, pending_sql] = SQL.get_or_init(|| {
        [
            upsert_link_sql("links_at_rest"),
            upsert_link_sql("links_pending"),
        ]
    });
    let mut at_rest = tx.prepare_cached(at_rest_sql)?;
    let mut pending = tx.prepare_cached(pending_sql)?;
    let mut settled =
        tx.prepare_cached("DELETE FROM links_pending WHERE sync = ?1 AND key_hash = ?2")?;
    for l in links {
        let key = hash_bytes::to_bytes(&l.key_hash);
        let q = if l.pending {
            &mut pending
        } else {
            settled.execute(params![sync, key])?;
            &mut at_rest
        };
        q.execute(params![
            sync,
            key,
            l.a.remote_id,
            l.a.version,
            l.a.updated_at,
            hash_bytes::opt_to_bytes(l.a.hash.as_deref()),
            hash_bytes::opt_to_bytes(l.a.written_hash.as_deref()),
            l.a.snapshot,
            hash_bytes::opt_to_bytes(l.a.settled_hash.as_deref()),
            l.a.settled,
            l.a.intent,
            l.a.deleted,
            l.a.settled_deleted,
            l.b.remote_id,
            l.b.version,
            l.b.updated_at,
            hash_bytes::opt_to_bytes(l.b.hash.as_deref()),
            hash_bytes::opt_to_bytes(l.b.written_hash.as_deref()),
            l.b.snapshot,
            hash_bytes::opt_to_bytes(l.b.settled_hash.as_deref()),
            l.b.settled,
            l.b.intent,
            l.b.deleted,
            l.b.settled_deleted,
            l.base,
            l.pending,
            l.attempts,
            l.last_error,
            now,
            l.sealed,
        ])?;
    }
    Ok(())
}

/// Appends `entries` to the audit chain after its head, each hashed with `key`.
fn append_audit(
    tx: &rusqlite::Transaction<'_>,
    sync: &str,
    entries: &[NewAuditEntry],
    key: &AuditKey,
    now: &str,
) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head: Option<(i64, String)> = tx
        .prepare_cached(super::audit_log::SELECT_HEAD)?
        .query_row([], |r| Ok(super::audit_log::head_from_row(r)))
        .optional()?;
    let mut q = tx.prepare_cached(
        "INSERT INTO audit (id, at, sync, run_id, system, side, key_hash, action, result, remote_id, hash, actor, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for e in super::commit::chain(sync, entries, key, head, now) {
        q.execute(params![
            e.id,
            e.at,
            e.sync,
            e.run_id,
            e.system,
            e.side.as_str(),
            hash_bytes::to_bytes(&e.key_hash),
            e.action,
            e.result,
            e.remote_id,
            hash_bytes::to_bytes(&e.hash),
            e.actor,
            e.detail,
        ])
        .context("state store: cannot append to the audit log")?;
    }
    Ok(())
}

/// The rest of a commit: the run's counts, conflicts resolved and met, dead letters, the
/// cursor.
fn write_outcomes(
    tx: &rusqlite::Transaction<'_>,
    sync: &str,
    c: &OwnedCommit,
    now: &str,
) -> anyhow::Result<()> {
    if let Some((run, stats)) = &c.run_stats {
        tx.prepare_cached("UPDATE runs SET stats = ?1 WHERE id = ?2 AND status = 'running'")?
            .execute(params![stats, run])?;
    }
    if !c.settled.is_empty() {
        // Most syncs have no open conflict: one look through the partial index saves a
        // statement per settled key.
        let open: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM conflicts WHERE sync = ?1 AND status = 'open')",
            )?
            .query_row(params![sync], |r| r.get(0))?;
        if open {
            let mut q = tx.prepare_cached(
                "UPDATE conflicts SET status = 'resolved', resolved_at = ?1, updated_at = ?1, \
                   resolution = CASE WHEN take_fields IS NOT NULL THEN 'took fields' WHEN take IS NULL THEN 'merge policy' ELSE 'took ' || take END \
                 WHERE sync = ?2 AND key_hash = ?3 AND status = 'open'",
            )?;
            for k in &c.settled {
                q.execute(params![now, sync, k])?;
            }
        }
    }
    if !c.conflicts.is_empty() {
        let mut q = tx.prepare_cached(
            "INSERT INTO conflicts (sync, key_hash, key_masked, side, reason, first_run_id, last_run_id, created_at, updated_at, kind) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7, ?8) \
             ON CONFLICT (sync, key_hash) WHERE status = 'open' DO UPDATE SET \
               attempts = conflicts.attempts + 1, side = excluded.side, reason = excluded.reason, kind = excluded.kind, \
               last_run_id = excluded.last_run_id, updated_at = excluded.updated_at",
        )?;
        for f in &c.conflicts {
            q.execute(params![
                sync,
                f.key_hash,
                f.key_masked,
                f.side.as_str(),
                f.reason,
                f.run_id,
                now,
                f.kind.as_str(),
            ])?;
        }
    }
    if !c.dead_letters.is_empty() {
        let mut q = tx.prepare_cached(
            "INSERT INTO dead_letters (sync, run_id, side, stage, key_hash, key_masked, remote_id, record_hash, \
               errors, record, created_at, last_seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) \
             ON CONFLICT (sync, side, stage, record_hash) WHERE status = 'open' DO UPDATE SET \
               occurrences = dead_letters.occurrences + 1, last_seen_at = excluded.last_seen_at, errors = excluded.errors",
        )?;
        for d in &c.dead_letters {
            q.execute(params![
                sync,
                d.run_id,
                d.side.as_str(),
                d.stage.as_str(),
                d.key_hash,
                d.key_masked,
                d.remote_id,
                d.record_hash,
                serde_json::to_string(&d.errors)?,
                d.record,
                now,
            ])?;
        }
    }
    if let Some((side, cursor)) = &c.cursor {
        tx.prepare_cached(
            "INSERT INTO cursors (sync, side, cursor, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (sync, side) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )?
        .execute(params![sync, side.as_str(), cursor, now])?;
    }
    Ok(())
}
