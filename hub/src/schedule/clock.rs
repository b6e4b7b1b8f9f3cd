//! The clock abstraction schedules run against: [`Clock`], the process's [`SystemClock`], the
//! state store's [`StoreClock`] (what `hub run` uses, so daemons on one store agree on fire
//! times), and, for tests and simulations, a [`ManualClock`] that moves only when told to.

use crate::store::Store;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
#[cfg(any(test, feature = "test-support"))]
use tokio::sync::watch;

/// A boxed future, for the object-safe traits below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The time source of schedules.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now() >= t`.
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()>;
}

/// The system clock (UTC; the process's `TZ` plays no part).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Sleep in slices so that a wall-clock step (NTP) is noticed within a minute.
            loop {
                let left = (t - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(Duration::from_secs(60))).await;
            }
        })
    }
}

/// The state store's clock, as the daemon's schedules go by it: the system clock corrected by
/// its offset from the database's clock ([`Store::db_now`]), measured at start and again at
/// most every [`StoreClock::REMEASURE`] while sleeping. Several daemons on one store then wake
/// for a fire time together however far apart their own clocks are; the claim itself is
/// decided by the database's clock ([`Store::claim_fire`]).
pub struct StoreClock {
    store: Store,
    /// Database clock minus system clock, in milliseconds.
    offset_ms: std::sync::atomic::AtomicI64,
    measured: std::sync::Mutex<std::time::Instant>,
}

impl StoreClock {
    /// How often the offset is measured again.
    pub const REMEASURE: Duration = Duration::from_secs(30);

    /// Measures the offset once (0 if the store cannot be asked: it is measured again later).
    pub async fn new(store: Store) -> StoreClock {
        let clock = StoreClock {
            store,
            offset_ms: 0.into(),
            measured: std::sync::Mutex::new(std::time::Instant::now()),
        };
        clock.measure().await;
        clock
    }

    /// The database's clock minus the system clock.
    pub fn offset(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.offset_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn measure(&self) {
        let before = Utc::now();
        let db = match self.store.db_now().await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(target: "hub::scheduler",
                    "cannot read the state store's clock; keeping the last offset: {e:#}"
                );
                return;
            }
        };
        let after = Utc::now();
        // The database read its clock somewhere in the round trip: take the middle.
        let offset = db - (before + (after - before) / 2);
        let previous = self.offset_ms.swap(
            offset.num_milliseconds(),
            std::sync::atomic::Ordering::Relaxed,
        );
        *self.measured.lock().expect("clock") = std::time::Instant::now();
        let secs = offset.num_milliseconds() as f64 / 1000.0;
        if secs.abs() >= 1.0 && (offset.num_milliseconds() - previous).abs() >= 1000 {
            tracing::warn!(target: "hub::scheduler",
                offset_seconds = -secs,
                "this machine's clock differs from the state store's by more than a second; schedules and leases go by the store's clock"
            );
        }
    }
}

impl Clock for StoreClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let stale = self.measured.lock().expect("clock").elapsed() >= Self::REMEASURE;
                if stale {
                    self.measure().await;
                }
                let left = (t - self.now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(Self::REMEASURE)).await;
            }
        })
    }
}

/// A clock that moves only when told to, for tests and simulations (the `test-support`
/// feature).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
    /// Sleepers parked, and the clock time they parked at.
    parked: watch::Sender<(DateTime<Utc>, usize)>,
}

#[cfg(any(test, feature = "test-support"))]
impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: watch::channel(t).0,
            parked: watch::channel((t, 0)).0,
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now
            .send_modify(|n| *n += chrono::Duration::from_std(d).expect("a test duration"));
    }

    /// Sets the clock to `t` (it may go backwards, as a wall clock can).
    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    /// Resolves when `n` sleepers have parked since the clock last moved: the tasks driven by
    /// this clock have done all they can at the current time.
    pub async fn settled(&self, n: usize) {
        let mut rx = self.parked.subscribe();
        let _ = rx
            .wait_for(|(at, count)| *at == self.now() && *count >= n)
            .await;
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut rx = self.now.subscribe();
            loop {
                let now = *rx.borrow_and_update();
                if now >= t {
                    return;
                }
                self.parked.send_modify(|(at, count)| {
                    if *at == now {
                        *count += 1;
                    } else {
                        *at = now;
                        *count = 1;
                    }
                });
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
    }
}
