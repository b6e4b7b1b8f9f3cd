//! The plugin runtime: connector components on wasmtime (component model, async), each call
//! under limits, with only the capabilities the deployment grants.
//!
//! - One [`Runtime`] holds the only `Engine` and `Linker`; a [`Plugin`] is a compiled component
//!   behind an `InstancePre`, checked against its grants at load; a [`Session`] is a fresh
//!   `Store` and instance for one sync run (an instance that trapped is never entered again).
//! - Imports: the `hub:connector/host` interface (log into `tracing`, HTTP through
//!   [`http::HttpGrant`]) and, from WASI 0.2, clocks, random, the standard streams (stderr is
//!   captured for error reports) and an empty environment. No files, no sockets: a component
//!   that imports them does not load.
//! - Limits per call: a wall-clock deadline by epoch interruption (a ticker thread advances the
//!   epoch every [`TICK`]), and linear memory, tables and instances per store.

pub mod http;

use crate::config::{Limits, PluginConfig};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bindings generated from `wit/connector/v0.1.1` (components built against 0.1.0 load too:
/// wasmtime matches semver-compatible interface versions).
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/connector/v0.1.1",
        imports: {
            "hub:connector/host.send": async,
            "hub:connector/host.send-streaming": async,
            "hub:connector/host.[method]body.read": async,
        },
        exports: { default: async },
        with: { "hub:connector/host.body": super::http::BodyStream },
    });
}

pub use bindings::hub::connector::types::{
    Batch, ConnectorError, ConnectorManifest as Manifest, Rejection, SourceRecord, StreamInfo, TargetRecord,
    WriteResult, Written,
};

/// How often the epoch advances; deadlines are whole ticks.
pub const TICK: Duration = Duration::from_millis(10);

/// Most bytes of a guest's stderr kept for an error report.
const STDERR_CAPTURE: usize = 16 * 1024;

/// A plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The component could not be read, compiled or linked.
    #[error("plugin {plugin}: cannot load {path}: {message}")]
    Load { plugin: String, path: String, message: String },
    /// The plugin asks for a capability the deployment did not grant.
    #[error("plugin {plugin}: {message}")]
    NotGranted { plugin: String, message: String },
    /// The call trapped (panic, exhausted limit, deadline); the instance is discarded.
    #[error("plugin {plugin}: {call} trapped: {message}")]
    Trap { plugin: String, call: &'static str, message: String },
    /// The connector returned an error.
    #[error("plugin {plugin}: {call} failed ({kind}): {message}")]
    Connector { plugin: String, call: &'static str, kind: &'static str, message: String },
}

impl PluginError {
    /// True if the failure may pass by itself (a transient connector error).
    pub fn is_transient(&self) -> bool {
        matches!(self, PluginError::Connector { kind: "transient", .. })
    }
}

fn connector_error(plugin: &str, call: &'static str, e: ConnectorError) -> PluginError {
    let (kind, message) = match e {
        ConnectorError::Config(m) => ("config", m),
        ConnectorError::Auth(m) => ("auth", m),
        ConnectorError::Transient(m) => ("transient", m),
        ConnectorError::Permanent(m) => ("permanent", m),
        ConnectorError::Unsupported(m) => ("unsupported", m),
    };
    PluginError::Connector { plugin: plugin.to_string(), call, kind, message }
}

/// The state of one store: WASI (empty), limits and the plugin's grants.
pub struct HostState {
    wasi: WasiCtx,
    /// For `wasi:random/insecure` and `insecure-seed` (hash-map seeds in std guests); the
    /// secure source is the WASI context's own.
    insecure_random: wasmtime_wasi::random::WasiRandomCtx,
    table: ResourceTable,
    limits: StoreLimits,
    plugin: Arc<str>,
    http: Arc<http::HttpGrant>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl bindings::hub::connector::types::Host for HostState {}

impl bindings::hub::connector::host::Host for HostState {
    fn log(&mut self, level: bindings::hub::connector::types::Level, message: String) {
        use bindings::hub::connector::types::Level;
        const MAX: usize = 4096;
        let message = if message.len() > MAX {
            let cut = (0..=MAX).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
            format!("{}… ({} bytes cut)", &message[..cut], message.len() - cut)
        } else {
            message
        };
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    async fn send(
        &mut self,
        req: bindings::hub::connector::host::Request,
    ) -> Result<bindings::hub::connector::host::Response, bindings::hub::connector::host::HttpError> {
        let grant = self.http.clone();
        match grant.send(http::Request { method: req.method, url: req.url, headers: req.headers, body: req.body }).await {
            Ok(r) => Ok(bindings::hub::connector::host::Response { status: r.status, headers: r.headers, body: r.body }),
            Err(e) => Err(self.http_error(e)),
        }
    }

    async fn send_streaming(
        &mut self,
        req: bindings::hub::connector::host::Request,
    ) -> Result<bindings::hub::connector::host::StreamingResponse, bindings::hub::connector::host::HttpError> {
        let grant = self.http.clone();
        let req = http::Request { method: req.method, url: req.url, headers: req.headers, body: req.body };
        let (head, body) = grant.send_streaming(req).await.map_err(|e| self.http_error(e))?;
        let body = self
            .table
            .push(body)
            .map_err(|e| bindings::hub::connector::host::HttpError::Invalid(format!("too many open bodies: {e}")))?;
        Ok(bindings::hub::connector::host::StreamingResponse { status: head.status, headers: head.headers, body })
    }
}

impl bindings::hub::connector::host::HostBody for HostState {
    async fn read(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
        max: u32,
    ) -> Result<Vec<u8>, bindings::hub::connector::host::HttpError> {
        let stream = self
            .table
            .get_mut(&body)
            .map_err(|e| bindings::hub::connector::host::HttpError::Invalid(format!("body: {e}")))?;
        let r = stream.read(max as usize).await;
        r.map_err(|e| self.http_error(e))
    }

    fn drop(&mut self, body: wasmtime::component::Resource<http::BodyStream>) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        Ok(())
    }
}

impl HostState {
    /// The guest-visible form of an HTTP failure; refusals are logged (an attempt to reach what
    /// was not granted is worth an operator's attention).
    fn http_error(&self, e: http::HttpError) -> bindings::hub::connector::host::HttpError {
        use bindings::hub::connector::host::HttpError as E;
        match e {
            http::HttpError::Denied(m) => {
                tracing::warn!(plugin = %self.plugin, "request refused: {m}");
                E::Denied(m)
            }
            http::HttpError::Timeout(m) => E::Timeout(m),
            http::HttpError::Connection(m) => E::Connection(m),
            http::HttpError::TooLarge(m) => E::TooLarge(m),
            http::HttpError::Invalid(m) => E::Invalid(m),
        }
    }
}

/// The engine, the linker and the epoch ticker, shared by every plugin.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    client: reqwest::Client,
}

impl Runtime {
    /// Builds the engine (component model, epoch interruption, optimised Cranelift code) and a
    /// linker with the host interface and the WASI subset, and starts the epoch ticker thread.
    pub fn new() -> anyhow::Result<Runtime> {
        let mut config = wasmtime::Config::new();
        // Connectors are components (WIT contract), not core modules.
        config.wasm_component_model(true);
        // Deadlines by epoch: cheaper than fuel (+18 % against +36 % on a JSON-heavy call here).
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        config.parallel_compilation(true);
        let engine = Engine::new(&config)?;
        let weak = engine.weak();
        // The ticker is an OS thread, not a tokio task: a spinning guest must not starve it.
        std::thread::Builder::new().name("hub-epoch".into()).spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })?;
        let mut linker = Linker::<HostState>::new(&engine);
        bindings::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        // WASI 0.2: clocks, random, stdio and the streams they need (the `wasi:http/proxy`
        // subset), plus what Rust's std imports besides: an empty environment, exit, the
        // terminal queries (which answer "not a terminal") and insecure random (hash seeds).
        wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(&mut linker)?;
        {
            use wasmtime_wasi::cli::{WasiCli, WasiCliView};
            use wasmtime_wasi::p2::bindings::cli;
            cli::environment::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::exit::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_input::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_output::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            use wasmtime_wasi::p2::bindings::random;
            use wasmtime_wasi::random::WasiRandom;
            random::insecure::add_to_linker::<HostState, WasiRandom>(&mut linker, |s| &mut s.insecure_random)?;
            random::insecure_seed::add_to_linker::<HostState, WasiRandom>(&mut linker, |s| &mut s.insecure_random)?;
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("hub/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Runtime { engine, linker: Arc::new(linker), client })
    }

    /// Loads a plugin: reads and compiles the component, links it, reads its manifest, and
    /// checks that every host and secret it asks for is granted by `cfg`.
    pub async fn load(&self, name: &str, cfg: &PluginConfig, config_dir: &Path) -> Result<Plugin, PluginError> {
        let path = config_dir.join(cfg.path.get_ref());
        let load_err = |message: String| PluginError::Load { plugin: name.into(), path: path.display().to_string(), message };
        let bytes = std::fs::read(&path).map_err(|e| load_err(e.to_string()))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let component = Component::from_binary(&self.engine, &bytes).map_err(|e| load_err(format!("{e:#}")))?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| load_err(format!("{e:#}")))?;
        let pre = bindings::PluginPre::new(pre).map_err(|e| load_err(format!("{e:#}")))?;

        let not_granted = |message: String| PluginError::NotGranted { plugin: name.into(), message };
        let mut secrets = BTreeMap::new();
        for (k, src) in &cfg.secrets {
            let v = src.resolve(config_dir).map_err(|e| not_granted(format!("secret {k}: {e}")))?;
            secrets.insert(k.clone(), v);
        }
        let mut origins = Vec::new();
        for h in &cfg.allow_hosts {
            origins.push(http::Origin::parse(h.get_ref()).map_err(&not_granted)?);
        }
        let grant = Arc::new(http::HttpGrant {
            plugin: name.into(),
            origins,
            secrets,
            client: self.client.clone(),
            timeout: Duration::from_secs(cfg.limits.http_timeout_secs),
            max_response: usize::try_from(cfg.limits.max_response_mib << 20).unwrap_or(usize::MAX),
        });
        let config_json = serde_json::to_string(&cfg.config).map_err(|e| load_err(format!("config: {e}")))?;
        let mut plugin = Plugin {
            name: name.into(),
            digest,
            manifest: None,
            pre,
            engine: self.engine.clone(),
            grant,
            limits: cfg.limits,
            config_json,
        };
        let mut session = plugin.instantiate().await?;
        let manifest = session.manifest().await?;
        plugin.check_grants(&manifest, &cfg.config)?;
        plugin.manifest = Some(manifest);
        Ok(plugin)
    }
}

/// A loaded plugin.
pub struct Plugin {
    /// The name the deployment gives it.
    pub name: String,
    /// SHA-256 of the component file, 64 hex digits.
    pub digest: String,
    manifest: Option<Manifest>,
    pre: bindings::PluginPre<HostState>,
    engine: Engine,
    grant: Arc<http::HttpGrant>,
    limits: Limits,
    config_json: String,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("name", &self.name).field("digest", &self.digest).finish()
    }
}

impl Plugin {
    /// What the plugin says of itself.
    pub fn manifest(&self) -> &Manifest {
        self.manifest.as_ref().expect("set by Runtime::load")
    }

    /// The stream of this name, if the plugin offers it.
    pub fn stream(&self, name: &str) -> Option<&StreamInfo> {
        self.manifest().streams.iter().find(|s| s.name == name)
    }

    fn check_grants(&self, m: &Manifest, config: &toml::Table) -> Result<(), PluginError> {
        let not_granted = |message: String| PluginError::NotGranted { plugin: self.name.clone(), message };
        for s in &m.secrets {
            if !self.grant.secrets.contains_key(s) {
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
                    let url = url::Url::parse(url).map_err(|e| not_granted(format!("config field {key}: {e}")))?;
                    http::Origin::of(&url).ok_or_else(|| not_granted(format!("config field {key} is not an http(s) URL")))?
                }
                None => http::Origin::parse(h).map_err(&not_granted)?,
            };
            if !self.grant.origins.contains(&origin) {
                return Err(not_granted(format!(
                    "needs origin {origin}, which the deployment does not grant (add it to [plugins.{}].allow_hosts)",
                    self.name
                )));
            }
        }
        Ok(())
    }

    async fn instantiate(&self) -> Result<Session, PluginError> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.limits.memory_mib << 20).unwrap_or(usize::MAX))
            .instances(32)
            .tables(32)
            .table_elements(1 << 20)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            wasi,
            insecure_random: wasmtime_wasi::random::WasiRandomCtx::default(),
            table: ResourceTable::new(),
            limits,
            plugin: self.name.as_str().into(),
            http: self.grant.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        let deadline = (self.limits.call_timeout_secs * 1000).div_ceil(TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(deadline);
        let bindings = self.pre.instantiate_async(&mut store).await.map_err(|e| PluginError::Trap {
            plugin: self.name.clone(),
            call: "instantiate",
            message: format!("{e:#}"),
        })?;
        Ok(Session { store, bindings, plugin: self.name.clone(), stderr, deadline, poisoned: false })
    }

    /// A fresh instance, opened with the plugin's config: one per sync run.
    pub async fn session(&self) -> Result<Session, PluginError> {
        let mut s = self.instantiate().await?;
        s.open(&self.config_json).await?;
        Ok(s)
    }
}

/// One instance of a plugin, for one sync run.
pub struct Session {
    store: Store<HostState>,
    bindings: bindings::Plugin,
    plugin: String,
    stderr: MemoryOutputPipe,
    deadline: u64,
    poisoned: bool,
}

impl Session {
    fn begin(&mut self, call: &'static str) -> Result<(), PluginError> {
        if self.poisoned {
            return Err(PluginError::Trap {
                plugin: self.plugin.clone(),
                call,
                message: "the instance trapped earlier in this run and cannot be entered again".into(),
            });
        }
        self.store.set_epoch_deadline(self.deadline);
        Ok(())
    }

    fn trap(&mut self, call: &'static str, e: wasmtime::Error) -> PluginError {
        self.poisoned = true;
        let mut message = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => "deadline exceeded (limits.call_timeout_secs)".to_string(),
            Some(wasmtime::Trap::AllocationTooLarge) => "memory limit exceeded (limits.memory_mib)".to_string(),
            _ => format!("{e:#}"),
        };
        let stderr = String::from_utf8_lossy(&self.stderr.contents()).trim().to_string();
        if !stderr.is_empty() {
            message.push_str("; guest stderr: ");
            message.push_str(&stderr);
        }
        PluginError::Trap { plugin: self.plugin.clone(), call, message }
    }

    async fn manifest(&mut self) -> Result<Manifest, PluginError> {
        self.begin("manifest")?;
        let r = self.bindings.hub_connector_connector().call_manifest(&mut self.store).await;
        r.map_err(|e| self.trap("manifest", e))
    }

    async fn open(&mut self, config: &str) -> Result<(), PluginError> {
        self.begin("open")?;
        let r = self.bindings.hub_connector_connector().call_open(&mut self.store, config).await;
        r.map_err(|e| self.trap("open", e))?.map_err(|e| connector_error(&self.plugin, "open", e))
    }

    /// Calls `check`.
    pub async fn check(&mut self) -> Result<(), PluginError> {
        self.begin("check")?;
        let r = self.bindings.hub_connector_connector().call_check(&mut self.store).await;
        r.map_err(|e| self.trap("check", e))?.map_err(|e| connector_error(&self.plugin, "check", e))
    }

    /// Calls `read`.
    pub async fn read(&mut self, stream: &str, cursor: Option<&str>, max: u32) -> Result<Batch, PluginError> {
        self.begin("read")?;
        let cursor = cursor.map(str::to_string);
        let r = self.bindings.hub_connector_connector().call_read(&mut self.store, stream, cursor.as_deref(), max).await;
        r.map_err(|e| self.trap("read", e))?.map_err(|e| connector_error(&self.plugin, "read", e))
    }

    /// Calls `write`; checks that one result comes back per record.
    pub async fn write(&mut self, stream: &str, records: &[TargetRecord]) -> Result<Vec<WriteResult>, PluginError> {
        self.begin("write")?;
        let r = self.bindings.hub_connector_connector().call_write(&mut self.store, stream, records).await;
        let results = r.map_err(|e| self.trap("write", e))?.map_err(|e| connector_error(&self.plugin, "write", e))?;
        if results.len() != records.len() {
            return Err(PluginError::Connector {
                plugin: self.plugin.clone(),
                call: "write",
                kind: "contract",
                message: format!("returned {} results for {} records", results.len(), records.len()),
            });
        }
        Ok(results)
    }
}
