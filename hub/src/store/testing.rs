//! Test support: fresh PostgreSQL databases, one per test, on the server named by
//! `HUB_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`, the local
//! server with trust authentication; `.ci/run` starts it if it is down).

use std::sync::atomic::{AtomicU32, Ordering};

/// The server tests create their databases on.
pub fn postgres_server() -> String {
    std::env::var("HUB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database `hub_test_<unix seconds>_<pid>_<n>` and returns its URL.
/// Databases of this naming older than six hours (earlier test runs) are dropped on the way.
/// Errors: the server is unreachable or refuses `CREATE DATABASE`.
pub async fn fresh_postgres_database() -> anyhow::Result<String> {
    use anyhow::Context as _;
    static N: AtomicU32 = AtomicU32::new(0);
    let server = postgres_server();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .with_context(|| {
            format!("cannot reach the test PostgreSQL server {server} (HUB_TEST_POSTGRES)")
        })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let old: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'hub_test_%'")
            .fetch_all(&mut conn)
            .await?;
    for name in old {
        let born = name
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(now);
        if now.saturating_sub(born) > 6 * 3600 {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
    let name = format!(
        "hub_test_{now}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let sql = format!("CREATE DATABASE \"{name}\"");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot create the test database {name}"))?;
    let mut url = url::Url::parse(&server)?;
    url.set_path(&name);
    Ok(url.to_string())
}
