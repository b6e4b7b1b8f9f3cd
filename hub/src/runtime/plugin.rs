//! A loaded plugin, and a session: one instance for one sync run.

use super::limits::{CallClock, Limiter};
use super::{
    Batch, CPU_CHECK_TICKS, HostState, Manifest, PluginError, STDERR_CAPTURE, StreamInfo,
    TargetRecord, WriteResult, bindings, connector_error, http,
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
    manifest: Option<Manifest>,
    pre: bindings::PluginPre<HostState>,
    engine: Engine,
    grant: Arc<http::HttpGrant>,
    limits: Limits,
    config_json: String,
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
        pre: bindings::PluginPre<HostState>,
        engine: Engine,
        grant: Arc<http::HttpGrant>,
        limits: Limits,
        config_json: String,
    ) -> Plugin {
        Plugin {
            name,
            digest,
            manifest: None,
            pre,
            engine,
            grant,
            limits,
            config_json,
        }
    }

    pub(super) fn set_manifest(&mut self, m: Manifest) {
        self.manifest = Some(m);
    }

    /// What the plugin says of itself.
    pub fn manifest(&self) -> &Manifest {
        self.manifest.as_ref().expect("set by Runtime::load")
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
        let not_granted = |message: String| PluginError::NotGranted {
            plugin: self.name.clone(),
            message,
        };
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
                    let url = url::Url::parse(url)
                        .map_err(|e| not_granted(format!("config field {key}: {e}")))?;
                    http::Origin::of(&url).ok_or_else(|| {
                        not_granted(format!("config field {key} is not an http(s) URL"))
                    })?
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

    /// A fresh instance, not yet opened (for benchmarks and inspection; runs use
    /// [`Plugin::session`]).
    pub async fn instantiate(&self) -> Result<Session, PluginError> {
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
            http: self.grant.clone(),
            retries: crate::runtime::http::RetryBudget::new(self.limits.retries_per_run),
            guard: None,
        };
        let mut store = Store::new(&self.engine, state);
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
            bindings: None,
            plugin: self.name.clone(),
            stderr,
            limits: self.limits,
            poisoned: false,
            call_started: Instant::now(),
        };
        let pre = self.pre.clone();
        let instance = {
            let store = &mut session.store;
            session_timeout(self.limits.call_timeout_secs, pre.instantiate_async(store)).await
        };
        session.bindings = Some(session.finish("instantiate", instance)?);
        Ok(session)
    }

    /// A fresh instance, opened with the plugin's config: one per sync run.
    pub async fn session(&self) -> Result<Session, PluginError> {
        let mut s = self.instantiate().await?;
        s.open(&self.config_json).await?;
        Ok(s)
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
}

/// Most bytes of a remote id or a version token.
const MAX_TOKEN: usize = 1024;

/// One instance of a plugin, for one sync run.
pub struct Session {
    store: Store<HostState>,
    bindings: Option<bindings::Plugin>,
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

    fn contract(&self, call: &'static str, message: String) -> PluginError {
        PluginError::Connector {
            plugin: self.plugin.clone(),
            call,
            kind: "contract",
            message,
        }
    }

    /// Calls `manifest`.
    pub async fn manifest(&mut self) -> Result<Manifest, PluginError> {
        let span = self.begin("manifest")?;
        let g = self
            .bindings
            .as_ref()
            .expect("set at instantiation")
            .hub_connector_connector();
        let r = session_timeout(
            self.limits.call_timeout_secs,
            g.call_manifest(&mut self.store),
        )
        .instrument(span)
        .await;
        self.finish("manifest", r)
    }

    async fn open(&mut self, config: &str) -> Result<(), PluginError> {
        let span = self.begin("open")?;
        let g = self
            .bindings
            .as_ref()
            .expect("set at instantiation")
            .hub_connector_connector();
        let r = session_timeout(
            self.limits.call_timeout_secs,
            g.call_open(&mut self.store, config),
        )
        .instrument(span)
        .await;
        self.finish("open", r)?
            .map_err(|e| connector_error(&self.plugin, "open", e))
    }

    /// Calls `check`.
    pub async fn check(&mut self) -> Result<(), PluginError> {
        let span = self.begin("check")?;
        let g = self
            .bindings
            .as_ref()
            .expect("set at instantiation")
            .hub_connector_connector();
        let r = session_timeout(self.limits.call_timeout_secs, g.call_check(&mut self.store))
            .instrument(span)
            .await;
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
        let g = self
            .bindings
            .as_ref()
            .expect("set at instantiation")
            .hub_connector_connector();
        let r = session_timeout(
            self.limits.call_timeout_secs,
            g.call_read(&mut self.store, stream, cursor, max),
        )
        .instrument(span)
        .await;
        let batch: Batch = self
            .finish("read", r)?
            .map_err(|e| connector_error(&self.plugin, "read", e))?;
        let max_record = usize::try_from(self.limits.max_record_kib << 10).unwrap_or(usize::MAX);
        let max_cursor = usize::try_from(self.limits.max_cursor_kib << 10).unwrap_or(usize::MAX);
        if let Some(c) = &batch.cursor
            && c.len() > max_cursor
        {
            return Err(self.contract("read", format!("returned a cursor of {} bytes, over the limit of {max_cursor} (limits.max_cursor_kib)", c.len())));
        }
        if batch.records.len() > max as usize {
            return Err(self.contract(
                "read",
                format!(
                    "returned {} records when asked for at most {max}",
                    batch.records.len()
                ),
            ));
        }
        let mut records = Vec::with_capacity(batch.records.len());
        for (i, r) in batch.records.into_iter().enumerate() {
            if r.data.len() > max_record {
                return Err(self.contract("read", format!("record {i} of the batch is {} bytes, over the limit of {max_record} (limits.max_record_kib)", r.data.len())));
            }
            if r.remote_id.len() > MAX_TOKEN
                || r.version.as_ref().is_some_and(|v| v.len() > MAX_TOKEN)
            {
                return Err(self.contract(
                    "read",
                    format!(
                        "record {i} of the batch has a remote id or version over {MAX_TOKEN} bytes"
                    ),
                ));
            }
            let data = match serde_json::from_str::<Value>(&r.data) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => {
                    return Err(self.contract(
                        "read",
                        format!("record {i} of the batch is JSON but not an object"),
                    ));
                }
                Err(e) => {
                    return Err(
                        self.contract("read", format!("record {i} of the batch is not JSON: {e}"))
                    );
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
        })
    }

    /// Calls `write`; checks that one result comes back per record.
    pub async fn write(
        &mut self,
        stream: &str,
        records: &[TargetRecord],
    ) -> Result<Vec<WriteResult>, PluginError> {
        let span = self.begin("write")?;
        let g = self
            .bindings
            .as_ref()
            .expect("set at instantiation")
            .hub_connector_connector();
        let r = session_timeout(
            self.limits.call_timeout_secs,
            g.call_write(&mut self.store, stream, records),
        )
        .instrument(span)
        .await;
        let results = self
            .finish("write", r)?
            .map_err(|e| connector_error(&self.plugin, "write", e))?;
        if results.len() != records.len() {
            return Err(self.contract(
                "write",
                format!(
                    "returned {} results for {} records",
                    results.len(),
                    records.len()
                ),
            ));
        }
        Ok(results)
    }
}
