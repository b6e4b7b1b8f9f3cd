//! Connector for the Huiyang District Employment Service Management System (HY-ESMS,
//! 惠阳区就业服务管理系统): REST/JSON with an API key, page-number paging, soft deletes.
//!
//! Config (JSON, from the deployment's `[plugins.huiyang-esms.config]`):
//! `{"base_url": "http://esms.example:8080", "province": "广东省", "division_code": "441303"}`.
//! Secret: `api_key` (sent as `X-Api-Key`). Streams and mappings: `zhenfeng-workers` (worker,
//! read and written; see [`mapping`]), `jobs` (job-posting with its enterprise, read only; see
//! [`jobs`]), `secondments` (secondment, read and written; see [`secondments`]).
//!
//! Every stream reads incrementally through one pager (`paging.rs`): `updatedSince` (inclusive)
//! as a keyset, page numbers within a second, and an overlap pass over a second that took more
//! than one page, so that a record moving out of that second while the connector pages does not
//! hide another. The same version of a record (id and `updatedAt`) is never returned twice in
//! one read.

pub mod jobs;
pub mod mapping;
mod paging;
pub mod secondments;

use hub_sdk::log;
use hub_sdk::prelude::*;
use mapping::Context;
use serde_json::Value;
use std::cell::RefCell;

const WORKERS: &str = "zhenfeng-workers";

#[derive(Default)]
struct State {
    base_url: String,
    ctx: Context,
    enterprises_loaded: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn base_url() -> String {
    STATE.with_borrow(|s| s.base_url.clone())
}

fn api(req: Request) -> Request {
    req.header("x-api-key", "{{secret:api_key}}").header("accept", "application/json")
}

/// The error for an answer that is not what the contract promises.
fn unexpected(what: &str, resp: &Response) -> ConnectorError {
    let msg = format!("{what}: HTTP {} {}", resp.status, resp.text().chars().take(200).collect::<String>());
    match resp.status {
        401 | 403 => ConnectorError::Auth(msg),
        429 | 500..=599 => ConnectorError::Transient(msg),
        _ => ConnectorError::Permanent(msg),
    }
}

#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    items: Vec<Value>,
}

fn get_page(collection: &str, since: Option<&str>, page: u32, size: u32) -> Result<Vec<Value>, ConnectorError> {
    let mut req = Request::get(format!("{}/api/v1/{collection}", base_url()))
        .query("page", &page.to_string())
        .query("size", &size.to_string());
    if let Some(since) = since {
        req = req.query("updatedSince", since);
    }
    let resp = api(req).send()?;
    if resp.status != 200 {
        return Err(unexpected(collection, &resp));
    }
    Ok(resp.json::<Page>(collection)?.items)
}

/// Loads HY's enterprise register once per run, for employer names.
fn ensure_enterprises() -> Result<(), ConnectorError> {
    if STATE.with_borrow(|s| s.enterprises_loaded) {
        return Ok(());
    }
    let mut ctx = STATE.with_borrow(|s| s.ctx.clone());
    for page in 1.. {
        let items = get_page("enterprises", None, page, 500)?;
        items.iter().for_each(|i| ctx.add_enterprise(i));
        if items.len() < 500 {
            break;
        }
    }
    log::debug(&format!("enterprise register: {} entries", ctx.name_by_uscc.len()));
    STATE.with_borrow_mut(|s| {
        s.ctx = ctx;
        s.enterprises_loaded = true;
    });
    Ok(())
}

fn ctx() -> Context {
    STATE.with_borrow(|s| s.ctx.clone())
}

fn updated_at(item: &Value) -> Option<String> {
    item.get("updatedAt").and_then(Value::as_str).map(str::to_string)
}

fn item_id(item: &Value) -> Option<i64> {
    item.get("id").and_then(Value::as_i64)
}

/// The connector (exported as the component's `connector` interface).
pub struct HuiyangEsms;

impl Guest for HuiyangEsms {
    fn manifest() -> Manifest {
        Manifest {
            name: "huiyang-esms".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: "Huiyang District Employment Service Management System (HY-ESMS)".into(),
            streams: vec![
                StreamInfo {
                    name: WORKERS.into(),
                    schema: "worker".into(),
                    schema_version: "1.0.1".into(),
                    can_read: true,
                    can_write: true,
                },
                StreamInfo {
                    name: jobs::JOBS.into(),
                    schema: "job-posting".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: false,
                },
                StreamInfo {
                    name: secondments::SECONDMENTS.into(),
                    schema: "secondment".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: true,
                },
            ],
            hosts: vec!["${base_url}".into()],
            secrets: vec!["api_key".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        let cfg: Value =
            serde_json::from_str(&config).map_err(|e| ConnectorError::Config(format!("config is not JSON: {e}")))?;
        let field = |k: &str| -> Result<String, ConnectorError> {
            cfg.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ConnectorError::Config(format!("{k} (string) is required")))
        };
        let state = State {
            base_url: field("base_url")?.trim_end_matches('/').to_string(),
            ctx: Context { province: field("province")?, division_code: field("division_code")?, ..Context::default() },
            ..State::default()
        };
        STATE.with_borrow_mut(|s| *s = state);
        Ok(())
    }

    fn check() -> Result<(), ConnectorError> {
        get_page(WORKERS, None, 1, 1).map(|_| ())
    }

    fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
        match stream.as_str() {
            WORKERS => {}
            jobs::JOBS => return jobs::read(cursor, max),
            secondments::SECONDMENTS => return secondments::read(cursor, max),
            _ => return Err(ConnectorError::Unsupported(format!("no stream {stream:?}"))),
        }
        ensure_enterprises()?;
        let ctx = ctx();
        paging::read(WORKERS, cursor, max, |item| mapping::item_to_record(item, &ctx))
    }

    fn write(stream: String, records: Vec<TargetRecord>) -> Result<Vec<WriteResult>, ConnectorError> {
        match stream.as_str() {
            WORKERS => {}
            secondments::SECONDMENTS => {
                return records.iter().enumerate().map(|(i, r)| hub_sdk::per_record(secondments::write_one(i, r))).collect();
            }
            _ => return Err(ConnectorError::Unsupported(format!("no stream {stream:?} to write"))),
        }
        ensure_enterprises()?;
        let ctx = ctx();
        records.iter().enumerate().map(|(i, r)| hub_sdk::per_record(write_one(i, r, &ctx))).collect()
    }
}

fn written(item: &Value, ctx: &Context) -> Result<Written, ConnectorError> {
    let id = item_id(item).ok_or_else(|| ConnectorError::Permanent("stored item has no id".into()))?;
    Ok(Written {
        remote_id: id.to_string(),
        version: updated_at(item),
        stored: Some(to_json(&mapping::item_to_record(item, ctx))),
    })
}

fn rejected(resp: &Response) -> WriteResult {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let error = body.get("error").and_then(Value::as_str).unwrap_or("refused");
    let field = body.get("field").and_then(Value::as_str);
    WriteResult::Rejected(Rejection {
        reason: format!("HTTP {} {error}{}", resp.status, field.map(|f| format!(" ({f})")).unwrap_or_default()),
        pointer: field.and_then(mapping::pointer_for_field),
    })
}

fn put(id: &str, item: &serde_json::Map<String, Value>, version: Option<&str>) -> Result<Response, ConnectorError> {
    let mut req = api(Request::put(format!("{}/api/v1/{WORKERS}/{id}", base_url()))).json(item);
    if let Some(v) = version {
        req = req.header("if-unmodified-since", v);
    }
    Ok(req.send()?)
}

fn write_one(index: usize, target: &TargetRecord, ctx: &Context) -> Result<WriteResult, ConnectorError> {
    let data = hub_sdk::json::parse_record(&target.data, index)?;
    let item = mapping::record_to_item(&data, ctx);
    if let (Some(id), Some(current)) = (&target.remote_id, &target.current) {
        let current = hub_sdk::json::parse_record(current, index)?;
        if mapping::record_to_item(&current, ctx) == item {
            return Ok(WriteResult::Unchanged(Written { remote_id: id.clone(), version: target.version.clone(), stored: None }));
        }
    }
    if let Some(id) = &target.remote_id {
        let resp = put(id, &item, target.version.as_deref())?;
        match resp.status {
            200 => return Ok(WriteResult::Updated(written(&resp.json("update")?, ctx)?)),
            412 => return Ok(WriteResult::Conflict(format!("HY record {id} changed since {}", target.version.as_deref().unwrap_or("?")))),
            404 => log::warn(&format!("HY record {id} not found; creating it again")),
            409 => return Ok(WriteResult::Rejected(Rejection { reason: "HY-ESMS: idNo belongs to another record".into(), pointer: Some("/idNumber".into()) })),
            400 | 422 => return Ok(rejected(&resp)),
            _ => return Err(unexpected("update", &resp)),
        }
    }
    let resp = api(Request::post(format!("{}/api/v1/{WORKERS}", base_url()))).json(&item).send()?;
    match resp.status {
        201 | 200 => Ok(WriteResult::Created(written(&resp.json("create")?, ctx)?)),
        409 => {
            // Registered already, as a record the hub has not read (entered meanwhile). It is
            // not overwritten: the next run reads it and merges it by the ownership rules.
            let body: Value = resp.json("duplicate").unwrap_or(Value::Null);
            let id = body.get("id").and_then(Value::as_i64).map(|i| i.to_string()).unwrap_or_else(|| "?".into());
            Ok(WriteResult::Conflict(format!("HY-ESMS already holds this idNo as record {id}, not yet read by the hub; not overwritten")))
        }
        400 | 422 => Ok(rejected(&resp)),
        _ => Err(unexpected("create", &resp)),
    }
}

impl hub_sdk::NormalForm for HuiyangEsms {
    /// Workers and secondments as HY-ESMS stores them ([`mapping::normal_form`],
    /// [`secondments::normal_form`]); worker employers are coded with the enterprise register
    /// this run has read (without it, an `Err`: the host then compares with what was sent).
    fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
        let map: fn(&hub_sdk::json::Record, &Context) -> hub_sdk::json::Record = match stream.as_str() {
            WORKERS if !STATE.with_borrow(|s| s.enterprises_loaded) => {
                return Err("the enterprise register is not read yet in this run".into());
            }
            WORKERS => mapping::normal_form,
            secondments::SECONDMENTS => |r, _| secondments::normal_form(r),
            _ => return Err(format!("no stream {stream:?} to write")),
        };
        let ctx = ctx();
        hub_sdk::normal_form_each(&records, |rec| map(rec, &ctx))
    }
}

hub_sdk::export!(HuiyangEsms with normal_form);
