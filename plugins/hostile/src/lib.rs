//! A connector that attacks the host, for the sandbox's tests (hub/tests/sandbox.rs). It
//! declares the secret `token` and no origin (the tests grant one); it reaches no system of
//! its own.
//!
//! Config `{"mode": "...", ...}`; the stream `records` carries `worker` records. `read`
//! returns one worker (whose `remark` reports what the attack got) or fails:
//!
//! | mode | `read` does |
//! |---|---|
//! | `secret-echo` | sends `{{secret:token}}` to `echo` and returns what came back, in `remark`, and logs it |
//! | `request` | sends one request as the config gives it (`method`, `url`, `headers` object, `body`) through the host's raw interface; `remark` holds the status, every response header and the body, or the host's error |
//! | `open-bodies` | opens `n` streaming responses of `url` and keeps every one (never drops them); `remark` says how many opened and the first error |
//! | `log-forge` | logs `message` at info |
//! | `huge-updated-at` | gives the worker an `updated-at` of 20 MiB |
//!
//! `write` answers `created` for every record, with what the config's `written` asks:
//! `huge-id` (a remote id of 20 MiB), `huge-version` (a version of 10 MiB), `huge-stored` (a
//! stored record of 10 MiB), `bad-stored` (a stored record whose identity number breaks its
//! GB 11643-1999 check character), `control-id` (the remote id `"\u{1b}[2J\0evil\nline"`);
//! otherwise the record's position in the batch as its id.

use hub_sdk::bindings::hub::connector::host;
use hub_sdk::http::{StreamingResponse, describe};
use hub_sdk::log;
use hub_sdk::prelude::*;
use serde_json::{Value, json};
use std::cell::RefCell;

thread_local! {
    static CONFIG: RefCell<Value> = const { RefCell::new(Value::Null) };
    /// Bodies `open-bodies` keeps open for the instance's life.
    static KEPT: RefCell<Vec<StreamingResponse>> = const { RefCell::new(Vec::new()) };
}

fn text(key: &str) -> String {
    CONFIG.with_borrow(|c| {
        c.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    })
}

/// A valid worker: 王芳, identity number 11010519491231002X (check character X).
fn worker(remark: &str) -> SourceRecord {
    let w = json!({
        "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
        "hometownTownship": "珉谷街道", "workplace": {"province": "广东省", "countyCode": "441303"},
        "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": null}, "position": "普工", "status": "employed",
        "remark": remark
    });
    SourceRecord {
        data: w.to_string(),
        remote_id: "1".into(),
        version: None,
        updated_at: None,
        deleted: false,
    }
}

/// One request through the host's raw interface (any method, any header).
fn raw_request() -> String {
    let headers = CONFIG
        .with_borrow(|c| c.get("headers").and_then(Value::as_object).cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    let req = host::Request {
        method: text("method"),
        url: text("url"),
        headers,
        body: text("body").into_bytes(),
    };
    match host::send(&req) {
        Ok(r) => {
            let headers: Vec<String> = r.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!(
                "status {} | headers {} | body {}",
                r.status,
                headers.join("; "),
                String::from_utf8_lossy(&r.body)
            )
        }
        Err(e) => format!("error {}", describe(&e)),
    }
}

/// Opens up to `n` streaming responses and keeps them.
fn open_bodies() -> String {
    let n = CONFIG
        .with_borrow(|c| c.get("n").and_then(Value::as_u64))
        .unwrap_or(100);
    let mut opened = 0;
    for _ in 0..n {
        match Request::get(text("url")).send_streaming() {
            Ok(r) => {
                KEPT.with_borrow_mut(|k| k.push(r));
                opened += 1;
            }
            Err(e) => return format!("opened {opened} | {}", describe(&e)),
        }
    }
    format!("opened {opened}")
}

/// What `write` says it wrote for record `i` (`data`), as the config's `written` asks.
fn written(i: usize, data: &str) -> Written {
    let mut w = Written::id(i.to_string());
    match text("written").as_str() {
        "huge-id" => w.remote_id = "i".repeat(20 << 20),
        "huge-version" => w.version = Some("v".repeat(10 << 20)),
        "huge-stored" => w.stored = Some(format!("{{\"x\":\"{}\"}}", "s".repeat(10 << 20))),
        "bad-stored" => {
            let mut v: Value = serde_json::from_str(data).unwrap_or_default();
            // 11010519491231002X is valid; with 0 as its check character it is not.
            v["idNumber"] = json!("110105194912310020");
            w.stored = Some(v.to_string());
        }
        "control-id" => w.remote_id = "\u{1b}[2J\0evil\nline".into(),
        _ => {}
    }
    w
}

/// The connector.
pub struct Hostile;

impl Guest for Hostile {
    fn manifest() -> Manifest {
        Manifest {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: "none (the sandbox's tests)".into(),
            streams: vec![StreamInfo {
                name: "records".into(),
                schema: "worker".into(),
                schema_version: "1.0.1".into(),
                can_read: true,
                can_write: true,
                can_delete: false,
                max_write_batch: 0,
            }],
            hosts: vec![],
            secrets: vec!["token".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        let v: Value = serde_json::from_str(&config)
            .map_err(|e| ConnectorError::Config(format!("config: {e}")))?;
        CONFIG.with_borrow_mut(|c| *c = v);
        Ok(())
    }

    fn check() -> Result<(), ConnectorError> {
        Ok(())
    }

    fn read(_stream: String, cursor: Option<String>, _max: u32) -> Result<Batch, ConnectorError> {
        if cursor.is_some() {
            return Ok(Batch {
                records: vec![],
                cursor,
                more: false,
                remaining: None,
            });
        }
        let record = match text("mode").as_str() {
            "secret-echo" => {
                let resp = Request::get(text("echo"))
                    .header("x-token", "{{secret:token}}")
                    .send()?;
                let seen = resp.text();
                log::info(&format!("the echo said: {seen}"));
                worker(&format!("{seen} | env: {}", std::env::vars().count()))
            }
            "request" => worker(&raw_request()),
            "open-bodies" => worker(&open_bodies()),
            "log-forge" => {
                log::info(&text("message"));
                worker("")
            }
            "huge-updated-at" => {
                let mut r = worker("");
                r.updated_at = Some(format!("2026-12-04T00:00:00+08:00{}", " ".repeat(20 << 20)));
                r
            }
            _ => worker(""),
        };
        Ok(Batch {
            records: vec![record],
            cursor: Some("done".into()),
            more: false,
            remaining: None,
        })
    }

    fn write(
        _stream: String,
        records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        Ok(records
            .iter()
            .enumerate()
            .map(|(i, r)| WriteResult::Created(written(i, &r.data)))
            .collect())
    }
}

hub_sdk::export!(Hostile);
