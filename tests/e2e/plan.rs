//! The plan of a run (`hub sync workers --plan`, `POST /api/syncs/workers/plan`) and resync
//! (`hub resync workers --side a`, `POST /api/syncs/workers/resync`) on the demo deployment.
//!
//! The plan is made after the demo's change set (a phone changed in ZF-REG, an employer and
//! status `left` in HY-ESMS, as `hub demo` makes them after the first run): it must write
//! nothing (the state database's every row and the simulators' write counters equal before and
//! after), and the run that follows must do exactly what it said (its counts, its audit entries
//! key by key, and the simulators' records field by field).

use crate::harness::{Env, canonical_id};
use crate::{CONFIG, by_id, config_with, created, writes};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Every row of every table of the state database, as text, in table and row order (read-only:
/// the database is opened with SQLITE_OPEN_READ_ONLY).
fn store_rows(env: &Env) -> Vec<String> {
    let path = env.dir.path().join("state.db");
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let mut q = db
            .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY rowid"))
            .or_else(|_| db.prepare(&format!("SELECT * FROM \"{t}\"")))
            .unwrap();
        let n = q.column_count();
        let rows: Vec<String> = q
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for r in rows {
            out.push(format!("{t}: {r}"));
        }
    }
    out
}

/// The cursor of one side of the workers sync, as the state database holds it.
fn cursor(env: &Env, side: &str) -> Option<String> {
    let path = env.dir.path().join("state.db");
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    db.query_row(
        "SELECT cursor FROM cursors WHERE sync = 'workers' AND side = ?1",
        [side],
        |r| r.get(0),
    )
    .unwrap()
}

/// Both systems' write counters (created + updated + deleted) of the workers' collections.
async fn system_writes(env: &Env) -> (u64, u64) {
    (
        writes(&env.get(&env.zf, "/_admin/counters").await, "workers"),
        writes(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers",
        ),
    )
}

async fn reset_counters(env: &Env) {
    env.delete(&env.hy, "/_admin/counters").await;
    env.delete(&env.zf, "/_admin/counters").await;
}

/// `hub ARGS --config CONFIG`, which must succeed; its stdout.
async fn hub_ok(env: &Env, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--config", CONFIG]);
    let o = env.run(&all).await;
    assert!(
        o.status.success(),
        "hub {all:?}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `hub ARGS --config CONFIG`, which must fail; its stderr.
async fn hub_err(env: &Env, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--config", CONFIG]);
    let o = env.run(&all).await;
    assert!(!o.status.success(), "hub {all:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run history, newest first (`hub runs --json`).
async fn runs(env: &Env) -> Vec<Value> {
    hub_ok(env, &["runs", "--json", "--limit", "100"])
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A mobile number masked as the hub's logs mask it (first three and last four kept), worked
/// out here.
fn masked_phone(p: &str) -> String {
    format!("\"{}****{}\"", &p[..3], &p[7..])
}

/// An identity number masked as the documentation says (first and last four kept).
fn masked_id(id: &str) -> String {
    format!("{}{}{}", &id[..4], "*".repeat(10), &id[14..])
}

/// The demo's change set (`hub demo`, after the first workers run): ZF-REG's first valid
/// resident working in 441303 gets phone 13912345678; HY-ESMS's first employed worker (another
/// person) with an employer code moves to another enterprise and leaves (status `left`).
/// Returns (the resident's identity number, their old phone, the worker's identity number,
/// their old employer, the new enterprise).
async fn demo_changes(env: &Env) -> (String, String, String, Value, Value) {
    let resident = env.residents_in_scope().await.swap_remove(0);
    let zf_id = canonical_id(resident["身份证号"].as_str().unwrap());
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    let old_phone = hy[&zf_id]["phone"].as_str().unwrap().to_string();
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{}", resident["登记编号"].as_str().unwrap()),
        json!({ "联系电话": "13912345678" }),
    )
    .await;
    let (hy_id, worker) = hy
        .iter()
        .find(|(id, w)| w["status"] == "employed" && **id != zf_id && w["employerUscc"].is_string())
        .unwrap();
    let enterprises = env.get(&env.hy, "/_admin/enterprises").await;
    let old_employer = enterprises
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uscc"] == worker["employerUscc"])
        .unwrap()
        .clone();
    let employer = enterprises
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uscc"] != worker["employerUscc"])
        .unwrap()
        .clone();
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{}", worker["id"]),
        json!({ "employerUscc": employer["uscc"], "status": "left" }),
    )
    .await;
    (zf_id, old_phone, hy_id.clone(), old_employer, employer)
}

fn field<'a>(record: &'a Value, ptr: &str) -> &'a Value {
    record["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == ptr)
        .unwrap_or_else(|| panic!("no field {ptr} in {record}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_writes_nothing_and_the_run_after_does_exactly_what_it_said() {
    let env = Env::start().await;
    env.sync_once().await;
    let (zf_id, old_phone, hy_id, old_employer, employer) = demo_changes(&env).await;
    reset_counters(&env).await;
    let rows = store_rows(&env);
    assert!(rows.len() > 1322, "the store holds the first run's links");

    let text = hub_ok(&env, &["sync", "workers", "--plan"]).await;
    eprintln!("hub sync workers --plan after the demo's change set:\n{text}");
    let json_text = hub_ok(&env, &["sync", "workers", "--plan", "--json"]).await;
    eprintln!("hub sync workers --plan --json:\n{json_text}");
    let plan: Value = serde_json::from_str(&json_text).unwrap();

    // Nothing written: not to the systems, not to the state store (every row of every table).
    assert_eq!(system_writes(&env).await, (0, 0));
    assert_eq!(store_rows(&env), rows, "the plan changed the state store");

    // What the plan says, worked out from the two changes: one update each way, nothing
    // created, no dead letter, conflict or park.
    let dirs = plan["directions"].as_array().unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(
        (&dirs[0]["from"], &dirs[0]["to"]),
        (&json!("zhenfeng-registry"), &json!("huiyang-esms"))
    );
    for d in dirs {
        assert_eq!(
            (
                &d["create"],
                &d["update"],
                &d["dead_letters"],
                &d["conflicts"]
            ),
            (&json!(0), &json!(1), &json!(0), &json!(0)),
            "{d}"
        );
    }
    assert_eq!(
        (
            &plan["parked"],
            &plan["conflicts_resolved"],
            &plan["pending_after"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
    let records = plan["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{json_text}");
    // Sorted by side: a (ZF-REG) first.
    let (to_zf, to_hy) = (&records[0], &records[1]);
    assert_eq!(
        (&to_hy["system"], &to_hy["action"], &to_hy["key_masked"]),
        (
            &json!("huiyang-esms"),
            &json!("update"),
            &json!(masked_id(&zf_id))
        )
    );
    let phone = field(to_hy, "/phone");
    assert_eq!(to_hy["fields"].as_array().unwrap().len(), 1, "{to_hy}");
    assert_eq!(phone["before"], json!(masked_phone(&old_phone)));
    assert_eq!(phone["after"], json!(masked_phone("13912345678")));
    assert_eq!(phone["rule"], json!("newest_wins /phone"));
    assert_eq!(phone["why"], json!("zhenfeng-registry changed it"));
    assert_eq!(
        (&to_zf["system"], &to_zf["action"], &to_zf["key_masked"]),
        (
            &json!("zhenfeng-registry"),
            &json!("update"),
            &json!(masked_id(&hy_id))
        )
    );
    let fields: Vec<&str> = to_zf["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/employer/name", "/employer/uscc", "/status"]);
    // A credit code is no personal data, but 18 characters of digits would be masked as an
    // identity number: compared through the same mask the logs use, worked out here.
    let uscc = field(to_zf, "/employer/uscc");
    let code = |v: &Value| {
        let c = v.as_str().unwrap();
        if c.chars().all(|ch| ch.is_ascii_digit()) {
            format!("\"{}\"", masked_id(c))
        } else {
            v.to_string()
        }
    };
    assert_eq!(
        (&uscc["before"], &uscc["after"], &uscc["rule"]),
        (
            &json!(code(&old_employer["uscc"])),
            &json!(code(&employer["uscc"])),
            &json!("b_wins /employer")
        )
    );
    assert_eq!(uscc["why"], json!("huiyang-esms changed it"));
    // HY-ESMS's `left` is an end: ZF-REG gets its own end form, 返乡 (returned_home).
    let status = field(to_zf, "/status");
    assert_eq!(
        (&status["before"], &status["after"], &status["rule"]),
        (
            &json!("\"employed\""),
            &json!("\"returned_home\""),
            &json!("end: [syncs.workers.deletes] a")
        )
    );
    // Masked as logs are: neither identity number nor the new phone in clear.
    for out in [&text, &json_text] {
        assert!(!out.contains(zf_id.as_str()) && !out.contains(hy_id.as_str()));
        assert!(!out.contains("13912345678"));
    }
    assert!(text.contains("update huiyang-esms (b) key"), "{text}");
    assert!(
        text.contains("/phone: ")
            && text.contains("[newest_wins /phone] zhenfeng-registry changed it"),
        "{text}"
    );

    // The run that follows does exactly that.
    let out = env.sync_once().await;
    eprintln!("the run after the plan:\n{out}");
    assert_eq!(system_writes(&env).await, (1, 1));
    let run = &runs(&env).await[0];
    assert_eq!(run["trigger"], json!("manual"));
    // The run's counts are the plan's, field by field, but for one thing the plan cannot see:
    // HY-ESMS lists its module by update time, so a record the run updates there while reading
    // it comes round again later in the same read, as an echo of the run's own write.
    let mut planned = plan["stats"].clone();
    let mut done = run["stats"].clone();
    planned["duration_ms"] = json!(0);
    done["duration_ms"] = json!(0);
    for side in ["a", "b"] {
        let again = done[side]["read"].as_u64().unwrap() - planned[side]["read"].as_u64().unwrap();
        assert!(
            again <= done[side]["updated"].as_u64().unwrap(),
            "{side}: {again} read again"
        );
        assert_eq!(
            done[side]["echoes"].as_u64().unwrap() - planned[side]["echoes"].as_u64().unwrap(),
            again,
            "{side}: what the run read again were its own writes"
        );
        for k in ["read", "echoes"] {
            done[side][k] = planned[side][k].clone();
        }
    }
    assert_eq!(
        planned, done,
        "the plan's counts and the run's, field by field"
    );
    let audit: Vec<Value> = hub_ok(&env, &["audit", "list", "--json", "--limit", "100000"])
        .await
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["run_id"] == run["id"])
        .collect();
    let of = |side: &Value, action: &Value, key: &Value| {
        (side.to_string(), action.to_string(), key.to_string())
    };
    let written: BTreeSet<_> = audit
        .iter()
        .map(|e| of(&e["side"], &e["action"], &e["key_hash"]))
        .collect();
    let said: BTreeSet<_> = records
        .iter()
        .map(|r| of(&r["side"], &r["action"], &r["key_hash"]))
        .collect();
    assert_eq!(
        written, said,
        "the run's audit entries are the plan's writes"
    );
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    assert_eq!(hy[&zf_id]["phone"], json!("13912345678"));
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let row = &zf[&hy_id];
    assert_eq!(row["务工单位"], employer["name"]);
    assert_eq!(row["单位信用代码"], employer["uscc"]);
    assert_eq!(row["务工状态"], json!("3"), "returned_home is 务工状态 3");

    // A resync of both sides of the demo after its change set: every record read again, none
    // created, nothing to write (the run carried both changes).
    reset_counters(&env).await;
    let out = hub_ok(&env, &["resync", "workers"]).await;
    eprintln!("hub resync workers after the demo's change set and its run:\n{out}");
    assert!(out.starts_with("resync a,b (workers)"), "{out}");
    assert_eq!(system_writes(&env).await, (0, 0));

    // Nothing left to do: the next plan writes nothing.
    let next: Value =
        serde_json::from_str(&hub_ok(&env, &["sync", "workers", "--plan", "--json"]).await)
            .unwrap();
    assert_eq!(next["records"], json!([]));

    // Typos are errors that say so.
    let err = hub_err(&env, &["sync", "wokers", "--plan"]).await;
    assert!(
        err.contains("\"wokers\"") && err.contains("job-postings, secondments, workers"),
        "{err}"
    );
    let err = hub_err(&env, &["sync", "workers", "--json"]).await;
    assert!(err.contains("--once") || err.contains("--plan"), "{err}");

    // The API route, from a daemon whose schedule does not fire.
    let config = config_with(&env, "");
    let child = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
    let (url, token) = env.admin_address().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/api/syncs/workers/plan"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let api: Value = r.json().await.unwrap();
    assert_eq!(api["records"], json!([]));
    assert_eq!(api["directions"], next["directions"]);
    let r = http
        .post(format!("{url}/api/syncs/wokers/plan"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let out = env.stop(child).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sets the phone of `n` registry residents working in Huiyang to new numbers without moving
/// their 更新时间: changes a cursor cannot see, as a system that edits records without
/// recording it would make. Returns each one's identity number and new phone.
async fn changes_the_cursor_misses(env: &Env, n: usize) -> Vec<(String, String)> {
    let rows = env.get(&env.zf, "/_admin/workers").await;
    // The cursor stands at the latest 更新时间 and reads from it inclusively: rows at that time
    // would be read again, so only earlier ones are changed.
    let latest = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["更新时间"].as_str())
        .max()
        .unwrap()
        .to_string();
    let mut out = Vec::new();
    let residents = env.residents_in_scope().await;
    for r in residents
        .iter()
        .filter(|r| r["更新时间"].as_str() < Some(latest.as_str()))
    {
        if out.len() == n {
            break;
        }
        // 137 then 8 digits: a mobile number no seed resident has (the seed's are 13[89]).
        let phone = format!("137{:08}", out.len());
        env.patch(
            &env.zf,
            &format!("/_admin/workers/{}", r["登记编号"].as_str().unwrap()),
            json!({ "联系电话": phone, "更新时间": r["更新时间"] }),
        )
        .await;
        out.push((canonical_id(r["身份证号"].as_str().unwrap()), phone));
    }
    assert_eq!(out.len(), n);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_reads_one_side_again_creates_nothing_leaves_the_other_cursor_and_resumes_after_sigkill()
 {
    let env = Env::start().await;
    env.sync_once().await;
    // The first run read HY-ESMS before it created anything there: side b has no cursor yet.
    let (a_cursor, b_cursor) = (cursor(&env, "a"), cursor(&env, "b"));
    assert!(a_cursor.is_some() && b_cursor.is_none());
    reset_counters(&env).await;

    // A resync of HY-ESMS (side b): 1,322 records read again, nothing written, and side a's
    // cursor where it was.
    let out = hub_ok(&env, &["resync", "workers", "--side", "b"]).await;
    eprintln!("hub resync workers --side b (nothing changed):\n{out}");
    let run = &runs(&env).await[0];
    assert_eq!(
        (
            &run["trigger"],
            &run["stats"]["a"]["read"],
            &run["stats"]["b"]["read"]
        ),
        (&json!("resync b"), &json!(0), &json!(1322))
    );
    assert_eq!(system_writes(&env).await, (0, 0));
    assert_eq!(cursor(&env, "a"), a_cursor, "side a's cursor is untouched");
    // Read again to its end, side b has its cursor now.
    let b_cursor = cursor(&env, "b");
    assert!(b_cursor.is_some());

    // A resync of the registry with nothing changed: 3,000 rows read again (1,673 outside the
    // filter, the 5 broken ones already dead letters), nothing written, nothing created.
    let out = hub_ok(&env, &["resync", "workers", "--side", "a"]).await;
    eprintln!("hub resync workers --side a (nothing changed):\n{out}");
    assert!(out.starts_with("resync a (workers)"), "{out}");
    assert_eq!(system_writes(&env).await, (0, 0));
    let run = &runs(&env).await[0];
    assert_eq!(run["trigger"], json!("resync a"));
    assert_eq!(run["status"], json!("ok"));
    assert_eq!(
        (
            &run["stats"]["a"]["read"],
            &run["stats"]["a"]["filtered"],
            &run["stats"]["b"]["read"]
        ),
        (&json!(3000), &json!(1673), &json!(0))
    );
    assert_eq!(cursor(&env, "b"), b_cursor, "side b's cursor is untouched");

    // 600 phones changed without a new 更新时间: a run misses them, a resync finds them.
    let changed = changes_the_cursor_misses(&env, 600).await;
    env.sync_once().await;
    assert_eq!(system_writes(&env).await, (0, 0), "the cursor misses them");
    // Killed (SIGKILL) once 150 of them reached HY-ESMS.
    let mut child = env
        .hub(&["resync", "workers", "--side", "a", "--config", CONFIG])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let updated = |c: &Value| {
        c["collections"]["zhenfeng-workers"]["updated"]
            .as_u64()
            .unwrap_or(0)
    };
    while updated(&env.get(&env.hy, "/_admin/counters").await) < 150 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the resync never got going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the resync ended before it could be killed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.start_kill().unwrap();
    let killed = child.wait_with_output().await.unwrap();
    env.keep(&killed);
    let at_kill = updated(&env.get(&env.hy, "/_admin/counters").await);
    assert!(at_kill < 600, "killed mid-resync ({at_kill} updated)");

    let out = hub_ok(&env, &["resync", "workers", "--side", "a"]).await;
    eprintln!("hub resync workers --side a after a SIGKILL at {at_kill} updates:\n{out}");
    assert!(
        out.contains("this resync went on from the batches it had committed"),
        "{out}"
    );
    let history = runs(&env).await;
    let (resumed, interrupted) = (&history[0], &history[1]);
    assert_eq!(
        (&interrupted["trigger"], &interrupted["status"]),
        (&json!("resync a"), &json!("interrupted"))
    );
    assert_eq!(
        (
            &resumed["trigger"],
            &resumed["status"],
            &resumed["resumed_from"]
        ),
        (&json!("resync a"), &json!("ok"), &interrupted["id"])
    );
    // It went on from its committed cursor, not from the beginning.
    assert!(
        resumed["stats"]["a"]["read"].as_u64().unwrap() < 3000,
        "{resumed}"
    );
    let c = env.get(&env.hy, "/_admin/counters").await;
    assert_eq!(created(&c, "zhenfeng-workers"), 0, "nothing created");
    assert_eq!(c["keys_created_more_than_once"], json!([]));
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    assert_eq!(hy.len(), 1322, "no record twice");
    for (id, phone) in &changed {
        assert_eq!(hy[id]["phone"], json!(phone), "{id}");
    }
    assert_eq!(cursor(&env, "b"), b_cursor, "side b's cursor is untouched");
    // And the run after writes nothing.
    reset_counters(&env).await;
    env.sync_once().await;
    assert_eq!(system_writes(&env).await, (0, 0));

    // --since: only records changed since then are looked at; a time after every record's
    // update reads all 3,000 rows past.
    let out = hub_ok(
        &env,
        &[
            "resync",
            "workers",
            "--side",
            "a",
            "--since",
            "2026-01-01 00:00",
        ],
    )
    .await;
    eprintln!("hub resync workers --side a --since '2026-01-01 00:00':\n{out}");
    let run = &runs(&env).await[0];
    assert_eq!(run["trigger"], json!("resync a since 2025-12-31T16:00:00Z"));

    // Typos.
    let err = hub_err(&env, &["resync", "workers", "--side", "c"]).await;
    assert!(
        err.contains("invalid value 'c'") && err.contains("[possible values: a, b]"),
        "{err}"
    );
    let err = hub_err(&env, &["resync", "workers", "--since", "yesterday"]).await;
    assert!(err.contains("--since \"yesterday\" is not a time"), "{err}");
    let err = hub_err(&env, &["resync", "wokers"]).await;
    assert!(
        err.contains("\"wokers\"") && err.contains("workers"),
        "{err}"
    );

    // The API, beside a running daemon whose schedule does not fire.
    let config = config_with(&env, "");
    let child = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
    let (url, token) = env.admin_address().await;
    let http = reqwest::Client::new();
    let post = |path: &str| http.post(format!("{url}{path}")).bearer_auth(&token).send();
    let r = post("/api/syncs/workers/resync?side=c").await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("no side \"c\""),
        "{e}"
    );
    let r = post("/api/syncs/workers/resync?sid=a").await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let r = post("/api/syncs/workers/resync?side=a").await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r: Vec<Value> = http
            .get(format!("{url}/api/runs?sync=workers&limit=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if r[0]["trigger"] == "resync a" && r[0]["status"] == "ok" && r[0]["id"] != run["id"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API's resync did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = env.stop(child).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        0
    );
}
