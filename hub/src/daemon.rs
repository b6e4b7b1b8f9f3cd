//! Building a deployment from its config, and running its schedules.
//!
//! [`Hub::build`] reports every problem instead of stopping at the first: a plugin that fails to
//! load (or asks for a capability the deployment does not grant) disables the syncs that use it,
//! and the daemon runs the others. [`Hub::run_scheduled`] gives each enabled sync its own task
//! driven by [`crate::scheduler::drive`] (overlap, catch-up, jitter, pause, manual triggers).
//! A run that panics is logged and counted as failed; the daemon goes on.

use crate::config::{Config, Direction};
use crate::keys::Keys;
use crate::runtime::rate::RateBudget;
use crate::runtime::{Plugin, Runtime};
use crate::schedule::Schedule;
use crate::scheduler::{self, BoxFuture, Policy, Runner, StoreClock};
use crate::schema::Catalogue;
use crate::store::Store;
use crate::sync::{EndpointSpec, Engine, RunOutcome, SyncSpec};
use anyhow::Context as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A sync ready to run on its schedule.
#[derive(Debug, Clone)]
pub struct ScheduledSync {
    /// What to run.
    pub spec: SyncSpec,
    /// When.
    pub schedule: Schedule,
    /// Overlap, catch-up and jitter.
    pub policy: Policy,
    /// Disabled syncs are built and checked but not scheduled.
    pub enabled: bool,
}

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

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::String(other.to_string()),
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

/// Resolves every sync of the config against the catalogue and the loaded plugins: each name
/// with its runnable form, or its problems (located lines). An error only for what the config
/// check should have refused already (a schedule that does not parse).
pub fn resolve_syncs(
    config: &Config,
    plugins: &BTreeMap<String, Arc<Plugin>>,
) -> anyhow::Result<BTreeMap<String, Result<ScheduledSync, String>>> {
    let catalogue = Catalogue::builtin()?;
    let mut out = BTreeMap::new();
    for (name, sc) in &config.syncs {
        let resolved = resolve(name, sc, &catalogue, plugins)
            .map_err(|e| {
                format!(
                    "{}: sync {name} cannot run: {e:#}",
                    config.location(sc.schema.span())
                )
            })
            .and_then(|spec| check_pointers(config, name, sc, &spec).map(|()| spec));
        let sync = match resolved {
            Ok(spec) => {
                let schedule = Schedule::parse(sc.schedule.get_ref(), sc.timezone.get_ref())
                    .with_context(|| format!("syncs.{name}.schedule"))?;
                let policy = Policy {
                    overlap: sc.overlap,
                    catch_up_window: sc.catch_up_window,
                    jitter: sc.jitter,
                };
                Ok(ScheduledSync {
                    spec,
                    schedule,
                    policy,
                    enabled: sc.enabled,
                })
            }
            Err(problem) => {
                tracing::error!("{problem}");
                Err(problem)
            }
        };
        out.insert(name.clone(), sync);
    }
    Ok(out)
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

    /// Runs one sync now.
    pub async fn run_once(&self, name: &str, trigger: &str) -> anyhow::Result<RunOutcome> {
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

    /// Runs every enabled sync on its schedule until `shutdown` turns true; the run in flight
    /// finishes first (every batch commits as it goes, so a hard stop loses nothing either).
    /// Each finished run is sent to `runs` if given.
    pub async fn run_scheduled(
        &self,
        shutdown: watch::Receiver<bool>,
        runs: Option<mpsc::UnboundedSender<RunOutcome>>,
    ) {
        let mut tasks = tokio::task::JoinSet::new();
        // One clock for every schedule: the state store's (leases and fire-time claims go by
        // it, so daemons whose own clocks differ still take turns).
        let clock = Arc::new(StoreClock::new(self.engine.store().clone()).await);
        for (name, s) in &self.syncs {
            if !s.enabled {
                tracing::info!(sync = %name, "sync disabled in the config; not scheduled");
                continue;
            }
            let runner = EngineRunner {
                engine: self.engine.clone(),
                spec: s.spec.clone(),
                runs: runs.clone(),
                witness: self.witness.clone(),
            };
            let (store, schedule, policy, stop) = (
                self.engine.store().clone(),
                s.schedule.clone(),
                s.policy,
                shutdown.clone(),
            );
            let name = name.clone();
            let clock = clock.clone();
            tasks.spawn(async move {
                scheduler::drive(&*clock, &store, &name, &schedule, &policy, &runner, stop).await;
            });
        }
        let budgets: Vec<_> = self
            .plugins
            .values()
            .filter_map(|p| p.rate_budget().cloned())
            .collect();
        let all_ended = async { while tasks.join_next().await.is_some() {} };
        if budgets.is_empty() {
            all_ended.await;
            return;
        }
        tokio::select! {
            () = all_ended => {}
            () = share_budgets(self.engine.store(), &budgets) => {}
        }
        if let Err(e) = self.engine.store().daemon_leave().await {
            tracing::warn!("cannot remove this daemon from the store's list of daemons: {e:#}");
        }
    }
}

/// How often a daemon says it is alive on the store and counts the daemons sharing each rate
/// budget.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a daemon's heartbeat counts: a daemon that died drops out of the division this long
/// after its last one (by the database's clock), or at once on its own host.
pub const HEARTBEAT_TTL: Duration = Duration::from_secs(30);

/// Divides each rate budget among the daemons alive on the store that use its plugin, every
/// [`HEARTBEAT`], for ever (the caller drops it). While the store cannot be reached the last
/// division stays.
async fn share_budgets(store: &Store, budgets: &[Arc<RateBudget>]) {
    let plugins: Vec<String> = budgets.iter().map(|b| b.plugin().to_string()).collect();
    loop {
        match store.daemon_heartbeat(&plugins, HEARTBEAT_TTL).await {
            Ok(daemons) => {
                for b in budgets {
                    b.set_share(daemons.get(b.plugin()).copied().unwrap_or(1));
                }
            }
            Err(e) => tracing::warn!(
                "cannot count the daemons sharing the rate budgets on the store (the last count stays): {e:#}"
            ),
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// The runtime sync runs execute on, apart from the daemon's own (schedules, signals, admin
/// API). Guest code runs inside one poll for up to a CPU check (100 ms) at a time, and a run
/// keeps its worker threads busy; on a runtime of their own, runs can never hold up a timer, a
/// signal or an admin request, however hostile a plugin is.
pub(crate) fn runs_runtime() -> &'static tokio::runtime::Runtime {
    static RUNS: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNS.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("hub-run")
            .enable_all()
            .build()
            .expect("the runs' runtime starts (threads can be spawned)")
    })
}

/// Runs a sync through the engine, each run in its own task on [`runs_runtime`], so that a
/// panic fails the run, not the schedule.
struct EngineRunner {
    engine: Engine,
    spec: SyncSpec,
    runs: Option<mpsc::UnboundedSender<RunOutcome>>,
    witness: Option<Arc<crate::audit_witness::Witness>>,
}

impl Runner for EngineRunner {
    fn run(
        &self,
        trigger: &'static str,
        scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let (e, sp) = (self.engine.clone(), self.spec.clone());
            match runs_runtime()
                .spawn(async move { e.run_at(&sp, trigger, scheduled_for).await })
                .await
            {
                Ok(Ok(outcome)) => {
                    if let Some(tx) = &self.runs {
                        let _ = tx.send(outcome);
                    }
                }
                Ok(Err(e)) => tracing::warn!(sync = %self.spec.name, "run not done: {e:#}"),
                Err(e) => tracing::error!(sync = %self.spec.name, "run panicked: {e}"),
            }
            if let Some(w) = &self.witness {
                // Errors are logged by record; the syncs go on.
                let _ = w.record(self.engine.store()).await;
            }
        })
    }
}

/// The subschemas a JSON pointer (as tokens) can reach in `node`, following `$ref`s into the
/// catalogue's files, `properties`, and the branches of `anyOf`, `oneOf` and `allOf`.
fn reach<'a>(
    node: &'a Value,
    doc: &'a Value,
    tokens: &[String],
    docs: &'a BTreeMap<String, Value>,
    out: &mut Vec<&'a Value>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let (file, frag) = r.split_once('#').unwrap_or((r, ""));
        let target_doc = if file.is_empty() {
            Some(doc)
        } else {
            docs.get(file.trim_end_matches(".json"))
        };
        if let Some(target) = target_doc.and_then(|d| d.pointer(frag).map(|t| (d, t))) {
            reach(target.1, target.0, tokens, docs, out, depth + 1);
        }
        return;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            reach(branch, doc, tokens, docs, out, depth + 1);
        }
    }
    match tokens.split_first() {
        None => out.push(node),
        Some((first, rest)) => {
            if let Some(child) = node.get("properties").and_then(|p| p.get(first.as_str())) {
                reach(child, doc, rest, docs, out, depth + 1);
            }
        }
    }
}

/// True if `v` can be a value of one of the subschemas (by `type` or `enum`).
fn fits(v: &Value, subschemas: &[&Value]) -> bool {
    subschemas.iter().any(|s| {
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return e.contains(v);
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => return false,
        };
        types.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            _ => false,
        })
    })
}

/// Checks a sync's `where` and `merge` pointers against its schema: each must name a field the
/// schema has, and a `where` value must be of that field's type (a filter that can never match
/// would silently drop every record).
fn check_pointers(
    config: &Config,
    name: &str,
    sc: &crate::config::SyncConfig,
    spec: &SyncSpec,
) -> Result<(), String> {
    let docs: BTreeMap<String, Value> = hub_schemas::catalogue::FILES
        .iter()
        .filter_map(|f| {
            serde_json::from_str(f.text)
                .ok()
                .map(|v| (f.name.to_string(), v))
        })
        .collect();
    let root = docs
        .get(&spec.schema.name)
        .ok_or_else(|| format!("schema {} is not in the catalogue", spec.schema.name))?;
    let lookup = |ptr: &str| -> Vec<&Value> {
        let tokens: Vec<String> = ptr
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut out = Vec::new();
        reach(root, root, &tokens, &docs, &mut out, 0);
        out
    };
    let mut problems = Vec::new();
    for (side, ep) in [("a", &sc.a), ("b", &sc.b)] {
        for (ptr, v) in &ep.filter {
            let found = lookup(ptr);
            let v = toml_to_json(v);
            if found.is_empty() {
                problems.push(format!(
                    "{}: syncs.{name}.{side}.where: {ptr} is not a field of schema {}",
                    config.location(ep.plugin.span()),
                    spec.schema.name
                ));
            } else if !fits(&v, &found) {
                problems.push(format!("{}: syncs.{name}.{side}.where: {v} can never be the value of {ptr} (wrong type or not allowed)", config.location(ep.plugin.span())));
            }
        }
    }
    let deletes = sc.deletes.get_ref();
    for (side, form) in [("a", &deletes.a), ("b", &deletes.b)] {
        for (ptr, v) in form {
            let found = lookup(ptr);
            let v = toml_to_json(v);
            if found.is_empty() {
                problems.push(format!(
                    "{}: syncs.{name}.deletes.{side}: {ptr} is not a field of schema {}",
                    config.location(sc.deletes.span()),
                    spec.schema.name
                ));
            } else if !fits(&v, &found) {
                problems.push(format!("{}: syncs.{name}.deletes.{side}: {v} can never be the value of {ptr} (wrong type or not allowed)", config.location(sc.deletes.span())));
            }
        }
    }
    for (ptr, _) in &spec.rules {
        if lookup(ptr).is_empty() {
            problems.push(format!(
                "{}: syncs.{name}.merge: {ptr} is not a field of schema {}",
                config.location(sc.merge.span()),
                spec.schema.name
            ));
        }
    }
    for ptr in &spec.key {
        if lookup(ptr).is_empty() {
            problems.push(format!(
                "{}: syncs.{name}.key: {ptr} is not a field of schema {}",
                config.location(sc.schema.span()),
                spec.schema.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Resolves a sync against the catalogue and the loaded plugins.
fn resolve(
    name: &str,
    sc: &crate::config::SyncConfig,
    catalogue: &Catalogue,
    plugins: &BTreeMap<String, Arc<Plugin>>,
) -> anyhow::Result<SyncSpec> {
    let schema = catalogue.get(sc.schema.get_ref())?;
    let endpoint = |side: &str,
                    ep: &crate::config::Endpoint,
                    reads: bool,
                    writes: bool|
     -> anyhow::Result<EndpointSpec> {
        let plugin = plugins.get(ep.plugin.get_ref()).ok_or_else(|| {
            anyhow::anyhow!("{side}: plugin {} did not load", ep.plugin.get_ref())
        })?;
        let stream = plugin.stream(&ep.stream).ok_or_else(|| {
            let offered: Vec<&str> = plugin
                .manifest()
                .streams
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            anyhow::anyhow!(
                "{side}: plugin {} has no stream {:?} (it offers {})",
                plugin.name,
                ep.stream,
                offered.join(", ")
            )
        })?;
        if stream.schema != schema.name {
            anyhow::bail!(
                "{side}: stream {} carries schema {:?}, the sync needs {:?}",
                ep.stream,
                stream.schema,
                schema.name
            );
        }
        match schema.check_version(&stream.schema_version) {
            Ok(hub_schemas::catalogue::Compatibility::NewerMinor) => tracing::warn!(
                plugin = %plugin.name,
                stream = %ep.stream,
                "speaks {} {}, newer than the hub's {}: records with fields this hub does not know will be refused",
                schema.name,
                stream.schema_version,
                schema.version
            ),
            Ok(_) => {}
            Err(e) => anyhow::bail!("{side}: stream {}: {e}", ep.stream),
        }
        if reads && !stream.can_read {
            anyhow::bail!("{side}: stream {} cannot be read", ep.stream);
        }
        if writes && !stream.can_write {
            anyhow::bail!("{side}: stream {} cannot be written", ep.stream);
        }
        if writes && sc.deletes.get_ref().is_native(side) && !stream.can_delete {
            anyhow::bail!(
                "{side}: deletes.native names it, but stream {} of plugin {} cannot delete a record natively (its manifest does not say can-delete; contract 0.2): tell it in field form (deletes.{side} = {{ \"/pointer\" = value }})",
                ep.stream,
                plugin.name
            );
        }
        Ok(EndpointSpec {
            plugin: plugin.clone(),
            stream: ep.stream.clone(),
            filter: ep
                .filter
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        })
    };
    let (a_reads, b_reads) = match sc.direction {
        Direction::AToB => (true, false),
        Direction::BToA => (false, true),
        Direction::Both => (true, true),
    };
    let a = endpoint("a", &sc.a, a_reads, b_reads)?;
    let b = endpoint("b", &sc.b, b_reads, a_reads)?;
    let key = sc
        .key
        .as_ref()
        .map(|k| k.get_ref().clone())
        .unwrap_or_else(|| schema.key.clone());
    if key.is_empty() {
        anyhow::bail!(
            "schema {} declares no x-key and the sync gives no key",
            schema.name
        );
    }
    Ok(SyncSpec {
        name: name.to_string(),
        schema,
        key,
        direction: sc.direction,
        a,
        b,
        rules: sc.merge.get_ref().rules(),
        default_policy: sc.merge.get_ref().default,
        newest: crate::sync::NewestRule {
            clock_skew: sc.merge.get_ref().clock_skew,
            within_skew: sc.merge.get_ref().within_skew,
        },
        deletes: [&sc.deletes.get_ref().a, &sc.deletes.get_ref().b].map(|form| {
            form.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect()
        }),
        native_deletes: ["a", "b"].map(|side| sc.deletes.get_ref().is_native(side)),
        batch_size: *sc.batch_size.get_ref(),
    })
}
