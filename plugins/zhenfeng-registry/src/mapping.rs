//! The registry's native shapes (export rows, save forms) and their mapping to the shared
//! `worker` schema. Pure functions, tested natively.
//!
//! | registry | worker | notes |
//! |---|---|---|
//! | 登记编号 / `djbh` | `registryNumber` | the registry's id (remote id) |
//! | 姓名 / `xm` | `name` | blanks trimmed, and the padding between two Han characters removed (`王　五` → `王五`, [`normalise_han_name`]) |
//! | 身份证号 / `sfzh` | `idNumber` | full-width → ASCII, `x` → `X`, 15 digits upgraded to 18 |
//! | 性别 / `xb` | `gender` | 男 (`1`) → `male`, 女 (`2`) → `female` |
//! | 联系电话 / `lxdh` | `phone` | `+86`, dashes, blanks, full-width digits removed |
//! | 户籍乡镇 / `hjxz` | `hometownTownship` | |
//! | 务工省份, 务工县区代码 / `wgsf`, `wgxq` | `workplace.province`, `.countyCode` | |
//! | 务工单位, 单位信用代码 / `wgdw`, `dwxydm` | `employer.name`, `.uscc` | empty → null |
//! | 工种 / `gz` | `position` | |
//! | 务工状态 / `wgzt` | `status` | `1` employed, `2` seeking, `3` returned_home, `9` lost_contact; writing `left` (Huiyang: left the job there) gives `3` |
//! | 登记日期 | `registeredOn` | three date forms → `YYYY-MM-DD`; set by the registry on creation |
//! | 更新时间 / `gxsj` | (version, cursor) | local time, China Standard Time (UTC+8) |
//!
//! The registry has no deletes; `hiredOn` and `remark` are not kept (Huiyang owns them).
//! Values that cannot be normalised are passed on as sent, so that schema validation rejects the
//! record with the field's JSON pointer and the value in hand.

use hub_sdk::json::{Record, set_opt, str_field, to_json};
use hub_sdk::names::normalise_han_name;
use hub_sdk::normalise::{date, id_number, phone, text, uscc};
use hub_sdk::prelude::{SourceRecord, Written};
use serde_json::{Value, json};

/// The export's columns, in the registry's order.
pub const HEADERS: [&str; 14] = [
    "登记编号",
    "姓名",
    "身份证号",
    "性别",
    "联系电话",
    "户籍乡镇",
    "务工省份",
    "务工县区代码",
    "务工单位",
    "单位信用代码",
    "工种",
    "务工状态",
    "登记日期",
    "更新时间",
];

/// One export row, raw text as the registry wrote it, in [`HEADERS`] order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(pub [String; 14]);

impl Row {
    /// The raw text of a column (one of [`HEADERS`]).
    pub fn get(&self, header: &str) -> &str {
        let i = HEADERS
            .iter()
            .position(|h| *h == header)
            .expect("known header");
        &self.0[i]
    }

    /// The row as a `worker` record.
    pub fn to_record(&self) -> Record {
        let mut r = Record::new();
        r.insert(
            "idNumber".into(),
            Value::String(id_number::normalise(self.get("身份证号"))),
        );
        r.insert(
            "name".into(),
            Value::String(normalise_han_name(self.get("姓名"))),
        );
        let gender = match text::trim(self.get("性别")) {
            "男" => "male",
            "女" => "female",
            other => other,
        };
        r.insert("gender".into(), Value::String(gender.to_string()));
        set_opt(&mut r, "phone", phone::normalise(self.get("联系电话")));
        set_opt(
            &mut r,
            "hometownTownship",
            text::non_empty(self.get("户籍乡镇")),
        );
        set_opt(
            &mut r,
            "registryNumber",
            text::non_empty(self.get("登记编号")),
        );
        set_opt(
            &mut r,
            "registeredOn",
            text::non_empty(self.get("登记日期")).map(|d| date::normalise(&d)),
        );
        let county = text::non_empty(self.get("务工县区代码"));
        r.insert(
            "workplace".into(),
            match county {
                Some(c) => {
                    json!({ "province": text::non_empty(self.get("务工省份")), "countyCode": c })
                }
                None => Value::Null,
            },
        );
        let (employer, code) = (
            text::non_empty(self.get("务工单位")),
            uscc::normalise(self.get("单位信用代码")),
        );
        r.insert(
            "employer".into(),
            if employer.is_none() && code.is_none() {
                Value::Null
            } else {
                json!({ "name": employer, "uscc": code })
            },
        );
        set_opt(&mut r, "position", text::non_empty(self.get("工种")));
        let status = match text::trim(self.get("务工状态")) {
            "1" => "employed",
            "2" => "seeking",
            "3" => "returned_home",
            "9" => "lost_contact",
            other => other,
        };
        r.insert("status".into(), Value::String(status.to_string()));
        r
    }

    /// The row as a source record: remote id 登记编号, version and cursor 更新时间.
    pub fn to_source_record(&self) -> SourceRecord {
        self.source_record_of(&self.to_record())
    }

    /// [`Row::to_source_record`] with the row's record, [`Row::to_record`], at hand.
    pub fn source_record_of(&self, record: &Record) -> SourceRecord {
        let updated = text::trim(self.get("更新时间")).to_string();
        SourceRecord {
            data: to_json(record),
            remote_id: text::trim(self.get("登记编号")).to_string(),
            updated_at: local_to_rfc3339(&updated),
            version: (!updated.is_empty()).then_some(updated),
            deleted: false,
        }
    }
}

/// `yyyy-MM-dd HH:mm:ss` in China Standard Time to RFC 3339 with offset `+08:00`.
pub fn local_to_rfc3339(local: &str) -> Option<String> {
    let (d, t) = local.split_once(' ')?;
    (d.len() == 10 && t.len() == 8).then(|| format!("{d}T{t}+08:00"))
}

/// Why an export could not be read.
#[derive(Debug)]
pub enum ExportError {
    /// The export is not what the registry writes (named header missing, bad CSV line).
    Format(String),
    /// The body could not be received.
    Io(std::io::Error),
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Format(m) => f.write_str(m),
            ExportError::Io(e) => write!(f, "export body: {e}"),
        }
    }
}

fn csv_error(e: csv::Error) -> ExportError {
    if e.is_io_error() {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => return ExportError::Io(io),
            _ => unreachable!("is_io_error() said so"),
        }
    }
    ExportError::Format(format!("export: {e}"))
}

/// Reads an export as it streams in: GB18030 bytes decoded chunk by chunk (a byte sequence
/// that is not GB18030 becomes U+FFFD), CSV rows read by header name (column order is not
/// trusted). The raw export is never held whole.
pub fn read_export(r: impl std::io::Read + 'static) -> Result<Vec<Row>, ExportError> {
    export_rows(r)?.collect()
}

/// The rows of an export, one at a time as they stream in (see [`read_export`]): only the
/// decoder's and the CSV reader's buffers are held, however long the export. The header is read
/// (and checked) before this returns.
pub fn export_rows(r: impl std::io::Read + 'static) -> Result<ExportRows, ExportError> {
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding_rs::GB18030))
        .build(r);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(Box::new(decoded) as Box<dyn std::io::Read>);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut index = [0usize; 14];
    for (slot, want) in index.iter_mut().zip(HEADERS) {
        *slot = headers
            .iter()
            .position(|h| text::trim(h) == want)
            .ok_or_else(|| ExportError::Format(format!("export has no column {want}")))?;
    }
    Ok(ExportRows {
        records: reader.into_records(),
        index,
    })
}

/// An export's rows as they stream in ([`export_rows`]).
pub struct ExportRows {
    records: csv::StringRecordsIntoIter<Box<dyn std::io::Read>>,
    index: [usize; 14],
}

impl ExportRows {
    /// Only the rows changed before `until` (their 更新时间, `yyyy-MM-dd HH:mm:ss`, compared as
    /// text; `None`: every row). An export comes ordered by 更新时间 (zhenfeng-registry.md), so
    /// the stream ends at the first row at or after `until`, and the rest is never read: a
    /// write that needs rows older than an export already made this run reads only the rows
    /// that export did not cover. A row that does not decode ends nothing (its error is
    /// yielded).
    pub fn changed_before(
        self,
        until: Option<String>,
    ) -> impl Iterator<Item = Result<Row, ExportError>> {
        self.take_while(move |r| match (r, &until) {
            (Ok(row), Some(until)) => text::trim(row.get("更新时间")) < until.as_str(),
            _ => true,
        })
    }
}

impl Iterator for ExportRows {
    type Item = Result<Row, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rec = self.records.next()?;
        Some(
            rec.map_err(csv_error)
                .map(|rec| Row(self.index.map(|i| rec.get(i).unwrap_or("").to_string()))),
        )
    }
}

/// [`read_export`] over bytes in memory; errors as text.
pub fn parse_export(bytes: &[u8]) -> Result<Vec<Row>, String> {
    read_export(std::io::Cursor::new(bytes.to_vec())).map_err(|e| e.to_string())
}

/// The string at a JSON pointer-like path of top-level key, then optional nested key.
pub fn str_of(r: &Record, key: &str) -> Option<String> {
    str_field(r, key).map(str::to_string)
}

fn nested(r: &Record, key: &str, inner: &str) -> String {
    r.get(key)
        .and_then(|v| v.get(inner))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The columns whose raw text [`SaveForm::preserve`] keeps, in [`SaveForm::preserved_mut`]'s
/// order: the fields whose meaning a write does not change.
pub const PRESERVED: [&str; 9] = [
    "姓名",
    "身份证号",
    "联系电话",
    "户籍乡镇",
    "务工省份",
    "务工县区代码",
    "务工单位",
    "单位信用代码",
    "工种",
];

/// What [`SaveForm::preserve`] needs of one registry row, and nothing more: for each
/// [`PRESERVED`] column the registry writes otherwise than the canonical form of its value
/// (full-width digits, blanks, a 15-digit identity number), the column, the canonical text and
/// the raw text, packed into one allocation (per column: the column's index, then each text as
/// a 4-byte little-endian length and its UTF-8 bytes). A row with a quirky phone takes about
/// 60 bytes here against about 1 KB as a whole [`Row`] of 14 strings, so the own writing of
/// every row of a 3,000,000-row export fits the connector's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnWriting(Box<[u8]>);

impl OwnWriting {
    /// The own writing of `raw`; `None` if the registry writes every [`PRESERVED`] column of
    /// it in its canonical form (such a row changes nothing a write sends, so it is not kept).
    pub fn of(raw: &Row) -> Option<OwnWriting> {
        OwnWriting::of_record(raw, &raw.to_record())
    }

    /// [`OwnWriting::of`] with the row's record, [`Row::to_record`], at hand.
    pub fn of_record(raw: &Row, record: &Record) -> Option<OwnWriting> {
        let mut canonical = SaveForm::from_record(record);
        let mut packed = Vec::new();
        for (index, column) in PRESERVED.iter().enumerate() {
            let text = raw.get(column);
            let canonical = canonical.preserved_mut(index);
            if text != canonical.as_str() {
                packed.push(index as u8);
                for t in [canonical.as_str(), text] {
                    packed.extend_from_slice(&(t.len() as u32).to_le_bytes());
                    packed.extend_from_slice(t.as_bytes());
                }
            }
        }
        (!packed.is_empty()).then(|| OwnWriting(packed.into_boxed_slice()))
    }

    /// Each column written otherwise than canonically: (index in [`PRESERVED`], canonical text,
    /// raw text), in column order.
    pub fn columns(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            let (&index, tail) = rest.split_first()?;
            let (canonical, tail) = Self::text(tail)?;
            let (raw, tail) = Self::text(tail)?;
            rest = tail;
            Some((usize::from(index), canonical, raw))
        })
    }

    /// The bytes this row takes, the packing only (the allocation adds its allocator's header).
    pub fn packed_len(&self) -> usize {
        self.0.len()
    }

    fn text(bytes: &[u8]) -> Option<(&str, &[u8])> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let (text, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
        Some((std::str::from_utf8(text).ok()?, rest))
    }
}

/// The fields of `POST /api/worker/save`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SaveForm {
    /// 登记编号; `None` registers a new resident.
    pub djbh: Option<String>,
    pub xm: String,
    pub sfzh: String,
    pub xb: String,
    pub lxdh: String,
    pub hjxz: String,
    pub wgsf: String,
    pub wgxq: String,
    pub wgdw: String,
    pub dwxydm: String,
    pub gz: String,
    pub wgzt: String,
    /// The 更新时间 last seen; the registry refuses the save (40901) if its copy is newer.
    pub gxsj: Option<String>,
}

impl SaveForm {
    /// The form for a `worker` record (see the module table).
    pub fn from_record(r: &Record) -> SaveForm {
        let s = |k: &str| str_of(r, k).unwrap_or_default();
        SaveForm {
            djbh: str_of(r, "registryNumber"),
            xm: s("name"),
            sfzh: s("idNumber"),
            xb: match s("gender").as_str() {
                "male" => "1".into(),
                "female" => "2".into(),
                other => other.into(),
            },
            lxdh: s("phone"),
            hjxz: s("hometownTownship"),
            wgsf: nested(r, "workplace", "province"),
            wgxq: nested(r, "workplace", "countyCode"),
            wgdw: nested(r, "employer", "name"),
            dwxydm: nested(r, "employer", "uscc"),
            gz: s("position"),
            wgzt: match s("status").as_str() {
                "employed" => "1".into(),
                "seeking" => "2".into(),
                "returned_home" | "left" => "3".into(),
                "lost_contact" => "9".into(),
                other => other.into(),
            },
            gxsj: None,
        }
    }

    /// Keeps the registry's own writing of every field whose meaning does not change: where
    /// the registry's canonical text of a column (in `own`, from the row as the registry holds
    /// it) is what this form would send, the registry's raw text is sent instead. A write for
    /// one field thus leaves a legacy 15-digit identity number, a full-width phone or a padded
    /// name as the registry wrote it.
    pub fn preserve(&mut self, own: &OwnWriting) {
        for (column, canonical, raw) in own.columns() {
            let mine = self.preserved_mut(column);
            if mine == canonical {
                *mine = raw.to_string();
            }
        }
    }

    /// The field of the [`PRESERVED`] column at `index`.
    fn preserved_mut(&mut self, index: usize) -> &mut String {
        match index {
            0 => &mut self.xm,
            1 => &mut self.sfzh,
            2 => &mut self.lxdh,
            3 => &mut self.hjxz,
            4 => &mut self.wgsf,
            5 => &mut self.wgxq,
            6 => &mut self.wgdw,
            7 => &mut self.dwxydm,
            _ => &mut self.gz,
        }
    }

    /// True if both forms would store the same resident data (registry number and version
    /// aside).
    pub fn same_content(&self, other: &SaveForm) -> bool {
        let strip = |f: &SaveForm| SaveForm {
            djbh: None,
            gxsj: None,
            ..f.clone()
        };
        strip(self) == strip(other)
    }

    /// The form's fields with the session token, ready to post.
    pub fn pairs<'a>(&'a self, token: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("token", token),
            ("djbh", self.djbh.as_deref().unwrap_or("")),
            ("xm", &self.xm),
            ("sfzh", &self.sfzh),
            ("xb", &self.xb),
            ("lxdh", &self.lxdh),
            ("hjxz", &self.hjxz),
            ("wgsf", &self.wgsf),
            ("wgxq", &self.wgxq),
            ("wgdw", &self.wgdw),
            ("dwxydm", &self.dwxydm),
            ("gz", &self.gz),
            ("wgzt", &self.wgzt),
            ("gxsj", self.gxsj.as_deref().unwrap_or("")),
        ]
    }

    /// The row the registry now holds for this form (what the next export will show), given
    /// its 登记日期.
    pub fn stored_row(&self, registered_on: Option<&str>) -> Row {
        let xb = match self.xb.as_str() {
            "1" => "男",
            "2" => "女",
            other => other,
        };
        Row([
            self.djbh.clone().unwrap_or_default(),
            self.xm.clone(),
            self.sfzh.clone(),
            xb.to_string(),
            self.lxdh.clone(),
            self.hjxz.clone(),
            self.wgsf.clone(),
            self.wgxq.clone(),
            self.wgdw.clone(),
            self.dwxydm.clone(),
            self.gz.clone(),
            self.wgzt.clone(),
            registered_on.unwrap_or("").to_string(),
            String::new(),
        ])
    }

    /// The write outcome for a saved form: remote id 登记编号, and the record as the next export
    /// will show it. The new 更新时间 is not returned by the registry, so no version.
    pub fn written(&self, registered_on: Option<&str>) -> Written {
        Written {
            remote_id: self.djbh.clone().unwrap_or_default(),
            version: None,
            stored: Some(to_json(&self.stored_row(registered_on).to_record())),
        }
    }
}

/// A `worker` record as the registry stores it (the contract's `normal-form`): the row a save
/// of it leaves, as the export shows it. `left` is stored as 3 (returned_home), `hiredOn` is not
/// kept; a new resident's 登记编号 and 登记日期, which the registry assigns, are left out.
pub fn normal_form(r: &Record) -> Record {
    let mut out = SaveForm::from_record(r)
        .stored_row(str_of(r, "registeredOn").as_deref())
        .to_record();
    for assigned in ["registryNumber", "registeredOn"] {
        if out.get(assigned).is_some_and(Value::is_null) {
            out.remove(assigned);
        }
    }
    out
}

/// The JSON pointer of the field a registry error message names (by pinyin form field or
/// Chinese column), if any.
pub fn pointer_for_message(msg: &str) -> Option<String> {
    const FIELDS: [(&str, &str, &str); 10] = [
        ("sfzh", "身份证号", "/idNumber"),
        ("xm", "姓名", "/name"),
        ("xb", "性别", "/gender"),
        ("lxdh", "联系电话", "/phone"),
        ("hjxz", "户籍乡镇", "/hometownTownship"),
        ("wgxq", "务工县区代码", "/workplace/countyCode"),
        ("wgsf", "务工省份", "/workplace/province"),
        ("dwxydm", "单位信用代码", "/employer/uscc"),
        ("wgzt", "务工状态", "/status"),
        ("gz", "工种", "/position"),
    ];
    let words: Vec<&str> = msg.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    FIELDS
        .iter()
        .find(|(pinyin, chinese, _)| words.contains(pinyin) || msg.contains(chinese))
        .map(|(_, _, p)| p.to_string())
}

/// Today's date in China Standard Time (UTC+8, no daylight saving), `YYYY-MM-DD`: the registry's
/// 登记日期 for a resident registered now.
pub fn today_cst() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    date::Date::from_days_since_epoch((secs + 8 * 3600).div_euclid(86_400)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb18030(s: &str) -> Vec<u8> {
        encoding_rs::GB18030.encode(s).0.into_owned()
    }

    const HEADER_LINE: &str = "登记编号,姓名,身份证号,性别,联系电话,户籍乡镇,务工省份,务工县区代码,务工单位,单位信用代码,工种,务工状态,登记日期,更新时间\r\n";

    #[test]
    fn an_export_row_with_every_quirk_maps_to_the_canonical_record() {
        let csv = format!(
            "{HEADER_LINE}ZF2021000123,王芳　,11010519491231002x,女,＋８６ １３８-００１３-８０００,长田镇 ,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021年8月5日,2021-09-02 10:00:00\r\n"
        );
        let rows = parse_export(&gb18030(&csv)).unwrap();
        assert_eq!(rows.len(), 1);
        let rec = rows[0].to_source_record();
        assert_eq!(rec.remote_id, "ZF2021000123");
        assert_eq!(rec.version.as_deref(), Some("2021-09-02 10:00:00"));
        assert_eq!(rec.updated_at.as_deref(), Some("2021-09-02T10:00:00+08:00"));
        let data: Value = serde_json::from_str(&rec.data).unwrap();
        assert_eq!(
            data,
            json!({
                "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
                "hometownTownship": "长田镇", "registryNumber": "ZF2021000123", "registeredOn": "2021-08-05",
                "workplace": {"province": "广东省", "countyCode": "441303"},
                "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": null},
                "position": "普工", "status": "employed"
            })
        );
    }

    #[test]
    fn an_export_read_up_to_an_earlier_export_stops_at_its_first_row_changed_then() {
        let row = |djbh: &str, at: &str| {
            format!("{djbh},张三,522325199001011234,男,,,广东省,441303,,,,1,2021-08-05,{at}\r\n")
        };
        let csv = format!(
            "{HEADER_LINE}{}{}{}{}",
            row("ZF2021000001", "2021-09-01 08:00:00"),
            row("ZF2021000002", "2021-09-01 09:59:59"),
            row("ZF2021000003", "2021-09-01 10:00:00"),
            row("ZF2021000004", "2021-09-01 11:00:00"),
        );
        let ids = |until: Option<&str>| -> Vec<String> {
            let rows = export_rows(std::io::Cursor::new(gb18030(&csv))).unwrap();
            rows.changed_before(until.map(str::to_string))
                .map(|r| r.unwrap().get("登记编号").to_string())
                .collect()
        };
        // An earlier export from 10:00:00 holds the rows at and after it.
        assert_eq!(
            ids(Some("2021-09-01 10:00:00")),
            ["ZF2021000001", "ZF2021000002"]
        );
        assert_eq!(ids(Some("2021-09-01 08:00:00")), Vec::<String>::new());
        assert_eq!(
            ids(None),
            [
                "ZF2021000001",
                "ZF2021000002",
                "ZF2021000003",
                "ZF2021000004"
            ]
        );
    }

    #[test]
    fn columns_are_found_by_name_and_legacy_numbers_upgraded() {
        // Columns reordered; a 15-digit number; status 9; an impossible date kept as sent.
        let csv = "更新时间,登记编号,姓名,身份证号,性别,联系电话,户籍乡镇,务工省份,务工县区代码,务工单位,单位信用代码,工种,务工状态,登记日期\r\n\
                   2021-09-02 10:00:01,ZF2021000124,李四,522325680312123,男,,,广东省,441303,,,,9,2021年2月30日\r\n";
        let rows = parse_export(&gb18030(csv)).unwrap();
        let r = rows[0].to_record();
        assert_eq!(r["idNumber"], "522325196803121231");
        assert_eq!(r["status"], "lost_contact");
        assert_eq!(r["registeredOn"], "2021年2月30日");
        assert_eq!(r["phone"], Value::Null);
        assert_eq!(r["employer"], Value::Null);
    }

    #[test]
    fn a_missing_column_is_named() {
        let csv = "登记编号,姓名\r\nZF1,张三\r\n";
        assert_eq!(
            parse_export(&gb18030(csv)).unwrap_err(),
            "export has no column 身份证号"
        );
    }

    #[test]
    fn save_form_round_trips_to_the_record_the_export_will_show() {
        let rec: Record = serde_json::from_value(json!({
            "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
            "hometownTownship": "长田镇", "registryNumber": "ZF2021000123", "registeredOn": "2021-08-05",
            "workplace": {"province": "广东省", "countyCode": "441303"},
            "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
            "position": "普工", "status": "left", "hiredOn": "2021-05-01"
        }))
        .unwrap();
        let form = SaveForm::from_record(&rec);
        assert_eq!(
            (form.xb.as_str(), form.wgzt.as_str(), form.wgxq.as_str()),
            ("2", "3", "441303")
        );
        let stored: Value =
            serde_json::from_str(&form.written(Some("2021-08-05")).stored.unwrap()).unwrap();
        // `left` is stored as 3 and read back as returned_home; hiredOn is not kept.
        let mut expected = Value::Object(rec.clone());
        expected["status"] = json!("returned_home");
        expected.as_object_mut().unwrap().remove("hiredOn");
        assert_eq!(stored, expected);
    }

    #[test]
    fn the_normal_form_of_a_new_resident_leaves_out_what_the_registry_assigns() {
        let rec: Record = serde_json::from_value(json!({
            "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
            "workplace": {"province": "广东省", "countyCode": "441303"},
            "employer": {"name": "伯恩光学(惠州)有限公司"}, "position": "普工", "status": "left",
            "hiredOn": "2021-05-01"
        }))
        .unwrap();
        assert_eq!(
            Value::Object(normal_form(&rec)),
            json!({
                "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
                "workplace": {"province": "广东省", "countyCode": "441303"},
                "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": null}, "position": "普工",
                "status": "returned_home", "hometownTownship": null
            })
        );
        // What the registry assigns is absent, not null: a value there is the registry's own.
        let n = normal_form(&rec);
        assert!(!n.contains_key("registryNumber") && !n.contains_key("registeredOn"));
    }

    #[test]
    fn an_update_keeps_the_registrys_own_writing_of_unchanged_fields() {
        let csv = format!(
            "{HEADER_LINE}ZF2021000124,李四　,522325680312123,男,１３８ ００１３ ８０００,长田镇 ,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021/8/5,2021-09-02 10:00:01\r\n"
        );
        let raw = parse_export(&gb18030(&csv)).unwrap().remove(0);
        let mut rec = raw.to_record();
        rec.insert("status".into(), json!("seeking"));
        rec.insert("position".into(), json!("质检员"));
        let mut form = SaveForm::from_record(&rec);
        form.preserve(&OwnWriting::of(&raw).expect("own writing"));
        assert_eq!(
            (
                form.xm.as_str(),
                form.sfzh.as_str(),
                form.lxdh.as_str(),
                form.hjxz.as_str()
            ),
            (
                "李四　",
                "522325680312123",
                "１３８ ００１３ ８０００",
                "长田镇 "
            ),
            "unchanged fields are sent as the registry wrote them"
        );
        assert_eq!(
            (form.gz.as_str(), form.wgzt.as_str()),
            ("质检员", "2"),
            "changed fields are sent as changed"
        );
        // What the next export shows still reads as the record that was meant.
        let stored: Value =
            serde_json::from_str(&form.written(Some("2021-08-05")).stored.unwrap()).unwrap();
        assert_eq!(stored["idNumber"], json!("522325196803121231"));
        assert_eq!(stored["position"], json!("质检员"));
    }

    #[test]
    fn own_writing_keeps_only_the_columns_written_otherwise_and_both_their_texts() {
        let csv = format!(
            "{HEADER_LINE}ZF2021000124,李四　,522325680312123,男,１３８ ００１３ ８０００,长田镇 ,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021/8/5,2021-09-02 10:00:01\r\n"
        );
        let raw = parse_export(&gb18030(&csv)).unwrap().remove(0);
        let own = OwnWriting::of(&raw).expect("own writing");
        // 身份证号 522325680312123 (1968-03-12, sequence 123) upgraded: 19 inserted, check
        // character 1 by ISO 7064 MOD 11-2; the province, county, employer and trade are
        // canonical already and not kept.
        assert_eq!(
            own.columns().collect::<Vec<_>>(),
            [
                (0, "李四", "李四　"),
                (1, "522325196803121231", "522325680312123"),
                (2, "13800138000", "１３８ ００１３ ８０００"),
                (3, "长田镇", "长田镇 "),
            ]
        );
        // Per column: 1 byte of index, and 4 bytes of length before each text's UTF-8 bytes
        // (李四 6, 　 3, full-width digits 3 each).
        assert_eq!(
            own.packed_len(),
            (1 + 4 + 6 + 4 + 9)
                + (1 + 4 + 18 + 4 + 15)
                + (1 + 4 + 11 + 4 + 35)
                + (1 + 4 + 9 + 4 + 10)
        );
    }

    #[test]
    fn a_name_padded_to_three_characters_is_read_without_the_blank_and_kept_on_write() {
        // 王　五 (U+3000 between) and 赵 六 (U+0020): the padding of a fixed-width screen.
        let csv = format!(
            "{HEADER_LINE}ZF2021000125,王　五,110105194912310029,男,13800138000,长田镇,广东省,441303,,,普工,1,2021-08-05,2021-09-02 10:00:02\r\n\
             ZF2021000126,赵 六,110105194912310037,男,,,广东省,441303,,,,2,2021-08-05,2021-09-02 10:00:03\r\n"
        );
        let rows = parse_export(&gb18030(&csv)).unwrap();
        assert_eq!(rows[0].to_record()["name"], "王五");
        assert_eq!(rows[1].to_record()["name"], "赵六");
        // The other side holds 王五 unpadded: the same value, and a write for another field
        // sends the name as the registry wrote it.
        let mut rec = rows[0].to_record();
        rec.insert("name".into(), json!("王五"));
        rec.insert("position".into(), json!("焊工"));
        let mut form = SaveForm::from_record(&rec);
        form.preserve(&OwnWriting::of(&rows[0]).expect("own writing"));
        assert_eq!((form.xm.as_str(), form.gz.as_str()), ("王　五", "焊工"));
    }

    #[test]
    fn only_a_row_written_otherwise_than_its_canonical_form_has_writing_of_its_own() {
        // Row 1 as the canonical form writes it; row 2 with a full-width phone; row 3 with a
        // 15-digit identity number; row 4 with a padded township.
        let csv = format!(
            "{HEADER_LINE}ZF2021000124,李四,522325196803121231,男,13800138000,长田镇,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021-08-05,2021-09-02 10:00:01\r\n\
             ZF2021000125,李四,522325196803121231,男,１３８００１３８０００,长田镇,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021-08-05,2021-09-02 10:00:01\r\n\
             ZF2021000126,李四,522325680312123,男,13800138000,长田镇,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021-08-05,2021-09-02 10:00:01\r\n\
             ZF2021000127,李四,522325196803121231,男,13800138000,长田镇 ,广东省,441303,伯恩光学(惠州)有限公司,,普工,1,2021-08-05,2021-09-02 10:00:01\r\n"
        );
        let rows = parse_export(&gb18030(&csv)).unwrap();
        let own: Vec<bool> = rows.iter().map(|r| OwnWriting::of(r).is_some()).collect();
        assert_eq!(own, [false, true, true, true]);
    }

    #[test]
    fn same_content_ignores_registry_number_and_version() {
        let a = SaveForm {
            djbh: Some("ZF1".into()),
            gxsj: Some("t".into()),
            xm: "王芳".into(),
            ..SaveForm::default()
        };
        let b = SaveForm {
            xm: "王芳".into(),
            ..SaveForm::default()
        };
        assert!(a.same_content(&b));
        assert!(!a.same_content(&SaveForm {
            xm: "王芳芳".into(),
            ..b
        }));
    }

    #[test]
    fn error_messages_point_at_fields() {
        assert_eq!(
            pointer_for_message("参数错误: xm 不能为空").as_deref(),
            Some("/name")
        );
        assert_eq!(
            pointer_for_message("身份证号格式错误").as_deref(),
            Some("/idNumber")
        );
        assert_eq!(pointer_for_message("系统繁忙"), None);
    }
}
