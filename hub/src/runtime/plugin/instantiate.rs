//! A fresh instance of a component: its store (WASI without files or sockets, stderr
//! captured, the limiter and the CPU clock), the instance under the wall-clock limit, and
//! its exports bound in the bindings of its contract line.

use super::session::{Session, session_timeout};
use super::{Code, Plugin};
use crate::runtime::contract::{Exports, Pre, v0_1};
use crate::runtime::limits::{CallClock, Limiter};
use crate::runtime::{CPU_CHECK_TICKS, HostState, PluginError, STDERR_CAPTURE, http};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

impl Plugin {
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
        let store = self.store(engine, grant, stderr.clone());
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
        let exports = session.bind_exports(pre, &instance)?;
        session.exports = Some(exports);
        Ok(session)
    }

    /// A store for one instance: WASI with no sockets and `stderr` captured, the plugin's
    /// grant, limiter and CPU clock, and the epoch callback that checks the clock.
    fn store(
        &self,
        engine: &Engine,
        grant: &Arc<http::HttpGrant>,
        stderr: MemoryOutputPipe,
    ) -> Store<HostState> {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stderr(stderr)
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
        store
    }
}

impl Session {
    /// The instance's exports in the bindings of its contract line.
    fn bind_exports(
        &mut self,
        pre: Pre,
        instance: &wasmtime::component::Instance,
    ) -> Result<Exports, PluginError> {
        Ok(match pre {
            Pre::V0_1 { normal_form, .. } => {
                let plugin = v0_1::Plugin::new(&mut self.store, instance);
                let plugin = self.finish("instantiate", Some(plugin))?;
                // A component whose `normal-form` has another type is used as if it had none.
                let normal_form = normal_form.and_then(|index| {
                    instance
                        .get_typed_func::<(String, Vec<String>), (Result<Vec<String>, String>,)>(
                            &mut self.store,
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
                let plugin = crate::runtime::contract::v0_2::Plugin::new(&mut self.store, instance);
                Exports::V0_2(self.finish("instantiate", Some(plugin))?)
            }
        })
    }
}
