//! MED-ROSTER's FHIR R4 resources and their mapping to the shared `secondment` schema. Pure
//! functions, tested natively.
//!
//! A secondment is one stay of one clinician: the clinician is one `Practitioner` (the person,
//! once, whatever the number of stays), the stay one `PractitionerRole`.
//!
//! | MED-ROSTER | secondment | notes |
//! |---|---|---|
//! | `PractitionerRole.id` | (remote id) | |
//! | `Practitioner.identifier` (system `urn:cn:resident-id`) | `practitioner.idNumber` | the person's natural key: a conditional create (`If-None-Exist: identifier=urn:cn:resident-id\|…`) finds the one Practitioner of a person |
//! | `Practitioner.name[0].text` | `practitioner.name` | `family` + `given` when there is no `text`; without the padding between two Han characters (`王　五` → `王五`, [`normalise_han_name`]) |
//! | `Practitioner.gender` | `practitioner.gender` | `male`/`female`; `other`/`unknown` are not read |
//! | `Practitioner.telecom` (system `phone`) | `practitioner.phone` | the first one; written as `use: mobile` |
//! | `Practitioner.telecom` (system `email`) | `practitioner.email` | read only (the roster's own) |
//! | `Practitioner.qualification[0].code.text`, `.issuer.display` | `practitioner.qualification.text`, `.issuer` | the issuer is read only (the roster's own): a write keeps it while the qualification stays the same |
//! | `PractitionerRole.organization` → `Organization` | `organization.name`, `.uscc` | written by name: one of the roster's Organizations (a name it does not hold → rejected at `/organization/name`) |
//! | extension `…/sending-organization` `valueReference` → `Organization` | `sendingOrganization.name`, `.uscc` | the roster's convention for the sending hospital; left out when the roster holds no Organization of that name |
//! | extension `…/secondment-batch` `valueInteger` | `batch` | |
//! | `PractitionerRole.period.start`, `.end` | `period.start`, `.end` | |
//! | `PractitionerRole.specialty[0].text` | `specialty` | |
//! | `PractitionerRole.active` | `active` | written from `active`, or from `status` when the record has no `active` (`serving` → true) |
//! | (from `active` and `period.end`) | `status` | `active` true → `serving`; false → `completed` once `period.end` is known, else `planned` (the schema's "after the period" read as "once its end is known", so that a record does not change with the calendar) |
//! | identifier (system `urn:cn:secondment-stay`, value `<Practitioner id>-<batch>`) | (none) | put on the roles the hub creates, so that a create repeated after a lost answer finds the role it made (`If-None-Exist`) |
//! | `meta.versionId` of both | (version `<role version>;<practitioner version>`) | sent back as `If-Match`: a stale one (412) is a conflict |
//!
//! The roster keeps no planned end, no honours: a write reports the record as the roster stores
//! it (without them), so the next read is an echo, not a change.

use hub_sdk::json::{Record, set_opt};
use hub_sdk::names::normalise_han_name;
use hub_sdk::normalise::{id_number, phone, text, uscc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// System of the resident identity number in `Practitioner.identifier`.
pub const RESIDENT_ID: &str = "urn:cn:resident-id";
/// System of the unified social credit code in `Organization.identifier`.
pub const USCC: &str = "urn:cn:uscc";
/// System of the identifier the hub gives the roles it creates.
pub const STAY_ID: &str = "urn:cn:secondment-stay";
/// The batch extension (`valueInteger`).
pub const BATCH_EXTENSION: &str = "http://example.org/fhir/StructureDefinition/secondment-batch";
/// The sending-organisation extension (`valueReference`).
pub const SENDING_EXTENSION: &str =
    "http://example.org/fhir/StructureDefinition/sending-organization";

/// An organisation of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Logical id.
    pub id: String,
    /// Name as the roster writes it (trimmed).
    pub name: String,
    /// Unified social credit code, when it has one.
    pub uscc: Option<String>,
}

/// The roster's organisations, by id.
#[derive(Debug, Clone, Default)]
pub struct Orgs(pub BTreeMap<String, Org>);

impl Orgs {
    /// Adds an `Organization` resource.
    pub fn add(&mut self, r: &Value) {
        let Some(id) = r.get("id").and_then(Value::as_str) else {
            return;
        };
        let name = r
            .get("name")
            .and_then(Value::as_str)
            .map(|n| text::trim(n).to_string())
            .unwrap_or_default();
        let code = identifier(r, USCC).and_then(uscc::normalise);
        self.0.insert(
            id.to_string(),
            Org {
                id: id.to_string(),
                name,
                uscc: code,
            },
        );
    }

    /// The organisation a reference (`Organization/3`) points at.
    pub fn by_reference(&self, reference: &str) -> Option<&Org> {
        self.0.get(reference.strip_prefix("Organization/")?)
    }

    /// The organisation of this name (the lowest id if the roster holds it twice).
    pub fn by_name(&self, name: &str) -> Option<&Org> {
        let name = text::trim(name);
        self.0.values().find(|o| o.name == name)
    }
}

/// The value of the first identifier with `system`.
pub fn identifier<'a>(r: &'a Value, system: &str) -> Option<&'a str> {
    r.get("identifier")?
        .as_array()?
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(system))?
        .get("value")?
        .as_str()
}

/// The extension with `url`, if any.
pub fn extension<'a>(r: &'a Value, url: &str) -> Option<&'a Value> {
    r.get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
}

fn first_text(concept: Option<&Value>) -> Option<String> {
    let c = concept?;
    c.get("text")
        .and_then(Value::as_str)
        .or_else(|| c.pointer("/coding/0/display").and_then(Value::as_str))
        .and_then(text::non_empty)
}

fn org_value(o: Option<&Org>) -> Value {
    match o {
        Some(o) => json!({ "name": o.name, "uscc": o.uscc }),
        None => Value::Null,
    }
}

fn reference(v: &Value, element: &str) -> Option<String> {
    v.get(element)?
        .get("reference")?
        .as_str()
        .map(str::to_string)
}

/// The `status` the roster's `active` flag and period stand for (see the module docs).
pub fn status_for(active: Option<bool>, end_known: bool) -> Option<&'static str> {
    Some(match active? {
        true => "serving",
        false if end_known => "completed",
        false => "planned",
    })
}

/// A `PractitionerRole` with its `Practitioner` as a `secondment` record.
pub fn to_record(role: &Value, practitioner: Option<&Value>, orgs: &Orgs) -> Record {
    let mut person = Record::new();
    if let Some(p) = practitioner {
        person.insert(
            "idNumber".into(),
            identifier(p, RESIDENT_ID)
                .map_or(Value::Null, |id| Value::String(id_number::normalise(id))),
        );
        let name = p
            .pointer("/name/0/text")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let family = p.pointer("/name/0/family").and_then(Value::as_str)?;
                let given: String = p
                    .pointer("/name/0/given")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                Some(format!("{family}{given}"))
            });
        set_opt(
            &mut person,
            "name",
            name.as_deref()
                .map(normalise_han_name)
                .filter(|n| !n.is_empty()),
        );
        let gender = p
            .get("gender")
            .and_then(Value::as_str)
            .filter(|g| matches!(*g, "male" | "female"));
        set_opt(&mut person, "gender", gender);
        let telecom = |system: &str| {
            p.get("telecom")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|t| t.get("system").and_then(Value::as_str) == Some(system))
                .and_then(|t| t.get("value"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        set_opt(
            &mut person,
            "phone",
            telecom("phone").and_then(|t| phone::normalise(&t)),
        );
        set_opt(
            &mut person,
            "email",
            telecom("email").as_deref().and_then(text::non_empty),
        );
        let qualification = p.pointer("/qualification/0").and_then(|q| {
            let text = first_text(q.get("code"))?;
            let issuer = q
                .pointer("/issuer/display")
                .and_then(Value::as_str)
                .and_then(text::non_empty);
            Some(json!({ "text": text, "issuer": issuer }))
        });
        person.insert("qualification".into(), qualification.unwrap_or(Value::Null));
    }
    let mut r = Record::new();
    r.insert("practitioner".into(), Value::Object(person));
    r.insert(
        "organization".into(),
        match reference(role, "organization") {
            Some(re) => match orgs.by_reference(&re) {
                Some(o) => org_value(Some(o)),
                None => {
                    json!({ "name": role.pointer("/organization/display").and_then(Value::as_str) })
                }
            },
            None => Value::Null,
        },
    );
    let sending = extension(role, SENDING_EXTENSION)
        .and_then(|e| e.pointer("/valueReference/reference"))
        .and_then(Value::as_str)
        .and_then(|re| orgs.by_reference(re));
    r.insert("sendingOrganization".into(), org_value(sending));
    r.insert(
        "batch".into(),
        extension(role, BATCH_EXTENSION)
            .and_then(|e| e.get("valueInteger"))
            .cloned()
            .unwrap_or(Value::Null),
    );
    let start = role.pointer("/period/start").and_then(Value::as_str);
    let end = role.pointer("/period/end").and_then(Value::as_str);
    r.insert("period".into(), json!({ "start": start, "end": end }));
    set_opt(
        &mut r,
        "specialty",
        first_text(role.pointer("/specialty/0")),
    );
    let active = role.get("active").and_then(Value::as_bool);
    r.insert("active".into(), active.map_or(Value::Null, Value::Bool));
    set_opt(&mut r, "status", status_for(active, end.is_some()));
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

/// What a write makes the roster hold: the fields of a record the connector writes, and the
/// basis of its "unchanged" check (two records with the same `Stay` need no request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    pub id_number: String,
    pub name: Option<String>,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub qualification: Option<String>,
    pub organization: Option<String>,
    pub sending: Option<String>,
    pub batch: Option<i64>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub specialty: Option<String>,
    pub active: bool,
}

impl Stay {
    /// The stay a `secondment` record describes.
    pub fn of(r: &Record) -> Stay {
        let end = ptr_str(r, "/period/end");
        let active = ptr(r, "/active")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| {
                // A record from Huiyang has a status, not the roster's flag.
                ptr_str(r, "/status").as_deref() == Some("serving")
            });
        Stay {
            id_number: ptr_str(r, "/practitioner/idNumber").unwrap_or_default(),
            name: ptr_str(r, "/practitioner/name"),
            gender: ptr_str(r, "/practitioner/gender"),
            phone: ptr_str(r, "/practitioner/phone"),
            qualification: ptr_str(r, "/practitioner/qualification/text"),
            organization: ptr_str(r, "/organization/name"),
            sending: ptr_str(r, "/sendingOrganization/name"),
            batch: ptr(r, "/batch").and_then(Value::as_i64),
            start: ptr_str(r, "/period/start"),
            end,
            specialty: ptr_str(r, "/specialty"),
            active,
        }
    }

    /// The identifier value of the role the hub creates for this stay.
    pub fn stay_id(&self, practitioner_id: &str) -> String {
        format!("{practitioner_id}-{}", self.batch.unwrap_or(0))
    }
}

fn array_mut<'a>(r: &'a mut Map<String, Value>, k: &str) -> &'a mut Vec<Value> {
    let v = r.entry(k.to_string()).or_insert_with(|| json!([]));
    if !v.is_array() {
        *v = json!([]);
    }
    v.as_array_mut().expect("made an array")
}

/// Removes an empty list element (FHIR forbids empty arrays).
fn drop_empty(r: &mut Map<String, Value>, k: &str) {
    if r.get(k)
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        r.remove(k);
    }
}

/// The `Practitioner` to hold for `stay`: `current` (if any) with the fields the connector owns
/// set, everything else (other identifiers, addresses, e-mail, a qualification's issuer) kept.
pub fn practitioner(current: Option<&Value>, stay: &Stay) -> Value {
    let mut r = current
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("resourceType".into(), json!("Practitioner"));
            m.insert("active".into(), json!(true));
            m
        });
    let ids = array_mut(&mut r, "identifier");
    match ids
        .iter_mut()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(RESIDENT_ID))
    {
        Some(i) => i["value"] = json!(stay.id_number),
        None => ids.insert(0, json!({ "system": RESIDENT_ID, "value": stay.id_number })),
    }
    if let Some(name) = &stay.name {
        let names = array_mut(&mut r, "name");
        // A padded writing of the same name (`王　五` for `王五`) is the roster's own: kept.
        let held = names
            .first()
            .and_then(|n| n.get("text"))
            .and_then(Value::as_str);
        let same = held.map(normalise_han_name) == Some(normalise_han_name(name));
        if !same {
            let entry = json!({ "use": "official", "text": name });
            if names.is_empty() {
                names.push(entry)
            } else {
                names[0] = entry
            }
        }
    }
    match &stay.gender {
        Some(g) => {
            r.insert("gender".into(), json!(g));
        }
        None => {
            r.remove("gender");
        }
    }
    let telecom = array_mut(&mut r, "telecom");
    let at = telecom
        .iter()
        .position(|t| t.get("system").and_then(Value::as_str) == Some("phone"));
    match (&stay.phone, at) {
        (Some(p), Some(i)) => {
            if telecom[i].get("value").and_then(Value::as_str) != Some(p.as_str()) {
                telecom[i] = json!({ "system": "phone", "value": p, "use": "mobile" });
            }
        }
        (Some(p), None) => telecom.push(json!({ "system": "phone", "value": p, "use": "mobile" })),
        (None, _) => telecom.retain(|t| t.get("system").and_then(Value::as_str) != Some("phone")),
    }
    drop_empty(&mut r, "telecom");
    let quals = array_mut(&mut r, "qualification");
    match &stay.qualification {
        Some(q) => {
            let same = quals
                .first()
                .and_then(|x| first_text(x.get("code")))
                .as_deref()
                == Some(q.as_str());
            if !same {
                let entry = json!({ "code": { "text": q } });
                if quals.is_empty() {
                    quals.push(entry)
                } else {
                    quals[0] = entry
                }
            }
        }
        None => quals.clear(),
    }
    drop_empty(&mut r, "qualification");
    drop_empty(&mut r, "identifier");
    drop_empty(&mut r, "name");
    Value::Object(r)
}

/// References a role needs, resolved against the roster.
#[derive(Debug, Clone)]
pub struct Refs<'a> {
    /// `Practitioner/<id>`.
    pub practitioner: String,
    /// The host facility.
    pub organization: &'a Org,
    /// The sending hospital, when the roster holds it.
    pub sending: Option<&'a Org>,
}

/// The `PractitionerRole` to hold for `stay`: `current` (if any) with the fields the connector
/// owns set, everything else kept; a new role gets the hub's stay identifier.
pub fn role(current: Option<&Value>, stay: &Stay, refs: &Refs<'_>) -> Value {
    let mut r = current
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("resourceType".into(), json!("PractitionerRole"));
            let pid = refs.practitioner.trim_start_matches("Practitioner/");
            m.insert(
                "identifier".into(),
                json!([{ "system": STAY_ID, "value": stay.stay_id(pid) }]),
            );
            m
        });
    r.insert("active".into(), json!(stay.active));
    let mut period = Map::new();
    if let Some(s) = &stay.start {
        period.insert("start".into(), json!(s));
    }
    if let Some(e) = &stay.end {
        period.insert("end".into(), json!(e));
    }
    r.insert("period".into(), Value::Object(period));
    r.insert(
        "practitioner".into(),
        match stay.name.as_deref() {
            Some(n) => json!({ "reference": refs.practitioner, "display": n }),
            None => json!({ "reference": refs.practitioner }),
        },
    );
    r.insert(
        "organization".into(),
        json!({ "reference": format!("Organization/{}", refs.organization.id), "display": refs.organization.name }),
    );
    match &stay.specialty {
        Some(s) => {
            let same = r
                .get("specialty")
                .and_then(|v| v.get(0))
                .and_then(|c| first_text(Some(c)))
                .as_deref()
                == Some(s.as_str());
            if !same {
                r.insert("specialty".into(), json!([{ "text": s }]));
            }
        }
        None => {
            r.remove("specialty");
        }
    }
    let exts = array_mut(&mut r, "extension");
    exts.retain(|e| {
        let url = e.get("url").and_then(Value::as_str);
        url != Some(BATCH_EXTENSION) && url != Some(SENDING_EXTENSION)
    });
    if let Some(b) = stay.batch {
        exts.push(json!({ "url": BATCH_EXTENSION, "valueInteger": b }));
    }
    if let Some(o) = refs.sending {
        exts.push(json!({
            "url": SENDING_EXTENSION,
            "valueReference": { "reference": format!("Organization/{}", o.id), "display": o.name }
        }));
    }
    drop_empty(&mut r, "extension");
    Value::Object(r)
}

/// A resource without `id`, `meta` and `text` (the narrative): what decides whether an update
/// changes anything.
pub fn content(r: &Value) -> Value {
    let mut m = r.as_object().cloned().unwrap_or_default();
    for k in ["id", "meta", "text"] {
        m.remove(k);
    }
    Value::Object(m)
}

/// A `secondment` record as the roster stores it (the contract's `normal-form`): the
/// `PractitionerRole` and `Practitioner` a write makes of it, read back with the roster's
/// Organizations (`orgs`). `None` if the roster holds no Organization of the record's host
/// facility (such a write is refused).
pub fn normal_form(r: &Record, orgs: &Orgs) -> Option<Record> {
    let stay = Stay::of(r);
    let organization = stay.organization.as_deref().and_then(|n| orgs.by_name(n))?;
    let sending = stay.sending.as_deref().and_then(|n| orgs.by_name(n));
    // The ids the roster assigns are not part of the record.
    let refs = Refs {
        practitioner: "Practitioner/0".into(),
        organization,
        sending,
    };
    Some(to_record(
        &role(None, &stay, &refs),
        Some(&practitioner(None, &stay)),
        orgs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs() -> Orgs {
        let mut o = Orgs::default();
        o.add(
            &json!({"resourceType": "Organization", "id": "1", "name": "贞丰县人民医院",
                      "identifier": [{"system": USCC, "value": "12522325MB1738290E"}]}),
        );
        o.add(&json!({"resourceType": "Organization", "id": "6", "name": "惠阳区中医院"}));
        o
    }

    fn record() -> Record {
        serde_json::from_value(json!({
            "practitioner": {"idNumber": "441303198808081216", "name": "周杰", "gender": "male",
                             "phone": "13612345678", "qualification": {"text": "中医师"}},
            "organization": {"name": "贞丰县人民医院"}, "sendingOrganization": {"name": "惠阳区中医院"},
            "batch": 1, "period": {"start": "2021-04-15"}, "plannedEnd": "2021-07-14",
            "status": "serving", "honours": []
        }))
        .unwrap()
    }

    #[test]
    fn a_stay_written_reads_back_as_the_roster_stores_it() {
        let orgs = orgs();
        let stay = Stay::of(&record());
        assert!(stay.active, "serving is active");
        let p = practitioner(None, &stay);
        let refs = Refs {
            practitioner: "Practitioner/7".into(),
            organization: orgs.by_name("贞丰县人民医院").unwrap(),
            sending: orgs.by_name("惠阳区中医院"),
        };
        let r = role(None, &stay, &refs);
        assert_eq!(identifier(&r, STAY_ID), Some("7-1"));
        let back = to_record(&r, Some(&p), &orgs);
        assert_eq!(
            Value::Object(back.clone()),
            json!({
                "practitioner": {"idNumber": "441303198808081216", "name": "周杰", "gender": "male",
                                 "phone": "13612345678", "email": null, "qualification": {"text": "中医师", "issuer": null}},
                "organization": {"name": "贞丰县人民医院", "uscc": "12522325MB1738290E"},
                "sendingOrganization": {"name": "惠阳区中医院", "uscc": null},
                "batch": 1, "period": {"start": "2021-04-15", "end": null}, "specialty": null,
                "active": true, "status": "serving"
            })
        );
        // Read back, the record describes the same stay: no request needed next time.
        assert_eq!(Stay::of(&back), stay);
    }

    #[test]
    fn the_normal_form_is_the_stay_as_the_roster_stores_it() {
        // Huiyang's plan: a status and planned dates, no `active` flag; the roster keeps the
        // flag, gives the facilities their credit codes and keeps no planned end or honours.
        let n = normal_form(&record(), &orgs()).unwrap();
        assert_eq!(n["active"], json!(true));
        assert_eq!(n["status"], json!("serving"));
        assert_eq!(
            n["organization"],
            json!({"name": "贞丰县人民医院", "uscc": "12522325MB1738290E"})
        );
        assert!(!n.contains_key("plannedEnd") && !n.contains_key("honours"));
        // Fields the roster keeps empty are null, not absent: a value there later is an edit.
        assert_eq!(n["specialty"], Value::Null);
        assert!(n.contains_key("specialty"));
        // A facility the roster does not hold: no normal form (the write is refused).
        let mut elsewhere = record();
        elsewhere.insert("organization".into(), json!({"name": "某某医院"}));
        assert_eq!(normal_form(&elsewhere, &orgs()), None);
    }

    #[test]
    fn a_write_keeps_what_the_roster_owns_beyond_the_mapping() {
        let current = json!({
            "resourceType": "Practitioner", "id": "7", "meta": {"versionId": "2"},
            "identifier": [{"system": "urn:other", "value": "A1"}, {"system": RESIDENT_ID, "value": "441303198808081216"}],
            "name": [{"use": "official", "text": "周杰"}], "gender": "male",
            "telecom": [{"system": "email", "value": "zhou@example.cn"}, {"system": "phone", "value": "13612345678", "use": "mobile"}],
            "qualification": [{"code": {"text": "中医师"}, "issuer": {"display": "广东省中医药局"}}]
        });
        let stay = Stay::of(&record());
        let same = practitioner(Some(&current), &stay);
        assert_eq!(content(&same), content(&current), "nothing to write");
        let mut moved = record();
        moved["practitioner"]["phone"] = json!("13900000001");
        let changed = practitioner(Some(&current), &Stay::of(&moved));
        assert_eq!(changed["telecom"][0]["value"], "zhou@example.cn");
        assert_eq!(changed["telecom"][1]["value"], "13900000001");
        assert_eq!(
            changed["qualification"][0]["issuer"]["display"],
            "广东省中医药局"
        );
        assert_eq!(changed["identifier"][0]["value"], "A1");
    }

    #[test]
    fn a_name_padded_to_three_characters_is_read_without_the_blank_and_kept_on_write() {
        let role = json!({"resourceType": "PractitionerRole", "id": "9", "practitioner": {"reference": "Practitioner/7"},
                          "organization": {"reference": "Organization/1"}});
        let held = |name: Value| json!({"resourceType": "Practitioner", "id": "7", "name": [name]});
        let name_of =
            |p: &Value| to_record(&role, Some(p), &orgs())["practitioner"]["name"].clone();
        assert_eq!(name_of(&held(json!({"text": "周　杰"}))), "周杰");
        assert_eq!(name_of(&held(json!({"text": "周 杰"}))), "周杰");
        // Family and given written apart, the given name padded: 周 + " 杰".
        assert_eq!(
            name_of(&held(json!({"family": "周", "given": [" 杰"]}))),
            "周杰"
        );
        assert_eq!(name_of(&held(json!({"text": "Ali Hassan"}))), "Ali Hassan");
        // The other side holds 周杰 unpadded: the roster's padded writing is kept.
        let current = held(json!({"use": "official", "text": "周　杰"}));
        let same = practitioner(Some(&current), &Stay::of(&record()));
        assert_eq!(same["name"], json!([{"use": "official", "text": "周　杰"}]));
    }

    #[test]
    fn status_follows_the_active_flag_and_the_known_end() {
        assert_eq!(status_for(Some(true), true), Some("serving"));
        assert_eq!(status_for(Some(false), true), Some("completed"));
        assert_eq!(status_for(Some(false), false), Some("planned"));
        assert_eq!(status_for(None, false), None);
        let mut r = record();
        r["status"] = json!("completed");
        r["period"] = json!({"start": "2021-04-15", "end": "2021-07-14"});
        assert!(!Stay::of(&r).active);
        r.insert("active".into(), json!(true));
        assert!(
            Stay::of(&r).active,
            "the roster's flag, when given, decides"
        );
    }
}
