//! `hub trigger|pause|resume NAME` and `hub schedule`: requests to the daemons through the
//! state store, and each sync's next fire times. The schedules themselves run in the daemon
//! ([`crate::schedule`]); this module writes the requests and prints.

use super::Failure;
use super::load::{known_sync, load};
use crate::say;
use std::path::PathBuf;

/// What `hub trigger`, `hub pause` and `hub resume` ask for.
pub(super) enum Control {
    /// A run now (within a second, after a run in progress).
    Trigger,
    /// Skip the schedule's fire times until resumed.
    Pause,
    /// Run on the schedule again.
    Resume,
}

/// `hub trigger|pause|resume NAME`: a request in the state store, which every daemon on it reads.
pub(super) async fn control(
    name: &str,
    config: &std::path::Path,
    action: Control,
) -> Result<bool, Failure> {
    let c = load(config)?;
    known_sync(&c, config, name)?;
    let store = crate::store::Store::open(&c.store_url()).await?;
    let paused = store.schedule_state(name).await?.paused;
    match action {
        Control::Trigger => {
            store.request_trigger(name).await?;
            if crate::daemon::lifecycle::running_on(&c.data_dir()) {
                say!(
                    "run of {name} requested: the daemon starts it within a second (after a run in progress)"
                );
            } else {
                say!(
                    "run of {name} requested, but no hub daemon is running on {} (its daemon.lock is free): the run starts when `hub run --config {}` starts, or a daemon elsewhere on the same state store takes it; `hub sync {name} --once --config {}` runs it now",
                    c.data_dir().display(),
                    config.display(),
                    config.display()
                );
            }
        }
        Control::Pause if paused => {
            say!("{name} is already paused; nothing changed (`hub resume {name}` resumes it)");
        }
        Control::Pause => {
            store.set_paused(name, true).await?;
            say!("{name} paused: scheduled runs are skipped until `hub resume {name}`");
        }
        Control::Resume if !paused => {
            say!("{name} is not paused; nothing changed");
        }
        Control::Resume => {
            store.set_paused(name, false).await?;
            say!("{name} resumed");
        }
    }
    store.close().await;
    Ok(true)
}

/// `hub schedule`: each sync's schedule, its flags (disabled, paused, run requested), how far
/// it was handled, and its next `next` fire times.
pub(super) async fn upcoming(config: PathBuf, next: usize) -> Result<bool, Failure> {
    let c = load(&config)?;
    let store = crate::store::Store::open(&c.store_url()).await?;
    let now = chrono::Utc::now();
    for (name, s) in &c.syncs {
        let sched = crate::schedule::Schedule::parse(s.schedule.get_ref(), s.timezone.get_ref())
            .map_err(anyhow::Error::from)?;
        let state = store.schedule_state(name).await?;
        let flags = [
            (!s.enabled).then_some("disabled"),
            state.paused.then_some("paused"),
            state.trigger_requested.then_some("run requested"),
        ];
        let flags: Vec<&str> = flags.into_iter().flatten().collect();
        say!(
            "{name}: {sched}{}",
            if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            }
        );
        if let Some(h) = state.handled_through {
            say!(
                "  handled through {}",
                h.with_timezone(&sched.timezone()).to_rfc3339()
            );
        }
        for t in sched.upcoming(now, next) {
            say!("  {}", t.to_rfc3339());
        }
    }
    store.close().await;
    Ok(true)
}
