//! The commit of a batch: links, dead letters, a cursor move, audit entries, conflicts and the
//! run's counts in one transaction (the PostgreSQL form, a statement per table; SQLite's is in
//! `sqlite_batch`).

use super::*;

/// What to persist together, atomically.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    /// Links to insert or replace.
    pub links: &'a [Link],
    /// Dead letters to record.
    pub dead_letters: &'a [NewDeadLetter],
    /// A cursor to move: (side, value).
    pub cursor: Option<(Side, Option<&'a str>)>,
    /// Audit entries of the writes these links record, appended to the chain in the same
    /// transaction (needs the audit key: [`Store::with_audit_key`]).
    pub audit: &'a [NewAuditEntry],
    /// Conflicts met by this commit's writes: opened, or counted again while open.
    pub conflicts: &'a [NewConflict],
    /// Keys that settled: their open conflicts are resolved (by the person's choice if one was
    /// taken, by the merge policy otherwise).
    pub settled: &'a [String],
    /// The counts of the run in progress (run id, stats JSON) as of this commit, recorded on its
    /// run row in the same transaction: a run killed later keeps what it had committed.
    pub run_stats: Option<(i64, &'a serde_json::Value)>,
}

impl Store {
    /// Persists links, dead letters, a cursor move and audit entries in one transaction.
    ///
    /// The transaction takes SQLite's write lock as it begins (`BEGIN IMMEDIATE`, waiting up to
    /// the busy timeout for another writer), so the audit chain's head it reads cannot be
    /// appended to by another transaction, in this process or another, before it commits.
    ///
    /// Errors: [`StoreError::LeaseLost`] on a store fenced by a lease taken over,
    /// [`StoreError::Busy`] if the lock was not had within the busy timeout (nothing is kept
    /// either way), [`StoreError::Other`] for any other failure.
    pub async fn commit(&self, sync: &str, c: Commit<'_>) -> Result<()> {
        let audit_key =
            match (c.audit.is_empty(), &self.audit_key) {
                (true, _) => None,
                (false, Some(k)) => Some(k.clone()),
                (false, None) => return Err(anyhow::anyhow!(
                    "state store: audit entries to append but no audit key (Store::with_audit_key)"
                )
                .into()),
            };
        let p = match &self.pool {
            Pool::Sqlite(_, b) => {
                let fence = self
                    .fence
                    .as_ref()
                    .map(|f| (f.sync.clone(), f.holder.clone(), f.token));
                return match b
                    .commit(sync, sqlite_batch::OwnedCommit::new(&c), fence, audit_key)
                    .await?
                {
                    Ok(()) => Ok(()),
                    Err(sqlite_batch::FenceRefused) => Err(self
                        .fence
                        .as_ref()
                        .expect("only a fenced store is refused")
                        .lost_error()
                        .into()),
                };
            }
            Pool::Postgres(p) => p,
        };
        {
            use anyhow::Context as _;
            let mut tx = p
                .begin_write()
                .await
                .context("state store: cannot begin a write transaction")?;
            check_fence!(self, p, tx);
            let now = now();
            // A statement for the batch's links of each table, a column array each, unnested
            // (`links::store_links_pg`).
            let links = last_of_each_key(c.links);
            if !links.is_empty() {
                store_links_pg(&mut tx, sync, &links, &now).await?;
            }
            if let Some(key) = audit_key {
                append_audit_pg(&mut tx, audit_lock(p), sync, c.audit, &key, &now).await?;
            }
            if let Some((run, stats)) = c.run_stats {
                sqlx::query("UPDATE runs SET stats = $1 WHERE id = $2 AND status = 'running'")
                    .bind(stats.to_string())
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
            }
            if !c.settled.is_empty() {
                sqlx::query(
                    "UPDATE conflicts SET status = 'resolved', resolved_at = $1, updated_at = $1, \
                       resolution = CASE WHEN take_fields IS NOT NULL THEN 'took fields' WHEN take IS NULL THEN 'merge policy' ELSE 'took ' || take END \
                     WHERE sync = $2 AND key_hash = ANY($3) AND status = 'open'",
                )
                .bind(&now)
                .bind(sync)
                .bind(c.settled)
                .execute(&mut *tx)
                .await?;
            }
            for f in c.conflicts {
                sqlx::query(
                    "INSERT INTO conflicts (sync, key_hash, key_masked, side, reason, first_run_id, last_run_id, created_at, updated_at, kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $7, $8) \
                     ON CONFLICT (sync, key_hash) WHERE status = 'open' DO UPDATE SET \
                       attempts = conflicts.attempts + 1, side = excluded.side, reason = excluded.reason, kind = excluded.kind, \
                       last_run_id = excluded.last_run_id, updated_at = excluded.updated_at",
                )
                .bind(sync)
                .bind(&f.key_hash)
                .bind(&f.key_masked)
                .bind(f.side.as_str())
                .bind(&f.reason)
                .bind(f.run_id)
                .bind(&now)
                .bind(f.kind.as_str())
                .execute(&mut *tx)
                .await?;
            }
            for d in c.dead_letters {
                let errors = serde_json::to_string(&d.errors)?;
                sqlx::query(
                    "INSERT INTO dead_letters (sync, run_id, side, stage, key_hash, key_masked, remote_id, record_hash, \
                       errors, record, created_at, last_seen_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (sync, side, stage, record_hash) WHERE status = 'open' DO UPDATE SET \
                       occurrences = dead_letters.occurrences + 1, last_seen_at = excluded.last_seen_at, errors = excluded.errors",
                )
                .bind(sync)
                .bind(d.run_id)
                .bind(d.side.as_str())
                .bind(d.stage.as_str())
                .bind(&d.key_hash)
                .bind(&d.key_masked)
                .bind(&d.remote_id)
                .bind(&d.record_hash)
                .bind(errors)
                .bind(&d.record)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some((side, cursor)) = c.cursor {
                sqlx::query(
                    "INSERT INTO cursors (sync, side, cursor, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (sync, side) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                )
                .bind(sync)
                .bind(side.as_str())
                .bind(cursor)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }
    }
}

/// Appends `audit` to the audit chain in the PostgreSQL transaction `tx`: takes the chain's
/// lock (`lock`, [`WritePool::AUDIT_LOCK`]), reads the chain's head and inserts the entries
/// chained after it ([`chain`]) in one statement.
async fn append_audit_pg(
    tx: &mut sqlx::PgConnection,
    lock: Option<&'static str>,
    sync: &str,
    audit: &[NewAuditEntry],
    key: &AuditKey,
    now: &str,
) -> Result<()> {
    use anyhow::Context as _;
    if let Some(lock) = lock {
        sqlx::query(lock).execute(&mut *tx).await?;
    }
    let head = sqlx::query(audit_log::SELECT_HEAD)
        .fetch_optional(&mut *tx)
        .await?;
    let head = head.as_ref().map(audit_log::head_from_row);
    let entries = chain(sync, audit, key, head, now);
    // One statement for the batch's entries: a column array each, unnested.
    sqlx::query(
        "INSERT INTO audit (id, at, sync, run_id, system, side, key_hash, action, result, remote_id, hash, actor, detail) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], \
           $7::BYTEA[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::BYTEA[], $12::TEXT[], $13::TEXT[])",
    )
    .bind(entries.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.at.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.sync.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.run_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.system.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.side.as_str()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| hash_bytes::to_bytes(&e.key_hash)).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.action.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.result.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.remote_id.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| hash_bytes::to_bytes(&e.hash)).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.actor.clone()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.detail.clone()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("state store: cannot append to the audit log")?;
    Ok(())
}

/// `entries` as the audit chain's next entries after `head` (its last entry's id and hash;
/// `None`: the chain is empty), appended at `now` by `sync`, each hashed with `key`
/// ([`AuditKey::hash`]).
pub(super) fn chain(
    sync: &str,
    entries: &[NewAuditEntry],
    key: &AuditKey,
    head: Option<(i64, String)>,
    now: &str,
) -> Vec<AuditEntry> {
    let (mut id, mut prev) = head.unwrap_or((0, GENESIS.to_string()));
    entries
        .iter()
        .map(|n| {
            id += 1;
            let mut e = AuditEntry {
                id,
                at: now.to_string(),
                sync: sync.to_string(),
                run_id: n.run_id,
                system: n.system.clone(),
                side: n.side,
                key_hash: n.key_hash.clone(),
                action: n.action.as_str().to_string(),
                result: n.result.as_str().to_string(),
                remote_id: n.remote_id.clone(),
                actor: n.actor.clone(),
                detail: n.detail.clone(),
                prev_hash: std::mem::take(&mut prev),
                hash: String::new(),
            };
            e.hash = key.hash(&e);
            prev = e.hash.clone();
            e
        })
        .collect()
}
