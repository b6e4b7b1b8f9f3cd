//! A loaded plugin, and a session: one instance for one sync run.

use super::contract::{Exports, Pre, v0_1};
use super::limits::{CallClock, Limiter};
use super::native::{Connection, NativeConnection, NativeConnector};
use super::{
    Batch, CPU_CHECK_TICKS, HostState, Manifest, PluginError, Rejection, STDERR_CAPTURE,
    StreamInfo, TargetRecord, WriteOp, WriteResult, Written, connector_error, http,
};
use crate::config::Limits;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// A loaded plugin.
pub struct Plugin {
    /// The name the deployment gives it.
    pub name: String,
    /// SHA-256 of the component file, 64 hex digits.
    pub digest: String,
    /// The `hub:connector` version the component was built against (`None` for a connector
    /// compiled into the host).
    pub contract: Option<super::engine::Version>,
    manifest: Option<Manifest>,
    code: Code,
    limits: Limits,
    config_json: String,
}

/// What runs a plugin's calls.
enum Code {
    /// A component, instantiated per session, with the deployment's grants.
    Wasm {
        /// The linked component in the bindings of its contract line.
        pre: Pre,
        engine: Engine,
        grant: Arc<http::HttpGrant>,
    },
    /// A connector compiled into the host ([`NativeConnector`]).
    Native(Arc<dyn NativeConnector>),
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish()
    }
}

impl Plugin {
    pub(super) fn new(
        name: String,
        digest: String,
        contract: super::engine::Version,
        pre: Pre,
        engine: Engine,
        grant: Arc<http::HttpGrant>,
        limits: Limits,
        config_json: String,
    ) -> Plugin {
        Plugin {
            name,
            digest,
            contract: Some(contract),
            manifest: None,
            code: Code::Wasm { pre, engine, grant },
            limits,
            config_json,
        }
    }

    /// A plugin whose calls run a connector compiled into the host, opened with `config` (JSON
    /// text) for each run; `limits` applies only its record and cursor sizes (a native
    /// connector runs without a sandbox). Its digest is `native`.
    pub fn native(
        name: &str,
        connector: Arc<dyn NativeConnector>,
        config: &serde_json::Value,
        limits: Limits,
    ) -> Plugin {
        Plugin {
            name: name.to_string(),
            digest: "native".into(),
            contract: None,
            manifest: Some(connector.manifest()),
            code: Code::Native(connector),
            limits,
            config_json: config.to_string(),
        }
    }

    pub(super) fn set_manifest(&mut self, m: Manifest) {
        self.manifest = Some(m);
    }

    /// What the plugin says of itself.
    pub fn manifest(&self) -> &Manifest {
        self.manifest.as_ref().expect("set by Runtime::load")
    }

    /// The request budget of its system (`rate_limit`), shared by every session of it; `None`
    /// without a limit or for a native connector.
    pub fn rate_budget(&self) -> Option<&Arc<crate::runtime::rate::RateBudget>> {
        match &self.code {
            Code::Wasm { grant, .. } => grant.budget.as_ref(),
            Code::Native(_) => None,
        }
    }

    /// The stream of this name, if the plugin offers it.
    pub fn stream(&self, name: &str) -> Option<&StreamInfo> {
        self.manifest().streams.iter().find(|s| s.name == name)
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(super) fn check_grants(
        &self,
        m: &Manifest,
        config: &toml::Table,
    ) -> Result<(), PluginError> {
        let Code::Wasm { grant, .. } = &self.code else {
            return Ok(());
        };
        let not_granted = |message: String| PluginError::NotGranted {
            plugin: self.name.clone(),
            message,
        };
        for s in &m.secrets {
            if !grant.secrets.contains_key(s) {
                return Err(not_granted(format!(
                    "asks for secret {s:?}, which the deployment does not grant (add it under [plugins.{}.secrets])",
                    self.name
                )));
            }
        }
        for h in &m.hosts {
            let origin = match h.strip_prefix("${").and_then(|k| k.strip_suffix('}')) {
                Some(key) => {
                    let url = config.get(key).and_then(toml::Value::as_str).ok_or_else(|| {
                        not_granted(format!("needs the origin of config field {key:?}, which is not set (a URL string)"))
                    })?;
                    let url = url::Url::parse(url)
                        .map_err(|e| not_granted(format!("config field {key}: {e}")))?;
                    http::Origin::of(&url).ok_or_else(|| {
                        not_granted(format!("config field {key} is not an http(s) URL"))
                    })?
                }
                None => http::Origin::parse(h).map_err(&not_granted)?,
            };
            if !grant.origins.contains(&origin) {
                return Err(not_granted(format!(
                    "needs origin {origin}, which the deployment does not grant (add it to [plugins.{}].allow_hosts)",
                    self.name
                )));
            }
        }
        Ok(())
    }

    /// Keeps in the plugin's grant only the secrets its manifest declares: a secret the
    /// deployment grants under a name the manifest does not list is never placed in a request
    /// (`{{secret:NAME}}` naming it is refused as not granted). Warns, naming the secrets (not
    /// their values), when the deployment grants more than the manifest declares.
    pub(super) fn keep_declared_secrets(&mut self, m: &Manifest) {
        let Code::Wasm { grant, .. } = &mut self.code else {
            return;
        };
        let undeclared: Vec<&String> = grant
            .secrets
            .keys()
            .filter(|k| !m.secrets.contains(k))
            .collect();
        if undeclared.is_empty() {
            return;
        }
        tracing::warn!(plugin = %self.name, secrets = ?undeclared, "the deployment grants secrets the plugin's manifest does not declare: they are not placed in its requests");
        let mut narrowed = (**grant).clone();
        narrowed.secrets.retain(|k, _| m.secrets.contains(k));
        *grant = Arc::new(narrowed);
    }

    /// A fresh instance, not yet opened (for benchmarks and inspection; runs use
    /// [`Plugin::session`]).
    ///
    /// # Errors
    /// A trap or timeout while instantiating, or [`PluginError::Load`] for a native plugin (it
    /// has no component: use [`Plugin::connect`]).
    pub async fn instantiate(&self) -> Result<Session, PluginError> {
        let (pre, engine, grant) = match &self.code {
            Code::Wasm { pre, engine, grant } => (pre, engine, grant),
            Code::Native(_) => {
                return Err(PluginError::Load {
                    plugin: self.name.clone(),
                    path: "(native)".into(),
                    message: "a native connector has no component to instantiate".into(),
                });
            }
        };
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = HostState {
            wasi,
            insecure_random: wasmtime_wasi::random::WasiRandomCtx::default(),
            table: ResourceTable::new(),
            limiter: Limiter::new(&self.limits),
            cpu: CallClock::new(Duration::from_millis(self.limits.cpu_ms_per_call)),
            plugin: self.name.as_str().into(),
            http: grant.clone(),
            retries: crate::runtime::http::RetryBudget::new(self.limits.retries_per_run),
            guard: None,
            open_bodies: 0,
            max_open_bodies: self.limits.max_open_bodies,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        // At each check the call's guest time is compared with the limit; between checks the
        // guest yields to the executor, so a spinning plugin never holds a worker thread.
        store.epoch_deadline_callback(|mut ctx| {
            ctx.data_mut().cpu.check()?;
            Ok(UpdateDeadline::Yield(CPU_CHECK_TICKS))
        });
        store.data_mut().cpu.start();
        store.set_epoch_deadline(CPU_CHECK_TICKS);
        let mut session = Session {
            store,
            exports: None,
            plugin: self.name.clone(),
            stderr,
            limits: self.limits,
            poisoned: false,
            call_started: Instant::now(),
        };
        let pre = pre.clone();
        let instance = {
            let store = &mut session.store;
            session_timeout(
                self.limits.call_timeout_secs,
                pre.instance_pre().instantiate_async(store),
            )
            .await
        };
        let instance = session.finish("instantiate", instance)?;
        let exports = match pre {
            Pre::V0_1 { normal_form, .. } => {
                let plugin = v0_1::Plugin::new(&mut session.store, &instance);
                let plugin = session.finish("instantiate", Some(plugin))?;
                // A component whose `normal-form` has another type is used as if it had none.
                let normal_form = normal_form.and_then(|index| {
                    instance
                        .get_typed_func::<(String, Vec<String>), (Result<Vec<String>, String>,)>(
                            &mut session.store,
                            index,
                        )
                        .ok()
                });
                Exports::V0_1 {
                    plugin,
                    normal_form,
                }
            }
            Pre::V0_2(_) => {
                let plugin = super::contract::v0_2::Plugin::new(&mut session.store, &instance);
                Exports::V0_2(session.finish("instantiate", Some(plugin))?)
            }
        };
        session.exports = Some(exports);
        Ok(session)
    }

    /// A fresh instance, opened with the plugin's config: one per sync run.
    pub async fn session(&self) -> Result<Session, PluginError> {
        let mut s = self.instantiate().await?;
        s.open(&self.config_json).await?;
        Ok(s)
    }

    /// A fresh connection for one sync run: a component's [`Plugin::session`], or a native
    /// connector's session opened with the plugin's config.
    ///
    /// # Errors
    /// As [`Plugin::session`]; a native connector's refusal to open.
    pub async fn connect(&self) -> Result<Connection, PluginError> {
        match &self.code {
            Code::Wasm { .. } => self.session().await.map(Connection::Wasm),
            Code::Native(c) => {
                let s = c
                    .open(&self.config_json)
                    .map_err(|e| connector_error(&self.name, "open", e))?;
                Ok(Connection::Native(NativeConnection::new(
                    self.name.clone(),
                    self.limits,
                    s,
                )))
            }
        }
    }
}

/// A call's outcome with the wall-clock limit applied: `None` if it ran out of time.
async fn session_timeout<T>(
    secs: u64,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Option<wasmtime::Result<T>> {
    tokio::time::timeout(Duration::from_secs(secs), call)
        .await
        .ok()
}

/// A record a `read` returned, checked and parsed.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// The record (a JSON object).
    pub data: Value,
    /// The system's id for it.
    pub remote_id: String,
    /// The system's version token.
    pub version: Option<String>,
    /// When the system last changed it (RFC 3339).
    pub updated_at: Option<String>,
    /// Soft-deleted in the system.
    pub deleted: bool,
}

/// A batch a `read` returned, checked against the contract and the plugin's limits.
#[derive(Debug, Clone)]
pub struct ReadBatch {
    /// Its records.
    pub records: Vec<ReadRecord>,
    /// Where to resume.
    pub cursor: Option<String>,
    /// More records are waiting.
    pub more: bool,
    /// How many records wait after this batch, if the connector said (contract 0.2).
    pub remaining: Option<super::Remaining>,
}

/// Most bytes of a remote id or a version token (read or written), or of a rejection's
/// JSON pointer.
pub const MAX_TOKEN: usize = 1024;

/// One instance of a plugin, for one sync run.
pub struct Session {
    store: Store<HostState>,
    /// Set at instantiation.
    exports: Option<Exports>,
    plugin: String,
    stderr: MemoryOutputPipe,
    limits: Limits,
    poisoned: bool,
    /// When the guest call in progress started.
    call_started: Instant,
}

impl Session {
    /// Sets the guard asked before every HTTP request of this session's plugin.
    pub fn guard_sends(&mut self, guard: crate::runtime::SendGuard) {
        self.store.data_mut().guard = Some(guard);
    }

    /// Prepares a guest call: its CPU budget, its clock, and the span it runs in.
    fn begin(&mut self, call: &'static str) -> Result<tracing::Span, PluginError> {
        if self.poisoned {
            return Err(PluginError::Trap {
                plugin: self.plugin.clone(),
                call,
                message: "the instance failed earlier in this run and cannot be entered again"
                    .into(),
            });
        }
        self.store.data_mut().cpu.start();
        self.store.set_epoch_deadline(CPU_CHECK_TICKS);
        self.call_started = Instant::now();
        Ok(tracing::debug_span!("plugin_call", plugin = %self.plugin, call))
    }

    /// Turns a call's outcome into a result, with the limit that ended it named.
    fn finish<T>(
        &mut self,
        call: &'static str,
        outcome: Option<wasmtime::Result<T>>,
    ) -> Result<T, PluginError> {
        let trapped = !matches!(outcome, Some(Ok(_)));
        crate::metrics::plugin_call(
            &self.plugin,
            call,
            self.call_started.elapsed().as_secs_f64(),
            trapped,
        );
        let e = match outcome {
            Some(Ok(v)) => return Ok(v),
            Some(Err(e)) => e,
            None => {
                self.poisoned = true;
                return Err(PluginError::Trap {
                    plugin: self.plugin.clone(),
                    call,
                    message: format!(
                        "wall-clock limit of {} s per call exceeded (limits.call_timeout_secs)",
                        self.limits.call_timeout_secs
                    ),
                });
            }
        };
        self.poisoned = true;
        let state = self.store.data();
        let mut message = if let Some(refused) = &state.limiter.refused {
            refused.clone()
        } else if state.cpu.exceeded {
            format!(
                "CPU time limit of {} ms per call exceeded (limits.cpu_ms_per_call)",
                state.cpu.limit().as_millis()
            )
        } else {
            match e.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::StackOverflow) => {
                    "stack overflow (unbounded recursion?)".to_string()
                }
                Some(wasmtime::Trap::UnreachableCodeReached) => {
                    "the guest aborted (a panic?)".to_string()
                }
                Some(t) => format!("{t}"),
                None => format!("{e:#}"),
            }
        };
        let stderr = String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string();
        if !stderr.is_empty() {
            message.push_str("; guest stderr: ");
            message.push_str(&stderr);
        }
        Err(PluginError::Trap {
            plugin: self.plugin.clone(),
            call,
            message,
        })
    }

    /// Calls `manifest` (a 0.1 component's manifest as 0.2 says it, see [`v0_1::manifest`]).
    pub async fn manifest(&mut self) -> Result<Manifest, PluginError> {
        let span = self.begin("manifest")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(t, p.hub_connector_connector().call_manifest(store))
                    .instrument(span)
                    .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let m = plugin
                        .hub_connector_connector()
                        .call_manifest(store)
                        .await?;
                    Ok(v0_1::manifest(m))
                })
                .instrument(span)
                .await
            }
        };
        self.finish("manifest", r)
    }

    async fn open(&mut self, config: &str) -> Result<(), PluginError> {
        let span = self.begin("open")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(t, p.hub_connector_connector().call_open(store, config))
                    .instrument(span)
                    .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let r = plugin
                        .hub_connector_connector()
                        .call_open(store, config)
                        .await?;
                    Ok(r.map_err(v0_1::error))
                })
                .instrument(span)
                .await
            }
        };
        self.finish("open", r)?
            .map_err(|e| connector_error(&self.plugin, "open", e))
    }

    /// Calls `check`.
    pub async fn check(&mut self) -> Result<(), PluginError> {
        let span = self.begin("check")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(t, p.hub_connector_connector().call_check(store))
                    .instrument(span)
                    .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let r = plugin.hub_connector_connector().call_check(store).await?;
                    Ok(r.map_err(v0_1::error))
                })
                .instrument(span)
                .await
            }
        };
        self.finish("check", r)?
            .map_err(|e| connector_error(&self.plugin, "check", e))
    }

    /// Calls `read`, and checks the batch: every record a JSON object no larger than
    /// `limits.max_record_kib`, a cursor no larger than `limits.max_cursor_kib`. A batch that
    /// breaks the contract is refused whole (nothing of it is used, the cursor does not move).
    pub async fn read(
        &mut self,
        stream: &str,
        cursor: Option<&str>,
        max: u32,
    ) -> Result<ReadBatch, PluginError> {
        let span = self.begin("read")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(
                    t,
                    p.hub_connector_connector()
                        .call_read(store, stream, cursor, max),
                )
                .instrument(span)
                .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let r = plugin
                        .hub_connector_connector()
                        .call_read(store, stream, cursor, max)
                        .await?;
                    Ok(r.map(v0_1::batch).map_err(v0_1::error))
                })
                .instrument(span)
                .await
            }
        };
        let batch: Batch = self
            .finish("read", r)?
            .map_err(|e| connector_error(&self.plugin, "read", e))?;
        check_batch(&self.plugin, &self.limits, batch, max)
    }

    /// Calls `write`; checks that one result comes back per record. A 0.1 component is sent
    /// only the upserts: a delete is answered `rejected` by the host (a 0.1 stream has no
    /// `can-delete`, so the sync engine never asks one).
    pub async fn write(
        &mut self,
        stream: &str,
        records: &[TargetRecord],
    ) -> Result<Vec<WriteResult>, PluginError> {
        let span = self.begin("write")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(
                    t,
                    p.hub_connector_connector()
                        .call_write(store, stream, records),
                )
                .instrument(span)
                .await
            }
            Exports::V0_1 { plugin, .. } => {
                let upserts: Vec<_> = records.iter().filter_map(v0_1::target).collect();
                session_timeout(t, async {
                    let r = if upserts.is_empty() {
                        Ok(Vec::new())
                    } else {
                        plugin
                            .hub_connector_connector()
                            .call_write(store, stream, &upserts)
                            .await?
                    };
                    Ok(r.map_err(v0_1::error).map(|results| {
                        with_deletes_refused(records, results.into_iter().map(v0_1::write_result))
                    }))
                })
                .instrument(span)
                .await
            }
        };
        let results = self
            .finish("write", r)?
            .map_err(|e| connector_error(&self.plugin, "write", e))?;
        check_write(&self.plugin, &self.limits, results, records.len())
    }
}

/// The results of a write to a 0.1 component, one per record of `records`: the component's
/// `results` for the upserts in order, and `rejected` for each delete. A component that
/// answered too few or too many results keeps its count wrong, for [`check_write`] to refuse.
fn with_deletes_refused(
    records: &[TargetRecord],
    results: impl Iterator<Item = WriteResult>,
) -> Vec<WriteResult> {
    let mut results = results.peekable();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if r.op == WriteOp::Delete {
            out.push(WriteResult::Rejected(Rejection {
                reason: "the connector is built against contract 0.1, which cannot delete a record natively".into(),
                pointer: None,
            }));
        } else if let Some(result) = results.next() {
            out.push(result);
        }
    }
    out.extend(results);
    out
}

impl Session {
    /// True if the component states its system's normal form: every 0.2 component, and a 0.1.2
    /// component that exports the optional `normal-form`.
    pub fn has_normal_form(&self) -> bool {
        match self.exports.as_ref() {
            Some(Exports::V0_2(_)) => true,
            Some(Exports::V0_1 { normal_form, .. }) => normal_form.is_some(),
            None => false,
        }
    }

    /// Calls `normal-form`: how the system would store each of `records` (JSON text).
    /// `Ok(None)` if the component has none (0.1.0, 0.1.1, a 0.1.2 component without the
    /// optional export), or if it answered `err` (taken as "stores what was sent"). Sends are
    /// refused during the call: a normal form must not reach the system.
    ///
    /// # Errors
    /// A trap; an answer that is not one JSON object per record, each within
    /// `limits.max_record_kib` ([`PluginError::Connector`] of kind `contract`).
    pub async fn normal_form(
        &mut self,
        stream: &str,
        records: &[String],
    ) -> Result<Option<Vec<String>>, PluginError> {
        if !self.has_normal_form() {
            return Ok(None);
        }
        let span = self.begin("normal-form")?;
        let guard =
            self.store.data_mut().guard.replace(Arc::new(|| {
                Err("a normal form is computed without calling the system; the request was not sent"
                .to_string())
            }));
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(
                    t,
                    p.hub_connector_connector()
                        .call_normal_form(store, stream, records),
                )
                .instrument(span)
                .await
            }
            Exports::V0_1 { normal_form, .. } => {
                let f = normal_form.expect("has_normal_form");
                session_timeout(t, async {
                    let (r,) = f
                        .call_async(store, (stream.to_string(), records.to_vec()))
                        .await?;
                    Ok(r)
                })
                .instrument(span)
                .await
            }
        };
        self.store.data_mut().guard = guard;
        let out = match self.finish("normal-form", r)? {
            Ok(out) => out,
            Err(message) => {
                tracing::warn!(plugin = %self.plugin, "normal-form answered an error; taken as storing what was sent: {}", crate::logging::mask_personal(&crate::control_chars::escape(&cut(message))));
                return Ok(None);
            }
        };
        check_normal_form(&self.plugin, &self.limits, out, records.len()).map(Some)
    }
}

/// Checks a `normal-form` answer: one JSON object per record, each within the record size limit.
pub(super) fn check_normal_form(
    plugin: &str,
    limits: &Limits,
    out: Vec<String>,
    expected: usize,
) -> Result<Vec<String>, PluginError> {
    if out.len() != expected {
        return Err(contract(
            plugin,
            "normal-form",
            format!("returned {} records for {expected}", out.len()),
        ));
    }
    let max = limits.max_record_kib as usize * 1024;
    for (i, r) in out.iter().enumerate() {
        if r.len() > max {
            return Err(contract(
                plugin,
                "normal-form",
                format!(
                    "record {i} is larger than {} KiB (limits.max_record_kib)",
                    limits.max_record_kib
                ),
            ));
        }
        if !matches!(serde_json::from_str::<Value>(r), Ok(Value::Object(_))) {
            return Err(contract(
                plugin,
                "normal-form",
                format!("record {i} is not a JSON object"),
            ));
        }
    }
    Ok(out)
}

fn contract(plugin: &str, call: &'static str, message: String) -> PluginError {
    PluginError::Connector {
        plugin: plugin.to_string(),
        call,
        kind: "contract",
        message,
    }
}

/// Checks a write's results: one per record sent (`sent` records), or the whole call breaks
/// the contract. Each result is then held to the bounds a `read` is held to: a written
/// record's remote id and version at most [`MAX_TOKEN`] bytes, its `stored` record a JSON
/// object within `limits.max_record_kib`; a result that breaks them becomes `rejected`, with
/// the plugin and the bound named (the record goes to dead letters and nothing of the result
/// reaches the links or the audit log). Messages (of `conflict`, `retry`, `rejected`) longer
/// than [`MAX_MESSAGE`] bytes are cut.
pub(super) fn check_write(
    plugin: &str,
    limits: &Limits,
    results: Vec<WriteResult>,
    sent: usize,
) -> Result<Vec<WriteResult>, PluginError> {
    if results.len() != sent {
        return Err(contract(
            plugin,
            "write",
            format!("returned {} results for {sent} records", results.len()),
        ));
    }
    let max_record = usize::try_from(limits.max_record_kib << 10).unwrap_or(usize::MAX);
    let refused = |why: String| {
        WriteResult::Rejected(Rejection {
            reason: format!(
                "plugin {plugin} broke the contract in the write's result: {why}; the result is refused"
            ),
            pointer: None,
        })
    };
    let checked = |w: &Written| -> Result<(), String> {
        if w.remote_id.len() > MAX_TOKEN {
            return Err(format!(
                "a remote id of {} bytes, over the limit of {MAX_TOKEN}",
                w.remote_id.len()
            ));
        }
        if let Some(v) = w.version.as_ref().filter(|v| v.len() > MAX_TOKEN) {
            return Err(format!(
                "a version of {} bytes, over the limit of {MAX_TOKEN}",
                v.len()
            ));
        }
        if let Some(stored) = &w.stored {
            if stored.len() > max_record {
                return Err(format!(
                    "a stored record of {} bytes, over the limit of {max_record} (limits.max_record_kib)",
                    stored.len()
                ));
            }
            if !matches!(serde_json::from_str::<Value>(stored), Ok(Value::Object(_))) {
                return Err("a stored record that is not a JSON object".into());
            }
        }
        Ok(())
    };
    Ok(results
        .into_iter()
        .map(|r| match r {
            WriteResult::Created(ref w)
            | WriteResult::Updated(ref w)
            | WriteResult::Unchanged(ref w)
            | WriteResult::Deleted(ref w) => match checked(w) {
                Ok(()) => r,
                Err(why) => refused(why),
            },
            WriteResult::Duplicate(ref e) => {
                let as_written = Written {
                    remote_id: e.remote_id.clone(),
                    version: e.version.clone(),
                    stored: e.data.clone(),
                };
                match checked(&as_written) {
                    Ok(()) => r,
                    Err(why) => refused(why),
                }
            }
            WriteResult::Conflict(m) => WriteResult::Conflict(cut(m)),
            WriteResult::Retry(m) => WriteResult::Retry(cut(m)),
            WriteResult::Rejected(r) => WriteResult::Rejected(Rejection {
                reason: cut(r.reason),
                pointer: r.pointer.filter(|p| p.len() <= MAX_TOKEN),
            }),
        })
        .collect())
}

/// Most bytes of a message a plugin returns (an error, a rejection's reason); longer ones are
/// cut at a character boundary, saying how much was cut.
pub const MAX_MESSAGE: usize = 4096;

/// `m` cut to [`MAX_MESSAGE`] bytes (see there).
pub(super) fn cut(m: String) -> String {
    if m.len() <= MAX_MESSAGE {
        return m;
    }
    let end = (0..=MAX_MESSAGE)
        .rev()
        .find(|i| m.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} bytes cut)", &m[..end], m.len() - end)
}

/// Most bytes of a record's `updated-at`: an RFC 3339 date-time with an offset and a
/// fraction of nanoseconds takes 35; the rest is room for a longer fraction.
const MAX_UPDATED_AT: usize = 64;

/// Checks a batch a `read` asked for at most `max` records returned, and parses its records:
/// every record a JSON object no larger than `limits.max_record_kib`, a cursor no larger than
/// `limits.max_cursor_kib`, remote ids and versions no larger than [`MAX_TOKEN`], an
/// `updated-at` an RFC 3339 date-time with offset (as the contract says) of at most 64 bytes.
/// A batch that breaks the contract is refused whole.
pub(super) fn check_batch(
    plugin: &str,
    limits: &Limits,
    batch: Batch,
    max: u32,
) -> Result<ReadBatch, PluginError> {
    let contract = |message: String| contract(plugin, "read", message);
    let max_record = usize::try_from(limits.max_record_kib << 10).unwrap_or(usize::MAX);
    let max_cursor = usize::try_from(limits.max_cursor_kib << 10).unwrap_or(usize::MAX);
    if let Some(c) = &batch.cursor
        && c.len() > max_cursor
    {
        return Err(contract(format!(
            "returned a cursor of {} bytes, over the limit of {max_cursor} (limits.max_cursor_kib)",
            c.len()
        )));
    }
    if batch.records.len() > max as usize {
        return Err(contract(format!(
            "returned {} records when asked for at most {max}",
            batch.records.len()
        )));
    }
    let mut records = Vec::with_capacity(batch.records.len());
    for (i, r) in batch.records.into_iter().enumerate() {
        if r.data.len() > max_record {
            return Err(contract(format!(
                "record {i} of the batch is {} bytes, over the limit of {max_record} (limits.max_record_kib)",
                r.data.len()
            )));
        }
        if r.remote_id.len() > MAX_TOKEN || r.version.as_ref().is_some_and(|v| v.len() > MAX_TOKEN)
        {
            return Err(contract(format!(
                "record {i} of the batch has a remote id or version over {MAX_TOKEN} bytes"
            )));
        }
        if let Some(at) = &r.updated_at
            && (at.len() > MAX_UPDATED_AT || chrono::DateTime::parse_from_rfc3339(at).is_err())
        {
            return Err(contract(format!(
                "record {i} of the batch has an updated-at that is not an RFC 3339 date-time with offset ({} bytes: {:?})",
                at.len(),
                crate::control_chars::escape(&at.chars().take(40).collect::<String>())
            )));
        }
        let data = match serde_json::from_str::<Value>(&r.data) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Err(contract(format!(
                    "record {i} of the batch is JSON but not an object"
                )));
            }
            Err(e) => {
                return Err(contract(format!(
                    "record {i} of the batch is not JSON: {e}"
                )));
            }
        };
        records.push(ReadRecord {
            data,
            remote_id: r.remote_id,
            version: r.version,
            updated_at: r.updated_at,
            deleted: r.deleted,
        });
    }
    Ok(ReadBatch {
        records,
        cursor: batch.cursor,
        more: batch.more,
        remaining: batch.remaining,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(id: &str) -> Written {
        Written {
            remote_id: id.to_string(),
            version: None,
            stored: None,
        }
    }

    fn target(op: WriteOp, name: &str) -> TargetRecord {
        TargetRecord {
            op,
            data: format!(r#"{{"name":"{name}"}}"#),
            remote_id: Some(name.into()),
            version: None,
            current: None,
        }
    }

    #[test]
    fn a_0_1_component_gets_the_upserts_and_each_delete_is_refused_in_its_place() {
        let records = [
            target(WriteOp::Upsert, "a"),
            target(WriteOp::Delete, "b"),
            target(WriteOp::Upsert, "c"),
            target(WriteOp::Delete, "d"),
        ];
        let sent: Vec<_> = records.iter().filter_map(v0_1::target).collect();
        assert_eq!(
            sent.iter().map(|r| r.data.as_str()).collect::<Vec<_>>(),
            [r#"{"name":"a"}"#, r#"{"name":"c"}"#]
        );
        let answered = [
            WriteResult::Updated(written("a")),
            WriteResult::Created(written("c")),
        ];
        let results = with_deletes_refused(&records, answered.into_iter());
        let kinds: Vec<&str> = results
            .iter()
            .map(|r| match r {
                WriteResult::Updated(w) if w.remote_id == "a" => "updated a",
                WriteResult::Created(w) if w.remote_id == "c" => "created c",
                WriteResult::Rejected(r) if r.reason.contains("contract 0.1") => "refused",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["updated a", "refused", "created c", "refused"]);
        // A component that answers one result too many keeps the count wrong for check_write.
        let answered = (0..3).map(|_| WriteResult::Retry("x".into()));
        assert_eq!(with_deletes_refused(&records, answered).len(), 5);
    }

    #[test]
    fn a_normal_form_answer_must_be_one_json_object_per_record_within_the_size_limit() {
        let limits = Limits {
            max_record_kib: 1,
            ..Limits::default()
        };
        let ok = vec![r#"{"status":"left"}"#.to_string()];
        assert_eq!(check_normal_form("hy", &limits, ok.clone(), 1).unwrap(), ok);
        let e = check_normal_form("hy", &limits, ok, 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "plugin hy: normal-form failed (contract): returned 1 records for 2"
        );
        let e = check_normal_form("hy", &limits, vec!["[1]".into()], 1)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("record 0 is not a JSON object"), "{e}");
        // 1 KiB is 1,024 bytes: a record of 1,025 is refused.
        let big = format!(r#"{{"remark":"{}"}}"#, "x".repeat(1025 - 13));
        assert_eq!(big.len(), 1025);
        let e = check_normal_form("hy", &limits, vec![big], 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("record 0 is larger than 1 KiB (limits.max_record_kib)"),
            "{e}"
        );
    }
}
