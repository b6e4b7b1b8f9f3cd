//! The statistics for spreadsheets (`hub stats --csv`, `GET /api/statistics/csv`, the page's
//! export links): one figure per row in a long form, in UTF-8 with a byte order mark or in
//! GB 18030 ([`CsvEncoding`]).

use super::model::{OUTCOMES, Statistics};
use anyhow::Context as _;

/// How a CSV export is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvEncoding {
    /// UTF-8 with a byte order mark (U+FEFF), which Excel and WPS need to read UTF-8.
    #[default]
    Utf8,
    /// GB 18030 (China's national standard encoding, a superset of GBK), for older tools.
    Gb18030,
}

impl CsvEncoding {
    /// `utf-8` or `gb18030`, in any case (charset names are case-insensitive, RFC 2978 §2.3:
    /// `GB18030` as the standard writes it). Errors: another name, naming the two.
    pub fn parse(name: &str) -> Result<CsvEncoding, String> {
        if name.eq_ignore_ascii_case("utf-8") {
            Ok(CsvEncoding::Utf8)
        } else if name.eq_ignore_ascii_case("gb18030") {
            Ok(CsvEncoding::Gb18030)
        } else {
            Err(format!("no CSV encoding {name:?} (known: utf-8, gb18030)"))
        }
    }

    /// The `charset` of the MIME type.
    pub fn charset(self) -> &'static str {
        match self {
            CsvEncoding::Utf8 => "utf-8",
            CsvEncoding::Gb18030 => "gb18030",
        }
    }
}

/// One row of the long CSV form: section, dimension, item, measure, count.
type CsvRow = (&'static str, &'static str, String, &'static str, u64);

impl Statistics {
    /// Every figure as one row: (section, dimension, item, measure, count).
    fn rows(&self) -> Vec<CsvRow> {
        let mut out: Vec<CsvRow> = Vec::new();
        if let Some(w) = &self.workers {
            out.push(("workers", "total", "合计 all".into(), "workers", w.total));
            for (dim, rows) in [
                ("status", &w.by_status),
                ("employer", &w.by_employer),
                ("township", &w.by_township),
            ] {
                out.extend(
                    rows.iter()
                        .map(|c| ("workers", dim, c.label.clone(), "workers", c.count)),
                );
            }
            for m in &w.by_month {
                out.push(("workers", "month", m.month.clone(), "new", m.new));
                out.push(("workers", "month", m.month.clone(), "returned", m.returned));
            }
        }
        if let Some(sd) = &self.secondments {
            out.push((
                "secondments",
                "total",
                "合计 all".into(),
                "clinicians",
                sd.clinicians,
            ));
            for (dim, rows) in [
                ("host_facility", &sd.by_facility),
                ("batch", &sd.by_batch),
                ("total", &vec![sd.all.clone()]),
            ] {
                for r in rows.iter() {
                    for (measure, v) in [
                        ("planned", r.planned),
                        ("serving", r.serving),
                        ("completed", r.completed),
                        ("stays", r.total),
                    ] {
                        out.push(("secondments", dim, r.label.clone(), measure, v));
                    }
                }
            }
        }
        if let Some(p) = &self.job_postings {
            for r in p.by_enterprise.iter().chain(std::iter::once(&p.all)) {
                let dim = if std::ptr::eq(r, &p.all) {
                    "total"
                } else {
                    "enterprise"
                };
                for (measure, v) in [
                    ("open", r.open),
                    ("closed", r.closed),
                    ("headcount_open", r.headcount_open),
                    ("headcount_closed", r.headcount_closed),
                ] {
                    out.push(("job-postings", dim, r.label.clone(), measure, v));
                }
            }
        }
        if let Some(r) = &self.referrals {
            for row in r.by_enterprise.iter().chain(std::iter::once(&r.all)) {
                let dim = if std::ptr::eq(row, &r.all) {
                    "total"
                } else {
                    "enterprise"
                };
                for ((measure, _), v) in OUTCOMES.iter().zip(row.counts()) {
                    out.push(("referrals", dim, row.label.clone(), measure, v));
                }
                out.push(("referrals", dim, row.label.clone(), "total", row.total));
            }
            if let Some(o) = r.not_zhenfeng_workers {
                out.push((
                    "referrals",
                    "excluded",
                    "非贞丰务工人员 not Zhenfeng workers".into(),
                    "referrals",
                    o,
                ));
            }
            out.push((
                "referrals",
                "excluded",
                "已删除 deleted".into(),
                "referrals",
                r.deleted,
            ));
            out.push((
                "referrals",
                "excluded",
                "无效 invalid".into(),
                "referrals",
                r.invalid,
            ));
        }
        out
    }

    /// The figures as CSV (RFC 4180, CRLF line ends), one figure per row under a header in
    /// Chinese with English (部分 section, 维度 dimension, 项目 item, 指标 measure, 数量 count):
    /// a long form that a pivot table in Excel or WPS turns into any of the page's tables.
    /// UTF-8 starts with a byte order mark, without which Excel reads UTF-8 as the ANSI code
    /// page; GB 18030 has none.
    ///
    /// # Errors
    /// Only a failure of the CSV writer (it writes to memory).
    pub fn csv(&self, encoding: CsvEncoding) -> anyhow::Result<Vec<u8>> {
        let mut text = Vec::new();
        {
            let mut w = ::csv::WriterBuilder::new()
                .terminator(::csv::Terminator::CRLF)
                .from_writer(&mut text);
            w.write_record([
                "部分 section",
                "维度 dimension",
                "项目 item",
                "指标 measure",
                "数量 count",
            ])?;
            for (section, dim, item, measure, count) in self.rows() {
                w.write_record([section, dim, &item, measure, &count.to_string()])?;
            }
            w.flush()?;
        }
        let text = String::from_utf8(text).context("the CSV writer wrote UTF-8")?;
        Ok(match encoding {
            CsvEncoding::Utf8 => {
                let mut out = "\u{feff}".as_bytes().to_vec();
                out.extend_from_slice(text.as_bytes());
                out
            }
            CsvEncoding::Gb18030 => {
                let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
                bytes.into_owned()
            }
        })
    }
}
