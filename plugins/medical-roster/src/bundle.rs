//! FHIR R4 Bundles for bulk writes (http://hl7.org/fhir/R4/http.html#transaction): the
//! entries the connector sends, and what each entry of the answer means for the record it
//! speaks for. Pure functions, tested natively; the requests are `lib.rs`'s.
//!
//! - An entry is `{"fullUrl"?, "resource", "request": {"method", "url", "ifNoneExist"?,
//!   "ifMatch"?}}`: `POST Type` (a create, conditional with `ifNoneExist`, the `If-None-Exist`
//!   header's search) or `PUT Type/id` (an update, with `ifMatch` `W/"<versionId>"`).
//! - A `batch` is answered with a `batch-response` Bundle (HTTP 200) of one entry per request
//!   entry, in order, each with `response.status` (`"201 Created"`, `"412 Precondition
//!   Failed"`, …), the resource (asked for with `Prefer: return=representation`) and, for a
//!   failure, `response.outcome` (an `OperationOutcome`).
//! - A `transaction` is all or nothing: a `transaction-response` Bundle (HTTP 200), or the
//!   failing entry's `OperationOutcome` with its HTTP status, whose `issue.expression` names the
//!   entry (`Bundle.entry[2]`) and, when the server says, the element
//!   (`Bundle.entry[2].resource.period`).

use hub_sdk::prelude::*;
use serde_json::{Value, json};

/// How `write` sends a batch of records: the connector's `bundle` config option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One request per resource written (the roster's single-resource routes).
    None,
    /// `batch` Bundles: the Practitioners of the new stays in one, their PractitionerRoles in a
    /// second (a batch may not refer from one entry to another); each record its own outcome.
    #[default]
    Batch,
    /// One `transaction` Bundle: Practitioners and PractitionerRoles together, a new person
    /// referred to by a `urn:uuid` `fullUrl`; all or nothing (see `lib.rs` for a refused entry).
    Transaction,
}

impl Mode {
    /// The `bundle` option: `"batch"` (the default, also when absent), `"transaction"` or
    /// `"none"`. Anything else is a config error naming the values.
    pub fn parse(v: Option<&Value>) -> Result<Mode, String> {
        match v {
            None | Some(Value::Null) => Ok(Mode::default()),
            Some(Value::String(s)) if s == "batch" => Ok(Mode::Batch),
            Some(Value::String(s)) if s == "transaction" => Ok(Mode::Transaction),
            Some(Value::String(s)) if s == "none" => Ok(Mode::None),
            Some(other) => Err(format!(
                "bundle must be \"batch\", \"transaction\" or \"none\", not {other}"
            )),
        }
    }
}

/// A `POST Type` entry: `resource` created, or (with `if_none_exist`, a search such as
/// `identifier=urn:cn:resident-id|…`) found; `full_url` (`urn:uuid:…`) lets other entries of a
/// transaction refer to it.
pub fn post(
    kind: &str,
    resource: Value,
    if_none_exist: Option<String>,
    full_url: Option<String>,
) -> Value {
    let mut request = json!({ "method": "POST", "url": kind });
    if let Some(c) = if_none_exist {
        request["ifNoneExist"] = json!(c);
    }
    let mut e = json!({ "resource": resource, "request": request });
    if let Some(u) = full_url {
        e["fullUrl"] = json!(u);
    }
    e
}

/// A `PUT Type/id` entry with `If-Match: W/"<version>"`.
pub fn put(kind: &str, id: &str, resource: Value, version: &str) -> Value {
    json!({
        "resource": resource,
        "request": { "method": "PUT", "url": format!("{kind}/{id}"), "ifMatch": format!("W/\"{version}\"") }
    })
}

/// A Bundle of `kind` (`batch` or `transaction`).
pub fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({ "resourceType": "Bundle", "type": kind, "entry": entries })
}

/// The placeholder `fullUrl` of the `n`th new Practitioner of a transaction: a `urn:uuid`
/// (RFC 4122 layout; unique within the Bundle, which is all FHIR asks of it).
pub fn placeholder(n: usize) -> String {
    format!("urn:uuid:00000000-0000-4000-8000-{n:012x}")
}

/// What one entry's answer means.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Created (201) or found / updated (200): the resource as the roster holds it.
    Saved { status: u16, resource: Value },
    /// The record's own result: `conflict` (412) or `rejected` (400, 404, 409, 410, 422).
    Refused(WriteResult),
    /// A failure that may pass (429, 5xx): the record's `retry`.
    Retry(String),
}

/// The record's result for a refusal of `status` with `outcome` (an `OperationOutcome`);
/// `Err` for a status that is not the record's fault (401, 403 and any other), which ends the
/// call as a single request's would. `kind` is the entry's resource type, to read a
/// transaction's `Bundle.entry[i].resource.…` expression as the element it names.
pub fn refusal(
    status: u16,
    outcome: &Value,
    what: &str,
    kind: &str,
) -> Result<Answer, ConnectorError> {
    let diagnostics = outcome
        .pointer("/issue/0/diagnostics")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| outcome.to_string().chars().take(200).collect());
    match status {
        412 => Ok(Answer::Refused(WriteResult::Conflict(format!(
            "{what}: {diagnostics}"
        )))),
        400 | 404 | 409 | 410 | 422 => Ok(Answer::Refused(WriteResult::Rejected(Rejection {
            reason: format!("{what}: HTTP {status} {diagnostics}"),
            pointer: pointer_for(outcome, kind),
        }))),
        429 | 500..=599 => Ok(Answer::Retry(format!(
            "{what}: HTTP {status} {diagnostics}"
        ))),
        401 | 403 => Err(ConnectorError::Auth(format!(
            "{what}: HTTP {status} {diagnostics}"
        ))),
        _ => Err(ConnectorError::Permanent(format!(
            "{what}: HTTP {status} {diagnostics}"
        ))),
    }
}

/// The JSON pointer in a `secondment` record for the FHIRPath expressions of an
/// `OperationOutcome`, when one names an element the mapping knows (`PractitionerRole.period`,
/// or `Bundle.entry[i].resource.period` for an entry of type `kind`).
pub fn pointer_for(outcome: &Value, kind: &str) -> Option<String> {
    const POINTERS: [(&str, &str); 8] = [
        ("PractitionerRole.period.start", "/period/start"),
        ("PractitionerRole.period", "/period"),
        ("PractitionerRole.organization", "/organization/name"),
        ("PractitionerRole.extension('secondment-batch')", "/batch"),
        (
            "PractitionerRole.extension('sending-organization')",
            "/sendingOrganization/name",
        ),
        ("Practitioner.identifier", "/practitioner/idNumber"),
        ("Practitioner.name", "/practitioner/name"),
        ("Practitioner.gender", "/practitioner/gender"),
    ];
    outcome
        .pointer("/issue/0/expression")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|expr| {
            let expr = match expr.strip_prefix("Bundle.entry[") {
                Some(rest) => format!("{kind}.{}", rest.split_once("].resource.")?.1),
                None => expr.to_string(),
            };
            POINTERS
                .iter()
                .find(|(prefix, _)| expr.starts_with(prefix))
                .map(|(_, p)| p.to_string())
        })
}

/// The status code of a `response.status` (`"201 Created"` → 201).
fn status_of(entry: &Value) -> Option<u16> {
    entry
        .pointer("/response/status")?
        .as_str()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The meaning of one entry of a `batch-response` or `transaction-response` for the record it
/// speaks for. An entry without a status, or a success without the resource, is not what FHIR
/// promises: `Err(Permanent)`.
pub fn answer(entry: &Value, what: &str, kind: &str) -> Result<Answer, ConnectorError> {
    let status = status_of(entry).ok_or_else(|| {
        ConnectorError::Permanent(format!(
            "{what}: the Bundle answer's entry has no response.status"
        ))
    })?;
    match status {
        200 | 201 => match entry.get("resource") {
            Some(r) if r.is_object() => Ok(Answer::Saved {
                status,
                resource: r.clone(),
            }),
            _ => Err(ConnectorError::Permanent(format!(
                "{what}: HTTP {status} without the resource"
            ))),
        },
        _ => refusal(
            status,
            entry.pointer("/response/outcome").unwrap_or(&Value::Null),
            what,
            kind,
        ),
    }
}

/// The entries of a `batch-response` or `transaction-response` Bundle, checked to be one per
/// request entry (`sent`).
pub fn entries<'a>(
    answer: &'a Value,
    kind: &str,
    sent: usize,
) -> Result<&'a [Value], ConnectorError> {
    if answer.get("resourceType").and_then(Value::as_str) != Some("Bundle")
        || answer.get("type").and_then(Value::as_str) != Some(&format!("{kind}-response"))
    {
        return Err(ConnectorError::Permanent(format!(
            "the {kind} was not answered with a {kind}-response Bundle"
        )));
    }
    let e = answer
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if e.len() != sent {
        return Err(ConnectorError::Permanent(format!(
            "the {kind}-response has {} entries for the {sent} sent",
            e.len()
        )));
    }
    Ok(e)
}

/// The entry a failed transaction's `OperationOutcome` names (`Bundle.entry[2]` → 2).
pub fn failed_entry(outcome: &Value) -> Option<usize> {
    outcome
        .get("issue")?
        .as_array()?
        .iter()
        .flat_map(|i| {
            i.get("expression")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
        .find_map(|e| {
            e.strip_prefix("Bundle.entry[")?
                .split_once(']')?
                .0
                .parse()
                .ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_defaults_to_batch_and_refuses_other_values() {
        assert_eq!(Mode::parse(None), Ok(Mode::Batch));
        assert_eq!(
            Mode::parse(Some(&json!("transaction"))),
            Ok(Mode::Transaction)
        );
        assert_eq!(Mode::parse(Some(&json!("none"))), Ok(Mode::None));
        assert!(
            Mode::parse(Some(&json!("Batch")))
                .unwrap_err()
                .contains("\"none\"")
        );
        assert!(Mode::parse(Some(&json!(true))).is_err());
    }

    #[test]
    fn entries_carry_the_conditions_of_the_single_requests() {
        let p = post(
            "Practitioner",
            json!({"resourceType": "Practitioner"}),
            Some("identifier=a|b".into()),
            Some(placeholder(3)),
        );
        assert_eq!(
            p,
            json!({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000003",
                   "resource": {"resourceType": "Practitioner"},
                   "request": {"method": "POST", "url": "Practitioner", "ifNoneExist": "identifier=a|b"}})
        );
        let u = put("PractitionerRole", "12", json!({"id": "12"}), "4");
        assert_eq!(
            u["request"],
            json!({"method": "PUT", "url": "PractitionerRole/12", "ifMatch": "W/\"4\""})
        );
        assert_eq!(
            bundle("batch", vec![p, u])["entry"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn each_answer_entry_becomes_its_record_s_result() {
        let created = json!({"resource": {"id": "7"}, "response": {"status": "201 Created", "etag": "W/\"1\""}});
        assert!(matches!(
            answer(&created, "create", "Practitioner").unwrap(),
            Answer::Saved { status: 201, resource } if resource == json!({"id": "7"})
        ));
        let stale = json!({"response": {"status": "412 Precondition Failed",
            "outcome": {"resourceType": "OperationOutcome", "issue": [{"code": "conflict", "diagnostics": "version 1 is not current"}]}}});
        assert!(matches!(
            answer(&stale, "PractitionerRole/9 update", "PractitionerRole").unwrap(),
            Answer::Refused(WriteResult::Conflict(m)) if m == "PractitionerRole/9 update: version 1 is not current"
        ));
        let bad = json!({"response": {"status": "422 Unprocessable Entity",
            "outcome": {"issue": [{"diagnostics": "period.end is before period.start", "expression": ["PractitionerRole.period"]}]}}});
        match answer(&bad, "create", "PractitionerRole").unwrap() {
            Answer::Refused(WriteResult::Rejected(r)) => {
                assert_eq!(
                    r.reason,
                    "create: HTTP 422 period.end is before period.start"
                );
                assert_eq!(r.pointer.as_deref(), Some("/period"));
            }
            other => panic!("{other:?}"),
        }
        let busy = json!({"response": {"status": "503 Service Unavailable"}});
        assert!(matches!(
            answer(&busy, "create", "Practitioner").unwrap(),
            Answer::Retry(_)
        ));
        let denied = json!({"response": {"status": "403 Forbidden"}});
        assert!(matches!(
            answer(&denied, "create", "Practitioner"),
            Err(ConnectorError::Auth(_))
        ));
        assert!(answer(&json!({"response": {}}), "create", "Practitioner").is_err());
        assert!(
            answer(
                &json!({"response": {"status": "200 OK"}}),
                "create",
                "Practitioner"
            )
            .is_err(),
            "no resource"
        );
    }

    #[test]
    fn a_failed_transaction_names_its_entry_and_the_element() {
        let outcome = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
            "diagnostics": "Bundle.entry[3] (POST PractitionerRole): period.end is before period.start",
            "expression": ["Bundle.entry[3]", "Bundle.entry[3].resource.period"]}]});
        assert_eq!(failed_entry(&outcome), Some(3));
        assert_eq!(
            pointer_for(&outcome, "PractitionerRole").as_deref(),
            Some("/period")
        );
        assert_eq!(
            pointer_for(&outcome, "Practitioner"),
            None,
            "the element read as the entry's type"
        );
        assert_eq!(
            failed_entry(&json!({"issue": [{"expression": ["Practitioner.name"]}]})),
            None
        );
        assert_eq!(
            failed_entry(&json!({"issue": [{"expression": ["Bundle.entry[x]"]}]})),
            None
        );
    }

    #[test]
    fn an_answer_must_be_the_response_bundle_with_one_entry_per_entry_sent() {
        let ok = json!({"resourceType": "Bundle", "type": "batch-response", "entry": [{}, {}]});
        assert_eq!(entries(&ok, "batch", 2).unwrap().len(), 2);
        assert!(entries(&ok, "batch", 3).is_err());
        assert!(entries(&ok, "transaction", 2).is_err());
        assert!(entries(&json!({"resourceType": "OperationOutcome"}), "batch", 0).is_err());
    }
}
