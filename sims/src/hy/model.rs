//! HY-ESMS's collections, their fields in contract order, the validation its API applies to
//! writes, and the in-memory tables.
//!
//! Records are kept as JSON objects rather than typed structs so that `/_admin/` can store a
//! record that breaks the schema (a wrong type, an unknown field), as tests need.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

use crate::clock;

/// The five collections of `/api/v1/{collection}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Collection {
    Enterprises,
    Jobs,
    Workers,
    Referrals,
    Secondments,
}

/// How a field's value is checked on an API write.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// String or null.
    Text,
    /// Non-blank string.
    Name,
    /// 18 characters: 17 digits, then a digit or upper-case `X` (the check character itself is
    /// not verified, as the real system does not).
    IdNo,
    /// One of the values.
    OneOf(&'static [&'static str]),
    /// Null or `YYYY-MM-DD`.
    OptDate,
    /// `YYYY-MM-DD`.
    Date,
    /// Null or 18 characters.
    OptUscc,
    /// Integer within the range.
    Int(u64, u64),
    /// The id of an existing job.
    JobId,
    /// List of strings (null or missing = empty list).
    TextList,
    /// `deleted`: server-managed, see [`validate`].
    Deleted,
    /// Read-only collections: not written through the API.
    Any,
}

/// A field: its JSON name and check.
#[derive(Debug, Clone, Copy)]
struct Field(&'static str, Check);

const GENDERS: &[&str] = &["M", "F"];

const ENTERPRISE_FIELDS: &[Field] = &[
    Field("uscc", Check::Any),
    Field("name", Check::Any),
    Field("address", Check::Any),
    Field("contactName", Check::Any),
    Field("contactPhone", Check::Any),
];
const JOB_FIELDS: &[Field] = &[
    Field("enterpriseId", Check::Any),
    Field("title", Check::Any),
    Field("headcount", Check::Any),
    Field("salaryMin", Check::Any),
    Field("salaryMax", Check::Any),
    Field("workLocation", Check::Any),
    Field("requirements", Check::Any),
    Field("publishedAt", Check::Any),
    Field("validUntil", Check::Any),
    Field("status", Check::Any),
];
const WORKER_FIELDS: &[Field] = &[
    Field("name", Check::Name),
    Field("idNo", Check::IdNo),
    Field("gender", Check::OneOf(GENDERS)),
    Field("phone", Check::Text),
    Field("hometownTownship", Check::Text),
    Field("employerUscc", Check::OptUscc),
    Field("position", Check::Text),
    Field("hiredOn", Check::OptDate),
    Field("status", Check::OneOf(&["employed", "seeking", "left"])),
    Field("remark", Check::Text),
    Field("deleted", Check::Deleted),
];
const REFERRAL_FIELDS: &[Field] = &[
    Field("workerIdNo", Check::IdNo),
    Field("jobId", Check::JobId),
    Field(
        "status",
        Check::OneOf(&[
            "recommended",
            "interviewed",
            "hired",
            "rejected",
            "withdrawn",
        ]),
    ),
    Field("note", Check::Text),
    Field("deleted", Check::Deleted),
];
/// The five Zhenfeng host facilities.
pub(crate) const HOST_FACILITIES: &[&str] = &[
    "贞丰县人民医院",
    "贞丰县民族中医院",
    "贞丰县妇幼保健院",
    "永丰街道社区卫生服务中心",
    "珉谷街道社区卫生服务中心",
];
const SECONDMENT_FIELDS: &[Field] = &[
    Field("name", Check::Name),
    Field("idNo", Check::IdNo),
    Field("gender", Check::OneOf(GENDERS)),
    Field("phone", Check::Text),
    Field("profession", Check::Text),
    Field("sendingOrg", Check::Text),
    Field("hostFacility", Check::OneOf(HOST_FACILITIES)),
    Field("batch", Check::Int(1, 4)),
    Field("startDate", Check::Date),
    Field("endDate", Check::Date),
    Field("actualEndDate", Check::OptDate),
    Field("status", Check::OneOf(&["planned", "serving", "completed"])),
    Field("department", Check::Text),
    Field("honours", Check::TextList),
    Field("deleted", Check::Deleted),
];

impl Collection {
    pub(crate) const ALL: [Collection; 5] = [
        Collection::Enterprises,
        Collection::Jobs,
        Collection::Workers,
        Collection::Referrals,
        Collection::Secondments,
    ];
    /// The collections the API writes.
    pub(crate) const WRITABLE: [&'static str; 3] = ["zhenfeng-workers", "referrals", "secondments"];

    /// The name in URLs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Collection::Enterprises => "enterprises",
            Collection::Jobs => "jobs",
            Collection::Workers => "zhenfeng-workers",
            Collection::Referrals => "referrals",
            Collection::Secondments => "secondments",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }

    fn slot(self) -> usize {
        self as usize
    }

    /// Writable through the API, with soft deletes (`deleted`).
    pub(crate) fn writable(self) -> bool {
        matches!(
            self,
            Collection::Workers | Collection::Referrals | Collection::Secondments
        )
    }

    fn fields(self) -> &'static [Field] {
        match self {
            Collection::Enterprises => ENTERPRISE_FIELDS,
            Collection::Jobs => JOB_FIELDS,
            Collection::Workers => WORKER_FIELDS,
            Collection::Referrals => REFERRAL_FIELDS,
            Collection::Secondments => SECONDMENT_FIELDS,
        }
    }

    /// The key that must be unique (409 on a second one): a worker's `idNo`, compared after
    /// GB 11643 normalisation.
    fn unique_key(self, fields: &Map<String, Value>) -> Option<String> {
        match self {
            Collection::Workers => fields
                .get("idNo")?
                .as_str()
                .map(hub_schemas::id_number::normalise),
            _ => None,
        }
    }

    /// The natural key `/_admin/counters` tallies creations under: `idNo` for workers,
    /// `workerIdNo/jobId` for referrals, `idNo/batch` for secondments.
    pub(crate) fn natural_key(self, fields: &Map<String, Value>) -> String {
        let text = |k: &str| match fields.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        match self {
            Collection::Workers => hub_schemas::id_number::normalise(&text("idNo")),
            Collection::Referrals => format!("{}/{}", text("workerIdNo"), text("jobId")),
            Collection::Secondments => format!("{}/{}", text("idNo"), text("batch")),
            Collection::Enterprises | Collection::Jobs => String::new(),
        }
    }

    /// Fills fields missing from an admin-created record with their empty value.
    pub(crate) fn fill_defaults(self, fields: &mut Map<String, Value>) {
        for Field(name, check) in self.fields() {
            fields.entry(*name).or_insert_with(|| match check {
                Check::Deleted => Value::Bool(false),
                Check::TextList => Value::Array(Vec::new()),
                _ => Value::Null,
            });
        }
    }
}

/// A stored record: id, update time (Unix seconds) and the other fields.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) updated: i64,
    pub(crate) fields: Map<String, Value>,
}

impl Record {
    pub(crate) fn deleted(&self) -> bool {
        self.fields
            .get("deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The record as the API shows it: `id`, the contract's fields in order, any extra field an
    /// admin added (sorted), `updatedAt`.
    pub(crate) fn item(&self, collection: Collection) -> Item<'_> {
        Item {
            record: self,
            collection,
        }
    }
}

/// A record rendered for the API (see [`Record::item`]).
pub(crate) struct Item<'a> {
    record: &'a Record,
    collection: Collection,
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.collection.fields();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.record.id)?;
        for Field(name, _) in fields {
            if let Some(v) = self.record.fields.get(*name) {
                map.serialize_entry(name, v)?;
            }
        }
        for (k, v) in &self.record.fields {
            if !fields.iter().any(|f| f.0 == k) && k != "id" && k != "updatedAt" {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("updatedAt", &clock::rfc3339(self.record.updated))?;
        map.end()
    }
}

/// One collection's records, by id, with an index of the unique keys.
#[derive(Debug, Default)]
pub(crate) struct Table {
    next_id: u64,
    rows: Vec<Record>,
    keys: HashMap<String, BTreeSet<u64>>,
}

impl Table {
    pub(crate) fn rows(&self) -> &[Record] {
        &self.rows
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.rows.binary_search_by_key(&id, |r| r.id).ok()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Record> {
        self.position(id).map(|i| &self.rows[i])
    }

    /// The lowest id holding `key` other than `except`.
    pub(crate) fn holder(&self, key: &str, except: Option<u64>) -> Option<u64> {
        self.keys
            .get(key)?
            .iter()
            .copied()
            .find(|id| Some(*id) != except)
    }

    fn index(&mut self, collection: Collection, id: u64, fields: &Map<String, Value>, add: bool) {
        if let Some(key) = collection.unique_key(fields) {
            let ids = self.keys.entry(key.clone()).or_default();
            if add {
                ids.insert(id);
            } else {
                ids.remove(&id);
                if ids.is_empty() {
                    self.keys.remove(&key);
                }
            }
        }
    }

    /// Stores a new record under the next id.
    pub(crate) fn insert(
        &mut self,
        collection: Collection,
        fields: Map<String, Value>,
        updated: i64,
    ) -> &Record {
        self.next_id += 1;
        let id = self.next_id;
        self.index(collection, id, &fields, true);
        self.rows.push(Record {
            id,
            updated,
            fields,
        });
        self.rows.last().expect("just pushed")
    }

    /// Replaces a record's fields and update time.
    pub(crate) fn replace(
        &mut self,
        collection: Collection,
        id: u64,
        fields: Map<String, Value>,
        updated: i64,
    ) -> Option<&Record> {
        let i = self.position(id)?;
        let old = std::mem::take(&mut self.rows[i].fields);
        self.index(collection, id, &old, false);
        self.index(collection, id, &fields, true);
        let row = &mut self.rows[i];
        row.fields = fields;
        row.updated = updated;
        Some(row)
    }

    /// Removes a record for good (the admin side-door on read-only collections).
    pub(crate) fn remove(&mut self, collection: Collection, id: u64) -> Option<Record> {
        let i = self.position(id)?;
        let row = self.rows.remove(i);
        self.index(collection, id, &row.fields, false);
        Some(row)
    }
}

/// All five tables.
#[derive(Debug, Default)]
pub(crate) struct Tables([Table; 5]);

impl std::ops::Index<Collection> for Tables {
    type Output = Table;
    fn index(&self, c: Collection) -> &Table {
        &self.0[c.slot()]
    }
}

impl std::ops::IndexMut<Collection> for Tables {
    fn index_mut(&mut self, c: Collection) -> &mut Table {
        &mut self.0[c.slot()]
    }
}

/// A validation failure: HTTP 422 `{"error": message, "field": field}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) error: String,
    pub(crate) field: Option<String>,
}

fn invalid(field: &str, error: impl Into<String>) -> Invalid {
    Invalid {
        error: error.into(),
        field: Some(field.to_string()),
    }
}

/// Whether a write creates (POST) or replaces the record with this id (PUT).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Write {
    Create,
    Replace(u64),
}

/// Checks an API write's body and returns the fields to store (every contract field present,
/// missing optional ones as null). `id` may only repeat the URL's id on a PUT; `updatedAt` is
/// ignored (the server sets it); `deleted` may be `false` on a POST and either on a PUT (absent
/// = `keep_deleted`); any other unknown field is refused.
pub(crate) fn validate(
    collection: Collection,
    body: &Value,
    write: Write,
    keep_deleted: bool,
    job_exists: impl Fn(u64) -> bool,
) -> Result<Map<String, Value>, Invalid> {
    let Some(obj) = body.as_object() else {
        return Err(Invalid {
            error: "the body must be a JSON object".into(),
            field: None,
        });
    };
    let fields = collection.fields();
    for (k, v) in obj {
        match (k.as_str(), write) {
            ("id", Write::Create) => return Err(invalid("id", "id is assigned by the server")),
            ("id", Write::Replace(id)) if v.as_u64() != Some(id) => {
                return Err(invalid("id", "id does not match the URL"));
            }
            ("id" | "updatedAt", _) => {}
            (k, _) if !fields.iter().any(|f| f.0 == k) => {
                return Err(invalid(k, format!("unknown field {k}")));
            }
            _ => {}
        }
    }
    let mut out = Map::new();
    for Field(name, check) in fields {
        let v = obj.get(*name).unwrap_or(&Value::Null);
        let required = || invalid(name, format!("{name} is required"));
        let stored = match check {
            Check::Any => v.clone(),
            Check::Text => match v {
                Value::Null | Value::String(_) => v.clone(),
                _ => return Err(invalid(name, format!("{name} must be a string or null"))),
            },
            Check::Name => match v {
                Value::String(s) if !s.trim().is_empty() => v.clone(),
                Value::Null => return Err(required()),
                _ => return Err(invalid(name, format!("{name} must be a non-empty string"))),
            },
            Check::IdNo => match v {
                Value::String(s) if is_id_shape(s) => v.clone(),
                Value::Null => return Err(required()),
                _ => {
                    return Err(invalid(
                        name,
                        format!("{name} must be 18 characters: 17 digits, then a digit or X"),
                    ));
                }
            },
            Check::OneOf(values) => match v {
                Value::String(s) if values.contains(&s.as_str()) => v.clone(),
                Value::Null => return Err(required()),
                _ => {
                    return Err(invalid(
                        name,
                        format!("{name} must be one of {}", values.join(", ")),
                    ));
                }
            },
            Check::OptDate | Check::Date => match v {
                Value::Null if matches!(check, Check::OptDate) => Value::Null,
                Value::Null => return Err(required()),
                Value::String(s) if clock::parse_iso_date(s).is_some() => v.clone(),
                _ => {
                    return Err(invalid(
                        name,
                        format!(
                            "{name} must be a date YYYY-MM-DD{}",
                            if matches!(check, Check::OptDate) {
                                " or null"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            },
            Check::OptUscc => match v {
                Value::Null => Value::Null,
                Value::String(s) if s.chars().count() == 18 => v.clone(),
                _ => {
                    return Err(invalid(
                        name,
                        format!("{name} must be 18 characters or null"),
                    ));
                }
            },
            Check::Int(lo, hi) => match v.as_u64() {
                Some(n) if (*lo..=*hi).contains(&n) => v.clone(),
                _ if v.is_null() => return Err(required()),
                _ => {
                    return Err(invalid(
                        name,
                        format!("{name} must be an integer from {lo} to {hi}"),
                    ));
                }
            },
            Check::JobId => match v.as_u64() {
                Some(n) if job_exists(n) => v.clone(),
                Some(_) => return Err(invalid(name, format!("{name} is not the id of a job"))),
                None if v.is_null() => return Err(required()),
                None => return Err(invalid(name, format!("{name} must be an integer"))),
            },
            Check::TextList => match v {
                Value::Null => Value::Array(Vec::new()),
                Value::Array(items) if items.iter().all(Value::is_string) => v.clone(),
                _ => return Err(invalid(name, format!("{name} must be a list of strings"))),
            },
            Check::Deleted => match (v, write) {
                (Value::Null, _) => Value::Bool(keep_deleted),
                (Value::Bool(true), Write::Create) => {
                    return Err(invalid(name, "a new record cannot be deleted; use DELETE"));
                }
                (Value::Bool(_), _) => v.clone(),
                _ => return Err(invalid(name, format!("{name} must be true or false"))),
            },
        };
        out.insert(name.to_string(), stored);
    }
    Ok(out)
}

/// 17 ASCII digits then a digit or upper-case `X`.
fn is_id_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker() -> Value {
        json!({"name": "王芳", "idNo": "52232519900101002X", "gender": "F", "phone": "13800138000",
               "hometownTownship": "珉谷街道", "employerUscc": null, "position": "普工", "hiredOn": null,
               "status": "employed", "remark": null})
    }

    #[test]
    fn a_valid_worker_gets_every_field_and_deleted_false() {
        let out = validate(Collection::Workers, &worker(), Write::Create, false, |_| {
            true
        })
        .unwrap();
        assert_eq!(out.len(), WORKER_FIELDS.len());
        assert_eq!(out["deleted"], json!(false));
    }

    #[test]
    fn worker_validation_names_the_field() {
        let cases = [
            ("name", json!("  ")),
            ("idNo", json!("52232519900101002x")),
            ("idNo", json!("5223251990010100")),
            ("gender", json!("female")),
            ("status", json!("returned_home")),
            ("hiredOn", json!("2021/8/5")),
            ("employerUscc", json!("9144130")),
            ("surprise", json!(1)),
        ];
        for (field, value) in cases {
            let mut body = worker();
            body[field] = value;
            let err =
                validate(Collection::Workers, &body, Write::Create, false, |_| true).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
        }
        let mut body = worker();
        body["id"] = json!(3);
        assert_eq!(
            validate(Collection::Workers, &body, Write::Create, false, |_| true)
                .unwrap_err()
                .field
                .as_deref(),
            Some("id")
        );
        assert!(
            validate(Collection::Workers, &body, Write::Replace(3), false, |_| {
                true
            })
            .is_ok()
        );
        assert!(
            validate(Collection::Workers, &body, Write::Replace(4), false, |_| {
                true
            })
            .is_err()
        );
    }

    #[test]
    fn referrals_need_an_existing_job() {
        let body = json!({"workerIdNo": "52232519900101002X", "jobId": 7, "status": "recommended", "note": null});
        assert!(
            validate(Collection::Referrals, &body, Write::Create, false, |id| id
                == 7)
            .is_ok()
        );
        let err = validate(Collection::Referrals, &body, Write::Create, false, |_| {
            false
        })
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("jobId"));
    }
}
