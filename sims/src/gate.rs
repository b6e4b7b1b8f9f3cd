//! What stands in front of every API route of a simulator: the request counter, the injected
//! faults (`/_admin/faults`), HY-ESMS's rate limit, and the access log.
//!
//! The access log records method, path (never the query string, which can carry a ZF token)
//! and status, at debug level, and nothing about records: the hub's tests grep every log line
//! for identity numbers.

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::counters::Counters;
use crate::net::Conn;

/// Which simulator a gate stands in front of: the two answer faults in their own style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum System {
    /// HY-ESMS: JSON `{"error": ...}` bodies.
    Hy,
    /// ZF-REG: an older system behind a web server that answers overload with plain text.
    Zf,
    /// MED-ROSTER: a FHIR server, every error an `OperationOutcome`.
    Med,
}

/// Faults as `/_admin/faults` reads and writes them. In a POST every field is optional and only
/// the fields given change.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSettings {
    /// Delay before every API response, in milliseconds (stays until cleared).
    #[serde(default)]
    pub(crate) slow_ms: Option<u64>,
    /// The next N API requests answer 429 with `Retry-After: <retry_after>`.
    #[serde(default)]
    pub(crate) burst_429: Option<u32>,
    /// The `Retry-After` of injected 429s, in seconds (RFC 9110 §10.2.3 delay-seconds), and,
    /// once set, of injected 503s too. Default 1 for 429s and none for 503s; stays until changed.
    #[serde(default)]
    pub(crate) retry_after: Option<u32>,
    /// The next N API requests answer 503.
    #[serde(default)]
    pub(crate) burst_503: Option<u32>,
    /// The next N API requests get their connection closed without any response.
    #[serde(default)]
    pub(crate) drop: Option<u32>,
    /// HY-ESMS only: the next N API writes (POST, PUT, PATCH) are refused as invalid, 422
    /// `{"error": ..., "field": "position"}`, as a business rule the operator fixes later
    /// would refuse them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reject_writes: Option<u32>,
    /// ZF-REG only: N more authenticated requests pass, then every current token is
    /// invalidated once (the next authenticated request answers 40101).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expire_sessions_after: Option<u32>,
    /// MED-ROSTER only: the next N updates (`PUT`) meet an edit someone else saved a moment
    /// before: the resource moves to a new version (a `PractitionerRole`'s specialty becomes
    /// 急诊科), so a client's `If-Match` with the version it read is stale (412).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) concurrent_edit: Option<u32>,
}

/// The faults in force.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    slow_ms: u64,
    burst_429: u32,
    retry_after: Option<u32>,
    burst_503: u32,
    drop: u32,
    reject_writes: u32,
    expire_sessions_after: Option<u32>,
    concurrent_edit: u32,
}

/// What a fault does to one request.
enum Action {
    Drop,
    /// 503, with this `Retry-After` if one is set.
    Unavailable(Option<u32>),
    /// 429 with this `Retry-After`, in seconds.
    TooMany(u32),
    Reject,
}

impl Faults {
    /// Applies the fields given.
    pub(crate) fn set(&mut self, s: &FaultSettings) {
        if let Some(v) = s.slow_ms {
            self.slow_ms = v;
        }
        if let Some(v) = s.burst_429 {
            self.burst_429 = v;
        }
        if s.retry_after.is_some() {
            self.retry_after = s.retry_after;
        }
        if let Some(v) = s.burst_503 {
            self.burst_503 = v;
        }
        if let Some(v) = s.drop {
            self.drop = v;
        }
        if let Some(v) = s.reject_writes {
            self.reject_writes = v;
        }
        if s.expire_sessions_after.is_some() {
            self.expire_sessions_after = s.expire_sessions_after;
        }
        if let Some(v) = s.concurrent_edit {
            self.concurrent_edit = v;
        }
    }

    /// Called for each MED-ROSTER update: true when a concurrent edit must come first.
    pub(crate) fn concurrent_edit_now(&mut self) -> bool {
        if self.concurrent_edit > 0 {
            self.concurrent_edit -= 1;
            true
        } else {
            false
        }
    }

    /// The faults in force, as `GET /_admin/faults` shows them (`expire_sessions_after` only
    /// for ZF-REG, `null` when not armed; `reject_writes` only for HY-ESMS; `concurrent_edit`
    /// only for MED-ROSTER).
    pub(crate) fn show(&self, system: System) -> serde_json::Value {
        let mut v = json!({
            "slow_ms": self.slow_ms,
            "burst_429": self.burst_429,
            "retry_after": self.retry_after.unwrap_or(1),
            "burst_503": self.burst_503,
            "drop": self.drop,
        });
        match system {
            System::Zf => v["expire_sessions_after"] = json!(self.expire_sessions_after),
            System::Hy => v["reject_writes"] = json!(self.reject_writes),
            System::Med => v["concurrent_edit"] = json!(self.concurrent_edit),
        }
        v
    }

    /// One request's share of the bursts: a dropped connection first, then 503, then 429, then
    /// (for a write) the refusal.
    fn take(&mut self, write: bool) -> Option<Action> {
        if self.drop > 0 {
            self.drop -= 1;
            Some(Action::Drop)
        } else if self.burst_503 > 0 {
            self.burst_503 -= 1;
            Some(Action::Unavailable(self.retry_after))
        } else if self.burst_429 > 0 {
            self.burst_429 -= 1;
            Some(Action::TooMany(self.retry_after.unwrap_or(1)))
        } else if write && self.reject_writes > 0 {
            self.reject_writes -= 1;
            Some(Action::Reject)
        } else {
            None
        }
    }

    /// Called for each authenticated ZF-REG request: true when the sessions must expire now.
    pub(crate) fn sessions_expire_now(&mut self) -> bool {
        match self.expire_sessions_after {
            Some(0) => {
                self.expire_sessions_after = None;
                true
            }
            Some(n) => {
                self.expire_sessions_after = Some(n - 1);
                false
            }
            None => false,
        }
    }
}

/// More than `limit` requests within any one second are refused.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: usize,
    admitted: VecDeque<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(limit: u32) -> RateLimiter {
        RateLimiter {
            limit: limit as usize,
            admitted: VecDeque::new(),
        }
    }

    /// True if a request arriving `now` is within the limit (and then counts it).
    fn admit(&mut self, now: Instant) -> bool {
        while self
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= self.limit {
            return false;
        }
        self.admitted.push_back(now);
        true
    }
}

/// State shared by a simulator's API gate and its admin routes.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) system: System,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) counters: Mutex<Counters>,
    pub(crate) limiter: Option<Mutex<RateLimiter>>,
}

/// Locks a std mutex, recovering from poisoning (a panicked handler must not wedge the sim).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Gate {
    pub(crate) fn new(system: System, limit: Option<u32>, collections: &[&'static str]) -> Gate {
        Gate {
            system,
            faults: Mutex::new(Faults::default()),
            counters: Mutex::new(Counters::new(collections)),
            limiter: limit
                .filter(|n| *n > 0)
                .map(|n| Mutex::new(RateLimiter::new(n))),
        }
    }

    fn too_many(&self, retry_after: u32) -> Response {
        let mut resp = match self.system {
            System::Hy => (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error": "too many requests"})),
            )
                .into_response(),
            System::Zf => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response(),
            System::Med => crate::med::outcome(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "too many requests",
            ),
        };
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        resp
    }

    fn unavailable(&self, retry_after: Option<u32>) -> Response {
        let mut resp = match self.system {
            System::Hy => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "service unavailable"})),
            )
                .into_response(),
            System::Zf => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
            System::Med => crate::med::outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "service unavailable",
            ),
        };
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// Middleware for the API routes: counts the request, applies the faults, then the rate limit.
pub(crate) async fn gate(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    req: Request,
    next: Next,
) -> Response {
    lock(&gate.counters).request();
    let write = gate.system == System::Hy
        && matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    let (slow_ms, action) = {
        let mut faults = lock(&gate.faults);
        (faults.slow_ms, faults.take(write))
    };
    if slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    }
    match action {
        Some(Action::Drop) => {
            conn.cut();
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(Action::Unavailable(retry_after)) => return gate.unavailable(retry_after),
        Some(Action::TooMany(retry_after)) => return gate.too_many(retry_after),
        Some(Action::Reject) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "position is not an occupation this system accepts (reject_writes fault)", "field": "position"})),
            )
                .into_response();
        }
        None => {}
    }
    if let Some(limiter) = &gate.limiter
        && !lock(limiter).admit(Instant::now())
    {
        lock(&gate.counters).rate_limited();
        return gate.too_many(1);
    }
    next.run(req).await
}

/// Access log: method, path without query, status; debug level.
pub(crate) async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_the_request_over_the_limit_within_one_second() {
        let mut l = RateLimiter::new(3);
        let t0 = Instant::now();
        assert!(l.admit(t0) && l.admit(t0) && l.admit(t0 + Duration::from_millis(500)));
        assert!(!l.admit(t0 + Duration::from_millis(999)));
        // The first two leave the window at t0 + 1 s.
        assert!(l.admit(t0 + Duration::from_secs(1)));
        assert!(l.admit(t0 + Duration::from_secs(1)));
        assert!(!l.admit(t0 + Duration::from_millis(1400)));
    }

    #[test]
    fn bursts_count_down_one_request_at_a_time_and_session_expiry_fires_once() {
        let mut f = Faults::default();
        f.set(&FaultSettings {
            burst_429: Some(1),
            burst_503: Some(1),
            drop: Some(1),
            reject_writes: Some(1),
            expire_sessions_after: Some(1),
            ..Default::default()
        });
        assert!(matches!(f.take(true), Some(Action::Drop)));
        assert!(matches!(f.take(false), Some(Action::Unavailable(None))));
        assert!(matches!(f.take(false), Some(Action::TooMany(1))));
        // A read passes the write refusal by; the next write meets it, once.
        assert!(f.take(false).is_none());
        assert!(matches!(f.take(true), Some(Action::Reject)));
        assert!(f.take(true).is_none());
        assert!(!f.sessions_expire_now());
        assert!(f.sessions_expire_now());
        assert!(!f.sessions_expire_now());
    }
}
