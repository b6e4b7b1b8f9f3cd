//! End-to-end tests of the other two syncs of the demo deployment: `secondments` (HY-ESMS ⇄
//! MED-ROSTER, FHIR R4) and `job-postings` (HY-ESMS → ZF-REG's job board). The simulators, the
//! real `hub` binary on `config/demo.toml`, SQLite state.
//!
//! Expected values are worked out from the systems' contracts by this file's own code: a FHIR
//! Practitioner is found by its `urn:cn:resident-id` identifier, a stay by its batch extension,
//! a board row by `wbbh`.

use crate::harness::{Env, workspace};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const CONFIG: &str = "config/demo.toml";
const RESIDENT_ID: &str = "urn:cn:resident-id";
const BATCH: &str = "http://example.org/fhir/StructureDefinition/secondment-batch";

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().expect("a JSON array")
}

fn identifier<'a>(r: &'a Value, system: &str) -> Option<&'a str> {
    array(&r["identifier"])
        .iter()
        .find(|i| i["system"] == system)
        .and_then(|i| i["value"].as_str())
}

fn batch_of(role: &Value) -> Option<i64> {
    role["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == BATCH)?["valueInteger"]
        .as_i64()
}

/// The roster as its side-door shows it: Practitioners by resident identity number, roles by
/// (identity number, batch), Organization names by reference.
struct Roster {
    practitioners: BTreeMap<String, Value>,
    roles: BTreeMap<(String, i64), Value>,
    org_names: BTreeMap<String, String>,
    role_count: usize,
}

async fn roster(env: &Env) -> Roster {
    roster_except(env, None).await
}

/// [`roster`] without the Practitioners of identity number `except` (and their roles).
async fn roster_except(env: &Env, except: Option<&str>) -> Roster {
    let people = env.get(&env.med, "/_admin/Practitioner").await;
    let roles = env.get(&env.med, "/_admin/PractitionerRole").await;
    let orgs = env.get(&env.med, "/_admin/Organization").await;
    let mut practitioners = BTreeMap::new();
    let mut by_ref = BTreeMap::new();
    for p in array(&people) {
        let id = identifier(p, RESIDENT_ID).unwrap().to_string();
        if except == Some(id.as_str()) {
            continue;
        }
        by_ref.insert(
            format!("Practitioner/{}", p["id"].as_str().unwrap()),
            id.clone(),
        );
        assert!(
            practitioners.insert(id, p.clone()).is_none(),
            "one Practitioner per person"
        );
    }
    let mut out = BTreeMap::new();
    let mut role_count = 0;
    for r in array(&roles) {
        let Some(person) = by_ref
            .get(r["practitioner"]["reference"].as_str().unwrap())
            .cloned()
        else {
            assert!(except.is_some(), "every role's Practitioner is there: {r}");
            continue;
        };
        role_count += 1;
        let batch = batch_of(r).expect("every stay has its batch");
        assert!(
            out.insert((person, batch), r.clone()).is_none(),
            "one role per stay"
        );
    }
    let org_names = array(&orgs)
        .iter()
        .map(|o| {
            (
                format!("Organization/{}", o["id"].as_str().unwrap()),
                o["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Roster {
        practitioners,
        roles: out,
        org_names,
        role_count,
    }
}

/// HY-ESMS's secondments by (identity number, batch).
async fn secondments(env: &Env) -> BTreeMap<(String, i64), Value> {
    array(&env.get(&env.hy, "/_admin/secondments").await)
        .iter()
        .map(|s| {
            (
                (
                    s["idNo"].as_str().unwrap().to_string(),
                    s["batch"].as_i64().unwrap(),
                ),
                s.clone(),
            )
        })
        .collect()
}

/// The runs of one sync, newest first.
async fn runs(env: &Env, sync: &str) -> Vec<Value> {
    let out = env
        .run(&["runs", "--json", "--sync", sync, "--config", CONFIG])
        .await;
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn written(run: &Value) -> u64 {
    ["a", "b"]
        .iter()
        .flat_map(|s| ["created", "updated"].map(|k| run["stats"][s][k].as_u64().unwrap_or(0)))
        .sum()
}

/// Writes each system's API counted for a collection (created + updated + deleted).
async fn api_writes(env: &Env, sim: &hub_sims::RunningSim, collection: &str) -> u64 {
    let c = env.get(sim, "/_admin/counters").await;
    ["created", "updated", "deleted"]
        .iter()
        .map(|k| c["collections"][collection][*k].as_u64().unwrap_or(0))
        .sum()
}

/// Checks that every HY secondment is in the roster as its plan says.
fn assert_plan_in_roster(hy: &BTreeMap<(String, i64), Value>, r: &Roster) {
    for ((id, batch), s) in hy {
        let p = &r.practitioners[id];
        assert_eq!(p["name"][0]["text"], s["name"], "{id}: name");
        let gender = if s["gender"] == "M" { "male" } else { "female" };
        assert_eq!(p["gender"], gender, "{id}: gender");
        let phone = array(&p["telecom"])
            .iter()
            .find(|t| t["system"] == "phone")
            .unwrap();
        assert_eq!(phone["value"], s["phone"], "{id}: phone");
        assert_eq!(
            p["qualification"][0]["code"]["text"], s["profession"],
            "{id}: qualification"
        );
        let role = &r.roles[&(id.clone(), *batch)];
        let org = role["organization"]["reference"].as_str().unwrap();
        assert_eq!(
            r.org_names[org],
            s["hostFacility"].as_str().unwrap(),
            "{id}: facility"
        );
        assert_eq!(role["period"]["start"], s["startDate"], "{id}: start");
        assert_eq!(
            role["period"].get("end").cloned().unwrap_or(Value::Null),
            s["actualEndDate"],
            "{id}: actual end"
        );
        assert_eq!(
            role["active"],
            json!(s["status"] == "serving"),
            "{id}: active"
        );
        assert_eq!(
            role.get("specialty")
                .map(|sp| sp[0]["text"].clone())
                .unwrap_or(Value::Null),
            s["department"],
            "{id}: department"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_gets_each_clinician_once_and_huiyang_gets_what_the_roster_records_without_echo()
{
    let env = Env::start().await;
    env.sync_once_of("secondments").await;
    let hy = secondments(&env).await;
    assert_eq!(hy.len(), 10, "the ten clinicians of the four batches");
    assert_eq!(
        hy.keys().map(|k| k.1).collect::<BTreeSet<_>>(),
        BTreeSet::from([1, 2, 3, 4])
    );
    let r = roster(&env).await;
    assert_eq!((r.practitioners.len(), r.role_count), (10, 10));
    assert_plan_in_roster(&hy, &r);
    let counters = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(counters["collections"]["Practitioner"]["created"], 10);
    assert_eq!(counters["collections"]["PractitionerRole"]["created"], 10);
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    // The first run wrote nothing back to Huiyang.
    assert_eq!(api_writes(&env, &env.hy, "secondments").await, 0);

    // The roster records what happened: a batch-3 stay ends early in another department.
    let ((id, batch), _) = hy.iter().find(|(_, s)| s["status"] == "serving").unwrap();
    let role_id = r.roles[&(id.clone(), *batch)]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.patch(
        &env.med,
        &format!("/_admin/PractitionerRole/{role_id}"),
        json!({"period": {"end": "2021-11-20"}, "specialty": [{"text": "康复医学科"}], "active": false}),
    )
    .await;
    env.sync_once_of("secondments").await;
    let after = secondments(&env).await;
    let s = &after[&(id.clone(), *batch)];
    assert_eq!(
        (&s["actualEndDate"], &s["department"], &s["status"]),
        (
            &json!("2021-11-20"),
            &json!("康复医学科"),
            &json!("completed")
        ),
        "Huiyang has what the roster recorded"
    );
    assert_eq!(
        s["endDate"],
        hy[&(id.clone(), *batch)]["endDate"],
        "the plan is kept"
    );
    assert_eq!(api_writes(&env, &env.hy, "secondments").await, 1);
    let roster_writes = api_writes(&env, &env.med, "PractitionerRole").await
        + api_writes(&env, &env.med, "Practitioner").await;
    assert_eq!(roster_writes, 20, "nothing was written back to the roster");

    // The next run finds only its own writes: no echo.
    env.sync_once_of("secondments").await;
    let last = &runs(&env, "secondments").await[0];
    assert_eq!(written(last), 0, "{last}");
    assert!(
        last["stats"]["a"]["echoes"].as_u64().unwrap() >= 1,
        "{last}"
    );
    assert_eq!(api_writes(&env, &env.hy, "secondments").await, 1);
    assert_eq!(
        api_writes(&env, &env.med, "PractitionerRole").await
            + api_writes(&env, &env.med, "Practitioner").await,
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stay_of_the_same_clinician_adds_a_role_not_a_second_practitioner() {
    let env = Env::start().await;
    env.sync_once_of("secondments").await;
    let hy = secondments(&env).await;
    let ((id, _), first) = hy.iter().find(|(_, s)| s["batch"] == 1).unwrap();
    // Huiyang plans the clinician's return in batch 4, at another facility.
    let mut again = first.clone();
    for k in ["id", "updatedAt", "actualEndDate", "department"] {
        again.as_object_mut().unwrap().remove(k);
    }
    again["batch"] = json!(4);
    again["hostFacility"] = json!("珉谷街道社区卫生服务中心");
    again["startDate"] = json!("2022-03-01");
    again["endDate"] = json!("2022-05-31");
    again["status"] = json!("planned");
    again["honours"] = json!([]);
    env.post(&env.hy, "/_admin/secondments", again).await;
    env.sync_once_of("secondments").await;

    let r = roster(&env).await;
    assert_eq!((r.practitioners.len(), r.role_count), (10, 11));
    let theirs: Vec<&Value> = r
        .roles
        .iter()
        .filter(|((p, _), _)| p == id)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(theirs.len(), 2, "two stays");
    assert_eq!(
        theirs[0]["practitioner"]["reference"], theirs[1]["practitioner"]["reference"],
        "of one Practitioner"
    );
    let second = &r.roles[&(id.clone(), 4)];
    assert_eq!(
        r.org_names[second["organization"]["reference"].as_str().unwrap()],
        "珉谷街道社区卫生服务中心"
    );
    assert_eq!(second["period"]["start"], "2022-03-01");
    assert_eq!(second["active"], false);
    let counters = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(counters["collections"]["Practitioner"]["created"], 10);
    assert_eq!(counters["collections"]["PractitionerRole"]["created"], 11);
    assert!(
        counters["collections"]["Practitioner"]["duplicates_refused"]
            .as_u64()
            .unwrap()
            >= 1,
        "the person was found by the conditional create: {counters}"
    );
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    env.sync_once_of("secondments").await;
    assert_eq!(written(&runs(&env, "secondments").await[0]), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_if_match_is_a_conflict_settled_by_the_ownership_rules_not_an_overwrite() {
    let env = Env::start().await;
    env.sync_once_of("secondments").await;
    let hy = secondments(&env).await;
    let ((id, batch), s) = hy.iter().find(|(_, s)| s["status"] == "serving").unwrap();
    let key = (id.clone(), *batch);
    let before = roster(&env).await.roles[&key].clone();
    // Huiyang moves the clinician to another facility (the plan is Huiyang's) ...
    let moved_to = "贞丰县妇幼保健院";
    assert_ne!(s["hostFacility"], moved_to);
    env.patch(
        &env.hy,
        &format!("/_admin/secondments/{}", s["id"]),
        json!({"hostFacility": moved_to}),
    )
    .await;
    // ... and a clerk saves the stay in the roster just before the hub's update arrives.
    env.post(&env.med, "/_admin/faults", json!({"concurrent_edit": 1}))
        .await;
    env.sync_once_of("secondments").await;
    let run = &runs(&env, "secondments").await[0];
    assert_eq!(run["stats"]["b"]["conflicts"], 1, "{run}");
    let conflicts = |all: bool| {
        let mut args = vec!["conflicts", "list", "--json", "--config", CONFIG];
        if all {
            args.push("--all");
        }
        let cmd = env.hub(&args).output();
        async move {
            let out = cmd.await.unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let open = conflicts(false).await;
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(
        (open[0]["sync"].as_str(), open[0]["side"].as_str()),
        (Some("secondments"), Some("b"))
    );
    let r = roster(&env).await;
    let role = &r.roles[&key];
    assert_eq!(
        role["specialty"][0]["text"], "急诊科",
        "the clerk's edit stands"
    );
    assert_eq!(
        role["organization"], before["organization"],
        "the stale write did not land"
    );

    // The next run reads the clerk's version and merges by ownership: Huiyang's facility, the
    // roster's department, in both systems.
    env.sync_once_of("secondments").await;
    let r = roster(&env).await;
    let role = &r.roles[&key];
    assert_eq!(
        r.org_names[role["organization"]["reference"].as_str().unwrap()],
        moved_to
    );
    assert_eq!(role["specialty"][0]["text"], "急诊科");
    let after = &secondments(&env).await[&key];
    assert_eq!(
        (&after["hostFacility"], &after["department"]),
        (&json!(moved_to), &json!("急诊科"))
    );
    assert!(conflicts(false).await.is_empty());
    let all = conflicts(true).await;
    assert_eq!(
        (all[0]["status"].as_str(), all[0]["resolution"].as_str()),
        (Some("resolved"), Some("merge policy")),
        "{all:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_posting_reaches_the_job_board_with_its_pay_as_text_and_a_closed_one_closes_there() {
    let env = Env::start().await;
    // One posting certainly pays 4000-6000 a month.
    env.patch(
        &env.hy,
        "/_admin/jobs/1",
        json!({"salaryMin": 4000, "salaryMax": 6000, "status": "open"}),
    )
    .await;
    env.sync_once_of("job-postings").await;
    let jobs = env.get(&env.hy, "/_admin/jobs").await;
    let enterprises: BTreeMap<i64, Value> = array(&env.get(&env.hy, "/_admin/enterprises").await)
        .iter()
        .map(|e| (e["id"].as_i64().unwrap(), e.clone()))
        .collect();
    let board: BTreeMap<String, Value> = array(&env.get(&env.zf, "/_admin/jobs").await)
        .iter()
        .map(|r| (r["wbbh"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    assert_eq!(board.len(), array(&jobs).len(), "every posting, once");
    let (mut firms, mut open) = (BTreeSet::new(), 0);
    for j in array(&jobs) {
        let row = &board[&j["id"].to_string()];
        let e = &enterprises[&j["enterpriseId"].as_i64().unwrap()];
        assert_eq!(
            (&row["qymc"], &row["xydm"]),
            (&e["name"], &e["uscc"]),
            "{j}"
        );
        assert_eq!(
            (&row["gwmc"], &row["zprs"]),
            (&j["title"], &j["headcount"]),
            "{j}"
        );
        let pay = format!("{}-{}元/月", j["salaryMin"], j["salaryMax"]);
        assert_eq!(row["xzfw"], json!(pay), "{j}");
        assert_eq!(
            (&row["gzdd"], &row["jzrq"]),
            (&j["workLocation"], &j["validUntil"]),
            "{j}"
        );
        let is_open = j["status"] == "open";
        assert_eq!(row["zt"], if is_open { "1" } else { "0" }, "{j}");
        open += usize::from(is_open);
        firms.insert(row["xydm"].as_str().unwrap().to_string());
    }
    assert_eq!(
        firms.len(),
        22,
        "the postings of the 22 firms of the job fair"
    );
    assert!(open >= 50, "most postings are open: {open}");
    assert_eq!(board["1"]["xzfw"], "4000-6000元/月");

    // Huiyang closes a posting: the board closes it on the next run, and only it.
    env.patch(&env.hy, "/_admin/jobs/1", json!({"status": "closed"}))
        .await;
    env.sync_once_of("job-postings").await;
    let row = array(&env.get(&env.zf, "/_admin/jobs").await)
        .iter()
        .find(|r| r["wbbh"] == "1")
        .cloned()
        .unwrap();
    assert_eq!(row["zt"], "0");
    let counters = env.get(&env.zf, "/_admin/counters").await;
    assert_eq!(
        counters["collections"]["jobs"]["created"],
        json!(array(&jobs).len())
    );
    assert_eq!(counters["collections"]["jobs"]["updated"], 1);
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    env.sync_once_of("job-postings").await;
    assert_eq!(written(&runs(&env, "job-postings").await[0]), 0);
}

/// The Python of the venv scripts/test makes for the FHIR check (fhir.resources 6.4.0, FHIR
/// R4 4.0.1), or `python3` on PATH.
fn fhir_python() -> PathBuf {
    let venv = workspace().join("target/tools/fhir-venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_s_resources_validate_with_the_fhir_r4_model_library() {
    let env = Env::start().await;
    env.sync_once_of("secondments").await;
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let fetch = |path: String| {
        let http = http.clone();
        let url = format!("{}/fhir/{path}", env.med.url());
        async move {
            http.get(url)
                .bearer_auth("demo-med-token")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let mut files = vec![
        ("capability", fetch("metadata".into()).await),
        ("organizations", fetch("Organization".into()).await),
        ("practitioners", fetch("Practitioner?_revinclude=PractitionerRole:practitioner".into()).await),
        (
            "roles",
            fetch("PractitionerRole?_include=PractitionerRole:practitioner&_include=PractitionerRole:organization&_count=4".into())
                .await,
        ),
        ("outcome", fetch("PractitionerRole?unknown=1".into()).await),
    ];
    let roles = env.get(&env.med, "/_admin/PractitionerRole").await;
    let people = env.get(&env.med, "/_admin/Practitioner").await;
    for (i, r) in array(&roles).iter().chain(array(&people)).enumerate() {
        files.push((if i < 10 { "role" } else { "practitioner" }, r.clone()));
    }
    for (i, (name, v)) in files.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("{i:02}-{name}.json")),
            v.to_string(),
        )
        .unwrap();
    }
    let out = tokio::process::Command::new(fhir_python())
        .arg(workspace().join("tests/fhir/validate_r4.py"))
        .arg(dir.path())
        .output()
        .await
        .expect("python3 (scripts/test makes target/tools/fhir-venv with fhir.resources)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // Every file, every resource inside the Bundles, and the library refusing a broken one.
    assert!(text.contains("fhir.resources 6.4.0, FHIR 4.0.1"), "{text}");
    assert!(
        text.contains(&format!("{} files valid", files.len())),
        "{text}"
    );
    assert!(
        text.contains("a broken PractitionerRole is refused"),
        "{text}"
    );
    let counts: Value = text
        .lines()
        .find_map(|l| l.strip_prefix("counts: "))
        .map(|c| serde_json::from_str(c).unwrap())
        .unwrap_or_else(|| panic!("no counts in {text}"));
    for (kind, at_least) in [
        ("Practitioner", 20),
        ("PractitionerRole", 24),
        ("Organization", 6),
        ("Bundle", 3),
        ("CapabilityStatement", 1),
        ("OperationOutcome", 1),
    ] {
        assert!(
            counts[kind].as_u64().unwrap_or(0) >= at_least,
            "{kind}: {counts}"
        );
    }
}

/// Makes the roster hold one of Huiyang's clinicians twice (a clerk entered them twice: FHIR
/// R4 servers have no uniqueness rule of their own), so that the conditional create of that
/// person (`If-None-Exist` on the identity number) matches two and is refused with 412: the
/// stay comes back as a conflict, the only refusal of a new stay the roster makes that the
/// hub's schema does not already catch. Returns its (identity number, batch).
async fn a_person_the_roster_holds_twice(env: &Env) -> (String, i64) {
    let hy = secondments(env).await;
    assert_eq!(hy.len(), 10);
    let ((id, batch), s) = hy.iter().next().unwrap();
    for _ in 0..2 {
        env.post(
            &env.med,
            "/_admin/Practitioner",
            json!({"resourceType": "Practitioner",
                   "identifier": [{"system": RESIDENT_ID, "value": id}],
                   "name": [{"text": s["name"]}]}),
        )
        .await;
    }
    (id.clone(), *batch)
}

/// Checks the roster after the secondments' first run with `twice` held twice: the other nine
/// clinicians each once, with their stays as planned; `twice` still twice, without a stay.
async fn assert_nine_written(env: &Env, twice: &(String, i64)) {
    let people = env.get(&env.med, "/_admin/Practitioner").await;
    let theirs: Vec<&Value> = array(&people)
        .iter()
        .filter(|p| identifier(p, RESIDENT_ID) == Some(twice.0.as_str()))
        .collect();
    assert_eq!(theirs.len(), 2, "not a third");
    let mut hy = secondments(env).await;
    hy.remove(twice);
    let r = roster_except(env, Some(&twice.0)).await;
    assert_eq!((r.practitioners.len(), r.role_count), (9, 9));
    assert_eq!(
        array(&env.get(&env.med, "/_admin/PractitionerRole").await).len(),
        9
    );
    assert_plan_in_roster(&hy, &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_bundle_writes_every_new_stay_but_the_one_the_roster_refuses() {
    let env = Env::start().await;
    let twice = a_person_the_roster_holds_twice(&env).await;
    env.sync_once_of("secondments").await;

    // The demo's connector config names no `bundle`: batch, two Bundles. The first holds the
    // ten people (conditional creates), of which the roster refuses one (412, two match) and
    // creates nine; the second the nine stays of the people it holds.
    let counters = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(
        counters["bundles"],
        json!({"batch": 2, "transaction": 0, "entries": 10 + 9})
    );
    // One request per resource would be 19 writes alone.
    assert!(counters["requests"].as_u64().unwrap() < 19, "{counters}");
    let c = &counters["collections"];
    assert_eq!(c["Practitioner"]["created"], 9);
    assert_eq!(c["Practitioner"]["conflicts"], 1);
    assert_eq!(c["PractitionerRole"]["created"], 9);
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    assert_nine_written(&env, &twice).await;
    let run = &runs(&env, "secondments").await[0];
    assert_eq!(
        (
            &run["stats"]["b"]["created"],
            &run["stats"]["b"]["conflicts"]
        ),
        (&json!(9), &json!(1)),
        "{run}"
    );

    // The next run writes none of the nine again and creates nobody twice.
    env.sync_once_of("secondments").await;
    let again = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(again["collections"]["Practitioner"]["created"], 9);
    assert_eq!(again["collections"]["PractitionerRole"]["created"], 9);
    assert_eq!(again["collections"]["PractitionerRole"]["updated"], 0);
    assert_eq!(again["keys_created_more_than_once"], json!([]));
    assert_nine_written(&env, &twice).await;
}

/// The demo's configuration with `bundle = "<mode>"` for the roster's connector, written in
/// the test's state directory; returns its path.
fn demo_config_with_bundle(env: &Env, mode: &str) -> String {
    let demo = std::fs::read_to_string(workspace().join(CONFIG)).unwrap();
    let line = "config = { base_url = \"${MED_ROSTER_URL:-http://127.0.0.1:18103}/fhir\" }";
    assert!(demo.contains(line));
    let config = env.dir.path().join(format!("bundle-{mode}.toml"));
    std::fs::write(
        &config,
        demo.replace(
            line,
            &format!("config = {{ base_url = \"${{MED_ROSTER_URL:-http://127.0.0.1:18103}}/fhir\", bundle = \"{mode}\" }}"),
        ),
    )
    .unwrap();
    config.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bundles_each_resource_is_a_request_with_the_same_outcomes() {
    let env = Env::start().await;
    let config = demo_config_with_bundle(&env, "none");
    let twice = a_person_the_roster_holds_twice(&env).await;
    let out = env
        .run(&["sync", "secondments", "--once", "--config", &config])
        .await;
    assert!(out.status.success());
    // Ten conditional creates of people (one refused, 412), nine of stays: 19 writes, no Bundle.
    let counters = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(
        counters["bundles"],
        json!({"batch": 0, "transaction": 0, "entries": 0})
    );
    assert!(counters["requests"].as_u64().unwrap() >= 19, "{counters}");
    let c = &counters["collections"];
    assert_eq!(c["Practitioner"]["created"], 9);
    assert_eq!(c["Practitioner"]["conflicts"], 1);
    assert_eq!(c["PractitionerRole"]["created"], 9);
    assert_nine_written(&env, &twice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_bundle_with_an_entry_refused_is_sent_again_without_its_stay() {
    let env = Env::start().await;
    let config = demo_config_with_bundle(&env, "transaction");
    let config = config.as_str();
    let twice = a_person_the_roster_holds_twice(&env).await;
    let args = ["sync", "secondments", "--once", "--config", config];
    let sync = || env.run(&args);
    let out = sync().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One transaction of the ten people and their ten stays, refused whole (412 naming the
    // twice-held person's entry); then the nine others, people and stays, in a second one.
    let counters = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(
        counters["bundles"],
        json!({"batch": 0, "transaction": 2, "entries": 20 + 18})
    );
    let c = &counters["collections"];
    assert_eq!(c["Practitioner"]["created"], 9);
    assert_eq!(c["Practitioner"]["conflicts"], 1);
    // All or nothing: the first transaction created nobody, so the second found nobody made
    // by it (no conditional create answered 200).
    assert_eq!(c["Practitioner"]["duplicates_refused"], 0);
    assert_eq!(c["PractitionerRole"]["created"], 9);
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    assert_nine_written(&env, &twice).await;
    let out = env
        .run(&[
            "runs",
            "--json",
            "--sync",
            "secondments",
            "--config",
            config,
        ])
        .await;
    let run: Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            &run["stats"]["b"]["created"],
            &run["stats"]["b"]["conflicts"]
        ),
        (&json!(9), &json!(1)),
        "{run}"
    );

    assert!(sync().await.status.success());
    let again = env.get(&env.med, "/_admin/counters").await;
    assert_eq!(again["collections"]["Practitioner"]["created"], 9);
    assert_eq!(again["collections"]["PractitionerRole"]["created"], 9);
    assert_eq!(again["keys_created_more_than_once"], json!([]));
    assert_nine_written(&env, &twice).await;
}

/// A stay HY-ESMS soft-deletes (a secondment withdrawn: its connector reports it deleted) is an
/// end the roster hears in its own form, as the sync configures it (`[syncs.secondments.deletes]
/// b = { "/active" = false }`): the role stops being active and keeps its practitioner,
/// facility and start; HY-ESMS's record stays deleted and is never written again; the run after
/// writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stay_huiyang_soft_deletes_ends_the_role_in_the_roster_as_the_sync_configures() {
    let env = Env::start().await;
    let config = super::config_with(
        &env,
        "\n[syncs.secondments.deletes]\nb = { \"/active\" = false }\n",
    );
    let args = ["sync", "secondments", "--once", "--config", config.as_str()];
    let once = || env.run(&args);
    let out = once().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hy = secondments(&env).await;
    let r = roster(&env).await;
    let (key, stay) = hy
        .iter()
        .find(|(k, s)| {
            s["deleted"] == false && r.roles.get(*k).is_some_and(|role| role["active"] == true)
        })
        .expect("a stay serving now");
    let before = r.roles[key].clone();
    let hy_id = stay["id"].as_i64().unwrap();
    env.patch(
        &env.hy,
        &format!("/_admin/secondments/{hy_id}"),
        json!({"deleted": true}),
    )
    .await;
    let hy_writes = api_writes(&env, &env.hy, "secondments").await;
    let out = once().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = roster(&env).await;
    let after = &r.roles[key];
    assert_eq!(after["active"], false, "the role ended: {after}");
    for field in ["practitioner", "organization"] {
        assert_eq!(after[field], before[field], "{field} unchanged");
    }
    assert_eq!(after["period"]["start"], before["period"]["start"]);
    assert_eq!(r.role_count, 10, "no role added or removed");
    assert_eq!(secondments(&env).await[key]["deleted"], true);
    assert_eq!(
        api_writes(&env, &env.hy, "secondments").await,
        hy_writes,
        "the deleted stay is never written back to HY-ESMS"
    );
    let out = once().await;
    assert!(out.status.success());
    assert_eq!(written(&runs(&env, "secondments").await[0]), 0);
}
