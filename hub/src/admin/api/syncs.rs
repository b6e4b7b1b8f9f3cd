//! The syncs: each one's schedule and state ([`SyncInfo`]), its control (trigger, pause,
//! resume), its plan, its resync and its reconciliation report. Control writes only the
//! schedule state; plans, resyncs and reconciliations run on the engine on the runs' runtime.

use crate::admin::errors::{
    ApiError, Failure, bad_request, check_sync, query_params, unknown_sync,
};
use crate::admin::{AdminState, Endpoint, View};
use crate::store::RunRecord;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A sync, its schedule and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncInfo {
    /// Name (a key of `[syncs]`).
    pub name: String,
    /// Shared schema of its records.
    pub schema: String,
    /// `a_to_b`, `b_to_a` or `both`.
    pub direction: String,
    /// Endpoint `a`.
    pub a: Endpoint,
    /// Endpoint `b`.
    pub b: Endpoint,
    /// Crontab expression.
    pub schedule: String,
    /// IANA time zone of the schedule.
    pub timezone: String,
    /// Scheduled at all (`enabled` in the config).
    pub enabled: bool,
    /// Paused (`hub pause` or the API).
    pub paused: bool,
    /// A manual run waits to start.
    pub run_requested: bool,
    /// The next fire times (RFC 3339 in UTC with milliseconds, `Z`, as every time in the API);
    /// empty when disabled.
    pub next_runs: Vec<String>,
    /// The latest run, if any.
    pub last_run: Option<RunRecord>,
    /// The run in progress, if any.
    pub running: Option<crate::sync::RunProgress>,
    /// Open dead letters.
    pub dead_letters: i64,
    /// Open conflicts.
    pub conflicts: i64,
}

pub(in crate::admin) async fn sync_info(name: &str, view: &View) -> Result<SyncInfo, Failure> {
    let v = view
        .syncs
        .get(name)
        .ok_or_else(|| unknown_sync(view, name))?;
    let state = view.store.schedule_state(name).await?;
    let next_runs = if v.enabled {
        v.schedule
            .upcoming(chrono::Utc::now(), 3)
            .iter()
            // As the store writes every other time of the API: UTC, milliseconds, `Z`.
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(SyncInfo {
        name: name.to_string(),
        schema: v.schema.clone(),
        direction: v.direction.clone(),
        a: v.a.clone(),
        b: v.b.clone(),
        schedule: v.schedule.expression().to_string(),
        timezone: v.schedule.timezone().name().to_string(),
        enabled: v.enabled,
        paused: state.paused,
        run_requested: state.trigger_requested,
        next_runs,
        last_run: view.store.runs(Some(name), 1).await?.into_iter().next(),
        running: view.progress.get(name),
        dead_letters: view.store.open_dead_letter_count(Some(name)).await?,
        conflicts: view.store.open_conflict_count(Some(name)).await?,
    })
}

/// Every sync with its schedule, last run and run in progress.
#[utoipa::path(get, path = "/api/syncs", tag = "syncs", responses(
    (status = 200, description = "syncs by name", body = Vec<SyncInfo>),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
pub(super) async fn list_syncs(
    State(s): State<AdminState>,
) -> Result<Json<Vec<SyncInfo>>, Failure> {
    let view = s.view();
    let mut out = Vec::new();
    for name in view.syncs.keys() {
        out.push(sync_info(name, &view).await?);
    }
    Ok(Json(out))
}

/// One sync.
#[utoipa::path(get, path = "/api/syncs/{name}", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "the sync", body = SyncInfo),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError)))]
pub(super) async fn get_sync(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<SyncInfo>, Failure> {
    let view = s.view();
    Ok(Json(sync_info(&name, &view).await?))
}

/// The reconciliation report of sync `name` ([`crate::sync::compare`]), made now on the runs'
/// runtime: 404 for a sync not configured (naming the configured ones), 409 for one that did
/// not load, 503 when a system of the sync could not be read (the message masked as logs are).
pub(in crate::admin) async fn reconciliation(
    view: &View,
    name: &str,
) -> Result<crate::sync::compare::Reconciliation, Failure> {
    check_sync(view, Some(name))?;
    let reconciler = view.reconciler.as_ref();
    let Some((engine, spec)) =
        reconciler.and_then(|r| Some((r.engine.clone(), r.specs.get(name)?.clone())))
    else {
        let why = match view.not_loaded.get(name) {
            Some(why) => format!("sync {name} did not load, so it cannot be reconciled: {why}"),
            None => format!("this server makes no reconciliation report of sync {name}"),
        };
        return Err(Failure(StatusCode::CONFLICT, why));
    };
    let made = crate::daemon::runs_runtime()
        .spawn(async move { engine.reconciliation(&spec).await })
        .await;
    match made {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the systems of sync {name} could not be read whole: {}",
                crate::logging::mask_personal(&format!("{e:#}"))
            ),
        )),
        Err(e) => Err(anyhow::anyhow!("the reconciliation of {name} panicked: {e}").into()),
    }
}

/// The reconciliation report of a sync: both systems read whole (within the sync's filter) and
/// compared record by record under each system's coding; counts first, then the records that
/// differ (masked keys, each system's own id, differing field names, never values). Nothing is
/// written to the systems or the state store. Takes as long as reading both systems.
#[utoipa::path(get, path = "/api/syncs/{name}/reconcile", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "the report", body = crate::sync::compare::Reconciliation),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load (the error says why)", body = ApiError),
    (status = 503, description = "a system of the sync could not be read", body = ApiError)))]
pub(super) async fn reconcile(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<crate::sync::compare::Reconciliation>, Failure> {
    let view = s.view();
    Ok(Json(reconciliation(&view, &name).await?))
}

/// The engine and the resolved spec of sync `name`, for a plan or a resync: 404 for a sync not
/// configured (naming the configured ones), 409 for one that did not load (`what` it cannot
/// do, and why).
fn loaded_sync(
    view: &View,
    name: &str,
    what: &str,
) -> Result<(crate::sync::Engine, crate::sync::SyncSpec), Failure> {
    check_sync(view, Some(name))?;
    let reconciler = view.reconciler.as_ref();
    reconciler
        .and_then(|r| Some((r.engine.clone(), r.specs.get(name)?.clone())))
        .ok_or_else(|| {
            let why = match view.not_loaded.get(name) {
                Some(why) => format!("sync {name} did not load, so it cannot {what}: {why}"),
                None => format!("this server cannot {what} sync {name}"),
            };
            Failure(StatusCode::CONFLICT, why)
        })
}

/// The plan of a run of a sync now (a dry run): both systems read from their cursors and
/// reconciled as a run would, then per direction the records to create, update, leave
/// unchanged, the echoes, dead letters, conflicts and parks, and per record (masked key) the
/// fields that would change with the rule that decided each (values masked). Nothing is written
/// to any system or to the state store (no run, cursor move, audit entry or dead letter), and
/// no lease is taken.
#[utoipa::path(post, path = "/api/syncs/{name}/plan", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "the plan", body = crate::sync::plan::Plan),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load (the error says why)", body = ApiError),
    (status = 503, description = "a system of the sync could not be read", body = ApiError)))]
pub(super) async fn plan(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<crate::sync::plan::Plan>, Failure> {
    let view = s.view();
    let (engine, spec) = loaded_sync(&view, &name, "be planned")?;
    let made = crate::daemon::runs_runtime()
        .spawn(async move { engine.plan(&spec).await })
        .await;
    match made {
        Ok(Ok(p)) => Ok(Json(p)),
        Ok(Err(e)) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "no plan of sync {name}: {}",
                crate::logging::mask_personal(&format!("{e:#}"))
            ),
        )),
        Err(e) => Err(anyhow::anyhow!("the plan of {name} panicked: {e}").into()),
    }
}

/// `?side=&since=` of `POST /api/syncs/{name}/resync` (read from the query string by
/// [`query_params`], so that an unknown parameter is an error).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResyncQuery {
    /// `a` or `b`: the side to read again (default: every side the sync reads from).
    #[param(value_type = Option<crate::store::Side>)]
    pub side: Option<String>,
    /// Only look at records changed at or after this time: RFC 3339, or a local time in the
    /// deployment's zone (`2026-12-01 08:00`; a date alone is its midnight).
    pub since: Option<String>,
}

/// Resync: read one side of a sync again from the beginning (or only the records changed since
/// a time) and sync what differs, matching records by natural key (none is created twice),
/// without moving the other side's cursor. Started now on the runs' runtime as a run with
/// trigger `resync SIDE`, holding the sync's lease; its progress and result show as a run's
/// (status page, `/api/runs`).
#[utoipa::path(post, path = "/api/syncs/{name}/resync", tag = "syncs", params(("name" = String, Path, description = "sync name"), ResyncQuery), responses(
    (status = 202, description = "the resync started", body = Done),
    (status = 400, description = "an unknown parameter, a side other than a or b, a time that is not one", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load, or runs in this daemon now", body = ApiError)))]
pub(super) async fn resync(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
) -> Result<(StatusCode, Json<Done>), Failure> {
    let view = s.view();
    let q = query_params(&uri, &["side", "since"])?;
    let (engine, spec) = loaded_sync(&view, &name, "be resynced")?;
    let r = crate::sync::resync::Resync::of(
        &spec,
        q.get("side").map(String::as_str),
        q.get("since").map(String::as_str),
        view.zone,
    )
    .map_err(bad_request)?;
    if engine.running_here(&name) {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("sync {name} is running now; resync it after this run ends"),
        ));
    }
    let trigger = r.trigger();
    tracing::info!(target: "hub::admin", sync = %name, %trigger, "admin API: resync started");
    let sync = name.clone();
    crate::daemon::runs_runtime().spawn(async move {
        match engine.resync(&spec, r).await {
            Ok(o) => tracing::info!(target: "hub::admin", sync = %sync, run = o.run_id, status = o.status.as_str(), "resync finished"),
            Err(e) => tracing::warn!(target: "hub::admin", sync = %sync, "resync not done: {e:#}"),
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(Done {
            message: format!(
                "{trigger} of {name} started; its progress shows on the status page and in /api/runs"
            ),
            sync: name,
        }),
    ))
}

/// What a control request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// The sync.
    pub sync: String,
    /// What happens now, for people.
    pub message: String,
}

fn known(s: &AdminState, name: &str) -> Result<(), Failure> {
    check_sync(&s.view(), Some(name))
}

/// Run a sync now (within a second; after a run in progress).
#[utoipa::path(post, path = "/api/syncs/{name}/trigger", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 202, description = "the run is requested", body = Done),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load (the error says why)", body = ApiError)))]
pub(super) async fn trigger(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Done>), Failure> {
    let view = s.view();
    known(&s, &name)?;
    if let Some(why) = view.not_loaded.get(&name) {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("sync {name} did not load, so it cannot run: {why}"),
        ));
    }
    view.store.request_trigger(&name).await?;
    tracing::info!(target: "hub::admin", sync = %name, "admin API: run requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(Done {
            message: format!(
                "run of {name} requested; it starts within a second (after a run in progress)"
            ),
            sync: name,
        }),
    ))
}

/// Pause a sync's schedule (fire times are skipped; manual triggers still run).
#[utoipa::path(post, path = "/api/syncs/{name}/pause", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "paused", body = Done),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError)))]
pub(super) async fn pause(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Done>, Failure> {
    let view = s.view();
    known(&s, &name)?;
    view.store.set_paused(&name, true).await?;
    tracing::info!(target: "hub::admin", sync = %name, "admin API: paused");
    Ok(Json(Done {
        message: format!("{name} paused: scheduled runs are skipped until resumed"),
        sync: name,
    }))
}

/// Resume a paused schedule (fire times skipped while paused are not caught up).
#[utoipa::path(post, path = "/api/syncs/{name}/resume", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "resumed", body = Done),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError)))]
pub(super) async fn resume(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Done>, Failure> {
    let view = s.view();
    known(&s, &name)?;
    view.store.set_paused(&name, false).await?;
    tracing::info!(target: "hub::admin", sync = %name, "admin API: resumed");
    Ok(Json(Done {
        message: format!("{name} resumed"),
        sync: name,
    }))
}
