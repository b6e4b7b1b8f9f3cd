//! The schema catalogue and record validation.
//!
//! Schemas are JSON Schema draft 2020-12 files embedded from `schemas/` (crate `hub-schemas`);
//! cross-file `$ref`s resolve from the catalogue only, never from the network. Under 2020-12
//! `format` is an annotation unless asserted, so format assertion is switched on explicitly, with
//! the hub's custom formats:
//!
//! | format | rule |
//! |---|---|
//! | `gb11643` | resident identity number, GB 11643-1999: 18 characters, real birth date, ISO 7064 MOD 11-2 check character, upper-case `X`, a division code that exists or existed (GB/T 2260) |
//! | `gb32100` | unified social credit code, GB 32100-2015 alphabet and check character |
//! | `gb2260` | 6-digit division code that exists or existed since 1981 |
//! | `cn-mobile` | mainland mobile number, 11 digits `1[3-9]…` |
//!
//! Error messages never quote the value (it may be personal data); they name the place by JSON
//! pointer (RFC 6901) and say what rule failed.

use hub_schemas::{catalogue, divisions, id_number, phone, uscc};
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A schema failed to load (a bug in the catalogue, caught by the tests).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema {name}: not JSON: {source}")]
    Json { name: String, source: serde_json::Error },
    #[error("schema {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("no schema named {0:?} in the catalogue (known: {1})")]
    Unknown(String, String),
}

/// One rule a record breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// JSON pointer (RFC 6901) to the offending value; empty for the record itself.
    pub pointer: String,
    /// What is wrong, without the value.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "{p}: {}", self.message)
    }
}

/// A compiled schema.
pub struct Schema {
    /// Short name, e.g. `worker`.
    pub name: String,
    /// The schema's `$id`.
    pub id: String,
    /// Its version (`x-version`, semver).
    pub version: String,
    /// The natural key: JSON pointers into the record (`x-key`).
    pub key: Vec<String>,
    validator: Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").field("name", &self.name).field("version", &self.version).finish()
    }
}

impl Schema {
    /// Every rule `record` breaks; empty if it is valid.
    pub fn validate(&self, record: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        for e in self.validator.iter_errors(record) {
            collect(&e, &mut out);
        }
        out.dedup();
        out
    }
}

/// Turns one validator error into violations, looking inside `anyOf` for the branch that
/// explains the failure (a nullable field's `null` branch never does).
fn collect(e: &ValidationError<'_>, out: &mut Vec<Violation>) {
    if let ValidationErrorKind::AnyOf { context } = e.kind() {
        let branches: Vec<&Vec<ValidationError<'static>>> = context
            .iter()
            .filter(|branch| !branch.iter().all(|b| is_null_type_error(b)))
            .collect();
        if branches.len() == 1 {
            for b in branches[0] {
                collect(b, out);
            }
            return;
        }
    }
    let pointer = e.instance_path().as_str().to_string();
    let message = match e.kind() {
        ValidationErrorKind::Format { format } => format_reason(format, e.instance()),
        _ => e.masked().to_string(),
    };
    out.push(Violation { pointer, message });
}

fn is_null_type_error(e: &ValidationError<'_>) -> bool {
    matches!(e.kind(), ValidationErrorKind::Type { .. }) && e.masked().to_string().contains("null")
}

/// Why a value fails one of the formats, without quoting it.
fn format_reason(format: &str, value: &Value) -> String {
    let Some(s) = value.as_str() else { return format!("is not a {format:?}") };
    match format {
        "gb11643" => match id_number::validate(s) {
            Err(e) => format!("not a GB 11643-1999 identity number: {e}"),
            Ok(()) => "not a GB 11643-1999 identity number: division code is not in GB/T 2260 (1981 to today)".into(),
        },
        "gb32100" => match uscc::validate(s) {
            Err(e) => format!("not a GB 32100-2015 unified social credit code: {e}"),
            Ok(()) => "not a GB 32100-2015 unified social credit code".into(),
        },
        "gb2260" => "not a GB/T 2260 division code (6 digits, in use or used since 1981)".into(),
        "cn-mobile" => "not a mainland mobile number in canonical form (11 digits, 1[3-9]…)".into(),
        "date" => "not an RFC 3339 full-date (YYYY-MM-DD) that exists".into(),
        other => format!("is not a valid {other:?}"),
    }
}

fn is_gb11643(s: &str) -> bool {
    id_number::validate(s).is_ok() && divisions::exists(&s[..6])
}

fn is_gb2260(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) && divisions::exists(s)
}

/// Every schema of the catalogue, compiled.
#[derive(Debug, Clone)]
pub struct Catalogue {
    schemas: Arc<BTreeMap<String, Arc<Schema>>>,
}

impl Catalogue {
    /// Compiles the embedded catalogue (`hub_schemas::catalogue::FILES`).
    pub fn builtin() -> Result<Catalogue, SchemaError> {
        let mut docs = Vec::new();
        for f in catalogue::FILES {
            let v: Value = serde_json::from_str(f.text).map_err(|source| SchemaError::Json { name: f.name.into(), source })?;
            docs.push((f, v));
        }
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .retrieve_known_draft_meta_schemas(false)
            .extend(docs.iter().map(|(f, v)| (f.id, v.clone())))
            .and_then(|b| b.prepare())
            .map_err(|e| SchemaError::Invalid { name: "catalogue".into(), message: e.to_string() })?;
        let mut schemas = BTreeMap::new();
        for (f, v) in &docs {
            if f.name == "common" {
                continue;
            }
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .should_validate_formats(true)
                .should_ignore_unknown_formats(false)
                .with_format("gb11643", is_gb11643)
                .with_format("gb32100", |s: &str| uscc::validate(s).is_ok())
                .with_format("gb2260", is_gb2260)
                .with_format("cn-mobile", phone::is_canonical)
                .build(v)
                .map_err(|e| SchemaError::Invalid { name: f.name.into(), message: e.masked().to_string() })?;
            let version = v.get("x-version").and_then(Value::as_str).unwrap_or("0.0.0").to_string();
            let key = v
                .get("x-key")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            schemas.insert(
                f.name.to_string(),
                Arc::new(Schema { name: f.name.into(), id: f.id.into(), version, key, validator }),
            );
        }
        Ok(Catalogue { schemas: Arc::new(schemas) })
    }

    /// The schema with this short name.
    pub fn get(&self, name: &str) -> Result<Arc<Schema>, SchemaError> {
        self.schemas.get(name).cloned().ok_or_else(|| {
            SchemaError::Unknown(name.into(), self.schemas.keys().cloned().collect::<Vec<_>>().join(", "))
        })
    }

    /// Short names of every schema.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker() -> Arc<Schema> {
        Catalogue::builtin().unwrap().get("worker").unwrap()
    }

    fn valid() -> Value {
        json!({
            "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
            "hometownTownship": "长田镇", "registryNumber": "ZF2021000123", "registeredOn": "2021-08-05",
            "workplace": {"province": "广东省", "countyCode": "441303"},
            "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
            "position": "普工", "hiredOn": null, "status": "employed", "remark": null
        })
    }

    fn pointers(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.pointer.as_str()).collect()
    }

    #[test]
    fn the_worker_schema_declares_its_key_and_version() {
        let w = worker();
        assert_eq!(w.key, ["/idNumber"]);
        assert_eq!(w.version, "1.0.0");
        assert_eq!(w.id, "https://schemas.hub.invalid/worker.json");
    }

    #[test]
    fn a_canonical_worker_is_valid() {
        assert_eq!(worker().validate(&valid()), []);
    }

    #[test]
    fn a_wrong_check_character_is_reported_at_its_pointer_without_the_value() {
        let mut r = valid();
        r["idNumber"] = json!("110105194912310021");
        let v = worker().validate(&r);
        assert_eq!(pointers(&v), ["/idNumber"]);
        assert_eq!(
            v[0].message,
            "not a GB 11643-1999 identity number: check character is '1' but ISO 7064 MOD 11-2 gives 'X'"
        );
        assert!(!v[0].message.contains("110105"));
    }

    #[test]
    fn identity_numbers_need_a_known_division_code_but_retired_ones_pass() {
        // 441381 (惠阳市) was retired in 2003; numbers issued there remain valid.
        let first17 = "44138119800101001";
        let old = format!("{first17}{}", id_number::check_character(first17).unwrap());
        let mut r = valid();
        r["idNumber"] = json!(old);
        assert_eq!(worker().validate(&r), []);
        // 999999 never existed.
        let first17 = "99999919800101001";
        r["idNumber"] = json!(format!("{first17}{}", id_number::check_character(first17).unwrap()));
        let v = worker().validate(&r);
        assert_eq!(pointers(&v), ["/idNumber"]);
        assert!(v[0].message.contains("division code"), "{}", v[0].message);
    }

    #[test]
    fn lower_case_x_is_not_canonical() {
        let mut r = valid();
        r["idNumber"] = json!("11010519491231002x");
        assert_eq!(pointers(&worker().validate(&r)), ["/idNumber"]);
    }

    #[test]
    fn impossible_dates_and_empty_names_are_named() {
        let mut r = valid();
        r["registeredOn"] = json!("2021年2月30日");
        r["name"] = json!("");
        let v = worker().validate(&r);
        let mut p = pointers(&v);
        p.sort();
        // An empty name breaks both minLength and the no-blank-at-the-ends pattern.
        assert_eq!(p, ["/name", "/name", "/registeredOn"]);
    }

    #[test]
    fn an_ideographic_space_at_the_end_of_a_name_is_refused() {
        // U+3000 is white space (Unicode Zs); `\S` must not match it.
        let mut r = valid();
        r["name"] = json!("王芳\u{3000}");
        assert_eq!(pointers(&worker().validate(&r)), ["/name"]);
        r["name"] = json!("王\u{3000}芳");
        assert_eq!(worker().validate(&r), []);
    }

    #[test]
    fn phones_uscc_and_division_codes_are_asserted() {
        let mut r = valid();
        r["phone"] = json!("+8613800138000");
        r["employer"]["uscc"] = json!("91350100M000100Y44");
        r["workplace"]["countyCode"] = json!("999999");
        let v = worker().validate(&r);
        let mut p = pointers(&v);
        p.sort();
        assert_eq!(p, ["/employer/uscc", "/phone", "/workplace/countyCode"]);
    }

    #[test]
    fn unknown_fields_and_missing_required_ones_are_refused() {
        let mut r = valid();
        r.as_object_mut().unwrap().remove("gender");
        r["idNo"] = json!("x");
        let v = worker().validate(&r);
        assert_eq!(pointers(&v), ["", ""]);
        assert!(v.iter().any(|v| v.message.contains("gender")), "{v:?}");
        assert!(v.iter().any(|v| v.message.contains("idNo")), "{v:?}");
    }
}
