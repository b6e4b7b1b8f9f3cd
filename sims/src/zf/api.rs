//! ZF-REG's API: `/login`, `/export/workers.csv`, `/api/worker/save`, `/api/job/list`,
//! `/api/job/save`. Every answer the system itself gives is HTTP 200; failures carry a non-zero
//! `code` and a Chinese `msg`.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::ZfState;
use super::store::{JobPost, Resident, col};
use crate::clock;
use crate::counters::Outcome;
use crate::gate::lock;
use crate::seed::COLUMNS;

/// Success codes and error codes of the registry.
mod code {
    pub(super) const BAD_PARAMETER: i64 = 40001;
    pub(super) const BAD_CREDENTIALS: i64 = 40100;
    pub(super) const SESSION_EXPIRED: i64 = 40101;
    pub(super) const MODIFIED: i64 = 40901;
    pub(super) const ALREADY_REGISTERED: i64 = 40902;
    pub(super) const INTERNAL: i64 = 50000;
}

/// The registry's answer: `{"code", "msg"[, "data"]}`, always HTTP 200.
#[derive(Serialize)]
struct Envelope<T> {
    code: i64,
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
}

/// `{"code":0,"msg":"成功","data":…}`.
fn ok(data: impl Serialize) -> Response {
    Json(Envelope {
        code: 0,
        msg: "成功".into(),
        data: Some(data),
    })
    .into_response()
}

/// `{"code":…,"msg":…}`.
fn fail(code: i64, msg: impl Into<String>) -> Response {
    Json(Envelope::<()> {
        code,
        msg: msg.into(),
        data: None,
    })
    .into_response()
}

/// 40902 with the 登记编号 already holding the identity number.
fn already_registered(djbh: &str) -> Response {
    let data = json!({ "djbh": djbh });
    Json(Envelope {
        code: code::ALREADY_REGISTERED,
        msg: "身份证号已登记".into(),
        data: Some(data),
    })
    .into_response()
}

fn expired() -> Response {
    fail(code::SESSION_EXPIRED, "登录已过期")
}

fn bad_parameter(msg: impl std::fmt::Display) -> Response {
    fail(code::BAD_PARAMETER, format!("参数错误：{msg}"))
}

/// Request parameters from the query string and, for posts, the form body (the form wins).
struct Params(Vec<(String, String)>);

impl Params {
    fn new(query: Vec<(String, String)>, form: Option<Vec<(String, String)>>) -> Params {
        let mut all = form.unwrap_or_default();
        all.extend(query);
        Params(all)
    }

    /// The first value given, if any.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value, or empty text when absent (an absent form field saves as empty).
    fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }
}

/// The form body, or the 40001 answer for a body that is not a form.
fn form(
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Vec<(String, String)>, Response> {
    form.map(|Form(f)| f)
        .map_err(|_| bad_parameter("请求须为 application/x-www-form-urlencoded 表单"))
}

/// `POST /login` form `username`, `password` → `{"code":0,"msg":"成功","data":{"token",
/// "expiresIn"}}` (seconds); wrong credentials → 40100.
pub(super) async fn login(
    State(st): State<Arc<ZfState>>,
    Query(query): Query<Vec<(String, String)>>,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let p = match form(body) {
        Ok(f) => Params::new(query, Some(f)),
        Err(resp) => return resp,
    };
    let (Some(username), Some(password)) = (p.get("username"), p.get("password")) else {
        return bad_parameter("缺少 username 或 password");
    };
    if username != st.username || password != st.password {
        return fail(code::BAD_CREDENTIALS, "用户名或密码错误");
    }
    ok(json!({"token": st.open_session(), "expiresIn": st.session_ttl.as_secs()}))
}

/// `GET /export/workers.csv?token=&since=yyyy-MM-dd HH:mm:ss` → GB18030 CSV (CRLF, Chinese
/// header) of every resident whose 更新时间 is at or after `since` (all if absent), ordered by
/// 更新时间 then 登记编号, values as stored.
pub(super) async fn export(
    State(st): State<Arc<ZfState>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let p = Params::new(query, None);
    if !st.authenticate(p.get("token")) {
        return expired();
    }
    let since = match p.get("since").filter(|s| !s.is_empty()) {
        None => i64::MIN,
        Some(s) => match clock::parse_local_datetime(s) {
            Some(t) => t,
            None => return bad_parameter("since 格式应为 yyyy-MM-dd HH:mm:ss"),
        },
    };
    let csv = {
        let data = lock(&st.data);
        let mut rows: Vec<&Resident> = data.residents().filter(|r| r.updated >= since).collect();
        rows.sort_by(|a, b| (a.updated, a.djbh()).cmp(&(b.updated, b.djbh())));
        write_csv(rows.iter().map(|r| &r.cols))
    };
    match csv {
        Ok(text) => {
            let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=GB18030"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=workers.csv",
                    ),
                ],
                bytes.into_owned(),
            )
                .into_response()
        }
        Err(_) => fail(code::INTERNAL, "系统内部错误"),
    }
}

/// The header row and the rows, RFC 4180 quoting where needed, CRLF line ends.
fn write_csv<'a>(rows: impl Iterator<Item = &'a [String; 14]>) -> anyhow::Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for row in rows {
        w.write_record(row)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `POST /api/worker/save`: creates (empty `djbh`) or updates a resident. See the crate
/// documentation for the codes.
pub(super) async fn save_worker(
    State(st): State<Arc<ZfState>>,
    Query(query): Query<Vec<(String, String)>>,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let p = match form(body) {
        Ok(f) => Params::new(query, Some(f)),
        Err(resp) => return resp,
    };
    if !st.authenticate(p.get("token")) {
        return expired();
    }
    let count = |outcome| lock(&st.gate.counters).record("workers", outcome);
    let gxsj = match check_worker(&p) {
        Ok(gxsj) => gxsj,
        Err(msg) => {
            count(Outcome::Rejected);
            return bad_parameter(msg);
        }
    };
    let xb = if p.get("xb") == Some("1") {
        "男"
    } else {
        "女"
    };
    let sfzh = p.text("sfzh");
    let key = hub_schemas::id_number::normalise(&sfzh);
    let djbh = p.text("djbh");

    let mut data = lock(&st.data);
    if djbh.is_empty() {
        if let Some(existing) = data.holder(&key, None) {
            let existing = existing.to_string();
            count(Outcome::DuplicateRefused);
            return already_registered(&existing);
        }
        let now = data.clock.now();
        let djbh = data.next_djbh(now);
        let cols = worker_columns(&p, djbh.clone(), sfzh, xb, clock::local_date(now), now);
        data.insert(Resident { cols, updated: now });
        lock(&st.gate.counters).created("workers", key);
        return ok(json!({"djbh": djbh}));
    }

    let Some(current) = data.resident(&djbh) else {
        count(Outcome::NotFound);
        return bad_parameter(format!("登记编号(djbh) {djbh} 不存在"));
    };
    if gxsj.is_some_and(|seen| current.updated > seen) {
        count(Outcome::Conflict);
        return fail(code::MODIFIED, "数据已被修改");
    }
    let djrq = current.cols[col::DJRQ].clone();
    if let Some(other) = data.holder(&key, Some(&djbh)) {
        let other = other.to_string();
        count(Outcome::DuplicateRefused);
        return already_registered(&other);
    }
    let now = data.clock.now();
    let cols = worker_columns(&p, djbh.clone(), sfzh, xb, djrq, now);
    data.insert(Resident { cols, updated: now });
    count(Outcome::Updated);
    ok(json!({"djbh": djbh}))
}

/// Validates a save form; returns `gxsj` (Unix seconds) if one was given.
fn check_worker(p: &Params) -> Result<Option<i64>, String> {
    if p.get("xm").is_none_or(|s| s.trim().is_empty()) {
        return Err("姓名(xm)不能为空".into());
    }
    if !p
        .get("sfzh")
        .is_some_and(|s| matches!(s.chars().count(), 15 | 18))
    {
        return Err("身份证号(sfzh)应为15位或18位".into());
    }
    if !matches!(p.get("xb"), Some("1" | "2")) {
        return Err("性别(xb)应为1(男)或2(女)".into());
    }
    if !matches!(p.get("wgzt"), Some("1" | "2" | "3" | "9")) {
        return Err("务工状态(wgzt)应为1、2、3或9".into());
    }
    if !p
        .get("wgxq")
        .is_some_and(|s| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("务工县区代码(wgxq)应为6位数字".into());
    }
    match p.get("gxsj").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => clock::parse_local_datetime(s)
            .map(Some)
            .ok_or_else(|| "更新时间(gxsj)格式应为 yyyy-MM-dd HH:mm:ss".into()),
    }
}

/// A resident's columns from a save form: values as posted (absent = empty), 性别 as 男/女.
fn worker_columns(
    p: &Params,
    djbh: String,
    sfzh: String,
    xb: &str,
    djrq: String,
    now: i64,
) -> [String; 14] {
    let mut cols: [String; 14] = Default::default();
    cols[col::DJBH] = djbh;
    cols[col::XM] = p.text("xm");
    cols[col::SFZH] = sfzh;
    cols[col::XB] = xb.to_string();
    cols[col::LXDH] = p.text("lxdh");
    cols[col::HJXZ] = p.text("hjxz");
    cols[col::WGSF] = p.text("wgsf");
    cols[col::WGXQ] = p.text("wgxq");
    cols[col::WGDW] = p.text("wgdw");
    cols[col::DWXYDM] = p.text("dwxydm");
    cols[col::GZ] = p.text("gz");
    cols[col::WGZT] = p.text("wgzt");
    cols[col::DJRQ] = djrq;
    cols[col::GXSJ] = clock::local_datetime(now);
    cols
}

/// `GET /api/job/list?token=&page=1&rows=100` → `{"code":0,"msg":"成功","data":{"total",
/// "rows":[{"id","wbbh","qymc","xydm","gwmc","zprs","xzfw","gzdd","jzrq","zt","gxsj"}]}}`, by id.
pub(super) async fn list_jobs(
    State(st): State<Arc<ZfState>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let p = Params::new(query, None);
    if !st.authenticate(p.get("token")) {
        return expired();
    }
    let number = |name: &str, default: u64, max: u64| match p.get(name) {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| bad_parameter(format!("{name} 应为 1 到 {max} 的整数"))),
    };
    let (page, rows) = match (number("page", 1, u64::MAX), number("rows", 100, 1000)) {
        (Ok(page), Ok(rows)) => (page, rows),
        (Err(resp), _) | (_, Err(resp)) => return resp,
    };
    let data = lock(&st.data);
    let jobs = data.jobs();
    let start = usize::try_from((page - 1).saturating_mul(rows))
        .unwrap_or(usize::MAX)
        .min(jobs.len());
    let end = start.saturating_add(rows as usize).min(jobs.len());
    ok(JobPage {
        total: jobs.len(),
        rows: &jobs[start..end],
    })
}

/// A page of the job board (rows keep their field order).
#[derive(Serialize)]
struct JobPage<'a> {
    total: usize,
    rows: &'a [JobPost],
}

/// `POST /api/job/save` form `token`, `wbbh` (the partner's posting id, the natural key),
/// `qymc`, `xydm`, `gwmc`, `zprs`, `xzfw`, `gzdd`, `jzrq`, `zt` → `{"code":0,"msg":"成功",
/// "data":{"id"}}`; an existing `wbbh` is updated.
pub(super) async fn save_job(
    State(st): State<Arc<ZfState>>,
    Query(query): Query<Vec<(String, String)>>,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let p = match form(body) {
        Ok(f) => Params::new(query, Some(f)),
        Err(resp) => return resp,
    };
    if !st.authenticate(p.get("token")) {
        return expired();
    }
    let fields = match check_job(&p) {
        Ok(f) => f,
        Err(msg) => {
            lock(&st.gate.counters).record("jobs", Outcome::Rejected);
            return bad_parameter(msg);
        }
    };
    let wbbh = p.text("wbbh");
    let mut data = lock(&st.data);
    let now = data.clock.now();
    let id = match data.job_by_wbbh(&wbbh).map(|j| j.id) {
        Some(id) => {
            data.replace_job(id, fields, now);
            lock(&st.gate.counters).record("jobs", Outcome::Updated);
            id
        }
        None => {
            let id = data.add_job(fields, now).id;
            lock(&st.gate.counters).created("jobs", wbbh);
            id
        }
    };
    ok(json!({"id": id}))
}

/// Validates a job form and returns the fields to store (`zprs` as a number).
fn check_job(p: &Params) -> Result<Map<String, Value>, String> {
    let required = |name: &str, label: &str| match p.get(name) {
        Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
        _ => Err(format!("{label}({name})不能为空")),
    };
    let wbbh = required("wbbh", "外部编号")?;
    let qymc = required("qymc", "企业名称")?;
    let gwmc = required("gwmc", "岗位名称")?;
    let zprs: u64 = p
        .get("zprs")
        .and_then(|s| s.parse().ok())
        .ok_or("招聘人数(zprs)应为非负整数")?;
    let xydm = p.text("xydm");
    if !(xydm.is_empty() || xydm.chars().count() == 18) {
        return Err("统一社会信用代码(xydm)应为18位".into());
    }
    let jzrq = required("jzrq", "截止日期")?;
    if hub_schemas::date::parse(&jzrq).is_none() {
        return Err("截止日期(jzrq)不是有效日期".into());
    }
    let zt = p.text("zt");
    if !matches!(zt.as_str(), "0" | "1") {
        return Err("状态(zt)应为1(开放)或0(关闭)".into());
    }
    let mut f = Map::new();
    for (k, v) in [
        ("wbbh", wbbh),
        ("qymc", qymc),
        ("xydm", xydm),
        ("gwmc", gwmc),
    ] {
        f.insert(k.into(), Value::String(v));
    }
    f.insert("zprs".into(), json!(zprs));
    for k in ["xzfw", "gzdd"] {
        f.insert(k.into(), Value::String(p.text(k)));
    }
    f.insert("jzrq".into(), Value::String(jzrq));
    f.insert("zt".into(), Value::String(zt));
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_where_rfc_4180_needs_it_and_ends_lines_with_crlf() {
        let mut row: [String; 14] = Default::default();
        row[0] = "ZF2021000001".into();
        row[1] = "王芳 ".into();
        row[8] = "甲,乙\"公司\"".into();
        let text = write_csv(std::iter::once(&row)).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "ZF2021000001,王芳 ,,,,,,,\"甲,乙\"\"公司\"\"\",,,,,"
        );
        assert_eq!(lines[2], "");
    }
}
