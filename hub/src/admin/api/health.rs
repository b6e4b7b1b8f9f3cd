//! Health: liveness (`/healthz`), readiness (`/readyz`) and the Prometheus metrics. Reads the
//! view and pings the store; changes nothing.

use crate::admin::AdminState;
use crate::admin::errors::ApiError;
use crate::metrics as hub_metrics;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "the daemon is alive", body = String, content_type = "text/plain")))]
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// True when the state store answers, every configured sync loaded, no plugin failed its
    /// last live check and the last reload was not refused (`status` `ready`).
    pub ready: bool,
    /// `ready`; `degraded` (the store answers and some syncs run, but `problems` lists what does
    /// not: a sync or plugin that could not load, a plugin that failed its live check, a
    /// refused reload); or `not_ready` (the store does not answer, or no sync can run).
    pub status: String,
    /// Syncs that can run.
    pub syncs: usize,
    /// What keeps the deployment from running as configured, one line each.
    pub problems: Vec<String>,
    /// The daemon's last live check of each loaded plugin, in name order.
    pub plugins: Vec<crate::check::LiveCheck>,
}

/// Readiness: 200 when the state store answers and the whole configuration runs; 503 with
/// `status` `degraded` or `not_ready` and each problem otherwise.
///
/// Cheap enough to poll: it asks the state store one `SELECT 1` and calls no system. Plugins
/// are judged by the daemon's last live check of them ([`crate::check::LiveChecks`]: each
/// plugin at start and at every reload, a failed one again every
/// [`crate::check::RECHECK_FAILED`] until it passes); a check still pending is not a problem.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready", body = Readiness),
    (status = 503, description = "degraded or not ready, with each problem", body = Readiness),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
pub(super) async fn readyz(State(s): State<AdminState>) -> Response {
    let view = s.view();
    let store_ok = view.store.ping().await.is_ok();
    let mut problems = view.all_problems();
    if !store_ok {
        problems.push("the state store does not answer".into());
    }
    let status = if !store_ok || view.syncs.is_empty() {
        "not_ready"
    } else if problems.is_empty() {
        "ready"
    } else {
        "degraded"
    };
    let ready = status == "ready";
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Readiness {
            ready,
            status: status.into(),
            syncs: view.syncs.len(),
            problems,
            plugins: view.checks.all(),
        }),
    )
        .into_response()
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "metrics", body = String, content_type = "text/plain"),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
pub(super) async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        hub_metrics::render(),
    )
        .into_response()
}
