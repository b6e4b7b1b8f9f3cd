//! A look at a state store that changes nothing, for `hub check`: the store is opened read-only
//! (SQLite `mode=ro`; PostgreSQL sessions with `default_transaction_read_only = on`), nothing is
//! migrated or recorded, and an SQLite file that does not exist is not created.

use super::*;

/// What a read-only look at a state store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLook {
    /// Migrations this hub has and the store has not applied (`VERSION description`), in order;
    /// the daemon applies them at its next start.
    pub pending: Vec<String>,
    /// The state key check value the store recorded at its first use (see
    /// [`Store::check_state_key`]); `None` if no daemon has used it yet.
    pub key_check: Option<String>,
    /// PostgreSQL: the TLS protocol of the look's session (`TLSv1.3`), `None` in clear; always
    /// `None` for SQLite (a local file).
    pub tls: Option<String>,
}

/// Applied migration versions and the recorded key check, from whichever pool.
macro_rules! look_at {
    ($p:expr, $exists:expr) => {{
        let has = |table: &'static str| {
            sqlx::query_scalar::<_, i64>($exists)
                .bind(table)
                .fetch_one($p)
        };
        let applied: Vec<i64> = if has("_sqlx_migrations").await? > 0 {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all($p)
            .await?
        } else {
            Vec::new()
        };
        let key_check: Option<String> = if has("store_meta").await? > 0 {
            sqlx::query_scalar("SELECT value FROM store_meta WHERE name = 'key_check'")
                .fetch_optional($p)
                .await?
        } else {
            None
        };
        (applied, key_check)
    }};
}

impl Store {
    /// Opens the store at `url` read-only and reports its pending migrations and recorded key
    /// check. `Ok(None)`: an SQLite store whose file does not exist yet (the daemon creates it).
    /// Errors: the store cannot be reached or read (the message names it, without a password).
    pub async fn look_read_only(url: &str) -> Result<Option<StoreLook>> {
        use anyhow::Context as _;
        let mut tls = None;
        let (applied, key_check, known) = if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            pg_tls::check_url(url, true).map_err(|e| {
                StoreConfigError(format!("state store {}: {e}", pg_tls::shown(url)))
            })?;
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)?
                .options([("default_transaction_read_only", "on")]);
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .context("cannot connect")?;
            let exists = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1";
            let (a, k) = look_at!(&pool, exists);
            tls = sqlx::query_scalar(TLS_OF_SESSION)
                .fetch_optional(&pool)
                .await?;
            pool.close().await;
            (a, k, sqlx::migrate!("./migrations/postgres"))
        } else {
            let path = url.strip_prefix("sqlite://").ok_or_else(|| {
                StoreConfigError(format!(
                    "store {url:?}: expected sqlite://PATH or postgres://HOST/DATABASE"
                ))
            })?;
            let file = path.split('?').next().unwrap_or(path);
            if !std::path::Path::new(file).exists() {
                return Ok(None);
            }
            let opts = SqliteConnectOptions::from_str(url)?.read_only(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .context("cannot open it read-only")?;
            let exists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1";
            let (a, k) = look_at!(&pool, exists);
            pool.close().await;
            (a, k, sqlx::migrate!("./migrations/sqlite"))
        };
        let pending = known
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        Ok(Some(StoreLook {
            pending,
            key_check,
            tls,
        }))
    }
}
