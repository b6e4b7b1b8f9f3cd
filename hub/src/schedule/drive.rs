//! Running a sync on its schedule: overlap, catch-up, jitter, pause and manual triggers.
//!
//! One [`drive`] loop per sync, against a [`Clock`] (the system clock, or a
//! [`ManualClock`](super::ManualClock) in tests) and the state store, which persists the
//! schedule's state so that every daemon on the store and the CLI (`hub trigger`, `hub pause`,
//! `hub resume`) see the same:
//!
//! - **No overlap.** A sync's runs happen one after another in its loop, never two at once.
//!   Fire times that pass while a run is still going are skipped (`overlap = "skip"`, the
//!   default) or collapse into one run right after it (`overlap = "queue_one"`).
//! - **Catch-up.** The store records up to which instant every fire time has been handled (run,
//!   or deliberately skipped). On start, fire times missed while the daemon was down collapse
//!   into one run (trigger `catch-up`) if the latest of them is within `catch_up_window`
//!   (default one hour); older ones are skipped with a warning. Handled-through then moves to
//!   now, so a restart right after does not catch up again.
//! - **Jitter.** An optional random delay of up to `jitter` after each fire time, never reaching
//!   the next fire time.
//! - **Pause.** While paused, fire times are skipped (and recorded as handled, so resuming does
//!   not catch up). Manual triggers still run.
//! - **Manual trigger.** A request stored by `hub trigger` starts a run (trigger `manual`) within
//!   [`CONTROL_POLL`]; it waits for a run in progress to finish.

use super::Schedule;
use super::clock::{BoxFuture, Clock};
use crate::config::Overlap;
use crate::store::{FireClaim, RunTrigger, Store};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::watch;

/// How often a waiting schedule looks for manual triggers and pause changes in the store.
pub const CONTROL_POLL: Duration = Duration::from_secs(1);

/// Most fire times counted when looking for missed ones (a one-second schedule down for a day
/// has 86,400; counting stops here, the decision does not need more).
const MAX_COUNT: usize = 100_000;

/// The most a daemon waits, at random, before it claims a fire time: every daemon on a store
/// wakes for the same fire time within a few milliseconds of the others (they follow the
/// database's clock, [`StoreClock`](super::StoreClock)), so without it the one with the steadiest head start (a
/// clock measured a little ahead, a less busy machine) would win nearly every claim. With a
/// uniform wait of 0 to 100 ms, far wider than those differences, each daemon wins about its
/// share. Only the claim waits; the run starts as soon as it is won.
pub const CLAIM_SPREAD: Duration = Duration::from_millis(100);

/// Claims fire time `t`, waiting while the database's clock says it is not due yet: `Some(true)`
/// if this process runs it, `Some(false)` if another did (or the claim failed, logged), `None`
/// if `stop` turned true meanwhile. Each attempt first waits a random part of
/// [`CLAIM_SPREAD`].
async fn claim(
    store: &Store,
    sync: &str,
    t: DateTime<Utc>,
    stop: &mut watch::Receiver<bool>,
) -> Option<bool> {
    loop {
        let spread = CLAIM_SPREAD.mul_f64(rand::random::<f64>());
        tokio::select! {
            _ = tokio::time::sleep(spread) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return None;
        }
        match store.claim_fire(sync, t).await {
            Ok(FireClaim::Claimed) => return Some(true),
            Ok(FireClaim::Taken) => return Some(false),
            Ok(FireClaim::NotYetDue { wait }) => {
                tracing::debug!(target: "hub::scheduler", sync, fire = %t, ?wait, "fire time not yet due by the state store's clock");
                tokio::select! {
                    _ = tokio::time::sleep(wait + Duration::from_millis(5)) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    return None;
                }
            }
            Err(e) => {
                tracing::warn!(target: "hub::scheduler", sync, fire = %t, "cannot claim the fire time; not run: {e:#}");
                return Some(false);
            }
        }
    }
}

/// How a sync is scheduled, besides its expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// What to do with fire times that pass during a run.
    pub overlap: Overlap,
    /// Missed fire times newer than this are caught up (once) at start.
    pub catch_up_window: Duration,
    /// Largest random delay after a fire time.
    pub jitter: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            overlap: Overlap::Skip,
            catch_up_window: Duration::from_secs(3600),
            jitter: Duration::ZERO,
        }
    }
}

/// Starts runs. The scheduler awaits each run before it looks at the clock again.
pub trait Runner: Send + Sync {
    /// Runs the sync once; `trigger` is [`RunTrigger::Schedule`] (with the fire time this
    /// daemon claimed), [`RunTrigger::CatchUp`], [`RunTrigger::Queued`], [`RunTrigger::Manual`]
    /// or [`RunTrigger::Resume`] (taking over a run whose process died or lost its lease).
    fn run(&self, trigger: RunTrigger, scheduled_for: Option<DateTime<Utc>>) -> BoxFuture<'_, ()>;
}

/// Fire times in `(after, now]`: how many (counting stops at [`MAX_COUNT`]) and the latest.
fn passed(
    schedule: &Schedule,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (usize, Option<DateTime<Utc>>) {
    let (mut count, mut latest, mut t) = (0, None, after);
    while count < MAX_COUNT {
        match schedule.next_after(t) {
            Some(next) if next <= now => {
                count += 1;
                latest = Some(next);
                t = next;
            }
            _ => return (count, latest),
        }
    }
    // Too many to count: find the latest by looking back from now.
    let mut back = chrono::Duration::seconds(1);
    loop {
        let from = (now - back).max(t);
        if let Some(l) = passed_latest(schedule, from, now) {
            return (count, Some(l));
        }
        if from == t {
            return (count, latest);
        }
        back = back * 2;
    }
}

fn passed_latest(
    schedule: &Schedule,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut latest = None;
    let mut t = from;
    while let Some(next) = schedule.next_after(t).filter(|n| *n <= now) {
        latest = Some(next);
        t = next;
    }
    latest
}

/// A random delay of at most `jitter`, always shorter than `gap` (the time to the next fire).
pub fn jitter_delay(jitter: Duration, gap: Duration) -> Duration {
    let cap = jitter.min(gap.saturating_sub(Duration::from_millis(1)));
    if cap.is_zero() {
        return Duration::ZERO;
    }
    cap.mul_f64(rand::random::<f64>())
}

enum Wake {
    Due,
    Manual,
    /// A run of this sync was left `running` by a process that died or lost its lease.
    Resume,
    Stop,
}

/// Waits until `t`, a manual trigger, or `stop`.
async fn wait(
    clock: &dyn Clock,
    store: &Store,
    sync: &str,
    t: DateTime<Utc>,
    stop: &mut watch::Receiver<bool>,
) -> Wake {
    loop {
        if *stop.borrow() {
            return Wake::Stop;
        }
        match store.take_trigger(sync).await {
            Ok(true) => return Wake::Manual,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(target: "hub::scheduler", sync, "cannot read the schedule state: {e:#}")
            }
        }
        match store.orphaned_run(sync).await {
            Ok(Some(run)) => {
                tracing::info!(target: "hub::scheduler",
                    sync,
                    run,
                    "a run was left by a process that stopped; taking it over"
                );
                return Wake::Resume;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "hub::scheduler", sync, "cannot read the run history: {e:#}")
            }
        }
        let now = clock.now();
        if now >= t {
            return Wake::Due;
        }
        let until = t.min(now + chrono::Duration::from_std(CONTROL_POLL).expect("one second"));
        tokio::select! {
            _ = clock.sleep_until(until) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn set_handled(store: &Store, sync: &str, t: DateTime<Utc>) {
    if let Err(e) = store.set_handled_through(sync, t).await {
        tracing::warn!(target: "hub::scheduler", sync, "cannot record the schedule state: {e:#}");
    }
}

async fn paused(store: &Store, sync: &str) -> bool {
    store
        .schedule_state(sync)
        .await
        .map(|s| s.paused)
        .unwrap_or(false)
}

/// After a run that started at fire time `since` (or a manual run): skips or queues the fire
/// times that passed meanwhile, per `policy.overlap`.
async fn after_run(
    clock: &dyn Clock,
    store: &Store,
    sync: &str,
    schedule: &Schedule,
    policy: &Policy,
    since: DateTime<Utc>,
    runner: &dyn Runner,
) {
    let now = clock.now();
    let (count, _) = passed(schedule, since, now);
    if count == 0 {
        return;
    }
    set_handled(store, sync, now).await;
    match policy.overlap {
        Overlap::Skip => tracing::info!(target: "hub::scheduler",
            sync,
            count,
            "fire times passed while the run was going; skipped (overlap = skip)"
        ),
        Overlap::QueueOne if paused(store, sync).await => {}
        Overlap::QueueOne => {
            tracing::info!(target: "hub::scheduler",
                sync,
                count,
                "fire times passed while the run was going; running once more (overlap = queue_one)"
            );
            runner.run(RunTrigger::Queued, None).await;
        }
    }
}

/// Runs one sync on its schedule until `stop` turns true (a run in progress finishes first).
pub async fn drive(
    clock: &dyn Clock,
    store: &Store,
    sync: &str,
    schedule: &Schedule,
    policy: &Policy,
    runner: &dyn Runner,
    mut stop: watch::Receiver<bool>,
) {
    let start = clock.now();
    let state = store.schedule_state(sync).await.unwrap_or_default();
    let mut handled = start;
    if let Some(last) = state.handled_through {
        let (count, latest) = passed(schedule, last, start);
        if let Some(latest) = latest {
            // Of several daemons starting together, the one that claims the latest missed fire
            // time catches up; the others find it claimed.
            let Some(won) = claim(store, sync, latest, &mut stop).await else {
                return;
            };
            set_handled(store, sync, start).await;
            let age = (start - latest).to_std().unwrap_or_default();
            if !won {
                tracing::debug!(target: "hub::scheduler", sync, "missed fire times were claimed by another daemon");
            } else if state.paused {
                tracing::info!(target: "hub::scheduler",
                    sync,
                    count,
                    "fire times passed while the daemon was down; the sync is paused, so none is caught up"
                );
            } else if age <= policy.catch_up_window {
                tracing::info!(target: "hub::scheduler",
                    sync,
                    count,
                    "fire times passed while the daemon was down; catching up with one run"
                );
                runner.run(RunTrigger::CatchUp, None).await;
                after_run(clock, store, sync, schedule, policy, start, runner).await;
                handled = clock.now();
            } else {
                tracing::warn!(target: "hub::scheduler",
                    sync,
                    count,
                    window = ?policy.catch_up_window,
                    "fire times passed while the daemon was down, the latest longer ago than the catch-up window; not caught up"
                );
            }
        } else if last > start {
            // The clock went back: keep the recorded point, fire after it.
            handled = last;
        }
    }
    loop {
        let Some(next) = schedule.next_after(handled.max(clock.now())) else {
            tracing::warn!(target: "hub::scheduler", sync, "schedule {schedule} has no further fire time");
            return;
        };
        let gap = schedule
            .next_after(next)
            .map(|n| (n - next).to_std().unwrap_or_default())
            .unwrap_or(Duration::MAX);
        let fire_at =
            next + chrono::Duration::from_std(jitter_delay(policy.jitter, gap)).unwrap_or_default();
        tracing::debug!(target: "hub::scheduler", sync, next = %next.with_timezone(&schedule.timezone()), "next run");
        match wait(clock, store, sync, fire_at, &mut stop).await {
            Wake::Stop => return,
            Wake::Resume => {
                runner.run(RunTrigger::Resume, None).await;
                continue;
            }
            Wake::Manual => {
                let started = clock.now();
                runner.run(RunTrigger::Manual, None).await;
                after_run(
                    clock,
                    store,
                    sync,
                    schedule,
                    policy,
                    started.max(handled),
                    runner,
                )
                .await;
                handled = handled.max(started);
                continue;
            }
            Wake::Due => {}
        }
        handled = next;
        // Every daemon on the store wakes for the fire time; the one whose claim lands runs it.
        match claim(store, sync, next, &mut stop).await {
            None => return,
            Some(true) => {}
            Some(false) => {
                tracing::debug!(target: "hub::scheduler", sync, fire = %next, "fire time claimed by another daemon");
                continue;
            }
        }
        if paused(store, sync).await {
            tracing::info!(target: "hub::scheduler", sync, fire = %next, "paused; scheduled run skipped");
            continue;
        }
        runner.run(RunTrigger::Schedule, Some(next)).await;
        after_run(clock, store, sync, schedule, policy, next, runner).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ManualClock;
    use std::sync::{Arc, Mutex};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        (dir, Store::open(&url).await.unwrap())
    }

    /// Records each run's trigger and clock time; a run may take (manual-clock) time.
    struct Recorder {
        clock: Arc<ManualClock>,
        runs: Mutex<Vec<(RunTrigger, DateTime<Utc>)>>,
        takes: Duration,
        active: Mutex<usize>,
        max_active: Mutex<usize>,
    }

    impl Recorder {
        fn new(clock: Arc<ManualClock>, takes: Duration) -> Arc<Recorder> {
            Arc::new(Recorder {
                clock,
                runs: Mutex::default(),
                takes,
                active: Mutex::new(0),
                max_active: Mutex::new(0),
            })
        }

        fn runs(&self) -> Vec<(String, String)> {
            self.runs
                .lock()
                .unwrap()
                .iter()
                .map(|(k, at)| (k.to_string(), at.to_rfc3339()))
                .collect()
        }
    }

    impl Runner for Recorder {
        fn run(
            &self,
            trigger: RunTrigger,
            _scheduled_for: Option<DateTime<Utc>>,
        ) -> BoxFuture<'_, ()> {
            Box::pin(async move {
                {
                    let mut a = self.active.lock().unwrap();
                    *a += 1;
                    let mut m = self.max_active.lock().unwrap();
                    *m = (*m).max(*a);
                }
                self.runs.lock().unwrap().push((trigger, self.clock.now()));
                self.clock.advance(self.takes);
                *self.active.lock().unwrap() -= 1;
            })
        }
    }

    /// Starts `drive` for sync `w`; returns the stop sender and the task.
    fn spawn(
        clock: Arc<ManualClock>,
        store: Store,
        expr: &str,
        tz: &str,
        policy: Policy,
        runner: Arc<Recorder>,
    ) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let schedule = Schedule::parse(expr, tz).unwrap();
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            drive(&*clock, &store, "w", &schedule, &policy, &*runner, rx).await
        });
        (tx, task)
    }

    /// Advances the clock a second at a time up to `until`, letting the scheduler act at each.
    async fn run_until(clock: &ManualClock, until: DateTime<Utc>) {
        clock.settled(1).await;
        while clock.now() < until {
            clock.advance(Duration::from_secs(1));
            clock.settled(1).await;
        }
    }

    async fn stop(tx: watch::Sender<bool>, task: tokio::task::JoinHandle<()>) {
        tx.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_shanghai_two_oclock_schedule_fires_at_eighteen_utc_whatever_the_process_zone() {
        let (_d, store) = store().await;
        let clock = Arc::new(ManualClock::new(t("2026-11-29T17:59:50Z")));
        let rec = Recorder::new(clock.clone(), Duration::ZERO);
        let (tx, task) = spawn(
            clock.clone(),
            store,
            "0 2 * * *",
            "Asia/Shanghai",
            Policy::default(),
            rec.clone(),
        );
        run_until(&clock, t("2026-11-29T18:00:10Z")).await;
        stop(tx, task).await;
        // 02:00 in Shanghai (UTC+8, no daylight saving) on 30 November is 18:00 UTC on the 29th.
        assert_eq!(
            rec.runs(),
            [(
                "schedule".to_string(),
                "2026-11-29T18:00:00+00:00".to_string()
            )]
        );
    }

    #[tokio::test]
    async fn runs_follow_the_schedule_and_a_restart_does_not_repeat_one() {
        let (_d, store) = store().await;
        let clock = Arc::new(ManualClock::new(t("2026-11-29T10:00:05Z")));
        let rec = Recorder::new(clock.clone(), Duration::from_secs(2));
        let (tx, task) = spawn(
            clock.clone(),
            store.clone(),
            "*/10 * * * * *",
            "UTC",
            Policy::default(),
            rec.clone(),
        );
        run_until(&clock, t("2026-11-29T10:00:35Z")).await;
        stop(tx, task).await;
        let at: Vec<String> = rec
            .runs()
            .into_iter()
            .map(|(k, at)| format!("{k} {at}"))
            .collect();
        assert_eq!(
            at,
            [
                "schedule 2026-11-29T10:00:10+00:00",
                "schedule 2026-11-29T10:00:20+00:00",
                "schedule 2026-11-29T10:00:30+00:00"
            ]
        );
        // Restarted at once: nothing was missed, so no catch-up.
        let (tx, task) = spawn(
            clock.clone(),
            store,
            "*/10 * * * * *",
            "UTC",
            Policy::default(),
            rec.clone(),
        );
        run_until(&clock, t("2026-11-29T10:00:39Z")).await;
        stop(tx, task).await;
        assert_eq!(rec.runs().len(), 3);
    }

    #[tokio::test]
    async fn a_hundred_missed_runs_collapse_into_one_catch_up_and_a_second_restart_has_none() {
        let (_d, store) = store().await;
        store
            .set_handled_through("w", t("2026-11-29T10:00:00Z"))
            .await
            .unwrap();
        // Down for 1,005 s: fire times 10:00:10, 10:00:20, … 10:16:40 (100 of them) were missed.
        let clock = Arc::new(ManualClock::new(t("2026-11-29T10:16:45Z")));
        let rec = Recorder::new(clock.clone(), Duration::ZERO);
        let (tx, task) = spawn(
            clock.clone(),
            store.clone(),
            "*/10 * * * * *",
            "UTC",
            Policy::default(),
            rec.clone(),
        );
        clock.settled(1).await;
        stop(tx, task).await;
        assert_eq!(
            rec.runs(),
            [(
                "catch-up".to_string(),
                "2026-11-29T10:16:45+00:00".to_string()
            )]
        );
        let (tx, task) = spawn(
            clock.clone(),
            store.clone(),
            "*/10 * * * * *",
            "UTC",
            Policy::default(),
            rec.clone(),
        );
        clock.settled(1).await;
        stop(tx, task).await;
        assert_eq!(rec.runs().len(), 1, "no second catch-up");
        assert_eq!(
            passed(
                &Schedule::parse("*/10 * * * * *", "UTC").unwrap(),
                t("2026-11-29T10:00:00Z"),
                t("2026-11-29T10:16:45Z")
            )
            .0,
            100
        );
    }

    #[tokio::test]
    async fn missed_runs_older_than_the_window_are_not_caught_up() {
        let (_d, store) = store().await;
        store
            .set_handled_through("w", t("2026-11-29T00:00:00Z"))
            .await
            .unwrap();
        // Hourly; down until 05:30: the latest missed fire (05:00) is 30 minutes old.
        let clock = Arc::new(ManualClock::new(t("2026-11-29T05:30:00Z")));
        let rec = Recorder::new(clock.clone(), Duration::ZERO);
        let policy = Policy {
            catch_up_window: Duration::from_secs(20 * 60),
            ..Policy::default()
        };
        let (tx, task) = spawn(
            clock.clone(),
            store.clone(),
            "0 * * * *",
            "UTC",
            policy,
            rec.clone(),
        );
        clock.settled(1).await;
        stop(tx, task).await;
        assert_eq!(rec.runs(), []);
        assert_eq!(
            store.schedule_state("w").await.unwrap().handled_through,
            Some(t("2026-11-29T05:30:00Z"))
        );
    }

    #[tokio::test]
    async fn a_run_longer_than_its_interval_is_never_overlapped_under_skip() {
        let (_d, store) = store().await;
        let clock = Arc::new(ManualClock::new(t("2026-11-29T10:00:05Z")));
        // Every 10 s; each run takes 25 s.
        let rec = Recorder::new(clock.clone(), Duration::from_secs(25));
        let (tx, task) = spawn(
            clock.clone(),
            store,
            "*/10 * * * * *",
            "UTC",
            Policy::default(),
            rec.clone(),
        );
        run_until(&clock, t("2026-11-29T10:01:30Z")).await;
        stop(tx, task).await;
        assert_eq!(*rec.max_active.lock().unwrap(), 1);
        let at: Vec<String> = rec
            .runs()
            .into_iter()
            .map(|(k, at)| format!("{k} {}", &at[11..19]))
            .collect();
        // 10:00:10 runs to :35 (fires :20 and :30 skipped); next fire :40 runs to 01:05 (:50,
        // 01:00 skipped); 01:10 runs to 01:35.
        assert_eq!(
            at,
            [
                "schedule 10:00:10",
                "schedule 10:00:40",
                "schedule 10:01:10"
            ]
        );
    }

    #[tokio::test]
    async fn queue_one_runs_once_more_after_an_overrun() {
        let (_d, store) = store().await;
        let clock = Arc::new(ManualClock::new(t("2026-11-29T10:00:05Z")));
        let rec = Recorder::new(clock.clone(), Duration::from_secs(25));
        let policy = Policy {
            overlap: Overlap::QueueOne,
            ..Policy::default()
        };
        let (tx, task) = spawn(
            clock.clone(),
            store,
            "*/10 * * * * *",
            "UTC",
            policy,
            rec.clone(),
        );
        run_until(&clock, t("2026-11-29T10:01:00Z")).await;
        stop(tx, task).await;
        assert_eq!(*rec.max_active.lock().unwrap(), 1);
        let at: Vec<String> = rec
            .runs()
            .into_iter()
            .map(|(k, at)| format!("{k} {}", &at[11..19]))
            .collect();
        // :10 runs to :35 with :20 and :30 passed → one queued run :35–01:00.
        assert_eq!(at, ["schedule 10:00:10", "queued 10:00:35"]);
    }

    #[tokio::test]
    async fn paused_syncs_skip_fire_times_but_run_when_triggered() {
        let (_d, store) = store().await;
        store.set_paused("w", true).await.unwrap();
        let clock = Arc::new(ManualClock::new(t("2026-11-29T10:00:05Z")));
        let rec = Recorder::new(clock.clone(), Duration::ZERO);
        let (tx, task) = spawn(
            clock.clone(),
            store.clone(),
            "*/10 * * * * *",
            "UTC",
            Policy::default(),
            rec.clone(),
        );
        run_until(&clock, t("2026-11-29T10:00:25Z")).await;
        assert_eq!(rec.runs(), []);
        store.request_trigger("w").await.unwrap();
        run_until(&clock, t("2026-11-29T10:00:27Z")).await;
        store.set_paused("w", false).await.unwrap();
        run_until(&clock, t("2026-11-29T10:00:31Z")).await;
        stop(tx, task).await;
        let kinds: Vec<String> = rec.runs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, ["manual", "schedule"]);
        assert!(!store.schedule_state("w").await.unwrap().trigger_requested);
    }

    #[test]
    fn jitter_never_reaches_the_next_fire_time() {
        let gap = Duration::from_secs(10);
        for _ in 0..10_000 {
            assert!(jitter_delay(Duration::from_secs(30), gap) < gap);
            assert!(jitter_delay(Duration::from_secs(3), gap) <= Duration::from_secs(3));
        }
        assert_eq!(jitter_delay(Duration::ZERO, gap), Duration::ZERO);
    }
}
