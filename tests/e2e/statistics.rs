//! Statistics (`hub stats`, issue 19) on the demo after each sync's first run: every figure is
//! worked out here from the simulators' own data (their `/_admin/` listings, and for the
//! referrals the seed's generated data set itself), never from the hub's code; the CSV opens
//! as Excel and WPS need (UTF-8 with a byte order mark, or GB 18030); a typo in a section or an
//! encoding is an error naming the known ones; and making the statistics writes nothing.

use crate::harness::{Env, canonical_id, trimmed};
use crate::{CONFIG, writes};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The workers, job-postings and secondments syncs of the demo, each run once, then the
/// workers sync again: its first run writes employers' codes into some registry rows (a new
/// 更新时间 there), which the second reads back, so the hub holds the registry's times as the
/// registry does (a returned resident counts in the month of the row's 更新时间).
pub async fn sync_all(env: &Env) {
    for sync in ["workers", "job-postings", "secondments", "workers"] {
        env.sync_once_of(sync).await;
    }
}

/// Labelled counts, most first then by label (the order the statistics promise), as JSON.
fn ranked(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    v
}

fn count_list(rows: &[(String, u64)]) -> Value {
    Value::Array(
        rows.iter()
            .map(|(l, c)| json!({"label": l, "count": c}))
            .collect(),
    )
}

/// `2021-08-05`, `2021/8/5` or `2021年8月5日` (the registry's three forms) as `2021-08`.
fn month_of_registry_date(d: &str) -> String {
    let parts: Vec<u32> = d
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap())
        .collect();
    format!("{:04}-{:02}", parts[0], parts[1])
}

/// The statistics the demo's data must give, worked out from the simulators after the runs:
/// the registry's residents working in 441303 less the five seeded broken ones (the records
/// the workers sync settles), HY-ESMS's postings with its enterprise register, HY-ESMS's
/// secondments, and HY-ESMS's referrals (checked against the seed's own list).
pub async fn expected(env: &Env) -> Value {
    // Workers: ZF-REG's rows as they stand after the run (it wrote some employers' codes).
    let residents = env.residents_in_scope().await;
    assert_eq!(residents.len(), 1322, "sims/README.md");
    let status_label = [
        ("1", "在岗 employed"),
        ("2", "待业 seeking"),
        ("3", "返乡 returned home"),
        ("9", "失联 lost contact"),
    ];
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut employers: HashMap<String, u64> = HashMap::new();
    let mut unnamed = 0;
    let mut towns: HashMap<String, u64> = HashMap::new();
    let mut untowned = 0;
    let mut months: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in &residents {
        let s = trimmed(&r["务工状态"]).unwrap();
        *by_status.entry(s.clone()).or_default() += 1;
        if s == "1" {
            match trimmed(&r["务工单位"]).or_else(|| trimmed(&r["单位信用代码"])) {
                Some(e) => *employers.entry(e).or_default() += 1,
                None => unnamed += 1,
            }
        }
        match trimmed(&r["户籍乡镇"]) {
            Some(t) => *towns.entry(t).or_default() += 1,
            None => untowned += 1,
        }
        months
            .entry(month_of_registry_date(r["登记日期"].as_str().unwrap()))
            .or_default()
            .0 += 1;
        if s == "3" {
            // 更新时间 is China Standard Time, the demo's zone: its month as written.
            months
                .entry(r["更新时间"].as_str().unwrap()[..7].to_string())
                .or_default()
                .1 += 1;
        }
    }
    let mut status_rows: Vec<(String, u64)> = status_label
        .iter()
        .map(|(code, label)| {
            (
                label.to_string(),
                by_status.get(*code).copied().unwrap_or(0),
            )
        })
        .collect();
    status_rows.push(("离职 left".into(), 0));
    let ranked_employers = ranked(employers);
    let mut employer_rows: Vec<(String, u64)> = ranked_employers.iter().take(20).cloned().collect();
    let rest = &ranked_employers[20.min(ranked_employers.len())..];
    if !rest.is_empty() {
        employer_rows.push((
            format!("其他 {} 家 the other {} employers", rest.len(), rest.len()),
            rest.iter().map(|(_, c)| c).sum(),
        ));
    }
    if unnamed > 0 {
        employer_rows.push(("未填单位 employer not given".into(), unnamed));
    }
    let mut town_rows = ranked(towns);
    if untowned > 0 {
        town_rows.push(("未填 not given".into(), untowned));
    }
    let month_rows: Vec<Value> = months
        .iter()
        .map(|(m, (n, r))| json!({"month": m, "new": n, "returned": r}))
        .collect();

    // Job postings: HY-ESMS's jobs, each under its enterprise's registered name.
    let firms: HashMap<u64, String> = env
        .get(&env.hy, "/_admin/enterprises")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let jobs = env.get(&env.hy, "/_admin/jobs").await;
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 60, "sims/README.md: 60 postings at scale 1");
    let mut firm_of_job: HashMap<String, String> = HashMap::new();
    let mut postings: HashMap<String, [u64; 4]> = HashMap::new();
    let mut all_postings = [0u64; 4];
    for j in jobs {
        let firm = firms[&j["enterpriseId"].as_u64().unwrap()].clone();
        firm_of_job.insert(j["id"].to_string(), firm.clone());
        let heads = j["headcount"].as_u64().unwrap();
        let open = j["status"] == "open";
        for row in [postings.entry(firm).or_default(), &mut all_postings] {
            if open {
                row[0] += 1;
                row[2] += heads;
            } else {
                row[1] += 1;
                row[3] += heads;
            }
        }
    }
    let mut posting_rows: Vec<(String, [u64; 4])> = postings.into_iter().collect();
    posting_rows.sort_by(|x, y| {
        (y.1[0] + y.1[1])
            .cmp(&(x.1[0] + x.1[1]))
            .then_with(|| x.0.cmp(&y.0))
    });
    let posting_json = |label: &str, r: &[u64; 4]| json!({"label": label, "open": r[0], "closed": r[1], "headcount_open": r[2], "headcount_closed": r[3]});

    // Secondments: HY-ESMS's plan, which the first run gave the roster unchanged.
    let stays = env.get(&env.hy, "/_admin/secondments").await;
    let stays = stays.as_array().unwrap();
    assert_eq!(
        stays.len(),
        10,
        "sims/README.md: 10 clinicians in 4 batches"
    );
    let mut facility: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    let mut batch: BTreeMap<u64, [u64; 4]> = BTreeMap::new();
    let mut all_stays = [0u64; 4];
    let people: BTreeSet<&str> = stays.iter().map(|s| s["idNo"].as_str().unwrap()).collect();
    for s in stays {
        let k = match s["status"].as_str().unwrap() {
            "planned" => 0,
            "serving" => 1,
            _ => 2,
        };
        for row in [
            facility
                .entry(s["hostFacility"].as_str().unwrap().to_string())
                .or_default(),
            batch.entry(s["batch"].as_u64().unwrap()).or_default(),
            &mut all_stays,
        ] {
            row[k] += 1;
            row[3] += 1;
        }
    }
    let stay_json = |label: String, r: &[u64; 4]| json!({"label": label, "planned": r[0], "serving": r[1], "completed": r[2], "total": r[3]});

    // Referrals: HY-ESMS's, which are the seed's data set (checked), of the 1,322 residents.
    let referrals = env.get(&env.hy, "/_admin/referrals").await;
    let referrals = referrals.as_array().unwrap();
    let seeded = hub_sims::seed::generate(1, hub_sims::seed::DEFAULT_SEED).referrals;
    assert_eq!(referrals.len(), seeded.len());
    for (r, s) in referrals.iter().zip(&seeded) {
        assert_eq!(
            (
                r["workerIdNo"].as_str(),
                r["jobId"].as_u64(),
                r["status"].as_str(),
                r["deleted"].as_bool()
            ),
            (
                Some(s.worker_id_no.as_str()),
                Some(s.job_id),
                Some(s.status),
                Some(s.deleted)
            )
        );
    }
    let zhenfeng: BTreeSet<String> = residents
        .iter()
        .map(|r| canonical_id(r["身份证号"].as_str().unwrap()))
        .collect();
    let outcomes = [
        "recommended",
        "interviewed",
        "hired",
        "rejected",
        "withdrawn",
    ];
    let (mut deleted, mut others) = (0u64, 0u64);
    let mut by_firm: HashMap<String, [u64; 6]> = HashMap::new();
    let mut all_referrals = [0u64; 6];
    for r in referrals {
        if r["deleted"] == true {
            deleted += 1;
            continue;
        }
        if !zhenfeng.contains(&canonical_id(r["workerIdNo"].as_str().unwrap())) {
            others += 1;
            continue;
        }
        let k = outcomes.iter().position(|o| r["status"] == *o).unwrap();
        let firm = firm_of_job[&r["jobId"].to_string()].clone();
        for row in [by_firm.entry(firm).or_default(), &mut all_referrals] {
            row[k] += 1;
            row[5] += 1;
        }
    }
    let mut firm_rows: Vec<(String, [u64; 6])> = by_firm.into_iter().collect();
    firm_rows.sort_by(|x, y| y.1[5].cmp(&x.1[5]).then_with(|| x.0.cmp(&y.0)));
    let outcome_json = |label: &str, r: &[u64; 6]| {
        json!({"label": label, "recommended": r[0], "interviewed": r[1], "hired": r[2],
               "rejected": r[3], "withdrawn": r[4], "total": r[5]})
    };

    json!({
        "workers": {
            "total": residents.len(),
            "by_status": count_list(&status_rows),
            "by_employer": count_list(&employer_rows),
            "by_township": count_list(&town_rows),
            "by_month": month_rows,
        },
        "secondments": {
            "stays": stays.len(),
            "clinicians": people.len(),
            "all": stay_json("合计 all".into(), &all_stays),
            "by_facility": facility.iter().map(|(f, r)| stay_json(f.clone(), r)).collect::<Vec<_>>(),
            "by_batch": batch.iter().map(|(b, r)| stay_json(format!("第{b}批 batch {b}"), r)).collect::<Vec<_>>(),
        },
        "job_postings": {
            "all": posting_json("合计 all", &all_postings),
            "by_enterprise": posting_rows.iter().map(|(f, r)| posting_json(f, r)).collect::<Vec<_>>(),
        },
        "referrals": {
            "read": referrals.len(),
            "deleted": deleted,
            "invalid": 0,
            "not_zhenfeng_workers": others,
            "all": outcome_json("合计 all", &all_referrals),
            "by_enterprise": firm_rows.iter().map(|(f, r)| outcome_json(f, r)).collect::<Vec<_>>(),
        },
    })
}

/// The sections of a statistics answer that [`expected`] works out (not the time or sources).
pub fn figures(stats: &Value) -> Value {
    json!({
        "workers": stats["workers"], "secondments": stats["secondments"],
        "job_postings": stats["job_postings"], "referrals": stats["referrals"],
    })
}

/// `hub stats ARGS --config CONFIG`: its exit code, stdout bytes and stderr.
async fn stats(env: &Env, args: &[&str]) -> (i32, Vec<u8>, String) {
    let mut all = vec!["stats"];
    all.extend(args);
    all.extend(["--config", CONFIG]);
    let o = env.run(&all).await;
    (
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs, open dead letters and audit entries in the state store, as the CLI lists them.
async fn store_counts(env: &Env) -> [usize; 3] {
    let mut out = [0; 3];
    let lists: [&[&str]; 3] = [
        &["runs", "--json", "--limit", "1000"],
        &["dead-letters", "list", "--json"],
        &["audit", "list", "--json", "--limit", "100000"],
    ];
    for (i, args) in lists.iter().enumerate() {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", CONFIG]);
        let o = env.run(&all).await;
        assert!(o.status.success(), "{all:?}");
        out[i] = String::from_utf8_lossy(&o.stdout).lines().count();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_stats_gives_the_figures_worked_out_from_the_simulators_as_text_json_and_csv_writing_nothing()
 {
    let env = Env::start().await;
    sync_all(&env).await;
    let expected = expected(&env).await;
    let before = (
        store_counts(&env).await,
        env.get(&env.hy, "/_admin/counters").await,
        env.get(&env.zf, "/_admin/counters").await,
    );

    let (code, out, err) = stats(&env, &["--json"]).await;
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(figures(&got), expected);
    // Worked out from the seed's figures: 1,322 workers; 10 stays of 10 clinicians; 60
    // postings. Every record of the three syncs settled but the five broken residents.
    assert_eq!(got["workers"]["total"], 1322);
    assert_eq!(
        (
            got["secondments"]["stays"].as_u64(),
            got["secondments"]["clinicians"].as_u64()
        ),
        (Some(10), Some(10))
    );
    let sources: Vec<(String, u64, u64)> = got["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["from"].as_str().unwrap().to_string(),
                s["counted"].as_u64().unwrap(),
                s["unsettled"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            // The five broken residents never got a link (refused before one is made).
            ("sync workers".to_string(), 1322, 0),
            ("sync job-postings".into(), 60, 0),
            ("sync secondments".into(), 10, 0),
            // Counted as the section counts them: the referrals of Zhenfeng workers, not
            // deleted (before, read less deleted: 178 beside a section of 149).
            (
                "huiyang-esms/referrals".into(),
                expected["referrals"]["all"]["total"].as_u64().unwrap(),
                0
            ),
        ]
    );
    assert_eq!(got["missing"], json!([]));

    let (code, text, err) = stats(&env, &[]).await;
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8(text).unwrap();
    eprintln!("hub stats after each sync's first run:\n{text}");
    assert!(
        text.contains("务工人员 Zhenfeng workers in Huiyang: 1,322"),
        "{text}"
    );
    // No personal data: no identity number, name or phone of any resident in the text.
    let rows = env.get(&env.zf, "/_admin/workers").await;
    for r in rows.as_array().unwrap().iter().take(200) {
        for field in ["身份证号", "联系电话"] {
            let v = trimmed(&r[field]).unwrap_or_default();
            assert!(
                v.len() < 6 || !text.contains(&v),
                "{field} in the statistics"
            );
        }
    }

    // One section; the CSV in UTF-8 with a byte order mark, then in GB 18030.
    let (code, out, err) = stats(&env, &["referrals", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let one: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(one["referrals"], expected["referrals"]);
    assert_eq!(
        (one["workers"].clone(), one["job_postings"].clone()),
        (Value::Null, Value::Null)
    );
    let (code, utf8, err) = stats(&env, &["referrals", "--csv"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(&utf8[..3], b"\xEF\xBB\xBF");
    let csv_text = std::str::from_utf8(&utf8[3..]).unwrap();
    let mut lines = csv_text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("部分 section,维度 dimension,项目 item,指标 measure,数量 count")
    );
    let hired = format!(
        "referrals,total,合计 all,hired,{}",
        expected["referrals"]["all"]["hired"]
    );
    assert!(
        csv_text.split("\r\n").any(|l| l == hired),
        "{hired} in\n{csv_text}"
    );
    let (code, gb, err) = stats(&env, &["referrals", "--csv", "--encoding", "gb18030"]).await;
    assert_eq!(code, 0, "{err}");
    let (decoded, _, bad) = encoding_rs::GB18030.decode(&gb);
    assert!(!bad && !gb.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(decoded, csv_text);

    // Typos are errors naming what is known (clap's usage errors: exit 2).
    let (code, _, err) = stats(&env, &["worker"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("no statistics section \"worker\" (known: workers, secondments, job-postings, referrals)"),
        "{err}"
    );
    let (code, _, err) = stats(&env, &["--csv", "--encoding", "gbk"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("no CSV encoding \"gbk\" (known: utf-8, gb18030)"),
        "{err}"
    );
    let (code, _, err) = stats(&env, &["--encoding", "gb18030"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("--csv"), "{err}");

    // Nothing was written: the store's runs, dead letters and audit entries, and both
    // systems' write counters, are as they were.
    let after = (
        store_counts(&env).await,
        env.get(&env.hy, "/_admin/counters").await,
        env.get(&env.zf, "/_admin/counters").await,
    );
    assert_eq!(before.0, after.0);
    for c in ["zhenfeng-workers", "referrals", "secondments"] {
        assert_eq!(writes(&before.1, c), writes(&after.1, c), "{c}");
    }
    for c in ["workers", "jobs"] {
        assert_eq!(writes(&before.2, c), writes(&after.2, c), "{c}");
    }
}
