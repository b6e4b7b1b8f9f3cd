//! The daemon's schedules: [`Hub::run_scheduled`] gives each enabled sync its own task driven
//! by [`crate::schedule::drive`] (overlap, catch-up, jitter, pause, manual triggers), each run
//! on a runtime of its own ([`runs_runtime`]); a run that panics is logged and counted as
//! failed, and the daemon goes on. The rate budgets are shared among the daemons on the store
//! by a heartbeat. This module runs a deployment already built; it does not build one
//! (`deployment`) or watch signals (`lifecycle`).

use super::Hub;
use crate::runtime::rate::RateBudget;
use crate::schedule::{self, BoxFuture, Runner, StoreClock};
use crate::store::{RunTrigger, Store};
use crate::sync::{Engine, RunOutcome, SyncSpec};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

impl Hub {
    /// Runs every enabled sync on its schedule until `shutdown` turns true; the run in flight
    /// finishes first (every batch commits as it goes, so a hard stop loses nothing either).
    /// Each finished run is sent to `runs` if given.
    pub async fn run_scheduled(
        &self,
        shutdown: watch::Receiver<bool>,
        runs: Option<mpsc::UnboundedSender<RunOutcome>>,
    ) {
        let mut tasks = tokio::task::JoinSet::new();
        // One clock for every schedule: the state store's (leases and fire-time claims go by
        // it, so daemons whose own clocks differ still take turns).
        let clock = Arc::new(StoreClock::new(self.engine.store().clone()).await);
        for (name, s) in &self.syncs {
            if !s.enabled {
                tracing::info!(sync = %name, "sync disabled in the config; not scheduled");
                continue;
            }
            let runner = EngineRunner {
                engine: self.engine.clone(),
                spec: s.spec.clone(),
                runs: runs.clone(),
                witness: self.witness.clone(),
            };
            let (store, schedule, policy, stop) = (
                self.engine.store().clone(),
                s.schedule.clone(),
                s.policy,
                shutdown.clone(),
            );
            let name = name.clone();
            let clock = clock.clone();
            tasks.spawn(async move {
                schedule::drive(&*clock, &store, &name, &schedule, &policy, &runner, stop).await;
            });
        }
        let budgets: Vec<_> = self
            .plugins
            .values()
            .filter_map(|p| p.rate_budget().cloned())
            .collect();
        let all_ended = async { while tasks.join_next().await.is_some() {} };
        if budgets.is_empty() {
            all_ended.await;
            return;
        }
        tokio::select! {
            () = all_ended => {}
            () = share_budgets(self.engine.store(), &budgets) => {}
        }
        if let Err(e) = self.engine.store().daemon_leave().await {
            tracing::warn!("cannot remove this daemon from the store's list of daemons: {e:#}");
        }
    }
}

/// How often a daemon says it is alive on the store and counts the daemons sharing each rate
/// budget.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a daemon's heartbeat counts: a daemon that died drops out of the division this long
/// after its last one (by the database's clock), or at once on its own host.
pub const HEARTBEAT_TTL: Duration = Duration::from_secs(30);

/// Divides each rate budget among the daemons alive on the store that use its plugin, every
/// [`HEARTBEAT`], for ever (the caller drops it). While the store cannot be reached the last
/// division stays.
async fn share_budgets(store: &Store, budgets: &[Arc<RateBudget>]) {
    let plugins: Vec<String> = budgets.iter().map(|b| b.plugin().to_string()).collect();
    loop {
        match store.daemon_heartbeat(&plugins, HEARTBEAT_TTL).await {
            Ok(daemons) => {
                for b in budgets {
                    b.set_share(daemons.get(b.plugin()).copied().unwrap_or(1));
                }
            }
            Err(e) => tracing::warn!(
                "cannot count the daemons sharing the rate budgets on the store (the last count stays): {e:#}"
            ),
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// The runtime sync runs execute on, apart from the daemon's own (schedules, signals, admin
/// API). Guest code runs inside one poll for up to a CPU check (100 ms) at a time, and a run
/// keeps its worker threads busy; on a runtime of their own, runs can never hold up a timer, a
/// signal or an admin request, however hostile a plugin is.
pub(crate) fn runs_runtime() -> &'static tokio::runtime::Runtime {
    static RUNS: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNS.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("hub-run")
            .enable_all()
            .build()
            .expect("the runs' runtime starts (threads can be spawned)")
    })
}

/// Runs a sync through the engine, each run in its own task on [`runs_runtime`], so that a
/// panic fails the run, not the schedule.
struct EngineRunner {
    engine: Engine,
    spec: SyncSpec,
    runs: Option<mpsc::UnboundedSender<RunOutcome>>,
    witness: Option<Arc<crate::audit_witness::Witness>>,
}

impl Runner for EngineRunner {
    fn run(
        &self,
        trigger: RunTrigger,
        scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let (e, sp) = (self.engine.clone(), self.spec.clone());
            match runs_runtime()
                .spawn(async move { e.run_at(&sp, &trigger, scheduled_for).await })
                .await
            {
                Ok(Ok(outcome)) => {
                    if let Some(tx) = &self.runs {
                        let _ = tx.send(outcome);
                    }
                }
                Ok(Err(e)) => tracing::warn!(sync = %self.spec.name, "run not done: {e:#}"),
                Err(e) => tracing::error!(sync = %self.spec.name, "run panicked: {e}"),
            }
            if let Some(w) = &self.witness {
                // Errors are logged by record; the syncs go on.
                let _ = w.record(self.engine.store()).await;
            }
        })
    }
}
