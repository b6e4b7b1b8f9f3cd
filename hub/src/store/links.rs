//! Links: what the hub knows of each record key of a sync on each side (system id, version,
//! keyed content hash, sealed snapshot, the record when the key last settled, a write's
//! intent), and the cursors of each side. Tables `links_at_rest` (the links as they last
//! settled) and `links_pending` (the pending ones), one row per sync and key hash in each, read
//! through the view `links` (a key's pending row if it has one; migration 0014); table
//! `cursors`.

use super::*;

/// Which end of a sync.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sync's `a` endpoint.
    A,
    /// The sync's `b` endpoint.
    B,
}

impl Side {
    /// `"a"` or `"b"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }

    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// The side `s` names: `"a"` or `"b"`, nothing else (an error names the text).
    pub(super) fn parse(s: &str) -> anyhow::Result<Side> {
        match s {
            "a" => Ok(Side::A),
            "b" => Ok(Side::B),
            other => anyhow::bail!("{other:?} is not a side of a sync (\"a\" or \"b\")"),
        }
    }

    /// The side stored in `column` of a row, `row` naming it ("dead letter 12"): a value other
    /// than `"a"` or `"b"` is [`StoreError::Corrupt`] naming the row, the column and the value
    /// ([`corrupt_row`]), never side A.
    pub(super) fn stored(text: &str, row: &dyn std::fmt::Display, column: &str) -> Result<Side> {
        Side::parse(text).map_err(|e| corrupt_row(row, column, e))
    }
}

/// The error of a row whose `column` holds what the store never writes there: `row` names the
/// row ("dead letter 12", "run 3"), `detail` what is wrong with the value (naming it). Every
/// row mapper of the store reports a corrupt value through this function, never reading it as
/// some default: [`StoreError::Corrupt`], shown as `dead letter 12 in the store is corrupt:
/// column side: "c" is not a side of a sync ("a" or "b")`.
pub(super) fn corrupt_row(
    row: &dyn std::fmt::Display,
    column: &str,
    detail: impl std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt {
        row: row.to_string(),
        column: column.to_string(),
        detail: detail.to_string(),
    }
}

/// A text that is none of the values of a column of the store ([`RunStatus`], [`RunTrigger`],
/// [`DeadLetterStage`], …): what was given, and what it may be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {what} ({values})")]
pub struct UnknownValue {
    /// What the values are, with its article: `a run status`.
    pub what: &'static str,
    /// The text given.
    pub text: String,
    /// The values it may be, for people: `running, ok, partial, failed, interrupted, crashed`.
    pub values: String,
}

/// What the hub knows of one record in one system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideState {
    /// The system's id for it.
    pub remote_id: Option<String>,
    /// The system's version token (for optimistic concurrency). The store keeps it in the
    /// sealed value when the link has one (see [`Link::sealed`]), else in the row.
    pub version: Option<String>,
    /// When the system last changed it (RFC 3339), as read; or when the hub wrote it. Kept
    /// like [`SideState::version`].
    pub updated_at: Option<String>,
    /// Keyed content hash of the snapshot.
    pub hash: Option<String>,
    /// Keyed content hash of what the hub last wrote there, until it is read back.
    pub written_hash: Option<String>,
    /// The record as the system holds it (schema shape), as canonical JSON. The engine holds it
    /// in the clear; the store keeps it sealed (see [`Link::sealed`]).
    pub snapshot: Option<Vec<u8>>,
    /// Content hash of the record when the key last settled (`None`: never settled).
    pub settled_hash: Option<String>,
    /// That record (canonical JSON, sealed in the store), when it is not the snapshot itself
    /// (the side changed since).
    pub settled: Option<Vec<u8>>,
    /// The write in flight there (the engine's intent, JSON; sealed in the store): set before a
    /// write, cleared by its result, so a crash between the two is recognised when the record
    /// is read back.
    pub intent: Option<Vec<u8>>,
    /// The system marked it deleted (its connector reported a delete): a tombstone.
    pub deleted: bool,
    /// It was deleted when the key last settled (a newer delete is one to propagate).
    pub settled_deleted: bool,
}

/// One record key of one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    /// HMAC of the record key.
    pub key_hash: String,
    /// System `a`.
    pub a: SideState,
    /// System `b`.
    pub b: SideState,
    /// The merged record at the last complete reconcile (canonical JSON; sealed in the store).
    pub base: Option<Vec<u8>>,
    /// As stored: the link's records (each side's snapshot, settled record and intent, and
    /// the base) sealed together in one value, identical ones once, with each side's update
    /// time and version since migration 0016 (the engine's `sync::link_seal`). Then the seven
    /// record fields above are `None` in the row, and so are the sides' update times and
    /// versions (rows sealed before 0016 keep those in their columns). Rows committed before
    /// migration 0009 have no such value and hold each record sealed alone in its own column.
    pub sealed: Option<Vec<u8>>,
    /// A change waits to be written. A commit stores a pending link in `links_pending`, any
    /// other in `links_at_rest` (and deletes its pending row): a new record's link is written
    /// at rest once, when it settles (migration 0014; the hub reads both through the view
    /// `links`).
    pub pending: bool,
    /// Write attempts since the change.
    pub attempts: i64,
    /// The last failure, if any (no personal data).
    pub last_error: Option<String>,
}

impl Link {
    /// A new link for a key.
    pub fn new(key_hash: String) -> Link {
        Link {
            key_hash,
            ..Link::default()
        }
    }

    /// One side.
    pub fn side(&self, s: Side) -> &SideState {
        match s {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// One side, mutable.
    pub fn side_mut(&mut self, s: Side) -> &mut SideState {
        match s {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}

pub(super) fn side_from_row(r: &impl Cols, p: &str) -> SideState {
    let col = |c: &str| format!("{p}_{c}");
    SideState {
        remote_id: r.opt_text(&col("remote_id")),
        version: r.opt_text(&col("version")),
        updated_at: r.opt_text(&col("updated_at")),
        hash: r.opt_hash(&col("hash")),
        written_hash: r.opt_hash(&col("written_hash")),
        snapshot: r.opt_blob(&col("snapshot")),
        settled_hash: r.opt_hash(&col("settled_hash")),
        settled: r.opt_blob(&col("settled")),
        intent: r.opt_blob(&col("intent")),
        deleted: r.flag(&col("deleted")),
        settled_deleted: r.flag(&col("settled_deleted")),
    }
}

pub(super) fn link_from_row(r: &impl Cols) -> Link {
    Link {
        key_hash: r.hash("key_hash"),
        a: side_from_row(r, "a"),
        b: side_from_row(r, "b"),
        base: r.opt_blob("base"),
        sealed: r.opt_blob("sealed"),
        pending: r.flag("pending"),
        attempts: r.int("attempts"),
        last_error: r.opt_text("last_error"),
    }
}

/// The link columns, in the order [`Store::commit`] binds them.
pub(super) const LINK_COLUMNS: [&str; 30] = [
    "sync",
    "key_hash",
    "a_remote_id",
    "a_version",
    "a_updated_at",
    "a_hash",
    "a_written_hash",
    "a_snapshot",
    "a_settled_hash",
    "a_settled",
    "a_intent",
    "a_deleted",
    "a_settled_deleted",
    "b_remote_id",
    "b_version",
    "b_updated_at",
    "b_hash",
    "b_written_hash",
    "b_snapshot",
    "b_settled_hash",
    "b_settled",
    "b_intent",
    "b_deleted",
    "b_settled_deleted",
    "base",
    "pending",
    "attempts",
    "last_error",
    "updated_at",
    "sealed",
];

/// PostgreSQL's type of each column of [`LINK_COLUMNS`], in the same order, for the arrays
/// [`upsert_links_pg`] binds: the key, side `a`'s eleven, side `b`'s eleven, then the link's
/// own.
#[rustfmt::skip]
const LINK_COLUMN_TYPES: [&str; 30] = [
    "TEXT", "BYTEA", // sync, key_hash
    "TEXT", "TEXT", "TEXT", "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BOOLEAN", "BOOLEAN",
    "TEXT", "TEXT", "TEXT", "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BOOLEAN", "BOOLEAN",
    "BYTEA", "BOOLEAN", "BIGINT", "TEXT", // base, pending, attempts, last_error
    "TEXT", "BYTEA", // updated_at, sealed
];

/// `INSERT INTO {table} (…) SELECT … FROM UNNEST($2::TEXT[], …) ON CONFLICT (sync, key_hash) DO
/// UPDATE` (PostgreSQL; `table` is `links_at_rest` or `links_pending`): every column but the key replaced, the links given as one array per
/// column (`$2` … `$29`; `$1` the sync, `$30` the time). One statement text for any number of
/// links, so the server parses and plans it once per connection; a multi-row `VALUES` with 30
/// parameters per link was a new statement for each batch size and 6,000 parameters to bind
/// and plan for 200 links. Only `$N` placeholders and this file's column names are in the text.
fn upsert_links_pg_sql(table: &str) -> String {
    let unnested: Vec<(&str, &str)> = LINK_COLUMNS
        .iter()
        .zip(LINK_COLUMN_TYPES)
        .map(|(&c, t)| (c, t))
        .filter(|&(c, _)| c != "sync" && c != "updated_at")
        .collect();
    let names: Vec<&str> = unnested.iter().map(|&(c, _)| c).collect();
    let arrays: Vec<String> = unnested
        .iter()
        .enumerate()
        .map(|(n, (_, t))| format!("${}::{t}[]", n + 2))
        .collect();
    let updates: Vec<String> = LINK_COLUMNS[2..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} (sync, {}, updated_at) SELECT $1, u.*, ${} FROM UNNEST({}) AS u \
         ON CONFLICT (sync, key_hash) DO UPDATE SET {}",
        names.join(", "),
        arrays.len() + 2,
        arrays.join(", "),
        updates.join(", "),
    )
}

/// Stores `links` of `sync` on PostgreSQL, each row's `updated_at` set to `now`: the pending
/// links ([`Link::pending`]) upserted into `links_pending`, the others into `links_at_rest` and
/// their pending rows deleted (migration 0014); a statement each ([`upsert_links_pg_sql`]).
///
/// # Errors
/// The server's refusal (a lost connection, a constraint).
pub(super) async fn store_links_pg(
    tx: &mut sqlx::PgConnection,
    sync: &str,
    links: &[&Link],
    now: &str,
) -> Result<(), sqlx::Error> {
    let (pending, settled): (Vec<&Link>, Vec<&Link>) = links.iter().partition(|l| l.pending);
    if !settled.is_empty() {
        sqlx::query("DELETE FROM links_pending WHERE sync = $1 AND key_hash = ANY($2)")
            .bind(sync)
            .bind(
                settled
                    .iter()
                    .map(|l| hash_bytes::to_bytes(&l.key_hash))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        upsert_links_pg(tx, false, sync, &settled, now).await?;
    }
    if !pending.is_empty() {
        upsert_links_pg(tx, true, sync, &pending, now).await?;
    }
    Ok(())
}

/// Upserts `links` of `sync` into `links_pending` (`pending`) or `links_at_rest` in one
/// statement ([`upsert_links_pg_sql`]), each row's `updated_at` set to `now`.
async fn upsert_links_pg(
    tx: &mut sqlx::PgConnection,
    pending: bool,
    sync: &str,
    links: &[&Link],
    now: &str,
) -> Result<(), sqlx::Error> {
    static SQL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    let [at_rest_sql, pending_sql] = SQL.get_or_init(|| {
        [
            upsert_links_pg_sql("links_at_rest"),
            upsert_links_pg_sql("links_pending"),
        ]
    });
    let sql = if pending { pending_sql } else { at_rest_sql };
    fn col<T>(links: &[&Link], f: impl Fn(&Link) -> T) -> Vec<T> {
        links.iter().map(|l| f(l)).collect()
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(sync)
        .bind(col(links, |l| hash_bytes::to_bytes(&l.key_hash)));
    for s in [Side::A, Side::B] {
        q = q
            .bind(col(links, |l| l.side(s).remote_id.clone()))
            .bind(col(links, |l| l.side(s).version.clone()))
            .bind(col(links, |l| l.side(s).updated_at.clone()))
            .bind(col(links, |l| {
                hash_bytes::opt_to_bytes(l.side(s).hash.as_deref())
            }))
            .bind(col(links, |l| {
                hash_bytes::opt_to_bytes(l.side(s).written_hash.as_deref())
            }))
            .bind(col(links, |l| l.side(s).snapshot.clone()))
            .bind(col(links, |l| {
                hash_bytes::opt_to_bytes(l.side(s).settled_hash.as_deref())
            }))
            .bind(col(links, |l| l.side(s).settled.clone()))
            .bind(col(links, |l| l.side(s).intent.clone()))
            .bind(col(links, |l| l.side(s).deleted))
            .bind(col(links, |l| l.side(s).settled_deleted));
    }
    q.bind(col(links, |l| l.base.clone()))
        .bind(col(links, |l| l.pending))
        .bind(col(links, |l| l.attempts))
        .bind(col(links, |l| l.last_error.clone()))
        .bind(col(links, |l| l.sealed.clone()))
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

/// The links to store, a key given twice keeping its last link (as row-by-row upserts would;
/// PostgreSQL refuses to upsert one row twice in a statement), in their first order.
pub(super) fn last_of_each_key(links: &[Link]) -> Vec<&Link> {
    let mut last: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(links.len());
    for (i, l) in links.iter().enumerate() {
        last.insert(l.key_hash.as_str(), i);
    }
    links
        .iter()
        .enumerate()
        .filter(|(i, l)| last[l.key_hash.as_str()] == *i)
        .map(|(_, l)| l)
        .collect()
}

/// Marks a key pending, so that the sync's next run reconciles (and writes) it again: each
/// statement binds (now, sync, key hash); run both, in this order (the key's link may be in
/// either table, or in both, the pending row the one read: migration 0014). The pending row
/// first, as a commit that settles the key takes them (it deletes the pending row, then writes
/// the one at rest): on PostgreSQL the two transactions then wait for each other in turn
/// instead of each holding the row the other wants.
pub(super) const MARK_PENDING: [&str; 2] = [
    "UPDATE links_pending SET pending = TRUE, updated_at = $1 WHERE sync = $2 AND key_hash = $3",
    "UPDATE links_at_rest SET pending = TRUE, updated_at = $1 WHERE sync = $2 AND key_hash = $3",
];

impl Store {
    /// The cursor of one side of a sync.
    pub async fn cursor(&self, sync: &str, side: Side) -> Result<Option<String>> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT cursor FROM cursors WHERE sync = $1 AND side = $2")
                .bind(sync)
                .bind(side.as_str())
                .fetch_optional(p)
                .await?;
            Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
        })
    }

    /// The links of these keys (missing keys are absent from the answer).
    pub async fn links(&self, sync: &str, key_hashes: &[String]) -> Result<Vec<Link>> {
        let p = match &self.pool {
            Pool::Sqlite(_, b) => return b.links(sync, key_hashes).await,
            Pool::Postgres(p) => p,
        };
        {
            // One statement text whatever the number of keys (an `IN` list was a new one per
            // count, parsed and planned each time). Not kept prepared (`persistent(false)`: the
            // unnamed statement, planned for each call's own keys): a kept statement goes to
            // PostgreSQL's generic plan after five calls, planned on the table's statistics of
            // that moment. Taken early in a first sync, when the table is nearly empty, that
            // plan read every link of the sync for each batch (hub-bench's PostgreSQL form:
            // 5,365 → 8,119 records/s planned per call; docs/performance.md, stop 35).
            let out = sqlx::query("SELECT * FROM links WHERE sync = $1 AND key_hash = ANY($2)")
                .persistent(false)
                .bind(sync)
                .bind(
                    key_hashes
                        .iter()
                        .map(|k| hash_bytes::to_bytes(k))
                        .collect::<Vec<_>>(),
                )
                .fetch_all(p)
                .await?
                .iter()
                .map(link_from_row)
                .collect();
            Ok(out)
        }
    }

    /// Up to `limit` pending links with key hash after `after`, in key-hash order.
    pub async fn pending(&self, sync: &str, after: Option<&str>, limit: u32) -> Result<Vec<Link>> {
        let p = match &self.pool {
            Pool::Sqlite(_, b) => return b.pending(sync, after, limit).await,
            Pool::Postgres(p) => p,
        };
        let rows = sqlx::query("SELECT * FROM links WHERE sync = $1 AND pending AND key_hash > $2 ORDER BY key_hash LIMIT $3")
            .bind(sync)
            .bind(hash_bytes::to_bytes(after.unwrap_or("")))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
        Ok(rows.iter().map(link_from_row).collect())
    }

    /// How many links of `sync` are pending, through the partial index on pending links: the
    /// cost follows the pending links, not the sync's size.
    pub async fn pending_count(&self, sync: &str) -> Result<i64> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM links WHERE sync = $1 AND pending")
                .bind(sync)
                .fetch_one(p)
                .await?)
        })
    }

    /// Counts of links: (all, pending). Visits every link of the sync: for people and tests,
    /// not for each run ([`Store::pending_count`]).
    pub async fn link_counts(&self, sync: &str) -> Result<(i64, i64)> {
        on_pool!(self, p => {
            let r = sqlx::query("SELECT COUNT(*), COUNT(CASE WHEN pending THEN 1 END) FROM links WHERE sync = $1")
                .bind(sync)
                .fetch_one(p)
                .await?;
            Ok((r.get(0), r.get(1)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_is_a_or_b_and_any_other_text_is_refused_by_name() {
        assert_eq!(Side::parse("a").unwrap(), Side::A);
        assert_eq!(Side::parse("b").unwrap(), Side::B);
        for bad in ["c", "", "A", "B", " b", "ab"] {
            let e = Side::parse(bad).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("{bad:?} is not a side of a sync (\"a\" or \"b\")"),
                "{bad:?}"
            );
        }
        let e = Side::stored("c", &format_args!("dead letter 12"), "side")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            r#"dead letter 12 in the store is corrupt: column side: "c" is not a side of a sync ("a" or "b")"#
        );
        assert_eq!(
            Side::stored("b", &format_args!("conflict 3"), "take").unwrap(),
            Side::B
        );
    }
}
