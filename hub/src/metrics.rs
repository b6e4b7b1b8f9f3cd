//! Metrics through the `metrics` facade, exposed in the Prometheus text format (0.0.4) at the
//! admin API's `/metrics`.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `hub_runs_total` | counter | `sync`, `status` | finished sync runs (`ok`, `partial`, `failed`) |
//! | `hub_run_duration_seconds` | histogram | `sync` | wall-clock time of a run |
//! | `hub_records_total` | counter | `sync`, `from`, `to`, `outcome` | records of a direction (plugin names): `read`, `filtered`, `written`, `unchanged`, `echo`, `dead_letter`, `deferred` |
//! | `hub_write_retries_total` | counter | `sync`, `system` | writes that failed transiently and wait for the next run |
//! | `hub_plugin_call_duration_seconds` | histogram | `plugin`, `call` | time inside one guest call (`open`, `check`, `read`, `write`, …) |
//! | `hub_plugin_traps_total` | counter | `plugin`, `call` | guest calls ended by a trap or an exhausted limit |
//! | `hub_sync_loaded` | gauge | `sync` | 1 for a configured sync that loaded, 0 for one that could not (its reason is in `/readyz`) |
//! | `hub_config_reload_success` | gauge | | 1 when the last load or reload (SIGHUP) of the configuration succeeded, 0 when it was refused |
//! | `hub_rate_budget_wait_seconds` | histogram | `plugin` | time one HTTP request waited for its plugin's rate budget (`rate_limit`); its `_sum` is the time spent waiting |
//! | `hub_rate_budget_requests_per_second` | gauge | `plugin` | this daemon's share of the plugin's `rate_limit` (divided among the daemons using it on the store) |
//!
//! The recorder is process-wide and installed once, by [`install`]; before that (and in
//! commands that never install it) recording is a no-op.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Histogram buckets, seconds: from a fast guest call to a long full sync.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.025, 0.1, 0.25, 1.0, 2.5, 10.0, 30.0, 120.0, 600.0,
];

/// Installs the Prometheus recorder (idempotent). Errors only if another recorder was
/// installed first by someone else.
pub fn install() -> anyhow::Result<()> {
    if HANDLE.get().is_some() {
        return Ok(());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let _ = HANDLE.set(handle);
    describe();
    Ok(())
}

fn describe() {
    metrics::describe_counter!("hub_runs_total", "Finished sync runs by status");
    metrics::describe_histogram!(
        "hub_run_duration_seconds",
        metrics::Unit::Seconds,
        "Wall-clock time of a sync run"
    );
    metrics::describe_counter!(
        "hub_records_total",
        "Records of a sync direction by outcome"
    );
    metrics::describe_counter!(
        "hub_write_retries_total",
        "Writes that failed transiently and wait for the next run"
    );
    metrics::describe_histogram!(
        "hub_plugin_call_duration_seconds",
        metrics::Unit::Seconds,
        "Time inside one guest call"
    );
    metrics::describe_counter!(
        "hub_plugin_traps_total",
        "Guest calls ended by a trap or an exhausted limit"
    );
    metrics::describe_histogram!(
        "hub_rate_budget_wait_seconds",
        metrics::Unit::Seconds,
        "Time one HTTP request waited for its plugin's rate budget"
    );
    metrics::describe_gauge!(
        "hub_rate_budget_requests_per_second",
        "This daemon's share of the plugin's rate limit, requests per second"
    );
    metrics::describe_gauge!(
        "hub_config_reload_success",
        "1 when the last load or reload of the configuration succeeded, 0 when it was refused"
    );
}

/// The configured syncs and whether each loaded, as `hub_sync_loaded` shows them: replaced as
/// a whole at each load and reload ([`syncs_loaded`]), so that a sync removed from the
/// configuration leaves `/metrics` with it (a recorder's gauge would keep its last value).
static LOADED: std::sync::Mutex<std::collections::BTreeMap<String, bool>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Sets `hub_sync_loaded{sync}` for every configured sync (1 loaded, 0 could not), and for
/// those only.
pub fn syncs_loaded(syncs: impl IntoIterator<Item = (String, bool)>) {
    *LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = syncs.into_iter().collect();
}

/// `hub_sync_loaded` in the Prometheus text format 0.0.4 (label values escaped as it says:
/// `\\`, `\"`, `\n`).
fn sync_loaded_text() -> String {
    let loaded = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if loaded.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "# HELP hub_sync_loaded 1 for a configured sync that loaded, 0 for one that could not\n# TYPE hub_sync_loaded gauge\n",
    );
    for (sync, ok) in loaded.iter() {
        let label = sync
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        out.push_str(&format!(
            "hub_sync_loaded{{sync=\"{label}\"}} {}\n",
            u8::from(*ok)
        ));
    }
    out
}

/// Sets `hub_config_reload_success`: 1 after a load or reload that succeeded, 0 after a
/// refused reload.
pub fn config_reload(success: bool) {
    metrics::gauge!("hub_config_reload_success").set(if success { 1.0 } else { 0.0 });
}

/// Records the time (seconds) one HTTP request of `plugin` waited for its rate budget.
pub fn rate_budget_wait(plugin: &str, seconds: f64) {
    metrics::histogram!("hub_rate_budget_wait_seconds", "plugin" => plugin.to_string())
        .record(seconds);
}

/// Sets `hub_rate_budget_requests_per_second{plugin}`: this daemon's share of the plugin's
/// rate limit.
pub fn rate_budget(plugin: &str, per_second: f64) {
    metrics::gauge!("hub_rate_budget_requests_per_second", "plugin" => plugin.to_string())
        .set(per_second);
}

/// The metrics now, in the Prometheus text format; empty before [`install`].
pub fn render() -> String {
    HANDLE
        .get()
        .map(|h| h.render() + &sync_loaded_text())
        .unwrap_or_default()
}

/// Records a finished run: its status, duration and the counts of each direction.
pub fn run_finished(
    outcome: &crate::sync::RunOutcome,
    a: &str,
    b: &str,
    direction: crate::config::Direction,
) {
    let sync = outcome.sync.clone();
    metrics::counter!("hub_runs_total", "sync" => sync.clone(), "status" => outcome.status.as_str()).increment(1);
    metrics::histogram!("hub_run_duration_seconds", "sync" => sync.clone())
        .record(outcome.stats.duration_ms as f64 / 1000.0);
    for d in crate::report::directions(&outcome.stats, a, b, direction) {
        let (from, to) = (d.from.clone(), d.to.clone());
        for (outcome, n) in [
            ("read", d.read),
            ("filtered", d.filtered),
            ("written", d.written),
            ("unchanged", d.unchanged),
            ("echo", d.echoes),
            ("dead_letter", d.dead_letters),
            ("deferred", d.deferred),
        ] {
            metrics::counter!("hub_records_total", "sync" => sync.clone(), "from" => from.clone(), "to" => to.clone(), "outcome" => outcome).increment(n);
        }
    }
    for (system, s) in [(a, &outcome.stats.a), (b, &outcome.stats.b)] {
        if s.retries > 0 {
            metrics::counter!("hub_write_retries_total", "sync" => sync.clone(), "system" => system.to_string()).increment(s.retries);
        }
    }
}

/// Records one guest call: its duration, and whether it trapped.
pub fn plugin_call(plugin: &str, call: &'static str, seconds: f64, trapped: bool) {
    metrics::histogram!("hub_plugin_call_duration_seconds", "plugin" => plugin.to_string(), "call" => call).record(seconds);
    if trapped {
        metrics::counter!("hub_plugin_traps_total", "plugin" => plugin.to_string(), "call" => call)
            .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_removed_by_a_reload_leaves_hub_sync_loaded() {
        syncs_loaded([("workers".to_string(), true), ("broken".to_string(), false)]);
        assert_eq!(
            sync_loaded_text(),
            "# HELP hub_sync_loaded 1 for a configured sync that loaded, 0 for one that could not\n\
             # TYPE hub_sync_loaded gauge\n\
             hub_sync_loaded{sync=\"broken\"} 0\n\
             hub_sync_loaded{sync=\"workers\"} 1\n"
        );
        // The reload that removed `broken`.
        syncs_loaded([("workers".to_string(), true)]);
        assert!(!sync_loaded_text().contains("broken"));
        syncs_loaded([("a\"b\\c".to_string(), true)]);
        assert!(sync_loaded_text().ends_with("hub_sync_loaded{sync=\"a\\\"b\\\\c\"} 1\n"));
    }
}
