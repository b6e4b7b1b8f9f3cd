//! The run history, one run and its dead letters, and the run leases. Reads only.

use crate::admin::AdminState;
use crate::admin::errors::{
    ApiError, Failure, bad_request, check_history_sync, not_found, path_id, query_params,
};
use crate::store::{DeadLetter, LeaseInfo, RunRecord};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

/// `?sync=&limit=` of the run history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only this sync (configured, or removed from the configuration with runs in the history).
    pub sync: Option<String>,
    /// How many runs, newest first (1–1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Run history, newest first, with per-run counts and errors.
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(RunsQuery), responses(
    (status = 200, description = "runs, newest first", body = Vec<RunRecord>),
    (status = 400, description = "bad parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync in the configuration or the run history (the error lists the configured ones and the removed ones with a history)", body = ApiError)))]
pub(super) async fn list_runs(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<RunRecord>>, Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync", "limit"])?;
    let limit = match q.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| {
                bad_request(format!(
                    "query parameter limit must be a whole number from 1 to 1000, not {v:?}"
                ))
            })?,
    };
    let sync = q.get("sync").map(String::as_str);
    check_history_sync(&view, sync).await?;
    Ok(Json(view.store.runs(sync, limit).await?))
}

/// The run leases of every sync, from the shared store: which daemon (`host:pid`) holds or
/// last held each, its fencing token, its expiry, and whether it still binds. The same answer
/// from every daemon on the store.
#[utoipa::path(get, path = "/api/leases", tag = "leases", responses(
    (status = 200, description = "leases by sync name", body = Vec<LeaseInfo>),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
pub(super) async fn list_leases(
    State(s): State<AdminState>,
) -> Result<Json<Vec<LeaseInfo>>, Failure> {
    Ok(Json(s.view().store.leases().await?))
}

/// One run.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", params(("id" = i64, Path, description = "run id")), responses(
    (status = 200, description = "the run", body = RunRecord),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such run", body = ApiError)))]
pub(super) async fn get_run(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<RunRecord>, Failure> {
    let id = path_id("run", &id)?;
    let view = s.view();
    view.store
        .run(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(format!("no run {id}")))
}

/// The dead letters a run recorded first, open or replayed, oldest first (masked keys).
#[utoipa::path(get, path = "/api/runs/{id}/dead-letters", tag = "runs", params(("id" = i64, Path, description = "run id")), responses(
    (status = 200, description = "the run's dead letters", body = Vec<DeadLetter>),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such run", body = ApiError)))]
pub(super) async fn list_run_dead_letters(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeadLetter>>, Failure> {
    let id = path_id("run", &id)?;
    let view = s.view();
    if view.store.run(id).await?.is_none() {
        return Err(not_found(format!("no run {id}")));
    }
    Ok(Json(view.store.run_dead_letters(id).await?))
}
