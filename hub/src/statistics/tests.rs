//! One test per computation, on records whose figures are worked out by hand in the comments.

use super::*;
use crate::store::Link;
use serde_json::{Value, json};
use std::collections::HashSet;

fn shanghai() -> chrono_tz::Tz {
    chrono_tz::Asia::Shanghai
}

fn worker(status: &str, employer: Option<&str>, town: Option<&str>, registered: &str) -> Value {
    json!({
        "idNumber": "522325199001010011", "name": "x", "gender": "male", "status": status,
        "employer": employer.map(|e| json!({"name": e})), "hometownTownship": town,
        "registeredOn": registered
    })
}

#[test]
fn workers_by_status_employer_township_and_month() {
    let w = |r: Value, back: Option<&str>| WorkerRecord {
        record: r,
        returned_at: back.map(str::to_string),
    };
    let workers = vec![
        w(
            worker("employed", Some("甲厂"), Some("珉谷街道"), "2021-03-05"),
            None,
        ),
        w(
            worker("employed", Some("甲厂"), Some("珉谷街道"), "2021-03-20"),
            None,
        ),
        w(
            worker("employed", Some("乙厂"), Some("者相镇"), "2021-04-01"),
            None,
        ),
        w(worker("employed", None, None, "2021-04-30"), None),
        w(
            worker("seeking", Some("甲厂"), Some("者相镇"), "2021-04-02"),
            None,
        ),
        // Came home at 2021-05-31 17:00 UTC, which is 2021-06-01 01:00 in Shanghai: June.
        w(
            worker("returned_home", None, Some("珉谷街道"), "2020-12-31"),
            Some("2021-05-31T17:00:00Z"),
        ),
    ];
    let s = worker_stats(&workers, shanghai());
    assert_eq!(s.total, 6);
    let counts = |rows: &[Count]| -> Vec<(String, u64)> {
        rows.iter().map(|c| (c.label.clone(), c.count)).collect()
    };
    // employed 4, seeking 1, returned_home 1, the other two statuses 0, in schema order.
    assert_eq!(
        counts(&s.by_status),
        [
            ("在岗 employed".to_string(), 4),
            ("待业 seeking".into(), 1),
            ("返乡 returned home".into(), 1),
            ("失联 lost contact".into(), 0),
            ("离职 left".into(), 0),
        ]
    );
    // The employed only: 甲厂 2 (the seeking worker's 甲厂 does not count), 乙厂 1, one with
    // no employer given.
    assert_eq!(
        counts(&s.by_employer),
        [
            ("甲厂".to_string(), 2),
            ("乙厂".into(), 1),
            ("未填单位 employer not given".into(), 1)
        ]
    );
    // 珉谷街道 3, 者相镇 2, not given 1 (last).
    assert_eq!(
        counts(&s.by_township),
        [
            ("珉谷街道".to_string(), 3),
            ("者相镇".into(), 2),
            ("未填 not given".into(), 1)
        ]
    );
    // New: 2020-12 1, 2021-03 2, 2021-04 3; returned: 2021-06 1.
    let months: Vec<(&str, u64, u64)> = s
        .by_month
        .iter()
        .map(|m| (m.month.as_str(), m.new, m.returned))
        .collect();
    assert_eq!(
        months,
        [
            ("2020-12", 1, 0),
            ("2021-03", 2, 0),
            ("2021-04", 3, 0),
            ("2021-06", 0, 1)
        ]
    );
}

#[test]
fn employers_past_the_top_twenty_are_summed_as_the_rest() {
    // Employer k (1..=23) employs k workers: the top 20 are 23 down to 4; the rest are
    // employers 3, 2 and 1 with 3 + 2 + 1 = 6 workers.
    let mut workers = Vec::new();
    for k in 1..=23u32 {
        for _ in 0..k {
            workers.push(WorkerRecord {
                record: worker("employed", Some(&format!("厂{k:02}")), None, "2021-01-01"),
                returned_at: None,
            });
        }
    }
    let s = worker_stats(&workers, shanghai());
    assert_eq!(s.by_employer.len(), 21);
    assert_eq!(
        (s.by_employer[0].label.as_str(), s.by_employer[0].count),
        ("厂23", 23)
    );
    assert_eq!(
        (s.by_employer[19].label.as_str(), s.by_employer[19].count),
        ("厂04", 4)
    );
    assert_eq!(
        (s.by_employer[20].label.as_str(), s.by_employer[20].count),
        ("其他 3 家 the other 3 employers", 6)
    );
    assert_eq!(s.total, 276, "1 + 2 + … + 23");
}

#[test]
fn a_worker_returned_when_a_side_holds_returned_home_at_that_sides_time() {
    let mut link = Link::new("k".into());
    link.a.snapshot = Some(br#"{"status":"returned_home"}"#.to_vec());
    link.a.updated_at = Some("2021-08-03T10:00:00+08:00".into());
    link.b.snapshot = Some(br#"{"status":"left"}"#.to_vec());
    link.b.updated_at = Some("2026-12-01T00:00:00Z".into());
    assert_eq!(
        returned_at(&link).as_deref(),
        Some("2021-08-03T10:00:00+08:00")
    );
    // The settled record, when there is one, is what the side agreed to.
    link.a.settled = Some(br#"{"status":"employed"}"#.to_vec());
    assert_eq!(returned_at(&link), None);
    assert_eq!(
        month_in("2021-08-31T16:30:00Z", shanghai()).as_deref(),
        Some("2021-09")
    );
    assert_eq!(month_in("not a time", shanghai()), None);
}

#[test]
fn a_settled_left_keeps_the_registrys_finer_status() {
    // ZF-REG (a) holds returned_home, HY-ESMS (b) left, the settled record left: returned_home.
    let mut link = Link::new("k".into());
    link.a.snapshot = Some(br#"{"status":"returned_home"}"#.to_vec());
    link.b.snapshot = Some(br#"{"status":"left"}"#.to_vec());
    let left = json!({"status": "left"});
    assert_eq!(finer_status(&left, &link).as_deref(), Some("returned_home"));
    // lost_contact likewise; employed on a side changes nothing.
    link.a.snapshot = Some(br#"{"status":"lost_contact"}"#.to_vec());
    assert_eq!(finer_status(&left, &link).as_deref(), Some("lost_contact"));
    link.a.snapshot = Some(br#"{"status":"employed"}"#.to_vec());
    assert_eq!(finer_status(&left, &link), None);
    // A settled status other than left stands.
    link.a.snapshot = Some(br#"{"status":"returned_home"}"#.to_vec());
    assert_eq!(finer_status(&json!({"status": "seeking"}), &link), None);
}

fn stay(id: &str, facility: &str, batch: i64, status: Option<&str>) -> Value {
    json!({"practitioner": {"idNumber": id, "name": "x"}, "organization": {"name": facility},
           "batch": batch, "period": {"start": "2021-04-15"}, "status": status, "honours": []})
}

#[test]
fn secondments_by_facility_and_batch_split_by_status() {
    // Two stays of one clinician (batches 1 and 3) count as two stays, one clinician.
    let stays = [
        stay("A", "贞丰县人民医院", 1, Some("completed")),
        stay("B", "贞丰县人民医院", 1, Some("completed")),
        stay("C", "贞丰县妇幼保健院", 2, Some("completed")),
        stay("A", "贞丰县妇幼保健院", 3, Some("serving")),
        stay("D", "贞丰县人民医院", 4, Some("planned")),
        stay("E", "贞丰县人民医院", 4, None),
    ];
    let s = secondment_stats(&stays);
    assert_eq!((s.stays, s.clinicians), (6, 5));
    let row = |r: &StayRow| (r.label.clone(), r.planned, r.serving, r.completed, r.total);
    assert_eq!(row(&s.all), ("合计 all".into(), 1, 1, 3, 6));
    // By name: 贞丰县人民医院 (人 U+4EBA) sorts before 贞丰县妇幼保健院 (妇 U+5987).
    assert_eq!(
        s.by_facility.iter().map(row).collect::<Vec<_>>(),
        [
            ("贞丰县人民医院".to_string(), 1, 0, 2, 4),
            ("贞丰县妇幼保健院".into(), 0, 1, 1, 2)
        ]
    );
    assert_eq!(
        s.by_batch.iter().map(row).collect::<Vec<_>>(),
        [
            ("第1批 batch 1".to_string(), 0, 0, 2, 2),
            ("第2批 batch 2".into(), 0, 0, 1, 1),
            ("第3批 batch 3".into(), 0, 1, 0, 1),
            ("第4批 batch 4".into(), 1, 0, 0, 2)
        ]
    );
}

fn posting(id: &str, firm: &str, heads: u64, status: &str) -> Value {
    json!({"identifier": {"propertyID": "HY-ESMS", "value": id}, "title": "普工",
           "hiringOrganization": {"name": firm, "uscc": "91441303MA4UJXXX0X"},
           "totalJobOpenings": heads, "validThrough": "2021-11-03", "status": status})
}

#[test]
fn postings_open_and_closed_by_enterprise_with_headcount() {
    let postings = [
        posting("1", "甲厂", 100, "open"),
        posting("2", "甲厂", 20, "closed"),
        posting("3", "甲厂", 5, "open"),
        posting("4", "乙厂", 40, "open"),
        posting("5", "丙厂", 10, "closed"),
        posting("6", "丙厂", 15, "closed"),
    ];
    let s = posting_stats(&postings);
    let row = |r: &PostingRow| {
        (
            r.label.clone(),
            r.open,
            r.headcount_open,
            r.closed,
            r.headcount_closed,
        )
    };
    // Open: 1, 3, 4 (100 + 5 + 40 = 145 people); closed: 2, 5, 6 (20 + 10 + 15 = 45).
    assert_eq!(row(&s.all), ("合计 all".into(), 3, 145, 3, 45));
    // 甲厂 3 postings, then 丙厂 and 乙厂 with 2 and 1.
    assert_eq!(
        s.by_enterprise.iter().map(row).collect::<Vec<_>>(),
        [
            ("甲厂".to_string(), 2, 105, 1, 20),
            ("丙厂".into(), 0, 0, 2, 25),
            ("乙厂".into(), 1, 40, 0, 0)
        ]
    );
}

fn referral(id: &str, job: &str, status: &str, deleted: bool) -> ReferralRecord {
    ReferralRecord {
        record: json!({"worker": {"idNumber": id},
                       "jobPosting": {"identifier": {"propertyID": "HY-ESMS", "value": job}},
                       "status": status}),
        deleted,
    }
}

#[test]
fn referrals_of_zhenfeng_workers_by_outcome_and_enterprise() {
    let postings = [
        posting("1", "甲厂", 100, "open"),
        posting("2", "乙厂", 20, "closed"),
    ];
    let zf: HashSet<String> = ["522325199001010011", "52232519900101002X"]
        .map(String::from)
        .into();
    let referrals = [
        referral("522325199001010011", "1", "hired", false),
        referral("522325199001010011", "2", "rejected", false),
        // A lower-case x is the same person (normalised before matching).
        referral("52232519900101002x", "1", "hired", false),
        referral("52232519900101002X", "2", "interviewed", false),
        // A posting the job-postings section does not hold.
        referral("52232519900101002X", "99", "recommended", false),
        // Deleted, and a Huiyang resident: neither counts.
        referral("522325199001010011", "1", "withdrawn", true),
        referral("441303198001010015", "1", "hired", false),
    ];
    let s = referral_stats(&referrals, 2, Some(&zf), &postings);
    assert_eq!((s.read, s.deleted, s.invalid), (9, 1, 2));
    assert_eq!(s.not_zhenfeng_workers, Some(1));
    // recommended 1, interviewed 1, hired 2, rejected 1, withdrawn 0: 5 in all.
    assert_eq!((s.all.counts(), s.all.total), ([1, 1, 2, 1, 0], 5));
    let rows: Vec<(String, [u64; 5])> = s
        .by_enterprise
        .iter()
        .map(|r| (r.label.clone(), r.counts()))
        .collect();
    assert_eq!(
        rows,
        [
            ("乙厂".to_string(), [0, 1, 0, 1, 0]),
            ("甲厂".into(), [0, 0, 2, 0, 0]),
            ("未知岗位 unknown posting".into(), [1, 0, 0, 0, 0])
        ]
    );
    // Without a workers section every referral not deleted counts.
    let all = referral_stats(&referrals, 0, None, &postings);
    assert_eq!((all.all.total, all.not_zhenfeng_workers), (6, None));
}

#[test]
fn the_csv_opens_in_excel_as_utf8_with_a_bom_or_in_gb18030() {
    let st = Statistics {
        generated_at: "2026-12-06T03:00:00Z".into(),
        zone: "Asia/Shanghai".into(),
        sources: Vec::new(),
        missing: Vec::new(),
        workers: None,
        secondments: None,
        job_postings: Some(posting_stats(&[posting("1", "甲厂", 100, "open")])),
        referrals: None,
    };
    let utf8 = st.csv(CsvEncoding::Utf8).unwrap();
    assert_eq!(&utf8[..3], b"\xEF\xBB\xBF", "the byte order mark");
    let text = std::str::from_utf8(&utf8[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "部分 section,维度 dimension,项目 item,指标 measure,数量 count"
    );
    assert_eq!(lines[1], "job-postings,enterprise,甲厂,open,1");
    assert_eq!(lines[3], "job-postings,enterprise,甲厂,headcount_open,100");
    // 4 measures for 甲厂 and 4 for all, the header, and the empty text after the last CRLF.
    assert_eq!(lines.len(), 1 + 8 + 1);
    let gb = st.csv(CsvEncoding::Gb18030).unwrap();
    // 部 is B2 BF in GB 18030 (as in GB 2312); no byte order mark.
    assert_eq!(&gb[..2], b"\xB2\xBF");
    let (back, _, bad) = encoding_rs::GB18030.decode(&gb);
    assert!(!bad);
    assert_eq!(back, text);
}

#[test]
fn sections_and_encodings_are_named_and_a_typo_is_an_error() {
    assert_eq!(Section::parse("job-postings"), Ok(Section::JobPostings));
    assert_eq!(
        Section::parse("worker"),
        Err(
            "no statistics section \"worker\" (known: workers, secondments, job-postings, referrals)"
                .into()
        )
    );
    assert_eq!(CsvEncoding::parse("gb18030"), Ok(CsvEncoding::Gb18030));
    // Charset names are case-insensitive (RFC 2978): the standard's own spelling is GB18030.
    assert_eq!(CsvEncoding::parse("GB18030"), Ok(CsvEncoding::Gb18030));
    assert_eq!(CsvEncoding::parse("UTF-8"), Ok(CsvEncoding::Utf8));
    assert_eq!(
        CsvEncoding::parse("gbk"),
        Err("no CSV encoding \"gbk\" (known: utf-8, gb18030)".into())
    );
}
