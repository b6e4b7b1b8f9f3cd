//! End-to-end tests of the workers sync: the simulators of ZF-REG and HY-ESMS, the real `hub`
//! binary on the demo configuration (`config/demo.toml`), SQLite state.
//!
//! Expected values are worked out from the systems' contracts (`sims/README.md`, the mapping
//! tables of the connectors) by this file's own code, not taken from the hub's.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod admin;
mod cluster;
mod conflicts;
mod crash_recovery;
mod harness;
mod operating;
mod plan;
mod reconcile;
mod roster;
mod signatures;
mod statistics;
mod telemetry;
mod witness;

use harness::{Env, canonical_id, canonical_phone, content, trimmed};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const CONFIG: &str = "config/demo.toml";

/// The registry's residents the sync must carry: 务工县区代码 441303, not among the seeded
/// broken ones. Keyed by canonical identity number.
async fn expected_residents(env: &Env) -> BTreeMap<String, Value> {
    env.residents_in_scope()
        .await
        .into_iter()
        .map(|r| (canonical_id(r["身份证号"].as_str().unwrap()), r))
        .collect()
}

fn by_id(records: &Value, field: &str) -> BTreeMap<String, Value> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (canonical_id(r[field].as_str().unwrap()), r.clone()))
        .collect()
}

fn created(counters: &Value, collection: &str) -> u64 {
    counters["collections"][collection]["created"]
        .as_u64()
        .unwrap_or(0)
}

fn writes(counters: &Value, collection: &str) -> u64 {
    let c = &counters["collections"][collection];
    ["created", "updated", "deleted"]
        .iter()
        .map(|k| c[*k].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_creates_exactly_the_registry_residents_employed_in_huiyang_mapped_field_by_field()
 {
    let env = Env::start().await;
    // The registry's rows as seeded (the run writes employers' codes into some of them).
    let expected = expected_residents(&env).await;
    env.sync_once().await;
    assert_eq!(
        expected.len(),
        1322,
        "the seed has 1,322 valid residents working in 441303"
    );
    let hy = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let got = by_id(&hy, "idNo");
    assert_eq!(
        hy.as_array().unwrap().len(),
        1322,
        "nothing else, nothing twice"
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    let enterprises = env.get(&env.hy, "/_admin/enterprises").await;
    let uscc_by_name: BTreeMap<&str, &str> = enterprises
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["uscc"].as_str().unwrap()))
        .collect();
    let (mut legacy, mut lower_x, mut full_width_phone, mut derived_uscc) = (0, 0, 0, 0);
    for (id, row) in &expected {
        let w = &got[id];
        let raw_id = row["身份证号"].as_str().unwrap();
        legacy += usize::from(raw_id.trim().len() == 15);
        lower_x += usize::from(raw_id.contains('x'));
        assert_eq!(w["idNo"], json!(id), "{id}: canonical identity number");
        assert_eq!(w["name"], json!(trimmed(&row["姓名"])), "{id}: name");
        let gender = match row["性别"].as_str().unwrap().trim() {
            "男" => "M",
            "女" => "F",
            other => panic!("seed gender {other}"),
        };
        assert_eq!(w["gender"], json!(gender), "{id}: gender");
        let raw_phone = row["联系电话"].as_str().unwrap();
        full_width_phone += usize::from(raw_phone.chars().any(|c| ('０'..='９').contains(&c)));
        assert_eq!(w["phone"], json!(canonical_phone(raw_phone)), "{id}: phone");
        assert_eq!(
            w["hometownTownship"],
            json!(trimmed(&row["户籍乡镇"])),
            "{id}: township"
        );
        let uscc = match trimmed(&row["单位信用代码"]) {
            Some(u) => u,
            None => {
                derived_uscc += 1;
                // An empty code: HY-ESMS's register gives the code for the employer's name.
                uscc_by_name[trimmed(&row["务工单位"]).unwrap().as_str()].to_string()
            }
        };
        assert_eq!(w["employerUscc"], json!(uscc), "{id}: employer");
        assert_eq!(
            w["position"],
            json!(trimmed(&row["工种"])),
            "{id}: position"
        );
        let status = match row["务工状态"].as_str().unwrap().trim() {
            "1" => "employed",
            "2" => "seeking",
            "3" | "9" => "left",
            other => panic!("seed status {other}"),
        };
        assert_eq!(w["status"], json!(status), "{id}: status");
        assert_eq!(
            w["hiredOn"],
            Value::Null,
            "{id}: the registry has no hire date"
        );
        assert_eq!(w["deleted"], json!(false));
    }
    // The quirks were really exercised.
    assert!(
        legacy > 0 && lower_x > 0 && full_width_phone > 0 && derived_uscc > 0,
        "{legacy} {lower_x} {full_width_phone} {derived_uscc}"
    );
    let counters = env.get(&env.hy, "/_admin/counters").await;
    assert_eq!(created(&counters, "zhenfeng-workers"), 1322);
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    // The registry was written to only where HY-ESMS looked an employer's code up by its name
    // (issue 18: a value the owner of `/employer` fills in reaches the other side in normal
    // operation, as it would after a lost state store), and nothing was created there.
    let zf_counters = env.get(&env.zf, "/_admin/counters").await;
    assert_eq!(derived_uscc as u64, harness::DEMO_CODES_LOOKED_UP);
    assert_eq!(
        (
            writes(&zf_counters, "workers"),
            created(&zf_counters, "workers")
        ),
        (harness::DEMO_CODES_LOOKED_UP, 0)
    );
    let zf_after = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    for (id, w) in &got {
        assert_eq!(
            zf_after[id]["单位信用代码"], w["employerUscc"],
            "{id}: the registry holds the employer's code"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_flow_both_ways_and_the_run_after_writes_nothing() {
    let env = Env::start().await;
    env.sync_once().await;
    let expected = expected_residents(&env).await;
    let mut ids = expected.keys();
    let (zf_id, hy_id) = (ids.next().unwrap().clone(), ids.next().unwrap().clone());
    // A phone changed in the registry, written the way the registry's clerks write it.
    let djbh = expected[&zf_id]["登记编号"].as_str().unwrap().to_string();
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"联系电话": "+86 139-1234-5678"}),
    )
    .await;
    // An employer and status change in Huiyang.
    let hy_workers = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    let worker = &hy_workers[&hy_id];
    let enterprises = env.get(&env.hy, "/_admin/enterprises").await;
    let new_employer = enterprises
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uscc"] != worker["employerUscc"])
        .unwrap()
        .clone();
    let hy_path = format!("/_admin/zhenfeng-workers/{}", worker["id"]);
    env.patch(
        &env.hy,
        &hy_path,
        json!({"employerUscc": new_employer["uscc"], "status": "seeking"}),
    )
    .await;
    env.delete(&env.hy, "/_admin/counters").await;
    env.delete(&env.zf, "/_admin/counters").await;

    env.sync_once().await;
    let hy_after = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    assert_eq!(hy_after[&zf_id]["phone"], json!("13912345678"));
    let zf_after = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let row = &zf_after[&hy_id];
    assert_eq!(row["务工状态"], json!("2"), "seeking is 务工状态 2");
    assert_eq!(row["务工单位"], new_employer["name"]);
    assert_eq!(row["单位信用代码"], new_employer["uscc"]);
    // The registry keeps its own way of writing the phone: nothing to write back there.
    assert_eq!(zf_after[&zf_id]["联系电话"], json!("+86 139-1234-5678"));
    let hy_c = env.get(&env.hy, "/_admin/counters").await;
    let zf_c = env.get(&env.zf, "/_admin/counters").await;
    assert_eq!(
        (
            writes(&hy_c, "zhenfeng-workers"),
            created(&hy_c, "zhenfeng-workers")
        ),
        (1, 0)
    );
    assert_eq!(
        (writes(&zf_c, "workers"), created(&zf_c, "workers")),
        (1, 0)
    );

    env.delete(&env.hy, "/_admin/counters").await;
    env.delete(&env.zf, "/_admin/counters").await;
    env.sync_once().await;
    assert_eq!(
        writes(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        0,
        "no echo to HY-ESMS"
    );
    assert_eq!(
        writes(&env.get(&env.zf, "/_admin/counters").await, "workers"),
        0,
        "no echo to ZF-REG"
    );
}

/// The demo's three syncs.
const DEMO_SYNCS: [&str; 3] = ["workers", "job-postings", "secondments"];

/// Every collection of the three systems as their side-doors list them, in order: the contents
/// of the deployment.
async fn contents(env: &Env) -> Vec<Value> {
    let mut out = Vec::new();
    for c in ["zhenfeng-workers", "jobs", "secondments"] {
        out.push(env.get(&env.hy, &format!("/_admin/{c}")).await);
    }
    for c in ["workers", "jobs"] {
        out.push(env.get(&env.zf, &format!("/_admin/{c}")).await);
    }
    for c in ["Practitioner", "PractitionerRole"] {
        out.push(env.get(&env.med, &format!("/_admin/{c}")).await);
    }
    out
}

/// The records each system's API created, updated and deleted since its counters were reset,
/// over all its collections, and the keys it was asked to create more than once.
async fn all_writes(env: &Env) -> Vec<(String, u64, Value)> {
    let mut out = Vec::new();
    for (name, sim) in [
        ("HY-ESMS", &env.hy),
        ("ZF-REG", &env.zf),
        ("MED-ROSTER", &env.med),
    ] {
        let c = env.get(sim, "/_admin/counters").await;
        let n = c["collections"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| writes(&c, k))
            .sum();
        out.push((
            name.to_string(),
            n,
            c["keys_created_more_than_once"].clone(),
        ));
    }
    out
}

async fn reset_counters(env: &Env) {
    for sim in [&env.hy, &env.zf, &env.med] {
        env.delete(sim, "/_admin/counters").await;
    }
}

/// Removes everything in the data directory (state store, state key, audit witness).
fn empty_data_dir(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

/// Issue 18: the data directory deleted (state store, state key, audit log) after the demo's
/// three syncs ran; the hub starts from nothing against the same three systems. Every record is
/// found again by its natural key: nothing is created, and nothing is written in any system,
/// though HY-ESMS holds 务工状态 3 and 9 as `left` and the registry holds the employers' codes
/// HY-ESMS looked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_data_directory_finds_every_record_again_and_writes_nothing() {
    let env = Env::start().await;
    for _ in 0..2 {
        for sync in DEMO_SYNCS {
            env.sync_once_of(sync).await;
        }
    }
    let before = contents(&env).await;
    empty_data_dir(env.dir.path());
    reset_counters(&env).await;
    let summary = env.sync_once_of(DEMO_SYNCS[0]).await;
    assert!(summary.contains("run 1 "), "a new store: {summary}");
    for sync in &DEMO_SYNCS[1..] {
        env.sync_once_of(sync).await;
    }
    let nothing = |name: &str| (name.to_string(), 0, json!([]));
    assert_eq!(
        all_writes(&env).await,
        [nothing("HY-ESMS"), nothing("ZF-REG"), nothing("MED-ROSTER")]
    );
    assert_eq!(contents(&env).await, before);
}

/// Issue 18: the data directory restored from a backup taken before people's edits that the hub
/// has synced since. The restored hub remembers the older state; it creates nothing, writes
/// nothing where the systems agree, and loses none of the edits: the newer phone (`newest_wins`)
/// and position (HY-ESMS's) stay in both systems, and a resident the registry added after the
/// backup stays one HY-ESMS worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_restored_from_an_older_backup_creates_nothing_and_loses_no_edit() {
    let env = Env::start().await;
    for sync in DEMO_SYNCS {
        env.sync_once_of(sync).await;
    }
    let backup = tempfile::tempdir().unwrap();
    copy_dir(env.dir.path(), backup.path());

    // After the backup: a phone changed in the registry, a position in HY-ESMS, and a new
    // resident working in Huiyang registered; the hub syncs them.
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    let mut both = hy
        .keys()
        .filter(|id| zf.contains_key(*id) && hy[*id]["status"] == "employed");
    let (phoned, placed) = (both.next().unwrap().clone(), both.next().unwrap().clone());
    let djbh = zf[&phoned]["登记编号"].as_str().unwrap();
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({ "联系电话": "13912345678" }),
    )
    .await;
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{}", hy[&placed]["id"]),
        json!({ "position": "叉车司机组长" }),
    )
    .await;
    // GB 11643-1999: Zhenfeng County (522325), born 1990-01-01, sequence 099 (odd: male),
    // check character 8 by ISO 7064 MOD 11-2 (worked out by hand).
    let new_id = "522325199001010998";
    assert!(!zf.contains_key(new_id));
    let row = json!({
        "姓名": "陈新", "身份证号": new_id, "性别": "男", "联系电话": "13800000099",
        "户籍乡镇": "珉谷街道", "务工省份": "广东省", "务工县区代码": "441303", "务工单位": "",
        "单位信用代码": "", "工种": "普工", "务工状态": "1",
    });
    env.post(&env.zf, "/_admin/workers", row).await;
    env.sync_once().await;
    let synced = contents(&env).await;
    let hy_now = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    assert_eq!(hy_now[&phoned]["phone"], "13912345678");
    assert!(hy_now.contains_key(new_id), "the newcomer reached HY-ESMS");

    // The data directory restored from the backup.
    empty_data_dir(env.dir.path());
    copy_dir(backup.path(), env.dir.path());
    reset_counters(&env).await;
    for sync in DEMO_SYNCS {
        env.sync_once_of(sync).await;
    }
    let nothing = |name: &str| (name.to_string(), 0, json!([]));
    assert_eq!(
        all_writes(&env).await,
        [nothing("HY-ESMS"), nothing("ZF-REG"), nothing("MED-ROSTER")]
    );
    assert_eq!(contents(&env).await, synced);
    let zf_now = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    assert_eq!(zf_now[&phoned]["联系电话"], "13912345678");
    assert_eq!(zf_now[&placed]["工种"], "叉车司机组长");
}

/// Copies the files of directory `from` (and its subdirectories) into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_records_land_in_dead_letters_with_masked_key_pointer_and_reason() {
    let env = Env::start().await;
    env.sync_once().await;
    let out = env
        .run(&["dead-letters", "list", "--json", "--config", CONFIG])
        .await;
    assert!(out.status.success());
    let letters: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seed = env.get(&env.zf, "/_admin/seed").await;
    let rows = by_djbh(&env.get(&env.zf, "/_admin/workers").await);
    let mut seen = BTreeSet::new();
    for b in seed["broken"].as_array().unwrap() {
        let djbh = b["djbh"].as_str().unwrap();
        let d = letters
            .iter()
            .find(|d| d["remote_id"] == json!(djbh))
            .unwrap_or_else(|| panic!("no dead letter for {djbh}"));
        seen.insert(djbh);
        assert_eq!(
            (d["sync"].as_str(), d["side"].as_str(), d["stage"].as_str()),
            (Some("workers"), Some("a"), Some("read"))
        );
        // The key, masked: first and last four characters of the identity number.
        let id = canonical_id(rows[djbh]["身份证号"].as_str().unwrap());
        let masked = format!("{}**********{}", &id[..4], &id[14..]);
        assert_eq!(d["key_masked"], json!(masked), "{djbh}");
        let errors = d["errors"].as_array().unwrap();
        let (pointer, words) = match b["defect"].as_str().unwrap() {
            "bad-check-character" => ("/idNumber", "check character"),
            "impossible-birth-date" => ("/idNumber", "birth date"),
            "impossible-registration-date" => ("/registeredOn", "full-date"),
            "missing-name" => ("/name", "shorter than 1 character"),
            other => panic!("unknown defect {other}"),
        };
        assert!(
            errors.iter().any(|e| e["pointer"] == json!(pointer)
                && e["message"].as_str().unwrap().contains(words)),
            "{djbh}: {errors:?}"
        );
    }
    assert_eq!(letters.len(), 5, "only the broken records: {letters:?}");
    assert_eq!(seen.len(), 5);
    // For people: each reason in Chinese first, English beside; times in the deployment's zone.
    let out = env.run(&["dead-letters", "list", "--config", CONFIG]).await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("times in Asia/Shanghai"), "{text}");
    for (djbh, words) in seed["broken"].as_array().unwrap().iter().map(|b| {
        let words = match b["defect"].as_str().unwrap() {
            "bad-check-character" => "/idNumber: 身份证号第 18 位（校验码）是 ",
            "impossible-birth-date" => {
                "/idNumber: 身份证号第 7 至 14 位的出生日期不存在 not a GB 11643-1999"
            }
            "impossible-registration-date" => {
                "/registeredOn: 日期不对或不存在（应为 年-月-日） not an RFC 3339 full-date"
            }
            "missing-name" => "/name: 不能为空 ",
            other => panic!("unknown defect {other}"),
        };
        (b["djbh"].as_str().unwrap(), words)
    }) {
        let entry = text
            .split("\n#")
            .find(|e| e.contains(djbh))
            .unwrap_or_else(|| panic!("{djbh} not listed: {text}"));
        assert!(entry.contains(words), "{djbh}: {entry}");
    }
    // Every other record went through.
    assert_eq!(
        env.get(&env.hy, "/_admin/zhenfeng-workers")
            .await
            .as_array()
            .unwrap()
            .len(),
        1322
    );
}

fn by_djbh(rows: &Value) -> BTreeMap<String, Value> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["登记编号"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_mid_run_resumes_without_duplicates_and_ends_like_an_uninterrupted_run() {
    let killed = Env::start().await;
    // Kill it (SIGKILL) in the middle of creating workers in HY-ESMS.
    killed
        .kill_sync_when(500, |c| created(c, "zhenfeng-workers"))
        .await;
    let before = created(
        &killed.get(&killed.hy, "/_admin/counters").await,
        "zhenfeng-workers",
    );
    assert!(before < 1322, "killed mid-run ({before} created)");

    killed.sync_once().await;
    killed.sync_once().await;
    let c = killed.get(&killed.hy, "/_admin/counters").await;
    assert_eq!(
        created(&c, "zhenfeng-workers"),
        1322,
        "every resident created exactly once"
    );
    assert_eq!(c["keys_created_more_than_once"], json!([]));
    let runs = killed.run(&["runs", "--json", "--config", CONFIG]).await;
    let statuses: Vec<String> = String::from_utf8(runs.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Newest first. The killed run had read everything (the 5 broken records became dead
    // letters then) and was writing; the resumed run only finished the writes.
    assert_eq!(statuses, ["ok", "ok", "interrupted"]);
    let out = killed
        .run(&["dead-letters", "list", "--json", "--config", CONFIG])
        .await;
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 5);

    let whole = Env::start().await;
    whole.sync_once().await;
    whole.sync_once().await;
    for (path, drop) in [
        ("/_admin/zhenfeng-workers", &["id", "updatedAt"][..]),
        ("/_admin/enterprises", &["updatedAt"][..]),
    ] {
        assert_eq!(
            content(&killed.get(&killed.hy, path).await, drop),
            content(&whole.get(&whole.hy, path).await, drop),
            "HY-ESMS {path} differs from an uninterrupted run"
        );
    }
    assert_eq!(
        content(
            &killed.get(&killed.zf, "/_admin/workers").await,
            &["更新时间"]
        ),
        content(
            &whole.get(&whole.zf, "/_admin/workers").await,
            &["更新时间"]
        ),
        "ZF-REG differs from an uninterrupted run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_registry_session_mid_run_is_renewed() {
    let env = Env::start().await;
    env.sync_once().await;
    // Two changes in Huiyang, so that the next run writes to the registry after reading it.
    let hy = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let changed: Vec<Value> = hy
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["status"] == "employed")
        .take(2)
        .cloned()
        .collect();
    for w in &changed {
        env.patch(
            &env.hy,
            &format!("/_admin/zhenfeng-workers/{}", w["id"]),
            json!({"status": "seeking"}),
        )
        .await;
    }
    // The session dies after one more request with it (the export).
    env.post(
        &env.zf,
        "/_admin/faults",
        json!({"expire_sessions_after": 1}),
    )
    .await;
    let summary = env.sync_once().await;
    assert!(summary.contains("workers  run 2  ok"), "{summary}");
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    for w in &changed {
        assert_eq!(
            zf[&canonical_id(w["idNo"].as_str().unwrap())]["务工状态"],
            json!("2")
        );
    }
    assert!(
        env.logs()
            .contains("registry session expired; logging in again"),
        "the connector saw the expiry"
    );
    let runs = env.run(&["runs", "--json", "--config", CONFIG]).await;
    let last: Value = serde_json::from_str(
        String::from_utf8(runs.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["status"], json!("ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_identity_number_appears_in_clear_in_logs_or_the_state_database() {
    let env = Env::start().await;
    env.sync_once().await;
    let hy = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let w = &hy[0];
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{}", w["id"]),
        json!({"status": "seeking", "phone": "13700001111"}),
    )
    .await;
    env.sync_once().await;
    env.run(&[
        "--log-format",
        "json",
        "sync",
        "workers",
        "--once",
        "--config",
        CONFIG,
    ])
    .await;
    env.run(&["dead-letters", "list", "--config", CONFIG]).await;
    env.run(&["runs", "--config", CONFIG]).await;
    let logs = env.logs();
    let state = env.state_bytes();
    let state = String::from_utf8_lossy(&state);
    // Positive controls: the logs and the state do hold what was looked for around them.
    assert!(
        logs.contains("sync run finished") && logs.contains("ZF2021001881"),
        "logs were captured"
    );
    assert!(
        state.contains("workers") && state.len() > 100_000,
        "the state database was read"
    );
    let rows = env.get(&env.zf, "/_admin/workers").await;
    let mut checked = 0;
    for r in rows.as_array().unwrap() {
        let raw = r["身份证号"].as_str().unwrap().trim().to_string();
        let canonical = canonical_id(&raw);
        for form in [raw.as_str(), canonical.as_str(), &canonical.to_lowercase()] {
            if form.len() < 15 {
                continue;
            }
            assert!(
                !logs.contains(form),
                "an identity number is in the logs in clear ({})",
                r["登记编号"]
            );
            assert!(
                !state.contains(form),
                "an identity number is in the state database in clear ({})",
                r["登记编号"]
            );
            checked += 1;
        }
        if let Some(p) = canonical_phone(r["联系电话"].as_str().unwrap()).filter(|p| p.len() == 11)
        {
            assert!(
                !logs.contains(&p),
                "a phone number is in the logs in clear ({})",
                r["登记编号"]
            );
            assert!(
                !state.contains(&p),
                "a phone number is in the state database in clear ({})",
                r["登记编号"]
            );
        }
    }
    assert!(
        checked >= 9000,
        "{checked} forms of 3,000 identity numbers checked"
    );
    assert!(!logs.contains("13700001111") && !state.contains("13700001111"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_server_errors_and_dropped_connections_are_retried_within_the_run() {
    let env = Env::start().await;
    env.sync_once().await;
    let expected = expected_residents(&env).await;
    let id = expected.keys().nth(7).unwrap();
    let djbh = expected[id]["登记编号"].as_str().unwrap().to_string();
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"联系电话": "13600002222"}),
    )
    .await;
    // The next requests to HY-ESMS: a dropped connection, a 503, two 429s (Retry-After: 1).
    env.post(
        &env.hy,
        "/_admin/faults",
        json!({"drop": 1, "burst_503": 1, "burst_429": 2}),
    )
    .await;
    let summary = env.sync_once().await;
    assert!(summary.contains("workers  run 2  ok"), "{summary}");
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    assert_eq!(hy[id]["phone"], json!("13600002222"));
    let faults = env.get(&env.hy, "/_admin/faults").await;
    assert_eq!(
        (
            faults["drop"].as_u64().unwrap_or(0),
            faults["burst_503"].as_u64().unwrap_or(0),
            faults["burst_429"].as_u64().unwrap_or(0)
        ),
        (0, 0, 0),
        "all faults were met: {faults}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_runs_on_its_schedule_and_stops_cleanly_on_sigterm() {
    let env = Env::start().await;
    let child = env.daemon(CONFIG, &[("HUB_WORKERS_SCHEDULE", "*/2 * * * * *")]);
    let runs = || async {
        let out = env.run(&["runs", "--json", "--config", CONFIG]).await;
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut child = child;
    while runs()
        .await
        .iter()
        .filter(|r| r["status"] != "running")
        .count()
        < 3
    {
        if tokio::time::Instant::now() > deadline {
            child.start_kill().unwrap();
            let out = child.wait_with_output().await.unwrap();
            panic!(
                "three scheduled runs did not happen; the daemon said:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = env.stop(child).await;
    assert!(
        out.status.success(),
        "exit status after SIGTERM: {}",
        out.status
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("daemon stopped"));
    let all = runs().await;
    assert!(all.len() >= 3);
    for r in &all {
        assert_eq!(r["trigger"], json!("schedule"));
        assert!(
            matches!(r["status"].as_str(), Some("ok" | "partial")),
            "{r}"
        );
    }
    // The first run did the initial sync; the last ones found nothing to do.
    assert_eq!(all.last().unwrap()["stats"]["b"]["created"], json!(1322));
    assert_eq!(
        all[0]["stats"]["a"]["created"].as_u64().unwrap()
            + all[0]["stats"]["b"]["created"].as_u64().unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_every_change_arriving_in_all_three_syncs_and_no_echo() {
    let _env = Env::start().await; // checks that the connectors are built
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["demo", "--hy-rate-limit", "0"])
        .current_dir(harness::workspace())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), out)
        .await
        .expect("the demo ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "zhenfeng-registry → huiyang-esms    3000      1673     1322",
        "ok phone changed in ZF-REG",
        "ok employer and status changed in HY-ESMS",
        "ok workers run 3 wrote 0 records",
        "ok 10 secondments in HY-ESMS → MED-ROSTER 10 Practitioners, 10 PractitionerRoles",
        "ok stay ended early in MED-ROSTER → HY-ESMS secondment",
        "ok secondments run 3 wrote 0 records",
        "open postings (of 22 enterprises) on the ZF-REG job board with pay and headcount",
        "closed in HY-ESMS → ZF-REG job board zt 0",
        "ok job-postings run 3 wrote 0 records",
        "sync job-postings:",
        "sync secondments:",
        "sync workers:",
        "dead letters (5):",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

/// Issue 21: the demo is a binary of its own (`hub-demo`, the `demo` feature). A `hub` without
/// it beside (a production build) refuses `hub demo` with exit 2 and says how to build it,
/// instead of starting anything; a mistyped option reaches the demo's parser and is refused
/// with its suggestion.
#[test]
fn hub_demo_without_the_demo_binary_beside_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub");
    std::fs::copy(env!("CARGO_BIN_EXE_hub"), &hub).unwrap();
    let out = std::process::Command::new(&hub)
        .args(["demo", "--runs", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    let expected = format!(
        "error: this build of hub has no demo ({} not found): build it with `cargo build --release -p hub --features demo`, or run scripts/demo\n",
        dir.path().join("hub-demo").display()
    );
    assert_eq!(stderr, expected);

    // Beside the test build's `hub-demo`, a typo is the demo's own error, exit 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["demo", "--runz", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: unexpected argument '--runz' found")
            && stderr.contains("a similar argument exists: '--runs'")
            && stderr.contains("Usage: hub demo"),
        "{stderr}"
    );
}

/// Issue 22: HY-ESMS at its documented 20 requests/s (the simulator answers 429 over it). The
/// workers sync's first run (1,322 creates in HY-ESMS, about 66 s at 20/s) runs beside
/// job-postings and secondments every 5 s; they share HY-ESMS's budget (config/demo.toml's
/// rate_limit), so they are slowed, and none fails on a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_at_hy_esms_20_requests_per_second_fails_no_run_on_429() {
    let _env = Env::start().await; // checks that the connectors are built
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["demo", "--hy-rate-limit", "20"])
        .current_dir(harness::workspace())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(600), out)
        .await
        .expect("the demo ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    for line in [
        "plugin huiyang-esms: its syncs share a budget of 20 requests/s (burst 1)",
        "ok phone changed in ZF-REG",
        "closed in HY-ESMS → ZF-REG job board zt 0",
        "ok stay ended early in MED-ROSTER → HY-ESMS secondment",
        "failed runs: 0",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{all}");
    }
    let failed = regex::Regex::new(r"(?m)^\S+  run \d+  failed").unwrap();
    assert!(!failed.is_match(&stdout), "{all}");
    // The other syncs ran while the workers sync's first run went on: at least three runs of
    // each finished before it (they run every 5 s; it takes over a minute).
    let first_workers = stdout.find("\nworkers  run ").expect("a workers run");
    for sync in ["job-postings", "secondments"] {
        let before = stdout[..first_workers]
            .matches(&format!("\n{sync}  run "))
            .count();
        assert!(
            before >= 3,
            "{sync}: {before} runs before the first workers run:\n{all}"
        );
    }
    // Every worker created in HY-ESMS went through its API; its limiter refused none, or, when
    // a loaded machine delays requests unevenly, very few (each retried after its Retry-After).
    let counts =
        regex::Regex::new(r"HY-ESMS answered (\d+) requests; its rate limit refused (\d+) of them")
            .unwrap()
            .captures(&stdout)
            .map(|c| (c[1].parse::<u64>().unwrap(), c[2].parse::<u64>().unwrap()))
            .expect("the simulator's counts");
    assert!(counts.0 >= 1322, "{counts:?}");
    assert!(
        counts.1 * 100 <= counts.0,
        "more than 1 % refused: {counts:?}\n{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_trigger_starts_a_run_of_the_running_daemon_at_once() {
    let env = Env::start().await;
    // Once a year: only the trigger can start a run during this test.
    let child = env.daemon(CONFIG, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
    let out = env.run(&["trigger", "workers", "--config", CONFIG]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let run = loop {
        let out = env.run(&["runs", "--json", "--config", CONFIG]).await;
        let runs: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if let Some(r) = runs.iter().find(|r| r["status"] != "running") {
            break r.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the triggered run did not happen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run["trigger"], json!("manual"));
    assert_eq!(run["stats"]["b"]["created"], json!(1322));
    assert!(env.stop(child).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_times_are_in_the_syncs_zone_whatever_the_daemons_tz() {
    let env = Env::start().await;
    let mut outputs = Vec::new();
    for tz in ["UTC", "America/New_York", "Asia/Shanghai"] {
        let out = env
            .hub(&["schedule", "--config", CONFIG, "--next", "3"])
            .env("TZ", tz)
            .env("HUB_WORKERS_SCHEDULE", "0 2 * * *")
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    // The workers sync's section (the others follow their own schedules).
    let times: Vec<&str> = outputs[0]
        .lines()
        .skip_while(|l| !l.starts_with("workers:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(times.len(), 3, "{}", outputs[0]);
    for t in times {
        // 02:00 in Shanghai, that is 18:00 UTC the day before.
        assert!(t.ends_with("T02:00:00+08:00"), "{t}");
        let utc = chrono::DateTime::parse_from_rfc3339(t.trim())
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(utc.format("%H:%M:%S").to_string(), "18:00:00");
    }
}

/// Changes people make in both systems between two runs: `n` phones in ZF-REG, `n` statuses in
/// HY-ESMS (on other workers), and `new` workers registered only in HY-ESMS.
async fn make_changes(env: &Env, n: usize, new: usize) {
    let expected = expected_residents(env).await;
    let ids: Vec<&String> = expected.keys().collect();
    for (i, id) in ids.iter().take(n).enumerate() {
        let djbh = expected[*id]["登记编号"].as_str().unwrap();
        env.patch(
            &env.zf,
            &format!("/_admin/workers/{djbh}"),
            json!({"联系电话": format!("137{:08}", i)}),
        )
        .await;
    }
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    for id in ids.iter().skip(n).take(n) {
        let w = &hy[*id];
        let status = if w["status"] == "seeking" {
            "employed"
        } else {
            "seeking"
        };
        env.patch(
            &env.hy,
            &format!("/_admin/zhenfeng-workers/{}", w["id"]),
            json!({"status": status}),
        )
        .await;
    }
    let enterprises = env.get(&env.hy, "/_admin/enterprises").await;
    for i in 0..new {
        // Born 1990-01-01 + i days in 贞丰县 (522325), sequence 201 (odd: male).
        let d = hub_schemas::date::Date::from_days_since_epoch(7305 + i as i64);
        let id = harness::with_check(&format!("522325{:04}{:02}{:02}201", d.year, d.month, d.day));
        env.post(
            &env.hy,
            "/_admin/zhenfeng-workers",
            json!({"name": format!("新工{i}"), "idNo": id, "gender": "M", "phone": format!("1360000{:04}", i),
                   "hometownTownship": "珉谷街道", "employerUscc": enterprises[0]["uscc"], "position": "普工",
                   "hiredOn": "2026-11-01", "status": "employed", "remark": null, "deleted": false}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_while_carrying_changes_ends_like_an_uninterrupted_run() {
    let killed = Env::start().await;
    let whole = Env::start().await;
    // Both start from the same synced state and get the same changes.
    tokio::join!(killed.sync_once(), whole.sync_once());
    tokio::join!(make_changes(&killed, 150, 8), make_changes(&whole, 150, 8));
    killed.delete(&killed.hy, "/_admin/counters").await;
    // HY-ESMS answers in 20 ms: the run carrying the changes takes seconds, time to kill it.
    killed
        .post(&killed.hy, "/_admin/faults", json!({"slow_ms": 20}))
        .await;
    killed
        .kill_sync_when(60, |c| {
            c["collections"]["zhenfeng-workers"]["updated"]
                .as_u64()
                .unwrap_or(0)
        })
        .await;
    killed.delete(&killed.hy, "/_admin/faults").await;
    for _ in 0..3 {
        killed.sync_once().await;
    }
    for _ in 0..3 {
        whole.sync_once().await;
    }
    let hy_drop = &["id", "updatedAt"][..];
    assert_eq!(
        content(
            &killed.get(&killed.hy, "/_admin/zhenfeng-workers").await,
            hy_drop
        ),
        content(
            &whole.get(&whole.hy, "/_admin/zhenfeng-workers").await,
            hy_drop
        ),
        "HY-ESMS differs from an uninterrupted run"
    );
    // New registrations get their 登记编号 in the order the hub writes them, which differs.
    let zf_drop = &["更新时间", "登记编号"][..];
    assert_eq!(
        content(&killed.get(&killed.zf, "/_admin/workers").await, zf_drop),
        content(&whole.get(&whole.zf, "/_admin/workers").await, zf_drop),
        "ZF-REG differs from an uninterrupted run"
    );
    let c = killed.get(&killed.zf, "/_admin/counters").await;
    assert_eq!(c["keys_created_more_than_once"], json!([]));
    assert_eq!(
        created(&c, "workers"),
        8,
        "the 8 new HY workers registered once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_where_that_can_never_match_is_refused_at_load_with_its_place() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(harness::workspace().join(CONFIG)).unwrap();
    for (bad, says) in [
        (
            r#""/workplace/countyCod" = "441303""#,
            "/workplace/countyCod is not a field of schema worker",
        ),
        (
            r#""/workplace/countyCode" = 441303"#,
            "441303 can never be the value of /workplace/countyCode",
        ),
    ] {
        let cfg = dir.path().join("bad.toml");
        let changed = text
            .replace(r#""/workplace/countyCode" = "441303""#, bad)
            .replace(
                "../target/wasm32-wasip2/plugin",
                &harness::workspace()
                    .join("target/wasm32-wasip2/plugin")
                    .display()
                    .to_string(),
            );
        std::fs::write(&cfg, changed).unwrap();
        let out = env
            .run(&[
                "sync",
                "workers",
                "--once",
                "--config",
                cfg.to_str().unwrap(),
            ])
            .await;
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        let line = text.lines().position(|l| l.starts_with("a = ")).unwrap() + 1;
        assert!(
            err.contains(&format!("bad.toml:{line}:")) && err.contains(says),
            "{err}"
        );
    }
    assert_eq!(
        writes(&env.get(&env.zf, "/_admin/counters").await, "workers"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_registered_in_both_systems_but_outside_the_sync_is_not_overwritten() {
    let env = Env::start().await;
    env.sync_once().await;
    // The first run wrote the registry only the employers' codes HY-ESMS looked up.
    env.delete(&env.zf, "/_admin/counters").await;
    // A registry resident working elsewhere (not 441303) is entered by hand in HY-ESMS.
    let rows = env.get(&env.zf, "/_admin/workers").await;
    let outsider = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["务工县区代码"] != "441303")
        .unwrap()
        .clone();
    let id = canonical_id(outsider["身份证号"].as_str().unwrap());
    env.post(
        &env.hy,
        "/_admin/zhenfeng-workers",
        json!({"name": "别人名字", "idNo": id, "gender": "F", "phone": null, "hometownTownship": null,
               "employerUscc": null, "position": null, "hiredOn": null, "status": "employed", "remark": null, "deleted": false}),
    )
    .await;
    let summary = env.sync_once().await;
    assert!(
        summary.contains("partial") && summary.contains("records deferred"),
        "{summary}"
    );
    let after = by_djbh(&env.get(&env.zf, "/_admin/workers").await);
    assert_eq!(
        after[outsider["登记编号"].as_str().unwrap()],
        outsider,
        "the registry's record is untouched"
    );
    assert_eq!(
        writes(&env.get(&env.zf, "/_admin/counters").await, "workers"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_meant_for_an_unreachable_system_waits_for_the_next_run() {
    let env = Env::start().await;
    env.sync_once().await;
    let hy = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let w = hy
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["status"] == "employed")
        .unwrap()
        .clone();
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{}", w["id"]),
        json!({"status": "seeking"}),
    )
    .await;
    // The registry's address is wrong for one run: the HY-ESMS simulator answers there (404s).
    let out = env
        .hub(&["sync", "workers", "--once", "--config", CONFIG])
        .env("ZF_REG_URL", env.hy.url())
        .output()
        .await
        .unwrap();
    env.keep(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dead = env
        .run(&["dead-letters", "list", "--json", "--config", CONFIG])
        .await;
    assert_eq!(
        String::from_utf8(dead.stdout).unwrap().lines().count(),
        5,
        "only the 5 broken records"
    );
    env.sync_once().await;
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    assert_eq!(
        zf[&canonical_id(w["idNo"].as_str().unwrap())]["务工状态"],
        json!("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_who_moves_out_of_huiyang_leaves_the_sync_without_sticking_it() {
    let env = Env::start().await;
    env.sync_once().await;
    let expected = expected_residents(&env).await;
    let (id, row) = expected.iter().next().unwrap();
    let djbh = row["登记编号"].as_str().unwrap();
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"务工县区代码": "440306", "务工省份": "广东省"}),
    )
    .await;
    env.sync_once().await;
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{}", hy[id]["id"]),
        json!({"status": "left"}),
    )
    .await;
    env.delete(&env.zf, "/_admin/counters").await;
    for _ in 0..2 {
        let summary = env.sync_once().await;
        assert!(summary.contains("  ok  "), "{summary}");
    }
    assert_eq!(
        writes(&env.get(&env.zf, "/_admin/counters").await, "workers"),
        0,
        "the registry's record is out of the sync"
    );
    assert_eq!(
        by_djbh(&env.get(&env.zf, "/_admin/workers").await)[djbh]["务工县区代码"],
        json!("440306")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_owned_by_huiyang_keeps_the_registrys_own_writing_of_its_fields() {
    let env = Env::start().await;
    env.sync_once().await;
    let seed = env.get(&env.zf, "/_admin/seed").await;
    let expected = expected_residents(&env).await;
    let legacy: Vec<&str> = seed["legacy_15_digit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str().or(d["djbh"].as_str()))
        .collect();
    let row = expected
        .values()
        .find(|r| legacy.contains(&r["登记编号"].as_str().unwrap()))
        .expect("a legacy resident in 441303")
        .clone();
    let id = canonical_id(row["身份证号"].as_str().unwrap());
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{}", hy[&id]["id"]),
        json!({"position": "质检组长"}),
    )
    .await;
    env.sync_once().await;
    let after =
        &by_djbh(&env.get(&env.zf, "/_admin/workers").await)[row["登记编号"].as_str().unwrap()];
    assert_eq!(after["工种"], json!("质检组长"));
    for column in [
        "身份证号",
        "姓名",
        "联系电话",
        "户籍乡镇",
        "单位信用代码",
        "务工单位",
    ] {
        assert_eq!(
            after[column], row[column],
            "{column} is kept as the registry wrote it"
        );
    }
    assert_eq!(row["身份证号"].as_str().unwrap().trim().len(), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_never_run_the_same_sync_at_once() {
    let env = Env::start().await;
    let a = env
        .hub(&["sync", "workers", "--once", "--config", CONFIG])
        .output();
    let b = async {
        // Start the second once the first holds the lease (it is creating workers).
        while created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers",
        ) == 0
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        env.hub(&["sync", "workers", "--once", "--config", CONFIG])
            .output()
            .await
    };
    let (a, b) = tokio::join!(a, b);
    let (a, b) = (a.unwrap(), b.unwrap());
    env.keep(&a);
    env.keep(&b);
    assert!(a.status.success());
    assert_eq!(b.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&b.stderr).contains("is running in another process"),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322
    );
}

/// The demo configuration plus `extra`, written beside the state (plugin paths come from
/// `HUB_PLUGIN_DIR`, which the harness sets). The demo's last table is `[admin]`, so keys at
/// the start of `extra` are `[admin]`'s.
fn config_with(env: &Env, extra: &str) -> String {
    let text = std::fs::read_to_string(harness::workspace().join(CONFIG)).unwrap();
    let last_table = text.lines().rfind(|l| l.starts_with('[')).unwrap();
    assert_eq!(
        last_table, "[admin]",
        "config/demo.toml must end with [admin]"
    );
    let path = env.dir.path().join("hub.toml");
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    path.display().to_string()
}

/// Components built against contract 0.1.0 and 0.1.2 load beside the 0.2 connectors in one
/// deployment (through the host's 0.1 adapter, `hub/src/runtime/contract/`): `hub check` names
/// each one's contract and which go through the adapter, a sync from a 0.1.2 component into the
/// 0.2 HY-ESMS connector runs, and so does the demo's workers sync in the same configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_of_contract_0_1_load_and_run_beside_0_2_ones_in_one_deployment() {
    let env = Env::start().await;
    let config = config_with(
        &env,
        r#"
[plugins.legacy-0-1-0]
path = "${HUB_PLUGIN_DIR}/legacy_0_1_0.wasm"

[plugins.legacy-0-1-2]
path = "${HUB_PLUGIN_DIR}/legacy_0_1_2.wasm"

[syncs.legacy-workers]
schema = "worker"
a = { plugin = "legacy-0-1-2", stream = "records" }
b = { plugin = "huiyang-esms", stream = "zhenfeng-workers" }
direction = "a_to_b"
schedule = "0 0 1 1 *"
"#,
    );
    let out = env.run(&["check", "--config", &config]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("plugin {name}: ok (")))
            .unwrap_or_else(|| panic!("no line of plugin {name}: {text}"))
            .to_string()
    };
    assert!(
        line("legacy-0-1-0").contains(", hub:connector 0.1.0 (through its adapter), "),
        "{text}"
    );
    assert!(
        line("legacy-0-1-2").contains(", hub:connector 0.1.2 (through its adapter), "),
        "{text}"
    );
    for name in ["huiyang-esms", "zhenfeng-registry", "medical-roster"] {
        let l = line(name);
        assert!(
            l.contains(", hub:connector 0.2.0, ") && !l.contains("adapter"),
            "{l}"
        );
    }
    assert!(text.contains("sync legacy-workers: ok (a = legacy-0-1-2/records, b = huiyang-esms/zhenfeng-workers, a_to_b"), "{text}");
    for sync in ["legacy-workers", "workers"] {
        let out = env
            .run(&["sync", sync, "--once", "--config", &config])
            .await;
        assert!(
            out.status.success(),
            "{sync}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322,
        "the workers sync ran as in the demo"
    );
}

/// At ten times the demo's data (30,000 residents, 13,220 in Huiyang) the workers sync's first
/// run writes back to ZF-REG the employer codes HY-ESMS looks up, and the registry connector
/// loads the registry's own rows of the records it updates (to keep the columns a write does
/// not change). It used to hold every row of the export it loads them from: at bench/scale
/// --scale 100 that asked 296 MiB, over the instance's 256 MiB, and the run failed. Here the
/// connector runs under 32 MiB, which the whole registry at this scale does not fit in, and
/// the run completes, every code written back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_connector_updates_a_large_registry_without_holding_it_whole() {
    let env = Env::start_with(hub_sims::SimOptions {
        scale: 10,
        rate_limit: None,
        ..hub_sims::SimOptions::default()
    })
    .await;
    let config = config_with(
        &env,
        "\n[plugins.zhenfeng-registry.limits]\nmemory_mib = 32\n",
    );
    let out = env
        .run(&["sync", "workers", "--once", "--config", &config])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hy = env.get(&env.hy, "/_admin/counters").await;
    assert_eq!(created(&hy, "zhenfeng-workers"), 13_220);
    // Every code HY-ESMS looked up is now the registry's too.
    let items = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let rows = env.get(&env.zf, "/_admin/workers").await;
    let zf_code: std::collections::HashMap<String, String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                canonical_id(r["身份证号"].as_str().unwrap()),
                r["单位信用代码"].as_str().unwrap_or("").trim().to_string(),
            )
        })
        .collect();
    let mut looked_up = 0;
    for item in items.as_array().unwrap() {
        if let Some(code) = item["employerUscc"].as_str() {
            looked_up += 1;
            assert_eq!(
                zf_code.get(&canonical_id(item["idNo"].as_str().unwrap())),
                Some(&code.to_string())
            );
        }
    }
    let zf = env.get(&env.zf, "/_admin/counters").await;
    assert!(looked_up > 0 && writes(&zf, "workers") > 0, "{zf}");
    // Besides the saves (each counted once under one outcome), one login and one export: the
    // read's. The writes keep the registry's own writing from the rows the read met and make no
    // export of their own (at 3,000,000 rows such an export took more than the 30 s of CPU a
    // call may have, and the run failed).
    let saves: u64 = zf["collections"]["workers"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(zf["requests"].as_u64().unwrap() - saves, 2, "{zf}");
}

async fn runs_of(env: &Env, config: &str) -> Vec<Value> {
    let out = env
        .run(&["runs", "--json", "--limit", "1000", "--config", config])
        .await;
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fail_only_their_own_runs_while_the_workers_sync_keeps_its_schedule() {
    let env = Env::start().await;
    let mut extra = String::from(
        "[plugins.sink]\npath = \"${HUB_PLUGIN_DIR}/fixture.wasm\"\nconfig = { mode = \"fixture\" }\n",
    );
    // (sync and plugin, component, mode, limits, what its failed runs say)
    let hostile = [
        (
            "spin",
            "fixture",
            "loop",
            "limits = { cpu_ms_per_call = 500 }",
            "read trapped: CPU time limit of 500 ms per call exceeded",
        ),
        (
            "hog",
            "fixture",
            "alloc",
            "limits = { memory_mib = 64 }",
            "read trapped: memory limit of 64 MiB exceeded",
        ),
        (
            "deep",
            "fixture",
            "recurse",
            "",
            "read trapped: stack overflow",
        ),
        (
            "boom",
            "fixture",
            "panic",
            "",
            "read trapped: the guest aborted (a panic?)",
        ),
        // A 20 MiB `updated-at`, and a log line forged before it.
        (
            "stamp",
            "hostile",
            "huge-updated-at",
            "secrets.token = { value = \"s3cr3t-VALUE\" }",
            "read failed (contract): record 0 of the batch has an updated-at that is not an RFC 3339 date-time",
        ),
    ];
    for (name, wasm, mode, limits, _) in hostile {
        extra.push_str(&format!(
            "[plugins.{name}]\npath = \"${{HUB_PLUGIN_DIR}}/{wasm}.wasm\"\nconfig = {{ mode = \"{mode}\" }}\n{limits}\n\
             [syncs.{name}]\nschema = \"worker\"\na = {{ plugin = \"{name}\", stream = \"records\" }}\nb = {{ plugin = \"sink\", stream = \"records\" }}\ndirection = \"a_to_b\"\nschedule = \"*/2 * * * * *\"\n"
        ));
    }
    let config = config_with(&env, &extra);
    let mut child = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "*/2 * * * * *")]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let runs = runs_of(&env, &config).await;
        let done = |sync: &str| {
            runs.iter()
                .filter(|r| r["sync"] == sync && r["status"] != "running")
                .count()
        };
        if done("workers") >= 4 && hostile.iter().all(|(n, ..)| done(n) >= 2) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            child.start_kill().unwrap();
            let out = child.wait_with_output().await.unwrap();
            panic!(
                "not enough runs: {runs:#?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stopped = env.stop(child).await;
    assert!(stopped.status.success());
    let daemon_log = String::from_utf8_lossy(&stopped.stderr);
    let workers_log: Vec<&str> = daemon_log
        .lines()
        .filter(|l| l.contains("workers") && !l.contains("DEBUG"))
        .collect();
    let runs = runs_of(&env, &config).await;
    for (name, _, _, _, says) in hostile {
        for r in runs
            .iter()
            .filter(|r| r["sync"] == name && r["status"] != "running")
        {
            assert_eq!(r["status"], json!("failed"), "{r}");
            let e = r["error"].as_str().unwrap();
            assert!(e.contains(&format!("plugin {name}: {says}")), "{name}: {e}");
        }
    }
    let workers: Vec<&Value> = runs
        .iter()
        .filter(|r| r["sync"] == "workers" && r["status"] != "running")
        .collect();
    assert!(
        workers
            .iter()
            .all(|r| r["status"] == "ok" || r["status"] == "partial"),
        "{workers:#?}"
    );
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322
    );
    // The workers sync kept its schedule while the hostile plugins spun, hogged and
    // crashed: every run started within a second of one of its fire times (every even
    // second), and a fire time was passed over only while the run before was still going
    // (overlap = skip), never because the scheduler was held up.
    type Time = chrono::DateTime<chrono::Utc>;
    let time = |v: &Value| -> Time { v.as_str().unwrap().parse().unwrap() };
    let mut spans: Vec<(Time, Time)> = workers
        .iter()
        .map(|r| (time(&r["started_at"]), time(&r["finished_at"])))
        .collect();
    spans.sort();
    let fire_of = |t: Time| -> Time {
        chrono::DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(2), 0).unwrap()
    };
    for (start, _) in &spans {
        assert!(
            (*start - fire_of(*start)).num_milliseconds() < 1000,
            "run started at {start}, more than 1 s after its fire time"
        );
    }
    for w in spans.windows(2) {
        let ((s0, f0), (s1, _)) = (w[0], w[1]);
        let skipped_fire = fire_of(s0) + chrono::Duration::seconds(2);
        if fire_of(s1) > skipped_fire {
            assert!(
                f0 > skipped_fire,
                "the fire time {skipped_fire} was passed over though the run started at {s0} had finished at {f0}; the daemon said:\n{}",
                workers_log.join("\n")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_configuration_between_runs() {
    let env = Env::start().await;
    let config = config_with(&env, "");
    // Once a year at first: nothing runs.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("${HUB_WORKERS_SCHEDULE:-*/5 * * * * *}", "0 0 1 1 *");
    std::fs::write(&config, &text).unwrap();
    let child = env.daemon(&config, &[]);
    // The daemon listens for SIGHUP once it has loaded its plugins, before it writes admin.url;
    // a SIGHUP before that would end it (the signal's default action).
    let url_file = env.dir.path().join("admin.url");
    let up = tokio::time::Instant::now() + Duration::from_secs(60);
    while !url_file.exists() {
        assert!(
            tokio::time::Instant::now() < up,
            "the daemon wrote no admin.url"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(runs_of(&env, &config).await.is_empty());
    std::fs::write(&config, text.replace("\"0 0 1 1 *\"", "\"*/2 * * * * *\"")).unwrap();
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut child = child;
    while runs_of(&env, &config)
        .await
        .iter()
        .filter(|r| r["status"] != "running")
        .count()
        < 2
    {
        if tokio::time::Instant::now() > deadline {
            child.start_kill().unwrap();
            let out = child.wait_with_output().await.unwrap();
            panic!(
                "no scheduled runs after the reload; the daemon said:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let out = env.stop(child).await;
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SIGHUP: reloading the configuration")
            && err.contains("daemon running the new configuration"),
        "{err}"
    );
}
