//! The schema catalogue and record validation.
//!
//! Schemas are JSON Schema draft 2020-12 files embedded from `schemas/` (crate `hub-schemas`):
//! `common` (shared definitions) and the entities `worker`, `enterprise`, `job-posting`,
//! `referral` and `secondment`. Cross-file `$ref`s resolve from the catalogue only, never from
//! the network. Under 2020-12 `format` is an annotation unless asserted, so format assertion is
//! switched on explicitly, with the hub's custom formats and the standard ones:
//!
//! | format | rule |
//! |---|---|
//! | `gb11643` | resident identity number, GB 11643-1999: 18 characters, real birth date, ISO 7064 MOD 11-2 check character, upper-case `X`, a division code that exists or existed (GB/T 2260) |
//! | `gb32100` | unified social credit code, GB 32100-2015 alphabet and check character |
//! | `gb2260` | 6-digit division code that exists or existed since 1981 |
//! | `cn-mobile` | mainland mobile number, 11 digits `1[3-9]…` |
//! | `date`, `date-time` | RFC 3339 `full-date` and `date-time` (the offset is part of the production) |
//! | `email` | RFC 5321 mailbox |
//!
//! Annotation keywords read by the hub: `x-version` (the file's semantic version, see
//! [`hub_schemas::catalogue`] for the versioning rule), `x-key` (the entity's natural key as JSON
//! pointers, checked at load time to name required, non-nullable string or integer properties)
//! and `x-ordered` (pairs `[lower, upper]` of JSON pointers into an object; asserted: when both
//! values are numbers, or both RFC 3339 full-dates, `upper` must not be less than `lower`).
//!
//! Error messages never quote the value (it may be personal data); they name the place by JSON
//! pointer (RFC 6901) and say what rule failed. A missing required property and a property the
//! schema does not allow are reported at that property's pointer.

use hub_schemas::catalogue::{self, Compatibility, Version, VersionError};
use hub_schemas::{divisions, id_number, phone, uscc};
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::Location;
use jsonschema::{Draft, Keyword, Registry, ValidationError, Validator};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A schema failed to load (a bug in the catalogue, caught by the tests), or a name is unknown.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file is not JSON.
    #[error("schema {name}: not JSON: {source}")]
    Json {
        /// The schema's name in the catalogue (`worker`, `common`, ...).
        name: String,
        /// serde_json's error, with the line and column.
        source: serde_json::Error,
    },
    /// The file is JSON but not a valid catalogue schema; `message` says where and why.
    #[error("schema {name}: {message}")]
    Invalid {
        /// The schema's name in the catalogue.
        name: String,
        /// Where in the schema, and why.
        message: String,
    },
    /// No entity schema has this name; the second field lists the known ones.
    #[error("no schema named {0:?} in the catalogue (known: {1})")]
    Unknown(String, String),
}

/// One rule a record breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Violation {
    /// JSON pointer (RFC 6901) to the offending value; empty for the record itself.
    pub pointer: String,
    /// What is wrong, without the value.
    pub message: String,
}

impl std::fmt::Display for Violation {
    /// `/pointer: message`, with `/` standing for the record itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{p}: {}", self.message)
    }
}

/// A compiled entity schema. Compile once ([`Catalogue::builtin`]) and reuse: validation of a
/// record allocates only when the record is invalid.
pub struct Schema {
    /// Short name, e.g. `worker`.
    pub name: String,
    /// The schema's `$id`.
    pub id: String,
    /// Its version (`x-version`, `MAJOR.MINOR.PATCH`).
    pub version: String,
    /// The natural key: JSON pointers into the record (`x-key`), in order.
    pub key: Vec<String>,
    /// The schema's `title`.
    pub title: String,
    validator: Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl Schema {
    /// Every rule `record` breaks, ordered by pointer (array indices numerically); empty if it
    /// is valid.
    pub fn validate(&self, record: &Value) -> Vec<Violation> {
        if self.validator.is_valid(record) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in self.validator.iter_errors(record) {
            collect(&e, &mut out);
        }
        out.sort_by(|a, b| pointer_order(&a.pointer, &b.pointer));
        out.dedup();
        out
    }

    /// True if `record` is valid (the fast path of [`Schema::validate`]).
    pub fn is_valid(&self, record: &Value) -> bool {
        self.validator.is_valid(record)
    }

    /// Whether a connector speaking `spoken` (its manifest's `schema-version` for a stream of
    /// this schema) can be used: the same major version is accepted, with the minor relation
    /// reported; another major version or a malformed version is refused. See
    /// [`hub_schemas::catalogue`] for the rule.
    pub fn check_version(&self, spoken: &str) -> Result<Compatibility, VersionError> {
        catalogue::compatibility(&self.version, spoken)
    }
}

/// Turns one validator error into violations, looking inside `anyOf` for the branch that
/// explains the failure (a nullable field's `null` branch never does).
fn collect(e: &ValidationError<'_>, out: &mut Vec<Violation>) {
    let path = e.instance_path().as_str();
    let message = match e.kind() {
        ValidationErrorKind::AnyOf { context } => {
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
            // Several forms are allowed (e.g. a mobile or a fixed-line number): say why each fails.
            let reasons: Vec<String> = branches
                .iter()
                .map(|branch| {
                    let mut v = Vec::new();
                    for b in branch.iter() {
                        collect(b, &mut v);
                    }
                    let parts: Vec<String> = v
                        .into_iter()
                        .map(|v| {
                            if v.pointer == path {
                                v.message
                            } else {
                                format!("{} {}", v.pointer, v.message)
                            }
                        })
                        .collect();
                    parts.join("; ")
                })
                .collect();
            format!(
                "matches none of the allowed forms: {}",
                reasons.join("; or ")
            )
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(Violation {
                pointer: format!("{path}/{}", escape(name)),
                message: "is required but missing".into(),
            });
            return;
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                out.push(Violation {
                    pointer: format!("{path}/{}", escape(name)),
                    message: "is not allowed here: the schema has no such property".into(),
                });
            }
            return;
        }
        ValidationErrorKind::Custom { keyword, message } if keyword == ORDERED => {
            // The keyword writes "<upper> <relation> <lower>" with pointers relative to `path`.
            if let Some((upper, rest)) = message.split_once(' ')
                && let Some((relation, lower)) = rest.rsplit_once(' ')
            {
                out.push(Violation {
                    pointer: format!("{path}{upper}"),
                    message: format!("{relation} {path}{lower}"),
                });
                return;
            }
            message.clone()
        }
        ValidationErrorKind::Format { format } => format_reason(format, e.instance()),
        // The allowed values come from the schema, not the record: they can be named in full.
        ValidationErrorKind::Enum { options } => {
            let all: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(Value::to_string).collect())
                .unwrap_or_default();
            format!("is not one of {}", all.join(", "))
        }
        ValidationErrorKind::Constant { expected_value } => format!("must be {expected_value}"),
        ValidationErrorKind::Pattern { pattern } => {
            pattern_reason(pattern).map_or_else(|| e.masked().to_string(), str::to_string)
        }
        _ => e.masked().to_string(),
    };
    out.push(Violation {
        pointer: path.to_string(),
        message,
    });
}

fn is_null_type_error(e: &ValidationError<'_>) -> bool {
    matches!(e.kind(), ValidationErrorKind::Type { .. }) && e.masked().to_string().contains("null")
}

/// Orders JSON pointers token by token, tokens that are both array indices numerically.
pub fn pointer_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.split('/'), b.split('/'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(s), Some(t)) => {
                let o = match (s.parse::<u64>(), t.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => s.cmp(t),
                };
                if o.is_ne() {
                    return o;
                }
            }
        }
    }
}

/// Escapes a property name as one RFC 6901 reference token (`~` → `~0`, `/` → `~1`).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// What the catalogue's patterns mean, for messages (the pattern itself says little to people).
fn pattern_reason(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        r"^\S(.*\S)?$" | r"^\S([\s\S]*\S)?$" => {
            "must not begin or end with a blank (ASCII white space or U+3000)"
        }
        r"^(0(10|2[0-9])[2-9][0-9]{7}|0[3-9][0-9]{2}[2-9][0-9]{6,7})$" => {
            "not a mainland fixed-line number in canonical form (0, area code and subscriber number as digits alone)"
        }
        r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$" => {
            "not a system name (upper-case letters and digits in dash-separated parts, e.g. HY-ESMS)"
        }
        r"^[!-~]{1,64}$" => "not an id of 1 to 64 printable ASCII characters without spaces",
        r"^ZF[0-9]{10}$" => "not a Zhenfeng registry number (ZF and 10 digits)",
        _ => return None,
    })
}

/// Why a value fails one of the formats, without quoting it.
fn format_reason(format: &str, value: &Value) -> String {
    let Some(s) = value.as_str() else {
        return format!("is not a {format:?}");
    };
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
        "date-time" => "not an RFC 3339 date-time with offset (YYYY-MM-DDThh:mm:ss+08:00 or …Z) that exists".into(),
        "email" => "not an e-mail address (RFC 5321 mailbox)".into(),
        other => format!("is not a valid {other:?}"),
    }
}

/// [`format_reason`] for a string, for other modules' tests.
#[cfg(test)]
pub(crate) fn format_reason_for_test(format: &str, s: &str) -> String {
    format_reason(format, &Value::String(s.into()))
}

fn is_gb11643(s: &str) -> bool {
    id_number::validate(s).is_ok() && divisions::exists(&s[..6])
}

fn is_gb2260(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) && divisions::exists(s)
}

/// The name of the ordering keyword.
const ORDERED: &str = "x-ordered";

/// `x-ordered`: pairs of JSON pointers `[lower, upper]` into the object the keyword sits on.
struct Ordered {
    pairs: Vec<(String, String)>,
}

/// An RFC 3339 full-date shape (digits and dashes; its validity is the `date` format's job):
/// such dates order as text.
fn is_full_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

impl Ordered {
    /// The first pair out of order, with the relation to report.
    fn first_violation(&self, instance: &Value) -> Option<(&str, &str, &'static str)> {
        if !instance.is_object() {
            return None;
        }
        self.pairs.iter().find_map(|(lo, hi)| {
            let relation = match (instance.pointer(lo)?, instance.pointer(hi)?) {
                (Value::Number(a), Value::Number(b)) => {
                    (b.as_f64()? < a.as_f64()?).then_some("is less than")?
                }
                (Value::String(a), Value::String(b)) if is_full_date(a) && is_full_date(b) => {
                    (b < a).then_some("is before")?
                }
                _ => return None,
            };
            Some((lo.as_str(), hi.as_str(), relation))
        })
    }
}

impl<'i> Keyword<'i> for Ordered {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        match self.first_violation(instance) {
            None => Ok(()),
            Some((lo, hi, relation)) => {
                Err(ValidationError::custom(format!("{hi} {relation} {lo}")))
            }
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        self.first_violation(instance).is_none()
    }
}

fn ordered_factory<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _path: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let bad = || {
        ValidationError::schema(
            "x-ordered must be an array of [lower, upper] pairs of JSON pointers such as \"/start\"",
        )
    };
    let pairs = value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(lo), Value::String(hi)])
                if lo.starts_with('/')
                    && hi.starts_with('/')
                    && !hi.contains(' ')
                    && !lo.contains(' ') =>
            {
                Ok((lo.clone(), hi.clone()))
            }
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(Ordered { pairs }))
}

/// One file of a catalogue, as listed by `hub schema list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileInfo {
    /// Short name, e.g. `job-posting`.
    pub name: String,
    /// `$id`.
    pub id: String,
    /// `x-version`.
    pub version: String,
    /// `title`.
    pub title: String,
    /// `x-key`; empty for `common`.
    pub key: Vec<String>,
    /// False for `common`, which holds definitions and validates no record.
    pub entity: bool,
}

/// A schema file to compile: its short name, `$id` and JSON text.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Short name, e.g. `worker`.
    pub name: &'a str,
    /// The `$id` the text must declare.
    pub id: &'a str,
    /// JSON text, draft 2020-12.
    pub text: &'a str,
}

/// Every schema of the catalogue, compiled.
#[derive(Debug, Clone)]
pub struct Catalogue {
    schemas: Arc<BTreeMap<String, Arc<Schema>>>,
    files: Arc<Vec<FileInfo>>,
}

/// The meta-schema every file declares.
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
/// The file of shared definitions (not an entity).
const COMMON: &str = "common";

impl Catalogue {
    /// Compiles the embedded catalogue (`hub_schemas::catalogue::FILES`).
    pub fn builtin() -> Result<Catalogue, SchemaError> {
        let sources: Vec<Source<'_>> = catalogue::FILES
            .iter()
            .map(|f| Source {
                name: f.name,
                id: f.id,
                text: f.text,
            })
            .collect();
        Catalogue::compile(&sources)
    }

    /// Compiles a catalogue from these files (`common` plus entities), checking each: `$schema`
    /// is draft 2020-12, `$id` is the one given, `x-version` is `MAJOR.MINOR.PATCH`, and every
    /// entity's `x-key` names required, non-nullable string or integer properties. `$ref`s
    /// resolve among these files only.
    pub fn compile(sources: &[Source<'_>]) -> Result<Catalogue, SchemaError> {
        let mut docs = Vec::new();
        for f in sources {
            let v: Value = serde_json::from_str(f.text).map_err(|source| SchemaError::Json {
                name: f.name.into(),
                source,
            })?;
            docs.push((*f, v));
        }
        let by_id: BTreeMap<&str, &Value> = docs.iter().map(|(f, v)| (f.id, v)).collect();
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .retrieve_known_draft_meta_schemas(false)
            .extend(docs.iter().map(|(f, v)| (f.id, v.clone())))
            .and_then(|b| b.prepare())
            .map_err(|e| SchemaError::Invalid {
                name: "catalogue".into(),
                message: e.to_string(),
            })?;
        let mut schemas = BTreeMap::new();
        let mut files = Vec::new();
        for (f, v) in &docs {
            let invalid = |message: String| SchemaError::Invalid {
                name: f.name.into(),
                message,
            };
            if v.get("$schema").and_then(Value::as_str) != Some(DRAFT_2020_12) {
                return Err(invalid(format!("/$schema must be {DRAFT_2020_12:?}")));
            }
            if v.get("$id").and_then(Value::as_str) != Some(f.id) {
                return Err(invalid(format!("/$id must be {:?}", f.id)));
            }
            let version = v
                .get("x-version")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if Version::parse(version).is_none() {
                return Err(invalid(format!(
                    "/x-version {version:?} is not MAJOR.MINOR.PATCH"
                )));
            }
            let title = v
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let entity = f.name != COMMON;
            let key: Vec<String> = match v.get("x-key") {
                None if !entity => Vec::new(),
                Some(Value::Array(a)) if entity && !a.is_empty() => {
                    let mut key = Vec::new();
                    for (i, p) in a.iter().enumerate() {
                        let p = p
                            .as_str()
                            .ok_or_else(|| invalid(format!("/x-key/{i} is not a string")))?;
                        check_key_pointer(&by_id, f.id, v, p)
                            .map_err(|m| invalid(format!("/x-key/{i} ({p}): {m}")))?;
                        key.push(p.to_string());
                    }
                    key
                }
                _ if entity => {
                    return Err(invalid(
                        "/x-key must be a non-empty array of JSON pointers".into(),
                    ));
                }
                _ => {
                    return Err(invalid(
                        "/x-key: the common definitions are not an entity and have no key".into(),
                    ));
                }
            };
            files.push(FileInfo {
                name: f.name.into(),
                id: f.id.into(),
                version: version.into(),
                title: title.clone(),
                key: key.clone(),
                entity,
            });
            if !entity {
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
                .with_keyword(ORDERED, ordered_factory)
                .build(v)
                .map_err(|e| invalid(e.masked().to_string()))?;
            schemas.insert(
                f.name.to_string(),
                Arc::new(Schema {
                    name: f.name.into(),
                    id: f.id.into(),
                    version: version.into(),
                    key,
                    title,
                    validator,
                }),
            );
        }
        Ok(Catalogue {
            schemas: Arc::new(schemas),
            files: Arc::new(files),
        })
    }

    /// The entity schema with this short name.
    pub fn get(&self, name: &str) -> Result<Arc<Schema>, SchemaError> {
        self.schemas.get(name).cloned().ok_or_else(|| {
            SchemaError::Unknown(
                name.into(),
                self.schemas.keys().cloned().collect::<Vec<_>>().join(", "),
            )
        })
    }

    /// Short names of every entity schema, in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// Every file of the catalogue (`common` included), in catalogue order.
    pub fn files(&self) -> &[FileInfo] {
        &self.files
    }
}

/// Follows `$ref`s (within the catalogue only) until a schema without one; returns it with the
/// `$id` of the file it is in.
fn deref<'a>(
    docs: &BTreeMap<&str, &'a Value>,
    mut base: String,
    mut node: &'a Value,
) -> Result<(&'a Value, String), String> {
    for _ in 0..16 {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else {
            return Ok((node, base));
        };
        let (file, fragment) = r.split_once('#').unwrap_or((r, ""));
        if !file.is_empty() {
            base = if file.contains("://") {
                file.to_string()
            } else {
                format!("{}{file}", catalogue::BASE)
            };
        }
        let doc: &'a Value = docs
            .get(base.as_str())
            .copied()
            .ok_or_else(|| format!("$ref {r:?} names a file outside the catalogue"))?;
        node = doc
            .pointer(fragment)
            .ok_or_else(|| format!("$ref {r:?} points at nothing"))?;
    }
    Err("$ref chain longer than 16".into())
}

/// Checks that a key pointer names a chain of required properties ending in a non-nullable
/// string or integer.
fn check_key_pointer(
    docs: &BTreeMap<&str, &Value>,
    id: &str,
    root: &Value,
    pointer: &str,
) -> Result<(), String> {
    let tokens = pointer
        .strip_prefix('/')
        .ok_or("a JSON pointer begins with /")?;
    let mut node = root;
    let mut base = id.to_string();
    for token in tokens.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        let (n, b) = deref(docs, base, node)?;
        let required = n
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(&token)));
        node = n
            .get("properties")
            .and_then(|p| p.get(&token))
            .ok_or_else(|| format!("no property {token:?}"))?;
        if !required {
            return Err(format!("property {token:?} is not required"));
        }
        base = b;
    }
    let (leaf, _) = deref(docs, base, node)?;
    match leaf.get("type").and_then(Value::as_str) {
        Some("string" | "integer") => Ok(()),
        _ => Err("a key must be a non-nullable string or integer".into()),
    }
}

/// Keywords that only document; changing them changes no record's validity.
const DOC_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "$comment",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "x-version",
];

/// The changes from `old` to `new` (two versions of one schema file) that could make a record
/// valid under `old` invalid under `new`, or change the key: one line each, `pointer: what`
/// (pointers into the schema). Empty when `new` is an additive successor (a MINOR or PATCH
/// version, see [`hub_schemas::catalogue`]).
///
/// Conservative: any keyword change it does not recognise as loosening counts as breaking.
/// Recognised as loosening: documentation keywords; new entries under `properties` and `$defs`
/// (a new property must not be required); fewer `required` names; more `enum` values; more
/// `anyOf` branches; greater `max*` and smaller `min*` bounds; a removed keyword (other than
/// `x-key`); fewer `x-ordered` pairs; `additionalProperties: false` relaxed.
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(old, new, "", &mut out);
    out
}

fn diff(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        if old != new {
            out.push(format!("{at}: changed"));
        }
        return;
    };
    for (k, nv) in n {
        if DOC_KEYWORDS.contains(&k.as_str()) {
            continue;
        }
        let here = format!("{at}/{}", escape(k));
        match o.get(k) {
            None => out.push(format!("{here}: new constraint")),
            Some(ov) => diff_keyword(k, ov, nv, &here, out),
        }
    }
    if o.contains_key("x-key") && !n.contains_key("x-key") {
        out.push(format!("{at}/x-key: removed"));
    }
}

fn diff_keyword(k: &str, ov: &Value, nv: &Value, here: &str, out: &mut Vec<String>) {
    let as_set = |v: &Value| -> Vec<Value> { v.as_array().cloned().unwrap_or_default() };
    match k {
        "properties" | "$defs" => {
            let (o, n) = (
                ov.as_object().cloned().unwrap_or_default(),
                nv.as_object().cloned().unwrap_or_default(),
            );
            for (name, osub) in &o {
                match n.get(name) {
                    Some(nsub) => diff(osub, nsub, &format!("{here}/{}", escape(name)), out),
                    None => out.push(format!("{here}/{}: removed", escape(name))),
                }
            }
        }
        "required" => {
            let old = as_set(ov);
            for name in as_set(nv).iter().filter(|x| !old.contains(x)) {
                out.push(format!("{here}: {name} newly required"));
            }
        }
        "enum" | "x-ordered" => {
            let (old, new) = (as_set(ov), as_set(nv));
            let (narrowed, what) = if k == "enum" {
                (
                    old.iter().filter(|x| !new.contains(x)).collect::<Vec<_>>(),
                    "value removed",
                )
            } else {
                (
                    new.iter().filter(|x| !old.contains(x)).collect::<Vec<_>>(),
                    "pair added",
                )
            };
            for x in narrowed {
                out.push(format!("{here}: {what}: {x}"));
            }
        }
        "anyOf" | "allOf" | "oneOf" | "prefixItems" => {
            let (old, new) = (as_set(ov), as_set(nv));
            let lengths_ok = if k == "anyOf" {
                new.len() >= old.len()
            } else {
                new.len() == old.len()
            };
            if !lengths_ok {
                out.push(format!(
                    "{here}: branches changed from {} to {}",
                    old.len(),
                    new.len()
                ));
            }
            for (i, (a, b)) in old.iter().zip(&new).enumerate() {
                diff(a, b, &format!("{here}/{i}"), out);
            }
        }
        "maxLength" | "maximum" | "exclusiveMaximum" | "maxItems" | "maxProperties" => {
            if nv.as_f64() < ov.as_f64() {
                out.push(format!("{here}: lowered from {ov} to {nv}"));
            }
        }
        "minLength" | "minimum" | "exclusiveMinimum" | "minItems" | "minProperties" => {
            if nv.as_f64() > ov.as_f64() {
                out.push(format!("{here}: raised from {ov} to {nv}"));
            }
        }
        "additionalProperties" if ov == &Value::Bool(false) => {}
        _ => diff(ov, nv, here, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalogue() -> Catalogue {
        Catalogue::builtin().unwrap()
    }

    fn worker() -> Arc<Schema> {
        catalogue().get("worker").unwrap()
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
    fn every_entity_declares_its_key_and_version() {
        let c = catalogue();
        let keys: Vec<(String, Vec<String>, String)> = c
            .names()
            .map(|n| c.get(n).unwrap())
            .map(|s| (s.name.clone(), s.key.clone(), s.version.clone()))
            .collect();
        let expect = |n: &str, k: &[&str], v: &str| {
            (
                n.to_string(),
                k.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                v.to_string(),
            )
        };
        assert_eq!(
            keys,
            [
                expect("enterprise", &["/uscc"], "1.0.0"),
                expect(
                    "job-posting",
                    &["/identifier/propertyID", "/identifier/value"],
                    "1.0.0"
                ),
                expect(
                    "referral",
                    &[
                        "/worker/idNumber",
                        "/jobPosting/identifier/propertyID",
                        "/jobPosting/identifier/value"
                    ],
                    "1.0.0"
                ),
                expect("secondment", &["/practitioner/idNumber", "/batch"], "1.0.0"),
                expect("worker", &["/idNumber"], "1.0.1"),
            ]
        );
        assert_eq!(worker().id, "https://schemas.hub.invalid/worker.json");
        let files: Vec<(&str, &str, bool)> = c
            .files()
            .iter()
            .map(|f| (f.name.as_str(), f.version.as_str(), f.entity))
            .collect();
        assert_eq!(files[0], ("common", "1.1.0", false));
        assert_eq!(files.len(), 6);
    }

    #[test]
    fn a_canonical_worker_is_valid() {
        assert_eq!(worker().validate(&valid()), []);
        assert!(worker().is_valid(&valid()));
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
        r["idNumber"] = json!(format!(
            "{first17}{}",
            id_number::check_character(first17).unwrap()
        ));
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
        assert!(
            v.iter()
                .any(|v| v.message == "value is shorter than 1 character"),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|v| v.message
                    == "must not begin or end with a blank (ASCII white space or U+3000)"),
            "{v:?}"
        );
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
    fn missing_and_unknown_properties_are_reported_at_their_own_pointers() {
        let mut r = valid();
        r.as_object_mut().unwrap().remove("gender");
        r["idNo"] = json!("x");
        r["workplace"]["city"] = json!("惠州市");
        let v = worker().validate(&r);
        assert_eq!(
            v,
            [
                Violation {
                    pointer: "/gender".into(),
                    message: "is required but missing".into()
                },
                Violation {
                    pointer: "/idNo".into(),
                    message: "is not allowed here: the schema has no such property".into()
                },
                Violation {
                    pointer: "/workplace/city".into(),
                    message: "is not allowed here: the schema has no such property".into()
                },
            ]
        );
        // A property name with / and ~ is escaped as RFC 6901 says.
        let mut r = valid();
        r["a/b~c"] = json!(1);
        assert_eq!(pointers(&worker().validate(&r)), ["/a~1b~0c"]);
    }

    /// Runs one format through a schema that asserts it: `{"format": F}` compiled like the
    /// catalogue's.
    fn format_ok(format: &str, value: &str) -> bool {
        let schema = json!({
            "$schema": DRAFT_2020_12, "$id": "https://schemas.hub.invalid/t.json", "title": "t", "x-version": "1.0.0",
            "x-key": ["/k"], "type": "object", "required": ["k"],
            "properties": {"k": {"type": "string"}, "v": {"type": "string", "format": format}}
        })
        .to_string();
        let common = catalogue::get("common").unwrap();
        let c = Catalogue::compile(&[
            Source {
                name: "common",
                id: common.id,
                text: common.text,
            },
            Source {
                name: "t",
                id: "https://schemas.hub.invalid/t.json",
                text: &schema,
            },
        ])
        .unwrap();
        let s = c.get("t").unwrap();
        let v = s.validate(&json!({"k": "k", "v": value}));
        assert_eq!(s.is_valid(&json!({"k": "k", "v": value})), v.is_empty());
        v.is_empty()
    }

    #[test]
    fn gb11643_format_cases() {
        // Check characters worked out in hub_schemas::id_number's tests; here the format adds
        // the GB/T 2260 lookup of characters 1-6.
        for ok in [
            "52232519900307002X",
            "522325198506151230",
            "441303199211200045",
            "44138119751231007X",
            "522325200002290042",
            "11010519491231002X",
        ] {
            assert!(format_ok("gb11643", ok), "{ok}");
        }
        for bad in [
            "52232519900307002x", // lower-case x
            "522325199003070020", // X expected
            "522325199002290020", // 1990-02-29
            "522325680312123",    // legacy 15 digits
            // 999999 is no division; the check character is right: 9·7+9·9+9·10+9·5+9·8+9·4
            // +1·2+9·1+9·6+0·3+0·7+3·9+0·10+7·5+0·8+0·4+2·2 = 518; 518 mod 11 = 1 → 0.
            "999999199003070020",
        ] {
            assert!(!format_ok("gb11643", bad), "{bad}");
        }
    }

    #[test]
    fn gb32100_format_cases() {
        for ok in [
            "91441303MA4UH1234D",
            "12522325429270567Y",
            "52441303MJL000012X",
            "91350100M000100Y43",
            "91110000802100433B",
        ] {
            assert!(format_ok("gb32100", ok), "{ok}");
        }
        for bad in [
            "91441303MA4UH12340",
            "91441303ma4uh1234d",
            "91441303MO4UH1234D",
            "441303000012345",
            "91441303MA4UH1234D ",
        ] {
            assert!(!format_ok("gb32100", bad), "{bad}");
        }
    }

    #[test]
    fn gb2260_format_cases() {
        // The deployment's codes (惠阳区, 贞丰县, 黔西南州, 惠州市, 广东省, 贵州省), a retired one
        // (惠阳市 441381, 1994-2003) and Beijing's 东城区.
        for ok in [
            "441303", "522325", "522300", "441300", "440000", "520000", "441381", "110101",
        ] {
            assert!(format_ok("gb2260", ok), "{ok}");
        }
        for bad in [
            "999999",
            "44130",
            "4413030",
            "44130x",
            "４４１３０３",
            "",
            "000000",
            "441399",
        ] {
            assert!(!format_ok("gb2260", bad), "{bad}");
        }
    }

    #[test]
    fn cn_mobile_format_cases() {
        for ok in [
            "13800138000",
            "15912345678",
            "19912345678",
            "16612345678",
            "17712345678",
        ] {
            assert!(format_ok("cn-mobile", ok), "{ok}");
        }
        for bad in [
            "+8613800138000",
            "8613800138000",
            "138-0013-8000",
            "1380013800",
            "12012345678",
            "23800138000",
        ] {
            assert!(!format_ok("cn-mobile", bad), "{bad}");
        }
    }

    #[test]
    fn standard_formats_are_asserted() {
        for ok in ["2021-08-05", "2020-02-29", "2000-02-29"] {
            assert!(format_ok("date", ok), "{ok}");
        }
        for bad in [
            "2021/8/5",
            "2021年8月5日",
            "2021-02-29",
            "1900-02-29",
            "2021-8-5",
            "20210805",
        ] {
            assert!(!format_ok("date", bad), "{bad}");
        }
        for ok in [
            "2021-09-02T10:00:00+08:00",
            "2021-09-02T02:00:00Z",
            "2021-09-02T10:00:00.123+08:00",
            "2021-09-02t02:00:00z",
        ] {
            assert!(format_ok("date-time", ok), "{ok}");
        }
        // Without an offset, with a blank instead of T, or on a day that does not exist.
        for bad in [
            "2021-09-02T10:00:00",
            "2021-09-02 10:00:00+08:00",
            "2021-02-29T10:00:00+08:00",
            "2021-09-02T24:00:00+08:00",
            "2021-09-02T10:00+08:00",
        ] {
            assert!(!format_ok("date-time", bad), "{bad}");
        }
        for ok in ["hr@example.com", "wang.fang+jobs@hy.example.cn"] {
            assert!(format_ok("email", ok), "{ok}");
        }
        for bad in [
            "hr@",
            "@example.com",
            "hr example.com",
            "hr@@example.com",
            "hr@example..com",
        ] {
            assert!(!format_ok("email", bad), "{bad}");
        }
    }

    fn record(name: &str, v: Value) -> Vec<Violation> {
        catalogue().get(name).unwrap().validate(&v)
    }

    fn posting() -> Value {
        json!({
            "identifier": {"propertyID": "HY-ESMS", "value": "42"},
            "title": "普工",
            "hiringOrganization": {"name": "伯恩光学(惠州)有限公司", "uscc": "91441303MA4UH1234D"},
            "baseSalary": {"currency": "CNY", "value": {"minValue": 4000, "maxValue": 6000, "unitText": "MONTH"}},
            "jobLocation": {"address": "惠州市惠阳区淡水街道", "countyCode": "441303"},
            "datePosted": "2021-08-01", "validThrough": "2021-08-31", "totalJobOpenings": 30,
            "qualifications": "18-45岁，身体健康\n能适应倒班", "status": "open"
        })
    }

    #[test]
    fn orderings_are_asserted_at_the_later_pointer() {
        assert_eq!(record("job-posting", posting()), []);
        let mut p = posting();
        p["validThrough"] = json!("2021-07-31");
        p["baseSalary"]["value"]["maxValue"] = json!(3000);
        assert_eq!(
            record("job-posting", p),
            [
                Violation {
                    pointer: "/baseSalary/value/maxValue".into(),
                    message: "is less than /baseSalary/value/minValue".into()
                },
                Violation {
                    pointer: "/validThrough".into(),
                    message: "is before /datePosted".into()
                },
            ]
        );
        // Only one end of the range, or no datePosted: nothing to compare.
        let mut p = posting();
        p["baseSalary"]["value"]
            .as_object_mut()
            .unwrap()
            .remove("maxValue");
        p["datePosted"] = Value::Null;
        assert_eq!(record("job-posting", p), []);
        // Neither end: the value names both forms it could take.
        let mut p = posting();
        p["baseSalary"]["value"] = json!({"unitText": "MONTH"});
        let v = record("job-posting", p);
        assert_eq!(pointers(&v), ["/baseSalary/value"]);
        assert_eq!(
            v[0].message,
            "matches none of the allowed forms: /baseSalary/value/minValue is required but missing; or /baseSalary/value/maxValue is required but missing"
        );
    }

    #[test]
    fn the_ordering_inside_a_shared_definition_applies_too() {
        // common.json#/$defs/period carries x-ordered [["/start", "/end"]].
        let s = json!({
            "practitioner": {"idNumber": "441303199211200045", "name": "李娜"},
            "organization": {"name": "贞丰县人民医院"},
            "batch": 2,
            "period": {"start": "2021-09-01", "end": "2021-08-31"},
            "plannedEnd": "2021-08-30"
        });
        assert_eq!(
            record("secondment", s),
            [
                Violation {
                    pointer: "/period/end".into(),
                    message: "is before /period/start".into()
                },
                Violation {
                    pointer: "/plannedEnd".into(),
                    message: "is before /period/start".into()
                },
            ]
        );
    }

    #[test]
    fn telephones_are_mobile_or_fixed_line() {
        let e = |tel: &str| {
            record(
                "enterprise",
                json!({"uscc": "91441303MA4UH1234D", "name": "惠州某厂", "contactPoint": {"telephone": tel}}),
            )
        };
        // Huizhou (0752, 3-digit area code and 7 digits), Guangzhou (020 and 8), a mobile.
        for ok in ["07522345678", "02022345678", "13800138000", "085966123456"] {
            assert_eq!(e(ok), [], "{ok}");
        }
        for bad in [
            "0752-2345678",
            "7522345678",
            "07520345678",
            "0201234567",
            "+8613800138000",
        ] {
            let v = e(bad);
            assert_eq!(pointers(&v), ["/contactPoint/telephone"], "{bad}");
            assert!(
                v[0].message
                    .starts_with("matches none of the allowed forms: not a mainland mobile number"),
                "{}",
                v[0].message
            );
        }
    }

    #[test]
    fn a_key_that_is_not_required_is_refused_at_load() {
        let common = catalogue::get("common").unwrap();
        let load = |schema: Value| {
            let text = schema.to_string();
            Catalogue::compile(&[
                Source {
                    name: "common",
                    id: common.id,
                    text: common.text,
                },
                Source {
                    name: "t",
                    id: "https://schemas.hub.invalid/t.json",
                    text: &text,
                },
            ])
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        let base = |key: Value, required: Value| {
            json!({
                "$schema": DRAFT_2020_12, "$id": "https://schemas.hub.invalid/t.json", "x-version": "1.0.0", "x-key": key,
                "type": "object", "required": required,
                "properties": {"id": {"$ref": "common.json#/$defs/residentId"}, "n": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
            })
        };
        assert_eq!(load(base(json!(["/id"]), json!(["id"]))), Ok(()));
        assert_eq!(
            load(base(json!(["/id"]), json!([]))),
            Err("schema t: /x-key/0 (/id): property \"id\" is not required".into())
        );
        assert_eq!(
            load(base(json!(["/n"]), json!(["n"]))),
            Err("schema t: /x-key/0 (/n): a key must be a non-nullable string or integer".into())
        );
        assert_eq!(
            load(base(json!(["/nope"]), json!(["id"]))),
            Err("schema t: /x-key/0 (/nope): no property \"nope\"".into())
        );
        assert_eq!(
            load(base(json!([]), json!(["id"]))),
            Err("schema t: /x-key must be a non-empty array of JSON pointers".into())
        );
        let mut v = base(json!(["/id"]), json!(["id"]));
        v["x-version"] = json!("1.0");
        assert_eq!(
            load(v),
            Err("schema t: /x-version \"1.0\" is not MAJOR.MINOR.PATCH".into())
        );
        let mut v = base(json!(["/id"]), json!(["id"]));
        v["x-ordered"] = json!([["/a"]]);
        assert!(
            load(v)
                .unwrap_err()
                .contains("x-ordered must be an array of [lower, upper] pairs")
        );
    }

    #[test]
    fn pointers_order_by_token_with_indices_numerically() {
        let mut p = vec!["/10/a", "/2/b", "/2", "", "/b", "/a/2", "/a/10"];
        p.sort_by(|a, b| pointer_order(a, b));
        assert_eq!(p, ["", "/2", "/2/b", "/10/a", "/a/2", "/a/10", "/b"]);
    }

    #[test]
    fn references_outside_the_catalogue_are_refused_not_fetched() {
        let common = catalogue::get("common").unwrap();
        let schema = json!({
            "$schema": DRAFT_2020_12, "$id": "https://schemas.hub.invalid/t.json", "x-version": "1.0.0", "x-key": ["/k"],
            "type": "object", "required": ["k"],
            "properties": {"k": {"type": "string"}, "p": {"$ref": "https://json.schemastore.org/package.json"}}
        })
        .to_string();
        let r = Catalogue::compile(&[
            Source {
                name: "common",
                id: common.id,
                text: common.text,
            },
            Source {
                name: "t",
                id: "https://schemas.hub.invalid/t.json",
                text: &schema,
            },
        ]);
        let e = r.unwrap_err().to_string();
        // Refused when the catalogue's registry is prepared: nothing is retrieved.
        assert!(e.starts_with("schema catalogue: "), "{e}");
        assert!(
            e.contains("https://json.schemastore.org/package.json"),
            "{e}"
        );
    }

    #[test]
    fn stream_versions_are_checked_by_major() {
        let w = worker(); // 1.0.1
        assert_eq!(w.check_version("1.0.0"), Ok(Compatibility::Same));
        assert_eq!(w.check_version("1.2.0"), Ok(Compatibility::NewerMinor));
        assert!(matches!(
            w.check_version("2.0.0"),
            Err(VersionError::MajorDiffers { .. })
        ));
        assert!(matches!(
            w.check_version("0.9.0"),
            Err(VersionError::MajorDiffers { .. })
        ));
        assert!(matches!(
            w.check_version("latest"),
            Err(VersionError::Malformed { .. })
        ));
    }

    /// The released versions in `schemas/history/NAME-VERSION.json`.
    fn history() -> BTreeMap<String, Vec<(Version, Value)>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/history");
        let mut out: BTreeMap<String, Vec<(Version, Value)>> = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let (name, version) = stem.rsplit_once('-').unwrap();
            let version = Version::parse(version)
                .unwrap_or_else(|| panic!("{}: no version in the name", path.display()));
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(
                v["x-version"],
                json!(version.to_string()),
                "{}",
                path.display()
            );
            out.entry(name.to_string()).or_default().push((version, v));
        }
        out
    }

    fn strip_docs(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !DOC_KEYWORDS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), strip_docs(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip_docs).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn every_schema_is_released_and_successors_within_a_major_are_additive() {
        let history = history();
        for f in catalogue::FILES {
            let current: Value = serde_json::from_str(f.text).unwrap();
            let version = Version::parse(current["x-version"].as_str().unwrap()).unwrap();
            let released = history
                .get(f.name)
                .unwrap_or_else(|| panic!("{}: no schemas/history/{}-*.json", f.name, f.name));
            // The current text is a released one: a change needs a new version and its copy.
            let same = released.iter().find(|(v, _)| *v == version);
            assert_eq!(
                same.map(|(_, v)| v),
                Some(&current),
                "{}: changed without a new version in schemas/history",
                f.name
            );
            for (old_version, old) in released {
                assert!(
                    *old_version <= version,
                    "{} {old_version} is newer than the catalogue's",
                    f.name
                );
                if old_version.major != version.major {
                    continue;
                }
                assert_eq!(
                    breaking_changes(old, &current),
                    Vec::<String>::new(),
                    "{} {old_version} → {version}",
                    f.name
                );
                if old_version.minor == version.minor {
                    assert_eq!(
                        strip_docs(old),
                        strip_docs(&current),
                        "{} {old_version} → {version}: a patch changes documentation only",
                        f.name
                    );
                }
            }
        }
        // The worker's first release: 1.0.0 → 1.0.1 added descriptions only.
        assert_eq!(history["worker"].len(), 2);
    }

    #[test]
    fn breaking_changes_are_recognised() {
        let old = json!({
            "type": "object", "required": ["a"], "additionalProperties": false, "x-key": ["/a"],
            "properties": {"a": {"type": "string", "maxLength": 10}, "b": {"enum": ["x", "y"]}, "c": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
        });
        // Additive: a description, a new optional property, a longer maxLength, a new enum value,
        // a new anyOf branch.
        let mut new = old.clone();
        new["description"] = json!("doc");
        new["properties"]["d"] = json!({"type": "integer"});
        new["properties"]["a"]["maxLength"] = json!(20);
        new["properties"]["b"]["enum"] = json!(["x", "y", "z"]);
        new["properties"]["c"]["anyOf"] =
            json!([{"type": "string"}, {"type": "null"}, {"type": "integer"}]);
        assert_eq!(breaking_changes(&old, &new), Vec::<String>::new());
        // Breaking: each of these.
        let mut bad = old.clone();
        bad["required"] = json!(["a", "b"]);
        bad["properties"]["a"]["maxLength"] = json!(5);
        bad["properties"]["b"]["enum"] = json!(["x"]);
        bad["properties"].as_object_mut().unwrap().remove("c");
        bad["properties"]["a"]["pattern"] = json!("^a");
        bad["x-key"] = json!(["/b"]);
        let mut found = breaking_changes(&old, &bad);
        found.sort();
        assert_eq!(
            found,
            [
                "/properties/a/maxLength: lowered from 10 to 5",
                "/properties/a/pattern: new constraint",
                "/properties/b/enum: value removed: \"y\"",
                "/properties/c: removed",
                "/required: \"b\" newly required",
                "/x-key: changed",
            ]
        );
    }

    #[test]
    fn an_additive_version_keeps_older_records_and_connectors_working() {
        // worker 1.1.0 adds an optional e-mail: a 1.0 record stays valid, a 1.0 connector is
        // accepted, and the change is additive; 2.0.0 requiring it is none of these.
        let common = catalogue::get("common").unwrap();
        let mut w: Value = serde_json::from_str(catalogue::get("worker").unwrap().text).unwrap();
        w["x-version"] = json!("1.1.0");
        w["properties"]["email"] =
            json!({"anyOf": [{"$ref": "common.json#/$defs/email"}, {"type": "null"}]});
        let compile = |w: &Value| {
            let text = w.to_string();
            Catalogue::compile(&[
                Source {
                    name: "common",
                    id: common.id,
                    text: common.text,
                },
                Source {
                    name: "worker",
                    id: catalogue::get("worker").unwrap().id,
                    text: &text,
                },
            ])
            .unwrap()
            .get("worker")
            .unwrap()
        };
        let old: Value = serde_json::from_str(catalogue::get("worker").unwrap().text).unwrap();
        let v11 = compile(&w);
        assert_eq!(v11.validate(&valid()), []);
        assert_eq!(v11.check_version("1.0.0"), Ok(Compatibility::OlderMinor));
        assert_eq!(breaking_changes(&old, &w), Vec::<String>::new());
        w["x-version"] = json!("2.0.0");
        w["required"].as_array_mut().unwrap().push(json!("email"));
        let v20 = compile(&w);
        assert_eq!(pointers(&v20.validate(&valid())), ["/email"]);
        assert!(v20.check_version("1.0.0").is_err());
        assert_eq!(
            breaking_changes(&old, &w),
            ["/required: \"email\" newly required"]
        );
    }
}
