//! A [`Session`]: one instance of a component for one sync run, and how each guest call
//! begins (its CPU budget, clock and span) and ends (its outcome, with the limit that trapped
//! it named; an instance that trapped is never entered again).

use crate::config::Limits;
use crate::runtime::contract::Exports;
use crate::runtime::{CPU_CHECK_TICKS, HostState, PluginError};
use std::future::Future;
use std::time::{Duration, Instant};
use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// A call's outcome with the wall-clock limit applied: `None` if it ran out of time.
pub(super) async fn session_timeout<T>(
    secs: u64,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Option<wasmtime::Result<T>> {
    tokio::time::timeout(Duration::from_secs(secs), call)
        .await
        .ok()
}

/// One instance of a plugin, for one sync run.
pub struct Session {
    pub(super) store: Store<HostState>,
    /// Set at instantiation.
    pub(super) exports: Option<Exports>,
    pub(super) plugin: String,
    pub(super) stderr: MemoryOutputPipe,
    pub(super) limits: Limits,
    pub(super) poisoned: bool,
    /// When the guest call in progress started.
    pub(super) call_started: Instant,
}

impl Session {
    /// Sets the guard asked before every HTTP request of this session's plugin.
    pub fn guard_sends(&mut self, guard: crate::runtime::SendGuard) {
        self.store.data_mut().guard = Some(guard);
    }

    /// Prepares a guest call: its CPU budget, its clock, and the span it runs in.
    pub(super) fn begin(&mut self, call: &'static str) -> Result<tracing::Span, PluginError> {
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
        Ok(
            tracing::debug_span!(target: "hub::runtime::plugin", "plugin_call", plugin = %self.plugin, call),
        )
    }

    /// Turns a call's outcome into a result, with the limit that ended it named.
    pub(super) fn finish<T>(
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
        Err(PluginError::Trap {
            plugin: self.plugin.clone(),
            call,
            message: self.trap_message(&e),
        })
    }

    /// What ended a trapped call: the limit it exhausted (memory, tables, CPU time) or the
    /// trap itself, with the guest's stderr appended when it wrote any.
    fn trap_message(&self, e: &wasmtime::Error) -> String {
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
        message
    }
}
