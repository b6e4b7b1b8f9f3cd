//! The computations: settled records in, figures out. Each section's figures are worked out
//! from the records alone (no store, no connector, no clock), so each can be tested on records
//! whose figures are known by hand.

use super::model::{
    Count, MonthRow, OutcomeRow, PostingRow, PostingStats, ReferralStats, SecondmentStats, StayRow,
    TOP_EMPLOYERS, WORKER_STATUSES, WorkerStats,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The trimmed, non-empty text at `pointer` in `record`, if any.
pub(super) fn text_at<'a>(record: &'a Value, pointer: &str) -> Option<&'a str> {
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
pub(super) fn of_a_zhenfeng_worker(r: &ReferralRecord, zhenfeng: Option<&HashSet<String>>) -> bool {
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
