//! Conflicts (table `conflicts`): writes a system refused as conflicting, and merges parked for
//! a person; what a person decided.

use super::*;

/// What kind of conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A write the system refused because its record changed since it was read (optimistic
    /// concurrency); the next run merges again under the sync's policy.
    Write,
    /// Both sides changed a field whose policy is `park`: nothing is written for the key until
    /// a person takes a side or the two sides come to agree.
    Park,
}

impl ConflictKind {
    /// `write` or `park`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Write => "write",
            ConflictKind::Park => "park",
        }
    }
}

/// A conflict met by a run: a refused write, or a parked merge.
#[derive(Debug, Clone)]
pub struct NewConflict {
    /// The run that met it.
    pub run_id: i64,
    /// Its kind.
    pub kind: ConflictKind,
    /// HMAC of the record's key.
    pub key_hash: String,
    /// The key for people, masked.
    pub key_masked: Option<String>,
    /// The side whose write was refused (`write`), or whose write waits (`park`: `a`).
    pub side: Side,
    /// The system's words, or the parked fields' pointers (no personal data).
    pub reason: String,
}

/// A conflict, as the store keeps it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Conflict {
    /// Its id.
    pub id: i64,
    /// Sync name.
    pub sync: String,
    /// Masked key.
    pub key_masked: Option<String>,
    /// `write` (a refused write) or `park` (conflicting changes waiting for a person).
    pub kind: ConflictKind,
    /// The side whose write was refused.
    pub side: Side,
    /// The system's words.
    pub reason: String,
    /// First run that met it.
    pub first_run_id: Option<i64>,
    /// Latest run that met it.
    pub last_run_id: Option<i64>,
    /// Writes refused so far.
    pub attempts: i64,
    /// `open` or `resolved`.
    pub status: String,
    /// The side a person chose to take whole, waiting for the next run (or taken).
    pub take: Option<Side>,
    /// How it was resolved: `merge policy` or `took a` / `took b`.
    pub resolution: Option<String>,
    /// First met (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
    /// Resolved (RFC 3339).
    pub resolved_at: Option<String>,
}

pub(super) fn conflict(r: &impl Cols) -> Conflict {
    Conflict {
        id: r.int("id"),
        sync: r.text("sync"),
        key_masked: r.opt_text("key_masked"),
        kind: if r.text("kind") == "park" {
            ConflictKind::Park
        } else {
            ConflictKind::Write
        },
        side: Side::parse(&r.text("side")),
        reason: r.text("reason"),
        first_run_id: r.opt_int("first_run_id"),
        last_run_id: r.opt_int("last_run_id"),
        attempts: r.int("attempts"),
        status: r.text("status"),
        take: r.opt_text("take").as_deref().map(Side::parse),
        resolution: r.opt_text("resolution"),
        created_at: r.text("created_at"),
        updated_at: r.text("updated_at"),
        resolved_at: r.opt_text("resolved_at"),
    }
}

impl Store {
    /// How many conflicts are open (all syncs if `sync` is `None`).
    pub async fn open_conflict_count(&self, sync: Option<&str>) -> anyhow::Result<i64> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM conflicts WHERE ($1 IS NULL OR sync = $1) AND status = 'open'",
            )
            .bind(sync)
            .fetch_one(p)
            .await?)
        })
    }

    /// Conflicts, newest first: open ones only unless `all` (all syncs if `sync` is `None`).
    pub async fn conflicts(&self, sync: Option<&str>, all: bool) -> anyhow::Result<Vec<Conflict>> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM conflicts WHERE ($1 IS NULL OR sync = $1) AND ($2 OR status = 'open') ORDER BY id DESC LIMIT 1000",
            )
            .bind(sync)
            .bind(all)
            .fetch_all(p)
            .await?;
            Ok(rows.iter().map(conflict).collect())
        })
    }

    /// One conflict, if it exists.
    pub async fn conflict(&self, id: i64) -> anyhow::Result<Option<Conflict>> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM conflicts WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            Ok(row.as_ref().map(conflict))
        })
    }

    /// A person's decision on an open conflict: the next run takes `take`'s record whole for
    /// that key (and writes it to the other side). Marks the key pending in the same
    /// transaction. Returns false if the conflict is not open.
    pub async fn resolve_conflict(&self, id: i64, take: Side) -> anyhow::Result<bool> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let row = sqlx::query("UPDATE conflicts SET take = $1, updated_at = $2 WHERE id = $3 AND status = 'open' RETURNING sync, key_hash")
                .bind(take.as_str())
                .bind(now())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { return Ok(false) };
            let (sync, key_hash): (String, String) = (row.get(0), row.get(1));
            sqlx::query(MARK_PENDING)
                .bind(now())
                .bind(sync)
                .bind(key_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The sides people chose to take for `sync`'s open conflicts, by key hash.
    pub async fn conflict_takes(
        &self,
        sync: &str,
    ) -> anyhow::Result<std::collections::HashMap<String, Side>> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT key_hash, take FROM conflicts WHERE sync = $1 AND status = 'open' AND take IS NOT NULL")
                .bind(sync)
                .fetch_all(p)
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<String, _>(0), Side::parse(r.get::<&str, _>(1))))
                .collect())
        })
    }
}
