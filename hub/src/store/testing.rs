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

/// The statements that put a migrated store's links back in the form before migration 0015:
/// each version as the side's system gave it (`=` replaced by the side's update time, one `=`
/// taken off a version beginning with `=`: the inverse of `sync::link_seal`'s
/// `version_as_kept`, for rows it wrote); and that forget migrations 0015 and 0016, so that the
/// next `Store::open` runs them again. A hash kept as `=` (the content hash of the side's
/// snapshot, inside the sealed value) stays `=`, and a link sealed in form 3 keeps its update
/// times and versions inside its sealed value: SQL can neither compute the one nor open the
/// other. The same SQL on both backends; run them in order on one connection.
pub fn back_to_the_form_before_0015() -> Vec<String> {
    let mut statements = Vec::new();
    for table in ["links_at_rest", "links_pending"] {
        for side in ["a", "b"] {
            statements.push(format!(
                "UPDATE {table} SET {side}_version = CASE WHEN {side}_version = '=' THEN {side}_updated_at ELSE substr({side}_version, 2) END WHERE {side}_version LIKE '=%'"
            ));
        }
    }
    statements.push("DELETE FROM _sqlx_migrations WHERE version IN (15, 16)".to_string());
    statements
}

/// The statements that put a migrated store's links back in the form before migration 0014,
/// as a store of the previous version holds them: each link in the table `links`, the pending
/// ones too (a row in `links_pending` replaces the key's row at rest); no view, no
/// `links_pending`; and that forget the migration, so that the next `Store::open` runs it
/// again; [`back_to_the_form_before_0015`]'s first. The same SQL on both backends; run them in
/// order on one connection.
pub fn back_to_the_form_before_0014() -> Vec<String> {
    let columns = super::LINK_COLUMNS.join(", ");
    let mut statements = back_to_the_form_before_0015();
    statements.extend([
        "DROP VIEW links".to_string(),
        "DELETE FROM links_at_rest WHERE (sync, key_hash) IN (SELECT sync, key_hash FROM links_pending)"
            .to_string(),
        format!("INSERT INTO links_at_rest ({columns}) SELECT {columns} FROM links_pending"),
        "DROP TABLE links_pending".to_string(),
        "ALTER TABLE links_at_rest RENAME TO links".to_string(),
        "DROP INDEX links_at_rest_pending".to_string(),
        "CREATE INDEX links_pending ON links (sync, key_hash) WHERE pending".to_string(),
        "DELETE FROM _sqlx_migrations WHERE version = 14".to_string(),
    ]);
    statements
}

/// The statements that put a migrated store's `links` and `audit` back in the form before
/// migration 0013 (`postgres`: PostgreSQL's, else SQLite's), as a store of the previous
/// version holds them, [`back_to_the_form_before_0014`]'s first: hashes as 64 hex digits of
/// text (other values as their text), each audit entry with `prev_hash`, the hash of the entry
/// before it; and that forget the migration, so that the next `Store::open` runs it again. Run
/// them in order on one connection. SQLite keeps the tables' declared types (its values decide
/// there) and ignores CHECK constraints on that connection from the PRAGMA on (the text keys
/// put back would fail `links.key_hash`'s).
pub fn back_to_the_form_before_0013(postgres: bool) -> Vec<String> {
    const LINK_HASHES: [&str; 7] = [
        "key_hash",
        "a_hash",
        "a_written_hash",
        "a_settled_hash",
        "b_hash",
        "b_written_hash",
        "b_settled_hash",
    ];
    const AUDIT_HASHES: [&str; 2] = ["key_hash", "hash"];
    let text = |c: &str| {
        if postgres {
            format!(
                "ALTER COLUMN {c} TYPE TEXT USING CASE WHEN octet_length({c}) = 32 THEN encode({c}, 'hex') ELSE convert_from({c}, 'UTF8') END"
            )
        } else {
            format!(
                "{c} = CASE WHEN length({c}) = 32 THEN lower(hex({c})) ELSE CAST({c} AS TEXT) END"
            )
        }
    };
    let each = |cols: &[&str]| cols.iter().map(|c| text(c)).collect::<Vec<_>>().join(", ");
    let mut statements = back_to_the_form_before_0014();
    if postgres {
        statements.extend([
            "DROP TRIGGER audit_no_update ON audit".to_string(),
            format!("ALTER TABLE links {}", each(&LINK_HASHES)),
            format!("ALTER TABLE audit {}", each(&AUDIT_HASHES)),
        ]);
    } else {
        statements.extend([
            "PRAGMA ignore_check_constraints = ON".to_string(),
            "DROP TRIGGER audit_no_update".to_string(),
            format!("UPDATE links SET {}", each(&LINK_HASHES)),
            format!("UPDATE audit SET {}", each(&AUDIT_HASHES)),
        ]);
    }
    let function = if postgres {
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
    } else {
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    };
    statements.extend([
        "ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''".to_string(),
        format!(
            "UPDATE audit SET prev_hash = COALESCE((SELECT p.hash FROM audit p WHERE p.id = audit.id - 1), '{}')",
            crate::audit::GENESIS
        ),
        format!("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit {function}"),
        "DELETE FROM _sqlx_migrations WHERE version = 13".to_string(),
    ]);
    statements
}
