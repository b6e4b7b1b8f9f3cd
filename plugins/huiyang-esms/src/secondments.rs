//! The `secondments` stream: HY-ESMS's talent-exchange module (专业技术人才派驻), one item per
//! stay of a clinician, as `secondment` records; read and written.
//!
//! | HY-ESMS `secondments` | secondment | notes |
//! |---|---|---|
//! | `id` | (remote id) | |
//! | `idNo`, `name`, `phone` | `practitioner.idNumber`, `.name`, `.phone` | normalised as every connector does; the name without the padding between two Han characters (`王　五` → `王五`, [`normalise_han_name`]) |
//! | `gender` `M`/`F` | `practitioner.gender` `male`/`female` | |
//! | `profession` | `practitioner.qualification.text` | |
//! | `sendingOrg` | `sendingOrganization.name` | HY keeps no code for it |
//! | `hostFacility` | `organization.name` | HY keeps no code for it |
//! | `batch` | `batch` | |
//! | `startDate` | `period.start` | |
//! | `endDate` (planned) | `plannedEnd` | required by HY: a record without it is refused (422 → rejected at `/plannedEnd`) |
//! | `actualEndDate` | `period.end` | |
//! | `status` | `status` | writing a record without `status` derives it from `active`: true → `serving`; false → `completed` once `period.end` is known, else `planned` |
//! | `department` | `specialty` | |
//! | `honours` | `honours` | |
//! | `deleted` | (source-record `deleted`) | a soft delete |
//! | `updatedAt` | (version, cursor) | sent back as `If-Unmodified-Since`: a stale one is a conflict |
//!
//! HY-ESMS has no `active` flag, no e-mail and no issuer of a qualification: they are not read
//! and not written. HY-ESMS has no uniqueness rule for secondments, so before creating one the
//! connector looks the natural key (`idNo`, `batch`) up among the existing items: a create
//! retried after a lost answer updates the record it made instead of making a second.

use hub_sdk::json::{Record, set_opt};
use hub_sdk::log;
use hub_sdk::names::normalise_han_name;
use hub_sdk::normalise::{date, id_number, phone, text};
use hub_sdk::prelude::*;
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::collections::HashMap;

use crate::{api, base_url, item_id, unexpected, updated_at};

/// The stream's (and the collection's) name.
pub const SECONDMENTS: &str = "secondments";

fn item_str<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A `secondments` item as a `secondment` record.
pub fn item_to_record(item: &Value) -> Record {
    let mut person = Record::new();
    person.insert(
        "idNumber".into(),
        Value::String(id_number::normalise(item_str(item, "idNo"))),
    );
    person.insert(
        "name".into(),
        Value::String(normalise_han_name(item_str(item, "name"))),
    );
    let gender = match text::trim(item_str(item, "gender")) {
        "M" => Some("male".to_string()),
        "F" => Some("female".to_string()),
        "" => None,
        other => Some(other.to_string()),
    };
    set_opt(&mut person, "gender", gender);
    set_opt(
        &mut person,
        "phone",
        phone::normalise(item_str(item, "phone")),
    );
    person.insert(
        "qualification".into(),
        text::non_empty(item_str(item, "profession")).map_or(Value::Null, |t| json!({ "text": t })),
    );
    let mut r = Record::new();
    r.insert("practitioner".into(), Value::Object(person));
    r.insert(
        "organization".into(),
        json!({ "name": text::trim(item_str(item, "hostFacility")) }),
    );
    r.insert(
        "sendingOrganization".into(),
        text::non_empty(item_str(item, "sendingOrg")).map_or(Value::Null, |n| json!({ "name": n })),
    );
    r.insert(
        "batch".into(),
        item.get("batch").cloned().unwrap_or(Value::Null),
    );
    let day = |k: &str| text::non_empty(item_str(item, k)).map(|d| date::normalise(&d));
    r.insert(
        "period".into(),
        json!({ "start": day("startDate"), "end": day("actualEndDate") }),
    );
    set_opt(&mut r, "plannedEnd", day("endDate"));
    set_opt(
        &mut r,
        "specialty",
        text::non_empty(item_str(item, "department")),
    );
    set_opt(&mut r, "status", text::non_empty(item_str(item, "status")));
    let honours: Vec<String> = item
        .get("honours")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(text::non_empty)
        .collect();
    r.insert("honours".into(), json!(honours));
    r
}

fn ptr<'a>(r: &'a Record, p: &str) -> Option<&'a Value> {
    let mut it = p.split('/').skip(1);
    let first = r.get(it.next()?)?;
    it.try_fold(first, |v, k| v.get(k)).filter(|v| !v.is_null())
}

fn ptr_str(r: &Record, p: &str) -> Option<String> {
    ptr(r, p).and_then(Value::as_str).map(str::to_string)
}

/// The `status` to write: the record's, or derived from `active` (see the module docs).
pub fn status_of(r: &Record) -> Option<String> {
    ptr_str(r, "/status").or_else(|| {
        let active = ptr(r, "/active").and_then(Value::as_bool)?;
        Some(
            if active {
                "serving"
            } else if ptr(r, "/period/end").is_some() {
                "completed"
            } else {
                "planned"
            }
            .to_string(),
        )
    })
}

/// A `secondment` record as the body of `POST`/`PUT /api/v1/secondments` (no `id`; `deleted`
/// left to the system).
pub fn record_to_item(r: &Record) -> Map<String, Value> {
    let gender = match ptr_str(r, "/practitioner/gender").as_deref() {
        Some("male") => Some("M".to_string()),
        Some("female") => Some("F".to_string()),
        other => other.map(str::to_string),
    };
    let mut item = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        item.insert(k.to_string(), v.map_or(Value::Null, Value::String));
    };
    put("name", ptr_str(r, "/practitioner/name"));
    put("idNo", ptr_str(r, "/practitioner/idNumber"));
    put("gender", gender);
    put("phone", ptr_str(r, "/practitioner/phone"));
    put("profession", ptr_str(r, "/practitioner/qualification/text"));
    put("sendingOrg", ptr_str(r, "/sendingOrganization/name"));
    put("hostFacility", ptr_str(r, "/organization/name"));
    put("startDate", ptr_str(r, "/period/start"));
    put("endDate", ptr_str(r, "/plannedEnd"));
    put("actualEndDate", ptr_str(r, "/period/end"));
    put("status", status_of(r));
    put("department", ptr_str(r, "/specialty"));
    item.insert(
        "batch".into(),
        ptr(r, "/batch").cloned().unwrap_or(Value::Null),
    );
    item.insert(
        "honours".into(),
        ptr(r, "/honours").cloned().unwrap_or_else(|| json!([])),
    );
    item
}

/// A `secondment` record as HY-ESMS stores it (the contract's `normal-form`): written as
/// [`record_to_item`] sends it and read back as [`item_to_record`] maps it.
pub fn normal_form(r: &Record) -> Record {
    item_to_record(&Value::Object(record_to_item(r)))
}

/// The JSON pointer in a `secondment` record for an HY field named in a 422 answer.
pub fn pointer_for_field(field: &str) -> Option<String> {
    let p = match field {
        "name" => "/practitioner/name",
        "idNo" => "/practitioner/idNumber",
        "gender" => "/practitioner/gender",
        "phone" => "/practitioner/phone",
        "profession" => "/practitioner/qualification/text",
        "sendingOrg" => "/sendingOrganization/name",
        "hostFacility" => "/organization/name",
        "batch" => "/batch",
        "startDate" => "/period/start",
        "endDate" => "/plannedEnd",
        "actualEndDate" => "/period/end",
        "status" => "/status",
        "department" => "/specialty",
        "honours" => "/honours",
        _ => return None,
    };
    Some(p.to_string())
}

/// Reads the next batch of secondments.
pub(crate) fn read(cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
    crate::paging::read(SECONDMENTS, cursor, max, item_to_record)
}

thread_local! {
    /// `idNo/batch` → id of every secondment in HY-ESMS, loaded on the first create of a run.
    static BY_KEY: RefCell<Option<HashMap<String, i64>>> = const { RefCell::new(None) };
}

fn natural_key(item: &Map<String, Value>) -> String {
    let id = item
        .get("idNo")
        .and_then(Value::as_str)
        .map(id_number::normalise)
        .unwrap_or_default();
    let batch = item.get("batch").map(Value::to_string).unwrap_or_default();
    format!("{id}/{batch}")
}

/// The id of the live secondment with this natural key, if HY-ESMS holds one.
fn existing(item: &Map<String, Value>) -> Result<Option<i64>, ConnectorError> {
    if BY_KEY.with_borrow(Option::is_none) {
        let mut map = HashMap::new();
        for i in crate::paging::all(SECONDMENTS)? {
            if i.get("deleted").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let (Some(id), Value::Object(obj)) = (item_id(&i), &i) {
                map.entry(natural_key(obj)).or_insert(id);
            }
        }
        BY_KEY.with_borrow_mut(|b| *b = Some(map));
    }
    Ok(BY_KEY.with_borrow(|b| b.as_ref().and_then(|m| m.get(&natural_key(item)).copied())))
}

fn remember(item: &Map<String, Value>, id: i64) {
    BY_KEY.with_borrow_mut(|b| {
        if let Some(m) = b.as_mut() {
            m.insert(natural_key(item), id);
        }
    });
}

fn written(item: &Value) -> Result<Written, ConnectorError> {
    let id = item_id(item)
        .ok_or_else(|| ConnectorError::Permanent("stored secondment has no id".into()))?;
    Ok(Written {
        remote_id: id.to_string(),
        version: updated_at(item),
        stored: Some(to_json(&item_to_record(item))),
    })
}

fn rejected(resp: &Response) -> WriteResult {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let error = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("refused");
    let field = body.get("field").and_then(Value::as_str);
    WriteResult::Rejected(Rejection {
        reason: format!(
            "HTTP {} {error}{}",
            resp.status,
            field.map(|f| format!(" ({f})")).unwrap_or_default()
        ),
        pointer: field.and_then(pointer_for_field),
    })
}

fn put(
    id: &str,
    item: &Map<String, Value>,
    version: Option<&str>,
) -> Result<Response, ConnectorError> {
    let mut req = api(Request::put(format!(
        "{}/api/v1/{SECONDMENTS}/{id}",
        base_url()
    )))
    .json(item);
    if let Some(v) = version {
        req = req.header("if-unmodified-since", v);
    }
    Ok(req.send()?)
}

/// Writes one record: an update of the item the hub knows (with `If-Unmodified-Since`), else
/// an update of the item holding its natural key, else a create.
pub(crate) fn write_one(
    index: usize,
    target: &TargetRecord,
) -> Result<WriteResult, ConnectorError> {
    let data = hub_sdk::json::parse_record(&target.data, index)?;
    let item = record_to_item(&data);
    if let (Some(id), Some(current)) = (&target.remote_id, &target.current) {
        let current = hub_sdk::json::parse_record(current, index)?;
        if record_to_item(&current) == item {
            return Ok(WriteResult::Unchanged(Written {
                remote_id: id.clone(),
                version: target.version.clone(),
                stored: None,
            }));
        }
    }
    let (id, version) = match &target.remote_id {
        Some(id) => (Some(id.clone()), target.version.clone()),
        // Not known to the hub: a create, unless a create whose answer was lost made it already.
        None => (existing(&item)?.map(|i| i.to_string()), None),
    };
    if let Some(id) = id {
        let resp = put(&id, &item, version.as_deref())?;
        match resp.status {
            200 => return Ok(WriteResult::Updated(written(&resp.json("update")?)?)),
            412 => {
                return Ok(WriteResult::Conflict(format!(
                    "HY secondment {id} changed since {}",
                    version.as_deref().unwrap_or("?")
                )));
            }
            404 => log::warn(&format!("HY secondment {id} not found; creating it again")),
            400 | 422 => return Ok(rejected(&resp)),
            _ => return Err(unexpected("update", &resp)),
        }
    }
    let resp = api(Request::post(format!(
        "{}/api/v1/{SECONDMENTS}",
        base_url()
    )))
    .json(&item)
    .send()?;
    match resp.status {
        201 | 200 => {
            let stored: Value = resp.json("create")?;
            if let Some(id) = item_id(&stored) {
                remember(&item, id);
            }
            Ok(WriteResult::Created(written(&stored)?))
        }
        400 | 422 => Ok(rejected(&resp)),
        _ => Err(unexpected("create", &resp)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Value {
        json!({
            "id": 3, "name": "刘丽", "idNo": "44130319921120004x", "gender": "F", "phone": "136-1234-5678",
            "profession": "康复治疗师", "sendingOrg": "惠阳区中医院", "hostFacility": "贞丰县民族中医院", "batch": 3,
            "startDate": "2021-09-01", "endDate": "2022-02-28", "actualEndDate": null, "status": "serving",
            "department": null, "honours": ["锦旗：妙手仁心"], "deleted": false, "updatedAt": "2021-09-01T09:00:00+08:00"
        })
    }

    #[test]
    fn an_item_maps_to_a_stay_with_the_plan_and_what_happened() {
        assert_eq!(
            Value::Object(item_to_record(&item())),
            json!({
                "practitioner": {"idNumber": "44130319921120004X", "name": "刘丽", "gender": "female",
                                 "phone": "13612345678", "qualification": {"text": "康复治疗师"}},
                "organization": {"name": "贞丰县民族中医院"},
                "sendingOrganization": {"name": "惠阳区中医院"},
                "batch": 3, "period": {"start": "2021-09-01", "end": null}, "plannedEnd": "2022-02-28",
                "specialty": null, "status": "serving", "honours": ["锦旗：妙手仁心"]
            })
        );
    }

    #[test]
    fn a_record_round_trips_and_a_status_missing_is_derived_from_active() {
        let record = item_to_record(&item());
        let back = record_to_item(&record);
        assert_eq!(back["idNo"], "44130319921120004X");
        assert_eq!(back["endDate"], "2022-02-28");
        assert_eq!(back["status"], "serving");
        assert!(!back.contains_key("id") && !back.contains_key("deleted"));
        let mut roster: Record = serde_json::from_value(json!({
            "practitioner": {"idNumber": "44130319921120004X", "name": "刘丽"},
            "organization": {"name": "贞丰县民族中医院", "uscc": "12522325MB1234567X"},
            "batch": 3, "period": {"start": "2021-09-01", "end": "2021-11-30"}, "active": false
        }))
        .unwrap();
        assert_eq!(record_to_item(&roster)["status"], "completed");
        roster.insert("period".into(), json!({"start": "2021-09-01"}));
        assert_eq!(record_to_item(&roster)["status"], "planned");
        roster.insert("active".into(), json!(true));
        assert_eq!(record_to_item(&roster)["status"], "serving");
        assert_eq!(record_to_item(&roster)["honours"], json!([]));
    }

    #[test]
    fn a_practitioner_name_padded_to_three_characters_is_read_without_the_blank() {
        let mut padded = item();
        padded["name"] = json!("刘　丽");
        assert_eq!(item_to_record(&padded)["practitioner"]["name"], "刘丽");
        assert_eq!(item_to_record(&padded), item_to_record(&item()));
    }

    #[test]
    fn field_names_in_422_answers_become_pointers() {
        assert_eq!(pointer_for_field("endDate").as_deref(), Some("/plannedEnd"));
        assert_eq!(
            pointer_for_field("hostFacility").as_deref(),
            Some("/organization/name")
        );
        assert_eq!(pointer_for_field("id"), None);
    }
}
