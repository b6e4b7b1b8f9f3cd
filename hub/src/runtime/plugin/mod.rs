//! A loaded plugin, and a session: one instance for one sync run.
//!
//! - [`Plugin`] (here): what the runtime loaded, a component or a connector compiled into the
//!   host, with its manifest, limits and config; it opens a [`Session`] or a
//!   [`Connection`] per sync run.
//! - `grants`: the plugin's manifest held against what the deployment grants it (secrets,
//!   origins).
//! - `instantiate`: a fresh store and instance of a component, under its limits.
//! - `session`: the [`Session`] and how a guest call begins and ends (the limit that
//!   trapped it named, the instance poisoned).
//! - `calls`: the calls into a component (`manifest`, `open`, `check`, `read`, `write`,
//!   `normal-form`), for either contract line.
//! - `answers`: what a connector answers (batches, write results, normal forms) checked
//!   against the contract and the plugin's limits; shared with native connectors.

mod answers;
mod calls;
mod grants;
mod instantiate;
mod session;

pub use answers::{MAX_MESSAGE, MAX_TOKEN, ReadBatch, ReadRecord};
pub(super) use answers::{check_batch, check_normal_form, check_write, cut};
pub use session::Session;

use super::contract::Pre;
use super::native::{Connection, NativeConnection, NativeConnector};
use super::{Manifest, PluginError, StreamInfo, connector_error, http};
use crate::config::Limits;
use std::sync::Arc;
use wasmtime::Engine;

/// A loaded plugin.
pub struct Plugin {
    /// The name the deployment gives it.
    pub name: String,
    /// SHA-256 of the component file, 64 hex digits.
    pub digest: String,
    /// The `hub:connector` version the component was built against (`None` for a connector
    /// compiled into the host).
    pub contract: Option<super::host::Version>,
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
    // One argument per part of a loaded component; only the loader (`Runtime::load`) calls it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        name: String,
        digest: String,
        contract: super::host::Version,
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
