//! Connectors compiled into the host: the contract's calls as Rust traits, for measuring what
//! the sandbox costs (`hub-bench` runs the same connector natively and as a component) and for
//! tests that need no component.
//!
//! A native connector speaks the same contract types as a component ([`Batch`], [`TargetRecord`],
//! [`WriteResult`]: records as JSON text), and the host checks what it returns exactly as it
//! checks a component's answers (record and cursor sizes, one JSON object per record, one write
//! result per record). It runs with no sandbox: no CPU, wall-clock or memory limit, no HTTP
//! grant. A deployment's configuration cannot name one; only code that builds a
//! [`Plugin`](super::Plugin) with [`Plugin::native`](super::Plugin::native) can.

use super::plugin::{ReadBatch, check_batch, check_normal_form, check_write};
use super::{Batch, ConnectorError, Manifest, PluginError, Session, TargetRecord, WriteResult};
use crate::config::Limits;

/// A connector compiled into the host.
pub trait NativeConnector: Send + Sync {
    /// What the connector says of itself (as the contract's `manifest`).
    fn manifest(&self) -> Manifest;

    /// A session opened with `config` (the plugin's config as JSON text), as the contract's
    /// `open` on a fresh instance: one per sync run.
    ///
    /// # Errors
    /// The connector's refusal (e.g. [`ConnectorError::Config`]).
    fn open(&self, config: &str) -> Result<Box<dyn NativeSession>, ConnectorError>;
}

/// One opened session of a [`NativeConnector`].
pub trait NativeSession: Send {
    /// The contract's `read`: up to `max` records of `stream` after `cursor`.
    ///
    /// # Errors
    /// The connector's failure, as a component would return it.
    fn read(
        &mut self,
        stream: &str,
        cursor: Option<&str>,
        max: u32,
    ) -> Result<Batch, ConnectorError>;

    /// The contract's `write`: one result per record, in order.
    ///
    /// # Errors
    /// The connector's failure of the whole call, as a component would return it.
    fn write(
        &mut self,
        stream: &str,
        records: &[TargetRecord],
    ) -> Result<Vec<WriteResult>, ConnectorError>;

    /// The contract's `normal-form` (0.2; optional in 0.1.2): how the system would store each record
    /// (JSON text), or `None` if the connector does not say (it stores what was sent).
    fn normal_form(&mut self, _stream: &str, _records: &[String]) -> Option<Vec<String>> {
        None
    }
}

/// A session of a native connector, with its answers checked as a component's are.
pub struct NativeConnection {
    plugin: String,
    limits: Limits,
    session: Box<dyn NativeSession>,
}

impl NativeConnection {
    pub(super) fn new(
        plugin: String,
        limits: Limits,
        session: Box<dyn NativeSession>,
    ) -> NativeConnection {
        NativeConnection {
            plugin,
            limits,
            session,
        }
    }
}

/// One sync run's connection to an endpoint's connector: a component's [`Session`] or a
/// native connector's session. The sync engine reads and writes through it.
pub enum Connection {
    /// A component instance.
    Wasm(Session),
    /// A connector compiled into the host.
    Native(NativeConnection),
}

impl Connection {
    /// Sets the guard asked before every HTTP request (see [`Session::guard_sends`]); a
    /// connector compiled into the host sends through no capability of the hub's, so it has
    /// none to guard.
    pub fn guard_sends(&mut self, guard: crate::runtime::SendGuard) {
        match self {
            Connection::Wasm(s) => s.guard_sends(guard),
            Connection::Native(_) => {}
        }
    }

    /// Calls `read` (see [`Session::read`]); the batch is checked the same way either way.
    ///
    /// # Errors
    /// The connector's failure, a trap (components only), or a batch that breaks the contract
    /// ([`PluginError::Connector`] of kind `contract`).
    pub async fn read(
        &mut self,
        stream: &str,
        cursor: Option<&str>,
        max: u32,
    ) -> Result<ReadBatch, PluginError> {
        match self {
            Connection::Wasm(s) => s.read(stream, cursor, max).await,
            Connection::Native(n) => {
                let batch = n
                    .session
                    .read(stream, cursor, max)
                    .map_err(|e| super::connector_error(&n.plugin, "read", e))?;
                check_batch(&n.plugin, &n.limits, batch, max)
            }
        }
    }

    /// Calls `write` (see [`Session::write`]); one result per record is checked either way.
    ///
    /// # Errors
    /// The connector's failure of the whole call, a trap (components only), or a wrong number
    /// of results.
    pub async fn write(
        &mut self,
        stream: &str,
        records: &[TargetRecord],
    ) -> Result<Vec<WriteResult>, PluginError> {
        match self {
            Connection::Wasm(s) => s.write(stream, records).await,
            Connection::Native(n) => {
                let results = n
                    .session
                    .write(stream, records)
                    .map_err(|e| super::connector_error(&n.plugin, "write", e))?;
                check_write(&n.plugin, &n.limits, results, records.len())
            }
        }
    }

    /// False when the connector surely gives no normal form (a component that does not export
    /// `normal-form`), so the host need not prepare a call; a native connector may give one.
    pub fn may_give_normal_form(&self) -> bool {
        match self {
            Connection::Wasm(s) => s.has_normal_form(),
            Connection::Native(_) => true,
        }
    }

    /// Calls the optional `normal-form` (see [`Session::normal_form`]): how the system would
    /// store each of `records`; `Ok(None)` if the connector does not say.
    ///
    /// # Errors
    /// A trap (components only), or an answer that breaks the contract.
    pub async fn normal_form(
        &mut self,
        stream: &str,
        records: &[String],
    ) -> Result<Option<Vec<String>>, PluginError> {
        match self {
            Connection::Wasm(s) => s.normal_form(stream, records).await,
            Connection::Native(n) => n
                .session
                .normal_form(stream, records)
                .map(|out| check_normal_form(&n.plugin, &n.limits, out, records.len()))
                .transpose(),
        }
    }
}
