//! The state store: cursors, links, run history, dead letters, leases and the audit log, in
//! SQLite (embedded, WAL journal; `sqlite://PATH`) or PostgreSQL (`postgres://…`, shared by
//! several daemons) through sqlx. Schema: `hub/migrations/sqlite/` and `hub/migrations/postgres/`,
//! the same tables and migration numbers in each; every query is written once, in the SQL both
//! understand (`$N` parameters, `RETURNING`, `ON CONFLICT`), and run on whichever pool the URL
//! opened ([`on_pool!`]). Where the two must differ (locking, JSON functions) the text says so.
//!
//! The store holds no personal data in clear: callers pass key hashes, keyed content hashes and
//! sealed snapshots (see [`crate::keys`]). Every write that must be atomic with a cursor move
//! or with the audit entries of the writes it records goes through one transaction
//! ([`Store::commit`]).
//!
//! The audit log ([`crate::audit`]) is kept behind [`Store::commit`] (appending),
//! [`Store::audit_entries`] and [`Store::verify_audit`]: another backend implements the same
//! three, appending under a lock that lets one transaction at a time read the chain's head.
//!
//! Every public method returns [`Result`]: its error a [`StoreError`], whose variants tell a
//! lost lease, a fire time already run, a database that stayed busy, a corrupt row and a store
//! configured wrongly apart from everything else (`error`).
//!
//! The files of this folder follow the tables: `links` (links and cursors), `commit` (the
//! transaction of a batch), `runs`, `dead_letters`, `conflicts`, `schedule`, `leases`,
//! `audit_log`; `sqlite_batch` runs a sync run's per-batch statements on SQLite through
//! rusqlite (prepared once, on a blocking thread) instead of sqlx's driver, which hands every
//! statement to a worker thread and back.
//!
//! **Owns** every table, migration and SQL statement of both backends, leases and the audit
//! chain's storage. **May not touch** connectors, the runtime or the sync engine's rules: it
//! keeps what the engine hands it (records arrive sealed and stay opaque here; only
//! `sync::link_seal` opens them) and decides no merge, no write, no retry.

use crate::audit::{AuditEntry, AuditKey, Break, ChainVerifier, GENESIS, Intact, NewAuditEntry};
use crate::schema::Violation;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// An instant as the store writes it, the store's one form for every instant it keeps: RFC 3339,
/// UTC, milliseconds, `Z` (`2026-12-07T07:22:24.123Z`), so that text order is time order in
/// both backends. The database's own clock gives the same form ([`WritePool::DB_NOW`]).
fn utc_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_utc(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Now, in the store's one form ([`utc_text`]).
fn now() -> String {
    utc_text(chrono::Utc::now())
}

/// PostgreSQL: the TLS protocol of this session (`TLSv1.3`), no row in clear.
const TLS_OF_SESSION: &str = "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl";

/// The connection pool of one backend.
#[derive(Debug, Clone)]
enum Pool {
    /// sqlx's pool, and the connection a run's per-batch statements take ([`sqlite_batch`]).
    Sqlite(SqlitePool, sqlite_batch::BatchConn),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the store's pool, once per backend: the body is compiled
/// twice, against each driver's own types, so a query that one of them cannot run fails to
/// compile rather than at run time (where it can: the SQL text is checked by the tests on both).
macro_rules! on_pool {
    ($self:expr, $p:ident => $body:block) => {
        match &$self.pool {
            Pool::Sqlite($p, _) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// Inside a write transaction `$tx` on pool `$p`: if `$self` is fenced by a lease, checks
/// that its holder and token still hold it, locking the lease row until the transaction ends
/// (PostgreSQL: a takeover waits for this transaction; SQLite: the write lock already keeps
/// it out), and returns [`StoreError::LeaseLost`] otherwise (the transaction is dropped, so rolled back).
macro_rules! check_fence {
    ($self:expr, $p:ident, $tx:ident) => {
        if let Some(f) = &$self.fence {
            let sql = format!(
                "SELECT token FROM leases WHERE sync = $1 AND holder = $2{}",
                for_update($p)
            );
            let token: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(&f.sync)
                .bind(&f.holder)
                .fetch_optional(&mut *$tx)
                .await?;
            if token != Some(f.token) {
                return Err(f.lost_error().into());
            }
        }
    };
}

/// Declares the enum of the texts one column of the store holds, each variant with its text
/// (`Variant = "text",`; a `tt`, not a `literal`, so that utoipa's derive sees the serde name
/// as written), and gives it: serde's names (the texts), `utoipa::ToSchema` (a string
/// enum), `ALL`, `as_str`, `Display` and `FromStr` (the text; any other is an [`UnknownValue`]),
/// and `stored(text, row, column)`, which reads the column of a row and reports any other text
/// through [`corrupt_row`].
macro_rules! column_values {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:tt, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The text the store holds for it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value stored in `column` of a row, `row` naming it ("run 12"): any other
            /// text is [`StoreError::Corrupt`] naming the row, the column and the text
            /// ([`corrupt_row`]).
            pub(super) fn stored(
                text: &str,
                row: &dyn std::fmt::Display,
                column: &str,
            ) -> Result<$name> {
                text.parse().map_err(|e| corrupt_row(row, column, e))
            }
        }

        impl std::fmt::Display for $name {
            /// The text the store holds for it ([`Self::as_str`]), padded as the format asks
            /// (`{:<9}`).
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;

            /// The value whose text is `s`, exactly (case and spaces included).
            fn from_str(s: &str) -> Result<$name, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue {
                        what: $what,
                        text: other.to_string(),
                        values: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

/// What the two backends do differently around a write transaction.
trait WritePool {
    type Db: sqlx::Database;
    /// `FOR UPDATE` where rows must be locked until the transaction ends; empty for SQLite,
    /// whose write transaction holds the whole database.
    const FOR_UPDATE: &'static str;
    /// Begins a write transaction. SQLite: `BEGIN IMMEDIATE`, which takes the write lock at
    /// once (waiting up to the busy timeout): a deferred transaction that reads and then writes
    /// fails with SQLITE_BUSY when another write came in between. PostgreSQL: `BEGIN` (read
    /// committed); the statements lock what they need.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send;
    /// Serialises appends to the audit chain until the transaction ends: nothing for SQLite (the
    /// write transaction already does), a transaction-scoped advisory lock for PostgreSQL.
    const AUDIT_LOCK: Option<&'static str>;
    /// The database's own clock as the store's time text (RFC 3339, UTC, milliseconds, `Z`: the
    /// form of [`utc_text`], so that text order is time order). Lease expiry and fire-time
    /// claims are decided by it, never by a daemon's clock: on PostgreSQL all daemons then share
    /// one clock (`clock_timestamp()`, the time of the statement, not of the transaction);
    /// SQLite's `'now'` is the one machine's clock that all processes on the file read.
    const DB_NOW: &'static str;
    /// [`WritePool::DB_NOW`] plus the seconds (a float) bound to parameter `param` (`$6`).
    fn db_now_plus(param: &str) -> String;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    const FOR_UPDATE: &'static str = "";
    const AUDIT_LOCK: Option<&'static str> = None;
    const DB_NOW: &'static str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    fn db_now_plus(param: &str) -> String {
        format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', {param}))")
    }
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    // 0x687562 = "hub".
    const AUDIT_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(6845794)");
    const DB_NOW: &'static str =
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
    fn db_now_plus(param: &str) -> String {
        format!(
            "to_char((clock_timestamp() + make_interval(secs => {param})) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
    }
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.begin().await
    }
}

/// The lock suffix of `p`'s backend (see [`WritePool::FOR_UPDATE`]).
fn for_update<P: WritePool>(_: &P) -> &'static str {
    P::FOR_UPDATE
}

/// The database clock expression of `p`'s backend (see [`WritePool::DB_NOW`]).
fn db_now<P: WritePool>(_: &P) -> &'static str {
    P::DB_NOW
}

/// The database clock plus the seconds bound to `param`, in `p`'s backend's SQL.
fn db_now_plus<P: WritePool>(_: &P, param: &str) -> String {
    P::db_now_plus(param)
}

/// The audit lock statement of `p`'s backend (see [`WritePool::AUDIT_LOCK`]).
fn audit_lock<P: WritePool>(_: &P) -> Option<&'static str> {
    P::AUDIT_LOCK
}

/// Typed column reads shared by both backends' rows, for the row mappers below.
trait Cols {
    fn text(&self, c: &str) -> String;
    fn opt_text(&self, c: &str) -> Option<String>;
    fn int(&self, c: &str) -> i64;
    fn opt_int(&self, c: &str) -> Option<i64>;
    fn opt_blob(&self, c: &str) -> Option<Vec<u8>>;
    fn flag(&self, c: &str) -> bool;
    /// A hash column of `links` or `audit`, kept as bytes ([`hash_bytes`]), as hex.
    fn opt_hash(&self, c: &str) -> Option<String> {
        self.opt_blob(c).map(|b| hash_bytes::from_bytes(&b))
    }
    /// A `NOT NULL` hash column of `links` or `audit`, as hex.
    fn hash(&self, c: &str) -> String {
        self.opt_hash(c).expect("a NOT NULL hash column")
    }
}

macro_rules! cols {
    ($row:ty) => {
        impl Cols for $row {
            fn text(&self, c: &str) -> String {
                self.get(c)
            }
            fn opt_text(&self, c: &str) -> Option<String> {
                self.get(c)
            }
            fn int(&self, c: &str) -> i64 {
                self.get(c)
            }
            fn opt_int(&self, c: &str) -> Option<i64> {
                self.get(c)
            }
            fn opt_blob(&self, c: &str) -> Option<Vec<u8>> {
                self.get(c)
            }
            fn flag(&self, c: &str) -> bool {
                self.get(c)
            }
        }
    };
}
cols!(SqliteRow);
cols!(PgRow);

mod audit_log;
mod commit;
mod conflicts;
mod daemons;
mod dead_letters;
mod error;
mod hash_bytes;
mod leases;
mod link_scan;
mod links;
pub mod pg_tls;
mod read_only;
mod runs;
mod schedule;
mod sqlite_batch;
/// Test support (the `test-support` feature): fresh PostgreSQL databases.
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use commit::Commit;
pub use conflicts::{
    Conflict, ConflictKind, ConflictResolution, ConflictStatus, Decided, Decision, NewConflict,
};
pub use dead_letters::{
    DeadLetter, DeadLetterStage, DeadLetterStatus, NewDeadLetter, ReplayAttempt, ReplayRequest,
};
pub use error::{Result, StoreError, is_busy};
pub use leases::{AlreadyRan, Lease, LeaseInfo, LeaseLost, holder_id};
pub use links::{Link, Side, SideState, UnknownValue};
pub use read_only::StoreLook;
pub use runs::{RunRecord, RunStatus, RunTotals, RunTrigger};
pub use schedule::{FireClaim, ScheduleState};

use leases::{lease_live, this_host};
use links::{
    LINK_COLUMNS, MARK_PENDING, corrupt_row, last_of_each_key, link_from_row, store_links_pg,
};

/// The state store or its state key cannot be used as the configuration says: a store URL of
/// an unknown scheme or with bad parameters, a TLS file it names that is missing, an in-memory
/// SQLite store, a state key that cannot be read, is not 64 hex digits or is readable by other
/// users, or a key that is not the one the store was first used with. The command line exits
/// with the configuration's code (2) for it, as for any other configuration error, whichever
/// command met it (`hub run`, `hub sync --once`, `hub check`, …); a store that cannot be
/// reached is not one of these.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreConfigError(pub String);

impl StoreConfigError {
    /// `e` (its whole chain, as [`crate::report::error_chain`] writes it) as a
    /// configuration error.
    pub fn of(e: &anyhow::Error) -> anyhow::Error {
        StoreConfigError(crate::report::error_chain(e)).into()
    }

    /// Whether `e` is, or was caused by, a [`StoreConfigError`] (also as
    /// [`StoreError::Config`]).
    pub fn is_cause_of(e: &anyhow::Error) -> bool {
        e.chain().any(|c| {
            c.is::<StoreConfigError>()
                || matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Config(_)))
        })
    }
}

/// How long an SQLite store's connections wait for another connection's lock before a
/// statement fails with "database is locked" ([`StoreError::Busy`]).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The page size of a new SQLite store, in bytes (SQLite's default is 4,096; a power of two
/// from 512 to 65,536).
const PAGE_SIZE: u32 = 8192;

/// The state store (SQLite or PostgreSQL, by URL).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    audit_key: Option<Arc<AuditKey>>,
    /// The lease this store's writes are fenced by (see [`Store::fenced`]).
    fence: Option<Arc<Lease>>,
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`: `sqlite://PATH` (the file is
    /// created with its directory) or `postgres://USER@HOST:PORT/DATABASE` (also
    /// `postgresql://`; the database must exist; libpq's URL form, password in the URL or
    /// `PGPASSWORD`). Migrations run under the backend's lock, so daemons starting together
    /// migrate once. Errors: an unknown scheme, an unreachable server or file, a failed
    /// migration.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, BUSY_TIMEOUT).await
    }

    /// [`Store::open`], an SQLite store's connections waiting up to `busy_timeout` for another
    /// connection's lock before answering [`StoreError::Busy`] (the tests shorten it).
    async fn open_with(url: &str, busy_timeout: Duration) -> Result<Store> {
        use anyhow::Context as _;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Store::open_postgres(url).await;
        }
        let path = url.strip_prefix("sqlite://").ok_or_else(|| {
            StoreConfigError(format!(
                "store {url:?}: expected sqlite://PATH or postgres://HOST/DATABASE"
            ))
        })?;
        // The store's file is opened by two connections (sqlx's pool, the batch connection of
        // `sqlite_batch`): an in-memory database would be a different one for each.
        if path.split('?').next() == Some(":memory:") || path.contains("mode=memory") {
            return Err(StoreConfigError(format!(
                "store {url:?}: an in-memory SQLite store is not supported (the store's connections would each see their own); give a file path"
            ))
            .into());
        }
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        // A new database file is the daemon user's alone (0600; SQLite gives its -wal and
        // -shm files the same mode); SQLite takes an empty file as an empty database.
        let file = path.split('?').next().unwrap_or(path);
        match crate::keys::write_private(std::path::Path::new(file), b"") {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(anyhow::Error::from(e)
                    .context(format!("failed to create the store {file}"))
                    .into());
            }
            _ => {}
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // A new store's pages are 8 KiB instead of SQLite's 4 KiB: a page of `links_at_rest`
            // leaves about half a row free whatever its size, so bigger pages leave less per
            // link (bench/scale --scale 100: 30 bytes per link less, docs/performance.md). An
            // existing store keeps its page size (SQLite changes it only by a VACUUM outside
            // WAL mode). Set before the journal mode, which creates the file's header.
            .page_size(PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL survives a crash of the process (SIGKILL); FULL would add an fsync
            // per commit for power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy_timeout)
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
                    let batch = sqlite_batch::BatchConn::open(opts.get_filename(), busy_timeout)?;
                    return Ok(Store::new(Pool::Sqlite(pool, batch)));
                }
                Err(e) if attempt < 40 && format!("{e:#}").contains("database is locked") => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn open_postgres(url: &str) -> Result<Store> {
        use anyhow::Context as _;
        // The URL without its password, for messages.
        let shown = pg_tls::shown(url);
        pg_tls::check_url(url, true)
            .map_err(|e| StoreConfigError(format!("state store {shown}: {e}")))?;
        // One connection first: its error says why (refused, no such host, TLS, password); the
        // pool's own would only say that it timed out after retrying for 30 s.
        let first = tokio::time::timeout(
            Duration::from_secs(30),
            <sqlx::PgConnection as sqlx::Connection>::connect(url),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 30 s"))
        .and_then(|c| c.map_err(anyhow::Error::from))
        .with_context(|| format!("failed to connect to the state store {shown}"))?;
        sqlx::Connection::close(first).await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .with_context(|| format!("failed to connect to the state store {shown}"))?;
        // sqlx takes an advisory lock around the migrations: several daemons starting at once
        // migrate the database once.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .with_context(|| format!("failed to migrate the state store {shown}"))?;
        let store = Store::new(Pool::Postgres(pool));
        let tls = store
            .connection_tls()
            .await
            .with_context(|| format!("failed to query the state store {shown}"))?;
        match tls {
            Some(version) => {
                tracing::info!(store = %shown, tls = %version, "state store connected over TLS")
            }
            // Over loopback nothing leaves the machine.
            None if pg_tls::is_loopback(url) => {
                tracing::info!(store = %shown, "state store connected in clear over loopback")
            }
            None => tracing::warn!(
                store = %shown,
                "the state store's connection is not encrypted; add ?sslmode=verify-full&sslrootcert=CA.pem to its URL (README, \"Several daemons on one store\")"
            ),
        }
        Ok(store)
    }

    fn new(pool: Pool) -> Store {
        Store {
            pool,
            audit_key: None,
            fence: None,
        }
    }

    /// How the store's connections travel: `Some("TLSv1.3")` (the protocol, from PostgreSQL's
    /// `pg_stat_ssl` for this session) or `None` for a PostgreSQL session in clear; `None` for
    /// SQLite, a local file.
    pub async fn connection_tls(&self) -> Result<Option<String>> {
        match &self.pool {
            Pool::Sqlite(..) => Ok(None),
            Pool::Postgres(p) => Ok(sqlx::query_scalar(TLS_OF_SESSION).fetch_optional(p).await?),
        }
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(..) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The same store, appending audit entries under `key` (commits carrying audit entries fail
    /// without one).
    pub fn with_audit_key(mut self, key: AuditKey) -> Store {
        self.audit_key = Some(Arc::new(key));
        self
    }

    /// Answers if the store is reachable (a trivial query).
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query("SELECT 1").execute(p).await?;
            Ok(())
        })
    }

    /// Checks that this store is used with one state key: records `check` (a keyed hash of a
    /// fixed text under the state key) on first use, and afterwards fails if `check` differs.
    /// Every daemon sharing a store must have the same `hub.state_key`: under another key every
    /// record key hashes differently, and the daemon would create every record a second time.
    pub async fn check_state_key(&self, check: &str) -> Result<()> {
        let stored: String = on_pool!(self, p => {
            sqlx::query("INSERT INTO store_meta (name, value) VALUES ('key_check', $1) ON CONFLICT (name) DO NOTHING")
                .bind(check)
                .execute(p)
                .await?;
            sqlx::query_scalar("SELECT value FROM store_meta WHERE name = 'key_check'")
                .fetch_one(p)
                .await?
        });
        if stored != check {
            return Err(StoreConfigError(
                "the state key is not the one this state store was first used with: every daemon on a \
                 shared store needs the same key (`hub.state_key`, by default the file \
                 DATA_DIR/state.key: copy it from a daemon already on the store; README, \
                 \"Several daemons on one store\")"
                    .into(),
            )
            .into());
        }
        Ok(())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        on_pool!(self, p => { p.close().await })
    }
}

/// `count` parameters numbered from `first`: `$first, $first+1, …` (the form both backends
/// take).
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
