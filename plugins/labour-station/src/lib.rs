//! Connector `labour-station`: a township labour station's register of residents working away
//! (乡镇劳动保障服务站 外出务工人员台账), a spreadsheet its clerk exports as CSV and a small file
//! server serves. Read only: the register is kept by hand.
//!
//! The system:
//! - `GET {base_url}/export/workers.csv` with `X-Station-Key: <station_key>`: the whole register,
//!   GB18030, header row `序号,姓名,性别,身份证号码,联系电话,务工省份,务工县区代码,务工单位,工种,状态,更新时间`;
//!   性别 男/女; 状态 在外务工 / 待业 / 已返乡 / 失联; 更新时间 as the spreadsheet writes it
//!   (`2024/5/3 14:20`, local time, China Standard Time); 401 for a wrong key.
//! - Rows have no id of their own (序号 changes when the clerk sorts): the identity number is the
//!   remote id.
//!
//! Config: `{"base_url": "http://station.example:8080", "township": "珉谷街道"}` (the station's
//! township, every row's 户籍乡镇). Secret: `station_key`.
//!
//! Reads: the export is fetched once per run and handed out in batches of `max`, oldest change
//! first; the cursor is a [`Keyset`] over 更新时间 (to the minute, so rows changed in the same
//! minute as the last one returned are not skipped on the next run, nor returned twice).

use hub_sdk::csv::{Encoding, Table};
use hub_sdk::normalise::{date, id_number, phone, text};
use hub_sdk::prelude::*;
use hub_sdk::records::Worker;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::VecDeque;

const WORKERS: &str = "workers";
const COLUMNS: &[&str] = &["姓名", "性别", "身份证号码", "联系电话", "务工省份", "务工县区代码", "务工单位", "工种", "状态", "更新时间"];

/// A row ready to hand out: (change time RFC 3339, identity number, record).
type Ready = (String, String, Worker);

#[derive(Default)]
struct State {
    base_url: String,
    township: String,
    /// The rest of this run's export, and the cursor the host passes to continue it.
    export: Option<(Option<String>, VecDeque<Ready>)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// One row as a `worker` record, with its change time (RFC 3339, +08:00) and identity number;
/// `Err` names the column at fault.
pub fn row_to_worker(row: &std::collections::BTreeMap<&str, &str>, township: &str) -> Result<Ready, String> {
    let col = |k: &str| row.get(k).map(|v| text::trim(v)).unwrap_or("");
    let id = id_number::normalise(col("身份证号码"));
    id_number::validate(&id).map_err(|e| format!("身份证号码: {e}"))?;
    let gender = match col("性别") {
        "男" => "male",
        "女" => "female",
        other => return Err(format!("性别 {other:?} is neither 男 nor 女")),
    };
    let status = match col("状态") {
        "在外务工" => "employed",
        "待业" => "seeking",
        "已返乡" => "returned_home",
        "失联" => "lost_contact",
        other => return Err(format!("状态 {other:?} is not one of 在外务工, 待业, 已返乡, 失联")),
    };
    let changed = date::parse_date_time(col("更新时间")).ok_or_else(|| format!("更新时间 {:?} is not a date and time", col("更新时间")))?;
    let opt = |k: &str| text::non_empty(col(k));
    let workplace = opt("务工县区代码").map(|code| serde_json::json!({"province": opt("务工省份"), "countyCode": code}));
    let record = serde_json::json!({
        "idNumber": id,
        "name": col("姓名"),
        "gender": gender,
        "phone": opt("联系电话").and_then(|p| phone::normalise(&p)),
        "hometownTownship": text::non_empty(township),
        "workplace": workplace,
        "employer": opt("务工单位").map(|n| serde_json::json!({"name": n})),
        "position": opt("工种"),
        "status": status,
    });
    let worker: Worker = serde_json::from_value(record).map_err(|e| e.to_string())?;
    Ok((changed.to_string(), id, worker))
}

fn fetch() -> Result<Table, ConnectorError> {
    let url = STATE.with_borrow(|s| format!("{}/export/workers.csv", s.base_url));
    let resp = Request::get(url).header("x-station-key", "{{secret:station_key}}").send()?;
    if resp.status != 200 {
        return Err(resp.error("export"));
    }
    let table = resp.csv(Encoding::Gb18030)?;
    table.require(COLUMNS)?;
    Ok(table)
}

/// The connector.
pub struct LabourStation;

impl Guest for LabourStation {
    fn manifest() -> Manifest {
        Manifest {
            name: "labour-station".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: "Township labour station register (CSV export)".into(),
            streams: vec![StreamInfo {
                name: WORKERS.into(),
                schema: "worker".into(),
                schema_version: "1.0.0".into(),
                can_read: true,
                can_write: false,
            }],
            hosts: vec!["${base_url}".into()],
            secrets: vec!["station_key".into()],
        }
    }

    fn open(config: String) -> Result<(), ConnectorError> {
        #[derive(Deserialize)]
        struct Config {
            base_url: String,
            township: String,
        }
        let c: Config = serde_json::from_str(&config).map_err(|e| ConnectorError::Config(format!("config: {e}")))?;
        STATE.with_borrow_mut(|s| {
            *s = State { base_url: c.base_url.trim_end_matches('/').to_string(), township: c.township, export: None }
        });
        Ok(())
    }

    fn check() -> Result<(), ConnectorError> {
        fetch().map(|_| ())
    }

    fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
        if stream != WORKERS {
            return Err(ConnectorError::Unsupported(format!("no stream {stream:?}")));
        }
        let keyset: Keyset = hub_sdk::cursor::decode(cursor.as_deref())?.unwrap_or_default();
        let pending = STATE.with_borrow_mut(|s| s.export.take()).filter(|(expected, _)| *expected == cursor);
        let mut rows = match pending {
            Some((_, rows)) => rows,
            None => {
                let table = fetch()?;
                let township = STATE.with_borrow(|s| s.township.clone());
                let mut ready = Vec::new();
                for (i, row) in table.records().enumerate() {
                    // Line numbers count the header as line 1.
                    let r = row_to_worker(&row, &township)
                        .map_err(|e| ConnectorError::Permanent(format!("export line {}: {e}", i + 2)))?;
                    if keyset.admits(&r.0, &r.1) {
                        ready.push(r);
                    }
                }
                ready.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
                ready.into()
            }
        };
        let mut keyset = keyset;
        let mut records = Vec::new();
        while records.len() < max as usize {
            let Some((changed, id, worker)) = rows.pop_front() else { break };
            keyset.advance(&changed, &id);
            records.push(SourceRecord {
                data: to_json(&worker),
                remote_id: id,
                version: Some(changed.clone()),
                updated_at: Some(changed),
                deleted: false,
            });
        }
        let more = !rows.is_empty();
        let next = if records.is_empty() { cursor } else { Some(hub_sdk::cursor::encode(&keyset)) };
        if more {
            STATE.with_borrow_mut(|s| s.export = Some((next.clone(), rows)));
        }
        Ok(Batch { records, cursor: next, more })
    }

    fn write(stream: String, _records: Vec<TargetRecord>) -> Result<Vec<WriteResult>, ConnectorError> {
        Err(ConnectorError::Unsupported(format!("{stream}: the register is kept by hand; the hub only reads it")))
    }
}

hub_sdk::export!(LabourStation);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spreadsheet_row_becomes_a_canonical_worker() {
        let row = std::collections::BTreeMap::from([
            ("姓名", "杨秀英"),
            ("性别", "女"),
            // Full-width digits, as typed into a spreadsheet.
            ("身份证号码", "５２２３２５１９７８０６３０００４５"),
            ("联系电话", "139 0000 5678"),
            ("务工省份", "广东省"),
            ("务工县区代码", "441303"),
            ("务工单位", "惠州市某电子厂"),
            ("工种", "普工"),
            ("状态", "在外务工"),
            ("更新时间", "2024/5/3 14:20"),
        ]);
        let (changed, id, w) = row_to_worker(&row, "珉谷街道").unwrap();
        assert_eq!(changed, "2024-05-03T14:20:00+08:00");
        assert_eq!(id, "522325197806300045");
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(v["phone"], "13900005678");
        assert_eq!(v["workplace"], serde_json::json!({"province": "广东省", "countyCode": "441303"}));
        assert_eq!(v["employer"], serde_json::json!({"name": "惠州市某电子厂", "uscc": null}));
        assert_eq!((v["gender"].as_str(), v["status"].as_str()), (Some("female"), Some("employed")));
        assert_eq!(v["hometownTownship"], "珉谷街道");
    }

    #[test]
    fn an_unknown_status_names_the_column_and_value() {
        let row = std::collections::BTreeMap::from([("身份证号码", "522325197806300045"), ("性别", "女"), ("状态", "退休"), ("更新时间", "2024/5/3 14:20")]);
        assert_eq!(row_to_worker(&row, "珉谷街道").unwrap_err(), "状态 \"退休\" is not one of 在外务工, 待业, 已返乡, 失联");
    }
}
