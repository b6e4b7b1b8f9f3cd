//! The plugin runtime: connector components on wasmtime (component model, async), each call
//! under limits, with only the capabilities the deployment grants.
//!
//! - One [`Runtime`] ([`engine`]) holds the only `Engine` and `Linker` and a compiled-component
//!   cache on disk; a [`Plugin`] ([`plugin`]) is a compiled component behind an `InstancePre`,
//!   checked at load against its contract version, its sha256 pin and its grants; a [`Session`]
//!   is a fresh `Store` and instance for one sync run (an instance that trapped is never
//!   entered again).
//! - A [`Plugin`] can also be a connector compiled into the host ([`native`], for benchmarks
//!   and tests; a deployment cannot name one). The sync engine drives either through a
//!   [`Connection`], which checks a native connector's answers as it checks a component's.
//! - Imports: the `hub:connector/host` interface (log into `tracing`, HTTP through
//!   [`http::HttpGrant`]) and, from WASI 0.2, clocks, random, the standard streams (stderr is
//!   captured for error reports) and an empty environment. No files, no sockets: a component
//!   that imports them does not load.
//! - Limits per call ([`limits`]): guest CPU time (epoch interruption; a ticker thread advances
//!   the epoch every [`TICK`]), wall-clock time, linear memory, tables and instances per store,
//!   and the size of records and cursors a `read` returns.

pub mod engine;
pub mod http;
pub mod limits;
pub mod native;
pub mod plugin;
pub mod rate;
pub mod tape;

pub use engine::{CONTRACT_VERSION, Runtime};
pub use native::{Connection, NativeConnector, NativeSession};
pub use plugin::{Plugin, ReadBatch, ReadRecord, Session};

use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bindings generated from `wit/connector/v0.1.2`'s world `plugin` (components built against
/// 0.1.0 and 0.1.1 load too: wasmtime matches semver-compatible interface versions). The
/// optional `normal-form` export is looked up by name ([`engine::NORMAL_FORM_INTERFACE`]).
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/connector/v0.1.2",
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
    Batch, ConnectorError, ConnectorManifest as Manifest, Rejection, SourceRecord, StreamInfo,
    TargetRecord, WriteResult, Written,
};

/// How often the epoch advances; deadlines are whole ticks.
pub const TICK: Duration = Duration::from_millis(10);

/// Most bytes of a guest's stderr kept for an error report.
const STDERR_CAPTURE: usize = 16 * 1024;

/// Epoch ticks between two looks at a call's CPU time (100 ms).
const CPU_CHECK_TICKS: u64 = 10;

/// A plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The component could not be read, compiled or linked.
    #[error("plugin {plugin}: cannot load {path}: {message}")]
    Load {
        plugin: String,
        path: String,
        message: String,
    },
    /// The plugin asks for a capability the deployment did not grant.
    #[error("plugin {plugin}: {message}")]
    NotGranted { plugin: String, message: String },
    /// The call trapped (panic, exhausted limit, deadline); the instance is discarded.
    #[error("plugin {plugin}: {call} trapped: {message}")]
    Trap {
        plugin: String,
        call: &'static str,
        message: String,
    },
    /// The connector returned an error.
    #[error("plugin {plugin}: {call} failed ({kind}): {message}")]
    Connector {
        plugin: String,
        call: &'static str,
        kind: &'static str,
        message: String,
    },
}

impl PluginError {
    /// True if the failure may pass by itself (a transient connector error).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PluginError::Connector {
                kind: "transient",
                ..
            }
        )
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
    PluginError::Connector {
        plugin: plugin.to_string(),
        call,
        kind,
        message: plugin::cut(message),
    }
}

/// The state of one store: WASI (empty), limits and the plugin's grants.
pub struct HostState {
    wasi: WasiCtx,
    /// For `wasi:random/insecure` and `insecure-seed` (hash-map seeds in std guests); the
    /// secure source is the WASI context's own.
    insecure_random: wasmtime_wasi::random::WasiRandomCtx,
    table: ResourceTable,
    limiter: limits::Limiter,
    cpu: limits::CallClock,
    plugin: Arc<str>,
    http: Arc<http::HttpGrant>,
    retries: http::RetryBudget,
    /// Asked before every request the plugin sends (see [`SendGuard`]).
    guard: Option<SendGuard>,
    /// Streaming response bodies the guest holds (not yet dropped).
    open_bodies: u32,
    /// The most it may hold (`limits.max_open_bodies`).
    max_open_bodies: u32,
}

/// Asked before every HTTP request a session's plugin sends: `Err(reason)` refuses the request
/// (the plugin gets `denied` with the reason). The sync engine sets one per run that answers
/// whether the run still holds its lease, so a daemon paused past its lease sends nothing more
/// once it resumes.
pub type SendGuard = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::hub::connector::types::Host for HostState {}

impl bindings::hub::connector::host::Host for HostState {
    fn log(&mut self, level: bindings::hub::connector::types::Level, message: String) {
        use bindings::hub::connector::types::Level;
        const MAX: usize = 4096;
        let message = if message.len() > MAX {
            let cut = (0..=MAX)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}… ({} bytes cut)", &message[..cut], message.len() - cut)
        } else {
            message
        };
        // A line break or terminal escape in the message must not start a line of the
        // plugin's making in the log.
        let message = crate::control_chars::escape(&message);
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
    ) -> Result<bindings::hub::connector::host::Response, bindings::hub::connector::host::HttpError>
    {
        if let Some(refused) = self.guard.as_ref().and_then(|g| g().err()) {
            return Err(self.http_error(http::HttpError::Denied(refused)));
        }
        let grant = self.http.clone();
        let t = Instant::now();
        let r = grant
            .send_guarded(
                http::Request {
                    method: req.method,
                    url: req.url,
                    headers: req.headers,
                    body: req.body,
                },
                &self.retries,
                self.guard.as_ref(),
            )
            .await;
        self.cpu.in_host(t.elapsed());
        match r {
            Ok(r) => Ok(bindings::hub::connector::host::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(self.http_error(e)),
        }
    }

    async fn send_streaming(
        &mut self,
        req: bindings::hub::connector::host::Request,
    ) -> Result<
        bindings::hub::connector::host::StreamingResponse,
        bindings::hub::connector::host::HttpError,
    > {
        if let Some(refused) = self.guard.as_ref().and_then(|g| g().err()) {
            return Err(self.http_error(http::HttpError::Denied(refused)));
        }
        // Each body held open keeps a connection, hence a file descriptor of the daemon.
        if self.open_bodies >= self.max_open_bodies {
            let why = format!(
                "{} response bodies are open, the most one instance may hold (limits.max_open_bodies): drop one before sending another",
                self.open_bodies
            );
            tracing::warn!(plugin = %self.plugin, "request refused: {why}");
            return Err(bindings::hub::connector::host::HttpError::Invalid(why));
        }
        let grant = self.http.clone();
        let req = http::Request {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let t = Instant::now();
        let r = grant
            .send_streaming_guarded(req, &self.retries, self.guard.as_ref())
            .await;
        self.cpu.in_host(t.elapsed());
        let (head, body) = r.map_err(|e| self.http_error(e))?;
        let body = self.table.push(body).map_err(|e| {
            bindings::hub::connector::host::HttpError::Invalid(format!("too many open bodies: {e}"))
        })?;
        self.open_bodies += 1;
        Ok(bindings::hub::connector::host::StreamingResponse {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

impl bindings::hub::connector::host::HostBody for HostState {
    async fn read(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
        max: u32,
    ) -> Result<Vec<u8>, bindings::hub::connector::host::HttpError> {
        let stream = self.table.get_mut(&body).map_err(|e| {
            bindings::hub::connector::host::HttpError::Invalid(format!("body: {e}"))
        })?;
        let t = Instant::now();
        let r = stream.read(max as usize).await;
        self.cpu.in_host(t.elapsed());
        r.map_err(|e| self.http_error(e))
    }

    fn drop(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
    ) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        self.open_bodies = self.open_bodies.saturating_sub(1);
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
