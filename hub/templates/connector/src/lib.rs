//! Connector `{{name}}`: adapts a REST/JSON system to the hub's `worker` schema.
//!
//! The system (made up, as a starting point; change it to yours):
//! - `GET  {base_url}/api/people?after_seq=N&limit=L`: people changed after change number `N`,
//!   oldest change first: `{"items": [{"id": 17, "seq": 42, "id_card": "...", "full_name": "...",
//!   "sex": "M", "mobile": "...", "state": "working", "updated_at": "2024-05-01T10:00:00+08:00"}]}`;
//! - `POST {base_url}/api/people` creates one (201 with the stored item; 409 `{"error":
//!   "...", "id": 17}` if it holds someone of that identity number already); `PUT
//!   .../people/{id}` with `If-Match: <updated_at>` changes one (200; 412 if it changed
//!   meanwhile); 422 `{"error": "...", "field": "mobile"}` refuses a record; it deletes nothing
//!   (so the stream leaves `can_delete` unset: the hub ends records in field form);
//! - every call carries `Authorization: Bearer <api_key>`.
//!
//! Config: `{"base_url": "http://people.example:8080"}`. Secret: `api_key`.
//! Cursor: the last change number returned (`seq`), as text. The system says no total, so a
//! read leaves `remaining` unset (a system that does, e.g. `{"total": N, ...}` with page
//! numbers, sets it: `PageNumber::remaining`). The normal form is the SDK's default (the system
//! stores what it is sent); override `Guest::normal_form` if yours re-codes or drops fields.
//! Built against `hub:connector` 0.2.0 (`hub_sdk::CONTRACT_VERSION`).

use hub_sdk::normalise::{id_number, phone};
use hub_sdk::prelude::*;
use hub_sdk::records::{Gender, Worker, WorkerStatus};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

const WORKERS: &str = "workers";

thread_local! {
    /// The base URL from `open`; a fresh instance serves each sync run.
    static BASE_URL: RefCell<String> = const { RefCell::new(String::new()) };
}

fn base_url() -> String {
    BASE_URL.with_borrow(Clone::clone)
}

fn api(req: Request) -> Request {
    req.header("authorization", "Bearer {{secret:api_key}}").header("accept", "application/json")
}

/// A person as the system writes one.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing)]
    pub seq: i64,
    #[serde(default, deserialize_with = "text")]
    pub id_card: String,
    #[serde(default, deserialize_with = "text")]
    pub full_name: String,
    #[serde(default, deserialize_with = "text")]
    pub sex: String,
    pub mobile: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub state: String,
    #[serde(default, skip_serializing)]
    pub updated_at: Option<String>,
}

/// A text member the system may leave out or send as `null`: empty then, so that the person
/// is still read (one missing name must not fail the page); the hub dead-letters the record
/// if the schema needs the member.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Person>,
}

/// A person as a `worker` record (the schema's shape, as JSON).
///
/// Never fail a read for one record: an error from `read` stops the whole stream, and it
/// fails again on every run until the system's data changes. A value this connector cannot
/// map (an identity number whose check character is wrong, a sex or state it does not know)
/// is passed through as the system wrote it instead: the hub validates every record, sends
/// this one to dead letters with the field's JSON pointer and the reason, and goes on with
/// the rest. Values the record must have but the system does not keep come from the identity
/// number where GB 11643-1999 gives them (the sex, from the parity of the 17th digit).
pub fn to_record(p: &Person) -> serde_json::Value {
    let id = id_number::normalise(&p.id_card);
    let gender = match p.sex.as_str() {
        "M" => "male".to_string(),
        "F" => "female".to_string(),
        // Only from a number that passes its check: `is_male` reads the 17th digit of any.
        "" if id_number::validate(&id).is_ok() => match id_number::is_male(&id) {
            Some(true) => "male".to_string(),
            Some(false) => "female".to_string(),
            None => String::new(),
        },
        other => other.to_string(),
    };
    let status = match p.state.as_str() {
        "working" => "employed",
        "looking" => "seeking",
        "home" => "returned_home",
        other => other,
    };
    let phone = p.mobile.as_deref().map(|m| phone::normalise(m).unwrap_or_else(|| m.to_string()));
    serde_json::json!({
        "idNumber": id, "name": p.full_name.trim(), "gender": gender, "status": status, "phone": phone,
    })
}

/// A `worker` record as the system's person.
pub fn from_worker(w: &Worker) -> Person {
    Person {
        id: None,
        seq: 0,
        id_card: w.id_number.to_string(),
        full_name: w.name.to_string(),
        sex: if matches!(w.gender, Gender::Male) { "M" } else { "F" }.into(),
        mobile: w.phone.as_ref().map(|p| p.to_string()),
        state: match w.status {
            WorkerStatus::Employed => "working",
            WorkerStatus::Seeking | WorkerStatus::Left => "looking",
            WorkerStatus::ReturnedHome | WorkerStatus::LostContact => "home",
        }
        .into(),
        updated_at: None,
    }
}

fn written(resp: &Response, what: &str) -> Result<Written, ConnectorError> {
    let p: Person = resp.json(what)?;
    Ok(Written {
        remote_id: p.id.map(|i| i.to_string()).unwrap_or_default(),
        version: p.updated_at.clone(),
        stored: Some(to_record(&p).to_string()),
    })
}

fn write_one(index: usize, target: &TargetRecord) -> Result<WriteResult, ConnectorError> {
    let worker: Worker = hub_sdk::json::parse_typed(&target.data, index)?;
    let person = from_worker(&worker);
    let resp = match &target.remote_id {
        Some(id) => {
            let mut req = api(Request::put(format!("{}/api/people/{id}", base_url()))).json(&person);
            if let Some(v) = &target.version {
                req = req.header("if-match", v);
            }
            req.send()?
        }
        None => api(Request::post(format!("{}/api/people", base_url()))).json(&person).send()?,
    };
    match resp.status {
        201 => Ok(WriteResult::Created(written(&resp, "create")?)),
        200 => Ok(WriteResult::Updated(written(&resp, "update")?)),
        // A create of someone the system holds already: `duplicate`, with the id of its record,
        // which the hub links at once (and writes again by id if the two differ). Never
        // overwrite the system's record on a create.
        409 if target.remote_id.is_none() => Ok(duplicate(&resp)),
        // 412 (changed since it was read) is `conflict`, 400/422 `rejected` (a dead letter),
        // 429/5xx `retry`.
        _ => {
            let field = resp.json::<serde_json::Value>("refusal").ok().and_then(|b| b["field"].as_str().map(str::to_string));
            let pointer = field.as_deref().map(|f| match f {
                "mobile" => "/phone",
                "id_card" => "/idNumber",
                "full_name" => "/name",
                _ => "",
            });
            resp.refusal("write", pointer.filter(|p| !p.is_empty()).map(str::to_string))
        }
    }
}

/// The result of a create refused with 409 `{"error": "...", "id": N}`: `duplicate` of record
/// `N`; without an id in the answer, `conflict` (the hub tries again on its next run).
fn duplicate(resp: &Response) -> WriteResult {
    match resp.json::<serde_json::Value>("duplicate").ok().and_then(|b| b["id"].as_i64()) {
        Some(id) => WriteResult::Duplicate(Existing::id(id.to_string())),
        None => WriteResult::Conflict(format!("create: HTTP 409 {}", resp.text())),
    }
}

/// The connector.
pub struct Connector;

impl Guest for Connector {
    fn manifest() -> Manifest {
        Manifest {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: "{{name}} (REST/JSON)".into(),
            streams: vec![StreamInfo {
                name: WORKERS.into(),
                schema: "worker".into(),
                // The catalogue's version (`hub schema list`); `hub plugin inspect` warns
                // when a stream declares an older one.
                schema_version: "1.0.1".into(),
                can_read: true,
                can_write: true,
                // The system deletes nothing; 0: the host's batch size per `write` call.
                can_delete: false,
                max_write_batch: 0,
            }],
            hosts: vec!["${base_url}".into()],
            secrets: vec!["api_key".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        #[derive(Deserialize)]
        struct Config {
            base_url: String,
        }
        let c: Config = serde_json::from_str(&config).map_err(|e| ConnectorError::Config(format!("config: {e}")))?;
        BASE_URL.with_borrow_mut(|b| *b = c.base_url.trim_end_matches('/').to_string());
        Ok(())
    }

    fn check() -> Result<(), ConnectorError> {
        let resp = api(Request::get(format!("{}/api/people", base_url())).query("after_seq", "0").query("limit", "1")).send()?;
        if resp.status != 200 {
            return Err(resp.error("check"));
        }
        Ok(())
    }

    fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
        if stream != WORKERS {
            return Err(ConnectorError::Unsupported(format!("no stream {stream:?}")));
        }
        let after: i64 = hub_sdk::cursor::decode(cursor.as_deref())?.unwrap_or(0);
        let limit = max.clamp(1, 500);
        let req = Request::get(format!("{}/api/people", base_url()))
            .query("after_seq", &after.to_string())
            .query("limit", &limit.to_string());
        let resp = api(req).send()?;
        if resp.status != 200 {
            return Err(resp.error("read"));
        }
        let page: Page = resp.json("read")?;
        let mut records = Vec::with_capacity(page.items.len());
        for p in &page.items {
            records.push(SourceRecord {
                data: to_record(p).to_string(),
                remote_id: p.id.map(|i| i.to_string()).unwrap_or_default(),
                version: p.updated_at.clone(),
                updated_at: p.updated_at.clone(),
                deleted: false,
            });
        }
        let last = page.items.last().map(|p| p.seq);
        Ok(Batch {
            records,
            cursor: last.map(|s| hub_sdk::cursor::encode(&s)),
            more: page.items.len() == limit as usize,
            // The system says no total.
            remaining: None,
        })
    }

    fn write(stream: String, records: Vec<TargetRecord>) -> Result<Vec<WriteResult>, ConnectorError> {
        if stream != WORKERS {
            return Err(ConnectorError::Unsupported(format!("no stream {stream:?}")));
        }
        records
            .iter()
            .enumerate()
            .map(|(i, r)| match r.is_delete() {
                // Not asked of a stream without `can_delete`; refused if it is.
                true => Ok(hub_sdk::delete_unsupported(&stream)),
                false => hub_sdk::per_record(write_one(i, r)),
            })
            .collect()
    }
}

hub_sdk::export!(Connector);

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        Person {
            id: Some(17),
            seq: 42,
            // A legacy 15-digit number: 522325 900101 001 → 52232519900101001, whose
            // GB 11643-1999 check character (ISO 7064 MOD 11-2) is 5: the weighted sum is 205,
            // 205 mod 11 = 7, and position 7 of 1 0 X 9 8 7 6 5 4 3 2 is 5.
            id_card: "522325900101001".into(),
            full_name: "王强 ".into(),
            sex: "M".into(),
            mobile: Some("+86 139 0000 1234".into()),
            state: "working".into(),
            updated_at: Some("2024-05-01T10:00:00+08:00".into()),
        }
    }

    #[test]
    fn a_person_maps_to_a_canonical_worker_and_back() {
        let json = to_record(&person());
        let w: Worker = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(json["idNumber"], "522325199001010015");
        assert_eq!(json["name"], "王强");
        assert_eq!(json["gender"], "male");
        assert_eq!(json["phone"], "13900001234");
        assert_eq!(json["status"], "employed");
        let back = from_worker(&w);
        assert_eq!((back.id_card.as_str(), back.sex.as_str(), back.state.as_str()), ("522325199001010015", "M", "working"));
        assert_eq!(back.mobile.as_deref(), Some("13900001234"));
    }

    #[test]
    fn what_cannot_be_mapped_is_passed_through_for_the_hub_to_dead_letter() {
        let p = Person { state: "retired".into(), sex: "U".into(), id_card: "522325199001010016".into(), ..person() };
        let json = to_record(&p);
        // As the system wrote them: the hub's validation names each (/status, /gender, and
        // /idNumber, whose check character is 5, not 6).
        assert_eq!((json["status"].as_str(), json["gender"].as_str()), (Some("retired"), Some("U")));
        assert_eq!(json["idNumber"], "522325199001010016");
    }

    #[test]
    fn a_person_without_a_name_is_read_for_the_hub_to_dead_letter() {
        let page: Page = serde_json::from_str(
            r#"{"items": [{"id": 20, "seq": 7, "id_card": "522325199001010015", "full_name": null, "sex": "M", "state": "working"}]}"#,
        )
        .unwrap();
        assert_eq!(to_record(&page.items[0])["name"], "");
    }

    #[test]
    fn a_create_of_someone_the_system_holds_is_a_duplicate_of_its_record() {
        let resp = Response { status: 409, headers: Vec::new(), body: br#"{"error": "id_card taken", "id": 17}"#.to_vec() };
        assert!(matches!(duplicate(&resp), WriteResult::Duplicate(Existing { remote_id, .. }) if remote_id == "17"));
        let resp = Response { status: 409, headers: Vec::new(), body: br#"{"error": "id_card taken"}"#.to_vec() };
        assert!(matches!(duplicate(&resp), WriteResult::Conflict(_)));
    }

    #[test]
    fn a_sex_the_system_does_not_keep_comes_from_the_identity_number() {
        // GB 11643-1999: the 17th digit is odd for a man (…001 5), even for a woman (…004 5).
        let p = Person { sex: String::new(), ..person() };
        assert_eq!(to_record(&p)["gender"], "male");
        let p = Person { sex: String::new(), id_card: "522325197806300045".into(), ..person() };
        assert_eq!(to_record(&p)["gender"], "female");
        // Not from a number whose check character is wrong (…0016): left empty, dead-lettered.
        let p = Person { sex: String::new(), id_card: "522325199001010016".into(), ..person() };
        assert_eq!(to_record(&p)["gender"], "");
    }
}
