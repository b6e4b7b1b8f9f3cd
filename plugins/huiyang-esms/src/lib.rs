//! Connector for the Huiyang District Employment Service Management System (HY-ESMS,
//! 惠阳区就业服务管理系统): REST/JSON with an API key, page-number paging, soft deletes.
//!
//! Config (JSON, from the deployment's `[plugins.huiyang-esms.config]`):
//! `{"base_url": "http://esms.example:8080", "province": "广东省", "division_code": "441303"}`.
//! Secret: `api_key` (sent as `X-Api-Key`). Streams and mappings: `zhenfeng-workers` (worker,
//! read and written; see [`mapping`]), `jobs` (job-posting with its enterprise, read only; see
//! [`jobs`]), `secondments` (secondment, read and written; see [`secondments`]), `referrals`
//! (referral, read only, for the hub's statistics; see [`referrals`]).
//!
//! Every stream reads incrementally through one pager (`paging.rs`): `updatedSince` (inclusive)
//! as a keyset, page numbers within a second, and an overlap pass over a second that took more
//! than one page, so that a record moving out of that second while the connector pages does not
//! hide another. The same version of a record (id and `updatedAt`) is never returned twice in
//! one read.
//!
//! Contract 0.2.0: every read says what waits after it (`remaining`, exact), from the page's
//! `total` (the items at or after `updatedSince`) less the pages read of it; a create of a worker
//! whose `idNo` HY-ESMS holds already (409 `{"error":"duplicate idNo","id":N}`) answers
//! `duplicate` with that id (HY-ESMS has no read by id, so nothing more); `zhenfeng-workers` and
//! `secondments` take native deletes: `DELETE /api/v1/{collection}/{id}` (with
//! `If-Unmodified-Since`), a soft delete answering 204, and a 404 (already gone) is `deleted`
//! too.

pub mod jobs;
pub mod mapping;
mod paging;
pub mod referrals;
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
    req.header("x-api-key", "{{secret:api_key}}")
        .header("accept", "application/json")
}

/// The error for an answer that is not what the contract promises.
fn unexpected(what: &str, resp: &Response) -> ConnectorError {
    let msg = format!(
        "{what}: HTTP {} {}",
        resp.status,
        resp.text().chars().take(200).collect::<String>()
    );
    match resp.status {
        401 | 403 => ConnectorError::Auth(msg),
        429 | 500..=599 => ConnectorError::Transient(msg),
        _ => ConnectorError::Permanent(msg),
    }
}

#[derive(serde::Deserialize)]
struct Page {
    /// Items at or after `updatedSince` in all (absent: not said).
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    items: Vec<Value>,
}

impl Page {
    /// What waits after page `page` of `size`: the `total` the answer gives less `page * size`.
    fn remaining(&self, page: u32, size: u32) -> Option<Remaining> {
        self.total
            .map(|total| Remaining::after_page(total, page, size))
    }
}

fn get_page(
    collection: &str,
    since: Option<&str>,
    page: u32,
    size: u32,
) -> Result<Vec<Value>, ConnectorError> {
    Ok(get_page_counted(collection, since, page, size)?.0)
}

/// A page of `collection` and what waits after it ([`Page::remaining`]).
fn get_page_counted(
    collection: &str,
    since: Option<&str>,
    page: u32,
    size: u32,
) -> Result<(Vec<Value>, Option<Remaining>), ConnectorError> {
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
    let p = resp.json::<Page>(collection)?;
    let remaining = p.remaining(page, size);
    Ok((p.items, remaining))
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
    log::debug(&format!(
        "enterprise register: {} entries",
        ctx.name_by_uscc.len()
    ));
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
    item.get("updatedAt")
        .and_then(Value::as_str)
        .map(str::to_string)
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
                    can_delete: true,
                    max_write_batch: 0,
                },
                StreamInfo {
                    name: jobs::JOBS.into(),
                    schema: "job-posting".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: false,
                    can_delete: false,
                    max_write_batch: 0,
                },
                StreamInfo {
                    name: secondments::SECONDMENTS.into(),
                    schema: "secondment".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: true,
                    can_delete: true,
                    max_write_batch: 0,
                },
                StreamInfo {
                    name: referrals::REFERRALS.into(),
                    schema: "referral".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: false,
                    can_delete: false,
                    max_write_batch: 0,
                },
            ],
            hosts: vec!["${base_url}".into()],
            secrets: vec!["api_key".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        let cfg: Value = serde_json::from_str(&config)
            .map_err(|e| ConnectorError::Config(format!("config is not JSON: {e}")))?;
        let field = |k: &str| -> Result<String, ConnectorError> {
            cfg.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ConnectorError::Config(format!("{k} (string) is required")))
        };
        let state = State {
            base_url: field("base_url")?.trim_end_matches('/').to_string(),
            ctx: Context {
                province: field("province")?,
                division_code: field("division_code")?,
                ..Context::default()
            },
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
            referrals::REFERRALS => return referrals::read(cursor, max),
            _ => return Err(ConnectorError::Unsupported(format!("no stream {stream:?}"))),
        }
        ensure_enterprises()?;
        let ctx = ctx();
        paging::read(WORKERS, cursor, max, |item| {
            mapping::item_to_record(item, &ctx)
        })
    }

    fn write(
        stream: String,
        records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        match stream.as_str() {
            WORKERS => {}
            secondments::SECONDMENTS => {
                return records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match r.is_delete() {
                        true => hub_sdk::per_record(delete_one(&stream, r)),
                        false => hub_sdk::per_record(secondments::write_one(i, r)),
                    })
                    .collect();
            }
            _ => {
                return Err(ConnectorError::Unsupported(format!(
                    "no stream {stream:?} to write"
                )));
            }
        }
        ensure_enterprises()?;
        let ctx = ctx();
        records
            .iter()
            .enumerate()
            .map(|(i, r)| match r.is_delete() {
                true => hub_sdk::per_record(delete_one(&stream, r)),
                false => hub_sdk::per_record(write_one(i, r, &ctx)),
            })
            .collect()
    }

    /// Workers and secondments as HY-ESMS stores them ([`mapping::normal_form`],
    /// [`secondments::normal_form`]); worker employers are coded with the enterprise register
    /// this run has read (without it, an `Err`: the host then compares with what was sent).
    fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
        let map: fn(&hub_sdk::json::Record, &Context) -> hub_sdk::json::Record =
            match stream.as_str() {
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

/// Ends a record of a writable `collection` natively: `DELETE /api/v1/{collection}/{id}` with
/// `If-Unmodified-Since` (the version the hub last saw), a soft delete answering 204. A 404 (no
/// such record) is `deleted` too; a 412 (changed since) `conflict`.
fn delete_one(collection: &str, target: &TargetRecord) -> Result<WriteResult, ConnectorError> {
    let Some(id) = &target.remote_id else {
        return Ok(WriteResult::Rejected(Rejection {
            reason: "a delete without the record's HY id".into(),
            pointer: None,
        }));
    };
    let mut req = api(Request::delete(format!(
        "{}/api/v1/{collection}/{id}",
        base_url()
    )));
    if let Some(v) = &target.version {
        req = req.header("if-unmodified-since", v);
    }
    deletion(&req.send()?, target)
}

/// The result of HY-ESMS's answer to a `DELETE`: 204 `deleted`, 404 `deleted` (already gone),
/// 412 `conflict`, 422 `rejected` (an `If-Unmodified-Since` it cannot read), 429 and 5xx
/// `retry`; anything else ends the call.
fn deletion(resp: &Response, target: &TargetRecord) -> Result<WriteResult, ConnectorError> {
    match resp.status {
        204 | 404 | 412 | 422 => resp.deletion("delete", target),
        408 | 429 | 500..=599 => Ok(WriteResult::Retry(format!("delete: HTTP {}", resp.status))),
        _ => Err(unexpected("delete", resp)),
    }
}

/// A create HY-ESMS refused with 409 `{"error":"duplicate idNo","id":N}`: it holds a worker of
/// that `idNo` already (soft-deleted ones included), as record `N`. Without an id in the
/// answer, a rejection of the `idNo`.
fn duplicate(resp: &Response) -> WriteResult {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    match body.get("id").and_then(Value::as_i64) {
        Some(id) => WriteResult::Duplicate(Existing::id(id.to_string())),
        None => WriteResult::Rejected(Rejection {
            reason: format!(
                "HY-ESMS: duplicate idNo, with no id in the answer: {}",
                resp.text()
            ),
            pointer: Some("/idNumber".into()),
        }),
    }
}

fn written(item: &Value, ctx: &Context) -> Result<Written, ConnectorError> {
    let id =
        item_id(item).ok_or_else(|| ConnectorError::Permanent("stored item has no id".into()))?;
    Ok(Written {
        remote_id: id.to_string(),
        version: updated_at(item),
        stored: Some(to_json(&mapping::item_to_record(item, ctx))),
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
        pointer: field.and_then(mapping::pointer_for_field),
    })
}

fn put(
    id: &str,
    item: &serde_json::Map<String, Value>,
    version: Option<&str>,
) -> Result<Response, ConnectorError> {
    let mut req = api(Request::put(format!(
        "{}/api/v1/{WORKERS}/{id}",
        base_url()
    )))
    .json(item);
    if let Some(v) = version {
        req = req.header("if-unmodified-since", v);
    }
    Ok(req.send()?)
}

fn write_one(
    index: usize,
    target: &TargetRecord,
    ctx: &Context,
) -> Result<WriteResult, ConnectorError> {
    let data = hub_sdk::json::parse_record(&target.data, index)?;
    let item = mapping::record_to_item(&data, ctx);
    if let (Some(id), Some(current)) = (&target.remote_id, &target.current) {
        let current = hub_sdk::json::parse_record(current, index)?;
        if mapping::record_to_item(&current, ctx) == item {
            return Ok(WriteResult::Unchanged(Written {
                remote_id: id.clone(),
                version: target.version.clone(),
                stored: None,
            }));
        }
    }
    if let Some(id) = &target.remote_id {
        let resp = put(id, &item, target.version.as_deref())?;
        match resp.status {
            200 => return Ok(WriteResult::Updated(written(&resp.json("update")?, ctx)?)),
            412 => {
                return Ok(WriteResult::Conflict(format!(
                    "HY record {id} changed since {}",
                    target.version.as_deref().unwrap_or("?")
                )));
            }
            404 => log::warn(&format!("HY record {id} not found; creating it again")),
            409 => {
                return Ok(WriteResult::Rejected(Rejection {
                    reason: "HY-ESMS: idNo belongs to another record".into(),
                    pointer: Some("/idNumber".into()),
                }));
            }
            400 | 422 => return Ok(rejected(&resp)),
            _ => return Err(unexpected("update", &resp)),
        }
    }
    let resp = api(Request::post(format!("{}/api/v1/{WORKERS}", base_url())))
        .json(&item)
        .send()?;
    match resp.status {
        201 | 200 => Ok(WriteResult::Created(written(&resp.json("create")?, ctx)?)),
        // Registered already, as a record the hub has not read (entered meanwhile): the host
        // links it and writes it again by id if the two differ.
        409 => Ok(duplicate(&resp)),
        400 | 422 => Ok(rejected(&resp)),
        _ => Err(unexpected("create", &resp)),
    }
}

hub_sdk::export!(HuiyangEsms);

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn delete_of(id: &str) -> TargetRecord {
        TargetRecord {
            op: WriteOp::Delete,
            data: "{}".into(),
            remote_id: Some(id.into()),
            version: None,
            current: None,
        }
    }

    #[test]
    fn a_page_says_what_waits_after_it_from_its_total() {
        let page: Page =
            serde_json::from_str(r#"{"total": 450, "page": 1, "size": 200, "items": []}"#).unwrap();
        assert!(matches!(
            page.remaining(1, 200),
            Some(Remaining {
                count: 250,
                exact: true
            })
        ));
        assert!(matches!(
            page.remaining(2, 200),
            Some(Remaining {
                count: 50,
                exact: true
            })
        ));
        // The last page, 50 of 450: nothing waits.
        assert!(matches!(
            page.remaining(3, 200),
            Some(Remaining {
                count: 0,
                exact: true
            })
        ));
        let unsaid: Page = serde_json::from_str(r#"{"items": []}"#).unwrap();
        assert!(unsaid.remaining(1, 200).is_none());
    }

    #[test]
    fn a_duplicate_id_no_on_create_is_a_duplicate_of_the_record_named() {
        let r = duplicate(&answer(409, r#"{"error":"duplicate idNo","id":1042}"#));
        assert!(
            matches!(r, WriteResult::Duplicate(Existing { remote_id, version: None, data: None }) if remote_id == "1042")
        );
        let r = duplicate(&answer(409, r#"{"error":"duplicate idNo"}"#));
        assert!(
            matches!(r, WriteResult::Rejected(Rejection { pointer: Some(p), .. }) if p == "/idNumber")
        );
    }

    #[test]
    fn a_soft_delete_and_a_record_already_gone_are_both_deleted() {
        let t = delete_of("77");
        for status in [204, 404] {
            let r = deletion(&answer(status, ""), &t).unwrap();
            assert!(
                matches!(r, WriteResult::Deleted(Written { remote_id, version: None, stored: None }) if remote_id == "77"),
                "{status}"
            );
        }
        assert!(matches!(
            deletion(&answer(412, r#"{"error":"precondition failed"}"#), &t),
            Ok(WriteResult::Conflict(_))
        ));
        assert!(matches!(
            deletion(&answer(429, ""), &t),
            Ok(WriteResult::Retry(_))
        ));
        assert!(matches!(
            deletion(&answer(401, ""), &t),
            Err(ConnectorError::Auth(_))
        ));
    }

    #[test]
    fn the_writable_streams_take_native_deletes_and_jobs_does_not() {
        let m = HuiyangEsms::manifest();
        let d: Vec<_> = m
            .streams
            .iter()
            .map(|s| (s.name.as_str(), s.can_delete, s.max_write_batch))
            .collect();
        assert_eq!(
            d,
            [
                (WORKERS, true, 0),
                (jobs::JOBS, false, 0),
                (secondments::SECONDMENTS, true, 0),
                (referrals::REFERRALS, false, 0)
            ]
        );
        let writable: Vec<_> = m
            .streams
            .iter()
            .filter(|s| s.can_write)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            writable,
            [WORKERS, secondments::SECONDMENTS],
            "referrals and jobs are read only"
        );
    }
}
