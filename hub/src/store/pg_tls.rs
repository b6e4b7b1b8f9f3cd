//! The PostgreSQL state store's connection parameters, TLS above all: the store URL's query
//! takes libpq's names (PostgreSQL 15 documentation, §34.1.2 "Parameter Key Words", and §34.19
//! "SSL Support"), and sqlx speaks TLS through rustls:
//!
//! - `sslmode`: `disable`, `allow`, `prefer` (the default: TLS if the server offers it),
//!   `require` (TLS, no certificate check), `verify-ca` (the server's certificate chains to a
//!   trusted CA), `verify-full` (and names the host the URL connects to);
//! - `sslrootcert`: PEM file of the CA certificates to trust (default: the system's roots);
//! - `sslcert`, `sslkey`: PEM client certificate and key, for servers that ask for one (both or
//!   neither);
//! - `application_name`, `options`: passed to the server as libpq passes them.
//!
//! sqlx ignores a parameter it does not know, so a typo (`sslmod=verify-full`) would connect
//! without the check it asked for: here any other parameter is an error that names it. File
//! paths relative to the configuration file's directory are resolved against it.

use std::path::Path;

/// The query parameters a store URL may carry.
const KNOWN: [&str; 6] = [
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "options",
];

/// The values of `sslmode` (libpq's).
const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// The parameters that name files.
const FILES: [&str; 3] = ["sslrootcert", "sslcert", "sslkey"];

/// Checks a `postgres://` store URL's parameters: known names, each at most once, a known
/// `sslmode`, `sslcert` and `sslkey` together, and, when `files_must_exist`, every file named
/// present. Errors say which parameter and why; they never repeat the URL (it may carry a
/// password).
pub fn check_url(url: &str, files_must_exist: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("the store URL is not a URL: {e}"))?;
    let mut seen = std::collections::BTreeMap::new();
    for (k, v) in parsed.query_pairs() {
        if !KNOWN.contains(&k.as_ref()) {
            return Err(format!(
                "unknown connection parameter {k:?} in the store URL (known: {})",
                KNOWN.join(", ")
            ));
        }
        if seen.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!(
                "connection parameter {k:?} given twice in the store URL"
            ));
        }
    }
    if let Some(mode) = seen.get("sslmode")
        && !SSL_MODES.contains(&mode.as_str())
    {
        return Err(format!(
            "sslmode {mode:?} is not one of {}",
            SSL_MODES.join(", ")
        ));
    }
    // libpq quietly upgrades `require` with a root certificate to `verify-ca`; sqlx ignores the
    // file unless the mode verifies. Either way an operator who names a CA file expects it to
    // be checked: say which modes do.
    let verifies = matches!(
        seen.get("sslmode").map(String::as_str),
        Some("verify-ca" | "verify-full")
    );
    if seen.contains_key("sslrootcert") && !verifies {
        return Err(format!(
            "sslrootcert is given but sslmode is {}, which does not check the server's certificate against it: use sslmode=verify-full (or verify-ca)",
            seen.get("sslmode")
                .map_or("prefer (the default)", String::as_str)
        ));
    }
    match (seen.contains_key("sslcert"), seen.contains_key("sslkey")) {
        (true, false) => return Err("sslcert is given without sslkey".into()),
        (false, true) => return Err("sslkey is given without sslcert".into()),
        _ => {}
    }
    if files_must_exist {
        for name in FILES {
            if let Some(file) = seen.get(name)
                && let Err(e) = std::fs::metadata(file)
            {
                return Err(format!("{name} {file}: {e}"));
            }
        }
    }
    Ok(())
}

/// `url` with relative `sslrootcert`, `sslcert` and `sslkey` paths made absolute against
/// `base` (the configuration file's directory); `url` itself if it has none or is not a URL.
pub fn resolve_files(url: &str, base: &Path) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let relative = |k: &str, v: &str| FILES.contains(&k) && Path::new(v).is_relative();
    if !pairs.iter().any(|(k, v)| relative(k, v)) {
        return url.to_string();
    }
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| {
            if relative(k, v) {
                (k.clone(), base.join(v).display().to_string())
            } else {
                (k.clone(), v.clone())
            }
        }));
    parsed.to_string()
}

/// Whether `url` connects over loopback (`localhost`, 127.0.0.0/8, `::1`) or a Unix socket
/// (no host).
pub fn is_loopback(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        None => true,
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

/// `url` without its password, for messages and logs.
pub fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "postgres://(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_in_a_parameter_or_a_mode_is_an_error_naming_it() {
        let base = "postgres://hub:secret@db.example:5432/hub";
        assert_eq!(
            check_url(
                &format!("{base}?sslmode=verify-full&sslrootcert=/ca.pem"),
                false
            ),
            Ok(())
        );
        assert_eq!(check_url(base, true), Ok(()));
        let e = check_url(&format!("{base}?sslmod=verify-full"), false).unwrap_err();
        assert!(
            e.starts_with("unknown connection parameter \"sslmod\""),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
        assert_eq!(
            check_url(&format!("{base}?sslmode=verify_full"), false).unwrap_err(),
            "sslmode \"verify_full\" is not one of disable, allow, prefer, require, verify-ca, verify-full"
        );
        assert_eq!(
            check_url(&format!("{base}?sslmode=require&sslmode=disable"), false).unwrap_err(),
            "connection parameter \"sslmode\" given twice in the store URL"
        );
        assert_eq!(
            check_url(&format!("{base}?sslcert=/c.pem"), false).unwrap_err(),
            "sslcert is given without sslkey"
        );
        assert_eq!(
            check_url(
                &format!("{base}?sslmode=require&sslrootcert=/ca.pem"),
                false
            )
            .unwrap_err(),
            "sslrootcert is given but sslmode is require, which does not check the server's certificate against it: use sslmode=verify-full (or verify-ca)"
        );
        assert!(
            check_url(&format!("{base}?sslrootcert=/ca.pem"), false)
                .unwrap_err()
                .contains("sslmode is prefer (the default)")
        );
        let e = check_url(
            &format!("{base}?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem"),
            true,
        )
        .unwrap_err();
        assert!(e.starts_with("sslrootcert /nonexistent/ca.pem: "), "{e}");
    }

    #[test]
    fn relative_certificate_paths_are_the_config_directorys() {
        let url = "postgres://hub@db:5432/hub?sslmode=verify-full&sslrootcert=tls/ca.pem&sslcert=%2Fabs%2Fc.pem&sslkey=k.pem";
        let resolved = resolve_files(url, Path::new("/etc/hub"));
        let pairs: Vec<(String, String)> = url::Url::parse(&resolved)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let want = [
            ("sslmode", "verify-full"),
            ("sslrootcert", "/etc/hub/tls/ca.pem"),
            ("sslcert", "/abs/c.pem"),
            ("sslkey", "/etc/hub/k.pem"),
        ];
        assert_eq!(
            pairs,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        assert_eq!(
            resolve_files("postgres://hub@db/hub", Path::new("/x")),
            "postgres://hub@db/hub"
        );
    }

    /// The test CA and certificates of `scripts/pg-test-tls`, which it also sets the local
    /// server up with (idempotent).
    fn test_tls_dir() -> std::path::PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = std::process::Command::new(root.join("scripts/pg-test-tls"))
            .output()
            .expect("scripts/pg-test-tls runs");
        assert!(
            out.status.success(),
            "scripts/pg-test-tls: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    }

    /// `url` (a fresh test database) with host `host` and query `query`.
    fn with(url: &str, host: &str, query: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_host(Some(host)).unwrap();
        u.set_query(Some(query));
        u.to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verify_full_connects_by_the_certificates_name_only_and_every_session_is_encrypted() {
        let tls = test_tls_dir();
        let ca = tls.join("ca.pem").display().to_string();
        let db = crate::store::testing::fresh_postgres_database()
            .await
            .unwrap();
        let full = with(
            &db,
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        );
        let store = crate::store::Store::open(&full).await.unwrap();
        assert_eq!(
            store.connection_tls().await.unwrap().as_deref(),
            Some("TLSv1.3")
        );
        // Work over several pooled sessions, then ask the server about every session on this
        // database: none is in clear.
        let lease = store
            .acquire_lease("w", std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        store.release_lease(&lease).await.unwrap();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&full)
            .await
            .unwrap();
        let (sessions, in_clear): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(sessions >= 2, "{sessions} sessions");
        assert_eq!(in_clear, 0);

        // The certificate names `localhost`, not 127.0.0.1: verify-full by address is refused,
        // naming the host and why; verify-ca (the chain only) connects.
        let by_address = with(
            &db,
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        );
        let e = format!(
            "{:#}",
            crate::store::Store::open(&by_address).await.unwrap_err()
        );
        assert!(e.contains("postgres://postgres@127.0.0.1:5432/"), "{e}");
        assert!(e.contains("not valid for name \"127.0.0.1\""), "{e}");
        let chain_only = with(
            &db,
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={ca}"),
        );
        let s = crate::store::Store::open(&chain_only).await.unwrap();
        assert_eq!(
            s.connection_tls().await.unwrap().as_deref(),
            Some("TLSv1.3")
        );
        // Without the test CA (the system's roots only), the server is not trusted.
        let untrusted = with(&db, "localhost", "sslmode=verify-ca");
        let e = format!(
            "{:#}",
            crate::store::Store::open(&untrusted).await.unwrap_err()
        );
        assert!(e.contains("UnknownIssuer"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_that_asks_for_a_client_certificate_gets_the_configured_one() {
        let tls = test_tls_dir();
        let f = |n: &str| tls.join(n).display().to_string();
        // scripts/pg-test-tls: database hub_tls_client takes TLS with a client certificate only.
        let server = crate::store::testing::postgres_server();
        // A new database each time (the name is fixed by pg_hba.conf's line), so that no earlier
        // run's schema, perhaps of another version, is in it.
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
            .await
            .unwrap();
        for sql in [
            "DROP DATABASE IF EXISTS hub_tls_client WITH (FORCE)",
            "CREATE DATABASE hub_tls_client",
        ] {
            sqlx::query(sql).execute(&mut admin).await.unwrap();
        }
        let db = {
            let mut u = url::Url::parse(&server).unwrap();
            u.set_path("hub_tls_client");
            u.to_string()
        };
        let without = with(
            &db,
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", f("ca.pem")),
        );
        let e = format!(
            "{:#}",
            crate::store::Store::open(&without).await.unwrap_err()
        );
        assert!(
            e.contains("connection requires a valid client certificate"),
            "{e}"
        );
        let with_cert = format!(
            "{without}&sslcert={}&sslkey={}",
            f("client.pem"),
            f("client.key")
        );
        let store = crate::store::Store::open(&with_cert).await.unwrap();
        assert_eq!(
            store.connection_tls().await.unwrap().as_deref(),
            Some("TLSv1.3")
        );
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&with_cert)
            .await
            .unwrap();
        let dn: String =
            sqlx::query_scalar("SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(dn, "/CN=postgres");
    }
}
