//! Connector for Zhenfeng health bureau's medical staff roster (MED-ROSTER, 医疗人才派驻花名册),
//! a FHIR R4 server: `Organization`, `Practitioner`, `PractitionerRole` over plain FHIR REST
//! (`application/fhir+json`) with a bearer token.
//!
//! Config (JSON, from the deployment's `[plugins.medical-roster.config]`):
//! `{"base_url": "http://roster.example:8080/fhir", "bundle": "batch"}`. `base_url` (string,
//! required) is the FHIR base. `bundle` (string, optional) is how `write` sends a batch of
//! records (FHIR R4 http.html#transaction; [`bundle::Mode`]): `"batch"` (the default),
//! `"transaction"` or `"none"` (one request per resource, as before Bundles); any other value
//! is a config error. Secret: `token` (sent as `Authorization: Bearer …`). One stream,
//! `secondments` (schema `secondment`, read and written); the mapping is in [`mapping`].
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
//!
//! Bulk writes (`bundle`, [`write_bundled`]): the new stays of a batch (records the hub links to
//! no role yet) go in Bundles of at most [`BUNDLE_RECORDS`] records, under the same conditions
//! as the single requests (`ifNoneExist`, `ifMatch`):
//! - `batch` (the default): two `batch` Bundles, the people then their stays, since a batch may
//!   not refer from one entry to another. Each entry has its own outcome, so each record its
//!   own result, exactly as one request per resource gives it; the first sync of the demo's ten
//!   clinicians takes 2 write requests instead of 20. It is the default because it keeps the
//!   per-record semantics of `none` (a refused stay refuses only itself) with the fewest
//!   requests that needs no search first, and every end-to-end test of the roster passes with it.
//! - `transaction`: one search for the people and roles the roster holds, then one
//!   `transaction` Bundle of people and stays, a new person referred to by a `urn:uuid`
//!   placeholder; all or nothing. A refused entry refuses its stay (or every stay of a refused
//!   person) and the others go again at once in a new transaction without it
//!   ([`create_transaction`] says why not `retry`).
//!
//! Contract 0.2.0: a read says exactly how many stays wait after its batch (`remaining`: the
//! connector reads every page of a change set, following the searchset `next` links, before it
//! hands out the first batch, so it counts what it holds). The stream's `max-write-batch` is
//! [`BUNDLE_RECORDS`]: a write call is then one Bundle of each kind, well inside the roster's
//! limit of 500 entries (each record is a Practitioner and a PractitionerRole at most). The
//! roster deletes nothing through its API (`DELETE` answers 405: a stay is ended with
//! `period.end` and `active` false, which is the record's own data), so the stream does not set
//! `can-delete`, and a delete asked anyway is refused ([`hub_sdk::delete_unsupported`]).
//!
//! Records the hub already links to a role (updates) keep the per-record read-modify-write in
//! every mode: each needs the current versions read first, and the update of a person depends
//! on a search of their other stays. Every record still gets exactly one `write-result`, in
//! order, with the role's id, the `<role version>;<practitioner version>` token and the stored
//! form; a failure that may pass (429, 5xx, a timeout) makes the records of that Bundle `retry`,
//! and a failure that is not theirs (401, an answer FHIR does not allow) ends the call, as a
//! single request's does. No personal data (ids, names, phones) is logged.

pub mod bundle;
pub mod mapping;

use bundle::{Answer, Mode};
use hub_sdk::log;
use hub_sdk::prelude::*;
use mapping::{Org, Orgs, Refs, Stay};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// The stream.
const SECONDMENTS: &str = "secondments";
/// Page size asked of the server.
const PAGE: u32 = 200;

#[derive(Default)]
struct State {
    base_url: String,
    /// How `write` sends a batch (the `bundle` option).
    mode: Mode,
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
                can_delete: false,
                max_write_batch: BUNDLE_RECORDS as u32,
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
        let mode = Mode::parse(cfg.get("bundle")).map_err(ConnectorError::Config)?;
        STATE.with_borrow_mut(|s| {
            *s = State {
                base_url: base.trim_end_matches('/').to_string(),
                mode,
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
            // Every page of the change set is read already: what is left is exactly what waits.
            let remaining = Some(Remaining::exact(records.len() as u64));
            Ok(Batch {
                records: batch,
                cursor,
                more,
                remaining,
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
        match STATE.with_borrow(|s| s.mode) {
            Mode::None => records
                .iter()
                .enumerate()
                .map(|(i, r)| match r.is_delete() {
                    true => Ok(hub_sdk::delete_unsupported(&stream)),
                    false => hub_sdk::per_record(write_one(i, r, &orgs)),
                })
                .collect(),
            mode => write_bundled(mode, &records, &orgs),
        }
    }

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
/// `OperationOutcome` answer ([`bundle::pointer_for`]).
fn pointer_for(resp: &Response) -> Option<String> {
    let body: Value = serde_json::from_slice(&resp.body).ok()?;
    bundle::pointer_for(&body, "")
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
    Ok(latest_of(&roles, stay, this_role))
}

/// The batch (extension `valueInteger`) of a role.
fn batch_of(role: &Value) -> Option<i64> {
    mapping::extension(role, mapping::BATCH_EXTENSION)
        .and_then(|e| e.get("valueInteger"))
        .and_then(Value::as_i64)
}

/// True if none of `roles` but `this_role` starts later (then batch) than `stay`.
fn latest_of(roles: &[Value], stay: &Stay, this_role: Option<&str>) -> bool {
    let mine = (
        stay.start.clone().unwrap_or_default(),
        stay.batch.unwrap_or(0),
    );
    roles
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
        })
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

/// The refusal of a stay at a facility the roster does not hold.
fn no_such_organization(stay: &Stay) -> WriteResult {
    WriteResult::Rejected(Rejection {
        reason: format!(
            "the roster holds no Organization named {:?}",
            stay.organization.as_deref().unwrap_or("")
        ),
        pointer: Some("/organization/name".into()),
    })
}

/// `If-None-Exist` of a person: `identifier=urn:cn:resident-id|<id number>`.
fn person_condition(stay: &Stay) -> String {
    format!("identifier={}|{}", mapping::RESIDENT_ID, stay.id_number)
}

/// `If-None-Exist` of a stay the hub creates: `identifier=urn:cn:secondment-stay|<pid>-<batch>`.
fn stay_condition(stay: &Stay, pid: &str) -> String {
    format!("identifier={}|{}", mapping::STAY_ID, stay.stay_id(pid))
}

/// The result of a stay written: its role's id, the version token of both resources, and the
/// record as the roster now holds it.
fn written(role: &Value, person: &Value, orgs: &Orgs) -> Written {
    Written {
        remote_id: id_of(role),
        version: Some(version_token(role, Some(person))),
        stored: Some(to_json(&mapping::to_record(role, Some(person), orgs))),
    }
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
        return Ok(no_such_organization(&stay));
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
    let req = Request::post(format!("{}/Practitioner", base_url()))
        .header("if-none-exist", &person_condition(&stay));
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
    let req = Request::post(format!("{}/PractitionerRole", base_url()))
        .header("if-none-exist", &stay_condition(&stay, &pid));
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
    Ok(WriteResult::Created(written(&role, &person, orgs)))
}

// ---------------------------------------------------------------------------------------------
// Bulk writes: FHIR R4 Bundles (http://hl7.org/fhir/R4/http.html#transaction)

/// Records per Bundle (each a Practitioner and a PractitionerRole at most): a batch of more is
/// sent in several, so that no Bundle nears a server's entry limit (the roster's is 500). It is
/// also the stream's `max-write-batch`, so that the host sends no more in one call.
const BUNDLE_RECORDS: usize = 100;
/// The roster's limit of entries in one Bundle (more → 413 `too-costly`).
const ROSTER_MAX_ENTRIES: usize = 500;
const _: () = assert!(2 * BUNDLE_RECORDS <= ROSTER_MAX_ENTRIES);

/// A record that asks for a new stay (the hub knows no role for it).
struct NewStay {
    /// Its place in the batch.
    index: usize,
    stay: Stay,
    organization: Org,
    sending: Option<Org>,
}

impl NewStay {
    fn refs(&self, practitioner: String) -> Refs<'_> {
        Refs {
            practitioner,
            organization: &self.organization,
            sending: self.sending.as_ref(),
        }
    }
}

/// The new stays of one person in a batch: `members` (indices into the stays, in batch order)
/// and `latest`, the one whose details the person is written from (latest start, then batch;
/// the first of equals), as the per-record path writes a person only from their latest stay.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Person {
    members: Vec<usize>,
    latest: usize,
}

/// Groups stays by person (identity number), in order of first appearance.
fn people(stays: &[&Stay]) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stays.iter().enumerate() {
        match at.get(s.id_number.as_str()) {
            Some(&g) => out[g].members.push(i),
            None => {
                at.insert(&s.id_number, out.len());
                out.push(Person {
                    members: vec![i],
                    latest: i,
                });
            }
        }
    }
    for p in &mut out {
        let key = |i: usize| {
            (
                stays[i].start.clone().unwrap_or_default(),
                stays[i].batch.unwrap_or(0),
            )
        };
        p.latest =
            p.members.iter().copied().fold(
                p.members[0],
                |best, i| if key(i) > key(best) { i } else { best },
            );
    }
    out
}

/// What became of a Bundle request as a whole.
enum Sent {
    /// Answered with its response Bundle: one entry per entry sent.
    Entries(Vec<Value>),
    /// A failure that may pass (a timeout, 429, 5xx): every record in it is retried.
    Retry(String),
    /// A transaction refused (4xx): the failing entry's status and `OperationOutcome`.
    Refused(u16, Value),
}

/// `POST <base>` with a Bundle of `kind` and `entries`, asking for the resources back
/// (`Prefer: return=representation`).
fn send_bundle(kind: &str, entries: Vec<Value>) -> Result<Sent, ConnectorError> {
    let sent = entries.len();
    let req = fhir(Request::post(base_url()))
        .header("content-type", "application/fhir+json")
        .header("prefer", "return=representation")
        .body(to_json(&bundle::bundle(kind, entries)).into_bytes());
    let resp = match req.send() {
        Ok(r) => r,
        Err(e) => {
            return match ConnectorError::from(e) {
                ConnectorError::Transient(m) => Ok(Sent::Retry(format!("{kind} Bundle: {m}"))),
                other => Err(other),
            };
        }
    };
    match resp.status {
        200 => {
            let answer: Value = resp.json(&format!("{kind}-response"))?;
            Ok(Sent::Entries(
                bundle::entries(&answer, kind, sent)?.to_vec(),
            ))
        }
        429 | 500..=599 => Ok(Sent::Retry(format!(
            "{kind} Bundle: HTTP {} {}",
            resp.status,
            diagnostics(&resp)
        ))),
        400 | 404 | 409 | 410 | 412 | 422 if kind == "transaction" => Ok(Sent::Refused(
            resp.status,
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
        )),
        _ => Err(unexpected(&format!("{kind} Bundle"), &resp)),
    }
}

/// `write` in Bundles: records the hub already links to a role are updated as in
/// [`write_one`] (a read-modify-write per record, not bundled); the new stays go in Bundles of
/// at most [`BUNDLE_RECORDS`] records, `batch` ([`create_batch`]) or `transaction`
/// ([`create_transaction`]). Every record gets its own result, in order.
fn write_bundled(
    mode: Mode,
    records: &[TargetRecord],
    orgs: &Orgs,
) -> Result<Vec<WriteResult>, ConnectorError> {
    let mut results: Vec<Option<WriteResult>> = records.iter().map(|_| None).collect();
    let mut new: Vec<NewStay> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if r.is_delete() {
            results[i] = Some(hub_sdk::delete_unsupported(SECONDMENTS));
            continue;
        }
        if r.remote_id.is_some() {
            results[i] = Some(hub_sdk::per_record(write_one(i, r, orgs))?);
            continue;
        }
        let stay = Stay::of(&hub_sdk::json::parse_record(&r.data, i)?);
        match stay.organization.as_deref().and_then(|n| orgs.by_name(n)) {
            None => results[i] = Some(no_such_organization(&stay)),
            Some(o) => {
                let organization = o.clone();
                let sending = stay
                    .sending
                    .as_deref()
                    .and_then(|n| orgs.by_name(n))
                    .cloned();
                new.push(NewStay {
                    index: i,
                    stay,
                    organization,
                    sending,
                });
            }
        }
    }
    for chunk in new.chunks(BUNDLE_RECORDS) {
        match mode {
            Mode::Transaction => create_transaction(chunk, orgs, &mut results)?,
            _ => create_batch(chunk, records, orgs, &mut results)?,
        }
    }
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| ConnectorError::Permanent(format!("record {i} got no result")))
        })
        .collect()
}

/// New stays in two `batch` Bundles (a batch may not refer from one entry to another): the
/// people (a conditional create each, `ifNoneExist` on the identity number, from their latest
/// stay), then the roles (a conditional create each on the hub's stay identifier). A person
/// found rather than created is brought up to date as [`write_one`] does (a request of its
/// own); so is a role found (made by an earlier attempt whose answer was lost). A person
/// refused or to be retried: that stay gets the result, the person's other stays are written
/// one by one ([`write_one`]), as they would have been without Bundles.
fn create_batch(
    stays: &[NewStay],
    records: &[TargetRecord],
    orgs: &Orgs,
    results: &mut [Option<WriteResult>],
) -> Result<(), ConnectorError> {
    let groups = people(&stays.iter().map(|s| &s.stay).collect::<Vec<_>>());
    let entries = groups
        .iter()
        .map(|g| {
            let s = &stays[g.latest].stay;
            bundle::post(
                "Practitioner",
                mapping::practitioner(None, s),
                Some(person_condition(s)),
                None,
            )
        })
        .collect();
    let answers = match send_bundle("batch", entries)? {
        Sent::Entries(e) => e,
        Sent::Retry(m) => {
            stays
                .iter()
                .for_each(|s| results[s.index] = Some(WriteResult::Retry(m.clone())));
            return Ok(());
        }
        Sent::Refused(status, _) => {
            return Err(ConnectorError::Permanent(format!(
                "batch refused: HTTP {status}"
            )));
        }
    };
    let mut persons: Vec<Option<Value>> = Vec::with_capacity(groups.len());
    for (g, entry) in groups.iter().zip(&answers) {
        let latest = &stays[g.latest];
        let person = match bundle::answer(entry, "Practitioner create", "Practitioner")? {
            Answer::Saved {
                status: 201,
                resource,
            } => Some(resource),
            Answer::Saved { resource, .. } => {
                match save_practitioner(resource, &latest.stay, None, None)? {
                    Ok((p, _)) => Some(p),
                    Err(result) => {
                        results[latest.index] = Some(result);
                        None
                    }
                }
            }
            Answer::Refused(result) => {
                results[latest.index] = Some(result);
                None
            }
            Answer::Retry(m) => {
                results[latest.index] = Some(WriteResult::Retry(m));
                None
            }
        };
        if person.is_none() {
            for &m in g.members.iter().filter(|m| **m != g.latest) {
                let i = stays[m].index;
                results[i] = Some(hub_sdk::per_record(write_one(i, &records[i], orgs))?);
            }
        }
        persons.push(person);
    }
    let mut entries = Vec::new();
    let mut owners: Vec<(usize, &Value)> = Vec::new();
    for (g, person) in groups.iter().zip(&persons) {
        let Some(person) = person else { continue };
        let pid = id_of(person);
        for &m in &g.members {
            let s = &stays[m];
            let role = mapping::role(None, &s.stay, &s.refs(format!("Practitioner/{pid}")));
            entries.push(bundle::post(
                "PractitionerRole",
                role,
                Some(stay_condition(&s.stay, &pid)),
                None,
            ));
            owners.push((m, person));
        }
    }
    if entries.is_empty() {
        return Ok(());
    }
    let answers = match send_bundle("batch", entries)? {
        Sent::Entries(e) => e,
        Sent::Retry(m) => {
            owners.iter().for_each(|(m_, _)| {
                results[stays[*m_].index] = Some(WriteResult::Retry(m.clone()))
            });
            return Ok(());
        }
        Sent::Refused(status, _) => {
            return Err(ConnectorError::Permanent(format!(
                "batch refused: HTTP {status}"
            )));
        }
    };
    for ((m, person), entry) in owners.into_iter().zip(&answers) {
        let s = &stays[m];
        let result = match bundle::answer(entry, "PractitionerRole create", "PractitionerRole")? {
            Answer::Saved {
                status: 201,
                resource,
            } => WriteResult::Created(written(&resource, person, orgs)),
            // Made by an earlier attempt whose answer was lost: brought up to date.
            Answer::Saved { resource, .. } => {
                let refs = s.refs(format!("Practitioner/{}", id_of(person)));
                match bring_up_to_date(resource, &s.stay, &refs)? {
                    Ok(role) => WriteResult::Created(written(&role, person, orgs)),
                    Err(result) => result,
                }
            }
            Answer::Refused(result) => result,
            Answer::Retry(m) => WriteResult::Retry(m),
        };
        results[s.index] = Some(result);
    }
    Ok(())
}

/// A role found by its stay identifier, updated (`If-Match` on the version found) if it
/// differs from what `stay` says.
fn bring_up_to_date(
    found: Value,
    stay: &Stay,
    refs: &Refs<'_>,
) -> Result<Result<Value, WriteResult>, ConnectorError> {
    let desired = mapping::role(Some(&found), stay, refs);
    if mapping::content(&desired) == mapping::content(&found) {
        return Ok(Ok(found));
    }
    let rid = id_of(&found);
    let req = if_match(
        Request::put(format!("{}/PractitionerRole/{rid}", base_url())),
        Some(&version_of(&found)),
    );
    Ok(send_json(req, &desired, &format!("PractitionerRole/{rid} update"))?.map(|s| s.resource))
}

/// Who an entry of a transaction speaks for.
#[derive(Debug, Clone, Copy)]
enum Owner {
    /// The person of a group: every stay of theirs in the transaction.
    Person(usize),
    /// One stay.
    Stay(usize),
}

/// Where a stay's role comes from in a transaction: an entry, or a role already held as it
/// should be (made by an earlier attempt).
enum RoleFrom {
    Entry(usize),
    Held(Value),
}

/// One transaction's plan.
struct Plan {
    entries: Vec<Value>,
    owners: Vec<Owner>,
    /// Per group: the person's entry, or the person as held (`None` for a group left out).
    persons: Vec<Option<(Option<usize>, Option<Value>)>>,
    /// Per stay in the transaction: (stay, group, where its role comes from).
    roles: Vec<(usize, usize, RoleFrom)>,
}

/// The roster's people with these stays' identity numbers, by number, and their roles, by
/// `Practitioner/<id>`: one search (`identifier` with the numbers comma-separated, as FHIR
/// search ORs them, and `_revinclude=PractitionerRole:practitioner`).
type Held = (HashMap<String, Vec<Value>>, HashMap<String, Vec<Value>>);

fn held(stays: &[NewStay]) -> Result<Held, ConnectorError> {
    let numbers: Vec<String> = stays
        .iter()
        .map(|s| format!("{}|{}", mapping::RESIDENT_ID, s.stay.id_number))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let req = Request::get(format!("{}/Practitioner", base_url()))
        .query("identifier", &numbers.join(","))
        .query("_revinclude", "PractitionerRole:practitioner")
        .query("_count", &PAGE.to_string());
    let (found, roles) = search(req, "Practitioner search")?;
    let mut people: HashMap<String, Vec<Value>> = HashMap::new();
    for p in found {
        if let Some(n) = mapping::identifier(&p, mapping::RESIDENT_ID) {
            people.entry(n.to_string()).or_default().push(p);
        }
    }
    let mut by_person: HashMap<String, Vec<Value>> = HashMap::new();
    for r in roles {
        if let Some(re) = r.pointer("/practitioner/reference").and_then(Value::as_str) {
            by_person.entry(re.to_string()).or_default().push(r);
        }
    }
    Ok((people, by_person))
}

/// Plans the transaction of `stays` but those `left_out`. A person the roster holds is
/// referred to as `Practitioner/<id>` (updated with `If-Match` from their latest stay if that
/// is the latest of all their stays and anything differs); a stay of theirs the roster already
/// holds under the hub's stay identifier (an earlier attempt's) is updated if it differs, the
/// others created with `ifNoneExist` on that identifier. A person it does not hold is created
/// (`ifNoneExist` on the identity number) under a `urn:uuid` placeholder their roles refer to;
/// those roles carry no stay identifier (its value holds the person's id, unknown until the
/// transaction commits), so an earlier transaction's role (whose answer was lost) is found in
/// the search as the person's role without a stay identifier in the same batch, the stay's
/// natural key with the person's.
fn plan_transaction(
    stays: &[NewStay],
    groups: &[Person],
    held: &Held,
    left_out: &HashSet<usize>,
) -> Plan {
    let (people, roles_of) = held;
    let mut plan = Plan {
        entries: Vec::new(),
        owners: Vec::new(),
        persons: Vec::new(),
        roles: Vec::new(),
    };
    for (gi, g) in groups.iter().enumerate() {
        let members: Vec<usize> = g
            .members
            .iter()
            .copied()
            .filter(|m| !left_out.contains(m))
            .collect();
        if members.is_empty() {
            plan.persons.push(None);
            continue;
        }
        let key = |i: usize| {
            (
                stays[i].stay.start.clone().unwrap_or_default(),
                stays[i].stay.batch.unwrap_or(0),
            )
        };
        let latest =
            members.iter().copied().fold(
                members[0],
                |best, i| if key(i) > key(best) { i } else { best },
            );
        let latest_stay = &stays[latest].stay;
        match people.get(&latest_stay.id_number).map(Vec::as_slice) {
            Some([p]) => {
                let pid = id_of(p);
                let reference = format!("Practitioner/{pid}");
                let theirs = roles_of.get(&reference).map(Vec::as_slice).unwrap_or(&[]);
                let desired = mapping::practitioner(Some(p), latest_stay);
                let entry = (mapping::content(&desired) != mapping::content(p)
                    && latest_of(theirs, latest_stay, None))
                .then(|| {
                    plan.entries
                        .push(bundle::put("Practitioner", &pid, desired, &version_of(p)));
                    plan.owners.push(Owner::Person(gi));
                    plan.entries.len() - 1
                });
                plan.persons.push(Some((entry, Some(p.clone()))));
                for m in members {
                    let s = &stays[m];
                    let refs = s.refs(reference.clone());
                    let stay_id = s.stay.stay_id(&pid);
                    // The hub's stay identifier, or else a role of theirs in the same batch
                    // without one (an earlier transaction's, which could not give it one).
                    let found = theirs
                        .iter()
                        .find(|r| {
                            mapping::identifier(r, mapping::STAY_ID) == Some(stay_id.as_str())
                        })
                        .or_else(|| {
                            theirs.iter().find(|r| {
                                mapping::identifier(r, mapping::STAY_ID).is_none()
                                    && batch_of(r) == s.stay.batch
                            })
                        });
                    let from = match found {
                        Some(r) => {
                            let desired = mapping::role(Some(r), &s.stay, &refs);
                            if mapping::content(&desired) == mapping::content(r) {
                                RoleFrom::Held(r.clone())
                            } else {
                                plan.entries.push(bundle::put(
                                    "PractitionerRole",
                                    &id_of(r),
                                    desired,
                                    &version_of(r),
                                ));
                                plan.owners.push(Owner::Stay(m));
                                RoleFrom::Entry(plan.entries.len() - 1)
                            }
                        }
                        None => {
                            let role = mapping::role(None, &s.stay, &refs);
                            let cond = stay_condition(&s.stay, &pid);
                            plan.entries.push(bundle::post(
                                "PractitionerRole",
                                role,
                                Some(cond),
                                None,
                            ));
                            plan.owners.push(Owner::Stay(m));
                            RoleFrom::Entry(plan.entries.len() - 1)
                        }
                    };
                    plan.roles.push((m, gi, from));
                }
            }
            _ => {
                // Not held (or held twice, when the conditional create answers 412 and the
                // person's stays come back as conflicts).
                let url = bundle::placeholder(gi);
                let person = mapping::practitioner(None, latest_stay);
                plan.entries.push(bundle::post(
                    "Practitioner",
                    person,
                    Some(person_condition(latest_stay)),
                    Some(url.clone()),
                ));
                plan.owners.push(Owner::Person(gi));
                plan.persons
                    .push(Some((Some(plan.entries.len() - 1), None)));
                for m in members {
                    let s = &stays[m];
                    let mut role = mapping::role(None, &s.stay, &s.refs(url.clone()));
                    if let Some(r) = role.as_object_mut() {
                        r.remove("identifier");
                    }
                    plan.entries
                        .push(bundle::post("PractitionerRole", role, None, None));
                    plan.owners.push(Owner::Stay(m));
                    plan.roles
                        .push((m, gi, RoleFrom::Entry(plan.entries.len() - 1)));
                }
            }
        }
    }
    plan
}

/// New stays in one `transaction` Bundle, after one search for the people and roles the roster
/// already holds ([`plan_transaction`]). All or nothing: when the roster refuses an entry, the
/// stays it speaks for (one stay, or every stay of a refused person) get the refusal as their
/// result (`rejected`, or `conflict` for 412) and the others are sent again at once in a new
/// transaction without them. They are not reported `retry`: nothing is wrong with them, and a
/// retry would hold them back a whole run for another record's fault, which a batch write
/// never does; each round leaves out at least one stay, so a Bundle of n stays takes at most
/// n + 1 transactions. A failure that may pass (429, 5xx, a timeout) makes every remaining
/// stay `retry`.
fn create_transaction(
    stays: &[NewStay],
    orgs: &Orgs,
    results: &mut [Option<WriteResult>],
) -> Result<(), ConnectorError> {
    let groups = people(&stays.iter().map(|s| &s.stay).collect::<Vec<_>>());
    let held = match held(stays) {
        Ok(h) => h,
        Err(ConnectorError::Transient(m)) => {
            stays
                .iter()
                .for_each(|s| results[s.index] = Some(WriteResult::Retry(m.clone())));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut left_out: HashSet<usize> = HashSet::new();
    while left_out.len() < stays.len() {
        let plan = plan_transaction(stays, &groups, &held, &left_out);
        let answers = if plan.entries.is_empty() {
            Vec::new()
        } else {
            match send_bundle("transaction", plan.entries.clone())? {
                Sent::Entries(e) => e,
                Sent::Retry(m) => {
                    for (m_, _, _) in &plan.roles {
                        results[stays[*m_].index] = Some(WriteResult::Retry(m.clone()));
                    }
                    return Ok(());
                }
                Sent::Refused(status, outcome) => {
                    let Some(at) =
                        bundle::failed_entry(&outcome).filter(|i| *i < plan.entries.len())
                    else {
                        return Err(ConnectorError::Permanent(format!(
                            "transaction refused with HTTP {status} without naming the entry: {}",
                            outcome
                                .pointer("/issue/0/diagnostics")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                        )));
                    };
                    let kind = plan.entries[at]
                        .pointer("/resource/resourceType")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let result = match bundle::refusal(
                        status,
                        &outcome,
                        &format!("{kind} in a transaction"),
                        kind,
                    )? {
                        Answer::Refused(r) => r,
                        Answer::Retry(m) => WriteResult::Retry(m),
                        Answer::Saved { .. } => unreachable!("a refusal is not a success"),
                    };
                    let refused: Vec<usize> = match plan.owners[at] {
                        Owner::Stay(m) => vec![m],
                        Owner::Person(g) => groups[g]
                            .members
                            .iter()
                            .copied()
                            .filter(|m| !left_out.contains(m))
                            .collect(),
                    };
                    for m in refused {
                        results[stays[m].index] = Some(result.clone());
                        left_out.insert(m);
                    }
                    continue;
                }
            }
        };
        let saved = |i: usize, what: &str, kind: &str| -> Result<Value, ConnectorError> {
            match bundle::answer(&answers[i], what, kind)? {
                Answer::Saved { resource, .. } => Ok(resource),
                _ => Err(ConnectorError::Permanent(format!(
                    "{what}: a transaction-response entry that is not a success"
                ))),
            }
        };
        let mut persons: Vec<Option<Value>> = vec![None; groups.len()];
        for (g, p) in plan.persons.iter().enumerate() {
            persons[g] = match p {
                Some((Some(e), _)) => Some(saved(*e, "Practitioner", "Practitioner")?),
                Some((None, held)) => held.clone(),
                None => None,
            };
        }
        for (m, g, from) in plan.roles {
            let role = match from {
                RoleFrom::Entry(e) => saved(e, "PractitionerRole", "PractitionerRole")?,
                RoleFrom::Held(r) => r,
            };
            let person = persons[g]
                .as_ref()
                .ok_or_else(|| ConnectorError::Permanent("a stay without its person".into()))?;
            results[stays[m].index] = Some(WriteResult::Created(written(&role, person, orgs)));
        }
        break;
    }
    Ok(())
}

hub_sdk::export!(MedicalRoster);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_read_says_exactly_how_many_stays_are_left_of_the_change_set() {
        let stays: VecDeque<SourceRecord> = (0..5)
            .map(|i| SourceRecord {
                data: "{}".into(),
                remote_id: i.to_string(),
                version: Some("1;1".into()),
                updated_at: None,
                deleted: false,
            })
            .collect();
        // A change set of 5 read before (cursor None): no request is sent.
        STATE.with_borrow_mut(|s| {
            s.pending = Some((None, stays, Some("2024-05-01T00:00:00Z".into())))
        });
        let b = MedicalRoster::read(SECONDMENTS.into(), None, 2).unwrap();
        assert_eq!(
            (b.records.len(), b.more, b.cursor.as_deref()),
            (2, true, None)
        );
        assert!(matches!(
            b.remaining,
            Some(Remaining {
                count: 3,
                exact: true
            })
        ));
        let b = MedicalRoster::read(SECONDMENTS.into(), None, 10).unwrap();
        assert_eq!((b.records.len(), b.more), (3, false));
        assert_eq!(b.cursor.as_deref(), Some("2024-05-01T00:00:00Z"));
        assert!(matches!(
            b.remaining,
            Some(Remaining {
                count: 0,
                exact: true
            })
        ));
    }

    #[test]
    fn write_calls_are_one_bundle_and_deletes_are_refused_in_every_mode() {
        let m = MedicalRoster::manifest();
        assert!(matches!(&m.streams[..], [s] if !s.can_delete && s.max_write_batch == 100));
        for mode in ["none", "batch", "transaction"] {
            MedicalRoster::open(format!(
                r#"{{"base_url": "http://roster.test/fhir", "bundle": "{mode}"}}"#
            ))
            .unwrap();
            STATE.with_borrow_mut(|s| s.orgs = Some(Orgs::default()));
            let delete = TargetRecord {
                op: WriteOp::Delete,
                data: "{}".into(),
                remote_id: Some("9".into()),
                version: Some("1;1".into()),
                current: None,
            };
            let r = MedicalRoster::write(SECONDMENTS.into(), vec![delete]).unwrap();
            assert!(
                matches!(
                    &r[..],
                    [WriteResult::Rejected(Rejection { pointer: None, .. })]
                ),
                "{mode}: {r:?}"
            );
        }
    }

    fn stay(id_number: &str, batch: i64, start: &str, phone: &str) -> Stay {
        let r: hub_sdk::json::Record = serde_json::from_value(json!({
            "practitioner": {"idNumber": id_number, "name": "周杰", "gender": "male", "phone": phone},
            "organization": {"name": "贞丰县人民医院"},
            "batch": batch, "period": {"start": start}, "status": "serving"
        }))
        .unwrap();
        Stay::of(&r)
    }

    fn new_stay(index: usize, stay: Stay) -> NewStay {
        let organization = Org {
            id: "1".into(),
            name: "贞丰县人民医院".into(),
            uscc: None,
        };
        NewStay {
            index,
            stay,
            organization,
            sending: None,
        }
    }

    const A: &str = "441303198808081216";
    const B: &str = "44130319921120004X";

    #[test]
    fn stays_group_by_person_and_the_person_is_written_from_the_latest() {
        let s = [
            stay(A, 1, "2021-04-15", "13612345678"),
            stay(B, 1, "2021-04-15", "13612345679"),
            stay(A, 3, "2021-10-08", "13900000001"),
            stay(A, 2, "2021-10-08", "13900000002"),
        ];
        let groups = people(&s.iter().collect::<Vec<_>>());
        assert_eq!(
            groups,
            [
                Person {
                    members: vec![0, 2, 3],
                    latest: 2
                },
                Person {
                    members: vec![1],
                    latest: 1
                }
            ],
            "same start: the later batch"
        );
    }

    /// A known to the roster as Practitioner/7 with their batch-1 stay (role 20, made by an
    /// earlier attempt, as the record says); B not known.
    fn held_a() -> Held {
        let p = mapping::practitioner(None, &stay(A, 1, "2021-04-15", "13612345678"));
        let mut p = p.as_object().unwrap().clone();
        p.insert("id".into(), json!("7"));
        p.insert("meta".into(), json!({"versionId": "2"}));
        let s = new_stay(0, stay(A, 1, "2021-04-15", "13612345678"));
        let mut role = mapping::role(None, &s.stay, &s.refs("Practitioner/7".into()));
        role["id"] = json!("20");
        role["meta"] = json!({"versionId": "1"});
        (
            HashMap::from([(A.to_string(), vec![Value::Object(p)])]),
            HashMap::from([("Practitioner/7".to_string(), vec![role])]),
        )
    }

    #[test]
    fn a_transaction_refers_to_a_new_person_by_placeholder_and_to_a_known_one_by_id() {
        let stays = [
            new_stay(0, stay(A, 1, "2021-04-15", "13612345678")),
            new_stay(1, stay(B, 1, "2021-04-15", "13612345679")),
            // A's later stay, with a new phone: the person is updated from it.
            new_stay(2, stay(A, 3, "2021-10-08", "13900000001")),
        ];
        let groups = people(&stays.iter().map(|s| &s.stay).collect::<Vec<_>>());
        let plan = plan_transaction(&stays, &groups, &held_a(), &HashSet::new());
        let requests: Vec<String> = plan
            .entries
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["request"]["method"].as_str().unwrap(),
                    e["request"]["url"].as_str().unwrap()
                )
            })
            .collect();
        // A: their details (If-Match on version 2), the batch-1 stay already held as it should
        // be (no entry), the batch-3 stay created; B: the person and their stay.
        assert_eq!(
            requests,
            [
                "PUT Practitioner/7",
                "POST PractitionerRole",
                "POST Practitioner",
                "POST PractitionerRole"
            ]
        );
        assert_eq!(plan.entries[0]["request"]["ifMatch"], "W/\"2\"");
        assert_eq!(
            plan.entries[0]["resource"]["telecom"][0]["value"],
            "13900000001"
        );
        assert_eq!(
            plan.entries[1]["resource"]["practitioner"]["reference"],
            "Practitioner/7"
        );
        assert_eq!(
            plan.entries[1]["request"]["ifNoneExist"],
            format!("identifier={}|7-3", mapping::STAY_ID)
        );
        let url = plan.entries[2]["fullUrl"].as_str().unwrap();
        assert!(url.starts_with("urn:uuid:"), "{url}");
        assert_eq!(
            plan.entries[2]["request"]["ifNoneExist"],
            format!("identifier={}|{B}", mapping::RESIDENT_ID)
        );
        assert_eq!(
            plan.entries[3]["resource"]["practitioner"]["reference"],
            json!(url)
        );
        assert!(
            plan.entries[3]["resource"].get("identifier").is_none(),
            "B's id is not known yet"
        );
        assert!(matches!(
            plan.owners.as_slice(),
            [
                Owner::Person(0),
                Owner::Stay(2),
                Owner::Person(1),
                Owner::Stay(1)
            ]
        ));
        assert!(matches!(plan.roles[0], (0, 0, RoleFrom::Held(ref r)) if r["id"] == "20"));

        // B's stay refused: the next transaction leaves it, and B, out.
        let plan = plan_transaction(&stays, &groups, &held_a(), &HashSet::from([1]));
        assert_eq!(plan.entries.len(), 2);
        assert!(plan.persons[1].is_none());
        assert_eq!(plan.roles.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 2]);
    }

    #[test]
    fn a_stay_an_earlier_transaction_made_is_found_by_its_batch_not_made_twice() {
        // A's batch-1 stay, made by a transaction whose answer was lost: no stay identifier.
        let (people_held, mut roles) = held_a();
        roles.get_mut("Practitioner/7").unwrap()[0]
            .as_object_mut()
            .unwrap()
            .remove("identifier");
        let held = (people_held, roles);
        let stays = [new_stay(0, stay(A, 1, "2021-04-15", "13612345678"))];
        let groups = people(&stays.iter().map(|s| &s.stay).collect::<Vec<_>>());
        let plan = plan_transaction(&stays, &groups, &held, &HashSet::new());
        assert!(plan.entries.is_empty(), "{:?}", plan.entries);
        assert!(matches!(plan.roles[0], (0, 0, RoleFrom::Held(ref r)) if r["id"] == "20"));
        // A batch-2 stay of A is another stay: created.
        let stays = [new_stay(0, stay(A, 2, "2021-04-15", "13612345678"))];
        let plan = plan_transaction(&stays, &groups, &held, &HashSet::new());
        let methods: Vec<&str> = plan
            .entries
            .iter()
            .map(|e| e["request"]["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["POST"]);
    }

    #[test]
    fn a_known_person_is_not_rewritten_from_a_stay_that_is_not_their_latest() {
        // The roster holds A's batch-1 stay; the hub writes an older stay (batch 1 is held; a
        // stay starting earlier) with another phone: the person keeps their details.
        let stays = [new_stay(0, stay(A, 1, "2020-01-01", "13700000000"))];
        let groups = people(&stays.iter().map(|s| &s.stay).collect::<Vec<_>>());
        let (mut people_held, mut roles) = held_a();
        // The held role starts 2021-04-15, later than this stay's 2020-01-01, in another batch.
        let held_role = &mut roles.get_mut("Practitioner/7").unwrap()[0];
        held_role["extension"][0]["valueInteger"] = json!(2);
        held_role["identifier"][0]["value"] = json!("7-2");
        people_held.get_mut(A).unwrap()[0]["meta"]["versionId"] = json!("5");
        let plan = plan_transaction(&stays, &groups, &(people_held, roles), &HashSet::new());
        let methods: Vec<&str> = plan
            .entries
            .iter()
            .map(|e| e["request"]["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["POST"], "only the stay: {:?}", plan.entries);
        assert!(matches!(plan.persons[0], Some((None, Some(_)))));
    }
}
