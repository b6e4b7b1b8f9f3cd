//! `/api/v1/{collection}`: paged reads of every collection, and writes (POST, PUT, DELETE) of
//! zhenfeng-workers, referrals and secondments.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;

use super::HyState;
use super::model::{Collection, Invalid, Item, Write, validate};
use crate::clock;
use crate::counters::Outcome;
use crate::gate::lock;

/// `{"error": message}` with a status.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn unprocessable(e: Invalid) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": e.error, "field": e.field})),
    )
        .into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// Refuses a request without the right `X-Api-Key`: 401 `{"error":"unauthorized"}`.
pub(super) async fn auth(State(st): State<Arc<HyState>>, req: Request, next: Next) -> Response {
    match req.headers().get("x-api-key") {
        Some(key) if key.as_bytes() == st.api_key.as_bytes() => next.run(req).await,
        _ => error(StatusCode::UNAUTHORIZED, "unauthorized"),
    }
}

/// Routes the contract does not have (`GET /api/v1/{collection}/{id}`): 404.
pub(super) async fn no_such_route() -> Response {
    not_found()
}

/// `GET /api/v1/{collection}?updatedSince=&page=&size=` →
/// `{"total", "page", "size", "items"}`, items sorted by `updatedAt` then `id`.
pub(super) async fn list(
    State(st): State<Arc<HyState>>,
    Path(collection): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(collection) = Collection::parse(&collection) else {
        return not_found();
    };
    let param = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let invalid = |field: &str, error: &str| {
        unprocessable(Invalid {
            error: error.into(),
            field: Some(field.into()),
        })
    };
    let page = match param("page").map(str::parse::<u64>) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return invalid("page", "page must be an integer >= 1"),
    };
    let size = match param("size").map(str::parse::<u64>) {
        None => 100,
        Some(Ok(s)) if (1..=500).contains(&s) => s,
        Some(_) => return invalid("size", "size must be an integer from 1 to 500"),
    };
    let since_ms = match param("updatedSince").map(clock::parse_rfc3339_millis) {
        None => i64::MIN,
        Some(Some(t)) => t,
        Some(None) => {
            return invalid(
                "updatedSince",
                "updatedSince must be an RFC 3339 date-time, e.g. 2021-09-02T10:00:00+08:00",
            );
        }
    };

    let data = lock(&st.data);
    let mut rows: Vec<_> = data.tables[collection]
        .rows()
        .iter()
        .filter(|r| r.updated.saturating_mul(1000) >= since_ms)
        .collect();
    rows.sort_by_key(|r| (r.updated, r.id));
    let total = rows.len();
    let start = usize::try_from((page - 1).saturating_mul(size))
        .unwrap_or(usize::MAX)
        .min(total);
    let end = start.saturating_add(size as usize).min(total);
    let items: Vec<_> = rows[start..end]
        .iter()
        .map(|r| r.item(collection))
        .collect();
    Json(Page {
        total,
        page,
        size,
        items,
    })
    .into_response()
}

/// One page of a collection (items keep the contract's field order).
#[derive(Serialize)]
struct Page<'a> {
    total: usize,
    page: u64,
    size: u64,
    items: Vec<Item<'a>>,
}

fn parse_body(body: &Bytes) -> Result<Value, Invalid> {
    serde_json::from_slice(body).map_err(|e| Invalid {
        error: format!("the body is not JSON: {e}"),
        field: None,
    })
}

/// The collection of a write route, or the response refusing it.
fn writable(collection: &str) -> Result<Collection, Response> {
    match Collection::parse(collection) {
        None => Err(not_found()),
        Some(c) if !c.writable() => {
            Err(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"))
        }
        Some(c) => Ok(c),
    }
}

/// `If-Unmodified-Since`, if given: Unix milliseconds, or the 422 for an unreadable date.
fn precondition(headers: &HeaderMap) -> Result<Option<i64>, Invalid> {
    let Some(v) = headers.get(header::IF_UNMODIFIED_SINCE) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(clock::parse_precondition_millis)
        .map(Some)
        .ok_or_else(|| Invalid {
            error: "If-Unmodified-Since must be an RFC 3339 date-time or an HTTP-date".into(),
            field: Some("If-Unmodified-Since".into()),
        })
}

/// `POST /api/v1/{collection}` → 201 with the stored item; 409 `{"error":"duplicate idNo",
/// "id"}` for a worker whose `idNo` is taken (soft-deleted records included); 422 on validation.
pub(super) async fn create(
    State(st): State<Arc<HyState>>,
    Path(collection): Path<String>,
    body: Bytes,
) -> Response {
    let collection = match writable(&collection) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let data = &mut *data;
    let jobs = &data.tables[Collection::Jobs];
    let fields = match parse_body(&body).and_then(|b| {
        validate(collection, &b, Write::Create, false, |id| {
            jobs.get(id).is_some()
        })
    }) {
        Ok(f) => f,
        Err(e) => {
            lock(&st.gate.counters).record(collection.name(), Outcome::Rejected);
            return unprocessable(e);
        }
    };
    let key = collection.natural_key(&fields);
    if collection == Collection::Workers
        && let Some(id) = data.tables[collection].holder(&key, None)
    {
        lock(&st.gate.counters).record(collection.name(), Outcome::DuplicateRefused);
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "duplicate idNo", "id": id})),
        )
            .into_response();
    }
    let now = data.clock.now();
    let record = data.tables[collection].insert(collection, fields, now);
    lock(&st.gate.counters).created(collection.name(), key);
    (StatusCode::CREATED, Json(record.item(collection))).into_response()
}

/// `PUT /api/v1/{collection}/{id}` with the whole item → 200 with the stored item; 404; 422;
/// 412 when `If-Unmodified-Since` is earlier than the stored `updatedAt`; 409 when a worker's
/// new `idNo` belongs to another worker.
pub(super) async fn replace(
    State(st): State<Arc<HyState>>,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let collection = match writable(&collection) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let data = &mut *data;
    let count = |outcome| lock(&st.gate.counters).record(collection.name(), outcome);
    let Some(current) = id
        .parse()
        .ok()
        .and_then(|id| data.tables[collection].get(id))
    else {
        count(Outcome::NotFound);
        return not_found();
    };
    let (id, updated, deleted) = (current.id, current.updated, current.deleted());
    let jobs = &data.tables[Collection::Jobs];
    let checked = parse_body(&body)
        .and_then(|b| {
            validate(collection, &b, Write::Replace(id), deleted, |id| {
                jobs.get(id).is_some()
            })
        })
        .and_then(|fields| Ok((fields, precondition(&headers)?)));
    let fields = match checked {
        Ok((_, Some(since))) if updated.saturating_mul(1000) > since => {
            count(Outcome::Conflict);
            return error(StatusCode::PRECONDITION_FAILED, "precondition failed");
        }
        Ok((fields, _)) => fields,
        Err(e) => {
            count(Outcome::Rejected);
            return unprocessable(e);
        }
    };
    if collection == Collection::Workers
        && let Some(other) =
            data.tables[collection].holder(&collection.natural_key(&fields), Some(id))
    {
        count(Outcome::DuplicateRefused);
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "duplicate idNo", "id": other})),
        )
            .into_response();
    }
    let now = data.clock.now();
    let record = data.tables[collection]
        .replace(collection, id, fields, now)
        .expect("found above");
    count(Outcome::Updated);
    (StatusCode::OK, Json(record.item(collection))).into_response()
}

/// `DELETE /api/v1/{collection}/{id}` → 204, a soft delete (`deleted: true`, new `updatedAt`;
/// deleting a deleted record changes nothing); 404; 412 as for PUT.
pub(super) async fn delete(
    State(st): State<Arc<HyState>>,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let collection = match writable(&collection) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let data = &mut *data;
    let count = |outcome| lock(&st.gate.counters).record(collection.name(), outcome);
    let Some(current) = id
        .parse()
        .ok()
        .and_then(|id| data.tables[collection].get(id))
    else {
        count(Outcome::NotFound);
        return not_found();
    };
    match precondition(&headers) {
        Err(e) => {
            count(Outcome::Rejected);
            return unprocessable(e);
        }
        Ok(Some(since)) if current.updated.saturating_mul(1000) > since => {
            count(Outcome::Conflict);
            return error(StatusCode::PRECONDITION_FAILED, "precondition failed");
        }
        Ok(_) => {}
    }
    if !current.deleted() {
        let (id, mut fields) = (current.id, current.fields.clone());
        fields.insert("deleted".into(), Value::Bool(true));
        let now = data.clock.now();
        data.tables[collection].replace(collection, id, fields, now);
    }
    count(Outcome::Deleted);
    StatusCode::NO_CONTENT.into_response()
}
