//! The store's errors ([`StoreError`]): a lost lease, a fire time already run, a database that
//! stayed busy, a row the store cannot read, a store configured wrongly, and everything else
//! with its cause chain. Every public method of [`super::Store`] returns [`Result`], so a caller
//! `match`es the kind instead of downcasting; one that only reports keeps propagating it with
//! `?` into `anyhow`, where it reads as before (each variant's text is that of its cause).

use super::{AlreadyRan, LeaseLost, StoreConfigError};

/// The result of a store method: `T`, or a [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store method failed. The texts are the causes' own (the same an operator read before
/// the store's errors were typed); the variants add which kind it is.
#[derive(thiserror::Error)]
pub enum StoreError {
    /// A fenced write refused: the writer's lease was taken over ([`LeaseLost`]); nothing of
    /// the write was stored.
    #[error(transparent)]
    LeaseLost(#[from] LeaseLost),
    /// A scheduled run refused: its fire time already has a run ([`AlreadyRan`]).
    #[error(transparent)]
    AlreadyRan(#[from] AlreadyRan),
    /// The database stayed locked past the busy timeout: SQLite `SQLITE_BUSY` or
    /// `SQLITE_LOCKED` ("database is locked", through sqlx or rusqlite), PostgreSQL
    /// `lock_not_available` (55P03, e.g. past `lock_timeout`), `serialization_failure` (40001)
    /// or `deadlock_detected` (40P01). Nothing of the statement's transaction was kept; trying
    /// again later may succeed. Holds the error with the store's context text and its cause.
    #[error(transparent)]
    Busy(anyhow::Error),
    /// A stored value the store cannot read: `row` names the row (`dead letter 12`), `column`
    /// its column, `detail` what is wrong with the value. Shown as `{row} in the store is
    /// corrupt: column {column}: {detail}`.
    #[error("{row} in the store is corrupt: column {column}: {detail}")]
    Corrupt {
        /// The row, for people (`dead letter 12`, `audit entry 7`, `conflict 3`).
        row: String,
        /// The column.
        column: String,
        /// What is wrong with its value.
        detail: String,
    },
    /// The store or its state key cannot be used as configured ([`StoreConfigError`]).
    #[error(transparent)]
    Config(#[from] StoreConfigError),
    /// Anything else: the database unreachable, a statement refused, I/O; the error with its
    /// context text and whole cause chain.
    #[error(transparent)]
    Other(anyhow::Error),
}

impl std::fmt::Debug for StoreError {
    /// The causes' own `Debug` for [`StoreError::Busy`] and [`StoreError::Other`] (anyhow's:
    /// the text, then "Caused by:" and the chain), a structure for the others.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::LeaseLost(e) => f.debug_tuple("LeaseLost").field(e).finish(),
            StoreError::AlreadyRan(e) => f.debug_tuple("AlreadyRan").field(e).finish(),
            StoreError::Busy(e) | StoreError::Other(e) => std::fmt::Debug::fmt(e, f),
            StoreError::Corrupt {
                row,
                column,
                detail,
            } => f
                .debug_struct("Corrupt")
                .field("row", row)
                .field("column", column)
                .field("detail", detail)
                .finish(),
            StoreError::Config(e) => f.debug_tuple("Config").field(e).finish(),
        }
    }
}

impl StoreError {
    /// `e` as the store's error, classified once by its cause chain: a [`StoreError`],
    /// [`LeaseLost`], [`AlreadyRan`] or [`StoreConfigError`] that is `e` itself (no context
    /// added around it) comes out as itself or its variant; otherwise a busy or locked database
    /// anywhere in the chain ([`is_busy`]) as [`StoreError::Busy`] and anything else as
    /// [`StoreError::Other`], both keeping `e` whole (its context text and causes).
    pub fn classify(e: anyhow::Error) -> StoreError {
        // `anyhow::Error::downcast` also finds the error under a context, which would drop the
        // context's text: only the outermost error is taken as it is.
        fn outermost<E: std::error::Error + Send + Sync + 'static>(
            e: anyhow::Error,
        ) -> std::result::Result<E, anyhow::Error> {
            if e.chain().next().is_some_and(|c| c.is::<E>()) {
                e.downcast::<E>()
            } else {
                Err(e)
            }
        }
        let e = match outermost::<StoreError>(e) {
            Ok(s) => return s,
            Err(e) => e,
        };
        let e = match outermost::<LeaseLost>(e) {
            Ok(l) => return StoreError::LeaseLost(l),
            Err(e) => e,
        };
        let e = match outermost::<AlreadyRan>(e) {
            Ok(a) => return StoreError::AlreadyRan(a),
            Err(e) => e,
        };
        let e = match outermost::<StoreConfigError>(e) {
            Ok(c) => return StoreError::Config(c),
            Err(e) => e,
        };
        StoreError::busy_if(e.chain().any(is_busy), e)
    }

    /// [`StoreError::Busy`] holding `e` if `busy`, else [`StoreError::Other`].
    fn busy_if(busy: bool, e: anyhow::Error) -> StoreError {
        if busy {
            StoreError::Busy(e)
        } else {
            StoreError::Other(e)
        }
    }

    /// Whether this is [`StoreError::Busy`].
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

impl From<anyhow::Error> for StoreError {
    /// [`StoreError::classify`].
    fn from(e: anyhow::Error) -> StoreError {
        StoreError::classify(e)
    }
}

impl From<sqlx::Error> for StoreError {
    /// [`StoreError::Busy`] for a busy or locked database ([`is_busy`]), else
    /// [`StoreError::Other`]; the error kept whole.
    fn from(e: sqlx::Error) -> StoreError {
        StoreError::busy_if(sqlx_busy(&e), e.into())
    }
}

impl From<rusqlite::Error> for StoreError {
    /// [`StoreError::Busy`] for `SQLITE_BUSY` or `SQLITE_LOCKED`, else [`StoreError::Other`];
    /// the error kept whole.
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::busy_if(rusqlite_busy(&e), e.into())
    }
}

impl From<serde_json::Error> for StoreError {
    /// [`StoreError::Other`].
    fn from(e: serde_json::Error) -> StoreError {
        StoreError::Other(e.into())
    }
}

/// PostgreSQL's SQLSTATE codes of a statement that could not take its locks:
/// `lock_not_available` (`lock_timeout` ran out, `NOWAIT`), `serialization_failure`,
/// `deadlock_detected` (PostgreSQL documentation, Appendix A "PostgreSQL Error Codes").
const PG_BUSY: [&str; 3] = ["55P03", "40001", "40P01"];

/// SQLite's primary result codes `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6); an extended code
/// (`SQLITE_BUSY_SNAPSHOT` = 517, …) has its primary code in its low byte.
const SQLITE_BUSY_CODES: [i64; 2] = [5, 6];

/// Whether `e` says the database was busy or locked: a [`StoreError::Busy`], or an sqlx or
/// rusqlite error of a busy database (see [`StoreError::Busy`] for the codes).
pub fn is_busy(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(s) = e.downcast_ref::<StoreError>() {
        return s.is_busy();
    }
    if let Some(s) = e.downcast_ref::<sqlx::Error>() {
        return sqlx_busy(s);
    }
    if let Some(r) = e.downcast_ref::<rusqlite::Error>() {
        return rusqlite_busy(r);
    }
    false
}

fn sqlx_busy(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code.parse::<i64>()
            .is_ok_and(|c| SQLITE_BUSY_CODES.contains(&(c & 0xff)))
    } else if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        PG_BUSY.contains(&code.as_ref())
    } else {
        false
    }
}

fn rusqlite_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
