//! Connector for the Zhenfeng County registry of residents working away from home (ZF-REG,
//! 贞丰县外出务工人员登记系统).
//!
//! The registry is an older system: a session login (`POST /login`), every error as HTTP 200 with
//! a non-zero `code`, reads as one GB18030-encoded CSV export with Chinese headers, writes as
//! form posts keyed by pinyin field names. See [`mapping`] for the `workers` stream and [`jobs`]
//! for the `job-board` stream (vacancies from partner regions, `job-posting`).
//!
//! Contract 0.2.0: a save of a new resident whose 身份证号 the registry holds already (code
//! 40902, `data.djbh`) answers `duplicate` with that 登记编号; the registry has no deletes (a
//! resident who comes home gets 务工状态 `3`), so no stream sets `can-delete`; the job board's
//! reads say exactly how many postings wait (the board is read whole, see [`jobs`]), the worker
//! export's do not (a CSV streamed with no count).
//!
//! Config (JSON, from the deployment's `[plugins.zhenfeng-registry.config]`):
//! `{"base_url": "http://registry.example:8080"}`. Secrets: `username`, `password`.

pub mod jobs;
pub mod mapping;

use hub_sdk::log;
use hub_sdk::normalise::text;
use hub_sdk::prelude::*;
use mapping::{OwnWriting, Row, SaveForm};
use std::cell::RefCell;

/// The registry's error codes (HTTP 200, `{"code": N, "msg": "..."}`).
mod code {
    pub const OK: i64 = 0;
    pub const BAD_PARAMETER: i64 = 40001;
    pub const SESSION_EXPIRED: i64 = 40101;
    pub const MODIFIED: i64 = 40901;
    pub const ALREADY_REGISTERED: i64 = 40902;
}

const WORKERS: &str = "workers";

#[derive(Default)]
struct State {
    base_url: String,
    token: Option<String>,
    /// The rest of the current export as it streams in (never held whole: an export of
    /// millions of rows is read a batch at a time), and the cursor the host will pass to
    /// continue it.
    export: Option<(Option<String>, std::iter::Peekable<mapping::ExportRows>)>,
    /// The registry's own writing of fields a write does not change, by 登记编号: of every row
    /// changed at or after `raw_since`, only those the registry writes otherwise than their
    /// canonical form, and of those only the columns so written ([`OwnWriting`]); a row of that
    /// export not kept here has nothing to keep. Whole rows did not fit the instance's memory:
    /// 296 MiB asked for a registry of 300,000 rows held whole (bench/scale --scale 100), and
    /// 430 MiB for the own-writing rows of 3,000,000 (--scale 1000). An export per write batch,
    /// keeping only the batch's rows, made a full sync at scale 100 spend its time in the
    /// registry's exports (90 records/s).
    raw: std::collections::HashMap<Box<str>, OwnWriting>,
    /// The time from which `raw` holds every row's own writing: where the earliest export or
    /// read of this run started (`""`: the beginning; `None`: neither yet this run).
    raw_since: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn base_url() -> String {
    STATE.with_borrow(|s| s.base_url.clone())
}

/// The registry's JSON envelope.
#[derive(serde::Deserialize)]
struct Envelope {
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: serde_json::Value,
}

fn login() -> Result<String, ConnectorError> {
    let request = || {
        Request::post(format!("{}/login", base_url())).form(&[
            ("username", "{{secret:username}}"),
            ("password", "{{secret:password}}"),
        ])
    };
    // The host does not repeat a POST whose connection dropped; logging in twice is harmless.
    let resp = match request().send() {
        Err(HttpError::Connection(_)) => request().send()?,
        other => other?,
    };
    if !resp.is_success() {
        return Err(server_error("login", &resp));
    }
    let env: Envelope = resp.json("login")?;
    if env.code != code::OK {
        return Err(ConnectorError::Auth(format!(
            "login refused: code {} {}",
            env.code, env.msg
        )));
    }
    let token = env
        .data
        .get("token")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    let token =
        token.ok_or_else(|| ConnectorError::Permanent("login answer has no data.token".into()))?;
    STATE.with_borrow_mut(|s| s.token = Some(token.clone()));
    log::debug("logged in to the registry");
    Ok(token)
}

fn token() -> Result<String, ConnectorError> {
    match STATE.with_borrow(|s| s.token.clone()) {
        Some(t) => Ok(t),
        None => login(),
    }
}

fn server_error(what: &str, resp: &Response) -> ConnectorError {
    let msg = format!("{what}: HTTP {}", resp.status);
    if resp.status >= 500 || resp.status == 429 {
        ConnectorError::Transient(msg)
    } else {
        ConnectorError::Permanent(msg)
    }
}

/// True if a response is the registry's JSON "session expired" answer.
fn is_session_expired(resp: &Response) -> bool {
    resp.body.first() == Some(&b'{')
        && serde_json::from_slice::<Envelope>(&resp.body)
            .is_ok_and(|e| e.code == code::SESSION_EXPIRED)
}

/// Sends a request built with the current token; if the registry says the session expired, logs
/// in again and sends it once more with the new token.
fn with_session(build: impl Fn(&str) -> Request) -> Result<Response, ConnectorError> {
    let resp = build(&token()?).send()?;
    if !is_session_expired(&resp) {
        return Ok(resp);
    }
    log::info("registry session expired; logging in again");
    let token = login()?;
    Ok(build(&token).send()?)
}

/// The connector (exported as the component's `connector` interface).
pub struct ZhenfengRegistry;

impl Guest for ZhenfengRegistry {
    fn manifest() -> Manifest {
        Manifest {
            name: "zhenfeng-registry".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: "Zhenfeng County registry of residents working away (ZF-REG)".into(),
            streams: vec![
                StreamInfo {
                    name: WORKERS.into(),
                    schema: "worker".into(),
                    schema_version: "1.0.1".into(),
                    can_read: true,
                    can_write: true,
                    can_delete: false,
                    max_write_batch: 0,
                },
                StreamInfo {
                    name: jobs::JOB_BOARD.into(),
                    schema: "job-posting".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: true,
                    can_delete: false,
                    max_write_batch: 0,
                },
            ],
            hosts: vec!["${base_url}".into()],
            secrets: vec!["username".into(), "password".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        let cfg: serde_json::Value = serde_json::from_str(&config)
            .map_err(|e| ConnectorError::Config(format!("config is not JSON: {e}")))?;
        let base = cfg
            .get("base_url")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ConnectorError::Config("base_url (string) is required".into()))?;
        STATE.with_borrow_mut(|s| {
            *s = State {
                base_url: base.trim_end_matches('/').to_string(),
                ..State::default()
            }
        });
        Ok(())
    }

    fn check() -> Result<(), ConnectorError> {
        login().map(|_| ())
    }

    fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
        match stream.as_str() {
            WORKERS => {}
            jobs::JOB_BOARD => return jobs::read(cursor, max),
            _ => return Err(ConnectorError::Unsupported(format!("no stream {stream:?}"))),
        }
        let continuing = STATE.with_borrow(|s| matches!(&s.export, Some((c, _)) if *c == cursor));
        if !continuing {
            let rows = export_stream(cursor.as_deref())?;
            log::debug(&format!(
                "export since {}",
                cursor.as_deref().unwrap_or("the beginning")
            ));
            STATE.with_borrow_mut(|s| {
                s.export = Some((cursor.clone(), rows.peekable()));
                // Every row this export yields is kept in `raw` or dropped from it as read
                // (below), so `raw` holds the own writing of every row changed at or after
                // `cursor` that a write of this run can name: a record's version is the time
                // of a row already read, or of a row before `cursor` (read by an earlier run).
                // A full sync reads from the beginning ("", before every time) and its writes
                // need no export at all.
                let from = cursor.clone().unwrap_or_default();
                s.raw_since = Some(match s.raw_since.take() {
                    Some(earlier) if earlier < from => earlier,
                    _ => from,
                });
            });
        }
        STATE.with_borrow_mut(|s| {
            let (expected, rows) = s.export.as_mut().expect("export loaded above");
            let mut records: Vec<SourceRecord> = Vec::with_capacity(max.max(1) as usize);
            let mut failed = None;
            while records.len() < max.max(1) as usize {
                match rows.next() {
                    Some(Ok(r)) => {
                        let record = r.to_record();
                        keep_own_writing(&mut s.raw, &r, OwnWriting::of_record(&r, &record));
                        records.push(r.source_record_of(&record));
                    }
                    Some(Err(e)) => {
                        failed = Some(export_error(e));
                        break;
                    }
                    None => break,
                }
            }
            if let Some(e) = failed {
                // The rest of this export cannot be trusted: the next call exports again.
                s.export = None;
                return Err(e);
            }
            let more = rows.peek().is_some();
            // The export is ordered by 更新时间 and `since` is inclusive: resuming from the last
            // row's time re-reads that second (the host drops what it has already seen), so
            // nothing is missed if the run stops here.
            let next = records.last().and_then(|r| r.version.clone()).or(cursor);
            *expected = next.clone();
            Ok(Batch {
                records,
                cursor: next,
                more,
                remaining: None,
            })
        })
    }

    fn write(
        stream: String,
        records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        match stream.as_str() {
            WORKERS => {}
            jobs::JOB_BOARD => {
                return records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        if r.is_delete() {
                            Ok(hub_sdk::delete_unsupported(&stream))
                        } else {
                            hub_sdk::per_record(jobs::write_one(i, r))
                        }
                    })
                    .collect();
            }
            _ => return Err(ConnectorError::Unsupported(format!("no stream {stream:?}"))),
        }
        load_raw_rows(&records)?;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if r.is_delete() {
                    Ok(hub_sdk::delete_unsupported(&stream))
                } else {
                    hub_sdk::per_record(write_one(i, r))
                }
            })
            .collect()
    }

    /// Workers as the registry stores them ([`mapping::normal_form`]); job-board postings as
    /// the board stores them ([`jobs::normal_form`]).
    fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
        match stream.as_str() {
            WORKERS => hub_sdk::normal_form_each(&records, mapping::normal_form),
            jobs::JOB_BOARD => hub_sdk::normal_form_each(&records, jobs::normal_form),
            _ => Err(format!("no stream {stream:?} to write")),
        }
    }
}

fn export_error(e: mapping::ExportError) -> ConnectorError {
    match e {
        mapping::ExportError::Io(io) => ConnectorError::Transient(io.to_string()),
        mapping::ExportError::Format(m) => ConnectorError::Permanent(m),
    }
}

/// Requests the export of rows changed at or after `since` (`yyyy-MM-dd HH:mm:ss`); its rows
/// are decoded as they stream in. An expired session (a JSON answer instead of CSV) is renewed
/// once.
fn export_stream(since: Option<&str>) -> Result<mapping::ExportRows, ConnectorError> {
    let url = format!("{}/export/workers.csv", base_url());
    let request = |token: &str| {
        let r = Request::get(url.clone()).query("token", token);
        match since {
            Some(s) => r.query("since", s),
            None => r,
        }
    };
    let mut renewed = false;
    loop {
        let resp = request(&token()?).send_streaming()?;
        if !(200..300).contains(&resp.status) {
            return Err(ConnectorError::Transient(format!(
                "export: HTTP {}",
                resp.status
            )));
        }
        let is_json = resp
            .header("content-type")
            .is_some_and(|c| c.contains("json"));
        if !is_json {
            return mapping::export_rows(resp.reader()).map_err(export_error);
        }
        let body = resp.bytes()?;
        let env: Envelope = serde_json::from_slice(&body).map_err(|e| {
            ConnectorError::Permanent(format!(
                "export: an answer that is neither CSV nor the registry's JSON: {e}"
            ))
        })?;
        if env.code == code::SESSION_EXPIRED && !renewed {
            log::info("registry session expired; logging in again");
            login()?;
            renewed = true;
            continue;
        }
        return Err(ConnectorError::Permanent(format!(
            "export refused: code {} {}",
            env.code, env.msg
        )));
    }
}

/// Makes sure the registry's raw rows of the records to update are at hand: an export is made
/// only when a record's version is older than the export already made this run, and it is read
/// only up to where that export began ([`mapping::ExportRows::changed_before`]): over a full
/// sync, whose write batches come in no order of time, every row is read about once. Only the
/// rows with the registry's own writing are kept.
fn load_raw_rows(records: &[TargetRecord]) -> Result<(), ConnectorError> {
    let since = STATE.with_borrow(|s| {
        records
            .iter()
            .filter(|r| r.remote_id.is_some())
            .filter_map(|r| r.version.as_deref())
            .filter(|v| s.raw_since.as_deref().is_none_or(|since| *v < since))
            .min()
            .map(str::to_string)
    });
    let Some(since) = since else { return Ok(()) };
    // Rows at or after the export made earlier this run are at hand already.
    let until = STATE.with_borrow(|s| s.raw_since.clone());
    for row in export_stream(Some(&since))?.changed_before(until) {
        let row = row.map_err(export_error)?;
        let own = OwnWriting::of(&row);
        STATE.with_borrow_mut(|s| keep_own_writing(&mut s.raw, &row, own));
    }
    STATE.with_borrow_mut(|s| s.raw_since = Some(since));
    Ok(())
}

/// Records `row`'s own writing in `raw` under its 登记编号, or forgets an earlier version's
/// when the row now has none.
fn keep_own_writing(
    raw: &mut std::collections::HashMap<Box<str>, OwnWriting>,
    row: &Row,
    own: Option<OwnWriting>,
) {
    let id = text::trim(row.get("登记编号"));
    match own {
        Some(own) => {
            raw.insert(id.into(), own);
        }
        None => {
            raw.remove(id);
        }
    }
}

fn write_one(index: usize, target: &TargetRecord) -> Result<WriteResult, ConnectorError> {
    let data = hub_sdk::json::parse_record(&target.data, index)?;
    let mut form = SaveForm::from_record(&data);
    if let Some(current) = &target.current {
        let current = hub_sdk::json::parse_record(current, index)?;
        if SaveForm::from_record(&current).same_content(&form) {
            let id = target.remote_id.clone().or(form.djbh.clone());
            if let Some(id) = id {
                return Ok(WriteResult::Unchanged(Written {
                    remote_id: id,
                    version: target.version.clone(),
                    stored: None,
                }));
            }
        }
    }
    form.djbh = target.remote_id.clone().or(form.djbh);
    form.gxsj = target.version.clone();
    let created = form.djbh.is_none();
    if let Some(id) = form.djbh.clone() {
        STATE.with_borrow(|s| s.raw.get(id.as_str()).map(|own| form.preserve(own)));
    }
    let registered_on = mapping::str_of(&data, "registeredOn");
    let env = save(&form)?;
    if env.code == code::ALREADY_REGISTERED && created {
        // Registered already, as a resident the hub has not read (outside the sync's `where`,
        // or registered meanwhile): the host links it and writes it again by id if need be.
        return Ok(already_registered(&env));
    }
    Ok(match env.code {
        code::OK => {
            let djbh = env
                .data
                .get("djbh")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            form.djbh = djbh.or(form.djbh);
            if form.djbh.is_none() {
                return Ok(WriteResult::Retry("save answered without data.djbh".into()));
            }
            if created {
                WriteResult::Created(form.written(Some(&mapping::today_cst())))
            } else {
                WriteResult::Updated(form.written(registered_on.as_deref()))
            }
        }
        code::MODIFIED => WriteResult::Conflict(format!(
            "registry record changed since {}",
            form.gxsj.as_deref().unwrap_or("?")
        )),
        code::BAD_PARAMETER => WriteResult::Rejected(Rejection {
            pointer: mapping::pointer_for_message(&env.msg),
            reason: format!("{} {}", env.code, env.msg),
        }),
        c if c >= 50000 => WriteResult::Retry(format!("{c} {}", env.msg)),
        c => WriteResult::Rejected(Rejection {
            reason: format!("{c} {}", env.msg),
            pointer: None,
        }),
    })
}

/// Posts the save form (logging in again if the session expired).
fn save(form: &SaveForm) -> Result<Envelope, ConnectorError> {
    let url = format!("{}/api/worker/save", base_url());
    let resp = with_session(|token| Request::post(url.clone()).form(&form.pairs(token)))?;
    if !resp.is_success() {
        return Err(server_error("save", &resp));
    }
    resp.json("save")
}

/// A save of a new resident refused with 40902: the registry holds this 身份证号 already, as
/// `data.djbh`, which is the `duplicate`'s id. Without a 登记编号 in the answer, a rejection of
/// the identity number.
fn already_registered(env: &Envelope) -> WriteResult {
    match env
        .data
        .get("djbh")
        .and_then(|v| v.as_str())
        .map(text::trim)
        .filter(|d| !d.is_empty())
    {
        Some(djbh) => WriteResult::Duplicate(Existing::id(djbh)),
        None => WriteResult::Rejected(Rejection {
            reason: format!("{} {} (with no data.djbh)", env.code, env.msg),
            pointer: Some("/idNumber".into()),
        }),
    }
}

hub_sdk::export!(ZhenfengRegistry);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resident_registered_already_is_a_duplicate_of_its_djbh() {
        let env: Envelope = serde_json::from_str(
            r#"{"code":40902,"msg":"身份证号已登记","data":{"djbh":"ZF2021000123"}}"#,
        )
        .unwrap();
        assert!(
            matches!(already_registered(&env), WriteResult::Duplicate(Existing { remote_id, version: None, data: None }) if remote_id == "ZF2021000123")
        );
        let env: Envelope =
            serde_json::from_str(r#"{"code":40902,"msg":"身份证号已登记"}"#).unwrap();
        assert!(
            matches!(already_registered(&env), WriteResult::Rejected(Rejection { pointer: Some(p), .. }) if p == "/idNumber")
        );
    }

    #[test]
    fn no_stream_deletes_natively_and_a_delete_asked_anyway_is_rejected() {
        assert!(
            ZhenfengRegistry::manifest()
                .streams
                .iter()
                .all(|s| !s.can_delete && s.max_write_batch == 0)
        );
        let delete = TargetRecord {
            op: WriteOp::Delete,
            data: "{}".into(),
            remote_id: Some("7".into()),
            version: None,
            current: None,
        };
        let r = ZhenfengRegistry::write(jobs::JOB_BOARD.into(), vec![delete]).unwrap();
        assert!(
            matches!(
                &r[..],
                [WriteResult::Rejected(Rejection { pointer: None, .. })]
            ),
            "{r:?}"
        );
    }
}
