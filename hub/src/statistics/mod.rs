//! Statistics (数据统计): the figures both bureaus report from (`hub stats`, `GET
//! /api/statistics`, `GET /api/statistics/csv`, the page `/statistics`).
//!
//! Four sections ([`Section`]):
//! - **workers** (务工人员): Zhenfeng workers in Huiyang by employment status, by employer (the
//!   employed only; the 20 largest and the rest together), by hometown township (户籍乡镇), and
//!   per month the new (新增: by the month of `registeredOn`, the registry's 登记日期) and the
//!   returned (返乡: a record whose status is `returned_home`, by the month of the update time
//!   of the system holding it so: ZF-REG marks a resident who came home 务工状态 3 and HY-ESMS
//!   cannot say it (it holds `left`), so that is the registry's 更新时间, the time of its last
//!   change of the record: neither system keeps the day of the return, and a later change of
//!   the record, by a clerk or by the hub, moves it). Where the settled record says `left` and
//!   a side holds the registry's finer `returned_home` or `lost_contact`, that one counts
//!   ([`finer_status`]);
//! - **secondments** (医疗人才派驻): stays of clinicians by host facility and by batch, each
//!   split planned / serving now / completed (the `status` the roster settles), and how many
//!   clinicians (distinct people, counted in memory, never shown);
//! - **job-postings** (岗位): postings open and closed, and their headcount
//!   (`totalJobOpenings`), by enterprise;
//! - **referrals** (职业介绍): HY-ESMS's introductions of Zhenfeng workers to posts, by outcome
//!   (recommended, interviewed, hired, rejected, withdrawn) and by the posting's enterprise.
//!
//! Where the figures come from:
//! - workers, secondments and job postings: the **settled records in the state store**, every
//!   link of each loaded sync of schema `worker`, `secondment` and `job-posting` (keys held by
//!   more than one such sync count once): a link's base, the record both systems were brought
//!   to at its key's last complete reconcile, opened with the state key through
//!   [`crate::sync::link_seal::unseal`]. A key that never settled (a dead letter, a record
//!   refused by the schema) has no base and is not counted; a key ended by a soft delete on
//!   either side (a tombstone) is counted apart as ended. So the figures are the synced
//!   records, agreed by both systems, as of each sync's last run, and cost no system a request.
//! - referrals: **read on demand** through each loaded connector stream of schema `referral`
//!   (HY-ESMS's read-only `referrals`, contract 0.2), whole, from the beginning, as the
//!   reconciliation report reads ([`crate::sync::compare`]): no sync carries referrals, since
//!   no other system holds them (a sync needs a second end to write to, and the Zhenfeng side
//!   only wants the figures), so there is no settled copy to read, and keeping one only for
//!   counting would put personal data (who was introduced where) in the store for nothing.
//!   Each record is validated against the `referral` schema (an invalid one is counted, not
//!   used); soft-deleted ones are counted apart. A referral counts when its worker is a
//!   Zhenfeng worker of the workers section (matched by identity number, in memory); the others
//!   (job seekers who are not Zhenfeng workers) are counted as one figure. Its enterprise is
//!   the one of its posting in the job-postings section (`jobPosting.identifier`), or
//!   "未知岗位 unknown posting".
//!
//! No personal data is in the figures: no names, identity numbers or phones, never a row per
//! person; small counts are shown as they are. Months are in the deployment's zone.
//!
//! Nothing is written anywhere: the state store is only read, connectors are only read.

pub mod page;

use crate::keys::Keys;
use crate::runtime::Plugin;
use crate::store::{Link, Store};
use crate::sync::SyncSpec;
use anyhow::Context as _;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// How many employers the workers section names before "the rest".
pub const TOP_EMPLOYERS: usize = 20;

/// Links read from the state store per query.
const PAGE: u32 = 1000;

/// Records asked of a connector per `read` of the referrals stream.
const READ_BATCH: u32 = 200;

/// The referral outcomes, in the order they are shown, with their labels.
pub const OUTCOMES: [(&str, &str); 5] = [
    ("recommended", "推荐 recommended"),
    ("interviewed", "已面试 interviewed"),
    ("hired", "已录用 hired"),
    ("rejected", "未录用 rejected"),
    ("withdrawn", "撤回 withdrawn"),
];

/// The employment statuses of the `worker` schema, in the order they are shown.
pub const WORKER_STATUSES: [(&str, &str); 5] = [
    ("employed", "在岗 employed"),
    ("seeking", "待业 seeking"),
    ("returned_home", "返乡 returned home"),
    ("lost_contact", "失联 lost contact"),
    ("left", "离职 left"),
];

/// A section of the statistics.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Zhenfeng workers in Huiyang (schema `worker`).
    Workers,
    /// Medical secondments (schema `secondment`).
    Secondments,
    /// Job postings (schema `job-posting`).
    JobPostings,
    /// Referrals (schema `referral`, read from the connectors).
    Referrals,
}

impl Section {
    /// Every section, in the order they are shown.
    pub const ALL: [Section; 4] = [
        Section::Workers,
        Section::Secondments,
        Section::JobPostings,
        Section::Referrals,
    ];

    /// `workers`, `secondments`, `job-postings` or `referrals`.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Workers => "workers",
            Section::Secondments => "secondments",
            Section::JobPostings => "job-postings",
            Section::Referrals => "referrals",
        }
    }

    /// For people, Chinese and English.
    pub fn label(self) -> &'static str {
        match self {
            Section::Workers => "务工人员 Zhenfeng workers in Huiyang",
            Section::Secondments => "医疗人才派驻 Clinicians seconded",
            Section::JobPostings => "岗位 Job postings",
            Section::Referrals => "职业介绍 Referrals",
        }
    }

    /// The schema of the records the section counts.
    pub fn schema(self) -> &'static str {
        match self {
            Section::Workers => "worker",
            Section::Secondments => "secondment",
            Section::JobPostings => "job-posting",
            Section::Referrals => "referral",
        }
    }

    /// The section named `name`. Errors: another name, naming the known ones.
    pub fn parse(name: &str) -> Result<Section, String> {
        Section::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Section::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "no statistics section {name:?} (known: {})",
                    known.join(", ")
                )
            })
    }
}

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

/// One labelled count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Count {
    /// What is counted (a status, an employer, a township), as shown to people.
    pub label: String,
    /// How many.
    pub count: u64,
}

/// New and returned workers of one month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MonthRow {
    /// The month, `YYYY-MM`, in the deployment's zone.
    pub month: String,
    /// Registered in the Zhenfeng registry that month (新增).
    pub new: u64,
    /// Came home that month (返乡).
    pub returned: u64,
}

/// The workers section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct WorkerStats {
    /// Workers counted (settled, not ended).
    pub total: u64,
    /// By employment status: every status of the schema, in [`WORKER_STATUSES`] order, then any
    /// other value as it is.
    pub by_status: Vec<Count>,
    /// The employed by employer: the [`TOP_EMPLOYERS`] largest (most workers first, then by
    /// name), then "其他 N 家 the other N employers" with their sum, then the employed whose
    /// employer is not given. An employer is named by its name, else its credit code.
    pub by_employer: Vec<Count>,
    /// By hometown township (户籍乡镇), most first, then by name; "未填 not given" last.
    pub by_township: Vec<Count>,
    /// New and returned per month, oldest first (months with neither left out).
    pub by_month: Vec<MonthRow>,
}

/// Stays of one host facility or batch, by status.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct StayRow {
    /// The host facility's name, or the batch as `第N批 batch N`.
    pub label: String,
    /// Planned, not yet started.
    pub planned: u64,
    /// Serving now (在岗).
    pub serving: u64,
    /// Completed.
    pub completed: u64,
    /// All stays of the row (those with no status included).
    pub total: u64,
}

/// The secondments section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct SecondmentStats {
    /// Stays counted (settled, not ended).
    pub stays: u64,
    /// Distinct clinicians among them.
    pub clinicians: u64,
    /// All stays by status.
    pub all: StayRow,
    /// By host facility, by name.
    pub by_facility: Vec<StayRow>,
    /// By batch, in batch order.
    pub by_batch: Vec<StayRow>,
}

/// Postings of one enterprise.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PostingRow {
    /// The enterprise's name (all postings: `合计 all`).
    pub label: String,
    /// Open postings.
    pub open: u64,
    /// Closed postings.
    pub closed: u64,
    /// People sought by the open postings (sum of `totalJobOpenings`).
    pub headcount_open: u64,
    /// People sought by the closed postings.
    pub headcount_closed: u64,
}

/// The job-postings section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PostingStats {
    /// All postings counted.
    pub all: PostingRow,
    /// By enterprise: most postings first, then by name.
    pub by_enterprise: Vec<PostingRow>,
}

/// Referrals of one enterprise by outcome.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct OutcomeRow {
    /// The enterprise's name.
    pub label: String,
    /// Recommended (推荐).
    pub recommended: u64,
    /// Interviewed (已面试).
    pub interviewed: u64,
    /// Hired (已录用).
    pub hired: u64,
    /// Rejected by the employer (未录用).
    pub rejected: u64,
    /// Withdrawn (撤回).
    pub withdrawn: u64,
    /// All of the row.
    pub total: u64,
}

impl OutcomeRow {
    fn add(&mut self, status: &str) {
        match status {
            "recommended" => self.recommended += 1,
            "interviewed" => self.interviewed += 1,
            "hired" => self.hired += 1,
            "rejected" => self.rejected += 1,
            "withdrawn" => self.withdrawn += 1,
            _ => return,
        }
        self.total += 1;
    }

    /// The counts in [`OUTCOMES`] order.
    pub fn counts(&self) -> [u64; 5] {
        [
            self.recommended,
            self.interviewed,
            self.hired,
            self.rejected,
            self.withdrawn,
        ]
    }
}

/// The referrals section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct ReferralStats {
    /// Records read from the connectors.
    pub read: u64,
    /// Soft-deleted in the system: not counted.
    pub deleted: u64,
    /// Breaking the `referral` schema: not counted.
    pub invalid: u64,
    /// Of job seekers who are not Zhenfeng workers (not in the workers section): not counted.
    /// `None` when no workers sync is loaded (then every referral counts).
    pub not_zhenfeng_workers: Option<u64>,
    /// Counted, by outcome (label `合计 all`).
    pub all: OutcomeRow,
    /// By the posting's enterprise: most first, then by name.
    pub by_enterprise: Vec<OutcomeRow>,
}

/// Where a section's figures came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SourceNote {
    /// The section.
    pub section: Section,
    /// `sync NAME` (settled records in the state store) or `PLUGIN/STREAM` (read now).
    pub from: String,
    /// Links or records visited.
    pub visited: u64,
    /// Counted.
    pub counted: u64,
    /// Never settled (no base: a dead letter, a refused record), not counted.
    pub unsettled: u64,
    /// Ended (soft-deleted on a side), not counted.
    pub ended: u64,
}

/// The statistics, every section asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Statistics {
    /// When they were made (RFC 3339, UTC).
    pub generated_at: String,
    /// The zone of the months (`[hub] timezone`).
    pub zone: String,
    /// Where each section came from, one entry per sync or stream.
    pub sources: Vec<SourceNote>,
    /// Sections asked for that no loaded sync or connector provides, with why.
    pub missing: Vec<String>,
    /// Workers, if asked for and provided.
    pub workers: Option<WorkerStats>,
    /// Secondments, if asked for and provided.
    pub secondments: Option<SecondmentStats>,
    /// Job postings, if asked for and provided.
    pub job_postings: Option<PostingStats>,
    /// Referrals, if asked for and provided.
    pub referrals: Option<ReferralStats>,
}

// ---------------------------------------------------------------------------------------------
// The computations: records in, figures out.

fn text_at<'a>(record: &'a Value, pointer: &str) -> Option<&'a str> {
    record
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Counts sorted most first, then by label.
fn by_count_then_label(counts: HashMap<String, u64>) -> Vec<Count> {
    let mut out: Vec<Count> = counts
        .into_iter()
        .map(|(label, count)| Count { label, count })
        .collect();
    out.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.label.cmp(&y.label)));
    out
}

/// A worker as the statistics see it: the settled record and, if it shows the worker returned
/// home, when (the update time of the system holding the record so, RFC 3339).
#[derive(Debug, Clone)]
pub struct WorkerRecord {
    /// The settled record (schema `worker`).
    pub record: Value,
    /// When the worker came home, if the record says so.
    pub returned_at: Option<String>,
}

/// The workers section of these records (see [`WorkerStats`]); months in `zone`.
pub fn worker_stats(workers: &[WorkerRecord], zone: chrono_tz::Tz) -> WorkerStats {
    let mut status: HashMap<String, u64> = HashMap::new();
    let mut employers: HashMap<String, u64> = HashMap::new();
    let mut employed_unnamed = 0;
    let mut townships: HashMap<String, u64> = HashMap::new();
    let mut months: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for w in workers {
        let r = &w.record;
        let s = text_at(r, "/status").unwrap_or("").to_string();
        if s == "employed" {
            match text_at(r, "/employer/name").or_else(|| text_at(r, "/employer/uscc")) {
                Some(e) => *employers.entry(e.to_string()).or_default() += 1,
                None => employed_unnamed += 1,
            }
        }
        *status.entry(s).or_default() += 1;
        let town = text_at(r, "/hometownTownship").unwrap_or("");
        *townships.entry(town.to_string()).or_default() += 1;
        if let Some(month) = text_at(r, "/registeredOn").and_then(|d| d.get(..7)) {
            months.entry(month.to_string()).or_default().0 += 1;
        }
        if let Some(month) = w.returned_at.as_deref().and_then(|t| month_in(t, zone)) {
            months.entry(month).or_default().1 += 1;
        }
    }
    let mut by_status: Vec<Count> = WORKER_STATUSES
        .iter()
        .map(|(v, label)| Count {
            label: label.to_string(),
            count: status.remove(*v).unwrap_or(0),
        })
        .collect();
    by_status.extend(by_count_then_label(status).into_iter().map(|c| Count {
        label: if c.label.is_empty() {
            "未填 not given".into()
        } else {
            c.label
        },
        ..c
    }));
    let ranked = by_count_then_label(employers);
    let mut by_employer: Vec<Count> = ranked.iter().take(TOP_EMPLOYERS).cloned().collect();
    let rest = &ranked[ranked.len().min(TOP_EMPLOYERS)..];
    if !rest.is_empty() {
        by_employer.push(Count {
            label: format!("其他 {} 家 the other {} employers", rest.len(), rest.len()),
            count: rest.iter().map(|c| c.count).sum(),
        });
    }
    if employed_unnamed > 0 {
        by_employer.push(Count {
            label: "未填单位 employer not given".into(),
            count: employed_unnamed,
        });
    }
    let unnamed_towns = townships.remove("");
    let mut by_township = by_count_then_label(townships);
    if let Some(n) = unnamed_towns {
        by_township.push(Count {
            label: "未填 not given".into(),
            count: n,
        });
    }
    WorkerStats {
        total: workers.len() as u64,
        by_status,
        by_employer,
        by_township,
        by_month: months
            .into_iter()
            .map(|(month, (new, returned))| MonthRow {
                month,
                new,
                returned,
            })
            .collect(),
    }
}

/// The month (`YYYY-MM`) of an RFC 3339 instant in `zone`; `None` for other text.
pub fn month_in(rfc3339: &str, zone: chrono_tz::Tz) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.with_timezone(&zone).format("%Y-%m").to_string())
}

/// The secondments section of these settled records (schema `secondment`).
pub fn secondment_stats(stays: &[Value]) -> SecondmentStats {
    let mut all = StayRow {
        label: "合计 all".into(),
        ..StayRow::default()
    };
    let mut facilities: BTreeMap<String, StayRow> = BTreeMap::new();
    let mut batches: BTreeMap<i64, StayRow> = BTreeMap::new();
    let mut people: HashSet<&str> = HashSet::new();
    let add = |row: &mut StayRow, status: Option<&str>| {
        match status {
            Some("planned") => row.planned += 1,
            Some("serving") => row.serving += 1,
            Some("completed") => row.completed += 1,
            _ => {}
        }
        row.total += 1;
    };
    for s in stays {
        let status = text_at(s, "/status");
        if let Some(id) = text_at(s, "/practitioner/idNumber") {
            people.insert(id);
        }
        add(&mut all, status);
        let facility = text_at(s, "/organization/name").unwrap_or("未填 not given");
        add(
            facilities
                .entry(facility.to_string())
                .or_insert_with(|| StayRow {
                    label: facility.to_string(),
                    ..StayRow::default()
                }),
            status,
        );
        let batch = s.pointer("/batch").and_then(Value::as_i64).unwrap_or(0);
        add(
            batches.entry(batch).or_insert_with(|| StayRow {
                label: format!("第{batch}批 batch {batch}"),
                ..StayRow::default()
            }),
            status,
        );
    }
    SecondmentStats {
        stays: stays.len() as u64,
        clinicians: people.len() as u64,
        all,
        by_facility: facilities.into_values().collect(),
        by_batch: batches.into_values().collect(),
    }
}

/// The job-postings section of these settled records (schema `job-posting`).
pub fn posting_stats(postings: &[Value]) -> PostingStats {
    let mut all = PostingRow {
        label: "合计 all".into(),
        ..PostingRow::default()
    };
    let mut firms: HashMap<String, PostingRow> = HashMap::new();
    for p in postings {
        let firm = text_at(p, "/hiringOrganization/name")
            .or_else(|| text_at(p, "/hiringOrganization/uscc"))
            .unwrap_or("未填 not given");
        let row = firms.entry(firm.to_string()).or_insert_with(|| PostingRow {
            label: firm.to_string(),
            ..PostingRow::default()
        });
        let heads = p
            .pointer("/totalJobOpenings")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        for r in [&mut all, row] {
            if text_at(p, "/status") == Some("open") {
                r.open += 1;
                r.headcount_open += heads;
            } else {
                r.closed += 1;
                r.headcount_closed += heads;
            }
        }
    }
    let mut by_enterprise: Vec<PostingRow> = firms.into_values().collect();
    by_enterprise.sort_by(|x, y| {
        (y.open + y.closed)
            .cmp(&(x.open + x.closed))
            .then_with(|| x.label.cmp(&y.label))
    });
    PostingStats { all, by_enterprise }
}

/// A referral read from a connector: the record and whether the system soft-deleted it.
#[derive(Debug, Clone)]
pub struct ReferralRecord {
    /// The record (schema `referral`), valid.
    pub record: Value,
    /// Soft-deleted in the system.
    pub deleted: bool,
}

/// The key of a posting, as a referral names it: (`identifier.propertyID`, `identifier.value`).
fn posting_key(record: &Value, identifier: &str) -> Option<(String, String)> {
    Some((
        text_at(record, &format!("{identifier}/propertyID"))?.to_string(),
        text_at(record, &format!("{identifier}/value"))?.to_string(),
    ))
}

/// Whether referral `r` is of a worker whose identity number (GB 11643-1999, normalised) is in
/// `zhenfeng` (every referral when `None`).
fn of_a_zhenfeng_worker(r: &ReferralRecord, zhenfeng: Option<&HashSet<String>>) -> bool {
    zhenfeng.is_none_or(|known| {
        let id = text_at(&r.record, "/worker/idNumber")
            .map(hub_schemas::id_number::normalise)
            .unwrap_or_default();
        known.contains(&id)
    })
}

/// The referrals section: `referrals` read (valid ones; `invalid` counted by the caller),
/// counted when their worker's identity number is in `zhenfeng` (all when `None`), each under
/// the enterprise of its posting in `postings` (settled `job-posting` records).
pub fn referral_stats(
    referrals: &[ReferralRecord],
    invalid: u64,
    zhenfeng: Option<&HashSet<String>>,
    postings: &[Value],
) -> ReferralStats {
    let firm_of: HashMap<(String, String), &str> = postings
        .iter()
        .filter_map(|p| {
            let firm = text_at(p, "/hiringOrganization/name")
                .or_else(|| text_at(p, "/hiringOrganization/uscc"))?;
            Some((posting_key(p, "/identifier")?, firm))
        })
        .collect();
    let mut out = ReferralStats {
        read: referrals.len() as u64 + invalid,
        invalid,
        not_zhenfeng_workers: zhenfeng.map(|_| 0),
        all: OutcomeRow {
            label: "合计 all".into(),
            ..OutcomeRow::default()
        },
        ..ReferralStats::default()
    };
    let mut firms: HashMap<String, OutcomeRow> = HashMap::new();
    for r in referrals {
        if r.deleted {
            out.deleted += 1;
            continue;
        }
        if !of_a_zhenfeng_worker(r, zhenfeng) {
            if let Some(n) = out.not_zhenfeng_workers.as_mut() {
                *n += 1;
            }
            continue;
        }
        let status = text_at(&r.record, "/status").unwrap_or("");
        out.all.add(status);
        let firm = posting_key(&r.record, "/jobPosting/identifier")
            .and_then(|k| firm_of.get(&k).copied())
            .unwrap_or("未知岗位 unknown posting");
        firms
            .entry(firm.to_string())
            .or_insert_with(|| OutcomeRow {
                label: firm.to_string(),
                ..OutcomeRow::default()
            })
            .add(status);
    }
    let mut by_enterprise: Vec<OutcomeRow> = firms.into_values().collect();
    by_enterprise.sort_by(|x, y| y.total.cmp(&x.total).then_with(|| x.label.cmp(&y.label)));
    out.by_enterprise = by_enterprise;
    out
}

// ---------------------------------------------------------------------------------------------
// Reading the sources.

/// What the statistics read: the state store (with the state keys that open its links), the
/// loaded syncs, and the connectors that may carry referrals.
#[derive(Clone)]
pub struct Statistician {
    /// The state store (only read).
    pub store: Store,
    /// The state keys (to open the links' sealed records).
    pub keys: Keys,
    /// The syncs that loaded, by name.
    pub specs: BTreeMap<String, SyncSpec>,
    /// Loaded plugins besides the syncs' own (their streams of schema `referral` are read).
    pub plugins: Vec<Arc<Plugin>>,
    /// The deployment's zone, for months.
    pub zone: chrono_tz::Tz,
}

impl Statistician {
    /// The statistics of a built deployment: its store and state keys, its loaded syncs and
    /// plugins, its zone.
    pub fn of_hub(hub: &crate::daemon::Hub) -> Statistician {
        Statistician {
            store: hub.engine.store().clone(),
            keys: hub.engine.keys().clone(),
            specs: hub
                .syncs
                .iter()
                .map(|(n, s)| (n.clone(), s.spec.clone()))
                .collect(),
            plugins: hub.plugins.values().cloned().collect(),
            zone: hub.config.zone(),
        }
    }
}

/// The settled records of one sync and what was skipped.
struct SyncRead {
    records: Vec<(String, Value, Link)>,
    note: SourceNote,
}

impl Statistician {
    /// The statistics of `sections` (all when empty). Reads the state store and, for
    /// referrals, the connectors; writes nothing.
    ///
    /// # Errors
    /// A state store that cannot be read, a link that does not open with the state key (naming
    /// the sync), a referrals connector that cannot connect or read (naming it).
    pub async fn statistics(&self, sections: &[Section]) -> anyhow::Result<Statistics> {
        let want = |s: Section| sections.is_empty() || sections.contains(&s);
        let mut out = Statistics {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            zone: self.zone.name().to_string(),
            sources: Vec::new(),
            missing: Vec::new(),
            workers: None,
            secondments: None,
            job_postings: None,
            referrals: None,
        };
        // Referrals need the workers (who is a Zhenfeng worker) and the postings (enterprises).
        let need_workers = want(Section::Workers) || want(Section::Referrals);
        let need_postings = want(Section::JobPostings) || want(Section::Referrals);
        let workers = if need_workers {
            self.settled(Section::Workers, &mut out).await?
        } else {
            None
        };
        let postings = if need_postings {
            self.settled(Section::JobPostings, &mut out).await?
        } else {
            None
        };
        if want(Section::Workers)
            && let Some(w) = &workers
        {
            let rows: Vec<WorkerRecord> = w
                .iter()
                .map(|(_, record, link)| {
                    let mut record = record.clone();
                    if let Some(s) = finer_status(&record, link) {
                        record["status"] = Value::String(s);
                    }
                    WorkerRecord {
                        returned_at: returned_at(link),
                        record,
                    }
                })
                .collect();
            out.workers = Some(worker_stats(&rows, self.zone));
        }
        if want(Section::Secondments)
            && let Some(s) = self.settled(Section::Secondments, &mut out).await?
        {
            let stays: Vec<Value> = s.into_iter().map(|(_, r, _)| r).collect();
            out.secondments = Some(secondment_stats(&stays));
        }
        let have_postings = postings.is_some();
        let posting_records: Vec<Value> = postings
            .map(|p| p.into_iter().map(|(_, r, _)| r).collect())
            .unwrap_or_default();
        if want(Section::JobPostings) && have_postings {
            out.job_postings = Some(posting_stats(&posting_records));
        }
        if want(Section::Referrals) {
            let zhenfeng: Option<HashSet<String>> = workers.as_ref().map(|w| {
                w.iter()
                    .filter_map(|(_, r, _)| text_at(r, "/idNumber"))
                    .map(hub_schemas::id_number::normalise)
                    .collect()
            });
            out.referrals = self
                .referrals(zhenfeng.as_ref(), &posting_records, &mut out)
                .await?;
        }
        // Only the sections asked for are reported; the ones read for referrals are not.
        out.sources.retain(|s| want(s.section));
        out.missing.retain(|m| {
            Section::ALL
                .iter()
                .any(|s| want(*s) && m.starts_with(s.as_str()))
        });
        Ok(out)
    }

    /// The settled records of every loaded sync of the section's schema, keys held by two such
    /// syncs once (the first sync by name); `None` (and a line in `missing`) when there is no
    /// such sync.
    async fn settled(
        &self,
        section: Section,
        out: &mut Statistics,
    ) -> anyhow::Result<Option<Vec<(String, Value, Link)>>> {
        let syncs: Vec<&SyncSpec> = self
            .specs
            .values()
            .filter(|s| s.schema.name == section.schema())
            .collect();
        if syncs.is_empty() {
            out.missing.push(format!(
                "{}: no loaded sync has schema {}",
                section.as_str(),
                section.schema()
            ));
            return Ok(None);
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut all = Vec::new();
        for spec in syncs {
            let read = self.read_sync(section, spec).await?;
            let mut note = read.note;
            for (key, record, link) in read.records {
                if seen.insert(key.clone()) {
                    all.push((key, record, link));
                } else {
                    note.counted -= 1;
                }
            }
            out.sources.push(note);
        }
        Ok(Some(all))
    }

    /// Every link of `spec`, opened: the base of each settled key that is not ended.
    async fn read_sync(&self, section: Section, spec: &SyncSpec) -> anyhow::Result<SyncRead> {
        let mut note = SourceNote {
            section,
            from: format!("sync {}", spec.name),
            visited: 0,
            counted: 0,
            unsettled: 0,
            ended: 0,
        };
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .links_after(&spec.name, after.as_deref(), PAGE)
                .await
                .with_context(|| format!("reading the links of sync {}", spec.name))?;
            let Some(last) = page.last() else { break };
            after = Some(last.key_hash.clone());
            for mut link in page {
                note.visited += 1;
                crate::sync::link_seal::unseal(&self.keys, &spec.name, &mut link).map_err(
                    |_| {
                        anyhow::anyhow!(
                            "sync {}: a link's records do not open with this state key (another key, or an altered row)",
                            spec.name
                        )
                    },
                )?;
                if link.a.deleted || link.b.deleted {
                    note.ended += 1;
                    continue;
                }
                let Some(base) = link.base.as_deref() else {
                    note.unsettled += 1;
                    continue;
                };
                let record: Value = serde_json::from_slice(base)
                    .with_context(|| format!("sync {}: a settled record is not JSON", spec.name))?;
                note.counted += 1;
                records.push((link.key_hash.clone(), record, link));
            }
        }
        Ok(SyncRead { records, note })
    }

    /// The referrals section, read now from every loaded connector stream of schema
    /// `referral`; `None` (and a line in `missing`) when there is none.
    async fn referrals(
        &self,
        zhenfeng: Option<&HashSet<String>>,
        postings: &[Value],
        out: &mut Statistics,
    ) -> anyhow::Result<Option<ReferralStats>> {
        let readers = self.referral_streams();
        if readers.is_empty() {
            out.missing.push(
                "referrals: no loaded connector has a readable stream of schema referral".into(),
            );
            return Ok(None);
        }
        let schema = crate::schema::Catalogue::builtin()?.get("referral")?;
        let mut records = Vec::new();
        let mut invalid = 0;
        for (plugin, stream) in readers {
            let (read, bad) = read_stream(&plugin, &stream, &schema).await?;
            out.sources.push(SourceNote {
                section: Section::Referrals,
                from: format!("{}/{stream}", plugin.name),
                visited: (read.len() as u64) + bad,
                // As the section counts them: not deleted, of a Zhenfeng worker.
                counted: read
                    .iter()
                    .filter(|r| !r.deleted && of_a_zhenfeng_worker(r, zhenfeng))
                    .count() as u64,
                unsettled: 0,
                ended: read.iter().filter(|r| r.deleted).count() as u64,
            });
            records.extend(read);
            invalid += bad;
        }
        Ok(Some(referral_stats(&records, invalid, zhenfeng, postings)))
    }

    /// The (plugin, stream) pairs of schema `referral` that can be read, among the syncs'
    /// plugins and the others given, each plugin once.
    fn referral_streams(&self) -> Vec<(Arc<Plugin>, String)> {
        let mut seen: HashSet<String> = HashSet::new();
        let plugins = self
            .specs
            .values()
            .flat_map(|s| [s.a.plugin.clone(), s.b.plugin.clone()])
            .chain(self.plugins.iter().cloned());
        let mut out = Vec::new();
        for p in plugins {
            if !seen.insert(p.name.clone()) {
                continue;
            }
            for s in &p.manifest().streams {
                if s.schema == Section::Referrals.schema() && s.can_read {
                    out.push((p.clone(), s.name.clone()));
                }
            }
        }
        out
    }
}

/// A side's own record of the link as it settled (its settled record, else its snapshot).
fn side_record(s: &crate::store::SideState) -> Option<Value> {
    s.settled
        .as_deref()
        .or(s.snapshot.as_deref())
        .and_then(|b| serde_json::from_slice(b).ok())
}

/// The finer status a side holds where the settled record says `left`: HY-ESMS has no code for
/// the registry's `returned_home` (务工状态 3) and `lost_contact` (9) and holds `left` for both,
/// and a record that ended on one side takes the other side's end form (the workers sync's
/// `[deletes]`), so the settled record of a resident who came home may say `left` while the
/// registry says `returned_home`: the statistics keep the registry's word. `None`: the settled
/// status stands.
pub fn finer_status(record: &Value, link: &Link) -> Option<String> {
    if text_at(record, "/status") != Some("left") {
        return None;
    }
    [&link.a, &link.b]
        .into_iter()
        .filter_map(side_record)
        .filter_map(|r| text_at(&r, "/status").map(str::to_string))
        .find(|s| s == "returned_home" || s == "lost_contact")
}

/// When the worker of this link came home, if a side's record says `returned_home`: that
/// side's update time (the latest such, should both).
pub fn returned_at(link: &Link) -> Option<String> {
    [&link.a, &link.b]
        .into_iter()
        .filter(|s| side_record(s).is_some_and(|r| text_at(&r, "/status") == Some("returned_home")))
        .filter_map(|s| s.updated_at.clone())
        .max_by_key(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MIN)
        })
}

/// Reads `stream` of `plugin` whole, from the beginning: the valid records and how many broke
/// `schema`. Errors: a connection or a read that fails, a read that stops moving (naming the
/// plugin).
async fn read_stream(
    plugin: &Plugin,
    stream: &str,
    schema: &crate::schema::Schema,
) -> anyhow::Result<(Vec<ReferralRecord>, u64)> {
    let mut session = plugin
        .connect()
        .await
        .with_context(|| format!("{}: cannot connect to read {stream}", plugin.name))?;
    let mut cursor: Option<String> = None;
    let (mut out, mut invalid, mut idle) = (Vec::new(), 0, 0);
    loop {
        let batch = session
            .read(stream, cursor.as_deref(), READ_BATCH)
            .await
            .with_context(|| format!("{}: reading stream {stream}", plugin.name))?;
        let n = batch.records.len();
        for r in batch.records {
            if schema.is_valid(&r.data) {
                out.push(ReferralRecord {
                    record: r.data,
                    deleted: r.deleted,
                });
            } else {
                invalid += 1;
            }
        }
        if !batch.more {
            return Ok((out, invalid));
        }
        let next = batch.cursor.or(cursor.clone());
        idle = if n == 0 && next == cursor {
            idle + 1
        } else {
            0
        };
        if idle >= 3 {
            anyhow::bail!(
                "{}: stream {stream} said more records wait three times without giving any or moving its cursor",
                plugin.name
            );
        }
        cursor = next;
    }
}

// ---------------------------------------------------------------------------------------------
// For people and spreadsheets.

/// Columns a label takes in a terminal: two for a CJK character, one otherwise.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `s` padded with spaces to `w` terminal columns.
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// A table: a header and rows of cells, the first `left` columns left-aligned, the others right.
fn table_aligned(out: &mut String, header: &[&str], rows: &[Vec<String>], left: usize) {
    let cols = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            w[i] = w[i].max(width(c));
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                s.push_str(&pad(c, w[0]));
            } else if i < left {
                s.push_str("  ");
                s.push_str(&pad(c, w[i]));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(w[i].saturating_sub(width(c))));
                s.push_str(c);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header.iter().map(|h| h.to_string()).collect()));
    for r in rows {
        out.push_str(&line(r.clone()));
    }
}

/// A table whose first column is left-aligned, the others right ([`table_aligned`]).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    table_aligned(out, header, rows, 1);
}

/// A count grouped in thousands for people (`1,322`).
fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One row of the long CSV form: section, dimension, item, measure, count.
type CsvRow = (&'static str, &'static str, String, &'static str, u64);

impl Statistics {
    /// The statistics for people: a block per section, labels in Chinese with English beside,
    /// then where the figures came from.
    pub fn text(&self) -> String {
        let mut s = format!(
            "数据统计 Statistics  ({}, {})\n",
            crate::local_time::for_people(&self.generated_at, self.zone()),
            self.zone
        );
        let counts = |rows: &[Count]| -> Vec<Vec<String>> {
            rows.iter()
                .map(|c| vec![c.label.clone(), n(c.count)])
                .collect()
        };
        if let Some(w) = &self.workers {
            s.push_str(&format!("\n{}: {}\n", Section::Workers.label(), n(w.total)));
            s.push_str(" 按务工状态 by employment status\n");
            table(
                &mut s,
                &["状态 status", "人数 workers"],
                &counts(&w.by_status),
            );
            s.push_str(&format!(
                " 按用工单位 by employer (在岗 employed; top {TOP_EMPLOYERS} and the rest)\n"
            ));
            table(
                &mut s,
                &["单位 employer", "人数 workers"],
                &counts(&w.by_employer),
            );
            s.push_str(" 按户籍乡镇 by hometown township\n");
            table(
                &mut s,
                &["乡镇 township", "人数 workers"],
                &counts(&w.by_township),
            );
            s.push_str(" 按月 per month (新增: 登记日期 registered; 返乡: returned home)\n");
            let rows: Vec<Vec<String>> = w
                .by_month
                .iter()
                .map(|m| vec![m.month.clone(), n(m.new), n(m.returned)])
                .collect();
            table(&mut s, &["月份 month", "新增 new", "返乡 returned"], &rows);
        }
        if let Some(sd) = &self.secondments {
            s.push_str(&format!(
                "\n{}: {} 人次 stays, {} 人 clinicians\n",
                Section::Secondments.label(),
                n(sd.stays),
                n(sd.clinicians)
            ));
            let header = [
                "",
                "计划 planned",
                "在岗 serving",
                "已完成 completed",
                "合计 total",
            ];
            let rows = |rows: &[StayRow]| -> Vec<Vec<String>> {
                rows.iter()
                    .map(|r| {
                        vec![
                            r.label.clone(),
                            n(r.planned),
                            n(r.serving),
                            n(r.completed),
                            n(r.total),
                        ]
                    })
                    .collect()
            };
            s.push_str(" 按派驻医院 by host facility\n");
            let mut h = header;
            h[0] = "派驻医院 host facility";
            let mut body = rows(&sd.by_facility);
            body.extend(rows(std::slice::from_ref(&sd.all)));
            table(&mut s, &h, &body);
            s.push_str(" 按批次 by batch\n");
            h[0] = "批次 batch";
            table(&mut s, &h, &rows(&sd.by_batch));
        }
        if let Some(p) = &self.job_postings {
            s.push_str(&format!(
                "\n{}: {} 个 postings ({} 开放 open, {} 关闭 closed)\n",
                Section::JobPostings.label(),
                n(p.all.open + p.all.closed),
                n(p.all.open),
                n(p.all.closed)
            ));
            s.push_str(" 按企业 by enterprise\n");
            let mut body: Vec<Vec<String>> = p
                .by_enterprise
                .iter()
                .chain(std::iter::once(&p.all))
                .map(|r| {
                    vec![
                        r.label.clone(),
                        n(r.open),
                        n(r.headcount_open),
                        n(r.closed),
                        n(r.headcount_closed),
                    ]
                })
                .collect();
            body.shrink_to_fit();
            table(
                &mut s,
                &[
                    "企业 enterprise",
                    "开放 open",
                    "招聘人数 headcount",
                    "关闭 closed",
                    "招聘人数 headcount",
                ],
                &body,
            );
        }
        if let Some(r) = &self.referrals {
            let others = r
                .not_zhenfeng_workers
                .map(|o| format!(", {} 非贞丰务工人员 not Zhenfeng workers", n(o)))
                .unwrap_or_default();
            s.push_str(&format!(
                "\n{}: {} 条 counted (读取 read {}, 已删除 deleted {}, 无效 invalid {}{others})\n",
                Section::Referrals.label(),
                n(r.all.total),
                n(r.read),
                n(r.deleted),
                n(r.invalid)
            ));
            s.push_str(" 按结果 by outcome\n");
            let rows: Vec<Vec<String>> = OUTCOMES
                .iter()
                .zip(r.all.counts())
                .map(|((_, label), c)| vec![label.to_string(), n(c)])
                .collect();
            table(&mut s, &["结果 outcome", "人次 referrals"], &rows);
            s.push_str(" 按企业 by enterprise\n");
            let mut header = vec!["企业 enterprise"];
            header.extend(OUTCOMES.iter().map(|(_, l)| *l));
            header.push("合计 total");
            let rows: Vec<Vec<String>> = r
                .by_enterprise
                .iter()
                .chain(std::iter::once(&r.all))
                .map(|row| {
                    let mut cells = vec![row.label.clone()];
                    cells.extend(row.counts().into_iter().map(n));
                    cells.push(n(row.total));
                    cells
                })
                .collect();
            table(&mut s, &header, &rows);
        }
        s.push_str("\n来源 Sources\n");
        let rows: Vec<Vec<String>> = self
            .sources
            .iter()
            .map(|src| {
                vec![
                    src.section.as_str().to_string(),
                    src.from.clone(),
                    n(src.visited),
                    n(src.counted),
                    n(src.unsettled),
                    n(src.ended),
                ]
            })
            .collect();
        table_aligned(
            &mut s,
            &[
                "部分 section",
                "来自 from",
                "读取 visited",
                "计入 counted",
                "未同步 unsettled",
                "已结束 ended",
            ],
            &rows,
            2,
        );
        for m in &self.missing {
            s.push_str(&format!("  缺少 missing: {m}\n"));
        }
        s
    }

    fn zone(&self) -> chrono_tz::Tz {
        self.zone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

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
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
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

#[cfg(test)]
mod tests;
