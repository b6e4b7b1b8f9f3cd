//! Retries and rate handling: the session's [`RetryBudget`] (`limits.retries_per_run`), and
//! when an attempt is retried: a 429 or 503 answer after its `Retry-After` delay (a 429 holding
//! the plugin's whole rate budget meanwhile), a timeout or dropped connection of an idempotent
//! request after an exponential backoff with jitter. At most [`MAX_ATTEMPTS`] attempts.

use super::{HttpError, HttpGrant, MAX_ATTEMPTS, MAX_RETRY_AFTER, error_chain};
use std::time::Duration;

/// The retries left to one session (one plugin instance, which serves one sync run).
#[derive(Debug)]
pub struct RetryBudget {
    left: std::sync::atomic::AtomicU32,
    total: u32,
    warned: std::sync::atomic::AtomicBool,
}

impl RetryBudget {
    /// A budget of `total` retries.
    pub fn new(total: u32) -> RetryBudget {
        RetryBudget {
            left: std::sync::atomic::AtomicU32::new(total),
            total,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Takes one retry; false when none is left.
    pub fn take(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Retries taken so far.
    pub fn used(&self) -> u32 {
        self.total - self.left.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `Retry-After` as delay-seconds, capped; one second when absent or an HTTP-date.
fn retry_after(resp: &reqwest::Response) -> Duration {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), |s| {
            Duration::from_secs(s).min(MAX_RETRY_AFTER)
        })
}

/// The attempts of one request: what its retry log lines and errors name, and whether it may
/// be retried after a failure.
pub(super) struct Attempts<'a> {
    /// Its method.
    pub(super) method: &'a reqwest::Method,
    /// Its origin and path (never the query).
    pub(super) place: &'a str,
    /// `GET`, `PUT` or `DELETE` (RFC 9110 §9.2.2): retried after a timeout or a dropped
    /// connection.
    pub(super) idempotent: bool,
    /// The attempt under way; the first is 1.
    pub(super) number: u32,
}

impl HttpGrant {
    /// The wait before retrying an answer the server asked to be retried later (429, 503),
    /// while attempts and retries are left: its `Retry-After` delay (see [`retry_after`]).
    /// `None`: the answer goes to the plugin as it is.
    pub(super) fn answer_retry(
        &self,
        resp: &reqwest::Response,
        attempt: &Attempts<'_>,
        budget: &RetryBudget,
    ) -> Option<Duration> {
        if !(matches!(resp.status().as_u16(), 429 | 503)
            && attempt.number < MAX_ATTEMPTS
            && self.retry_allowed(budget))
        {
            return None;
        }
        let wait = retry_after(resp);
        let (method, place) = (attempt.method, attempt.place);
        tracing::debug!(target: "hub::runtime::http", plugin = %self.plugin, %method, %place, status = resp.status().as_u16(), ?wait, attempt = attempt.number, "retrying after the server asked to wait");
        Some(wait)
    }

    /// Waits out the delay an answer of `status` asked for before its retry.
    pub(super) async fn wait_out(&self, status: u16, wait: Duration) {
        match &self.budget {
            // Too many requests: none of this system's syncs sends before the
            // delay ends (the retry waits for its slot after it).
            Some(b) if status == 429 => b.hold(wait),
            _ => tokio::time::sleep(wait).await,
        }
    }

    /// After an attempt that got no answer (`failed`, or none in time when `timed_out`): the
    /// backoff before the next attempt if the request may be retried (idempotent, attempts and
    /// retries left, a timeout or a failed connection), else the error the plugin gets.
    pub(super) fn backoff(
        &self,
        failed: Option<reqwest::Error>,
        timed_out: bool,
        attempt: &Attempts<'_>,
        budget: &RetryBudget,
    ) -> Result<Duration, HttpError> {
        let (method, place) = (attempt.method, attempt.place);
        match failed {
            e if attempt.idempotent
                && (timed_out || e.as_ref().is_some_and(|e| e.is_connect() || e.is_request()))
                && attempt.number < MAX_ATTEMPTS
                && self.retry_allowed(budget) =>
            {
                let base = Duration::from_millis(250 << attempt.number);
                let wait = base.mul_f64(1.0 + rand::random::<f64>() / 4.0);
                let error = e.map_or_else(
                    || "no answer in time".to_string(),
                    |e| e.without_url().to_string(),
                );
                tracing::debug!(target: "hub::runtime::http", plugin = %self.plugin, %method, %place, %error, attempt = attempt.number, "retrying a failed request");
                Ok(wait)
            }
            Some(e) if !timed_out => Err(HttpError::Connection(format!(
                "{method} {place}: {}",
                error_chain(&e.without_url())
            ))),
            _ => Err(HttpError::Timeout(format!(
                "{method} {place}: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Takes a retry from the budget; the first refusal is logged.
    fn retry_allowed(&self, budget: &RetryBudget) -> bool {
        let ok = budget.take();
        if !ok
            && !budget
                .warned
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(target: "hub::runtime::http", plugin = %self.plugin, retries = budget.total, "the retries of this run are spent (limits.retries_per_run): failures now go to the plugin as they come");
        }
        ok
    }
}
