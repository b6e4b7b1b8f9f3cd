//! The plugin runtime: connector components on wasmtime (component model, async), each call
//! under limits, with only the capabilities the deployment grants.
//!
//! - One [`Runtime`] ([`host`]: the wasmtime host) holds the only `Engine` and `Linker` and a
//!   compiled-component cache on disk; a [`Plugin`] ([`plugin`]) is a compiled component behind
//!   an `InstancePre`, checked at load against its contract version, its sha256 pin and its
//!   grants; a [`Session`] is a fresh `Store` and instance for one sync run (an instance that
//!   trapped is never entered again).
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
//!
//! **Owns** wasmtime (the one `Engine`, the `Linker`, compiled components), a connector's
//! calls and their limits, and its capabilities (HTTP egress, secrets, rate budgets).
//! **May not touch** the state store, links, cursors or sync specs: it runs a component and
//! checks its answers, and knows nothing of what a run does with them.

pub mod contract;
pub mod host;
pub mod http;
pub mod limits;
pub mod native;
pub mod plugin;
pub mod rate;
pub mod tape;

pub use host::{CONTRACT_VERSION, Runtime};
pub use native::{Connection, NativeConnector, NativeSession};
pub use plugin::{Plugin, ReadBatch, ReadRecord, Session};

use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use contract::v0_2 as bindings;

pub use bindings::hub::connector::types::{
    Batch, ConnectorError, ConnectorManifest as Manifest, Existing, Rejection, Remaining,
    SourceRecord, StreamInfo, TargetRecord, WriteOp, WriteResult, Written,
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
        /// The plugin's name in the configuration (`[plugins.NAME]`).
        plugin: String,
        /// The component's file.
        path: String,
        /// Why, as wasmtime or the file system said it.
        message: String,
    },
    /// The plugin asks for a capability the deployment did not grant.
    #[error("plugin {plugin}: {message}")]
    NotGranted {
        /// The plugin's name in the configuration.
        plugin: String,
        /// Which capability, and what the deployment grants instead.
        message: String,
    },
    /// The call trapped (panic, exhausted limit, deadline); the instance is discarded.
    #[error("plugin {plugin}: {call} trapped: {message}")]
    Trap {
        /// The plugin's name in the configuration.
        plugin: String,
        /// The export called (`open`, `read`, `write`, ...).
        call: &'static str,
        /// The trap: wasmtime's message, or the limit the call ran past.
        message: String,
    },
    /// The connector returned an error.
    #[error("plugin {plugin}: {call} failed ({kind}): {message}")]
    Connector {
        /// The plugin's name in the configuration.
        plugin: String,
        /// The export called (`open`, `read`, `write`, ...).
        call: &'static str,
        /// The case of the contract's `connector-error` (`config`, `auth`, `transient`,
        /// `permanent`, `unsupported`), or `contract` when the answer broke the contract.
        kind: &'static str,
        /// The connector's own message.
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
