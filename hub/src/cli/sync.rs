//! `hub sync NAME --once`, `hub sync NAME --plan` and `hub resync NAME`: one run of a sync now
//! (or its plan), and its summary. The runs are the engine's ([`crate::sync`]); this module
//! loads the deployment, calls it and prints.

use super::Failure;
use super::load::{known_sync, load, refuse_unsigned_of, sync_alone};
use crate::daemon::{Hub, start_telemetry};
use crate::report;
use crate::store::RunTrigger;
use crate::sync::RunStatus;
use crate::{say, say_err};
use std::path::PathBuf;

/// `hub sync NAME --once`: builds the deployment, runs the sync once and prints its summary.
pub(super) async fn once(name: String, config: PathBuf) -> Result<bool, Failure> {
    let c = load(&config)?;
    if !c.syncs.contains_key(&name) {
        let known: Vec<&str> = c.syncs.keys().map(String::as_str).collect();
        return Err(Failure::Deployment(vec![format!(
            "{}: no sync {name:?} (known: {})",
            config.display(),
            known.join(", ")
        )]));
    }
    refuse_unsigned_of(&c, &name)?;
    let hub = Hub::build(c).await?;
    if !hub.syncs.contains_key(&name) {
        return Err(Failure::Deployment(hub.problems.clone()));
    }
    for p in &hub.problems {
        say_err!("warning: {p}");
    }
    let telemetry = start_telemetry(&hub.config);
    let outcome = hub.run_once(&name, &RunTrigger::Manual).await;
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
    let outcome = outcome?;
    let s = &hub.syncs[&name];
    let rows = report::directions(
        &outcome.stats,
        &s.spec.a.plugin.name,
        &s.spec.b.plugin.name,
        s.spec.direction,
    );
    print!("{}", report::table(&outcome, &rows));
    if let Some(old) = outcome.resumed_from {
        say!(
            "  run {old} of {name} was interrupted before it finished (its process stopped); \
             this run went on from the batches it had committed"
        );
    }
    let recovered = outcome.stats.a.recovered + outcome.stats.b.recovered;
    if recovered > 0 {
        say!(
            "  {recovered} writes an interrupted run made but did not record were found in the systems \
             and recorded now (audit: recovered)"
        );
    }
    hub.engine.store().close().await;
    Ok(outcome.status != RunStatus::Failed)
}

/// `hub sync NAME --plan [--json]`: prints the plan ([`plan`]) as text or one JSON object.
pub(super) async fn print_plan(name: String, json: bool, config: PathBuf) -> Result<bool, Failure> {
    let (plan, zone) = plan(&name, &config).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&plan).map_err(anyhow::Error::from)?
        );
    } else {
        print!("{}", plan.text(zone));
    }
    Ok(true)
}

/// `hub sync NAME --plan`: the plan of a run of the sync now ([`crate::sync::plan`]). Loads only
/// what the plan needs (the configuration, the sync's plugins, the state store and state key),
/// and records nothing: no interrupted run is closed, no state key recorded, no lease taken.
/// A deployment that never ran (no state key file yet, so nothing sealed in its store) is
/// planned under a key of this invocation. Returns the plan and the deployment's time zone.
async fn plan(
    name: &str,
    path: &std::path::Path,
) -> Result<(crate::sync::plan::Plan, chrono_tz::Tz), Failure> {
    let (c, spec) = sync_alone(name, path).await?;
    let never_ran = c.hub.state_key.is_none() && !c.data_dir().join("state.key").exists();
    let keys = if never_ran {
        crate::keys::Keys::from_hex(&hex::encode(rand::random::<[u8; 32]>()))?
    } else {
        crate::daemon::state_keys(&c, false)?
    };
    let store = crate::store::Store::open(&c.store_url()).await?;
    let engine = crate::sync::Engine::new(store.clone(), keys);
    let plan = engine.plan(&spec).await;
    store.close().await;
    Ok((plan?, c.zone()))
}

/// `hub resync NAME`: builds the deployment as `hub sync` does, runs the resync (waiting up to
/// a minute for a run of the sync in progress elsewhere to end) and prints its summary.
pub(super) async fn resync(
    name: &str,
    side: Option<&str>,
    since: Option<&str>,
    config: &std::path::Path,
) -> Result<bool, Failure> {
    let c = load(config)?;
    known_sync(&c, config, name)?;
    refuse_unsigned_of(&c, name)?;
    let zone = c.zone();
    let hub = Hub::build(c).await?;
    let Some(s) = hub.syncs.get(name) else {
        return Err(Failure::Deployment(hub.problems.clone()));
    };
    let r =
        crate::sync::resync::Resync::of(&s.spec, side, since, zone).map_err(anyhow::Error::msg)?;
    let telemetry = start_telemetry(&hub.config);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut waited = false;
    let outcome = loop {
        match hub.engine.resync(&s.spec, r.clone()).await {
            Err(e)
                if e.to_string().contains("is running in another process")
                    && std::time::Instant::now() < deadline =>
            {
                if !waited {
                    say_err!("{e}; waiting for it to end (up to a minute)");
                    waited = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => break other,
        }
    };
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
    let outcome = outcome?;
    let rows = report::directions(
        &outcome.stats,
        &s.spec.a.plugin.name,
        &s.spec.b.plugin.name,
        s.spec.direction,
    );
    say!("{} ({})", r.trigger(), name);
    print!("{}", report::table(&outcome, &rows));
    if let Some(old) = outcome.resumed_from {
        say!(
            "  run {old} of {name} was interrupted before it finished; this resync went on from the batches it had committed"
        );
    }
    for side in &r.sides {
        let st = match side {
            crate::store::Side::A => &outcome.stats.a,
            crate::store::Side::B => &outcome.stats.b,
        };
        if r.since.is_some() {
            say!(
                "  side {}: {} records last changed before --since were read past",
                side.as_str(),
                st.before_since
            );
        }
    }
    hub.engine.store().close().await;
    Ok(outcome.status != RunStatus::Failed)
}
