//! `hub check`: whether a deployment can run, before it is started.
//!
//! In order: the configuration is parsed (its errors are the caller's, with file, line and
//! column), every plugin is loaded (its contract version, sha256 pin and capabilities are
//! checked then), every sync is resolved against the schema catalogue and the plugins, and then
//! each plugin that loaded gets a fresh session (`open` with its config) and its `check` is
//! called against the live system: reachable, credentials accepted. The checks of different
//! plugins run at once, each under the plugin's own call limits. Last, the state store is
//! looked at read-only: reachable, migrations pending, the state key the one it was first used
//! with (a store not created yet is fine: the daemon creates it).
//!
//! Nothing is written: the state store is opened read-only and not migrated (so a running
//! daemon's runs are left alone) and no record is read or written; only the compiled-component
//! cache under `<data_dir>/cache` may be filled.

use crate::config::Config;
use crate::daemon;
use crate::runtime::{Plugin, PluginError, Runtime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How one plugin or sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Loaded (or resolved) and, for a plugin, its live check passed. The text says what it is.
    Ok(String),
    /// It cannot load or be resolved: a located problem (`file:line:column: …`).
    NotLoaded(String),
    /// It loaded but the live system refused or could not be reached.
    Failed(String),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `plugin`, `sync` or `store`.
    pub kind: &'static str,
    /// Its name in the configuration.
    pub name: String,
    /// How it stands.
    pub status: Status,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, name) = (self.kind, &self.name);
        match &self.status {
            Status::Ok(what) => write!(f, "{kind} {name}: ok ({what})"),
            Status::NotLoaded(problem) => write!(f, "{kind} {name}: NOT LOADED: {problem}"),
            Status::Failed(problem) => write!(f, "{kind} {name}: FAILED: {problem}"),
        }
    }
}

/// The outcome of `hub check`: plugins first, then syncs, each in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One line per plugin and per sync.
    pub lines: Vec<Line>,
}

impl Report {
    /// The exit code: 2 if anything cannot load (a configuration that cannot run is the first
    /// thing to fix), else 3 if a live check failed, else 0.
    pub fn exit_code(&self) -> u8 {
        if self
            .lines
            .iter()
            .any(|l| matches!(l.status, Status::NotLoaded(_)))
        {
            2
        } else if self
            .lines
            .iter()
            .any(|l| matches!(l.status, Status::Failed(_)))
        {
            3
        } else {
            0
        }
    }

    /// A closing line: counts, and what the exit code means.
    pub fn summary(&self) -> String {
        let count = |f: fn(&Status) -> bool| self.lines.iter().filter(|l| f(&l.status)).count();
        let not_loaded = count(|s| matches!(s, Status::NotLoaded(_)));
        let failed = count(|s| matches!(s, Status::Failed(_)));
        let plugins = self.lines.iter().filter(|l| l.kind == "plugin").count();
        let syncs = self.lines.iter().filter(|l| l.kind == "sync").count();
        let store = self.lines.iter().any(|l| l.kind == "store");
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        match (not_loaded, failed) {
            (0, 0) if store => format!(
                "check: {}, {} and the state store ok",
                plural(plugins, "plugin"),
                plural(syncs, "sync")
            ),
            (0, 0) => format!(
                "check: {} and {} ok",
                plural(plugins, "plugin"),
                plural(syncs, "sync")
            ),
            _ => format!(
                "check: {} of {} not ok ({not_loaded} cannot load, {failed} failed against the live systems)",
                not_loaded + failed,
                self.lines.len()
            ),
        }
    }
}

/// A plugin error without its leading `plugin NAME: ` (the line names the plugin already).
fn without_name(name: &str, e: &PluginError) -> String {
    let text = e.to_string();
    text.strip_prefix(&format!("plugin {name}: "))
        .map(str::to_string)
        .unwrap_or(text)
}

/// Opens a session on the plugin and calls its `check`.
async fn live(plugin: Arc<Plugin>) -> Result<(), PluginError> {
    let mut session = plugin.session().await?;
    session.check().await
}

/// [`live`] as the daemon reports it: the error in one line, without the plugin's name.
pub async fn live_for_daemon(name: String, plugin: Arc<Plugin>) -> Result<(), String> {
    live(plugin).await.map_err(|e| without_name(&name, &e))
}

/// How long the daemon waits before it checks again a plugin whose live check failed
/// ([`LiveChecks`]).
pub const RECHECK_FAILED: std::time::Duration = std::time::Duration::from_secs(60);

/// One plugin's last live check by the daemon, as `/readyz` gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LiveCheck {
    /// The plugin (a key of `[plugins]`).
    pub plugin: String,
    /// `pending` (its first check has not finished), `ok` or `failed`.
    pub status: String,
    /// When its last check finished (RFC 3339 in UTC with milliseconds, `Z`); none while
    /// pending.
    pub checked_at: Option<String>,
    /// Why it failed: what the connector or its system answered, one line.
    pub error: Option<String>,
}

/// The daemon's live checks of its plugins: `check` on a fresh session against the live
/// system, as `hub check` makes it, made by the daemon itself when it loads its configuration
/// (at start and at every reload: each loaded plugin once), then again every
/// [`RECHECK_FAILED`] for a plugin whose last check failed, until it passes. A plugin that
/// passed is not called again until the next reload, so a system that goes down later shows
/// in its runs, not here. `/readyz` and the status page show these results and never call a
/// system themselves. Clones share the results.
#[derive(Debug, Clone, Default)]
pub struct LiveChecks(Arc<std::sync::Mutex<BTreeMap<String, LiveCheck>>>);

impl LiveChecks {
    fn results(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LiveCheck>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every plugin's last check, in name order.
    pub fn all(&self) -> Vec<LiveCheck> {
        self.results().values().cloned().collect()
    }

    /// The plugins whose last check failed, by name, with why.
    pub fn failed(&self) -> BTreeMap<String, String> {
        self.results()
            .values()
            .filter(|c| c.status == "failed")
            .map(|c| (c.plugin.clone(), c.error.clone().unwrap_or_default()))
            .collect()
    }

    fn record(&self, plugin: &str, result: Result<(), String>) {
        let checked_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let before = self.results().get(plugin).map(|c| c.status.clone());
        let (status, error) = match result {
            Ok(()) => ("ok", None),
            Err(e) => ("failed", Some(e)),
        };
        match (&error, before.as_deref()) {
            (Some(e), _) => {
                tracing::warn!(plugin, "plugin failed its live check: {e}")
            }
            (None, Some("failed")) => tracing::info!(plugin, "plugin passed its live check again"),
            (None, _) => tracing::debug!(plugin, "plugin passed its live check"),
        }
        self.results().insert(
            plugin.to_string(),
            LiveCheck {
                plugin: plugin.to_string(),
                status: status.into(),
                checked_at: Some(checked_at),
                error,
            },
        );
    }

    /// Checks each of `plugins` now (all at once) with `check`, then, every `every`, each
    /// whose last check failed, until it passes; the task ends when none is left failing, and
    /// aborting it stops the checks. Until its first check ends a plugin is `pending`.
    pub fn start<F, Fut>(
        &self,
        plugins: Vec<String>,
        check: F,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()>
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        *self.results() = plugins
            .iter()
            .map(|p| {
                let pending = LiveCheck {
                    plugin: p.clone(),
                    status: "pending".into(),
                    checked_at: None,
                    error: None,
                };
                (p.clone(), pending)
            })
            .collect();
        let checks = self.clone();
        tokio::spawn(async move {
            let check = Arc::new(check);
            let mut due = plugins;
            loop {
                let mut round = tokio::task::JoinSet::new();
                for p in due {
                    let check = check.clone();
                    round.spawn(async move {
                        let r = check(p.clone()).await;
                        (p, r)
                    });
                }
                while let Some(done) = round.join_next().await {
                    if let Ok((p, r)) = done {
                        checks.record(&p, r);
                    }
                }
                due = checks.failed().into_keys().collect();
                if due.is_empty() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}

/// Loads, resolves and checks everything `config` describes (see the module docs). An error
/// only if the runtime itself cannot start.
pub async fn check(config: &Config) -> anyhow::Result<Report> {
    let runtime = Runtime::new(Some(config.data_dir().join("cache")))?.require_signatures(
        crate::plugin_signature::SignaturePolicy::of(&config.hub).map_err(anyhow::Error::msg)?,
    );
    let loaded = daemon::load_plugins(config, &runtime).await;
    let plugins: BTreeMap<String, Arc<Plugin>> = loaded
        .iter()
        .filter_map(|(n, p)| p.as_ref().ok().map(|p| (n.clone(), p.clone())))
        .collect();
    let syncs = daemon::resolve_syncs(config, &plugins)?;
    let mut checks = tokio::task::JoinSet::new();
    for (name, p) in &plugins {
        let (name, p) = (name.clone(), p.clone());
        checks.spawn(async move { (name, live(p).await) });
    }
    let mut live_results: BTreeMap<String, Result<(), PluginError>> = BTreeMap::new();
    while let Some(done) = checks.join_next().await {
        let (name, r) = done?;
        live_results.insert(name, r);
    }
    let mut lines = Vec::new();
    for (name, p) in &loaded {
        let status = match (p, live_results.get(name)) {
            (Err(problem), _) => Status::NotLoaded(problem.clone()),
            (Ok(_), Some(Err(e))) => Status::Failed(without_name(name, e)),
            (Ok(p), _) => {
                let m = p.manifest();
                let contract = p
                    .contract
                    .map(|v| {
                        let adapted = if crate::runtime::contract::adaptation(v).is_some() {
                            " (through its adapter)"
                        } else {
                            ""
                        };
                        format!(", hub:connector {v}{adapted}")
                    })
                    .unwrap_or_default();
                Status::Ok(format!(
                    "{} {}{contract}, sha256 {}…, check passed",
                    m.name,
                    m.version,
                    &p.digest[..16]
                ))
            }
        };
        lines.push(Line {
            kind: "plugin",
            name: name.clone(),
            status,
        });
    }
    for (name, s) in &syncs {
        let status = match s {
            Err(problem) => Status::NotLoaded(problem.clone()),
            Ok(s) => {
                let mut failed: Vec<&str> = [&s.spec.a, &s.spec.b]
                    .iter()
                    .map(|ep| ep.plugin.name.as_str())
                    .filter(|p| matches!(live_results.get(*p), Some(Err(_))))
                    .collect();
                failed.dedup();
                if failed.is_empty() {
                    let (a, b) = (&s.spec.a, &s.spec.b);
                    let direction = match s.spec.direction {
                        crate::config::Direction::AToB => "a_to_b",
                        crate::config::Direction::BToA => "b_to_a",
                        crate::config::Direction::Both => "both",
                    };
                    let enabled = if s.enabled { "" } else { ", disabled" };
                    Status::Ok(format!(
                        "a = {}/{}, b = {}/{}, {direction}, {}{enabled}",
                        a.plugin.name, a.stream, b.plugin.name, b.stream, s.schedule
                    ))
                } else {
                    Status::Failed(format!("plugin {} failed its check", failed.join(" and ")))
                }
            }
        };
        lines.push(Line {
            kind: "sync",
            name: name.clone(),
            status,
        });
    }
    lines.push(store_line(config).await);
    if let Some(line) = admin_tls_line(config) {
        lines.push(line);
    }
    Ok(Report { lines })
}

/// The admin API's certificate and key (`[admin] tls_cert`, `tls_key`), read as `hub run`
/// reads them at start; `None` without TLS.
fn admin_tls_line(config: &Config) -> Option<Line> {
    let (cert, key) = config.admin_tls_files()?;
    let status = match crate::admin::tls::Certificate::load(&cert, &key) {
        Ok(_) => Status::Ok(format!(
            "certificate {} and key {} usable for HTTPS",
            cert.display(),
            key.display()
        )),
        Err(e) => Status::NotLoaded(crate::report::error_chain(&e)),
    };
    Some(Line {
        kind: "admin",
        name: "tls".into(),
        status,
    })
}

/// Whether the deployment has a state key already: `hub.state_key`, or the file
/// `<data_dir>/state.key` (the daemon makes one when neither is there).
fn state_key_given(config: &Config) -> bool {
    config.hub.state_key.is_some() || config.data_dir().join("state.key").exists()
}

/// The state store, looked at read-only ([`crate::store::Store::look_read_only`]): reachable,
/// migrations pending, state key matching. Named by its URL without a password.
async fn store_line(config: &Config) -> Line {
    let url = config.store_url();
    let postgres = url.starts_with("postgres");
    let shown = if postgres {
        crate::store::pg_tls::shown(&url)
    } else {
        url.clone()
    };
    let status = match crate::store::Store::look_read_only(&url).await {
        // The daemon would refuse it as configured: the configuration's to fix (exit 2).
        Err(e @ crate::store::StoreError::Config(_)) => {
            Status::NotLoaded(crate::report::error_chain(&e.into()))
        }
        Err(e) => Status::Failed(format!(
            "cannot be reached read-only: {}",
            crate::report::error_chain(&e.into())
        )),
        // The daemon creates the store, and the key file if there is none; a key it is given
        // must be one it can use.
        Ok(None) => match state_key_given(config).then(|| daemon::state_keys(config, false)) {
            Some(Err(e)) => Status::NotLoaded(format!(
                "not created yet, but the daemon would refuse to start: {}",
                crate::report::error_chain(&e)
            )),
            _ => Status::Ok("not created yet: the daemon creates it at its first start".into()),
        },
        Ok(Some(look)) => {
            let key = match (&look.key_check, daemon::state_keys(config, false)) {
                // No key given and none recorded: the daemon makes one at its start.
                (None, Err(_)) if !state_key_given(config) => {
                    Ok("no state key recorded yet".to_string())
                }
                (_, Err(e)) => Err(format!("the state key cannot be read: {e:#}")),
                (None, Ok(_)) => Ok("no state key recorded yet".to_string()),
                (Some(stored), Ok(keys)) if *stored == keys.key_check() => {
                    Ok("state key matches".to_string())
                }
                (Some(_), Ok(_)) => Err("the state key is not the one this store was first used with (hub.state_key, by default DATA_DIR/state.key): the daemon would refuse to start".to_string()),
            };
            let pending = match look.pending.len() {
                0 => "no migration pending".to_string(),
                n => format!(
                    "{n} migration{} pending ({}), applied at the next start",
                    if n == 1 { "" } else { "s" },
                    look.pending.join(", ")
                ),
            };
            let reach = match (&look.tls, postgres) {
                (Some(version), _) => format!("reachable read-only over {version}"),
                (None, true) => "reachable read-only in clear (no TLS)".to_string(),
                (None, false) => "reachable read-only".to_string(),
            };
            match key {
                Ok(k) => Status::Ok(format!("{reach}, {pending}, {k}")),
                Err(e) => Status::NotLoaded(format!("{reach}, {pending}; but {e}")),
            }
        }
    };
    Line {
        kind: "store",
        name: shown,
        status,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_admin_certificate_files_are_read_as_the_daemon_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hub.toml");
        let base = "[hub]\ndata_dir = \"d\"\n[admin]\n";
        let plain = crate::config::parse(&file, base, &|_| None).unwrap();
        assert!(admin_tls_line(&plain).is_none());
        let text = format!("{base}tls_cert = \"missing.pem\"\ntls_key = \"missing.key\"\n");
        let tls = crate::config::parse(&file, &text, &|_| None).unwrap();
        let line = admin_tls_line(&tls).unwrap();
        match &line.status {
            Status::NotLoaded(m) => assert!(
                m.starts_with("admin.tls_cert: ")
                    && m.contains("missing.pem")
                    && m.contains("No such file"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(Report { lines: vec![line] }.exit_code(), 2);
    }
    use super::*;

    fn line(kind: &'static str, name: &str, status: Status) -> Line {
        Line {
            kind,
            name: name.into(),
            status,
        }
    }

    /// A config of no plugin and no sync on an SQLite store in `dir`, key in `dir/state.key`.
    fn bare_config(dir: &std::path::Path) -> Config {
        let file = dir.join("hub.toml");
        std::fs::write(&file, "[hub]\ndata_dir = \".\"\n").unwrap();
        crate::config::load_with(&file, &|_| None).unwrap()
    }

    #[tokio::test]
    async fn the_store_is_reported_read_only_with_pending_migrations_and_whether_the_key_matches() {
        let dir = tempfile::tempdir().unwrap();
        let c = bare_config(dir.path());
        let url = c.store_url();
        let db = dir.path().join("state.db");
        // Not created yet, and not created by the check.
        let line = store_line(&c).await;
        assert_eq!(
            line.to_string(),
            format!("store {url}: ok (not created yet: the daemon creates it at its first start)")
        );
        assert!(!db.exists());
        // As the daemon leaves it: migrated, key recorded.
        let keys = daemon::state_keys(&c, true).unwrap();
        let store = crate::store::Store::open(&url).await.unwrap();
        store.check_state_key(&keys.key_check()).await.unwrap();
        store.close().await;
        assert_eq!(
            store_line(&c).await.to_string(),
            format!(
                "store {url}: ok (reachable read-only, no migration pending, state key matches)"
            )
        );
        // One migration forgotten: reported pending (version 4 is the audit log's).
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 4")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let text = store_line(&c).await.to_string();
        assert!(
            text.starts_with(&format!(
                "store {url}: ok (reachable read-only, 1 migration pending (4 "
            )),
            "{text}"
        );
        assert!(
            text.ends_with("), applied at the next start, state key matches)"),
            "{text}"
        );
        // Another state key.
        std::fs::remove_file(dir.path().join("state.key")).unwrap();
        crate::keys::Keys::load_or_create(&dir.path().join("state.key")).unwrap();
        let line = store_line(&c).await;
        assert!(matches!(line.status, Status::NotLoaded(_)), "{line}");
        assert!(
            line.to_string().ends_with("; but the state key is not the one this store was first used with (hub.state_key, by default DATA_DIR/state.key): the daemon would refuse to start"),
            "{line}"
        );
    }

    /// The daemon's checks call each plugin once, and only a failing one again, until it
    /// passes; the results are what `/readyz` shows.
    #[tokio::test]
    async fn the_daemon_checks_each_plugin_once_and_a_failing_one_again_until_it_passes() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let calls: Arc<BTreeMap<&str, AtomicU32>> =
            Arc::new([("hy", AtomicU32::new(0)), ("zf", AtomicU32::new(0))].into());
        let checks = LiveChecks::default();
        let counted = calls.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = checks.start(
            vec!["hy".into(), "zf".into()],
            move |p: String| {
                let n = counted[p.as_str()].fetch_add(1, Ordering::SeqCst) + 1;
                let tx = tx.clone();
                async move {
                    // `hy` refuses its first two checks; `zf` passes.
                    let r = if p == "hy" && n <= 2 {
                        Err(format!("check failed (auth): HTTP 401 ({n})"))
                    } else {
                        Ok(())
                    };
                    let _ = tx.send(());
                    r
                }
            },
            std::time::Duration::from_millis(500),
        );
        // Before a check ends, each plugin is pending, and none is failed.
        let pending = checks.all();
        assert_eq!(
            pending
                .iter()
                .map(|c| c.status.as_str())
                .collect::<Vec<_>>(),
            ["pending", "pending"]
        );
        assert!(checks.failed().is_empty());
        // The first round: hy failed, zf ok (half a second before hy's second check).
        rx.recv().await.unwrap();
        rx.recv().await.unwrap();
        while checks.all().iter().any(|c| c.status == "pending") {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_eq!(
            checks.failed(),
            [(
                "hy".to_string(),
                "check failed (auth): HTTP 401 (1)".to_string()
            )]
            .into()
        );
        let zf = &checks.all()[1];
        assert_eq!((zf.plugin.as_str(), zf.status.as_str()), ("zf", "ok"));
        assert!(zf.checked_at.as_deref().unwrap().ends_with('Z'));
        // hy is checked again until its third check passes; then the task ends.
        tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        assert!(checks.failed().is_empty());
        assert_eq!(
            checks
                .all()
                .iter()
                .map(|c| (c.plugin.as_str(), c.status.as_str(), c.error.is_none()))
                .collect::<Vec<_>>(),
            [("hy", "ok", true), ("zf", "ok", true)]
        );
        assert_eq!(
            (
                calls["hy"].load(Ordering::SeqCst),
                calls["zf"].load(Ordering::SeqCst)
            ),
            (3, 1),
            "a plugin that passed is not called again"
        );
    }

    #[tokio::test]
    async fn a_state_key_the_daemon_would_refuse_is_a_load_problem_before_the_store_exists() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let c = bare_config(dir.path());
        let url = c.store_url();
        let key = c.data_dir().join("state.key");
        std::fs::write(&key, "ab".repeat(32)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let line = store_line(&c).await;
        assert_eq!(
            line.to_string(),
            format!(
                "store {url}: NOT LOADED: not created yet, but the daemon would refuse to start: the state key {k} can be read by other users (mode 0644): refused; make it the daemon user's alone with `chmod 600 {k}`",
                k = key.display()
            )
        );
        assert_eq!(Report { lines: vec![line] }.exit_code(), 2);
        // The daemon user's alone, it is one the daemon takes.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            store_line(&c).await.to_string(),
            format!("store {url}: ok (not created yet: the daemon creates it at its first start)")
        );
    }

    #[test]
    fn a_load_problem_outranks_a_failed_live_check_in_the_exit_code() {
        let ok = line("plugin", "hy", Status::Ok("huiyang-esms 0.1.0".into()));
        let failed = line(
            "plugin",
            "zf",
            Status::Failed("check failed (auth): login refused".into()),
        );
        let not_loaded = line(
            "sync",
            "workers",
            Status::NotLoaded("hub.toml:20:5: sync workers cannot run".into()),
        );
        assert_eq!(
            Report {
                lines: vec![ok.clone()]
            }
            .exit_code(),
            0
        );
        assert_eq!(
            Report {
                lines: vec![ok.clone(), failed.clone()]
            }
            .exit_code(),
            3
        );
        assert_eq!(
            Report {
                lines: vec![failed.clone(), not_loaded.clone()]
            }
            .exit_code(),
            2
        );
        assert_eq!(
            failed.to_string(),
            "plugin zf: FAILED: check failed (auth): login refused"
        );
        assert_eq!(
            not_loaded.to_string(),
            "sync workers: NOT LOADED: hub.toml:20:5: sync workers cannot run"
        );
        assert_eq!(ok.to_string(), "plugin hy: ok (huiyang-esms 0.1.0)");
        let r = Report {
            lines: vec![ok, failed, not_loaded],
        };
        assert_eq!(
            r.summary(),
            "check: 2 of 3 not ok (1 cannot load, 1 failed against the live systems)"
        );
        let two = line("plugin", "zf", Status::Ok("zhenfeng-registry 0.1.0".into()));
        let sync = line("sync", "workers", Status::Ok("a = zf/workers".into()));
        assert_eq!(
            Report {
                lines: vec![two.clone(), two, sync]
            }
            .summary(),
            "check: 2 plugins and 1 sync ok"
        );
    }
}
