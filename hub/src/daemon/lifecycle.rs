//! `hub run` from start to stop: the data directory's lock, the deployment built, telemetry,
//! metrics, live checks and the admin server started, then the schedules run until a signal.
//! SIGHUP builds the configuration again and switches to it between runs (a configuration that
//! does not build is refused and the running one stays); SIGTERM or Ctrl-C drains: the runs in
//! flight finish, then the daemon stops.
//!
//! This module owns the order of those steps and nothing else: it builds through
//! [`Hub::build`], schedules through [`Hub::run_scheduled`], and serves the admin API through
//! [`crate::admin::Server`]. It prints no command output and knows no exit code: its errors
//! ([`DaemonError`]) are mapped by the command line.
//!
//! Its log lines keep the target `hub` they had when this loop was the binary's (`target:
//! "hub"`), so that filters and log readers see the same lines.

use super::Hub;
use crate::config::{self, ConfigErrors};
use crate::say_err;
use std::path::Path;
use tokio::sync::mpsc::UnboundedReceiver;

/// Why the daemon did not start, or why a reload was refused.
#[derive(Debug)]
pub enum DaemonError {
    /// The configuration file is invalid.
    Config(ConfigErrors),
    /// The deployment it describes cannot run: no sync can, or a plugin is refused for its
    /// signature; one located problem per line.
    Deployment(Vec<String>),
    /// Anything else (the data directory, the state store or its key, metrics, the admin
    /// server).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for DaemonError {
    fn from(e: anyhow::Error) -> DaemonError {
        DaemonError::Other(e)
    }
}

impl DaemonError {
    /// What a refused reload logs and the admin API shows (one problem a line).
    fn reason(self) -> String {
        match self {
            DaemonError::Config(e) => e.to_string(),
            DaemonError::Deployment(p) => p.join("\n"),
            DaemonError::Other(e) => crate::report::error_chain(&e),
        }
    }
}

/// Runs the daemon of the configuration at `config` until SIGTERM or Ctrl-C (or until no
/// schedule is left to run), reloading it on SIGHUP.
pub async fn run(config: &Path) -> Result<(), DaemonError> {
    // One daemon per data directory: a second one would run the same syncs' schedules
    // and overwrite admin.url (the lock goes with the process, however it ends).
    let data_dir = load(config)?.data_dir();
    let _daemon_lock = lock_data_dir(&data_dir)?;
    let mut hub = build(config).await?;
    let telemetry = start_telemetry(&hub.config);
    let mut signals = signals();
    crate::metrics::install()?;
    crate::metrics::config_reload(true);
    hub.record_loaded();
    hub.start_live_checks();
    let admin = match hub.config.admin.enabled {
        true => Some(crate::admin::Server::start(&hub.config, hub.admin_view()).await?),
        false => None,
    };
    tracing::info!(target: "hub", syncs = hub.syncs.len(), "daemon started");
    while let Some(reloaded) = serve(&hub, config, &mut signals, admin.as_ref()).await {
        hub = switch(hub, reloaded, admin.as_ref()).await;
    }
    if let Some(a) = admin {
        a.stop();
    }
    hub.engine.store().close().await;
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
    tracing::info!(target: "hub", "daemon stopped");
    Ok(())
}

/// A deployment built on SIGHUP, with the admin tokens read with it (when the admin server
/// runs).
type Reloaded = (Hub, Option<crate::admin::security::Tokens>);

/// Runs `hub`'s schedules until a signal. Returns the new deployment after a reload that
/// built (the runs in flight finished first), `None` to stop (after a drain, or when the
/// schedules ended of themselves). A reload that does not build is refused and the schedules
/// go on.
async fn serve(
    hub: &Hub,
    config: &Path,
    signals: &mut UnboundedReceiver<Signal>,
    admin: Option<&crate::admin::Server>,
) -> Option<Reloaded> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduled = hub.run_scheduled(stopped, None);
    tokio::pin!(scheduled);
    loop {
        tokio::select! {
            () = &mut scheduled => return None,
            signal = signals.recv() => match signal {
                Some(Signal::Reload) => {
                    if let Some(new) = reload(hub, config, admin).await {
                        tracing::info!(target: "hub", "new configuration loaded; the runs in flight finish first");
                        crate::metrics::config_reload(true);
                        let _ = stop.send(true);
                        (&mut scheduled).await;
                        return Some(new);
                    }
                }
                Some(Signal::Stop) | None => {
                    tracing::info!(target: "hub", "shutting down: the runs in flight finish first");
                    let _ = stop.send(true);
                    (&mut scheduled).await;
                    return None;
                }
            },
        }
    }
}

/// On SIGHUP: builds the configuration at `config` again (and reads the admin tokens with it:
/// a token that cannot be read refuses the reload). A refusal is logged, counted, and shown
/// by the admin API beside the running deployment `hub`, and returns `None`.
async fn reload(
    hub: &Hub,
    config: &Path,
    admin: Option<&crate::admin::Server>,
) -> Option<Reloaded> {
    tracing::info!(target: "hub", "SIGHUP: reloading the configuration and the plugins");
    let built = match build(config).await {
        Ok(new) if admin.is_some() => crate::admin::tokens(&new.config)
            .map(|t| (new, Some(t)))
            .map_err(DaemonError::Other),
        Ok(new) => Ok((new, None)),
        Err(f) => Err(f),
    };
    match built {
        Ok(new) => Some(new),
        Err(f) => {
            let why = f.reason();
            tracing::error!(
                target: "hub",
                "reload refused, the running configuration stays: {}",
                why.replace('\n', "; ")
            );
            crate::metrics::config_reload(false);
            if let Some(a) = admin {
                a.update(crate::admin::View {
                    reload_refused: Some(why.replace('\n', "; ")),
                    ..hub.admin_view()
                });
            }
            None
        }
    }
}

/// Switches from the deployment `old` to the one reloaded, between runs: its gauges and live
/// checks start, the admin server shows it (and takes its tokens), `old`'s store is closed.
async fn switch(
    old: Hub,
    (mut new, tokens): Reloaded,
    admin: Option<&crate::admin::Server>,
) -> Hub {
    new.record_loaded();
    new.start_live_checks();
    if let Some(a) = admin {
        a.update(new.admin_view());
        if let Some(t) = tokens {
            a.update_tokens(t);
        }
    }
    old.engine.store().close().await;
    drop(old);
    tracing::info!(
        target: "hub",
        syncs = new.syncs.len(),
        "daemon running the new configuration"
    );
    new
}

fn load(path: &Path) -> Result<config::Config, DaemonError> {
    config::load(path).map_err(DaemonError::Config)
}

/// Loads and builds a deployment for the daemon: at least one sync must be able to run.
async fn build(config: &Path) -> Result<Hub, DaemonError> {
    let config = load(config)?;
    // With require_signed, one refused plugin stops the start (or the reload) as a whole.
    let unsigned = crate::plugin_signature::refusals(&config);
    if !unsigned.is_empty() {
        return Err(DaemonError::Deployment(unsigned));
    }
    let hub = Hub::build(config).await?;
    if hub.syncs.is_empty() {
        return Err(DaemonError::Deployment(hub.problems.clone()));
    }
    for p in &hub.problems {
        say_err!("warning: {p}");
    }
    Ok(hub)
}

/// Takes `<data_dir>/daemon.lock` for this process, or fails naming the directory.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join("daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another hub daemon is running on the data directory {} (it holds daemon.lock); stop it first",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("failed to lock {}", path.display())))
        }
    }
}

/// Whether a daemon on this machine holds `<data_dir>/daemon.lock` (the lock `hub run` takes).
pub fn running_on(dir: &Path) -> bool {
    match std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("daemon.lock"))
    {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Starts exporting spans if `[telemetry] otlp_endpoint` is set ([`crate::telemetry`]); a
/// failure to start is logged and the command goes on without.
pub fn start_telemetry(config: &config::Config) -> Option<crate::telemetry::Telemetry> {
    let endpoint = config.telemetry.endpoint()?;
    match crate::telemetry::Telemetry::start(endpoint, config.telemetry.service_name()) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(target: "hub", "telemetry: spans are not exported: {e:#}");
            None
        }
    }
}

/// What the daemon is told by signals.
enum Signal {
    /// SIGTERM or Ctrl-C: finish the runs in flight and exit.
    Stop,
    /// SIGHUP: load the configuration and plugins again and switch between runs.
    Reload,
}

fn signals() -> UnboundedReceiver<Signal> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                let _ = tokio::signal::ctrl_c().await;
                let _ = tx.send(Signal::Stop);
                return;
            };
            loop {
                let s = tokio::select! {
                    _ = tokio::signal::ctrl_c() => Signal::Stop,
                    _ = term.recv() => Signal::Stop,
                    _ = hup.recv() => Signal::Reload,
                };
                let stop = matches!(s, Signal::Stop);
                if tx.send(s).is_err() || stop {
                    return;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx.send(Signal::Stop);
        }
    });
    rx
}
