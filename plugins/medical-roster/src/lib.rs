//! Connector for Zhenfeng health bureau's medical staff roster (MED-ROSTER, 医疗人才派驻花名册),
//! a FHIR R4 server: `Organization`, `Practitioner`, `PractitionerRole` over plain FHIR REST
//! (`application/fhir+json`) with a bearer token.
//!
//! Config (JSON, from the deployment's `[plugins.medical-roster.config]`):
//! `{"base_url": "http://roster.example:8080/fhir"}` (the FHIR base). Secret: `token` (sent as
//! `Authorization: Bearer …`). One stream, `secondments` (schema `secondment`, read and
//! written); the mapping is in [`mapping`].
//!
//! Reading: the roster's Organizations once per run, then
//! `PractitionerRole?_lastUpdated=ge<cursor>&_include=PractitionerRole:practitioner`, and (after
//! the first run) `Practitioner?_lastUpdated=ge<cursor>&_revinclude=PractitionerRole:practitioner`
//! so that a change to the person alone (a phone) is seen in each of their stays; every `next`
//! link is followed. The cursor is a `meta.lastUpdated` instant: the earlier of the two
//! searches' latest, so that what changed while the other search ran is read next time; `ge`
//! re-reads that instant, which the host recognises as unchanged.
//!
//! Writing a stay: the person by conditional create (`If-None-Exist:
//! identifier=urn:cn:resident-id|…`, so never twice, whatever the number of stays), the stay by
//! conditional create on the hub's stay identifier; an update is a read-modify-write of both
//! resources with `If-Match` on the versions the hub last saw, so a roster edit made in between
//! meets a 412 and comes back as a conflict for the hub's policy, never an overwrite. The person
//! is updated only from their latest stay (by start, then batch): two stays whose records
//! disagree about a phone never take turns overwriting it.

pub mod mapping;

use hub_sdk::log;
use hub_sdk::prelude::*;
use mapping::{Orgs, Refs, Stay};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// The stream.
const SECONDMENTS: &str = "secondments";
/// Page size asked of the server.
const PAGE: u32 = 200;

#[derive(Default)]
struct State {
    base_url: String,
    orgs: Option<Orgs>,
    /// The rest of the current read, and the cursor the host passes to continue it.
    pending: Option<(Option<String>, VecDeque<SourceRecord>, Option<String>)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn base_url() -> String {
    STATE.with_borrow(|s| s.base_url.clone())
}

fn fhir(req: Request) -> Request {
    req.header("authorization", "Bearer {{secret:token}}")
        .header("accept", "application/fhir+json")
}

/// The `diagnostics` of an `OperationOutcome` answer (or the start of the body).
fn diagnostics(resp: &Response) -> String {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    body.pointer("/issue/0/diagnostics")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| resp.text().chars().take(200).collect())
}

/// The error for an answer that is not what the contract promises.
fn unexpected(what: &str, resp: &Response) -> ConnectorError {
    let msg = format!("{what}: HTTP {} {}", resp.status, diagnostics(resp));
    match resp.status {
        401 | 403 => ConnectorError::Auth(msg),
        429 | 500..=599 => ConnectorError::Transient(msg),
        _ => ConnectorError::Permanent(msg),
    }
}

fn get(url: &str, what: &str) -> Result<Value, ConnectorError> {
    let resp = fhir(Request::get(url)).send()?;
    if resp.status != 200 {
        return Err(unexpected(what, &resp));
    }
    resp.json(what)
}

/// The entries of a search, every page: `(matches, includes)`.
fn search(first: Request, what: &str) -> Result<(Vec<Value>, Vec<Value>), ConnectorError> {
    let (mut matches, mut includes) = (Vec::new(), Vec::new());
    let mut resp = fhir(first).send()?;
    loop {
        if resp.status != 200 {
            return Err(unexpected(what, &resp));
        }
        let bundle: Value = resp.json(what)?;
        for e in bundle
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(r) = e.get("resource") else { continue };
            match e.pointer("/search/mode").and_then(Value::as_str) {
                Some("include") => includes.push(r.clone()),
                _ => matches.push(r.clone()),
            }
        }
        let next = bundle
            .get("link")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("url"))
            .and_then(Value::as_str);
        match next {
            Some(url) => resp = fhir(Request::get(url)).send()?,
            None => return Ok((matches, includes)),
        }
    }
}

/// The roster's Organizations, loaded once per run.
fn orgs() -> Result<Orgs, ConnectorError> {
    if let Some(o) = STATE.with_borrow(|s| s.orgs.clone()) {
        return Ok(o);
    }
    let req =
        Request::get(format!("{}/Organization", base_url())).query("_count", &PAGE.to_string());
    let (found, _) = search(req, "Organization search")?;
    let mut orgs = Orgs::default();
    found.iter().for_each(|o| orgs.add(o));
    STATE.with_borrow_mut(|s| s.orgs = Some(orgs.clone()));
    Ok(orgs)
}

fn id_of(r: &Value) -> String {
    r.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn version_of(r: &Value) -> String {
    r.pointer("/meta/versionId")
        .and_then(Value::as_str)
        .unwrap_or("1")
        .to_string()
}

fn updated_of(r: &Value) -> Option<String> {
    r.pointer("/meta/lastUpdated")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The version token of a stay: `<role version>;<practitioner version>`.
fn version_token(role: &Value, practitioner: Option<&Value>) -> String {
    format!(
        "{};{}",
        version_of(role),
        practitioner.map(version_of).unwrap_or_default()
    )
}

fn source_record(role: &Value, practitioner: Option<&Value>, orgs: &Orgs) -> SourceRecord {
    let updated = updated_of(role)
        .into_iter()
        .chain(practitioner.and_then(updated_of))
        .max();
    SourceRecord {
        data: to_json(&mapping::to_record(role, practitioner, orgs)),
        remote_id: id_of(role),
        version: Some(version_token(role, practitioner)),
        updated_at: updated,
        deleted: false,
    }
}

/// Reads every stay changed at or after `cursor`; returns them in change order and the next
/// cursor.
fn read_changes(
    cursor: Option<&str>,
) -> Result<(VecDeque<SourceRecord>, Option<String>), ConnectorError> {
    let orgs = orgs()?;
    let mut roles: BTreeMap<String, Value> = BTreeMap::new();
    let mut people: HashMap<String, Value> = HashMap::new();
    let mut req = Request::get(format!("{}/PractitionerRole", base_url()))
        .query("_include", "PractitionerRole:practitioner")
        .query("_sort", "_lastUpdated")
        .query("_count", &PAGE.to_string());
    if let Some(c) = cursor {
        req = req.query("_lastUpdated", &format!("ge{c}"));
    }
    let (matched, included) = search(req, "PractitionerRole search")?;
    let latest_role = matched.iter().filter_map(updated_of).max();
    for r in matched {
        roles.insert(id_of(&r), r);
    }
    for p in included {
        people.insert(format!("Practitioner/{}", id_of(&p)), p);
    }
    let mut next = latest_role.or(cursor.map(str::to_string));
    if let Some(c) = cursor {
        let req = Request::get(format!("{}/Practitioner", base_url()))
            .query("_lastUpdated", &format!("ge{c}"))
            .query("_revinclude", "PractitionerRole:practitioner")
            .query("_count", &PAGE.to_string());
        let (changed, their_roles) = search(req, "Practitioner search")?;
        let latest_person = changed
            .iter()
            .filter_map(updated_of)
            .max()
            .unwrap_or_else(|| c.to_string());
        // The earlier of the two: whatever changed while the other search ran is read again.
        next = next.map(|n| n.min(latest_person.clone()));
        for p in changed {
            people.insert(format!("Practitioner/{}", id_of(&p)), p);
        }
        for r in their_roles {
            roles.entry(id_of(&r)).or_insert(r);
        }
    }
    let mut out: Vec<SourceRecord> = Vec::with_capacity(roles.len());
    for role in roles.values() {
        let reference = role
            .pointer("/practitioner/reference")
            .and_then(Value::as_str)
            .map(str::to_string);
        let person = match reference {
            Some(re) if !people.contains_key(&re) => {
                let p = get(&format!("{}/{re}", base_url()), "Practitioner read")?;
                people.insert(re.clone(), p);
                people.get(&re)
            }
            Some(re) => people.get(&re),
            None => None,
        };
        out.push(source_record(role, person, &orgs));
    }
    out.sort_by(|a, b| {
        a.updated_at
            .cmp(&b.updated_at)
            .then_with(|| a.remote_id.cmp(&b.remote_id))
    });
    Ok((out.into(), next))
}

/// The connector (exported as the component's `connector` interface).
pub struct MedicalRoster;

impl Guest for MedicalRoster {
    fn manifest() -> Manifest {
        Manifest {
            name: "medical-roster".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: "Zhenfeng health bureau's medical staff roster (MED-ROSTER), FHIR R4".into(),
            streams: vec![StreamInfo {
                name: SECONDMENTS.into(),
                schema: "secondment".into(),
                schema_version: "1.0.0".into(),
                can_read: true,
                can_write: true,
            }],
            hosts: vec!["${base_url}".into()],
            secrets: vec!["token".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        let cfg: Value = serde_json::from_str(&config)
            .map_err(|e| ConnectorError::Config(format!("config is not JSON: {e}")))?;
        let base = cfg.get("base_url").and_then(Value::as_str).ok_or_else(|| {
            ConnectorError::Config("base_url (string, the FHIR base) is required".into())
        })?;
        STATE.with_borrow_mut(|s| {
            *s = State {
                base_url: base.trim_end_matches('/').to_string(),
                ..State::default()
            }
        });
        Ok(())
    }

    fn check() -> Result<(), ConnectorError> {
        let resp = fhir(Request::get(format!("{}/Organization", base_url())).query("_count", "1"))
            .send()?;
        if resp.status != 200 {
            return Err(unexpected("Organization search", &resp));
        }
        Ok(())
    }

    fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
        if stream != SECONDMENTS {
            return Err(ConnectorError::Unsupported(format!("no stream {stream:?}")));
        }
        let continuing =
            STATE.with_borrow(|s| matches!(&s.pending, Some((c, _, _)) if *c == cursor));
        if !continuing {
            let (records, next) = read_changes(cursor.as_deref())?;
            log::debug(&format!("roster: {} stays changed", records.len()));
            STATE.with_borrow_mut(|s| s.pending = Some((cursor.clone(), records, next)));
        }
        STATE.with_borrow_mut(|s| {
            let (expected, records, next) = s.pending.as_mut().expect("loaded above");
            let n = records.len().min(max.max(1) as usize);
            let batch: Vec<SourceRecord> = records.drain(..n).collect();
            let more = !records.is_empty();
            // The new cursor only with the last batch: a run that stops midway reads it all again.
            let cursor = if more { None } else { next.clone() };
            *expected = cursor.clone().or_else(|| expected.clone());
            Ok(Batch {
                records: batch,
                cursor,
                more,
            })
        })
    }

    fn write(
        stream: String,
        records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        if stream != SECONDMENTS {
            return Err(ConnectorError::Unsupported(format!("no stream {stream:?}")));
        }
        let orgs = orgs()?;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| hub_sdk::per_record(write_one(i, r, &orgs)))
            .collect()
    }
}

/// The answer to a create or update: status, resource.
struct Saved {
    status: u16,
    resource: Value,
}

fn send_json(
    req: Request,
    body: &Value,
    what: &str,
) -> Result<Result<Saved, WriteResult>, ConnectorError> {
    let resp = fhir(req)
        .header("content-type", "application/fhir+json")
        .body(to_json(body).into_bytes())
        .send()?;
    match resp.status {
        200 | 201 => Ok(Ok(Saved {
            status: resp.status,
            resource: resp.json(what)?,
        })),
        412 => Ok(Err(WriteResult::Conflict(format!(
            "{what}: {}",
            diagnostics(&resp)
        )))),
        400 | 404 | 409 | 410 | 422 => Ok(Err(WriteResult::Rejected(Rejection {
            reason: format!("{what}: HTTP {} {}", resp.status, diagnostics(&resp)),
            pointer: pointer_for(&resp),
        }))),
        _ => Err(unexpected(what, &resp)),
    }
}

/// The JSON pointer in a `secondment` record for the FHIRPath expression of an
/// `OperationOutcome`, when it names one the mapping knows.
fn pointer_for(resp: &Response) -> Option<String> {
    let body: Value = serde_json::from_slice(&resp.body).ok()?;
    let expr = body
        .pointer("/issue/0/expression/0")
        .and_then(Value::as_str)?;
    let p = [
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
    ]
    .iter()
    .find(|(prefix, _)| expr.starts_with(prefix))?
    .1;
    Some(p.to_string())
}

fn if_match(req: Request, version: Option<&str>) -> Request {
    match version.filter(|v| !v.is_empty()) {
        Some(v) => req.header("if-match", &format!("W/\"{v}\"")),
        None => req,
    }
}

/// True if no other stay of the person starts later (then batch) than `stay`: the person's
/// details are written from their latest stay only.
fn is_latest(
    practitioner: &str,
    stay: &Stay,
    this_role: Option<&str>,
) -> Result<bool, ConnectorError> {
    let req = Request::get(format!("{}/PractitionerRole", base_url()))
        .query("practitioner", practitioner)
        .query("_count", &PAGE.to_string());
    let (roles, _) = search(req, "PractitionerRole search")?;
    let mine = (
        stay.start.clone().unwrap_or_default(),
        stay.batch.unwrap_or(0),
    );
    Ok(roles
        .iter()
        .filter(|r| Some(id_of(r).as_str()) != this_role)
        .all(|r| {
            let start = r
                .pointer("/period/start")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let batch = mapping::extension(r, mapping::BATCH_EXTENSION)
                .and_then(|e| e.get("valueInteger"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            (start, batch) <= mine
        }))
}

/// Writes the person's details if this is their latest stay and anything differs; returns the
/// Practitioner as the roster now holds it, or the result that ends this record's write.
fn save_practitioner(
    current: Value,
    stay: &Stay,
    role_id: Option<&str>,
    version: Option<&str>,
) -> Result<Result<(Value, bool), WriteResult>, ConnectorError> {
    let pid = id_of(&current);
    let desired = mapping::practitioner(Some(&current), stay);
    if mapping::content(&desired) == mapping::content(&current)
        || !is_latest(&format!("Practitioner/{pid}"), stay, role_id)?
    {
        return Ok(Ok((current, false)));
    }
    let version = version
        .map(str::to_string)
        .unwrap_or_else(|| version_of(&current));
    let req = if_match(
        Request::put(format!("{}/Practitioner/{pid}", base_url())),
        Some(&version),
    );
    Ok(
        send_json(req, &desired, &format!("Practitioner/{pid} update"))?
            .map(|s| (s.resource, true)),
    )
}

fn write_one(
    index: usize,
    target: &TargetRecord,
    orgs: &Orgs,
) -> Result<WriteResult, ConnectorError> {
    let data = hub_sdk::json::parse_record(&target.data, index)?;
    let stay = Stay::of(&data);
    if let (Some(id), Some(current)) = (&target.remote_id, &target.current) {
        let current = hub_sdk::json::parse_record(current, index)?;
        if Stay::of(&current) == stay {
            return Ok(WriteResult::Unchanged(Written {
                remote_id: id.clone(),
                version: target.version.clone(),
                stored: None,
            }));
        }
    }
    let Some(organization) = stay.organization.as_deref().and_then(|n| orgs.by_name(n)) else {
        return Ok(WriteResult::Rejected(Rejection {
            reason: format!(
                "the roster holds no Organization named {:?}",
                stay.organization.as_deref().unwrap_or("")
            ),
            pointer: Some("/organization/name".into()),
        }));
    };
    let sending = stay.sending.as_deref().and_then(|n| orgs.by_name(n));
    let (role_version, person_version) =
        match target.version.as_deref().and_then(|v| v.split_once(';')) {
            Some((r, p)) => (Some(r.to_string()), Some(p.to_string())),
            None => (None, None),
        };

    // The stay the hub knows: read, modify, write back with If-Match.
    if let Some(id) = &target.remote_id {
        let resp = fhir(Request::get(format!(
            "{}/PractitionerRole/{id}",
            base_url()
        )))
        .send()?;
        match resp.status {
            200 => {
                let current: Value = resp.json("PractitionerRole read")?;
                let practitioner = current
                    .pointer("/practitioner/reference")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let refs = Refs {
                    practitioner: practitioner.clone(),
                    organization,
                    sending,
                };
                let desired = mapping::role(Some(&current), &stay, &refs);
                let mut wrote = false;
                let role = if mapping::content(&desired) == mapping::content(&current) {
                    current
                } else {
                    let version = role_version.clone().unwrap_or_else(|| version_of(&current));
                    let req = if_match(
                        Request::put(format!("{}/PractitionerRole/{id}", base_url())),
                        Some(&version),
                    );
                    match send_json(req, &desired, &format!("PractitionerRole/{id} update"))? {
                        Ok(saved) => {
                            wrote = true;
                            saved.resource
                        }
                        Err(result) => return Ok(result),
                    }
                };
                let person = get(
                    &format!("{}/{practitioner}", base_url()),
                    "Practitioner read",
                )?;
                let (person, person_wrote) =
                    match save_practitioner(person, &stay, Some(id), person_version.as_deref())? {
                        Ok(p) => p,
                        Err(result) => return Ok(result),
                    };
                let written = Written {
                    remote_id: id.clone(),
                    version: Some(version_token(&role, Some(&person))),
                    stored: Some(to_json(&mapping::to_record(&role, Some(&person), orgs))),
                };
                return Ok(if wrote || person_wrote {
                    WriteResult::Updated(written)
                } else {
                    WriteResult::Unchanged(written)
                });
            }
            404 | 410 => log::warn(&format!(
                "roster PractitionerRole {id} is gone; creating the stay again"
            )),
            _ => return Err(unexpected("PractitionerRole read", &resp)),
        }
    }

    // A new stay: the person (found, not duplicated, if they served before), then the role.
    let person = mapping::practitioner(None, &stay);
    let req = Request::post(format!("{}/Practitioner", base_url())).header(
        "if-none-exist",
        &format!("identifier={}|{}", mapping::RESIDENT_ID, stay.id_number),
    );
    let person = match send_json(req, &person, "Practitioner create")? {
        Ok(Saved {
            status: 201,
            resource,
        }) => resource,
        Ok(Saved { resource, .. }) => match save_practitioner(resource, &stay, None, None)? {
            Ok((p, _)) => p,
            Err(result) => return Ok(result),
        },
        Err(result) => return Ok(result),
    };
    let pid = id_of(&person);
    let refs = Refs {
        practitioner: format!("Practitioner/{pid}"),
        organization,
        sending,
    };
    let desired = mapping::role(None, &stay, &refs);
    let req = Request::post(format!("{}/PractitionerRole", base_url())).header(
        "if-none-exist",
        &format!("identifier={}|{}", mapping::STAY_ID, stay.stay_id(&pid)),
    );
    let role = match send_json(req, &desired, "PractitionerRole create")? {
        Ok(Saved {
            status: 201,
            resource,
        }) => resource,
        // Made by an earlier attempt whose answer was lost: brought up to date.
        Ok(Saved { resource, .. }) => {
            let rid = id_of(&resource);
            let desired = mapping::role(Some(&resource), &stay, &refs);
            if mapping::content(&desired) == mapping::content(&resource) {
                resource
            } else {
                let req = if_match(
                    Request::put(format!("{}/PractitionerRole/{rid}", base_url())),
                    Some(&version_of(&resource)),
                );
                match send_json(req, &desired, &format!("PractitionerRole/{rid} update"))? {
                    Ok(saved) => saved.resource,
                    Err(result) => return Ok(result),
                }
            }
        }
        Err(result) => return Ok(result),
    };
    Ok(WriteResult::Created(Written {
        remote_id: id_of(&role),
        version: Some(version_token(&role, Some(&person))),
        stored: Some(to_json(&mapping::to_record(&role, Some(&person), orgs))),
    }))
}

impl hub_sdk::NormalForm for MedicalRoster {
    /// Secondments as the roster stores them ([`mapping::normal_form`]), with the Organizations
    /// this run has read (without them, an `Err`: the host then compares with what was sent); a
    /// record for a facility the roster does not hold stays as sent (its write is refused).
    fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
        if stream != SECONDMENTS {
            return Err(format!("no stream {stream:?} to write"));
        }
        let Some(orgs) = STATE.with_borrow(|s| s.orgs.clone()) else {
            return Err("the roster's Organizations are not read yet in this run".into());
        };
        hub_sdk::normal_form_each(&records, |rec| {
            mapping::normal_form(rec, &orgs).unwrap_or_else(|| rec.clone())
        })
    }
}

hub_sdk::export!(MedicalRoster with normal_form);
