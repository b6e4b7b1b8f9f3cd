//! Connector `labour-station`: a township labour station's register of residents working away
//! (乡镇劳动保障服务站 外出务工人员台账), a spreadsheet its clerk exports as CSV and a small file
//! server serves. Read only: the register is kept by hand.
//!
//! The system:
//! - `GET {base_url}/export/workers.csv` with `X-Station-Key: <station_key>`: the whole register,
//!   GB18030, header row `序号,姓名,性别,身份证号码,联系电话,务工省份,务工县区代码,务工单位,工种,状态,更新时间`;
//!   性别 男/女; 状态 在外务工 / 待业 / 已返乡 / 失联; 更新时间 as the spreadsheet writes it
//!   (`2024/5/3 14:20`, local time: China Standard Time unless the config says otherwise); 401
//!   for a wrong key.
//! - Rows have no id of their own (序号 changes when the clerk sorts): the identity number is the
//!   remote id.
//!
//! Config: `{"base_url": "http://station.example:8080", "township": "珉谷街道"}` (the station's
//! township, every row's 户籍乡镇), and optionally `"utc_offset": "+08:00"`: the zone of the
//! station computer's clock, which 更新时间 is written in (`Z`, `+08:00`, `-05:00`; China
//! Standard Time when absent). Set it before the first sync: the cursor compares change times as
//! text, in the offset they were read with. Secret: `station_key`.
//!
//! Reads: the export is fetched once per run and handed out in batches of `max`, oldest change
//! first; the cursor is a [`Keyset`] over 更新时间 (to the minute, so rows changed in the same
//! minute as the last one returned are not skipped on the next run, nor returned twice).

use hub_sdk::csv::{Encoding, Table};
use hub_sdk::normalise::date::{self, Offset};
use hub_sdk::normalise::{id_number, phone, text};
use hub_sdk::prelude::*;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::VecDeque;

const WORKERS: &str = "workers";
const COLUMNS: &[&str] = &[
    "姓名",
    "性别",
    "身份证号码",
    "联系电话",
    "务工省份",
    "务工县区代码",
    "务工单位",
    "工种",
    "状态",
    "更新时间",
];

/// A row ready to hand out: (change time RFC 3339, identity number, record in the schema's
/// shape).
type Ready = (String, String, serde_json::Value);

#[derive(Default)]
struct State {
    base_url: String,
    township: String,
    /// The zone 更新时间 is written in.
    utc_offset: Option<Offset>,
    /// The rest of this run's export, and the cursor the host passes to continue it.
    export: Option<(Option<String>, VecDeque<Ready>)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// One row as a `worker` record (the schema's shape), with its change time (RFC 3339, in the
/// offset `local` of the station's clock) and identity number.
///
/// A value the connector cannot map (an identity number that fails its check, a 性别 or 状态
/// it does not know) is passed through as the clerk typed it: the hub validates the record and
/// sends it to dead letters at that field's pointer, and the rest of the register syncs (a
/// `read` error would stop the stream on every run until the clerk fixed the row). A 更新时间
/// that is not a date and time gives the row the oldest change time there is
/// (1970-01-01T00:00:00 in `local`, logged with its line by [`LabourStation::read`]): it is
/// read once, then again when the clerk fixes the time.
pub fn row_to_worker(
    row: &std::collections::BTreeMap<&str, &str>,
    township: &str,
    local: Offset,
) -> Ready {
    let col = |k: &str| row.get(k).map(|v| text::trim(v)).unwrap_or("");
    let id = id_number::normalise(col("身份证号码"));
    let gender = match col("性别") {
        "男" => "male",
        "女" => "female",
        other => other,
    };
    let status = match col("状态") {
        "在外务工" => "employed",
        "待业" => "seeking",
        "已返乡" => "returned_home",
        "失联" => "lost_contact",
        other => other,
    };
    let changed = date::parse_date_time_in(col("更新时间"), local)
        .map(|t| t.to_string())
        .unwrap_or_else(|| format!("1970-01-01T00:00:00{local}"));
    let opt = |k: &str| text::non_empty(col(k));
    let workplace = opt("务工县区代码")
        .map(|code| serde_json::json!({"province": opt("务工省份"), "countyCode": code}));
    let record = serde_json::json!({
        "idNumber": id,
        "name": col("姓名"),
        "gender": gender,
        "phone": opt("联系电话").map(|p| phone::normalise(&p).unwrap_or(p)),
        "hometownTownship": text::non_empty(township),
        "workplace": workplace,
        "employer": opt("务工单位").map(|n| serde_json::json!({"name": n, "uscc": null})),
        "position": opt("工种"),
        "status": status,
    });
    (changed, id, record)
}

fn fetch() -> Result<Table, ConnectorError> {
    let url = STATE.with_borrow(|s| format!("{}/export/workers.csv", s.base_url));
    let resp = Request::get(url)
        .header("x-station-key", "{{secret:station_key}}")
        .send()?;
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
                schema_version: "1.0.1".into(),
                can_read: true,
                can_write: false,
                can_delete: false,
                max_write_batch: 0,
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
            utc_offset: Option<String>,
        }
        let c: Config = serde_json::from_str(&config)
            .map_err(|e| ConnectorError::Config(format!("config: {e}")))?;
        let utc_offset = Offset::from_config(c.utc_offset.as_deref())
            .map_err(|e| ConnectorError::Config(format!("config: {e}")))?;
        STATE.with_borrow_mut(|s| {
            *s = State {
                base_url: c.base_url.trim_end_matches('/').to_string(),
                township: c.township,
                utc_offset: Some(utc_offset),
                export: None,
            }
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
        let pending = STATE
            .with_borrow_mut(|s| s.export.take())
            .filter(|(expected, _)| *expected == cursor);
        let mut rows = match pending {
            Some((_, rows)) => rows,
            None => {
                let table = fetch()?;
                let (township, local) = STATE
                    .with_borrow(|s| (s.township.clone(), s.utc_offset.unwrap_or(Offset::CST)));
                let mut ready = Vec::new();
                for (i, row) in table.records().enumerate() {
                    let r = row_to_worker(&row, &township, local);
                    if date::parse_date_time_in(row.get("更新时间").copied().unwrap_or(""), local)
                        .is_none()
                    {
                        // Line numbers count the header as line 1.
                        hub_sdk::log::warn(&format!(
                            "export line {}: 更新时间 is not a date and time: read as the oldest change",
                            i + 2
                        ));
                    }
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
            let Some((changed, id, worker)) = rows.pop_front() else {
                break;
            };
            keyset.advance(&changed, &id);
            records.push(SourceRecord {
                data: worker.to_string(),
                remote_id: id,
                version: Some(changed.clone()),
                updated_at: Some(changed),
                deleted: false,
            });
        }
        let more = !rows.is_empty();
        // The export is read whole: what is left of it is exactly what waits.
        let remaining = Some(Remaining::exact(rows.len() as u64));
        let next = if records.is_empty() {
            cursor
        } else {
            Some(hub_sdk::cursor::encode(&keyset))
        };
        if more {
            STATE.with_borrow_mut(|s| s.export = Some((next.clone(), rows)));
        }
        Ok(Batch {
            records,
            cursor: next,
            more,
            remaining,
        })
    }

    fn write(
        stream: String,
        _records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        Err(ConnectorError::Unsupported(format!(
            "{stream}: the register is kept by hand; the hub only reads it"
        )))
    }
}

hub_sdk::export!(LabourStation);

#[cfg(test)]
mod tests {
    use super::*;
    use hub_sdk::records::Worker;

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
        let (changed, id, v) = row_to_worker(&row, "珉谷街道", Offset::CST);
        assert_eq!(changed, "2024-05-03T14:20:00+08:00");
        assert_eq!(id, "522325197806300045");
        // The shape the typed record accepts.
        serde_json::from_value::<Worker>(v.clone()).unwrap();
        assert_eq!(v["phone"], "13900005678");
        assert_eq!(
            v["workplace"],
            serde_json::json!({"province": "广东省", "countyCode": "441303"})
        );
        assert_eq!(
            v["employer"],
            serde_json::json!({"name": "惠州市某电子厂", "uscc": null})
        );
        assert_eq!(
            (v["gender"].as_str(), v["status"].as_str()),
            (Some("female"), Some("employed"))
        );
        assert_eq!(v["hometownTownship"], "珉谷街道");
    }

    #[test]
    fn what_cannot_be_mapped_is_passed_through_for_the_hub_to_dead_letter() {
        // 退休 is no 状态 the register knows; the check character of …0045 is 5, not 6; the
        // time is not one.
        let row = std::collections::BTreeMap::from([
            ("身份证号码", "522325197806300046"),
            ("性别", "女"),
            ("状态", "退休"),
            ("更新时间", "下午"),
        ]);
        let (changed, id, v) = row_to_worker(&row, "珉谷街道", Offset::CST);
        assert_eq!(
            (v["status"].as_str(), v["idNumber"].as_str()),
            (Some("退休"), Some("522325197806300046"))
        );
        assert_eq!(id, "522325197806300046");
        assert_eq!(changed, "1970-01-01T00:00:00+08:00");
    }

    #[test]
    fn change_times_are_in_the_zone_the_config_gives() {
        let row = std::collections::BTreeMap::from([
            ("姓名", "杨秀英"),
            ("性别", "女"),
            ("身份证号码", "522325197806300045"),
            ("状态", "在外务工"),
            ("更新时间", "2024/5/3 14:20"),
        ]);
        let at = |config: Option<&str>| {
            row_to_worker(&row, "珉谷街道", Offset::from_config(config).unwrap()).0
        };
        assert_eq!(at(None), "2024-05-03T14:20:00+08:00");
        assert_eq!(at(Some("+08:00")), "2024-05-03T14:20:00+08:00");
        assert_eq!(at(Some("Z")), "2024-05-03T14:20:00Z");
        assert_eq!(at(Some("-05:00")), "2024-05-03T14:20:00-05:00");
        assert!(
            matches!(LabourStation::open(r#"{"base_url": "http://s.test", "township": "珉谷街道", "utc_offset": "UTC+8"}"#.into()),
            Err(ConnectorError::Config(m)) if m == "config: utc_offset \"UTC+8\" is not an offset from UTC: write Z, +08:00 or -05:00")
        );
        assert!(
            LabourStation::open(
                r#"{"base_url": "http://s.test", "township": "珉谷街道", "utc_offset": "+00:00"}"#
                    .into()
            )
            .is_ok()
        );
        assert_eq!(STATE.with_borrow(|s| s.utc_offset), Some(Offset::UTC));
    }

    #[test]
    fn a_read_of_the_export_says_exactly_how_many_rows_are_left() {
        LabourStation::open(r#"{"base_url": "http://s.test", "township": "珉谷街道"}"#.into())
            .unwrap();
        // An export of 5 changed rows, read before (cursor None): no request is sent.
        let rows = (0..5)
            .map(|i| {
                (
                    format!("2024-05-03T14:2{i}:00+08:00"),
                    format!("id{i}"),
                    serde_json::json!({"n": i}),
                )
            })
            .collect();
        STATE.with_borrow_mut(|s| s.export = Some((None, rows)));
        let b = LabourStation::read(WORKERS.into(), None, 2).unwrap();
        assert_eq!((b.records.len(), b.more), (2, true));
        assert!(matches!(
            b.remaining,
            Some(Remaining {
                count: 3,
                exact: true
            })
        ));
        let b = LabourStation::read(WORKERS.into(), b.cursor, 10).unwrap();
        assert_eq!((b.records.len(), b.more), (3, false));
        assert!(matches!(
            b.remaining,
            Some(Remaining {
                count: 0,
                exact: true
            })
        ));
    }
}
