//! The state store: cursors, links, run history, dead letters and the audit log, in SQLite
//! (embedded, WAL journal) through sqlx. Schema: `hub/migrations/sqlite/`.
//!
//! The store holds no personal data in clear: callers pass key hashes, keyed content hashes and
//! sealed snapshots (see [`crate::keys`]). Every write that must be atomic with a cursor move
//! or with the audit entries of the writes it records goes through one transaction
//! ([`Store::commit`]).
//!
//! The audit log ([`crate::audit`]) is kept behind [`Store::commit`] (appending),
//! [`Store::audit_entries`] and [`Store::verify_audit`]: another backend implements the same
//! three, appending under a lock that lets one transaction at a time read the chain's head.

use crate::audit::{AuditEntry, AuditKey, Break, ChainVerifier, GENESIS, Intact, NewAuditEntry};
use crate::schema::Violation;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

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

    fn parse(s: &str) -> Side {
        if s == "b" { Side::B } else { Side::A }
    }
}

/// What the hub knows of one record in one system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideState {
    /// The system's id for it.
    pub remote_id: Option<String>,
    /// The system's version token (for optimistic concurrency).
    pub version: Option<String>,
    /// When the system last changed it (RFC 3339), as read; or when the hub wrote it.
    pub updated_at: Option<String>,
    /// Keyed content hash of the snapshot.
    pub hash: Option<String>,
    /// Keyed content hash of what the hub last wrote there, until it is read back.
    pub written_hash: Option<String>,
    /// The record as the system holds it (schema shape), sealed.
    pub snapshot: Option<Vec<u8>>,
    /// Content hash of the record when the key last settled (`None`: never settled).
    pub settled_hash: Option<String>,
    /// That record, sealed, when it is not the snapshot itself (the side changed since).
    pub settled: Option<Vec<u8>>,
    /// The record being written there, sealed: set before a write, cleared by its result, so a
    /// crash between the two is recognised when the record is read back.
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
    /// The merged record at the last complete reconcile, sealed.
    pub base: Option<Vec<u8>>,
    /// A change waits to be written.
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

/// A dead letter to record.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    /// Run that found it.
    pub run_id: i64,
    /// The system it came from (`read`) or was going to (`write`).
    pub side: Side,
    /// `read` (invalid record) or `write` (refused by the system).
    pub stage: &'static str,
    /// HMAC of its key, if the key could be read.
    pub key_hash: Option<String>,
    /// The key for people, masked.
    pub key_masked: Option<String>,
    /// The system's id for it.
    pub remote_id: Option<String>,
    /// Keyed content hash (the same record is recorded once while open).
    pub record_hash: String,
    /// What is wrong, by JSON pointer.
    pub errors: Vec<Violation>,
    /// The record, sealed, for replay.
    pub record: Option<Vec<u8>>,
}

/// A recorded dead letter.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    /// Its id.
    pub id: i64,
    /// Sync name.
    pub sync: String,
    /// First run that found it.
    pub run_id: Option<i64>,
    /// Side.
    pub side: Side,
    /// `read` or `write`.
    pub stage: String,
    /// Masked key.
    pub key_masked: Option<String>,
    /// The system's id.
    pub remote_id: Option<String>,
    /// What is wrong.
    pub errors: Vec<Violation>,
    /// How many times it was met while open.
    pub occurrences: i64,
    /// `open`; `replayed` once a replay took it through (a record that fails again opens a
    /// new dead letter); `fixed` once a valid copy of the record was read from its system.
    pub status: String,
    /// First seen (RFC 3339).
    pub created_at: String,
    /// Last seen (RFC 3339).
    pub last_seen_at: String,
    /// A replay waits for the sync's next run (requested at, RFC 3339).
    pub replay_requested_at: Option<String>,
    /// Every replay so far, oldest first.
    pub replays: Vec<ReplayAttempt>,
}

/// One replay of a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReplayAttempt {
    /// When it was asked for (RFC 3339).
    pub requested_at: String,
    /// The run that replayed it.
    pub run_id: i64,
    /// When it was replayed (RFC 3339).
    pub at: String,
    /// What happened, for people (no personal data).
    pub result: String,
}

/// A dead letter whose replay was asked for, with what the engine needs to replay it.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// Its id.
    pub id: i64,
    /// The side it came from (`read`) or was going to (`write`).
    pub side: Side,
    /// `read` or `write`.
    pub stage: String,
    /// HMAC of its key, if the key could be read.
    pub key_hash: Option<String>,
    /// The system's id.
    pub remote_id: Option<String>,
    /// Keyed content hash (part of the seal's context).
    pub record_hash: String,
    /// The record, sealed.
    pub record: Option<Vec<u8>>,
    /// When the replay was asked for.
    pub requested_at: String,
}

/// A run of the history.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Sync name.
    pub sync: String,
    /// `schedule`, `manual` or `catch-up`.
    pub trigger: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339), if finished.
    pub finished_at: Option<String>,
    /// `running`, `ok`, `partial` or `failed`.
    pub status: String,
    /// Counts (JSON, see `sync::RunStats`).
    pub stats: Option<serde_json::Value>,
    /// Why it failed or what went partly wrong.
    pub error: Option<String>,
}

/// Where a sync's schedule stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleState {
    /// Every fire time up to this instant has been run or deliberately skipped.
    pub handled_through: Option<chrono::DateTime<chrono::Utc>>,
    /// Scheduled runs are skipped while paused (manual runs still start).
    pub paused: bool,
    /// A manual run waits to start.
    pub trigger_requested: bool,
}

/// This machine's host name (Linux: the kernel's; elsewhere `$HOSTNAME`).
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process of this host is alive (Linux: `/proc/PID`; elsewhere assumed alive, so
/// only the lease's expiry frees it).
/// A lease still binds: it has not expired, and its holder is not a process of this host that
/// is gone (a daemon killed with SIGKILL leaves its lease behind).
fn lease_live(this_host: &str, host: &str, pid: i64, expires_at: &str) -> bool {
    let expired = parse_utc(expires_at).is_none_or(|t| t < chrono::Utc::now());
    let gone = host == this_host && !process_alive(pid);
    !expired && !gone
}

fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

fn parse_utc(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

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
}

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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The SQLite state store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    audit_key: Option<Arc<AuditKey>>,
    crash: Option<crate::crash::Held>,
}

/// Audit entries read back per query while verifying.
const AUDIT_PAGE: i64 = 5_000;

fn audit_from_row(r: &sqlx::sqlite::SqliteRow) -> AuditEntry {
    AuditEntry {
        id: r.get("id"),
        at: r.get("at"),
        sync: r.get("sync"),
        run_id: r.get("run_id"),
        system: r.get("system"),
        side: Side::parse(r.get::<&str, _>("side")),
        key_hash: r.get("key_hash"),
        action: r.get("action"),
        result: r.get("result"),
        remote_id: r.get("remote_id"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url` (`sqlite://PATH`).
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        use anyhow::Context as _;
        let path = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| anyhow::anyhow!("store {url:?}: only sqlite://PATH is supported"))?;
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL survives a crash of the process (SIGKILL); FULL would add an fsync
            // per commit for power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // Two processes opening a store at once (a daemon starting, `hub runs` beside it) must
        // not migrate it together: SQLite has no advisory lock for sqlx to take, so a lock file
        // beside the database serialises the opening. SQLite may still answer "database is
        // locked" at once for the switch to WAL, so that is tried again for a while.
        let lock_path = format!("{path}.open-lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("failed to create {lock_path}"))?;
        // A blocking wait, once at start-up, for another process to finish opening.
        lock.lock()
            .with_context(|| format!("failed to lock {lock_path}"))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts.clone())
                    .await
                    .with_context(|| format!("failed to open the state store {path}"))?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&pool)
                    .await
                    .context("failed to migrate the state store")?;
                anyhow::Ok(pool)
            }
            .await;
            match result {
                Ok(pool) => {
                    return Ok(Store {
                        pool,
                        audit_key: None,
                        crash: None,
                    });
                }
                Err(e) if attempt < 40 && format!("{e:#}").contains("database is locked") => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The same store, appending audit entries under `key` (commits carrying audit entries fail
    /// without one).
    pub fn with_audit_key(mut self, key: AuditKey) -> Store {
        self.audit_key = Some(Arc::new(key));
        self
    }

    /// The store with a crash hook (tests only, see [`crate::crash`]): [`Store::commit`] asks it
    /// at [`CrashPoint::InCommit`](crate::crash::CrashPoint::InCommit) and, told to crash,
    /// rolls its transaction back and fails with [`Crashed`](crate::crash::Crashed).
    pub fn with_crash_hook(mut self, hook: crate::crash::CrashHook) -> Store {
        self.crash = Some(crate::crash::Held(hook));
        self
    }

    /// The cursor of one side of a sync.
    pub async fn cursor(&self, sync: &str, side: Side) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT cursor FROM cursors WHERE sync = ? AND side = ?")
            .bind(sync)
            .bind(side.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }

    /// The links of these keys (missing keys are absent from the answer).
    pub async fn links(&self, sync: &str, key_hashes: &[String]) -> anyhow::Result<Vec<Link>> {
        let mut out = Vec::with_capacity(key_hashes.len());
        for chunk in key_hashes.chunks(500) {
            // Only `?` placeholders are formatted into the text; every value is bound.
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT * FROM links WHERE sync = ? AND key_hash IN ({marks})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(sync);
            for k in chunk {
                q = q.bind(k);
            }
            out.extend(q.fetch_all(&self.pool).await?.iter().map(link_from_row));
        }
        Ok(out)
    }

    /// Up to `limit` pending links with key hash after `after`, in key-hash order.
    pub async fn pending(
        &self,
        sync: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<Link>> {
        let rows = sqlx::query("SELECT * FROM links WHERE sync = ? AND pending = 1 AND key_hash > ? ORDER BY key_hash LIMIT ?")
            .bind(sync)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(link_from_row).collect())
    }

    /// Counts of links: (all, pending).
    pub async fn link_counts(&self, sync: &str) -> anyhow::Result<(i64, i64)> {
        let r = sqlx::query("SELECT COUNT(*), COALESCE(SUM(pending), 0) FROM links WHERE sync = ?")
            .bind(sync)
            .fetch_one(&self.pool)
            .await?;
        Ok((r.get(0), r.get(1)))
    }

    /// Persists links, dead letters, a cursor move and audit entries in one transaction.
    ///
    /// The transaction takes SQLite's write lock as it begins (`BEGIN IMMEDIATE`, waiting up to
    /// the busy timeout for another writer), so the audit chain's head it reads cannot be
    /// appended to by another transaction, in this process or another, before it commits.
    pub async fn commit(&self, sync: &str, c: Commit<'_>) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let audit_key = match (c.audit.is_empty(), &self.audit_key) {
            (true, _) => None,
            (false, Some(k)) => Some(k.clone()),
            (false, None) => anyhow::bail!(
                "state store: audit entries to append but no audit key (Store::with_audit_key)"
            ),
        };
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("state store: cannot begin a write transaction")?;
        let now = now();
        for l in c.links {
            sqlx::query(
                "INSERT INTO links (sync, key_hash, \
                   a_remote_id, a_version, a_updated_at, a_hash, a_written_hash, a_snapshot, \
                   a_settled_hash, a_settled, a_intent, a_deleted, a_settled_deleted, \
                   b_remote_id, b_version, b_updated_at, b_hash, b_written_hash, b_snapshot, \
                   b_settled_hash, b_settled, b_intent, b_deleted, b_settled_deleted, \
                   base, pending, attempts, last_error, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (sync, key_hash) DO UPDATE SET \
                   a_remote_id = excluded.a_remote_id, a_version = excluded.a_version, a_updated_at = excluded.a_updated_at, \
                   a_hash = excluded.a_hash, a_written_hash = excluded.a_written_hash, a_snapshot = excluded.a_snapshot, \
                   a_settled_hash = excluded.a_settled_hash, a_settled = excluded.a_settled, \
                   a_intent = excluded.a_intent, a_deleted = excluded.a_deleted, a_settled_deleted = excluded.a_settled_deleted, \
                   b_remote_id = excluded.b_remote_id, b_version = excluded.b_version, b_updated_at = excluded.b_updated_at, \
                   b_hash = excluded.b_hash, b_written_hash = excluded.b_written_hash, b_snapshot = excluded.b_snapshot, \
                   b_settled_hash = excluded.b_settled_hash, b_settled = excluded.b_settled, \
                   b_intent = excluded.b_intent, b_deleted = excluded.b_deleted, b_settled_deleted = excluded.b_settled_deleted, \
                   base = excluded.base, pending = excluded.pending, attempts = excluded.attempts, \
                   last_error = excluded.last_error, updated_at = excluded.updated_at",
            )
            .bind(sync)
            .bind(&l.key_hash)
            .bind(&l.a.remote_id)
            .bind(&l.a.version)
            .bind(&l.a.updated_at)
            .bind(&l.a.hash)
            .bind(&l.a.written_hash)
            .bind(&l.a.snapshot)
            .bind(&l.a.settled_hash)
            .bind(&l.a.settled)
            .bind(&l.a.intent)
            .bind(l.a.deleted)
            .bind(l.a.settled_deleted)
            .bind(&l.b.remote_id)
            .bind(&l.b.version)
            .bind(&l.b.updated_at)
            .bind(&l.b.hash)
            .bind(&l.b.written_hash)
            .bind(&l.b.snapshot)
            .bind(&l.b.settled_hash)
            .bind(&l.b.settled)
            .bind(&l.b.intent)
            .bind(l.b.deleted)
            .bind(l.b.settled_deleted)
            .bind(&l.base)
            .bind(l.pending)
            .bind(l.attempts)
            .bind(&l.last_error)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(key) = audit_key {
            let head = sqlx::query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            let (mut id, mut prev): (i64, String) =
                head.map_or((0, GENESIS.to_string()), |r| (r.get(0), r.get(1)));
            for n in c.audit {
                id += 1;
                let mut e = AuditEntry {
                    id,
                    at: now.clone(),
                    sync: sync.to_string(),
                    run_id: n.run_id,
                    system: n.system.clone(),
                    side: n.side,
                    key_hash: n.key_hash.clone(),
                    action: n.action.as_str().to_string(),
                    result: n.result.as_str().to_string(),
                    remote_id: n.remote_id.clone(),
                    prev_hash: prev,
                    hash: String::new(),
                };
                e.hash = key.hash(&e);
                sqlx::query(
                    "INSERT INTO audit (id, at, sync, run_id, system, side, key_hash, action, result, remote_id, prev_hash, hash) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(e.id)
                .bind(&e.at)
                .bind(&e.sync)
                .bind(e.run_id)
                .bind(&e.system)
                .bind(e.side.as_str())
                .bind(&e.key_hash)
                .bind(&e.action)
                .bind(&e.result)
                .bind(&e.remote_id)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .execute(&mut *tx)
                .await
                .context("state store: cannot append to the audit log")?;
                prev = e.hash;
            }
        }
        for k in c.settled {
            sqlx::query(
                "UPDATE conflicts SET status = 'resolved', resolved_at = ?1, updated_at = ?1, \
                   resolution = CASE WHEN take IS NULL THEN 'merge policy' ELSE 'took ' || take END \
                 WHERE sync = ?2 AND key_hash = ?3 AND status = 'open'",
            )
            .bind(&now)
            .bind(sync)
            .bind(k)
            .execute(&mut *tx)
            .await?;
        }
        for f in c.conflicts {
            sqlx::query(
                "INSERT INTO conflicts (sync, key_hash, key_masked, side, reason, first_run_id, last_run_id, created_at, updated_at, kind) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7, ?8) \
                 ON CONFLICT (sync, key_hash) WHERE status = 'open' DO UPDATE SET \
                   attempts = attempts + 1, side = excluded.side, reason = excluded.reason, kind = excluded.kind, \
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (sync, side, stage, record_hash) WHERE status = 'open' DO UPDATE SET \
                   occurrences = occurrences + 1, last_seen_at = excluded.last_seen_at, errors = excluded.errors",
            )
            .bind(sync)
            .bind(d.run_id)
            .bind(d.side.as_str())
            .bind(d.stage)
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
                "INSERT INTO cursors (sync, side, cursor, updated_at) VALUES (?, ?, ?, ?) \
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

    /// The latest audit entries, newest first (all syncs if `sync` is `None`).
    pub async fn audit_entries(
        &self,
        sync: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT * FROM audit WHERE (?1 IS NULL OR sync = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(sync)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_from_row).collect())
    }

    /// Recomputes the whole audit chain under `key`, in id order, a page at a time: the count
    /// and head if intact, else the first entry out of place ([`Break`]).
    pub async fn verify_audit(&self, key: &AuditKey) -> anyhow::Result<Result<Intact, Break>> {
        let mut v = ChainVerifier::new(key);
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query("SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after)
                .bind(AUDIT_PAGE)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                let e = audit_from_row(r);
                if let Err(b) = v.push(&e) {
                    return Ok(Err(b));
                }
                after = e.id;
            }
            if (rows.len() as i64) < AUDIT_PAGE {
                return Ok(Ok(v.finish()));
            }
        }
    }

    /// Records the start of a run; returns its id.
    pub async fn start_run(&self, sync: &str, trigger: &str) -> anyhow::Result<i64> {
        let r = sqlx::query(
            "INSERT INTO runs (sync, trigger, started_at, status) VALUES (?, ?, ?, 'running')",
        )
        .bind(sync)
        .bind(trigger)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(r.last_insert_rowid())
    }

    /// Records the end of a run.
    pub async fn finish_run(
        &self,
        id: i64,
        status: &str,
        stats: &serde_json::Value,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE runs SET finished_at = ?, status = ?, stats = ?, error = ? WHERE id = ?",
        )
        .bind(now())
        .bind(status)
        .bind(stats.to_string())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs left `running` by a daemon that stopped without finishing them are marked
    /// `interrupted`; returns how many.
    pub async fn close_interrupted_runs(&self) -> anyhow::Result<u64> {
        // A run whose sync's lease is still held by a live process is someone else's run in
        // progress (a daemon beside a `hub sync --once`), not an interrupted one.
        let host = this_host();
        let live: Vec<String> = sqlx::query("SELECT sync, host, pid, expires_at FROM leases")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .filter(|r| lease_live(&host, r.get("host"), r.get("pid"), r.get("expires_at")))
            .map(|r| r.get("sync"))
            .collect();
        let mut closed = 0;
        let running: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, sync FROM runs WHERE status = 'running'")
                .fetch_all(&self.pool)
                .await?;
        for (id, sync) in running.into_iter().filter(|(_, s)| !live.contains(s)) {
            closed += sqlx::query("UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'")
                .bind(now())
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
            tracing::debug!(sync, run = id, "run marked interrupted");
        }
        Ok(closed)
    }

    /// The latest runs, newest first (all syncs if `sync` is `None`).
    pub async fn runs(&self, sync: Option<&str>, limit: u32) -> anyhow::Result<Vec<RunRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE (?1 IS NULL OR sync = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(sync)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(run_record).collect())
    }

    /// One run, if it exists.
    pub async fn run(&self, id: i64) -> anyhow::Result<Option<RunRecord>> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(run_record))
    }

    /// Open dead letters, oldest first (all syncs if `sync` is `None`).
    pub async fn dead_letters(&self, sync: Option<&str>) -> anyhow::Result<Vec<DeadLetter>> {
        let rows = sqlx::query("SELECT * FROM dead_letters WHERE (?1 IS NULL OR sync = ?1) AND status = 'open' ORDER BY id")
            .bind(sync)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(dead_letter).collect())
    }

    /// One dead letter (open or not), if it exists.
    pub async fn dead_letter(&self, id: i64) -> anyhow::Result<Option<DeadLetter>> {
        let row = sqlx::query("SELECT * FROM dead_letters WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(dead_letter))
    }

    /// How many conflicts are open (all syncs if `sync` is `None`).
    pub async fn open_conflict_count(&self, sync: Option<&str>) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM conflicts WHERE (?1 IS NULL OR sync = ?1) AND status = 'open'",
        )
        .bind(sync)
        .fetch_one(&self.pool)
        .await?)
    }

    /// How many dead letters are open (all syncs if `sync` is `None`).
    pub async fn open_dead_letter_count(&self, sync: Option<&str>) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM dead_letters WHERE (?1 IS NULL OR sync = ?1) AND status = 'open'",
        )
        .bind(sync)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Asks for open dead letters to be replayed by their sync's next run: one by `id`, or every
    /// open one of `sync` (all syncs if `None`). Returns how many were asked for (0 for an id
    /// that is not an open dead letter).
    pub async fn request_replay(&self, id: Option<i64>, sync: Option<&str>) -> anyhow::Result<u64> {
        let r = sqlx::query(
            "UPDATE dead_letters SET replay_requested_at = ?1 \
             WHERE status = 'open' AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR sync = ?3)",
        )
        .bind(now())
        .bind(id)
        .bind(sync)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// The replays `sync` was asked for, oldest dead letter first.
    pub async fn replay_requests(&self, sync: &str) -> anyhow::Result<Vec<ReplayRequest>> {
        let rows = sqlx::query(
            "SELECT id, side, stage, key_hash, remote_id, record_hash, record, replay_requested_at \
             FROM dead_letters WHERE sync = ? AND status = 'open' AND replay_requested_at IS NOT NULL ORDER BY id",
        )
        .bind(sync)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ReplayRequest {
                id: r.get("id"),
                side: Side::parse(r.get::<&str, _>("side")),
                stage: r.get("stage"),
                key_hash: r.get("key_hash"),
                remote_id: r.get("remote_id"),
                record_hash: r.get("record_hash"),
                record: r.get("record"),
                requested_at: r.get("replay_requested_at"),
            })
            .collect())
    }

    /// Records a replay of dead letter `id` by run `run_id`: appends it to the history, clears
    /// the request, and with `closed` marks the dead letter `replayed`. With `pending_key`, in
    /// the same transaction, marks that link pending so the run writes it again.
    pub async fn finish_replay(
        &self,
        id: i64,
        run_id: i64,
        result: &str,
        closed: bool,
        pending_key: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE dead_letters SET \
               replays = json_insert(replays, '$[#]', json_object('requested_at', replay_requested_at, 'run_id', ?1, 'at', ?2, 'result', ?3)), \
               replay_requested_at = NULL, \
               status = CASE WHEN ?4 THEN 'replayed' ELSE status END \
             WHERE id = ?5",
        )
        .bind(run_id)
        .bind(now())
        .bind(result)
        .bind(closed)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some((sync, key_hash)) = pending_key {
            mark_pending(&mut tx, sync, key_hash).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Conflicts, newest first: open ones only unless `all` (all syncs if `sync` is `None`).
    pub async fn conflicts(&self, sync: Option<&str>, all: bool) -> anyhow::Result<Vec<Conflict>> {
        let rows = sqlx::query(
            "SELECT * FROM conflicts WHERE (?1 IS NULL OR sync = ?1) AND (?2 OR status = 'open') ORDER BY id DESC LIMIT 1000",
        )
        .bind(sync)
        .bind(all)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(conflict).collect())
    }

    /// One conflict, if it exists.
    pub async fn conflict(&self, id: i64) -> anyhow::Result<Option<Conflict>> {
        let row = sqlx::query("SELECT * FROM conflicts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(conflict))
    }

    /// A person's decision on an open conflict: the next run takes `take`'s record whole for
    /// that key (and writes it to the other side). Marks the key pending in the same
    /// transaction. Returns false if the conflict is not open.
    pub async fn resolve_conflict(&self, id: i64, take: Side) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("UPDATE conflicts SET take = ?1, updated_at = ?2 WHERE id = ?3 AND status = 'open' RETURNING sync, key_hash")
            .bind(take.as_str())
            .bind(now())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(false) };
        mark_pending(&mut tx, row.get(0), row.get(1)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The sides people chose to take for `sync`'s open conflicts, by key hash.
    pub async fn conflict_takes(
        &self,
        sync: &str,
    ) -> anyhow::Result<std::collections::HashMap<String, Side>> {
        let rows = sqlx::query("SELECT key_hash, take FROM conflicts WHERE sync = ? AND status = 'open' AND take IS NOT NULL")
            .bind(sync)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), Side::parse(r.get::<&str, _>(1))))
            .collect())
    }

    /// The open dead letters of records read from `side` of `sync`: (key hash, record hash).
    pub async fn open_read_dead_letters(
        &self,
        sync: &str,
        side: Side,
    ) -> anyhow::Result<Vec<(Option<String>, String)>> {
        Ok(sqlx::query_as("SELECT key_hash, record_hash FROM dead_letters WHERE sync = ? AND side = ? AND stage = 'read' AND status = 'open'")
            .bind(sync)
            .bind(side.as_str())
            .fetch_all(&self.pool)
            .await?)
    }

    /// Closes the open `read` dead letters of these keys on `side` as `fixed`: a valid copy of
    /// the record was read since (the source system corrected it). Returns how many.
    pub async fn close_fixed_dead_letters(
        &self,
        sync: &str,
        side: Side,
        key_hashes: &[String],
    ) -> anyhow::Result<u64> {
        let mut closed = 0;
        for k in key_hashes {
            closed += sqlx::query(
                "UPDATE dead_letters SET status = 'fixed', replay_requested_at = NULL \
                 WHERE sync = ? AND side = ? AND stage = 'read' AND status = 'open' AND key_hash = ?",
            )
            .bind(sync)
            .bind(side.as_str())
            .bind(k)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(closed)
    }

    /// Answers if the store is reachable (a trivial query).
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The scheduling state of a sync (defaults if it never ran).
    pub async fn schedule_state(&self, sync: &str) -> anyhow::Result<ScheduleState> {
        let row = sqlx::query(
            "SELECT handled_through, paused, trigger_requested FROM schedule_state WHERE sync = ?",
        )
        .bind(sync)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| ScheduleState {
                handled_through: r.get::<Option<String>, _>(0).and_then(|t| parse_utc(&t)),
                paused: r.get(1),
                trigger_requested: r.get::<Option<String>, _>(2).is_some(),
            })
            .unwrap_or_default())
    }

    async fn upsert_schedule(
        &self,
        sync: &str,
        column: &'static str,
        value: Option<String>,
    ) -> anyhow::Result<()> {
        // `column` is one of this file's literals, never input.
        let sql = format!(
            "INSERT INTO schedule_state (sync, {column}, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (sync) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sync)
            .bind(value)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that every fire time up to `t` has been run or skipped.
    pub async fn set_handled_through(
        &self,
        sync: &str,
        t: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        self.upsert_schedule(
            sync,
            "handled_through",
            Some(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        )
        .await
    }

    /// Pauses or resumes a sync's schedule.
    pub async fn set_paused(&self, sync: &str, paused: bool) -> anyhow::Result<()> {
        let sql = "INSERT INTO schedule_state (sync, paused, updated_at) VALUES (?, ?, ?) \
                   ON CONFLICT (sync) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at";
        sqlx::query(sql)
            .bind(sync)
            .bind(paused)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Asks the daemon running the sync to start a run now.
    pub async fn request_trigger(&self, sync: &str) -> anyhow::Result<()> {
        self.upsert_schedule(sync, "trigger_requested", Some(now()))
            .await
    }

    /// Takes a pending manual trigger: true (and cleared) if one was asked for.
    pub async fn take_trigger(&self, sync: &str) -> anyhow::Result<bool> {
        let r = sqlx::query("UPDATE schedule_state SET trigger_requested = NULL, updated_at = ? WHERE sync = ? AND trigger_requested IS NOT NULL")
            .bind(now())
            .bind(sync)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Takes the lease of a sync for this process for `ttl`, unless another live process holds
    /// it: the holder's `host:pid` is returned then. A lease expires unless renewed; on this
    /// host, a holder whose process is gone (killed) loses it at once.
    pub async fn acquire_lease(
        &self,
        sync: &str,
        ttl: Duration,
    ) -> anyhow::Result<Result<(), String>> {
        let (host, pid) = (this_host(), i64::from(std::process::id()));
        let me = format!("{host}:{pid}");
        // IMMEDIATE: take the write lock now. A deferred transaction that reads and then
        // writes fails at once with SQLITE_BUSY(_SNAPSHOT) when another write came in between
        // (no busy wait applies to that upgrade), which several syncs starting at the same
        // second made happen.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("SELECT holder, host, pid, expires_at FROM leases WHERE sync = ?")
            .bind(sync)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = row {
            let (holder, their_host, their_pid, expires): (String, String, i64, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            if holder != me && lease_live(&host, &their_host, their_pid, &expires) {
                return Ok(Err(holder));
            }
        }
        let expires = chrono::Utc::now() + chrono::Duration::from_std(ttl)?;
        sqlx::query(
            "INSERT INTO leases (sync, holder, host, pid, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (sync) DO UPDATE SET holder = excluded.holder, host = excluded.host, pid = excluded.pid, \
               acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
        )
        .bind(sync)
        .bind(&me)
        .bind(&host)
        .bind(pid)
        .bind(now())
        .bind(expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Extends this process's lease of a sync by `ttl` from now; false if it no longer holds it.
    pub async fn renew_lease(&self, sync: &str, ttl: Duration) -> anyhow::Result<bool> {
        let me = format!("{}:{}", this_host(), std::process::id());
        let expires = chrono::Utc::now() + chrono::Duration::from_std(ttl)?;
        let r = sqlx::query("UPDATE leases SET expires_at = ? WHERE sync = ? AND holder = ?")
            .bind(expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .bind(sync)
            .bind(me)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives up this process's lease of a sync.
    pub async fn release_lease(&self, sync: &str) -> anyhow::Result<()> {
        let me = format!("{}:{}", this_host(), std::process::id());
        sqlx::query("DELETE FROM leases WHERE sync = ? AND holder = ?")
            .bind(sync)
            .bind(me)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn side_from_row(r: &sqlx::sqlite::SqliteRow, p: &str) -> SideState {
    let col = |c: &str| format!("{p}_{c}");
    SideState {
        remote_id: r.get(col("remote_id").as_str()),
        version: r.get(col("version").as_str()),
        updated_at: r.get(col("updated_at").as_str()),
        hash: r.get(col("hash").as_str()),
        written_hash: r.get(col("written_hash").as_str()),
        snapshot: r.get(col("snapshot").as_str()),
        settled_hash: r.get(col("settled_hash").as_str()),
        settled: r.get(col("settled").as_str()),
        intent: r.get(col("intent").as_str()),
        deleted: r.get(col("deleted").as_str()),
        settled_deleted: r.get(col("settled_deleted").as_str()),
    }
}

fn link_from_row(r: &sqlx::sqlite::SqliteRow) -> Link {
    Link {
        key_hash: r.get("key_hash"),
        a: side_from_row(r, "a"),
        b: side_from_row(r, "b"),
        base: r.get("base"),
        pending: r.get("pending"),
        attempts: r.get("attempts"),
        last_error: r.get("last_error"),
    }
}

/// Marks a key pending, so that the sync's next run reconciles (and writes) it again.
async fn mark_pending(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    sync: &str,
    key_hash: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE links SET pending = 1, updated_at = ? WHERE sync = ? AND key_hash = ?")
        .bind(now())
        .bind(sync)
        .bind(key_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn run_record(r: &sqlx::sqlite::SqliteRow) -> RunRecord {
    RunRecord {
        id: r.get("id"),
        sync: r.get("sync"),
        trigger: r.get("trigger"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
        status: r.get("status"),
        stats: r
            .get::<Option<String>, _>("stats")
            .and_then(|s| serde_json::from_str(&s).ok()),
        error: r.get("error"),
    }
}

fn dead_letter(r: &sqlx::sqlite::SqliteRow) -> DeadLetter {
    DeadLetter {
        id: r.get("id"),
        sync: r.get("sync"),
        run_id: r.get("run_id"),
        side: Side::parse(r.get::<&str, _>("side")),
        stage: r.get("stage"),
        key_masked: r.get("key_masked"),
        remote_id: r.get("remote_id"),
        errors: serde_json::from_str(r.get::<&str, _>("errors")).unwrap_or_default(),
        occurrences: r.get("occurrences"),
        status: r.get("status"),
        created_at: r.get("created_at"),
        last_seen_at: r.get("last_seen_at"),
        replay_requested_at: r.get("replay_requested_at"),
        replays: serde_json::from_str(r.get::<&str, _>("replays")).unwrap_or_default(),
    }
}

fn conflict(r: &sqlx::sqlite::SqliteRow) -> Conflict {
    Conflict {
        id: r.get("id"),
        sync: r.get("sync"),
        key_masked: r.get("key_masked"),
        kind: if r.get::<&str, _>("kind") == "park" {
            ConflictKind::Park
        } else {
            ConflictKind::Write
        },
        side: Side::parse(r.get::<&str, _>("side")),
        reason: r.get("reason"),
        first_run_id: r.get("first_run_id"),
        last_run_id: r.get("last_run_id"),
        attempts: r.get("attempts"),
        status: r.get("status"),
        take: r.get::<Option<&str>, _>("take").map(Side::parse),
        resolution: r.get("resolution"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        resolved_at: r.get("resolved_at"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        (dir, Store::open(&url).await.unwrap())
    }

    fn link(k: &str, pending: bool) -> Link {
        let mut l = Link::new(k.into());
        l.pending = pending;
        l.a.remote_id = Some(format!("ZF-{k}"));
        l.a.snapshot = Some(vec![1, 2, 3]);
        l
    }

    #[tokio::test]
    async fn a_run_whose_lease_is_held_by_a_live_process_is_not_marked_interrupted() {
        let (_d, s) = store().await;
        let theirs = s.start_run("w", "schedule").await.unwrap();
        let abandoned = s.start_run("x", "schedule").await.unwrap();
        // This (live) process holds w's lease: its run is in progress, not interrupted.
        assert_eq!(
            s.acquire_lease("w", Duration::from_secs(60)).await.unwrap(),
            Ok(())
        );
        assert_eq!(s.close_interrupted_runs().await.unwrap(), 1);
        let status =
            |runs: &[RunRecord], id: i64| runs.iter().find(|r| r.id == id).unwrap().status.clone();
        let runs = s.runs(None, 10).await.unwrap();
        assert_eq!(
            (
                status(&runs, theirs).as_str(),
                status(&runs, abandoned).as_str()
            ),
            ("running", "interrupted")
        );
        // Released (or held by a process that is gone): interrupted at the next start.
        s.release_lease("w").await.unwrap();
        assert_eq!(s.close_interrupted_runs().await.unwrap(), 1);
        assert_eq!(
            status(&s.runs(None, 10).await.unwrap(), theirs),
            "interrupted"
        );
    }

    #[tokio::test]
    async fn links_cursor_and_dead_letters_commit_together_and_read_back() {
        let (_d, s) = store().await;
        let links = [link("k1", true), link("k2", false), link("k3", true)];
        let dl = NewDeadLetter {
            run_id: 1,
            side: Side::A,
            stage: "read",
            key_hash: None,
            key_masked: Some("5223**********123X".into()),
            remote_id: Some("ZF2021000001".into()),
            record_hash: "h1".into(),
            errors: vec![Violation {
                pointer: "/idNumber".into(),
                message: "bad".into(),
            }],
            record: Some(vec![9]),
        };
        s.commit(
            "w",
            Commit {
                links: &links,
                dead_letters: std::slice::from_ref(&dl),
                cursor: Some((Side::A, Some("2021-09-02 10:00:00"))),
                audit: &[],
                ..Commit::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            s.cursor("w", Side::A).await.unwrap().as_deref(),
            Some("2021-09-02 10:00:00")
        );
        assert_eq!(s.cursor("w", Side::B).await.unwrap(), None);
        let got = s
            .links("w", &["k2".into(), "k1".into(), "nope".into()])
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&links[0]) && got.contains(&links[1]));
        let pending: Vec<_> = s
            .pending("w", None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.key_hash)
            .collect();
        assert_eq!(pending, ["k1", "k3"]);
        let after: Vec<_> = s
            .pending("w", Some("k1"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.key_hash)
            .collect();
        assert_eq!(after, ["k3"]);
        assert_eq!(s.link_counts("w").await.unwrap(), (3, 2));
        // The same record again only counts another occurrence.
        s.commit(
            "w",
            Commit {
                dead_letters: std::slice::from_ref(&dl),
                ..Commit::default()
            },
        )
        .await
        .unwrap();
        let d = s.dead_letters(Some("w")).await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].occurrences, d[0].errors[0].pointer.as_str()),
            (2, "/idNumber")
        );
    }

    /// The audit key of state key 32 × 0x07.
    fn audit_key() -> AuditKey {
        crate::keys::Keys::derive(&[7u8; 32]).audit_key()
    }

    fn written(run_id: i64, key: &str, remote_id: Option<&str>) -> NewAuditEntry {
        use crate::audit::{WriteAction, WriteOutcome};
        NewAuditEntry {
            run_id,
            system: "huiyang-esms".into(),
            side: Side::B,
            key_hash: key.into(),
            action: if remote_id.is_some() {
                WriteAction::Update
            } else {
                WriteAction::Create
            },
            result: if remote_id.is_some() {
                WriteOutcome::Updated
            } else {
                WriteOutcome::Created
            },
            remote_id: remote_id.map(str::to_string),
        }
    }

    /// HMAC-SHA256 under the audit key derived with the hkdf crate here, over the encoding.
    fn expected_hash(e: &AuditEntry) -> String {
        use hmac::{Hmac, Mac};
        let mut k = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"hub state v1"), &[7u8; 32])
            .expand(b"audit-chain", &mut k)
            .unwrap();
        let mut mac = <Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&k).unwrap();
        mac.update(&crate::audit::canonical(e));
        hex::encode(mac.finalize().into_bytes())
    }

    #[tokio::test]
    async fn audit_entries_are_appended_chained_in_the_commit_of_their_links() {
        let (_d, s) = store().await;
        let s = s.with_audit_key(audit_key());
        let links = [link("k1", false), link("k2", false)];
        let audit = [written(3, "k1", None), written(3, "k2", Some("10042"))];
        s.commit(
            "w",
            Commit {
                links: &links,
                audit: &audit,
                ..Commit::default()
            },
        )
        .await
        .unwrap();
        s.commit(
            "v",
            Commit {
                audit: &[written(4, "k3", None)],
                ..Commit::default()
            },
        )
        .await
        .unwrap();
        let mut all = s.audit_entries(None, 10).await.unwrap();
        all.reverse();
        assert_eq!(
            all.iter()
                .map(|e| (e.id, e.sync.as_str()))
                .collect::<Vec<_>>(),
            [(1, "w"), (2, "w"), (3, "v")]
        );
        let e = &all[1];
        assert_eq!(
            (
                e.run_id,
                e.system.as_str(),
                e.side,
                e.key_hash.as_str(),
                e.action.as_str(),
                e.result.as_str(),
                e.remote_id.as_deref()
            ),
            (
                3,
                "huiyang-esms",
                Side::B,
                "k2",
                "update",
                "updated",
                Some("10042")
            )
        );
        assert_eq!(
            (
                all[0].action.as_str(),
                all[0].result.as_str(),
                all[0].remote_id.as_deref()
            ),
            ("create", "created", None)
        );
        assert_eq!(all[0].prev_hash, GENESIS);
        assert_eq!(all[1].prev_hash, all[0].hash);
        assert_eq!(all[2].prev_hash, all[1].hash);
        for e in &all {
            assert_eq!(e.hash, expected_hash(e), "entry {}", e.id);
            assert!(parse_utc(&e.at).is_some(), "{}", e.at);
        }
        assert_eq!(s.audit_entries(Some("w"), 1).await.unwrap()[0].id, 2);
        assert_eq!(
            s.verify_audit(&audit_key()).await.unwrap(),
            Ok(Intact {
                entries: 3,
                head: Some(all[2].hash.clone())
            })
        );
        // Under another state key the first entry already fails.
        let other = crate::keys::Keys::derive(&[8u8; 32]).audit_key();
        assert_eq!(
            s.verify_audit(&other).await.unwrap(),
            Err(Break::Hash { id: 1 })
        );
    }

    #[tokio::test]
    async fn a_failed_commit_appends_nothing_and_audit_entries_need_the_key() {
        let (_d, s) = store().await;
        let bad = NewDeadLetter {
            run_id: 1,
            side: Side::A,
            stage: "neither",
            key_hash: None,
            key_masked: None,
            remote_id: None,
            record_hash: "h".into(),
            errors: vec![],
            record: None,
        };
        let audit = [written(1, "k1", None)];
        let links = [link("k1", false)];
        let e = s
            .commit(
                "w",
                Commit {
                    links: &links,
                    audit: &audit,
                    ..Commit::default()
                },
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no audit key"), "{e}");
        let s = s.with_audit_key(audit_key());
        // The dead letter breaks the stage CHECK after the link and the entry were inserted.
        let c = Commit {
            links: &links,
            dead_letters: std::slice::from_ref(&bad),
            audit: &audit,
            ..Commit::default()
        };
        assert!(s.commit("w", c).await.is_err());
        assert_eq!(s.link_counts("w").await.unwrap(), (0, 0));
        assert_eq!(
            s.verify_audit(&audit_key()).await.unwrap(),
            Ok(Intact {
                entries: 0,
                head: None
            })
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_committing_at_once_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let one = Store::open(&url).await.unwrap().with_audit_key(audit_key());
        let two = Store::open(&url).await.unwrap().with_audit_key(audit_key());
        let run = |s: Store, sync: &'static str| {
            tokio::spawn(async move {
                for i in 0..40 {
                    let links = [link(&format!("{sync}{i}"), false)];
                    let audit: Vec<NewAuditEntry> = (0..3)
                        .map(|j| written(i, &format!("{sync}{i}.{j}"), None))
                        .collect();
                    // Every other commit carries only audit entries: its first statement
                    // reads the chain's head, which a deferred BEGIN would let go stale.
                    let links: &[Link] = if i % 2 == 0 { &links } else { &[] };
                    s.commit(
                        sync,
                        Commit {
                            links,
                            audit: &audit,
                            ..Commit::default()
                        },
                    )
                    .await
                    .unwrap();
                }
            })
        };
        let (a, b) = tokio::join!(run(one.clone(), "x"), run(two, "y"));
        a.unwrap();
        b.unwrap();
        let r = one.verify_audit(&audit_key()).await.unwrap();
        assert_eq!(r.map(|i| i.entries), Ok(240));
        let ids: Vec<i64> = one
            .audit_entries(None, 1000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, (1..=240).rev().collect::<Vec<i64>>());
        // Each commit's three entries are consecutive: the other store never slipped in between.
        let mut entries = one.audit_entries(None, 1000).await.unwrap();
        entries.reverse();
        for c in entries.chunks(3) {
            assert!(
                c.iter()
                    .all(|e| e.sync == c[0].sync && e.run_id == c[0].run_id),
                "{c:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_audit_log_refuses_changes_and_verify_names_the_entry_altered_or_removed() {
        let (_d, s) = store().await;
        let s = s.with_audit_key(audit_key());
        let audit: Vec<NewAuditEntry> = (1..=5)
            .map(|i| written(1, &format!("k{i}"), None))
            .collect();
        s.commit(
            "w",
            Commit {
                audit: &audit,
                ..Commit::default()
            },
        )
        .await
        .unwrap();
        let e = sqlx::query("UPDATE audit SET result = 'updated' WHERE id = 3")
            .execute(&s.pool)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        assert!(
            sqlx::query("DELETE FROM audit WHERE id = 3")
                .execute(&s.pool)
                .await
                .is_err()
        );
        sqlx::query("DROP TRIGGER audit_no_update")
            .execute(&s.pool)
            .await
            .unwrap();
        sqlx::query("DROP TRIGGER audit_no_delete")
            .execute(&s.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE audit SET key_hash = 'k9' WHERE id = 3")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.verify_audit(&audit_key()).await.unwrap(),
            Err(Break::Hash { id: 3 })
        );
        sqlx::query("UPDATE audit SET key_hash = 'k3' WHERE id = 3")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.verify_audit(&audit_key())
                .await
                .unwrap()
                .map(|i| i.entries),
            Ok(5)
        );
        sqlx::query("DELETE FROM audit WHERE id = 2")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.verify_audit(&audit_key()).await.unwrap(),
            Err(Break::Gap { id: 3, expected: 2 })
        );
    }

    #[tokio::test]
    async fn a_lease_is_held_by_one_process_and_freed_when_it_is_gone() {
        let (_d, s) = store().await;
        let ttl = Duration::from_secs(60);
        assert_eq!(s.acquire_lease("w", ttl).await.unwrap(), Ok(()));
        // The same process may take it again (a renewal).
        assert_eq!(s.acquire_lease("w", ttl).await.unwrap(), Ok(()));
        assert!(s.renew_lease("w", ttl).await.unwrap());
        // A live process of this host holds it: pid 1 (init) is always alive.
        sqlx::query("UPDATE leases SET holder = ?, pid = 1 WHERE sync = 'w'")
            .bind(format!("{}:1", this_host()))
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.acquire_lease("w", ttl).await.unwrap(),
            Err(format!("{}:1", this_host()))
        );
        assert!(!s.renew_lease("w", ttl).await.unwrap());
        // A process that is gone (pids are below 2^22 on Linux) loses it at once.
        sqlx::query("UPDATE leases SET holder = 'gone', pid = 999999999 WHERE sync = 'w'")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(s.acquire_lease("w", ttl).await.unwrap(), Ok(()));
        // Another host's lease frees only when it expires.
        sqlx::query("UPDATE leases SET holder = 'elsewhere:5', host = 'elsewhere', pid = 5 WHERE sync = 'w'").execute(&s.pool).await.unwrap();
        assert_eq!(
            s.acquire_lease("w", ttl).await.unwrap(),
            Err("elsewhere:5".into())
        );
        sqlx::query("UPDATE leases SET expires_at = '2000-01-01T00:00:00Z' WHERE sync = 'w'")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(s.acquire_lease("w", ttl).await.unwrap(), Ok(()));
        s.release_lease("w").await.unwrap();
        assert!(!s.renew_lease("w", ttl).await.unwrap());
    }

    #[tokio::test]
    async fn runs_are_recorded_and_interrupted_ones_closed() {
        let (_d, s) = store().await;
        let r1 = s.start_run("w", "schedule").await.unwrap();
        s.finish_run(r1, "ok", &serde_json::json!({"a": {"read": 3}}), None)
            .await
            .unwrap();
        let _r2 = s.start_run("w", "manual").await.unwrap();
        assert_eq!(s.close_interrupted_runs().await.unwrap(), 1);
        let runs = s.runs(Some("w"), 10).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ["interrupted", "ok"]
        );
        assert_eq!(runs[1].stats.as_ref().unwrap()["a"]["read"], 3);
    }
}
