//! The dead letters: the open ones, one by id, and the requests to replay them on their
//! sync's next run (the only write: the replay request in the store).

use crate::admin::AdminState;
use crate::admin::errors::{
    ApiError, Failure, check_history_sync, check_sync, not_found, path_id, query_params,
};
use crate::store::{DeadLetter, DeadLetterStatus};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `?sync=` of the dead letters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLettersQuery {
    /// Only this sync. Listing takes a sync removed from the configuration whose runs are in
    /// the history; a replay needs a configured sync (one that can run).
    pub sync: Option<String>,
}

/// Open dead letters, oldest first: masked key, side, stage, and what is wrong by JSON pointer.
#[utoipa::path(get, path = "/api/dead-letters", tag = "dead letters", params(DeadLettersQuery), responses(
    (status = 200, description = "open dead letters", body = Vec<DeadLetter>),
    (status = 400, description = "an unknown or bad query parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync in the configuration or the run history (the error lists the configured ones and the removed ones with a history)", body = ApiError)))]
pub(super) async fn list_dead_letters(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<DeadLetter>>, Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync"])?;
    let sync = q.get("sync").map(String::as_str);
    check_history_sync(&view, sync).await?;
    Ok(Json(view.store.dead_letters(sync).await?))
}

/// One dead letter (masked; the record itself stays sealed).
#[utoipa::path(get, path = "/api/dead-letters/{id}", tag = "dead letters", params(("id" = i64, Path, description = "dead letter id")), responses(
    (status = 200, description = "the dead letter", body = DeadLetter),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such dead letter", body = ApiError)))]
pub(super) async fn get_dead_letter(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetter>, Failure> {
    let id = path_id("dead letter", &id)?;
    let view = s.view();
    view.store
        .dead_letter(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(format!("no dead letter {id}")))
}

/// How many dead letters a replay request reached.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayRequested {
    /// Dead letters that will be replayed by their sync's next run.
    pub requested: u64,
    /// What happens now, for people.
    pub message: String,
}

const REPLAY_MESSAGE: &str = "replayed by the sync's next run (trigger it to run now)";

/// Replay one open dead letter on its sync's next run, after a fix: a record a system refused
/// is written again; a record that was invalid is validated again and, valid now, synced.
#[utoipa::path(post, path = "/api/dead-letters/{id}/replay", tag = "dead letters", params(("id" = i64, Path, description = "dead letter id")), responses(
    (status = 202, description = "the replay is requested", body = ReplayRequested),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such dead letter", body = ApiError),
    (status = 409, description = "the dead letter is not open (already replayed)", body = ApiError)))]
pub(super) async fn replay_dead_letter(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ReplayRequested>), Failure> {
    let id = path_id("dead letter", &id)?;
    let view = s.view();
    let d = view
        .store
        .dead_letter(id)
        .await?
        .ok_or_else(|| not_found(format!("no dead letter {id}")))?;
    if d.status != DeadLetterStatus::Open {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("dead letter {id} is {}, not open", d.status),
        ));
    }
    let requested = view.store.request_replay(Some(id), None).await?;
    tracing::info!(target: "hub::admin", dead_letter = id, sync = %d.sync, "admin API: replay requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayRequested {
            requested,
            message: REPLAY_MESSAGE.into(),
        }),
    ))
}

/// Replay every open dead letter (of `?sync=` if given) on the next runs.
#[utoipa::path(post, path = "/api/dead-letters/replay", tag = "dead letters", params(DeadLettersQuery), responses(
    (status = 202, description = "the replays are requested", body = ReplayRequested),
    (status = 400, description = "an unknown or bad query parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync (the error lists the configured ones)", body = ApiError)))]
pub(super) async fn replay_dead_letters(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<(StatusCode, Json<ReplayRequested>), Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync"])?;
    let sync = q.get("sync").map(String::as_str);
    check_sync(&view, sync)?;
    let requested = view.store.request_replay(None, sync).await?;
    tracing::info!(target: "hub::admin", requested, sync = ?sync, "admin API: replay of dead letters requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayRequested {
            requested,
            message: REPLAY_MESSAGE.into(),
        }),
    ))
}
