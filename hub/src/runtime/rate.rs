//! One request budget per system: every request a plugin's instances send (every sync and every
//! concurrent run using that plugin, since one plugin name is one system) waits for a slot of
//! the plugin's [`RateBudget`] before it goes out.
//!
//! - The budget is GCRA (the generic cell rate algorithm, ITU-T I.371; a token bucket read as
//!   times): at `requests_per_second` r with `burst` b, one request every 1/r seconds, and up to
//!   b at once after a quiet spell. Over any span of t seconds at most b + r·t requests go; a
//!   server counting requests in each one-second window sees at most b + r − 1.
//! - Requests wait in line, served in arrival order (a fair tokio mutex is the line). A run's
//!   plugin instance sends one request at a time, so when n syncs are waiting each gets every
//!   n-th slot: a long first sync slows the others to their share instead of starving them.
//! - Waiting is a tokio timer, never a blocked thread; a request whose call is abandoned (the
//!   call's wall-clock limit, a run ending) leaves the line when its future is dropped, having
//!   taken no slot.
//! - Daemons sharing a state store divide the budget: each takes r / n for the n daemons alive
//!   that use the plugin ([`RateBudget::set_share`], kept by the daemon's heartbeat).
//! - A 429 the system still answers (another client of it) holds the whole budget for its
//!   `Retry-After` ([`RateBudget::hold`]): no sync of this daemon sends to it meanwhile.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The request budget of one plugin (one system) in this daemon.
#[derive(Debug)]
pub struct RateBudget {
    plugin: String,
    per_second: f64,
    burst: u32,
    /// The daemons alive on the store that use this plugin, this one included (at least 1).
    share: AtomicU32,
    /// The line: the request at its head holds it while it waits for its slot.
    line: tokio::sync::Mutex<()>,
    gcra: Mutex<Gcra>,
}

/// GCRA's state: the theoretical arrival time, and a hold a 429 put on the system.
#[derive(Debug, Default, Clone)]
struct Gcra {
    /// When the budget is spent up to: a request may go once `now >= tat - (burst - 1) ·
    /// interval`; each one moves it `interval` later. `None`: never used, full.
    tat: Option<Instant>,
    /// No request before this instant (a `Retry-After`).
    hold: Option<Instant>,
}

impl Gcra {
    /// The earliest instant at or after `now` a request may go.
    fn earliest(&self, now: Instant, interval: Duration, burst: u32) -> Instant {
        let tolerance = interval * burst.saturating_sub(1);
        let by_rate = self
            .tat
            .and_then(|tat| tat.checked_sub(tolerance))
            .unwrap_or(now);
        by_rate.max(self.hold.unwrap_or(now)).max(now)
    }

    /// Spends the slot of a request going at `at` (no earlier than [`Gcra::earliest`]).
    fn take(&mut self, at: Instant, interval: Duration) {
        self.tat = Some(self.tat.map_or(at, |tat| tat.max(at)) + interval);
    }
}

impl RateBudget {
    /// A budget of `per_second` requests per second (> 0, finite) with `burst` at once (≥ 1;
    /// 0 is taken as 1), whole for now (a share of 1).
    pub fn new(plugin: &str, per_second: f64, burst: u32) -> RateBudget {
        RateBudget {
            plugin: plugin.to_string(),
            per_second,
            burst: burst.max(1),
            share: AtomicU32::new(1),
            line: tokio::sync::Mutex::new(()),
            gcra: Mutex::new(Gcra::default()),
        }
    }

    /// The plugin it belongs to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Divides the budget among `daemons` (at least 1): this daemon then takes
    /// `per_second / daemons` requests per second, with the same burst.
    pub fn set_share(&self, daemons: u32) {
        let daemons = daemons.max(1);
        if self.share.swap(daemons, Ordering::Relaxed) != daemons {
            tracing::info!(plugin = %self.plugin, daemons, requests_per_second = self.per_second / f64::from(daemons), "request budget divided among the daemons using this plugin on the state store");
        }
        crate::metrics::rate_budget(&self.plugin, self.per_second / f64::from(daemons));
    }

    /// This daemon's requests per second now.
    pub fn per_second(&self) -> f64 {
        self.per_second / f64::from(self.share.load(Ordering::Relaxed))
    }

    /// Time between two requests at this daemon's rate.
    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second())
    }

    fn gcra(&self) -> std::sync::MutexGuard<'_, Gcra> {
        self.gcra.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits in line for a slot and takes it; returns the time waited. Dropping the future
    /// leaves the line without taking a slot.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let _head = self.line.lock().await;
        loop {
            let now = Instant::now();
            let interval = self.interval();
            let at = {
                let mut g = self.gcra();
                let at = g.earliest(now, interval, self.burst);
                if at <= now {
                    g.take(now, interval);
                    None
                } else {
                    Some(at)
                }
            };
            // Asked again after the sleep: a 429's hold or a new share may have moved it.
            match at {
                None => break,
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
        let waited = started.elapsed();
        crate::metrics::rate_budget_wait(&self.plugin, waited.as_secs_f64());
        // A line per request would flood the log of a long run: a second or more is worth one.
        if waited >= Duration::from_secs(1) {
            tracing::debug!(plugin = %self.plugin, waited_ms = waited.as_millis() as u64, requests_per_second = self.per_second(), "request waited a second or more for the plugin's rate budget (its syncs together send more than it allows, or the system asked to wait)");
        } else if waited >= Duration::from_millis(1) {
            tracing::trace!(plugin = %self.plugin, waited_ms = waited.as_millis() as u64, "request waited for the plugin's rate budget");
        }
        waited
    }

    /// The system asked to wait (`Retry-After`): no request of this budget goes before
    /// `wait` from now.
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut g = self.gcra();
        g.hold = Some(g.hold.map_or(until, |h| h.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instants `n` requests go at when each comes as soon as it may, from `t0`.
    fn schedule(n: usize, interval: Duration, burst: u32, t0: Instant) -> Vec<Duration> {
        let mut g = Gcra::default();
        let mut now = t0;
        (0..n)
            .map(|_| {
                now = g.earliest(now, interval, burst);
                g.take(now, interval);
                now - t0
            })
            .collect()
    }

    #[test]
    fn requests_at_20_per_second_with_a_burst_of_5_go_5_at_once_then_every_50_ms() {
        let t = schedule(25, Duration::from_millis(50), 5, Instant::now());
        // The first 5 at once; the n-th (from 0) after (n - 4) · 50 ms: 25 requests take
        // (25 - 5) / 20 = 1 s.
        assert_eq!(t[..5], [Duration::ZERO; 5]);
        assert_eq!(t[5], Duration::from_millis(50));
        assert_eq!(t[24], Duration::from_secs(1));
        // Evenly spaced with a burst of 1: 21 requests span exactly one second, so a server
        // counting any one-second window never sees more than 20.
        let t = schedule(21, Duration::from_millis(50), 1, Instant::now());
        assert_eq!(t[20], Duration::from_secs(1));
        assert!(
            t.windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(50))
        );
    }

    #[test]
    fn a_quiet_spell_refills_the_burst_but_never_more() {
        let t0 = Instant::now();
        let mut g = Gcra::default();
        let interval = Duration::from_millis(100);
        for _ in 0..3 {
            let at = g.earliest(t0, interval, 3);
            assert_eq!(at, t0);
            g.take(at, interval);
        }
        assert_eq!(g.earliest(t0, interval, 3), t0 + interval);
        // Ten seconds later: three at once again, the fourth 100 ms after.
        let later = t0 + Duration::from_secs(10);
        for _ in 0..3 {
            let at = g.earliest(later, interval, 3);
            assert_eq!(at, later);
            g.take(at, interval);
        }
        assert_eq!(g.earliest(later, interval, 3), later + interval);
    }

    #[test]
    fn a_hold_keeps_every_request_back_until_it_ends() {
        let t0 = Instant::now();
        let mut g = Gcra {
            hold: Some(t0 + Duration::from_secs(2)),
            ..Gcra::default()
        };
        let interval = Duration::from_millis(50);
        assert_eq!(g.earliest(t0, interval, 20), t0 + Duration::from_secs(2));
        g.take(t0 + Duration::from_secs(2), interval);
        assert_eq!(
            g.earliest(t0 + Duration::from_secs(2), interval, 1),
            t0 + Duration::from_millis(2050)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_budget_paces_requests_and_a_share_divides_it() {
        // 200 requests/s, burst 1: 11 requests take 10 · 5 ms = 50 ms (timers wake at whole
        // milliseconds or later, so a little more).
        let b = RateBudget::new("p", 200.0, 1);
        let t0 = std::time::Instant::now();
        for _ in 0..11 {
            b.acquire().await;
        }
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_millis(400),
            "{took:?}"
        );
        // Two daemons: 100/s each, 10 ms apart.
        b.set_share(2);
        assert_eq!(b.per_second(), 100.0);
        assert_eq!(b.interval(), Duration::from_millis(10));
        let t0 = std::time::Instant::now();
        for _ in 0..6 {
            b.acquire().await;
        }
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn syncs_waiting_together_take_turns_in_arrival_order() {
        // Three syncs, each sending one request at a time (a run's plugin instance waits for
        // each answer), on a spent budget: once all wait, the slots go round in turn, so none
        // waits behind another's backlog.
        let b = std::sync::Arc::new(RateBudget::new("p", 500.0, 1));
        b.acquire().await;
        let order = std::sync::Arc::new(Mutex::new(String::new()));
        let sync = |name: char| {
            let (b, order) = (b.clone(), order.clone());
            tokio::spawn(async move {
                for _ in 0..4 {
                    b.acquire().await;
                    order.lock().unwrap().push(name);
                }
            })
        };
        let syncs = [sync('w'), sync('j'), sync('s')];
        for s in syncs {
            s.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), "wjswjswjswjs");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_dropped_while_waiting_takes_no_slot_and_frees_the_line() {
        let b = RateBudget::new("p", 1.0, 1);
        b.acquire().await; // the only slot of this second
        // The next slot is a second away: a call abandoned after 20 ms leaves the line.
        let waited = tokio::time::timeout(Duration::from_millis(20), b.acquire()).await;
        assert!(waited.is_err());
        // It took nothing: the next slot is still one second after the first.
        let g = b.gcra().clone();
        let first = g.tat.unwrap() - Duration::from_secs(1);
        assert_eq!(
            g.earliest(Instant::now(), b.interval(), 1),
            first + Duration::from_secs(1)
        );
        // And the line is free: a hold moves the next slot.
        b.hold(Duration::from_secs(3));
        let g = b.gcra().clone();
        assert!(g.earliest(Instant::now(), b.interval(), 1) >= first + Duration::from_secs(3));
    }
}
