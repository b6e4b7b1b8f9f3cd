//! Operating the daemon: the audit log (`hub audit verify|list`) and `hub check`, against the
//! simulators and the real binary on the demo configuration.
//!
//! Expected values come from the simulators' own write counters and from hashes computed here
//! with the hmac, hkdf and sha2 crates, not from the hub's code.

use super::harness::{self, Env, canonical_id};
use super::{CONFIG, created, writes};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes the two simulators counted for the workers sync, as (HY-ESMS, ZF-REG).
async fn counted_writes(env: &Env) -> (u64, u64) {
    let hy = env.get(&env.hy, "/_admin/counters").await;
    let zf = env.get(&env.zf, "/_admin/counters").await;
    (writes(&hy, "zhenfeng-workers"), writes(&zf, "workers"))
}

async fn verify(env: &Env) -> (Option<i32>, String) {
    let out = env.run(&["audit", "verify", "--config", CONFIG]).await;
    (out.status.code(), stdout(&out))
}

/// Every entry of the audit log, newest first (`hub audit list --json`).
async fn audit_list(env: &Env) -> Vec<Value> {
    let out = env
        .run(&[
            "audit", "list", "--json", "--limit", "100000", "--config", CONFIG,
        ])
        .await;
    assert!(out.status.success());
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The state database, opened directly (as someone with access to the file would).
async fn state_db(env: &Env) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", env.dir.path().join("state.db").display());
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}

/// The link key hash of a worker, worked out here: HMAC-SHA256 under HKDF-SHA256(state key,
/// salt `hub state v1`, info `key-hash`) of the JSON array of its canonical identity number.
fn key_hash(env: &Env, id_number: &str) -> String {
    let state_key = hex::decode(
        std::fs::read_to_string(env.dir.path().join("state.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let mut k = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(b"hub state v1"), &state_key)
        .expand(b"key-hash", &mut k)
        .unwrap();
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&k).unwrap();
    mac.update(format!("[\"{id_number}\"]").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_holds_every_write_and_verify_names_an_altered_or_removed_entry() {
    let env = Env::start().await;
    env.sync_once().await;
    // Every write the systems counted is one entry: the 1,322 residents created in HY-ESMS and
    // the employers' codes HY-ESMS looked up, written to the registry.
    let (hy, zf) = counted_writes(&env).await;
    assert_eq!((hy, zf), (1322, harness::DEMO_CODES_LOOKED_UP));
    let (code, text) = verify(&env).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "audit log intact: {} entries, head ",
            1322 + harness::DEMO_CODES_LOOKED_UP
        )),
        "{text}"
    );

    // A status changed in Huiyang goes to the registry: one entry, one write. The merged record
    // is not sent back to HY-ESMS, though it holds registry fields HY-ESMS does not keep: HY-ESMS
    // would store it as it holds it (its connector's normal form; issue 18).
    let hy_workers = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let w = hy_workers
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
    env.sync_once().await;
    assert_eq!(
        counted_writes(&env).await,
        (1322, harness::DEMO_CODES_LOOKED_UP + 1)
    );
    let (code, text) = verify(&env).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "audit log intact: {} entries, head ",
            1322 + harness::DEMO_CODES_LOOKED_UP + 1
        )),
        "{text}"
    );
    // The first run's 1,322 creations and 117 codes, then the status: entry 1,440.
    let last = 1322 + harness::DEMO_CODES_LOOKED_UP as i64 + 1;
    let all = audit_list(&env).await;
    assert_eq!(
        all.iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        (1..=last).rev().collect::<Vec<i64>>(),
        "newest first"
    );
    let changing = all
        .iter()
        .filter(|e| e["result"] == "created" || e["result"] == "updated")
        .count();
    assert_eq!(
        changing as i64, last,
        "the entries that changed a system are the writes the systems counted"
    );
    let id = canonical_id(w["idNo"].as_str().unwrap());
    let registry = env.get(&env.zf, "/_admin/workers").await;
    let djbh = registry
        .as_array()
        .unwrap()
        .iter()
        .find(|r| canonical_id(r["身份证号"].as_str().unwrap()) == id)
        .unwrap()["登记编号"]
        .clone();
    let run2: Vec<&Value> = all.iter().filter(|e| e["run_id"] == json!(2)).collect();
    assert_eq!(run2.len(), 1, "{run2:?}");
    let to_zf = run2[0];
    assert_eq!(to_zf["system"], "zhenfeng-registry");
    assert_eq!(
        (
            &to_zf["id"],
            &to_zf["sync"],
            &to_zf["side"],
            &to_zf["action"],
            &to_zf["result"],
            &to_zf["remote_id"]
        ),
        (
            &json!(last),
            &json!("workers"),
            &json!("a"),
            &json!("update"),
            &json!("updated"),
            &djbh
        )
    );
    assert_eq!(
        to_zf["key_hash"],
        json!(key_hash(&env, &id)),
        "the entry names the record by its link key hash"
    );
    assert!(
        !Value::from(all.clone()).to_string().contains(&id[..14]),
        "no identity number in the audit log"
    );
    // The table form and --sync.
    let out = env
        .run(&[
            "audit", "list", "--sync", "workers", "--limit", "2", "--config", CONFIG,
        ])
        .await;
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let zf_line = lines
        .iter()
        .find(|l| l.contains("zhenfeng-registry(a)"))
        .unwrap();
    assert!(
        zf_line.trim_start().starts_with(&format!("{last}  "))
            && zf_line.contains(" update ")
            && zf_line.contains(" updated "),
        "{zf_line}"
    );
    let out = env
        .run(&[
            "audit",
            "list",
            "--sync",
            "no-such-sync",
            "--config",
            CONFIG,
        ])
        .await;
    assert_eq!(stdout(&out), "");

    // One byte of entry 700 changed in the database: the triggers refuse it until dropped.
    let db = state_db(&env).await;
    // (The key hash is kept as its 32 bytes: the first hex digit of the first byte changes.)
    let flip = "UPDATE audit SET key_hash = unhex((CASE substr(hex(key_hash), 1, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(hex(key_hash), 2)) WHERE id = 700";
    let refused = sqlx::query(flip).execute(&db).await.unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
    let original: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM audit WHERE id = 700")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_no_delete")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(flip).execute(&db).await.unwrap();
    let changed: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM audit WHERE id = 700")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        changed
            .iter()
            .zip(original.iter())
            .filter(|(a, b)| a != b)
            .count(),
        1,
        "one byte changed"
    );
    let (code, text) = verify(&env).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.starts_with("audit log broken at entry 700: hash mismatch"),
        "{text}"
    );
    // Put back, the chain is whole again.
    sqlx::query("UPDATE audit SET key_hash = ? WHERE id = 700")
        .bind(&original)
        .execute(&db)
        .await
        .unwrap();
    let (code, text) = verify(&env).await;
    assert_eq!(
        (
            code,
            text.starts_with(&format!("audit log intact: {last} entries"))
        ),
        (Some(0), true),
        "{text}"
    );

    // An entry removed from the middle.
    sqlx::query("DELETE FROM audit WHERE id = 500")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let (code, text) = verify(&env).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.starts_with(
            "audit log broken at entry 501: gap in ids: entry 500 before it is missing"
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_a_run_killed_before_recording_them_are_audited_when_read_back() {
    let env = Env::start().await;
    // HY-ESMS answers in 5 ms: a batch of 200 creations takes a second, so the kill below lands
    // inside the write call of the batch of residents 401 to 600.
    env.post(&env.hy, "/_admin/faults", json!({"slow_ms": 5}))
        .await;
    env.kill_sync_when(450, |c| created(c, "zhenfeng-workers"))
        .await;
    env.delete(&env.hy, "/_admin/faults").await;
    let killed_at = created(
        &env.get(&env.hy, "/_admin/counters").await,
        "zhenfeng-workers",
    );
    env.sync_once().await;
    assert_eq!(
        counted_writes(&env).await,
        (1322, harness::DEMO_CODES_LOOKED_UP)
    );
    let entries = audit_list(&env).await;
    let (code, text) = verify(&env).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "audit log intact: {} entries, head ",
            entries.len()
        )),
        "{text}"
    );
    let of = |run: i64, result: &str| {
        entries
            .iter()
            .filter(|e| e["run_id"] == json!(run) && e["result"] == json!(result))
            .count() as u64
    };
    // The killed run recorded its first two batches; the in-flight third batch's creations are
    // recognised when the next run reads them back; the next run creates the rest.
    assert_eq!(of(1, "created"), 400);
    // (HY-ESMS's creations: the batch's employers' codes, written to the registry before them,
    // are recognised too.)
    let recovered_in_hy = entries
        .iter()
        .filter(|e| {
            e["run_id"] == json!(2)
                && e["result"] == json!("recovered")
                && e["system"] == json!("huiyang-esms")
        })
        .count() as u64;
    assert_eq!(recovered_in_hy, killed_at - 400);
    assert_eq!(of(2, "created"), 1322 - killed_at);
    // Each creation is one entry, whichever run recorded it.
    let made: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter(|e| e["result"] == "created" || e["result"] == "recovered")
        .map(|e| e["key_hash"].as_str().unwrap())
        .collect();
    assert_eq!(made.len(), 1322);
    // Anything else was an employer's code written to the registry (counted by it), or a write
    // the system found nothing to change in (counted by neither).
    assert!(entries.iter().all(|e| {
        ["created", "recovered", "unchanged"].contains(&e["result"].as_str().unwrap())
            || e["system"] == json!("zhenfeng-registry")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_call_that_fails_as_a_whole_is_audited_for_every_record_it_carried() {
    let env = Env::start().await;
    // HY-ESMS answers in 20 ms and the plugin's calls may take 2 s: the first write call (a
    // batch of 200 creations, 4 s) runs out of time part way.
    let text = std::fs::read_to_string(super::harness::workspace().join(CONFIG)).unwrap();
    let cfg = env.dir.path().join("slow.toml");
    std::fs::write(
        &cfg,
        text.replace(
            "[plugins.huiyang-esms]\n",
            "[plugins.huiyang-esms]\nlimits = { call_timeout_secs = 2 }\n",
        ),
    )
    .unwrap();
    env.post(&env.hy, "/_admin/faults", json!({"slow_ms": 20}))
        .await;
    let out = env
        .run(&[
            "sync",
            "workers",
            "--once",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "the run failed: {}",
        stdout(&out)
    );
    env.delete(&env.hy, "/_admin/faults").await;
    // Whatever request was in flight has long been answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reached = created(
        &env.get(&env.hy, "/_admin/counters").await,
        "zhenfeng-workers",
    );
    assert!(
        reached > 0 && reached < 200,
        "part of the batch was created ({reached})"
    );
    let first = audit_list(&env).await;
    // The batch's employers' codes went to the registry before the call to HY-ESMS failed: one
    // entry per write the registry counted, and one per record of the failed call.
    let (hy_entries, zf_entries): (Vec<&Value>, Vec<&Value>) = first
        .iter()
        .partition(|e| e["system"] == json!("huiyang-esms"));
    let zf_writes = writes(&env.get(&env.zf, "/_admin/counters").await, "workers");
    assert!(
        zf_writes > 0,
        "the first batch has employers known by name only"
    );
    assert_eq!(zf_entries.len() as u64, zf_writes);
    for e in &zf_entries {
        assert_eq!(
            (&e["side"], &e["action"], &e["result"]),
            (&json!("a"), &json!("update"), &json!("updated"))
        );
    }
    assert_eq!(
        hy_entries.len(),
        200,
        "one entry per record of the failed call"
    );
    for e in hy_entries {
        assert_eq!(
            (
                &e["run_id"],
                &e["system"],
                &e["side"],
                &e["action"],
                &e["result"],
                &e["remote_id"]
            ),
            (
                &json!(1),
                &json!("huiyang-esms"),
                &json!("b"),
                &json!("create"),
                &json!("failed"),
                &Value::Null
            )
        );
    }
    let (code, text) = verify(&env).await;
    assert_eq!(
        (
            code,
            text.starts_with(&format!("audit log intact: {} entries, head ", first.len()))
        ),
        (Some(0), true),
        "{text}"
    );

    // The next run recognises the creations that did happen and makes the others.
    env.sync_once().await;
    let c = env.get(&env.hy, "/_admin/counters").await;
    assert_eq!(
        (
            created(&c, "zhenfeng-workers"),
            &c["keys_created_more_than_once"]
        ),
        (1322, &json!([]))
    );
    let all = audit_list(&env).await;
    let of = |result: &str| {
        all.iter()
            .filter(|e| e["run_id"] == json!(2) && e["result"] == json!(result))
            .count() as u64
    };
    assert_eq!((of("recovered"), of("created")), (reached, 1322 - reached));
    let (code, text) = verify(&env).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!("audit log intact: {} entries, head ", all.len())),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_against_the_live_systems_and_writes_nothing() {
    let env = Env::start().await;
    let out = env.run(&["check", "--config", CONFIG]).await;
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        8,
        "three plugins, three syncs, the store, the summary: {text}"
    );
    assert!(
        lines[0].starts_with("plugin huiyang-esms: ok (huiyang-esms "),
        "{text}"
    );
    assert!(
        lines[1].starts_with("plugin medical-roster: ok (medical-roster "),
        "{text}"
    );
    assert!(
        lines[2].starts_with("plugin zhenfeng-registry: ok (zhenfeng-registry "),
        "{text}"
    );
    assert!(lines[3].starts_with("sync job-postings: ok (a = huiyang-esms/jobs, b = zhenfeng-registry/job-board, a_to_b, "), "{text}");
    assert!(lines[4].starts_with("sync secondments: ok (a = huiyang-esms/secondments, b = medical-roster/secondments, both, "), "{text}");
    assert!(lines[5].starts_with("sync workers: ok (a = zhenfeng-registry/workers, b = huiyang-esms/zhenfeng-workers, both, "), "{text}");
    assert_eq!(
        lines[6],
        format!(
            "store sqlite://{}: ok (not created yet: the daemon creates it at its first start)",
            env.dir.path().join("state.db").display()
        )
    );
    assert_eq!(lines[7], "check: 3 plugins, 3 syncs and the state store ok");
    // The check logged in and read a page; it wrote nothing and left no state behind.
    assert_eq!(counted_writes(&env).await, (0, 0));
    let roster = env.get(&env.med, "/_admin/counters").await;
    assert!(
        roster["requests"].as_u64().unwrap() >= 1,
        "the roster was reached"
    );
    for kind in ["Practitioner", "PractitionerRole"] {
        assert_eq!(roster["collections"][kind]["created"], 0);
    }
    assert!(!env.dir.path().join("state.db").exists());
    assert!(
        env.get(&env.zf, "/_admin/counters").await["requests"]
            .as_u64()
            .unwrap()
            >= 1,
        "the registry was reached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_3_naming_the_plugin_whose_system_refuses_or_cannot_be_reached() {
    let env = Env::start().await;
    let password = "not-the-zf-password-7q";
    let out = env
        .hub(&["check", "--config", CONFIG])
        .env("ZF_REG_PASSWORD", password)
        .output()
        .await
        .unwrap();
    env.keep(&out);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("plugin zhenfeng-registry: FAILED: check failed (auth): login refused"),
        "{text}"
    );
    assert!(text.contains("plugin huiyang-esms: ok ("), "{text}");
    assert!(
        text.contains("sync workers: FAILED: plugin zhenfeng-registry failed its check"),
        "{text}"
    );
    assert!(
        text.contains("sync job-postings: FAILED: plugin zhenfeng-registry failed its check"),
        "{text}"
    );
    assert!(text.contains("sync secondments: ok ("), "{text}");
    assert!(
        text.ends_with("check: 3 of 7 not ok (0 cannot load, 3 failed against the live systems)\n"),
        "{text}"
    );
    assert!(
        !env.logs().contains(password),
        "the password is never printed"
    );

    // Nothing listens on port 1: HY-ESMS cannot be reached.
    let out = env
        .hub(&["check", "--config", CONFIG])
        .env("HY_ESMS_URL", "http://127.0.0.1:1")
        .output()
        .await
        .unwrap();
    env.keep(&out);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("plugin huiyang-esms: FAILED: check failed ("),
        "{text}"
    );
    assert!(text.contains("plugin zhenfeng-registry: ok ("), "{text}");
}

/// A state store or state key that cannot be used as configured is a configuration error:
/// `hub run`, `hub sync --once` and `hub check` each exit 2 naming it (before, the daemon and
/// `hub sync` exited 1, and `hub check` 3 for a missing CA file, as if the store were down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_or_state_key_that_cannot_be_used_exits_2_from_run_sync_and_check() {
    let env = Env::start().await;
    let commands: [&[&str]; 3] = [
        &["run", "--config", CONFIG],
        &["sync", "workers", "--once", "--config", CONFIG],
        &["check", "--config", CONFIG],
    ];
    // A CA file that is not there: refused before any connection is tried.
    let ca = env.dir.path().join("no-such-ca.pem");
    let store = format!(
        "postgres://hub@127.0.0.1:5432/hub?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    let missing = format!(
        "sslrootcert {}: No such file or directory (os error 2)",
        ca.display()
    );
    for args in commands {
        let out = env
            .hub(args)
            .env("HUB_STORE", &store)
            .output()
            .await
            .unwrap();
        env.keep(&out);
        let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "hub {args:?}: {text}");
        assert!(text.contains(&missing), "hub {args:?}: {text}");
    }
    // A state key other users can read (the daemon makes it 0600).
    let key = env.dir.path().join("state.key");
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(
        &key,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644),
    )
    .unwrap();
    let shared = format!(
        "the state key {} can be read by other users (mode 0644): refused; make it the daemon user's alone with `chmod 600 {}`",
        key.display(),
        key.display()
    );
    for args in commands {
        let out = env.run(args).await;
        let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "hub {args:?}: {text}");
        assert!(text.contains(&shared), "hub {args:?}: {text}");
    }
    // Nothing was synced meanwhile.
    assert_eq!(counted_writes(&env).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_2_with_the_place_of_a_broken_config_or_a_plugin_that_does_not_load() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(harness::workspace().join(CONFIG)).unwrap();
    let line_of = |prefix: &str| text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1;
    let cfg = dir.path().join("bad.toml");

    // A misspelt key: the configuration does not parse.
    std::fs::write(
        &cfg,
        text.replacen("direction = \"both\"", "directon = \"both\"", 1),
    )
    .unwrap();
    let out = env.run(&["check", "--config", cfg.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("bad.toml:{}:1: ", line_of("direction = ")))
            && err.contains("directon"),
        "{err}"
    );

    // A pin that is not the component's digest: the plugin does not load, nor the sync.
    let pinned = text.replace(
        "[plugins.huiyang-esms]\n",
        &format!("[plugins.huiyang-esms]\nsha256 = \"{}\"\n", "0".repeat(64)),
    );
    let pinned = pinned.replace(
        "../target/wasm32-wasip2/plugin",
        &harness::workspace()
            .join("target/wasm32-wasip2/plugin")
            .display()
            .to_string(),
    );
    std::fs::write(&cfg, &pinned).unwrap();
    let path_line = pinned
        .lines()
        .position(|l| l.starts_with("path = ") && l.contains("huiyang_esms"))
        .unwrap()
        + 1;
    let out = env.run(&["check", "--config", cfg.to_str().unwrap()]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "plugin huiyang-esms: NOT LOADED: {}:{path_line}:",
            cfg.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("sync workers: NOT LOADED: ")
            && text.contains("plugin huiyang-esms did not load"),
        "{text}"
    );
    assert!(
        text.contains("plugin zhenfeng-registry: ok ("),
        "the other plugin is still checked: {text}"
    );
}
