//! The side-door routes both simulators share: `/_admin/counters` and `/_admin/faults`.
//! No authentication, no rate limit, no faults: they are for tests and the demo only.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

use crate::gate::{FaultSettings, Gate, System, lock};

/// `/_admin/counters` (GET, DELETE) and `/_admin/faults` (GET, POST, DELETE).
pub(crate) fn router(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/_admin/counters", get(counters).delete(reset_counters))
        .route(
            "/_admin/faults",
            get(faults).post(set_faults).delete(clear_faults),
        )
        .with_state(gate)
}

/// `GET /_admin/counters` → `{"requests", "rate_limited", "collections": {name: {"created", "updated",
/// "deleted", "duplicates_refused", "conflicts", "rejected", "not_found"}},
/// "keys_created_more_than_once": [{"collection", "key", "created"}]}`.
async fn counters(State(gate): State<Arc<Gate>>) -> Response {
    Json(lock(&gate.counters).to_json()).into_response()
}

/// `DELETE /_admin/counters` → 204, every counter back to zero.
async fn reset_counters(State(gate): State<Arc<Gate>>) -> Response {
    lock(&gate.counters).reset();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_admin/faults` → the faults in force (remaining burst counts).
async fn faults(State(gate): State<Arc<Gate>>) -> Response {
    Json(lock(&gate.faults).show(gate.system)).into_response()
}

/// `POST /_admin/faults` with any of `slow_ms`, `burst_429` (with `retry_after`), `burst_503`,
/// `drop`, (HY-ESMS) `reject_writes`, (ZF-REG) `expire_sessions_after` and (MED-ROSTER)
/// `concurrent_edit` → 200 with the faults in force; fields not given are kept. Unknown
/// fields → 422.
async fn set_faults(State(gate): State<Arc<Gate>>, body: Bytes) -> Response {
    let settings: FaultSettings = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": e.to_string()})),
            )
                .into_response();
        }
    };
    if gate.system != System::Med && settings.concurrent_edit.is_some() {
        let error = "concurrent_edit applies to MED-ROSTER only";
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": error})),
        )
            .into_response();
    }
    if gate.system != System::Hy && settings.reject_writes.is_some() {
        let error = "reject_writes applies to HY-ESMS only";
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": error})),
        )
            .into_response();
    }
    if gate.system != System::Zf && settings.expire_sessions_after.is_some() {
        let error = "expire_sessions_after applies to ZF-REG only: the others have no sessions";
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": error})),
        )
            .into_response();
    }
    let mut faults = lock(&gate.faults);
    faults.set(&settings);
    Json(faults.show(gate.system)).into_response()
}

/// `DELETE /_admin/faults` → 204, every fault off.
async fn clear_faults(State(gate): State<Arc<Gate>>) -> Response {
    *lock(&gate.faults) = Default::default();
    StatusCode::NO_CONTENT.into_response()
}
