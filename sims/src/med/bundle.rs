//! `POST /fhir` (the base) with a `Bundle` of type `batch` or `transaction`, as FHIR R4 defines
//! them (http://hl7.org/fhir/R4/http.html#transaction, "Batch/Transaction").
//!
//! Entries: `request.method` and `request.url` relative to the base (or absolute under it):
//! `POST Type` with the resource and optionally `request.ifNoneExist` (a conditional create),
//! `PUT Type/id` with the resource and optionally `request.ifMatch` (`W/"n"`), `GET Type/id`
//! (a read). Each is processed by the single-resource routes' own rules ([`create_in`],
//! [`update_in`]): the same validation, versions, 412 on a stale version, and counters.
//! `DELETE` is refused (405, as on an instance) and searches are not served in a Bundle (400).
//!
//! - `batch`: the entries one after another, each on its own; references between entries are
//!   not resolved (R4: a batch has no interdependencies). HTTP 200 with a `batch-response`
//!   Bundle of one entry per request entry, in order: `response.status` (`201 Created`,
//!   `200 OK`, `412 Precondition Failed`, …), and for a success `response.location`
//!   (`Type/id/_history/n`), `response.etag` (`W/"n"`), `response.lastModified` (an instant),
//!   `fullUrl` and the resource (unless `Prefer: return=minimal`); for a failure
//!   `response.outcome`, the `OperationOutcome` the single request would have answered.
//! - `transaction`: all or nothing, in R4's order: DELETE, then POST, then PUT, then GET (the
//!   answer keeps the request order). A POST entry's `fullUrl` (`urn:uuid:…` or `urn:oid:…`) is
//!   replaced, wherever another entry's resource holds it as a whole value (a
//!   `Reference.reference`, a uri), by the `Type/id` the create gave or the conditional create
//!   found; a POST waits for the POSTs it refers to. If an entry fails, nothing is changed (the
//!   entries run on a copy of the data) and the answer is that entry's `OperationOutcome` with
//!   its HTTP status (400/404/409/410/412/422), whose issue `expression` names
//!   `Bundle.entry[i]` (and the element, `Bundle.entry[i].resource.…`, when the rules name
//!   one). On success, HTTP 200 with a `transaction-response` Bundle.
//!
//! Refused before any entry is processed: not a Bundle, or a type other than `batch` or
//! `transaction` → 400; more than [`MAX_ENTRIES`] entries → 413 (`too-costly`); a transaction
//! entry that cannot be parsed → 400 naming it. Counters: one request, and one Bundle of its
//! type with its entries under `bundles` of `/_admin/counters`; each entry's write outcome
//! as a single request's (a transaction's only if it commits, else only the failing entry's).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::api::{
    Saved, base, concurrent_edit_if_due, create_in, json_body, parse_if_match, prefers_minimal,
    update_in,
};
use super::rules::Refusal;
use super::store::{self, Kind, MedData};
use super::{MedState, fhir, outcome_at, outcome_value};
use crate::counters::{Counters, Outcome};
use crate::gate::lock;

/// The most entries a Bundle may have.
pub(crate) const MAX_ENTRIES: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    Delete,
    Post,
    Put,
    Get,
}

/// One entry's request, parsed.
#[derive(Debug, Clone)]
struct Entry {
    method: Method,
    kind: Kind,
    id: Option<String>,
    resource: Value,
    if_none_exist: Option<String>,
    if_match: Option<u64>,
    full_url: Option<String>,
}

fn bad(status: u16, code: &'static str, diagnostics: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        diagnostics: diagnostics.into(),
        expression: None,
    }
}

/// Parses entry `e` of a Bundle posted to `base`.
fn parse_entry(e: &Value, base: &str) -> Result<Entry, Refusal> {
    let request = e
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| bad(400, "structure", "the entry has no request"))?;
    let method = match request.get("method").and_then(Value::as_str) {
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("GET") => Method::Get,
        Some("DELETE") => Method::Delete,
        Some(m) => {
            return Err(bad(
                405,
                "not-supported",
                format!("request.method {m} is not served here (POST, PUT, GET)"),
            ));
        }
        None => return Err(bad(400, "structure", "request.method is required")),
    };
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(400, "structure", "request.url is required"))?;
    let relative = url
        .strip_prefix(base)
        .map(|u| u.trim_start_matches('/'))
        .unwrap_or(url);
    if relative.contains('?') {
        return Err(bad(
            400,
            "not-supported",
            format!(
                "request.url {url:?}: searches and conditional URLs are not served in a Bundle"
            ),
        ));
    }
    let mut parts = relative.split('/');
    let kind_name = parts.next().unwrap_or_default();
    let kind = Kind::parse(kind_name).ok_or_else(|| {
        bad(
            404,
            "not-supported",
            format!("resource type {kind_name:?} is not served here (Organization, Practitioner, PractitionerRole)"),
        )
    })?;
    let id = parts.next().map(str::to_string);
    if parts.next().is_some() || id.as_deref() == Some("") {
        return Err(bad(
            400,
            "not-supported",
            format!("request.url {url:?} is not Type or Type/id"),
        ));
    }
    match (method, &id) {
        (Method::Post, Some(_)) => {
            return Err(bad(
                405,
                "not-supported",
                "POST goes to a type (Type), not an instance",
            ));
        }
        (Method::Put | Method::Get | Method::Delete, None) => {
            return Err(bad(
                400,
                "not-supported",
                "PUT, GET and DELETE go to Type/id",
            ));
        }
        _ => {}
    }
    let resource = e.get("resource").cloned().unwrap_or(Value::Null);
    if matches!(method, Method::Post | Method::Put) && !resource.is_object() {
        return Err(bad(
            400,
            "structure",
            "a POST or PUT entry needs its resource",
        ));
    }
    let if_match = match request.get("ifMatch").and_then(Value::as_str) {
        None => None,
        Some(v) => Some(parse_if_match(v).ok_or_else(|| {
            bad(
                400,
                "invalid",
                "request.ifMatch must name a version, e.g. W/\"3\"",
            )
        })?),
    };
    Ok(Entry {
        method,
        kind,
        id,
        resource,
        if_none_exist: request
            .get("ifNoneExist")
            .and_then(Value::as_str)
            .map(str::to_string),
        if_match,
        full_url: e.get("fullUrl").and_then(Value::as_str).map(str::to_string),
    })
}

/// Processes one entry against `data`, counting its outcome in `counters`.
fn apply(data: &mut MedData, counters: &mut Counters, e: &Entry) -> Result<Saved, Refusal> {
    let id = e.id.as_deref().unwrap_or_default();
    match e.method {
        Method::Post => create_in(
            data,
            counters,
            e.kind,
            &e.resource,
            e.if_none_exist.as_deref(),
        ),
        Method::Put => update_in(data, counters, e.kind, id, &e.resource, e.if_match),
        Method::Get => match data.get(e.kind, id) {
            None => Err(bad(
                404,
                "not-found",
                format!("{}/{id} is not known", e.kind.name()),
            )),
            Some(x) if x.deleted => Err(bad(
                410,
                "deleted",
                format!("{}/{id} has been deleted", e.kind.name()),
            )),
            Some(_) => Ok(Saved {
                status: StatusCode::OK,
                kind: e.kind,
                id: id.to_string(),
            }),
        },
        Method::Delete => Err(bad(
            405,
            "not-supported",
            "this roster does not delete through the API; end a stay with period.end and active false",
        )),
    }
}

/// `"201 Created"` and the like.
fn status_line(status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

/// The response entry of an entry that succeeded.
fn success_entry(data: &MedData, saved: &Saved, base: &str, minimal: bool) -> Value {
    let e = data
        .get(saved.kind, &saved.id)
        .expect("a saved resource exists");
    let version = e.version();
    let kind = saved.kind.name();
    let mut entry = Map::new();
    entry.insert(
        "fullUrl".into(),
        json!(format!("{base}/{kind}/{}", saved.id)),
    );
    if !minimal {
        entry.insert("resource".into(), e.current().clone());
    }
    entry.insert(
        "response".into(),
        json!({
            "status": status_line(saved.status.as_u16()),
            "location": format!("{kind}/{}/_history/{version}", saved.id),
            "etag": format!("W/\"{version}\""),
            "lastModified": store::instant(e.last_updated),
        }),
    );
    Value::Object(entry)
}

/// The response entry of an entry that failed (a batch's).
fn failure_entry(r: &Refusal) -> Value {
    let expression: Vec<String> = r.expression.iter().cloned().collect();
    json!({"response": {
        "status": status_line(r.status),
        "outcome": outcome_value(r.code, &r.diagnostics, &expression),
    }})
}

/// Counts a refusal that happened before the write rules ran (an entry that could not be
/// parsed), as the single routes count a body they cannot read.
fn count_unparsed(counters: &mut Counters, e: &Value) {
    let kind = e
        .pointer("/request/url")
        .and_then(Value::as_str)
        .and_then(|u| u.rsplit("/fhir/").next())
        .and_then(|u| Kind::parse(u.split(['/', '?']).next().unwrap_or_default()));
    let writes = matches!(
        e.pointer("/request/method").and_then(Value::as_str),
        Some("POST" | "PUT")
    );
    if let (Some(kind), true) = (kind, writes) {
        counters.record(kind.name(), Outcome::Rejected);
    }
}

/// Replaces every string value equal to a key of `placeholders` by its value.
fn substitute(v: &mut Value, placeholders: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(to) = placeholders.get(s.as_str()) {
                *s = to.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, placeholders)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, placeholders)),
        _ => {}
    }
}

/// True if `v` holds one of `urls` as a whole string value.
fn mentions(v: &Value, urls: &HashSet<&str>) -> bool {
    match v {
        Value::String(s) => urls.contains(s.as_str()),
        Value::Array(a) => a.iter().any(|x| mentions(x, urls)),
        Value::Object(m) => m.values().any(|x| mentions(x, urls)),
        _ => false,
    }
}

/// `POST /fhir` → a Bundle of type `batch` or `transaction` processed as the module docs say.
pub(super) async fn post(
    State(st): State<Arc<MedState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bundle = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return outcome_at(
            StatusCode::BAD_REQUEST,
            "structure",
            "POST to the base takes a Bundle (batch or transaction)",
            Some("resourceType"),
        );
    }
    let kind = bundle.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "batch" | "transaction") {
        return outcome_at(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("Bundle.type {kind:?}: this server processes batch and transaction Bundles"),
            Some("Bundle.type"),
        );
    }
    let entries: &[Value] = match bundle.get("entry") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            return outcome_at(
                StatusCode::BAD_REQUEST,
                "structure",
                "Bundle.entry must be an array",
                Some("Bundle.entry"),
            );
        }
    };
    if entries.len() > MAX_ENTRIES {
        return outcome_at(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            &format!(
                "the Bundle has {} entries; this server takes at most {MAX_ENTRIES}",
                entries.len()
            ),
            Some("Bundle.entry"),
        );
    }
    let base = base(&headers);
    let minimal = prefers_minimal(&headers);
    let mut data = lock(&st.data);
    lock(&st.gate.counters).bundle(kind, entries.len());
    if kind == "batch" {
        batch(&st, &mut data, entries, &base, minimal)
    } else {
        transaction(&st, &mut data, entries, &base, minimal)
    }
}

fn batch(
    st: &MedState,
    data: &mut MedData,
    entries: &[Value],
    base: &str,
    minimal: bool,
) -> Response {
    let mut out = Vec::with_capacity(entries.len());
    for raw in entries {
        let result = match parse_entry(raw, base) {
            Ok(e) => {
                if e.method == Method::Put {
                    let id = e.id.as_deref().unwrap_or_default();
                    concurrent_edit_if_due(st, data, e.kind, id, &e.resource);
                }
                apply(data, &mut lock(&st.gate.counters), &e)
            }
            Err(r) => {
                count_unparsed(&mut lock(&st.gate.counters), raw);
                Err(r)
            }
        };
        out.push(match result {
            Ok(saved) => success_entry(data, &saved, base, minimal),
            Err(r) => failure_entry(&r),
        });
    }
    respond("batch-response", out)
}

fn respond(kind: &str, entries: Vec<Value>) -> Response {
    fhir(
        StatusCode::OK,
        &json!({
            "resourceType": "Bundle",
            "meta": {"lastUpdated": store::instant(chrono::Utc::now().timestamp_millis())},
            "type": kind,
            "entry": entries,
        }),
    )
}

/// The answer of a transaction whose entry `index` failed: its `OperationOutcome`, naming the
/// entry and (when the rules name one) the element.
fn failed(index: usize, e: Option<&Entry>, r: &Refusal) -> Response {
    let at = format!("Bundle.entry[{index}]");
    let mut expression = vec![at.clone()];
    if let Some(x) = &r.expression {
        // `PractitionerRole.period` → `Bundle.entry[2].resource.period`.
        let element = x.split_once('.').map_or(x.as_str(), |(_, rest)| rest);
        expression.push(format!("{at}.resource.{element}"));
    }
    let what = e
        .map(|e| {
            let method = format!("{:?}", e.method).to_uppercase();
            match &e.id {
                Some(id) => format!(" ({method} {}/{id})", e.kind.name()),
                None => format!(" ({method} {})", e.kind.name()),
            }
        })
        .unwrap_or_default();
    let body = outcome_value(
        r.code,
        &format!(
            "{at}{what}: {}; nothing in the transaction was applied",
            r.diagnostics
        ),
        &expression,
    );
    fhir(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        &body,
    )
}

fn transaction(
    st: &MedState,
    data: &mut MedData,
    raw: &[Value],
    base: &str,
    minimal: bool,
) -> Response {
    let mut entries = Vec::with_capacity(raw.len());
    for (i, e) in raw.iter().enumerate() {
        match parse_entry(e, base) {
            Ok(x) => entries.push(x),
            Err(r) => {
                count_unparsed(&mut lock(&st.gate.counters), e);
                return failed(i, None, &r);
            }
        }
    }
    let mut seen = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(u) = &e.full_url
            && !seen.insert(u.as_str())
        {
            return failed(
                i,
                Some(e),
                &bad(
                    400,
                    "invalid",
                    format!("fullUrl {u:?} is given to two entries"),
                ),
            );
        }
    }
    // A clerk's concurrent save lands in the roster itself, whatever becomes of the transaction.
    for e in entries.iter().filter(|e| e.method == Method::Put) {
        concurrent_edit_if_due(
            st,
            data,
            e.kind,
            e.id.as_deref().unwrap_or_default(),
            &e.resource,
        );
    }
    let mut work = data.clone();
    let mut counted = Counters::new(&[]);
    let mut results: Vec<Option<Saved>> = vec![None; entries.len()];
    let mut placeholders: HashMap<String, String> = HashMap::new();
    // R4's order: DELETE, POST, PUT (and PATCH), GET; within a method, the Bundle's order.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|i| entries[*i].method);
    let mut run = |i: usize, placeholders: &mut HashMap<String, String>| {
        let mut e = entries[i].clone();
        substitute(&mut e.resource, placeholders);
        let mut one = Counters::new(&[]);
        match apply(&mut work, &mut one, &e) {
            Ok(saved) => {
                counted.add_writes(&one);
                if e.method == Method::Post
                    && let Some(u) = &e.full_url
                {
                    placeholders.insert(u.clone(), format!("{}/{}", saved.kind.name(), saved.id));
                }
                results[i] = Some(saved);
                Ok(())
            }
            Err(r) => {
                lock(&st.gate.counters).add_writes(&one);
                Err(failed(i, Some(&entries[i]), &r))
            }
        }
    };
    for &i in order
        .iter()
        .filter(|i| entries[**i].method == Method::Delete)
    {
        if let Err(resp) = run(i, &mut placeholders) {
            return resp;
        }
    }
    // POSTs in passes: one that refers to another's placeholder not yet resolved waits for it.
    let mut pending: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| entries[*i].method == Method::Post)
        .collect();
    while !pending.is_empty() {
        let unresolved: HashSet<&str> = pending
            .iter()
            .filter_map(|i| entries[*i].full_url.as_deref())
            .collect();
        let mut later = Vec::new();
        for &i in &pending {
            let mut e = entries[i].clone();
            substitute(&mut e.resource, &placeholders);
            if waits_on_other(&e, &unresolved) {
                later.push(i);
            } else if let Err(resp) = run(i, &mut placeholders) {
                return resp;
            }
        }
        if later.len() == pending.len() {
            let i = later[0];
            return failed(
                i,
                Some(&entries[i]),
                &bad(
                    400,
                    "invalid",
                    "the entries' references to each other's fullUrls go round in a circle",
                ),
            );
        }
        pending = later;
    }
    for &i in order
        .iter()
        .filter(|i| matches!(entries[**i].method, Method::Put | Method::Get))
    {
        if let Err(resp) = run(i, &mut placeholders) {
            return resp;
        }
    }
    *data = work;
    lock(&st.gate.counters).add_writes(&counted);
    let out = results
        .iter()
        .map(|s| success_entry(data, s.as_ref().expect("every entry ran"), base, minimal))
        .collect();
    respond("transaction-response", out)
}

/// True if `e` refers to a not-yet-created POST other than itself.
fn waits_on_other(e: &Entry, unresolved: &HashSet<&str>) -> bool {
    let others: HashSet<&str> = unresolved
        .iter()
        .copied()
        .filter(|u| Some(*u) != e.full_url.as_deref())
        .collect();
    mentions(&e.resource, &others)
}
