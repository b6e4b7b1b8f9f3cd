//! Per-call and per-store limits of a plugin.
//!
//! - [`Limiter`]: linear memory, tables and instances per store; a refused growth traps the call
//!   with a message naming the limit (wasmtime's `ResourceLimiter`).
//! - [`CallClock`]: CPU time per call. The epoch ticker interrupts the guest every
//!   [`super::CPU_CHECK_TICKS`] ticks; the time since the call began, less the time spent in the
//!   host (waiting for HTTP), is the guest's time, compared with the limit.

use std::time::{Duration, Instant};
use wasmtime::ResourceLimiter;

/// What a store may grow to.
#[derive(Debug, Clone)]
pub struct Limiter {
    memory_bytes: usize,
    table_elements: usize,
    tables: usize,
    instances: usize,
    /// The first refusal, for the error report.
    pub refused: Option<String>,
}

impl Limiter {
    /// Limits from the plugin's config.
    pub fn new(l: &crate::config::Limits) -> Limiter {
        Limiter {
            memory_bytes: usize::try_from(l.memory_mib << 20).unwrap_or(usize::MAX),
            table_elements: l.table_elements as usize,
            tables: l.tables as usize,
            instances: l.instances as usize,
            refused: None,
        }
    }

    fn refuse(&mut self, what: String) -> wasmtime::Error {
        self.refused.get_or_insert_with(|| what.clone());
        wasmtime::format_err!("{what}")
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(self.refuse(format!(
                "memory limit of {} MiB exceeded (limits.memory_mib): the guest asked for {} MiB",
                self.memory_bytes >> 20,
                desired.div_ceil(1 << 20)
            )));
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(self.refuse(format!(
                "table limit of {} elements exceeded (limits.table_elements): the guest asked for {desired}",
                self.table_elements
            )));
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.instances
    }
}

/// The guest CPU time of the call in progress.
#[derive(Debug, Clone)]
pub struct CallClock {
    started: Instant,
    host: Duration,
    limit: Duration,
    /// Set when the limit ended a call.
    pub exceeded: bool,
}

impl CallClock {
    /// A clock for calls limited to `limit` of guest time.
    pub fn new(limit: Duration) -> CallClock {
        CallClock {
            started: Instant::now(),
            host: Duration::ZERO,
            limit,
            exceeded: false,
        }
    }

    /// Starts timing a new call.
    pub fn start(&mut self) {
        self.started = Instant::now();
        self.host = Duration::ZERO;
        self.exceeded = false;
    }

    /// Adds time spent in a host function (not counted as the guest's).
    pub fn in_host(&mut self, d: Duration) {
        self.host += d;
    }

    /// Guest time used by the call so far.
    pub fn used(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host)
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Called at each epoch check: `Err` ends the call when the limit is reached.
    pub fn check(&mut self) -> wasmtime::Result<()> {
        if self.used() >= self.limit {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "CPU time limit of {} ms per call exceeded (limits.cpu_ms_per_call)",
                self.limit.as_millis()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_tables_are_refused_past_their_limits_with_the_limit_named() {
        let mut l = Limiter::new(&crate::config::Limits {
            memory_mib: 64,
            table_elements: 1000,
            ..crate::config::Limits::default()
        });
        assert!(l.memory_growing(0, 64 << 20, None).unwrap());
        let e = l
            .memory_growing(64 << 20, (64 << 20) + 1, None)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "memory limit of 64 MiB exceeded (limits.memory_mib): the guest asked for 65 MiB"
        );
        assert!(
            !l.memory_growing(0, 32 << 20, Some(16 << 20)).unwrap(),
            "a module's own maximum still applies"
        );
        assert!(l.table_growing(0, 1000, None).unwrap());
        assert!(l.table_growing(0, 1001, None).is_err());
        assert_eq!(
            l.refused.as_deref(),
            Some("memory limit of 64 MiB exceeded (limits.memory_mib): the guest asked for 65 MiB")
        );
    }

    #[test]
    fn time_in_the_host_does_not_count_as_the_guests() {
        let mut c = CallClock::new(Duration::from_millis(50));
        c.start();
        std::thread::sleep(Duration::from_millis(80));
        c.in_host(Duration::from_millis(80));
        assert!(c.check().is_ok(), "80 ms waiting for HTTP is not CPU time");
        std::thread::sleep(Duration::from_millis(60));
        let e = c.check().unwrap_err();
        assert_eq!(
            e.to_string(),
            "CPU time limit of 50 ms per call exceeded (limits.cpu_ms_per_call)"
        );
        assert!(c.exceeded);
    }
}
