//! MED-ROSTER's FHIR REST API under `/fhir`: `metadata`, search (searchset Bundles with `next`
//! links), read and vread, create (conditional with `If-None-Exist`), update (versioned with
//! `If-Match`). Every error is an `OperationOutcome`. The write rules ([`create_in`],
//! [`update_in`]) are shared with Bundle entries (`super::bundle`).

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::rules::{self, Refusal};
use super::store::{self, Kind, MedData, Search};
use super::{MedState, fhir, outcome, outcome_at};
use crate::counters::{Counters, Outcome};
use crate::gate::lock;

/// Refuses a request without `Authorization: Bearer <token>` (scheme in any case): 401 with an
/// `OperationOutcome` (issue `login`) and `WWW-Authenticate: Bearer`.
pub(super) async fn auth(State(st): State<Arc<MedState>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if given == Some(st.token.as_str()) {
        return next.run(req).await;
    }
    let mut resp = outcome(
        StatusCode::UNAUTHORIZED,
        "login",
        "a valid bearer token is required (Authorization: Bearer <token>)",
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"med-roster\""),
    );
    resp
}

/// The FHIR base URL as the client reached it (`http://HOST/fhir`), for `fullUrl`, `Location`
/// and paging links.
pub(super) fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/fhir")
}

fn kind_of(name: &str) -> Result<Kind, Response> {
    Kind::parse(name).ok_or_else(|| {
        outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            &format!("resource type {name:?} is not served here (Organization, Practitioner, PractitionerRole)"),
        )
    })
}

fn refused(r: &Refusal) -> Response {
    outcome_at(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        r.code,
        &r.diagnostics,
        r.expression.as_deref(),
    )
}

fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A resource answer: `ETag: W/"n"`, `Location` of the version, `Last-Modified`, and the body
/// unless the client asked for `Prefer: return=minimal`.
fn resource_answer(
    status: StatusCode,
    base: &str,
    resource: &Value,
    ms: i64,
    minimal: bool,
) -> Response {
    let kind = resource["resourceType"].as_str().unwrap_or_default();
    let id = resource["id"].as_str().unwrap_or_default();
    let version = resource["meta"]["versionId"].as_str().unwrap_or("1");
    let mut resp = if minimal {
        status.into_response()
    } else {
        fhir(status, resource)
    };
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, name: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    };
    set(h, header::ETAG, format!("W/\"{version}\""));
    set(
        h,
        header::LOCATION,
        format!("{base}/{kind}/{id}/_history/{version}"),
    );
    set(h, header::LAST_MODIFIED, http_date(ms));
    resp
}

pub(super) fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim() == "return=minimal"))
}

/// The body of a create or update: JSON typed `application/fhir+json` or `application/json`.
pub(super) fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(mime.as_str(), "application/fhir+json" | "application/json") {
        return Err(outcome(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            "send resources as application/fhir+json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        outcome(
            StatusCode::BAD_REQUEST,
            "structure",
            &format!("the body is not JSON: {e}"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Capability statement

/// `GET /fhir/metadata` → the `CapabilityStatement` (no token needed, as FHIR servers do).
pub(super) async fn metadata(headers: HeaderMap) -> Response {
    let resource = |kind: &str, params: &[(&str, &str)], include: &[&str], revinclude: &[&str]| {
        let mut search_params: Vec<Value> = vec![
            json!({"name": "_id", "type": "token"}),
            json!({"name": "_lastUpdated", "type": "date"}),
            json!({"name": "identifier", "type": "token"}),
        ];
        search_params.extend(params.iter().map(|(n, t)| json!({"name": n, "type": t})));
        json!({
            "type": kind,
            "interaction": [
                {"code": "read"}, {"code": "vread"}, {"code": "update"},
                {"code": "create"}, {"code": "search-type"}
            ],
            "versioning": "versioned-update",
            "readHistory": false,
            "updateCreate": false,
            "conditionalCreate": true,
            "conditionalUpdate": false,
            "conditionalDelete": "not-supported",
            "searchInclude": include,
            "searchRevInclude": revinclude,
            "searchParam": search_params,
        })
    };
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2021-09-02",
        "publisher": "贞丰县卫生健康局 (simulated)",
        "kind": "instance",
        "software": {"name": "hub-sims MED-ROSTER", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "医疗人才派驻花名册 (simulator)", "url": base(&headers)},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth"}]}],
                "description": "Authorization: Bearer <token>"
            },
            "interaction": [{"code": "batch"}, {"code": "transaction"}],
            "resource": [
                resource("Organization", &[("name", "string"), ("active", "token")], &[], &["PractitionerRole:organization"]),
                resource("Practitioner", &[], &[], &["PractitionerRole:practitioner"]),
                resource(
                    "PractitionerRole",
                    &[("practitioner", "reference"), ("organization", "reference"), ("active", "token")],
                    &["PractitionerRole:practitioner", "PractitionerRole:organization"],
                    &[],
                ),
            ]
        }]
    });
    fhir(StatusCode::OK, &body)
}

// ---------------------------------------------------------------------------------------------
// Search

/// A searchset Bundle of one page of a kept search.
fn bundle(
    data: &MedData,
    base: &str,
    snapshot: &str,
    offset: usize,
    count: usize,
    self_url: String,
) -> Value {
    let Some(snap) = data.snapshot(snapshot) else {
        return Value::Null;
    };
    let total = snap.matches.len();
    let start = offset.min(total);
    let end = start.saturating_add(count).min(total);
    let page = &snap.matches[start..end];
    let entry = |r: Value, mode: &str| {
        let full = format!(
            "{base}/{}/{}",
            r["resourceType"].as_str().unwrap_or_default(),
            r["id"].as_str().unwrap_or_default()
        );
        json!({"fullUrl": full, "resource": r, "search": {"mode": mode}})
    };
    let mut entries: Vec<Value> = data
        .resources(page)
        .into_iter()
        .map(|r| entry(r, "match"))
        .collect();
    entries.extend(
        store::included(data, &snap.search, page)
            .into_iter()
            .map(|r| entry(r, "include")),
    );
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    if end < total {
        links.push(json!({
            "relation": "next",
            "url": format!("{base}?_getpages={snapshot}&_getpagesoffset={end}&_count={count}&_bundletype=searchset"),
        }));
    }
    if start > 0 {
        let prev = start.saturating_sub(count);
        links.push(json!({
            "relation": "previous",
            "url": format!("{base}?_getpages={snapshot}&_getpagesoffset={prev}&_count={count}&_bundletype=searchset"),
        }));
    }
    json!({
        "resourceType": "Bundle",
        "id": format!("{snapshot}-{start}"),
        "meta": {"lastUpdated": store::instant(chrono::Utc::now().timestamp_millis())},
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    })
}

/// `GET /fhir/{kind}?…` → a searchset Bundle of the first page (`_count`, default 50, at most
/// 500), with a `next` link while more remain. Parameters: `_id`, `_lastUpdated`
/// (`eq`/`gt`/`ge`/`lt`/`le`), `identifier` (token), `_count`, `_sort` (`_lastUpdated`,
/// `-_lastUpdated`, `_id`; default by last update, then id), `_include` and `_revinclude`
/// (`PractitionerRole:practitioner`, `PractitionerRole:organization`); PractitionerRole also
/// `practitioner`, `organization`, `active`; Organization `name`, `name:exact`, `active`. An
/// unknown parameter → 400.
pub(super) async fn search(
    State(st): State<Arc<MedState>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
    uri: axum::http::Uri,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let search = match Search::parse(kind, &params) {
        Ok(s) => s,
        Err(e) => return outcome(StatusCode::BAD_REQUEST, "invalid", &e.0),
    };
    let base = base(&headers);
    let mut data = lock(&st.data);
    let matches = search.run(&data);
    let count = search.count;
    let snapshot = data.keep(search, matches);
    let self_url = format!(
        "{base}/{}{}",
        kind.name(),
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    fhir(
        StatusCode::OK,
        &bundle(&data, &base, &snapshot, 0, count, self_url),
    )
}

/// `GET /fhir?_getpages=ID&_getpagesoffset=N&_count=M` → another page of a kept search (as its
/// `next` link gives it). Results are kept 10 minutes; after that → 410.
pub(super) async fn page(
    State(st): State<Arc<MedState>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
    uri: axum::http::Uri,
) -> Response {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(id) = get("_getpages") else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "not-supported",
            "system-level interactions are not supported; search a resource type",
        );
    };
    let offset = get("_getpagesoffset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0usize);
    let count = get("_count")
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=store::MAX_COUNT).contains(n))
        .unwrap_or(store::DEFAULT_COUNT);
    let base = base(&headers);
    let data = lock(&st.data);
    if data.snapshot(id).is_none() {
        return outcome(
            StatusCode::GONE,
            "not-found",
            &format!("search results {id} have expired or never existed; search again"),
        );
    }
    let self_url = format!("{base}?{}", uri.query().unwrap_or_default());
    fhir(
        StatusCode::OK,
        &bundle(&data, &base, id, offset, count, self_url),
    )
}

// ---------------------------------------------------------------------------------------------
// Read

/// `GET /fhir/{kind}/{id}` → the current version with its `ETag`; 404 unknown; 410 deleted.
pub(super) async fn read(
    State(st): State<Arc<MedState>>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    match data.get(kind, &id) {
        None => not_known(kind, &id),
        Some(e) if e.deleted => gone(kind, &id),
        Some(e) => resource_answer(
            StatusCode::OK,
            &base(&headers),
            e.current(),
            e.last_updated,
            false,
        ),
    }
}

/// `GET /fhir/{kind}/{id}/_history/{vid}` → that version.
pub(super) async fn vread(
    State(st): State<Arc<MedState>>,
    Path((kind, id, vid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let data = lock(&st.data);
    let Some(e) = data.get(kind, &id) else {
        return not_known(kind, &id);
    };
    let version = vid
        .parse::<usize>()
        .ok()
        .filter(|v| *v >= 1)
        .and_then(|v| e.versions.get(v - 1));
    match version {
        Some(r) => {
            let ms = r["meta"]["lastUpdated"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.timestamp_millis())
                .unwrap_or(e.last_updated);
            resource_answer(StatusCode::OK, &base(&headers), r, ms, false)
        }
        None => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{}/{id} has no version {vid}", kind.name()),
        ),
    }
}

fn not_known(kind: Kind, id: &str) -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!("{}/{id} is not known", kind.name()),
    )
}

fn gone(kind: Kind, id: &str) -> Response {
    outcome(
        StatusCode::GONE,
        "deleted",
        &format!("{}/{id} has been deleted", kind.name()),
    )
}

/// `DELETE` and `POST` on an instance: 405.
pub(super) async fn not_allowed() -> Response {
    outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "this roster does not delete through the API; end a stay with period.end and active false",
    )
}

// ---------------------------------------------------------------------------------------------
// Create and update

/// A write that succeeded: the HTTP status it answers (201 created, 200 found or updated) and
/// the resource it leaves, which the caller reads back from the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Saved {
    pub(super) status: StatusCode,
    pub(super) kind: Kind,
    pub(super) id: String,
}

fn refusal(status: u16, code: &'static str, diagnostics: String) -> Refusal {
    Refusal {
        status,
        code,
        diagnostics,
        expression: None,
    }
}

/// [`rules::check`] of `value` as a `kind`, a refusal counted as rejected in `counters`.
fn checked(
    counters: &mut Counters,
    kind: Kind,
    value: &Value,
    data: &MedData,
) -> Result<Map<String, Value>, Refusal> {
    rules::check(kind, value, data).inspect_err(|_| counters.record(kind.name(), Outcome::Rejected))
}

/// The rules of a create (`POST /fhir/{kind}`), shared by the single route and Bundle entries:
/// with `if_none_exist` (a search, e.g. `identifier=urn:cn:resident-id|…`), one match → 200
/// with it and nothing created, more than one → 412; an empty or bad search → 400; then
/// [`rules::check`] (400 structure, 422 the roster's rules) and a new resource (201). Counts
/// the outcome in `counters` under the type.
pub(super) fn create_in(
    data: &mut MedData,
    counters: &mut Counters,
    kind: Kind,
    value: &Value,
    if_none_exist: Option<&str>,
) -> Result<Saved, Refusal> {
    let count = |counters: &mut Counters, o| counters.record(kind.name(), o);
    if let Some(cond) = if_none_exist {
        let params = form_pairs(cond.trim_start_matches('?'));
        let search = match Search::parse(kind, &params) {
            Ok(s) if !params.is_empty() => s,
            Ok(_) => {
                count(counters, Outcome::Rejected);
                return Err(refusal(400, "invalid", "If-None-Exist is empty".into()));
            }
            Err(e) => {
                count(counters, Outcome::Rejected);
                return Err(refusal(400, "invalid", format!("If-None-Exist: {}", e.0)));
            }
        };
        let hits = search.run(data);
        match hits.as_slice() {
            [] => {}
            [(k, id)] => {
                count(counters, Outcome::DuplicateRefused);
                return Ok(Saved {
                    status: StatusCode::OK,
                    kind: *k,
                    id: id.to_string(),
                });
            }
            more => {
                count(counters, Outcome::Conflict);
                return Err(refusal(
                    412,
                    "duplicate",
                    format!(
                        "If-None-Exist matches {} resources; the criteria must select one",
                        more.len()
                    ),
                ));
            }
        }
    }
    let resource = checked(counters, kind, value, data)?;
    let key = rules::natural_key(kind, &Value::Object(resource.clone()), data);
    let id = data.create(kind, resource, None);
    counters.created(kind.name(), key);
    Ok(Saved {
        status: StatusCode::CREATED,
        kind,
        id,
    })
}

/// The rules of an update (`PUT /fhir/{kind}/{id}`), shared by the single route and Bundle
/// entries: the body's `id` must be the URL's (400); unknown id → 404, deleted → 410; `wanted`
/// (the `If-Match` version) other than the current → 412; then [`rules::check`]; a resource
/// identical to the stored one keeps its version. Counts the outcome in `counters`. The
/// `concurrent_edit` fault is the caller's (see [`concurrent_edit_if_due`]).
pub(super) fn update_in(
    data: &mut MedData,
    counters: &mut Counters,
    kind: Kind,
    id: &str,
    value: &Value,
    wanted: Option<u64>,
) -> Result<Saved, Refusal> {
    let count = |counters: &mut Counters, o| counters.record(kind.name(), o);
    if value.get("id").and_then(Value::as_str) != Some(id) {
        count(counters, Outcome::Rejected);
        return Err(Refusal {
            status: 400,
            code: "invalid",
            diagnostics: format!("the resource's id must be the URL's ({id})"),
            expression: Some(format!("{}.id", kind.name())),
        });
    }
    let current = match data.get(kind, id) {
        None => {
            count(counters, Outcome::NotFound);
            return Err(refusal(
                404,
                "not-found",
                format!("{}/{id} is not known", kind.name()),
            ));
        }
        Some(e) if e.deleted => {
            count(counters, Outcome::NotFound);
            return Err(refusal(
                410,
                "deleted",
                format!("{}/{id} has been deleted", kind.name()),
            ));
        }
        Some(e) => e,
    };
    if let Some(v) = wanted
        && v != current.version()
    {
        count(counters, Outcome::Conflict);
        return Err(refusal(
            412,
            "conflict",
            format!(
                "version {v} of {}/{id} is not the current version ({}): it changed since it was read",
                kind.name(),
                current.version()
            ),
        ));
    }
    let resource = checked(counters, kind, value, data)?;
    count(counters, Outcome::Updated);
    let mut incoming = resource.clone();
    incoming.remove("id");
    incoming.remove("meta");
    incoming.remove("resourceType");
    if incoming != store::content(current.current()) {
        data.update(kind, id, resource, None);
    }
    Ok(Saved {
        status: StatusCode::OK,
        kind,
        id: id.to_string(),
    })
}

/// The answer of a write that succeeded.
fn saved_answer(data: &MedData, saved: &Saved, base: &str, minimal: bool) -> Response {
    let e = data
        .get(saved.kind, &saved.id)
        .expect("a saved resource exists");
    resource_answer(saved.status, base, e.current(), e.last_updated, minimal)
}

/// `POST /fhir/{kind}` → 201 with `Location`, `ETag: W/"1"` and the resource (any `id` in the
/// body is ignored, as FHIR requires). With `If-None-Exist: <search>` (e.g.
/// `identifier=urn:cn:resident-id|…`): one match → 200 with that resource, nothing created;
/// more than one → 412. Refusals: 400 (structure), 422 (the roster's rules), 415. The rules are
/// [`create_in`]'s, which Bundle entries share.
pub(super) async fn create(
    State(st): State<Arc<MedState>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let value = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(resp) => {
            lock(&st.gate.counters).record(kind.name(), Outcome::Rejected);
            return resp;
        }
    };
    let cond = headers
        .get("if-none-exist")
        .map(|c| c.to_str().unwrap_or_default().to_string());
    let mut data = lock(&st.data);
    let result = create_in(
        &mut data,
        &mut lock(&st.gate.counters),
        kind,
        &value,
        cond.as_deref(),
    );
    match result {
        Ok(saved) => saved_answer(&data, &saved, &base(&headers), prefers_minimal(&headers)),
        Err(r) => refused(&r),
    }
}

/// Decodes `a=1&b=2` (percent-encoding and `+` as space, as a query string).
fn form_pairs(q: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default()
}

/// The version an `If-Match` value names: `W/"3"`, `"3"` or `3`; `None` if it names none.
pub(super) fn parse_if_match(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().ok()
}

/// The version an `If-Match` header names (400 if it names none).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Response> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    parse_if_match(v.to_str().unwrap_or(""))
        .map(Some)
        .ok_or_else(|| {
            outcome(
                StatusCode::BAD_REQUEST,
                "invalid",
                "If-Match must name a version, e.g. W/\"3\"",
            )
        })
}

/// What the `concurrent_edit` fault does: someone else saves the resource first (a new
/// version; a PractitionerRole's specialty becomes 急诊科, emergency medicine).
fn concurrent_edit(data: &mut MedData, kind: Kind, id: &str) {
    let Some(e) = data.get(kind, id) else { return };
    let mut content = store::content(e.current());
    if kind == Kind::PractitionerRole {
        content.insert("specialty".into(), json!([{"text": "急诊科"}]));
    }
    data.update(kind, id, content, None);
}

/// Applies the `concurrent_edit` fault to an update of a live resource, when one is due: the
/// clerk's save lands in `data` (the roster's own, never a transaction's copy) before the
/// update is checked. Only for an update whose body has the URL's id, as the single route
/// always did.
pub(super) fn concurrent_edit_if_due(
    st: &MedState,
    data: &mut MedData,
    kind: Kind,
    id: &str,
    value: &Value,
) {
    if value.get("id").and_then(Value::as_str) == Some(id)
        && data.get(kind, id).is_some_and(|e| !e.deleted)
        && lock(&st.gate.faults).concurrent_edit_now()
    {
        concurrent_edit(data, kind, id);
    }
}

/// `PUT /fhir/{kind}/{id}` with the whole resource (its `id` must be the URL's) → 200 with the
/// new version; a resource identical to the stored one keeps its version. `If-Match: W/"n"`
/// naming another version than the current → 412. Unknown id → 404 (this roster assigns ids;
/// no update-as-create); deleted → 410. Refusals as for create. The rules are [`update_in`]'s,
/// which Bundle entries share.
pub(super) async fn update(
    State(st): State<Arc<MedState>>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(resp) => return resp,
    };
    let (value, wanted) =
        match json_body(&headers, &body).and_then(|v| Ok((v, if_match(&headers)?))) {
            Ok(v) => v,
            Err(resp) => {
                lock(&st.gate.counters).record(kind.name(), Outcome::Rejected);
                return resp;
            }
        };
    let mut data = lock(&st.data);
    concurrent_edit_if_due(&st, &mut data, kind, &id, &value);
    let result = update_in(
        &mut data,
        &mut lock(&st.gate.counters),
        kind,
        &id,
        &value,
        wanted,
    );
    match result {
        Ok(saved) => saved_answer(&data, &saved, &base(&headers), prefers_minimal(&headers)),
        Err(r) => refused(&r),
    }
}
