//! The conflicts: the list, one by id, and a person's decision on one ([`decide`], shared with
//! the conflict page's form), which is written with its audit entries in one transaction.

use crate::admin::errors::{
    ApiError, Failure, bad_request, check_history_sync, not_found, path_id, query_bool,
    query_params,
};
use crate::admin::security::Principal;
use crate::admin::{AdminState, View};
use crate::store::ConflictStatus;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `?sync=&all=` of the conflicts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictsQuery {
    /// Only this sync (configured, or removed from the configuration with runs in the history).
    pub sync: Option<String>,
    /// Resolved conflicts too (default: open ones only).
    pub all: Option<bool>,
}

/// Conflicts, newest first: keys whose write a system refused because its record changed since
/// it was read. Each run tries again under the merge policy until a person takes a side.
#[utoipa::path(get, path = "/api/conflicts", tag = "conflicts", params(ConflictsQuery), responses(
    (status = 200, description = "conflicts", body = Vec<crate::store::Conflict>),
    (status = 400, description = "bad parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync in the configuration or the run history (the error lists the configured ones and the removed ones with a history)", body = ApiError)))]
pub(super) async fn list_conflicts(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<crate::store::Conflict>>, Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync", "all"])?;
    let all = query_bool(&q, "all")?.unwrap_or(false);
    let sync = q.get("sync").map(String::as_str);
    check_history_sync(&view, sync).await?;
    Ok(Json(view.store.conflicts(sync, all).await?))
}

/// One conflict (masked key).
#[utoipa::path(get, path = "/api/conflicts/{id}", tag = "conflicts", params(("id" = i64, Path, description = "conflict id")), responses(
    (status = 200, description = "the conflict", body = crate::store::Conflict),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such conflict", body = ApiError)))]
pub(super) async fn get_conflict(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<crate::store::Conflict>, Failure> {
    let id = path_id("conflict", &id)?;
    let view = s.view();
    view.store
        .conflict(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(format!("no conflict {id}")))
}

/// A person's decision on a conflict: JSON `{"take": "a" | "b", "replace": false}` (a side's
/// record whole) or `{"fields": {"/phone": "b", "/name": "a"}, "reason": "...", "replace":
/// false}` (field by field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// The side whose record the next run takes whole and writes to the other side.
    pub take: Option<crate::store::Side>,
    /// Field by field instead: each field's JSON pointer (RFC 6901) with the side whose value
    /// the next run takes. Only fields whose values differ may be named, and every field that
    /// parked the record must be; the others follow the sync's rules.
    #[schema(value_type = Option<BTreeMap<String, crate::store::Side>>)]
    pub fields: Option<BTreeMap<String, crate::store::Side>>,
    /// Why (kept with the decision and in the audit log, masked as logs are; at most 500
    /// characters).
    pub reason: Option<String>,
    /// Replace a decision taken earlier that the next run has not yet applied (default
    /// false: a second decision is refused with 409, so two people cannot overrule each other
    /// unknowingly).
    #[serde(default)]
    pub replace: bool,
}

/// The fields of a resolution body, for error messages.
const RESOLUTION_SHAPE: &str = "{\"take\": \"a\"} or {\"take\": \"b\"}, or {\"fields\": {\"/pointer\": \"a\" | \"b\", ...}, \"reason\": \"...\"}, with \"replace\": true to change an earlier decision";

/// The longest reason a decision keeps, in characters.
pub(in crate::admin) const MOST_REASON: usize = 500;

/// Reads a [`Resolution`] from a request body (RFC 8259 JSON, `Content-Type:
/// application/json`): 415 for another content type, 400 for text that is not JSON (with its
/// line and column), 422 naming the field that is missing, unknown or of the wrong value.
fn resolution_of(headers: &HeaderMap, body: &[u8]) -> Result<Resolution, Failure> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(Failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be JSON sent with Content-Type: application/json, such as {RESOLUTION_SHAPE}"
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        bad_request(format!(
            "the body is not JSON (line {}, column {}); send {RESOLUTION_SHAPE}",
            e.line(),
            e.column()
        ))
    })?;
    let unprocessable = |m: String| Failure(StatusCode::UNPROCESSABLE_ENTITY, m);
    let Some(fields) = value.as_object() else {
        return Err(unprocessable(format!(
            "the body must be a JSON object: {RESOLUTION_SHAPE}"
        )));
    };
    if let Some(k) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "take" | "replace" | "fields" | "reason"))
    {
        return Err(unprocessable(format!(
            "unknown field {k:?} in the body; it takes {RESOLUTION_SHAPE}"
        )));
    }
    let side_of = |v: &serde_json::Value| match v.as_str() {
        Some("a") => Some(crate::store::Side::A),
        Some("b") => Some(crate::store::Side::B),
        _ => None,
    };
    let take = match fields.get("take") {
        None => None,
        Some(t) => Some(side_of(t).ok_or_else(|| {
            unprocessable(format!(
                "\"take\" must be \"a\" or \"b\" (the side whose record is kept), not {t}"
            ))
        })?),
    };
    let chosen = match fields.get("fields") {
        None => None,
        Some(serde_json::Value::Object(m)) if !m.is_empty() => {
            let mut out = BTreeMap::new();
            for (ptr, v) in m {
                let side = side_of(v).ok_or_else(|| {
                    unprocessable(format!(
                        "\"fields\"/{ptr:?} must be \"a\" or \"b\" (the side whose value is kept), not {v}"
                    ))
                })?;
                out.insert(ptr.clone(), side);
            }
            Some(out)
        }
        Some(v) => {
            return Err(unprocessable(format!(
                "\"fields\" must be an object of at least one JSON pointer with \"a\" or \"b\", such as {{\"/phone\": \"b\"}}, not {v}"
            )));
        }
    };
    match (&take, &chosen) {
        (None, None) => {
            return Err(unprocessable(format!(
                "the body has no \"take\" or \"fields\": say which side's record or which fields to keep, {RESOLUTION_SHAPE}"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(unprocessable(
                "the body has both \"take\" and \"fields\": a decision takes a side's record whole or chooses fields, not both".into(),
            ));
        }
        _ => {}
    }
    let reason = match fields.get("reason") {
        None => None,
        Some(serde_json::Value::String(r)) if r.chars().count() <= MOST_REASON => {
            Some(r.trim().to_string()).filter(|r| !r.is_empty())
        }
        Some(v) => {
            return Err(unprocessable(format!(
                "\"reason\" must be text of at most {MOST_REASON} characters, not {}",
                if v.is_string() {
                    "a longer text".to_string()
                } else {
                    v.to_string()
                }
            )));
        }
    };
    let replace = match fields.get("replace") {
        None => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(v) => {
            return Err(unprocessable(format!(
                "\"replace\" must be true or false, not {v}"
            )));
        }
    };
    Ok(Resolution {
        take,
        fields: chosen,
        reason,
        replace,
    })
}

/// The two systems of a sync for people: each side's short system name (`ZF-REG`, from its
/// connector's manifest) or, without a loaded sync, its plugin's name.
pub(in crate::admin) fn system_names(view: &View, sync: &str) -> [String; 2] {
    let spec = view.reconciler.as_ref().and_then(|r| r.specs.get(sync));
    let configured = view.syncs.get(sync);
    [crate::store::Side::A, crate::store::Side::B].map(|side| {
        let plugin = configured.map_or_else(
            || side.as_str().to_string(),
            |v| {
                if side == crate::store::Side::A {
                    v.a.plugin.clone()
                } else {
                    v.b.plugin.clone()
                }
            },
        );
        match spec {
            Some(spec) => crate::sync::decide::system_name(&spec.endpoint(side).plugin, &plugin),
            None => plugin,
        }
    })
}

/// The `a` and `b` plugin names of `sync` when it is configured (see
/// [`crate::sync::decide::person_entry`]).
pub(in crate::admin) fn sync_plugins<'v>(view: &'v View, sync: &str) -> Option<[&'v str; 2]> {
    view.syncs
        .get(sync)
        .map(|v| [v.a.plugin.as_str(), v.b.plugin.as_str()])
}

/// The record of conflict `c` field by field, when its sync is loaded on this server.
pub(in crate::admin) async fn conflict_record(
    view: &View,
    c: &crate::store::Conflict,
) -> Result<Option<crate::sync::decide::ConflictRecord>, Failure> {
    let Some(r) = view.reconciler.as_ref() else {
        return Ok(None);
    };
    let Some(spec) = r.specs.get(&c.sync) else {
        return Ok(None);
    };
    Ok(r.engine.conflict_record(spec, &c.key_hash).await?)
}

/// Records a person's decision on conflict `id` (shared by the API and the page): 404 for no
/// such conflict, 409 when it is not open or already has a decision and `r.replace` is false,
/// 400 naming a field the record does not have (or whose values do not differ) or a parked
/// field the decision leaves out. The decision and its audit entries (one per system the
/// decision changes: who, which fields or side, the reason masked) commit together.
pub(in crate::admin) async fn decide(
    view: &View,
    id: i64,
    r: &Resolution,
    who: &Principal,
) -> Result<crate::store::Conflict, Failure> {
    use crate::store::Decision;
    let c = view
        .store
        .conflict(id)
        .await?
        .ok_or_else(|| not_found(format!("no conflict {id}")))?;
    if c.status != ConflictStatus::Open {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("conflict {id} is {}, not open", c.status),
        ));
    }
    if let (Some(said), false) = (c.decision(), r.replace) {
        let by = c
            .decided_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        let resend = match r.take {
            Some(t) => format!("{{\"take\": \"{}\", \"replace\": true}}", t.as_str()),
            None => "the same body with \"replace\": true".to_string(),
        };
        return Err(Failure(
            StatusCode::CONFLICT,
            format!(
                "conflict {id} already has a decision ({said}{by}), which the next run applies; send {resend} to replace it"
            ),
        ));
    }
    let decision = match (&r.take, &r.fields) {
        (Some(t), _) => Decision::Take(*t),
        (None, Some(f)) => {
            let Some(record) = conflict_record(view, &c).await? else {
                return Err(Failure(
                    StatusCode::CONFLICT,
                    format!(
                        "sync {} is not loaded on this server, so conflict {id}'s fields cannot be checked; take a side's record whole instead",
                        c.sync
                    ),
                ));
            };
            let choosable = record.choosable();
            if let Some(bad) = f.keys().find(|p| !choosable.contains(&p.as_str())) {
                let what = if record.fields.iter().any(|x| x.pointer == *bad) {
                    "holds the same value on both sides"
                } else {
                    "is not a field of this record"
                };
                return Err(bad_request(format!(
                    "field {bad:?} in the decision {what}; conflict {id}'s fields whose values differ are {}",
                    choosable.join(", ")
                )));
            }
            if let Some(missing) = record.parked().into_iter().find(|p| !f.contains_key(*p)) {
                return Err(bad_request(format!(
                    "the decision leaves out field {missing:?}, which parked the record: choose a side for each of {}",
                    record.parked().join(", ")
                )));
            }
            Decision::Fields(f.clone())
        }
        (None, None) => unreachable!("resolution_of refuses a body with neither"),
    };
    let (detail, open) = crate::sync::decide::record_decision(
        &view.store,
        sync_plugins(view, &c.sync),
        &c,
        &decision,
        &who.name,
        r.reason.as_deref(),
    )
    .await?;
    if !open {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("conflict {id} is no longer open"),
        ));
    }
    tracing::info!(target: "hub::admin", conflict = id, sync = %c.sync, token = %who.name, decision = %detail, replaced = c.decision().is_some(), "admin API: conflict decided by a person");
    view.store
        .conflict(id)
        .await?
        .ok_or_else(|| not_found(format!("no conflict {id}")))
}

/// Resolve an open conflict: take one side (its record whole at a key the systems never agreed
/// on; at a settled key its value of each field a system changed since, the other fields by
/// the sync's rules), or choose field by field (the merged record goes to each side it differs
/// from). The sync's next run writes it, and the
/// conflict closes when that write succeeds. A second decision before that run is refused
/// (409) unless it says `"replace": true`. Needs an operator token (403 for a viewer). The
/// audit log records who decided what.
#[utoipa::path(post, path = "/api/conflicts/{id}/resolve", tag = "conflicts", params(("id" = i64, Path, description = "conflict id")), request_body = Resolution, responses(
    (status = 202, description = "the decision waits for the next run", body = crate::store::Conflict),
    (status = 400, description = "the body is not JSON, the id is not a number, a field named is not one whose values differ, or a parked field is left out", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 403, description = "the token's role is not operator", body = ApiError),
    (status = 404, description = "no such conflict", body = ApiError),
    (status = 409, description = "the conflict is already resolved, or already has a decision and the body does not say \"replace\": true", body = ApiError),
    (status = 415, description = "the body is not application/json", body = ApiError),
    (status = 422, description = "the body is not {\"take\": \"a\" | \"b\"} or {\"fields\": {...}, \"reason\": \"...\"} with \"replace\": bool", body = ApiError)))]
pub(super) async fn resolve_conflict(
    State(s): State<AdminState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<crate::store::Conflict>), Failure> {
    let id = path_id("conflict", &id)?;
    let r = resolution_of(&headers, &body)?;
    let view = s.view();
    let c = decide(&view, id, &r, &who).await?;
    Ok((StatusCode::ACCEPTED, Json(c)))
}
