//! The deployment: a configuration built into what runs it ([`Hub::build`]): the state store
//! and state keys, the plugins loaded, the syncs resolved, and what the admin API and the
//! metrics show of them.
//!
//! [`Hub::build`] reports every problem instead of stopping at the first: a plugin that fails to
//! load (or asks for a capability the deployment does not grant) disables the syncs that use it,
//! and the daemon runs the others. This module builds; it does not schedule (`schedules`),
//! handle signals or reloads (`lifecycle`), or resolve a sync's pointers (`resolve`).

use super::resolve::{ScheduledSync, resolve_syncs};
use super::schedules::runs_runtime;
use crate::config::Config;
use crate::keys::Keys;
use crate::runtime::{Plugin, Runtime};
use crate::store::{RunTrigger, Store};
use crate::sync::{EndpointSpec, Engine, RunOutcome};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A deployment, built.
pub struct Hub {
    /// The configuration it was built from.
    pub config: Config,
    /// The engine (state store and keys).
    pub engine: Engine,
    /// Loaded plugins by name.
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    /// Syncs that can run, by name.
    pub syncs: BTreeMap<String, ScheduledSync>,
    /// What could not be loaded, one line each (plugins, syncs).
    pub problems: Vec<String>,
    /// Syncs of the configuration that could not load, by name, with the reason (also among
    /// `problems`).
    pub not_loaded: BTreeMap<String, String>,
    /// Where the audit chain's head goes after every run (`hub.audit_witness`).
    pub witness: Option<Arc<crate::audit_witness::Witness>>,
    /// The daemon's live checks of the plugins ([`Hub::start_live_checks`]); none unless
    /// started.
    pub checks: crate::check::LiveChecks,
    /// The task making them, stopped when this deployment is dropped (replaced by a reload).
    live_task: Option<AbortOnDrop>,
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state keys of a deployment: `hub.state_key` if the config sets it, else the file
/// `<data_dir>/state.key`, which is created with a random key if missing and `create` is true
/// (the daemon), and is an error naming the file otherwise (commands that only check what the
/// daemon wrote). Every error is a [`crate::store::StoreConfigError`] (a key that cannot be read
/// or made, is not 64 hex digits, or is readable by other users: the deployment's to fix).
pub fn state_keys(config: &Config, create: bool) -> anyhow::Result<Keys> {
    state_keys_of(config, create).map_err(|e| crate::store::StoreConfigError::of(&e))
}

fn state_keys_of(config: &Config, create: bool) -> anyhow::Result<Keys> {
    match &config.hub.state_key {
        Some(src) => {
            let hex = src
                .resolve(&config.dir())
                .map_err(|e| anyhow::anyhow!("hub.state_key: {e}"))?;
            Keys::from_hex(hex.trim()).context("hub.state_key")
        }
        None if create => Keys::load_or_create(&config.data_dir().join("state.key")),
        None => Keys::load(&config.data_dir().join("state.key")),
    }
}

/// Loads every plugin of the config: each name with its plugin, or the problem (one line,
/// located at the plugin's `path` in the file) that kept it from loading. Capabilities are
/// checked here: a plugin asking for what the deployment does not grant does not load.
pub async fn load_plugins(
    config: &Config,
    runtime: &Runtime,
) -> BTreeMap<String, Result<Arc<Plugin>, String>> {
    let mut out = BTreeMap::new();
    for (name, pc) in &config.plugins {
        let loaded = match runtime.load(name, pc, &config.dir()).await {
            Ok(p) => {
                let m = p.manifest();
                tracing::info!(plugin = %name, connector = %m.name, version = %m.version, sha256 = %p.digest, "plugin loaded");
                Ok(Arc::new(p))
            }
            Err(e) => {
                let problem = format!("{}: {e}", config.location(pc.path.span()));
                tracing::error!("{problem}");
                Err(problem)
            }
        };
        out.insert(name.clone(), loaded);
    }
    out
}

impl Hub {
    /// Opens the state store, loads the plugins and resolves the syncs.
    pub async fn build(config: Config) -> anyhow::Result<Hub> {
        let store = Store::open(&config.store_url()).await?;
        let interrupted = store.close_interrupted_runs().await?;
        if !interrupted.is_empty() {
            let runs: Vec<String> = interrupted
                .iter()
                .map(|(sync, id)| format!("{sync} (run {id})"))
                .collect();
            tracing::warn!(
                runs = %runs.join(", "),
                "runs left running by a process that stopped were marked interrupted; each sync's next run goes on from what they had committed"
            );
        }
        let keys = state_keys(&config, true)?;
        store.check_state_key(&keys.key_check()).await?;
        let witness = match &config.hub.audit_witness {
            Some(p) => {
                let w = crate::audit_witness::Witness::start(config.dir().join(p), &store).await?;
                Some(Arc::new(w))
            }
            None => None,
        };
        let runtime = Runtime::new(Some(config.data_dir().join("cache")))?.require_signatures(
            crate::plugin_signature::SignaturePolicy::of(&config.hub)
                .map_err(anyhow::Error::msg)?,
        );
        let mut problems = Vec::new();
        let mut plugins = BTreeMap::new();
        for (name, loaded) in load_plugins(&config, &runtime).await {
            match loaded {
                Ok(p) => {
                    plugins.insert(name, p);
                }
                Err(problem) => problems.push(problem),
            }
        }
        let mut syncs = BTreeMap::new();
        let mut not_loaded = BTreeMap::new();
        for (name, resolved) in resolve_syncs(&config, &plugins)? {
            match resolved {
                Ok(s) => {
                    syncs.insert(name, s);
                }
                Err(problem) => {
                    problems.push(problem.clone());
                    not_loaded.insert(name, problem);
                }
            }
        }
        let lease_ttl = config.hub.lease_ttl;
        Ok(Hub {
            config,
            engine: Engine::new(store, keys).with_lease_ttl(lease_ttl),
            plugins,
            syncs,
            problems,
            not_loaded,
            witness,
            checks: crate::check::LiveChecks::default(),
            live_task: None,
        })
    }

    /// Starts the daemon's live checks of the loaded plugins ([`crate::check::LiveChecks`]:
    /// each plugin's `check` now, and again every [`crate::check::RECHECK_FAILED`] while it
    /// fails), each on the runs' runtime as the plugin's runs are. They stop when this
    /// deployment is dropped. `hub run` starts them at start and after each reload; a single
    /// run (`hub sync --once`) does not.
    pub fn start_live_checks(&mut self) {
        let plugins = self.plugins.clone();
        let names = plugins.keys().cloned().collect();
        let task = self.checks.start(
            names,
            move |name| {
                let plugin = plugins.get(&name).cloned();
                async move {
                    let Some(plugin) = plugin else {
                        return Ok(());
                    };
                    runs_runtime()
                        .spawn(crate::check::live_for_daemon(name, plugin))
                        .await
                        .unwrap_or_else(|e| Err(format!("the check panicked: {e}")))
                }
            },
            crate::check::RECHECK_FAILED,
        );
        self.live_task = Some(AbortOnDrop(task));
    }

    /// Sets the gauges of what this deployment loaded: `hub_sync_loaded{sync}` for each
    /// configured sync (1 loaded, 0 not), and for no sync it does not configure.
    pub fn record_loaded(&self) {
        crate::metrics::syncs_loaded(
            self.syncs
                .keys()
                .map(|n| (n.clone(), true))
                .chain(self.not_loaded.keys().map(|n| (n.clone(), false))),
        );
    }

    /// What the admin API shows of this deployment.
    pub fn admin_view(&self) -> crate::admin::View {
        let endpoint = |e: &EndpointSpec| crate::admin::Endpoint {
            plugin: e.plugin.name.clone(),
            stream: e.stream.clone(),
        };
        let syncs = self
            .syncs
            .iter()
            .map(|(name, s)| {
                let v = crate::admin::SyncView {
                    schema: s.spec.schema.name.clone(),
                    direction: s.spec.direction.as_str().to_string(),
                    a: endpoint(&s.spec.a),
                    b: endpoint(&s.spec.b),
                    schedule: s.schedule.clone(),
                    enabled: s.enabled,
                };
                (name.clone(), v)
            })
            .collect();
        crate::admin::View {
            store: self.engine.store().clone(),
            syncs,
            problems: self.problems.clone(),
            not_loaded: self.not_loaded.clone(),
            reload_refused: None,
            progress: self.engine.progress().clone(),
            zone: self.config.zone(),
            checks: self.checks.clone(),
            reconciler: Some(crate::sync::compare::Reconciler {
                engine: self.engine.clone(),
                specs: self
                    .syncs
                    .iter()
                    .map(|(n, s)| (n.clone(), s.spec.clone()))
                    .collect(),
            }),
        }
    }

    /// Runs one sync now, its run recorded with `trigger`.
    pub async fn run_once(&self, name: &str, trigger: &RunTrigger) -> anyhow::Result<RunOutcome> {
        let s = self.syncs.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.syncs.keys().map(String::as_str).collect();
            anyhow::anyhow!("no sync {name:?} can run (available: {})", known.join(", "))
        })?;
        let outcome = self.engine.run(&s.spec, trigger).await;
        if let Some(w) = &self.witness {
            let _ = w.record(self.engine.store()).await;
        }
        outcome
    }
}
