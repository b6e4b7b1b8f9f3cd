//! MED-ROSTER's side-door, `/_admin/{Organization|Practitioner|PractitionerRole}[/{id}]`: read
//! every resource, create, merge-patch and delete directly, without validation (so a test can
//! plant a resource that breaks the rules) and without counting as connector writes. A create
//! or patch is a new version with a new `meta.lastUpdated`, as a clerk's save in the roster's
//! own screens would be; `meta.lastUpdated` in the body sets that time instead.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::MedState;
use super::store::{self, Kind};
use crate::gate::lock;

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({"error": msg}))).into_response()
}

fn kind(name: &str) -> Result<Kind, Response> {
    Kind::parse(name).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such resource type"))
}

/// The body as a JSON object, with `meta.lastUpdated` taken out (as Unix milliseconds).
fn admin_body(body: &Bytes) -> Result<(Map<String, Value>, Option<i64>), Response> {
    let bad = |msg: &str| error(StatusCode::UNPROCESSABLE_ENTITY, msg);
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad("the body must be a JSON object"));
    };
    if fields.contains_key("id") {
        return Err(bad("id cannot be set"));
    }
    let at = match fields
        .get_mut("meta")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove("lastUpdated"))
    {
        None => None,
        Some(v) => match v
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        {
            Some(t) => Some(t.timestamp_millis()),
            None => return Err(bad("meta.lastUpdated must be an RFC 3339 instant")),
        },
    };
    Ok((fields, at))
}

/// RFC 7386 JSON merge patch: objects merge member by member, `null` removes, anything else
/// replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (_, Some(_)) => {
            *target = Value::Object(Map::new());
            merge_patch(target, patch);
        }
        _ => *target = patch.clone(),
    }
}

/// `GET /_admin/seed` → the seeded organisations (`id`, `name`, `uscc`, `host`) and counts.
pub(super) async fn seed(State(st): State<Arc<MedState>>) -> Response {
    Json(st.seed_facts.clone()).into_response()
}

/// `GET /_admin/{type}` → every live resource of the type, by id, as the API shows it.
pub(super) async fn list(State(st): State<Arc<MedState>>, Path(name): Path<String>) -> Response {
    let k = match kind(&name) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    let items: Vec<Value> = data.all(k).map(|(_, e)| e.current().clone()).collect();
    Json(items).into_response()
}

/// `GET /_admin/{type}/{id}` → the resource, or 404 (also once deleted).
pub(super) async fn get(
    State(st): State<Arc<MedState>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let k = match kind(&name) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    match data.get(k, &id).filter(|e| !e.deleted) {
        Some(e) => Json(e.current().clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `POST /_admin/{type}` → 201 with the resource as stored (any content, next id, version 1).
pub(super) async fn create(
    State(st): State<Arc<MedState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let (k, (fields, at)) = match kind(&name).and_then(|k| Ok((k, admin_body(&body)?))) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let id = data.create(k, fields, at);
    let e = data.get(k, &id).expect("just created");
    (StatusCode::CREATED, Json(e.current().clone())).into_response()
}

/// `PATCH /_admin/{type}/{id}` with a JSON merge patch → 200 with the new version.
pub(super) async fn patch(
    State(st): State<Arc<MedState>>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (k, (patch, at)) = match kind(&name).and_then(|k| Ok((k, admin_body(&body)?))) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let Some(e) = data.get(k, &id).filter(|e| !e.deleted) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let mut content = Value::Object(store::content(e.current()));
    let mut patch = Value::Object(patch);
    if patch
        .get("meta")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        patch.as_object_mut().expect("an object").remove("meta");
    }
    merge_patch(&mut content, &patch);
    let Value::Object(content) = content else {
        unreachable!("patched an object")
    };
    data.update(k, &id, content, at);
    let e = data.get(k, &id).expect("exists");
    Json(e.current().clone()).into_response()
}

/// `DELETE /_admin/{type}/{id}` → 204; the API answers 410 Gone for it from now on.
pub(super) async fn delete(
    State(st): State<Arc<MedState>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let k = match kind(&name) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    if lock(&st.data).delete(k, &id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "not found")
    }
}
