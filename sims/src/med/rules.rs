//! What MED-ROSTER checks in a resource a client creates or updates, and the natural key the
//! counters tally creations under.
//!
//! Structure (HTTP 400, issue `structure`): a JSON object of the right `resourceType`, only
//! elements FHIR R4 defines for the type, arrays where FHIR has lists. Rules (HTTP 422, issue
//! `processing`, the roster's own business rules): a `Practitioner` has a resident identity
//! number (`urn:cn:resident-id`, 17 digits then a digit or `X`) and a name; a
//! `PractitionerRole` points at an existing `Practitioner` and `Organization`, has a
//! `period.start` (a date) not after its end, and a batch extension with an integer 1–99;
//! an `Organization` has a name.

use serde_json::{Map, Value};

use super::store::{
    BATCH_EXTENSION, Kind, MedData, RESIDENT_ID, SENDING_ORGANIZATION_EXTENSION, USCC,
};

/// Why a resource is refused: HTTP status, issue code, message and FHIRPath expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) diagnostics: String,
    pub(crate) expression: Option<String>,
}

fn structure(expr: &str, msg: impl Into<String>) -> Refusal {
    Refusal {
        status: 400,
        code: "structure",
        diagnostics: msg.into(),
        expression: Some(expr.to_string()),
    }
}

fn rule(expr: &str, msg: impl Into<String>) -> Refusal {
    Refusal {
        status: 422,
        code: "processing",
        diagnostics: msg.into(),
        expression: Some(expr.to_string()),
    }
}

/// FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (the roster writes full dates).
fn is_date(s: &str) -> bool {
    match s.len() {
        4 => s.bytes().all(|b| b.is_ascii_digit()),
        7 => chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok(),
        10 => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        _ => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
    }
}

fn list<'a>(r: &'a Map<String, Value>, name: &str, kind: Kind) -> Result<&'a [Value], Refusal> {
    match r.get(name) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(structure(
            &format!("{}.{name}", kind.name()),
            format!("{}.{name} must be an array", kind.name()),
        )),
    }
}

/// Checks a resource `resourceType`, elements and the roster's rules; `data` resolves
/// references.
pub(crate) fn check(
    kind: Kind,
    body: &Value,
    data: &MedData,
) -> Result<Map<String, Value>, Refusal> {
    let Some(r) = body.as_object() else {
        return Err(structure(
            kind.name(),
            "the body must be a JSON object (a FHIR resource)",
        ));
    };
    match r.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == kind.name() => {}
        Some(t) => {
            return Err(structure(
                "resourceType",
                format!("resourceType {t} does not match the URL's {}", kind.name()),
            ));
        }
        None => return Err(structure("resourceType", "resourceType is required")),
    }
    if let Some(unknown) = r.keys().find(|k| !kind.knows(k)) {
        return Err(structure(
            &format!("{}.{unknown}", kind.name()),
            format!(
                "unknown element {unknown:?} for resource type {}",
                kind.name()
            ),
        ));
    }
    for name in ["identifier", "extension", "telecom"] {
        for (i, item) in list(r, name, kind)?.iter().enumerate() {
            if !item.is_object() {
                return Err(structure(
                    &format!("{}.{name}[{i}]", kind.name()),
                    format!("{}.{name}[{i}] must be an object", kind.name()),
                ));
            }
        }
    }
    for (i, e) in list(r, "extension", kind)?.iter().enumerate() {
        if e.get("url").and_then(Value::as_str).is_none() {
            return Err(structure(
                &format!("{}.extension[{i}].url", kind.name()),
                "an extension needs a url",
            ));
        }
    }
    if let Some(a) = r.get("active")
        && !a.is_boolean()
    {
        return Err(structure(
            &format!("{}.active", kind.name()),
            "active must be true or false",
        ));
    }
    match kind {
        Kind::Organization => {
            if r.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| n.trim().is_empty())
            {
                return Err(rule("Organization.name", "an Organization needs a name"));
            }
        }
        Kind::Practitioner => {
            let ids = list(r, "identifier", kind)?;
            let resident = ids
                .iter()
                .find(|i| i.get("system").and_then(Value::as_str) == Some(RESIDENT_ID));
            let Some(value) = resident
                .and_then(|i| i.get("value"))
                .and_then(Value::as_str)
            else {
                return Err(rule(
                    "Practitioner.identifier",
                    format!("a Practitioner needs an identifier with system {RESIDENT_ID}"),
                ));
            };
            let b = value.as_bytes();
            if !(b.len() == 18
                && b[..17].iter().all(u8::is_ascii_digit)
                && (b[17].is_ascii_digit() || b[17] == b'X'))
            {
                return Err(rule(
                    "Practitioner.identifier.value",
                    "a resident identity number is 17 digits then a digit or X",
                ));
            }
            let names = list(r, "name", kind)?;
            let named = names.iter().any(|n| {
                n.get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.trim().is_empty())
                    || n.get("family").and_then(Value::as_str).is_some()
            });
            if !named {
                return Err(rule("Practitioner.name", "a Practitioner needs a name"));
            }
            if let Some(g) = r.get("gender")
                && !matches!(g.as_str(), Some("male" | "female" | "other" | "unknown"))
            {
                return Err(structure(
                    "Practitioner.gender",
                    "gender must be male, female, other or unknown",
                ));
            }
            for (i, q) in list(r, "qualification", kind)?.iter().enumerate() {
                if !q.get("code").is_some_and(Value::is_object) {
                    return Err(structure(
                        &format!("Practitioner.qualification[{i}].code"),
                        "a qualification needs a code (CodeableConcept)",
                    ));
                }
            }
        }
        Kind::PractitionerRole => {
            for (element, target) in [
                ("practitioner", Kind::Practitioner),
                ("organization", Kind::Organization),
            ] {
                let reference = r
                    .get(element)
                    .and_then(|v| v.get("reference"))
                    .and_then(Value::as_str);
                let expr = format!("PractitionerRole.{element}");
                let Some(reference) = reference else {
                    return Err(rule(
                        &expr,
                        format!("a PractitionerRole needs a {element} reference"),
                    ));
                };
                match data.resolve(reference) {
                    Some((k, _)) if k == target => {}
                    _ => {
                        return Err(rule(
                            &expr,
                            format!("{reference} is not a {} in this roster", target.name()),
                        ));
                    }
                }
            }
            let start = body.pointer("/period/start").and_then(Value::as_str);
            let end = body.pointer("/period/end").and_then(Value::as_str);
            match start {
                Some(s) if is_date(s) => {}
                Some(_) => {
                    return Err(structure(
                        "PractitionerRole.period.start",
                        "period.start must be a date",
                    ));
                }
                None => {
                    return Err(rule(
                        "PractitionerRole.period.start",
                        "a stay needs its first day (period.start)",
                    ));
                }
            }
            if let Some(e) = end {
                if !is_date(e) {
                    return Err(structure(
                        "PractitionerRole.period.end",
                        "period.end must be a date",
                    ));
                }
                if start.is_some_and(|s| e < s) {
                    return Err(rule(
                        "PractitionerRole.period",
                        "period.end is before period.start",
                    ));
                }
            }
            let exts = list(r, "extension", kind)?;
            let batch = exts
                .iter()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(BATCH_EXTENSION));
            match batch.map(|b| b.get("valueInteger").and_then(Value::as_u64)) {
                Some(Some(1..=99)) => {}
                Some(_) => {
                    return Err(rule(
                        "PractitionerRole.extension('secondment-batch').valueInteger",
                        "the batch is an integer from 1 to 99",
                    ));
                }
                None => {
                    return Err(rule(
                        "PractitionerRole.extension",
                        format!("a stay needs its batch (extension {BATCH_EXTENSION})"),
                    ));
                }
            }
            if let Some(sending) = exts.iter().find(|e| {
                e.get("url").and_then(Value::as_str) == Some(SENDING_ORGANIZATION_EXTENSION)
            }) {
                let reference = sending
                    .pointer("/valueReference/reference")
                    .and_then(Value::as_str);
                if reference
                    .and_then(|r| data.resolve(r))
                    .is_none_or(|(k, _)| k != Kind::Organization)
                {
                    return Err(rule(
                        "PractitionerRole.extension('sending-organization').valueReference",
                        "the sending organisation must be an Organization in this roster",
                    ));
                }
            }
            for (i, s) in list(r, "specialty", kind)?.iter().enumerate() {
                if !s.is_object() {
                    return Err(structure(
                        &format!("PractitionerRole.specialty[{i}]"),
                        "a specialty is a CodeableConcept",
                    ));
                }
            }
        }
    }
    Ok(r.clone())
}

/// The value of the first identifier with `system`.
pub(crate) fn identifier<'a>(r: &'a Value, system: &str) -> Option<&'a str> {
    r.get("identifier")?
        .as_array()?
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(system))?
        .get("value")?
        .as_str()
}

/// The natural key `/_admin/counters` tallies creations under: a Practitioner's resident
/// identity number, a PractitionerRole's practitioner identity number and batch
/// (`idNumber/batch`), an Organization's credit code (or name).
pub(crate) fn natural_key(kind: Kind, r: &Value, data: &MedData) -> String {
    match kind {
        Kind::Practitioner => identifier(r, RESIDENT_ID).unwrap_or_default().to_string(),
        Kind::Organization => identifier(r, USCC)
            .or_else(|| r.get("name").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string(),
        Kind::PractitionerRole => {
            let person = r
                .pointer("/practitioner/reference")
                .and_then(Value::as_str)
                .and_then(|p| data.resolve(p))
                .and_then(|(_, e)| identifier(e.current(), RESIDENT_ID).map(str::to_string))
                .unwrap_or_default();
            let batch = r
                .get("extension")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(BATCH_EXTENSION))
                .and_then(|e| e.get("valueInteger"))
                .map(Value::to_string)
                .unwrap_or_default();
            format!("{person}/{batch}")
        }
    }
}
