//! MED-ROSTER's FHIR REST API under `/fhir`: `metadata`, search (searchset Bundles with `next`
//! links), read and vread, create (conditional with `If-None-Exist`), update (versioned with
//! `If-Match`). Every error is an `OperationOutcome`.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use super::rules::{self, Refusal};
use super::store::{self, Kind, MedData, Search};
use super::{MedState, fhir, outcome, outcome_at};
use crate::counters::Outcome;
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
fn base(headers: &HeaderMap) -> String {
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

fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim() == "return=minimal"))
}

/// The body of a create or update: JSON typed `application/fhir+json` or `application/json`.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Response> {
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

/// `POST /fhir/{kind}` → 201 with `Location`, `ETag: W/"1"` and the resource (any `id` in the
/// body is ignored, as FHIR requires). With `If-None-Exist: <search>` (e.g.
/// `identifier=urn:cn:resident-id|…`): one match → 200 with that resource, nothing created;
/// more than one → 412. Refusals: 400 (structure), 422 (the roster's rules), 415.
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
    let count = |o| lock(&st.gate.counters).record(kind.name(), o);
    let value = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(resp) => {
            count(Outcome::Rejected);
            return resp;
        }
    };
    let base = base(&headers);
    let minimal = prefers_minimal(&headers);
    let mut data = lock(&st.data);
    if let Some(cond) = headers.get("if-none-exist") {
        let params: Vec<(String, String)> = cond
            .to_str()
            .map(|q| form_pairs(q.trim_start_matches('?')))
            .unwrap_or_default();
        let search = match Search::parse(kind, &params) {
            Ok(s) if !params.is_empty() => s,
            Ok(_) => {
                count(Outcome::Rejected);
                return outcome(StatusCode::BAD_REQUEST, "invalid", "If-None-Exist is empty");
            }
            Err(e) => {
                count(Outcome::Rejected);
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    &format!("If-None-Exist: {}", e.0),
                );
            }
        };
        let hits = search.run(&data);
        match hits.as_slice() {
            [] => {}
            [(k, id)] => {
                count(Outcome::DuplicateRefused);
                let e = data.get(*k, &id.to_string()).expect("a hit exists");
                return resource_answer(
                    StatusCode::OK,
                    &base,
                    e.current(),
                    e.last_updated,
                    minimal,
                );
            }
            more => {
                count(Outcome::Conflict);
                return outcome(
                    StatusCode::PRECONDITION_FAILED,
                    "duplicate",
                    &format!(
                        "If-None-Exist matches {} resources; the criteria must select one",
                        more.len()
                    ),
                );
            }
        }
    }
    let resource = match rules::check(kind, &value, &data) {
        Ok(r) => r,
        Err(r) => {
            count(Outcome::Rejected);
            return refused(&r);
        }
    };
    let key = rules::natural_key(kind, &Value::Object(resource.clone()), &data);
    let id = data.create(kind, resource, None);
    lock(&st.gate.counters).created(kind.name(), key);
    let e = data.get(kind, &id).expect("just created");
    resource_answer(
        StatusCode::CREATED,
        &base,
        e.current(),
        e.last_updated,
        minimal,
    )
}

/// Decodes `a=1&b=2` (percent-encoding and `+` as space, as a query string).
fn form_pairs(q: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default()
}

/// The version an `If-Match` names: `W/"3"`, `"3"` or `3`.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Response> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| {
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

/// `PUT /fhir/{kind}/{id}` with the whole resource (its `id` must be the URL's) → 200 with the
/// new version; a resource identical to the stored one keeps its version. `If-Match: W/"n"`
/// naming another version than the current → 412. Unknown id → 404 (this roster assigns ids;
/// no update-as-create); deleted → 410. Refusals as for create.
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
    let count = |o| lock(&st.gate.counters).record(kind.name(), o);
    let value = match json_body(&headers, &body).and_then(|v| Ok((v, if_match(&headers)?))) {
        Ok(v) => v,
        Err(resp) => {
            count(Outcome::Rejected);
            return resp;
        }
    };
    let (value, wanted) = value;
    if value.get("id").and_then(Value::as_str) != Some(id.as_str()) {
        count(Outcome::Rejected);
        return outcome_at(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("the resource's id must be the URL's ({id})"),
            Some(&format!("{}.id", kind.name())),
        );
    }
    let base = base(&headers);
    let minimal = prefers_minimal(&headers);
    let mut data = lock(&st.data);
    match data.get(kind, &id) {
        None => {
            count(Outcome::NotFound);
            return not_known(kind, &id);
        }
        Some(e) if e.deleted => {
            count(Outcome::NotFound);
            return gone(kind, &id);
        }
        Some(_) => {}
    }
    if lock(&st.gate.faults).concurrent_edit_now() {
        concurrent_edit(&mut data, kind, &id);
    }
    let current = data.get(kind, &id).expect("checked above");
    if let Some(v) = wanted
        && v != current.version()
    {
        count(Outcome::Conflict);
        return outcome(
            StatusCode::PRECONDITION_FAILED,
            "conflict",
            &format!(
                "version {v} of {}/{id} is not the current version ({}): it changed since it was read",
                kind.name(),
                current.version()
            ),
        );
    }
    let resource = match rules::check(kind, &value, &data) {
        Ok(r) => r,
        Err(r) => {
            count(Outcome::Rejected);
            return refused(&r);
        }
    };
    count(Outcome::Updated);
    let mut incoming = resource.clone();
    incoming.remove("id");
    incoming.remove("meta");
    incoming.remove("resourceType");
    if incoming != store::content(current.current()) {
        data.update(kind, &id, resource, None);
    }
    let e = data.get(kind, &id).expect("exists");
    resource_answer(StatusCode::OK, &base, e.current(), e.last_updated, minimal)
}
