//! The MED-ROSTER simulator (医疗人才派驻花名册): Zhenfeng health bureau's roster of clinicians,
//! a small FHIR R4 server for `Organization`, `Practitioner` and `PractitionerRole`.
//! `medical-roster.md` is the contract; the FHIR R4 specification is the reference for every
//! shape.

mod admin;
mod api;
mod bundle;
mod rules;
mod store;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

use crate::SimOptions;
use crate::gate::{self, Gate, System};
use crate::seed::Seed;
use store::{Kind, MedData, USCC};

/// `application/fhir+json`, as every answer is typed.
pub(crate) const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// The simulator's state: bearer token, gate (faults, counters) and data.
#[derive(Debug)]
pub(crate) struct MedState {
    token: String,
    gate: Arc<Gate>,
    data: Mutex<MedData>,
    /// The seeded organisations, for `/_admin/seed`.
    seed_facts: Value,
}

/// The collections `/_admin/counters` tallies: the resource types.
const COLLECTIONS: [&str; 3] = ["Organization", "Practitioner", "PractitionerRole"];

impl MedState {
    pub(crate) fn new(seed: &Seed, opts: &SimOptions) -> MedState {
        let mut data = MedData::default();
        // The roster was set up on 2021-04-01, when the programme began.
        let set_up = crate::clock::cst_secs(2021, 4, 1, 9, 0, 0) * 1000;
        let mut organizations = Vec::new();
        for (i, f) in seed.facilities.iter().enumerate() {
            let resource = json!({
                "identifier": [{"system": USCC, "value": f.uscc}],
                "active": true,
                "type": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                    "code": "prov", "display": "Healthcare Provider"}]}],
                "name": f.name,
                "address": [{"text": f.address}],
            });
            let Value::Object(resource) = resource else {
                unreachable!()
            };
            let id = data.create(Kind::Organization, resource, Some(set_up + i as i64));
            organizations.push(json!({"id": id, "name": f.name, "uscc": f.uscc, "host": f.host}));
        }
        MedState {
            token: opts.med_token.clone(),
            gate: Arc::new(Gate::new(System::Med, None, &COLLECTIONS)),
            data: Mutex::new(data),
            seed_facts: json!({
                "organizations": organizations,
                "practitioners": 0,
                "practitioner_roles": 0,
            }),
        }
    }
}

/// An `OperationOutcome` answer: one issue of severity `error` with `code` and `diagnostics`.
pub(crate) fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    outcome_at(status, code, diagnostics, None)
}

/// An `OperationOutcome` answer whose issue names a FHIRPath `expression`.
pub(crate) fn outcome_at(
    status: StatusCode,
    code: &str,
    diagnostics: &str,
    expression: Option<&str>,
) -> Response {
    let expression: Vec<String> = expression.into_iter().map(str::to_string).collect();
    fhir(status, &outcome_value(code, diagnostics, &expression))
}

/// An `OperationOutcome` of one issue of severity `error` with `code`, `diagnostics` and the
/// FHIRPath `expression`s (left out when there are none).
pub(crate) fn outcome_value(code: &str, diagnostics: &str, expression: &[String]) -> Value {
    let mut issue = Map::new();
    issue.insert("severity".into(), json!("error"));
    issue.insert("code".into(), json!(code));
    issue.insert("diagnostics".into(), json!(diagnostics));
    if !expression.is_empty() {
        issue.insert("expression".into(), json!(expression));
    }
    json!({"resourceType": "OperationOutcome", "issue": [Value::Object(issue)]})
}

/// A FHIR JSON answer.
pub(crate) fn fhir(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp
}

/// The whole MED-ROSTER application: `POST /fhir` takes batch and transaction Bundles
/// ([`bundle`]); `/fhir/metadata` open, the rest of `/fhir` behind the
/// bearer token, `/_admin/…` open; everything behind the gate but the side-door, and logged.
pub(crate) fn router(state: Arc<MedState>) -> Router {
    use axum::routing::put;
    let api = Router::new()
        .route("/fhir", get(api::page).post(bundle::post))
        .route("/fhir/{kind}", get(api::search).post(api::create))
        .route(
            "/fhir/{kind}/{id}",
            put(api::update)
                .get(api::read)
                .delete(api::not_allowed)
                .post(api::not_allowed),
        )
        .route("/fhir/{kind}/{id}/_history/{vid}", get(api::vread))
        .layer(from_fn_with_state(state.clone(), api::auth))
        .route("/fhir/metadata", get(api::metadata))
        .layer(from_fn_with_state(state.gate.clone(), gate::gate))
        .with_state(state.clone());
    let admin = Router::new()
        .route("/_admin/seed", get(admin::seed))
        .route("/_admin/{kind}", get(admin::list).post(admin::create))
        .route(
            "/_admin/{kind}/{id}",
            get(admin::get).patch(admin::patch).delete(admin::delete),
        )
        .with_state(state.clone())
        .merge(crate::admin::router(state.gate.clone()));
    api.merge(admin).layer(from_fn(gate::access_log))
}
