//! HY-ESMS's side-door, `/_admin/{collection}[/{id}]`: read everything (soft-deleted records
//! included), create, merge-patch and delete records directly, without validation (so a test
//! can plant a record that breaks the schema) and without counting them as connector writes.
//!
//! Records are shown exactly as the API shows them. In a POST or PATCH body, `id` cannot be set
//! and `updatedAt` may be given (RFC 3339) to set the update time; otherwise it is now.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::sync::Arc;

use super::HyState;
use super::api::error;
use super::model::Collection;
use crate::clock;
use crate::gate::lock;

fn collection(name: &str) -> Result<Collection, Response> {
    Collection::parse(name).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such collection"))
}

/// The body as a JSON object with `id` refused and `updatedAt` taken out (as Unix seconds).
fn admin_body(body: &Bytes) -> Result<(Map<String, Value>, Option<i64>), Response> {
    let bad = |msg: &str| error(StatusCode::UNPROCESSABLE_ENTITY, msg);
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad("the body must be a JSON object"));
    };
    if fields.contains_key("id") {
        return Err(bad("id cannot be set"));
    }
    let updated = match fields.remove("updatedAt") {
        None => None,
        Some(v) => match v.as_str().and_then(clock::parse_rfc3339_millis) {
            Some(ms) => Some(ms.div_euclid(1000)),
            None => return Err(bad("updatedAt must be an RFC 3339 date-time")),
        },
    };
    Ok((fields, updated))
}

/// `GET /_admin/seed` → record counts per collection at start.
pub(super) async fn seed(State(st): State<Arc<HyState>>) -> Response {
    Json(st.seed_counts.clone()).into_response()
}

/// `GET /_admin/{collection}` → every record by id, soft-deleted ones included.
pub(super) async fn list(State(st): State<Arc<HyState>>, Path(name): Path<String>) -> Response {
    let c = match collection(&name) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    let items: Vec<_> = data.tables[c].rows().iter().map(|r| r.item(c)).collect();
    Json(items).into_response()
}

/// `GET /_admin/{collection}/{id}` → the record, or 404.
pub(super) async fn get(
    State(st): State<Arc<HyState>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let c = match collection(&name) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    match id.parse().ok().and_then(|id| data.tables[c].get(id)) {
        Some(r) => Json(r.item(c)).into_response(),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `POST /_admin/{collection}` → 201 with the record: any fields, missing contract fields null
/// (`deleted` false, `honours` empty), next id.
pub(super) async fn create(
    State(st): State<Arc<HyState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let (c, (mut fields, updated)) =
        match collection(&name).and_then(|c| Ok((c, admin_body(&body)?))) {
            Ok(v) => v,
            Err(resp) => return resp,
        };
    c.fill_defaults(&mut fields);
    let mut data = lock(&st.data);
    let data = &mut *data;
    let updated = updated.unwrap_or_else(|| data.clock.now());
    let record = data.tables[c].insert(c, fields, updated);
    (StatusCode::CREATED, Json(record.item(c))).into_response()
}

/// `PATCH /_admin/{collection}/{id}` → 200 with the record: the given fields merged in (any
/// value, any key), `updatedAt` bumped unless given.
pub(super) async fn patch(
    State(st): State<Arc<HyState>>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (c, (patch, updated)) = match collection(&name).and_then(|c| Ok((c, admin_body(&body)?))) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let data = &mut *data;
    let Some(current) = id.parse().ok().and_then(|id| data.tables[c].get(id)) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let (id, mut fields) = (current.id, current.fields.clone());
    fields.extend(patch);
    let updated = updated.unwrap_or_else(|| data.clock.now());
    let record = data.tables[c]
        .replace(c, id, fields, updated)
        .expect("found above");
    Json(record.item(c)).into_response()
}

/// `DELETE /_admin/{collection}/{id}` → 204: a soft delete for the writable collections (new
/// `updatedAt`), removal for enterprises and jobs (which have no `deleted` field).
pub(super) async fn delete(
    State(st): State<Arc<HyState>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let c = match collection(&name) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let data = &mut *data;
    let Some(current) = id.parse().ok().and_then(|id| data.tables[c].get(id)) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let id = current.id;
    if c.writable() {
        let mut fields = current.fields.clone();
        fields.insert("deleted".into(), Value::Bool(true));
        let now = data.clock.now();
        data.tables[c].replace(c, id, fields, now);
    } else {
        data.tables[c].remove(c, id);
    }
    StatusCode::NO_CONTENT.into_response()
}
