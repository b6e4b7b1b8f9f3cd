//! The `job-board` stream: the registry's board of vacancies from partner regions (招聘信息发布),
//! as `job-posting` records. Written by upsert on the partner's posting id (`wbbh`); read whole
//! (the board has no change filter) through `/api/job/list`.
//!
//! | job board | job-posting | notes |
//! |---|---|---|
//! | `id` | (remote id) | the board's own row id |
//! | `wbbh` | `identifier.value` | the partner's posting id, the natural key; `identifier.propertyID` is the partner system, `HY-ESMS` (the board's only partner) |
//! | `qymc`, `xydm` | `hiringOrganization.name`, `.uscc` | |
//! | `gwmc` | `title` | |
//! | `zprs` | `totalJobOpenings` | |
//! | `xzfw` | `baseSalary` | text: `4000-6000元/月` (a range), `4000元/月` (one figure), `4000元/月以上` (from), `6000元/月以下` (up to), `面议` (negotiable, no figure); see [`salary_text`] and [`parse_salary`] |
//! | `gzdd` | `jobLocation.address` | the board keeps no county code |
//! | `jzrq` | `validThrough` | |
//! | `zt` `1`/`0` | `status` `open`/`closed` | a posting Huiyang closes stays on the board, closed |
//! | `gxsj` | (version, cursor) | |
//!
//! The board does not keep `datePosted` or `qualifications`: a write reports the record as the
//! board stores it (without them), so the next read of it is not taken for a change.

use hub_sdk::json::Record;
use hub_sdk::normalise::{date, text, uscc};
use hub_sdk::prelude::*;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::VecDeque;

use crate::{Envelope, code, server_error, with_session};

/// The stream's name.
pub const JOB_BOARD: &str = "job-board";
/// The partner system the board's postings come from.
pub const PARTNER: &str = "HY-ESMS";

/// The salary text the board shows for a monthly range in yuan.
pub fn salary_text(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("{a}元/月"),
        (Some(a), Some(b)) => format!("{a}-{b}元/月"),
        (Some(a), None) => format!("{a}元/月以上"),
        (None, Some(b)) => format!("{b}元/月以下"),
        (None, None) => "面议".to_string(),
    }
}

/// The monthly range in a salary text, `(min, max)`; `None` for 面议 (negotiable), an empty text
/// or a text that gives no monthly figure in yuan. Full-width digits, blanks and the
/// separators `-`, `~`, `～`, `—`, `至` are accepted.
pub fn parse_salary(raw: &str) -> Option<(Option<i64>, Option<i64>)> {
    let s: String = text::to_half_width(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (body, above, below) = if let Some(b) = s.strip_suffix("以上") {
        (b, true, false)
    } else if let Some(b) = s.strip_suffix("以下") {
        (b, false, true)
    } else {
        (s.as_str(), false, false)
    };
    let body = body
        .strip_suffix("元/月")
        .or_else(|| body.strip_suffix("元每月"))?;
    let number = |t: &str| t.parse::<i64>().ok();
    let parts: Vec<&str> = body.split(['-', '~', '～', '—', '至']).collect();
    match (parts.as_slice(), above, below) {
        ([one], true, false) => Some((Some(number(one)?), None)),
        ([one], false, true) => Some((None, Some(number(one)?))),
        ([one], false, false) => number(one).map(|n| (Some(n), Some(n))),
        ([a, b], false, false) => Some((Some(number(a)?), Some(number(b)?))),
        _ => None,
    }
}

fn ptr<'a>(r: &'a Record, p: &str) -> Option<&'a Value> {
    let mut it = p.split('/').skip(1);
    let first = r.get(it.next()?)?;
    it.try_fold(first, |v, k| v.get(k)).filter(|v| !v.is_null())
}

fn ptr_str(r: &Record, p: &str) -> String {
    ptr(r, p).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The board's save form for a record (without `token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobForm(pub Vec<(&'static str, String)>);

impl JobForm {
    /// The form fields for a `job-posting` record.
    pub fn from_record(r: &Record) -> JobForm {
        let pay = |k: &str| ptr(r, &format!("/baseSalary/value/{k}")).and_then(Value::as_i64);
        let salary = match ptr(r, "/baseSalary") {
            Some(_) => salary_text(pay("minValue"), pay("maxValue")),
            None => salary_text(None, None),
        };
        let openings = ptr(r, "/totalJobOpenings")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let status = match ptr_str(r, "/status").as_str() {
            "closed" => "0",
            _ => "1",
        };
        JobForm(vec![
            ("wbbh", ptr_str(r, "/identifier/value")),
            ("qymc", ptr_str(r, "/hiringOrganization/name")),
            ("xydm", ptr_str(r, "/hiringOrganization/uscc")),
            ("gwmc", ptr_str(r, "/title")),
            ("zprs", openings),
            ("xzfw", salary),
            ("gzdd", ptr_str(r, "/jobLocation/address")),
            ("jzrq", ptr_str(r, "/validThrough")),
            ("zt", status.to_string()),
        ])
    }

    /// The value of field `k` (empty when absent).
    pub fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The form as a board row shows it (`zprs` a number).
    fn as_row(&self) -> Value {
        let mut row = serde_json::Map::new();
        for (k, v) in &self.0 {
            let v = if *k == "zprs" {
                v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n))
            } else {
                json!(v)
            };
            row.insert((*k).to_string(), v);
        }
        Value::Object(row)
    }
}

/// A board row as a `job-posting` record.
pub fn row_to_record(row: &Value) -> Record {
    let s = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("");
    let mut r = Record::new();
    r.insert(
        "identifier".into(),
        json!({ "propertyID": PARTNER, "value": text::trim(s("wbbh")) }),
    );
    r.insert("title".into(), json!(text::trim(s("gwmc"))));
    r.insert(
        "hiringOrganization".into(),
        json!({ "name": text::trim(s("qymc")), "uscc": uscc::normalise(s("xydm")) }),
    );
    let openings = match row.get("zprs") {
        Some(Value::String(t)) => t
            .trim()
            .parse::<i64>()
            .map_or_else(|_| json!(t), |n| json!(n)),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    r.insert("totalJobOpenings".into(), openings);
    r.insert(
        "baseSalary".into(),
        match parse_salary(s("xzfw")) {
            Some((min, max)) => {
                json!({ "currency": "CNY", "value": { "minValue": min, "maxValue": max, "unitText": "MONTH" } })
            }
            None => Value::Null,
        },
    );
    r.insert(
        "jobLocation".into(),
        text::non_empty(s("gzdd")).map_or(Value::Null, |a| json!({ "address": a })),
    );
    r.insert(
        "validThrough".into(),
        json!(date::normalise(text::trim(s("jzrq")))),
    );
    let status = match text::trim(s("zt")) {
        "1" => "open",
        "0" => "closed",
        other => other,
    };
    r.insert("status".into(), json!(status));
    r
}

/// A `job-posting` record as the board stores it and a later read returns it: through the save
/// form and back (the board keeps no posting date, qualifications or county code; pay as the
/// text of a range). What `write` hands back as `stored`, without calling the board.
pub fn normal_form(r: &Record) -> Record {
    row_to_record(&JobForm::from_record(r).as_row())
}

/// The JSON pointer for a form field named in a 40001 message, e.g. `招聘人数(zprs)应为非负整数`.
pub fn pointer_for_message(msg: &str) -> Option<String> {
    let field = msg.split_once('(')?.1.split_once(')')?.0;
    let p = match field {
        "wbbh" => "/identifier/value",
        "qymc" => "/hiringOrganization/name",
        "xydm" => "/hiringOrganization/uscc",
        "gwmc" => "/title",
        "zprs" => "/totalJobOpenings",
        "xzfw" => "/baseSalary",
        "gzdd" => "/jobLocation/address",
        "jzrq" => "/validThrough",
        "zt" => "/status",
        _ => return None,
    };
    Some(p.to_string())
}

thread_local! {
    /// The rest of the board being read, and the cursor the host passes to continue it.
    static BOARD: RefCell<Option<(Option<String>, VecDeque<SourceRecord>)>> = const { RefCell::new(None) };
}

fn list_page(page: u32) -> Result<(u64, Vec<Value>), ConnectorError> {
    let url = format!("{}/api/job/list", crate::base_url());
    let resp = with_session(|token| {
        Request::get(url.clone())
            .query("token", token)
            .query("page", &page.to_string())
            .query("rows", "1000")
    })?;
    if !resp.is_success() {
        return Err(server_error("job list", &resp));
    }
    let env: Envelope = resp.json("job list")?;
    if env.code != code::OK {
        return Err(ConnectorError::Permanent(format!(
            "job list refused: code {} {}",
            env.code, env.msg
        )));
    }
    let total = env.data.get("total").and_then(Value::as_u64).unwrap_or(0);
    let rows = env
        .data
        .get("rows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok((total, rows))
}

/// Reads the board: every row changed at or after `cursor` (its `gxsj`), in chunks of `max`.
pub(crate) fn read(cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
    let continuing = BOARD.with_borrow(|b| matches!(b, Some((c, _)) if *c == cursor));
    if !continuing {
        let mut rows = Vec::new();
        for page in 1.. {
            let (total, got) = list_page(page)?;
            let n = got.len();
            rows.extend(got);
            if n == 0 || rows.len() as u64 >= total {
                break;
            }
        }
        let gxsj = |r: &Value| {
            r.get("gxsj")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        rows.retain(|r| cursor.as_deref().is_none_or(|c| gxsj(r).as_str() >= c));
        rows.sort_by_key(gxsj);
        let records = rows
            .iter()
            .map(|row| SourceRecord {
                data: to_json(&row_to_record(row)),
                remote_id: row.get("id").map(|v| v.to_string()).unwrap_or_default(),
                version: Some(gxsj(row)),
                updated_at: None,
                deleted: false,
            })
            .collect();
        BOARD.with_borrow_mut(|b| *b = Some((cursor.clone(), records)));
    }
    BOARD.with_borrow_mut(|b| {
        let (expected, rows) = b.as_mut().expect("loaded above");
        let n = rows.len().min(max.max(1) as usize);
        let records: Vec<SourceRecord> = rows.drain(..n).collect();
        let next = records.last().and_then(|r| r.version.clone()).or(cursor);
        *expected = next.clone();
        // The board is read whole (every page, until the list's `total`): what is left of it is
        // exactly what waits.
        Ok(Batch {
            records,
            cursor: next,
            more: !rows.is_empty(),
            remaining: Some(Remaining::exact(rows.len() as u64)),
        })
    })
}

/// Saves one posting (an upsert on `wbbh`).
pub(crate) fn write_one(
    index: usize,
    target: &TargetRecord,
) -> Result<WriteResult, ConnectorError> {
    let data = hub_sdk::json::parse_record(&target.data, index)?;
    let form = JobForm::from_record(&data);
    if let (Some(id), Some(current)) = (&target.remote_id, &target.current) {
        let current = hub_sdk::json::parse_record(current, index)?;
        if JobForm::from_record(&current) == form {
            return Ok(WriteResult::Unchanged(Written {
                remote_id: id.clone(),
                version: target.version.clone(),
                stored: None,
            }));
        }
    }
    let url = format!("{}/api/job/save", crate::base_url());
    let resp = with_session(|token| {
        let mut pairs: Vec<(&str, &str)> = vec![("token", token)];
        pairs.extend(form.0.iter().map(|(k, v)| (*k, v.as_str())));
        Request::post(url.clone()).form(&pairs)
    })?;
    if !resp.is_success() {
        return Err(server_error("job save", &resp));
    }
    let env: Envelope = resp.json("job save")?;
    Ok(match env.code {
        code::OK => {
            let Some(id) = env.data.get("id").map(|v| v.to_string()) else {
                return Ok(WriteResult::Retry(
                    "job save answered without data.id".into(),
                ));
            };
            let written = Written {
                remote_id: id,
                version: None,
                stored: Some(to_json(&normal_form(&data))),
            };
            if target.remote_id.is_some() {
                WriteResult::Updated(written)
            } else {
                WriteResult::Created(written)
            }
        }
        code::BAD_PARAMETER => WriteResult::Rejected(Rejection {
            pointer: pointer_for_message(&env.msg),
            reason: format!("{} {}", env.code, env.msg),
        }),
        c if c >= 50000 => WriteResult::Retry(format!("{c} {}", env.msg)),
        c => WriteResult::Rejected(Rejection {
            reason: format!("{c} {}", env.msg),
            pointer: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_of_the_board_say_exactly_how_many_postings_are_left() {
        // A board of 5 postings read before (cursor None): no request is sent.
        let rows = (0..5)
            .map(|i| SourceRecord {
                data: "{}".into(),
                remote_id: i.to_string(),
                version: Some(format!("2024-05-0{} 10:00:00", i + 1)),
                updated_at: None,
                deleted: false,
            })
            .collect();
        BOARD.with_borrow_mut(|b| *b = Some((None, rows)));
        let b = read(None, 2).unwrap();
        assert_eq!((b.records.len(), b.more), (2, true));
        assert!(matches!(
            b.remaining,
            Some(Remaining {
                count: 3,
                exact: true
            })
        ));
        let b = read(b.cursor, 10).unwrap();
        assert_eq!((b.records.len(), b.more), (3, false));
        assert!(matches!(
            b.remaining,
            Some(Remaining {
                count: 0,
                exact: true
            })
        ));
    }

    #[test]
    fn salary_texts_read_back_as_the_range_they_were_written_from() {
        for (min, max, text) in [
            (Some(4000), Some(6000), "4000-6000元/月"),
            (Some(5000), Some(5000), "5000元/月"),
            (Some(4500), None, "4500元/月以上"),
            (None, Some(7000), "7000元/月以下"),
        ] {
            assert_eq!(salary_text(min, max), text);
            assert_eq!(parse_salary(text), Some((min, max)), "{text}");
        }
        assert_eq!(salary_text(None, None), "面议");
        assert_eq!(parse_salary("面议"), None);
        assert_eq!(
            parse_salary("４０００～６０００ 元/月"),
            Some((Some(4000), Some(6000)))
        );
        assert_eq!(parse_salary("4000-6000元/年"), None);
    }

    #[test]
    fn a_posting_becomes_the_board_form_and_the_stored_row_reads_back_without_what_the_board_lacks()
    {
        let r: Record = serde_json::from_value(json!({
            "identifier": {"propertyID": "HY-ESMS", "value": "42"}, "title": "普工",
            "hiringOrganization": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
            "baseSalary": {"currency": "CNY", "value": {"minValue": 4000, "maxValue": 6000, "unitText": "MONTH"}},
            "jobLocation": {"address": "惠阳区淡水街道", "countyCode": "441303"}, "datePosted": "2021-08-05",
            "validThrough": "2021-11-03", "totalJobOpenings": 120, "qualifications": "18-45周岁", "status": "closed"
        }))
        .unwrap();
        let form = JobForm::from_record(&r);
        assert_eq!(form.get("xzfw"), "4000-6000元/月");
        assert_eq!(form.get("zprs"), "120");
        assert_eq!(form.get("zt"), "0");
        let back = row_to_record(&form.as_row());
        assert_eq!(normal_form(&r), back);
        let mut expected = r.clone();
        expected.remove("datePosted");
        expected.remove("qualifications");
        expected.insert("jobLocation".into(), json!({"address": "惠阳区淡水街道"}));
        assert_eq!(back, expected);
    }

    #[test]
    fn field_names_in_40001_messages_become_pointers() {
        assert_eq!(
            pointer_for_message("招聘人数(zprs)应为非负整数").as_deref(),
            Some("/totalJobOpenings")
        );
        assert_eq!(pointer_for_message("登录已过期"), None);
    }
}
