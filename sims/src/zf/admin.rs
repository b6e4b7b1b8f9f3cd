//! ZF-REG's side-door: `/_admin/workers[/{登记编号}]` and `/_admin/jobs[/{id}]`, no token,
//! no validation, not counted as connector writes.
//!
//! Workers are objects keyed by the Chinese column names with the raw stored strings; a POST
//! may give any of the columns but 登记编号 (assigned; 登记日期 defaults to today, the others to
//! empty), a PATCH any of them but 登记编号. 更新时间 may be given (`yyyy-MM-dd HH:mm:ss`);
//! otherwise it is now. Jobs use the field names `/api/job/list` shows; `id` is assigned and
//! `gxsj` works as 更新时间 does. DELETE removes the record (the registry itself has no deletes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::ZfState;
use super::store::{JOB_FIELDS, Resident, col};
use crate::clock;
use crate::gate::lock;
use crate::seed::COLUMNS;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn unprocessable(message: impl Into<String>) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// Which side-door collection a path names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Workers,
    Jobs,
}

fn kind(name: &str) -> Result<Kind, Response> {
    match name {
        "workers" => Ok(Kind::Workers),
        "jobs" => Ok(Kind::Jobs),
        _ => Err(error(StatusCode::NOT_FOUND, "no such collection")),
    }
}

fn object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(unprocessable("the body must be a JSON object")),
    }
}

/// A patch of resident columns: column index → new raw string. 登记编号 and unknown keys are
/// refused, values must be strings; 更新时间 must be `yyyy-MM-dd HH:mm:ss`.
fn resident_patch(body: Map<String, Value>) -> Result<Vec<(usize, String)>, Response> {
    body.into_iter()
        .map(|(k, v)| {
            let i = COLUMNS
                .iter()
                .position(|c| *c == k)
                .ok_or_else(|| unprocessable(format!("unknown column {k}")))?;
            if i == col::DJBH {
                return Err(unprocessable("登记编号 is assigned and cannot be changed"));
            }
            let Value::String(s) = v else {
                return Err(unprocessable(format!("{k} must be a string")));
            };
            if i == col::GXSJ && clock::parse_local_datetime(&s).is_none() {
                return Err(unprocessable("更新时间 must be yyyy-MM-dd HH:mm:ss"));
            }
            Ok((i, s))
        })
        .collect()
}

/// A job patch: any fields but `id`; `gxsj` taken out as the update time.
fn job_patch(mut body: Map<String, Value>) -> Result<(Map<String, Value>, Option<i64>), Response> {
    if body.contains_key("id") {
        return Err(unprocessable("id is assigned and cannot be changed"));
    }
    let updated = match body.remove("gxsj") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(clock::parse_local_datetime)
                .ok_or_else(|| unprocessable("gxsj must be yyyy-MM-dd HH:mm:ss"))?,
        ),
    };
    Ok((body, updated))
}

/// `GET /_admin/seed` → `{"scale", "seed", "residents", "valid_in_441303", "in_441303",
/// "broken": [{"djbh", "defect"}], "legacy_15_digit": [登记编号…]}`.
pub(super) async fn seed(State(st): State<Arc<ZfState>>) -> Response {
    Json(st.seed_facts.clone()).into_response()
}

/// `GET /_admin/{workers|jobs}` → every record (workers by 登记编号, jobs by id).
pub(super) async fn list(State(st): State<Arc<ZfState>>, Path(name): Path<String>) -> Response {
    let k = match kind(&name) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    match k {
        Kind::Workers => Json(data.residents().collect::<Vec<_>>()).into_response(),
        Kind::Jobs => Json(data.jobs()).into_response(),
    }
}

/// `GET /_admin/workers/{登记编号}` or `/_admin/jobs/{id}` → the record, or 404.
pub(super) async fn get(
    State(st): State<Arc<ZfState>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let k = match kind(&name) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    let found = match k {
        Kind::Workers => data.resident(&id).map(|r| Json(r).into_response()),
        Kind::Jobs => id
            .parse()
            .ok()
            .and_then(|id| data.job(id))
            .map(|j| Json(j).into_response()),
    };
    found.unwrap_or_else(not_found)
}

/// `POST /_admin/{workers|jobs}` → 201 with the record created.
pub(super) async fn create(
    State(st): State<Arc<ZfState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let (k, body) = match kind(&name).and_then(|k| Ok((k, object(&body)?))) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    match k {
        Kind::Workers => {
            let patch = match resident_patch(body) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            let now = data.clock.now();
            let mut cols: [String; 14] = Default::default();
            cols[col::DJBH] = data.next_djbh(now);
            cols[col::DJRQ] = clock::local_date(now);
            cols[col::GXSJ] = clock::local_datetime(now);
            for (i, v) in patch {
                cols[i] = v;
            }
            let updated = clock::parse_local_datetime(&cols[col::GXSJ]).expect("checked");
            let resident = Resident { cols, updated };
            let djbh = resident.djbh().to_string();
            data.insert(resident);
            (StatusCode::CREATED, Json(data.resident(&djbh))).into_response()
        }
        Kind::Jobs => {
            let (mut fields, updated) = match job_patch(body) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            for f in JOB_FIELDS {
                fields.entry(f).or_insert(Value::Null);
            }
            let updated = updated.unwrap_or_else(|| data.clock.now());
            (StatusCode::CREATED, Json(data.add_job(fields, updated))).into_response()
        }
    }
}

/// `PATCH /_admin/{workers|jobs}/{id}` → 200 with the record: fields merged, update time bumped
/// unless given.
pub(super) async fn patch(
    State(st): State<Arc<ZfState>>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (k, body) = match kind(&name).and_then(|k| Ok((k, object(&body)?))) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    match k {
        Kind::Workers => {
            let patch = match resident_patch(body) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            let Some(current) = data.resident(&id) else {
                return not_found();
            };
            let mut cols = current.cols.clone();
            let given_time = patch.iter().any(|(i, _)| *i == col::GXSJ);
            for (i, v) in patch {
                cols[i] = v;
            }
            if !given_time {
                cols[col::GXSJ] = clock::local_datetime(data.clock.now());
            }
            let updated = clock::parse_local_datetime(&cols[col::GXSJ]).expect("checked");
            data.insert(Resident { cols, updated });
            Json(data.resident(&id)).into_response()
        }
        Kind::Jobs => {
            let (patch, updated) = match job_patch(body) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            let Some(current) = id.parse().ok().and_then(|id| data.job(id)) else {
                return not_found();
            };
            let (id, mut fields) = (current.id, current.fields.clone());
            fields.extend(patch);
            let updated = updated.unwrap_or_else(|| data.clock.now());
            Json(data.replace_job(id, fields, updated)).into_response()
        }
    }
}

/// `DELETE /_admin/{workers|jobs}/{id}` → 204, the record removed; 404.
pub(super) async fn delete(
    State(st): State<Arc<ZfState>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let k = match kind(&name) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let mut data = lock(&st.data);
    let removed = match k {
        Kind::Workers => data.remove(&id).is_some(),
        Kind::Jobs => id.parse().ok().and_then(|id| data.remove_job(id)).is_some(),
    };
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found()
    }
}
