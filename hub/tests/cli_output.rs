//! The command line's lists print what plugins and the systems behind them supplied (remote ids,
//! error messages, dead-letter and conflict reasons, run errors) with their control characters
//! as visible escapes: the real `hub` binary on a state store seeded with hostile strings.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use hub::audit::{NewAuditEntry, WriteAction, WriteOutcome};
use hub::schema::Violation;
use hub::store::{Commit, ConflictKind, NewConflict, NewDeadLetter, Side, Store};
use std::path::Path;

/// What a hostile connector could hand the hub as a remote id or a message: an ANSI sequence
/// that clears the screen, a NUL, a line break.
const HOSTILE: &str = "\u{1b}[2J\u{0}evil\nline";

/// How `hub` must print it.
const ESCAPED: &str = r"\u{1b}[2J\u{0}evil\nline";

/// A deployment of no plugin and no sync whose state store is `dir/data/state.db`.
fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("hub.toml");
    std::fs::write(&path, "[hub]\ndata_dir = \"data\"\n").unwrap();
    path
}

/// Seeds the store of `config` with an audit entry, a run, a dead letter and a conflict, each
/// carrying [`HOSTILE`].
async fn seed(config: &Path) {
    let c = hub::config::load(config).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&c.store_url())
        .await
        .unwrap()
        .with_audit_key(hub::keys::Keys::derive(&[7u8; 32]).audit_key());
    // The state key those entries are chained with, where the daemon keeps it (hex, owner
    // only): `hub conflicts resolve` appends its decision to the same chain.
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(c.data_dir().join("state.key"))
            .unwrap();
        f.write_all("07".repeat(32).as_bytes()).unwrap();
    }
    let run = store
        .start_run("workers", &hub::store::RunTrigger::Manual, None)
        .await
        .unwrap();
    store
        .commit(
            "workers",
            Commit {
                audit: &[NewAuditEntry {
                    run_id: run,
                    system: "hostile".into(),
                    side: Side::B,
                    key_hash: "ab".repeat(32),
                    action: WriteAction::Create,
                    result: WriteOutcome::Created,
                    remote_id: Some(HOSTILE.into()),
                    actor: None,
                    detail: None,
                }],
                dead_letters: &[NewDeadLetter {
                    run_id: run,
                    side: Side::B,
                    stage: hub::store::DeadLetterStage::Write,
                    key_hash: Some("cd".repeat(32)),
                    key_masked: Some("5223**********123X".into()),
                    remote_id: Some(HOSTILE.into()),
                    record_hash: "h".into(),
                    errors: vec![Violation {
                        pointer: "/name".into(),
                        message: HOSTILE.into(),
                    }],
                    record: None,
                }],
                conflicts: &[NewConflict {
                    run_id: run,
                    kind: ConflictKind::Write,
                    key_hash: "ef".repeat(32),
                    key_masked: Some("4403**********0017".into()),
                    side: Side::B,
                    reason: HOSTILE.into(),
                }],
                ..Commit::default()
            },
        )
        .await
        .unwrap();
    store
        .finish_run(
            run,
            hub::store::RunStatus::Failed,
            &serde_json::json!({}),
            Some(HOSTILE),
        )
        .await
        .unwrap();
    store.close().await;
}

/// Runs `hub ARGS... --config CONFIG`; its standard output, after checking it succeeded.
fn hub(config: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("hub runs");
    assert!(
        out.status.success(),
        "hub {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `stdout` holds no ESC, NUL or carriage return, has `lines` lines, and shows [`ESCAPED`].
fn assert_escaped(what: &str, stdout: &[u8], lines: usize) {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    assert!(
        !stdout.iter().any(|b| matches!(b, 0x1b | 0x00 | b'\r')),
        "{what}: a raw control character in {text:?}"
    );
    assert!(text.contains(ESCAPED), "{what}: {text}");
    assert_eq!(text.lines().count(), lines, "{what}: {text}");
}

#[tokio::test]
async fn the_lists_print_hostile_ids_and_messages_with_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    seed(&config).await;

    let audit = hub(&config, &["audit", "list"]);
    assert_escaped("hub audit list", &audit, 1);
    let line = String::from_utf8(audit).unwrap();
    assert!(
        line.contains(&format!(
            " hostile(b)  create created   {ESCAPED} key abababababababab…"
        )),
        "{line}"
    );

    // JSON lines are serde_json's: the same text, escaped as JSON, one object a line.
    let json = hub(&config, &["audit", "list", "--json"]);
    assert!(!json.iter().any(|b| matches!(b, 0x1b | 0x00 | b'\r')));
    let json = String::from_utf8(json).unwrap();
    assert_eq!(json.lines().count(), 1, "{json}");
    let entry: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(entry["remote_id"], HOSTILE);

    // The dead letter, under the list's heading: its remote id on its line, its message on
    // the next.
    assert_escaped(
        "hub dead-letters list",
        &hub(&config, &["dead-letters", "list"]),
        3,
    );
    let show = hub(&config, &["dead-letters", "show", "1"]);
    assert_escaped("hub dead-letters show", &show, 5);
    assert_eq!(String::from_utf8(show).unwrap().matches(ESCAPED).count(), 2);
    assert_escaped(
        "hub conflicts list",
        &hub(&config, &["conflicts", "list"]),
        2,
    );
    assert_escaped(
        "hub conflicts show",
        &hub(&config, &["conflicts", "show", "1"]),
        1,
    );
    assert_escaped("hub runs", &hub(&config, &["runs"]), 2);
}

/// A deployment with one sync, `workers`, whose state store is `dir/data/state.db` (the
/// plugins' files are never opened by the commands tested here).
fn config_with_a_sync(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("hub.toml");
    std::fs::write(
        &path,
        "[hub]\ndata_dir = \"data\"\n\
         [plugins.zhenfeng-registry]\npath = \"zf.wasm\"\n\
         [plugins.huiyang-esms]\npath = \"hy.wasm\"\n\
         [syncs.workers]\nschema = \"worker\"\n\
         a = { plugin = \"zhenfeng-registry\", stream = \"workers\" }\n\
         b = { plugin = \"huiyang-esms\", stream = \"zhenfeng-workers\" }\n\
         schedule = \"0 2 * * *\"\n",
    )
    .unwrap();
    path
}

/// Runs `hub ARGS... --config CONFIG`, which must fail with exit code 1; its standard error.
fn hub_fails(config: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("hub runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "hub {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "hub {args:?} printed a result");
    String::from_utf8(out.stderr).unwrap()
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn typos_are_errors_and_empty_lists_say_nothing_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_a_sync(dir.path());
    let unknown = format!(
        "no sync \"nosuch\" in {}; the configured syncs are: workers",
        config.display()
    );
    for args in [
        &["dead-letters", "replay", "--all", "--sync", "nosuch"][..],
        &["trigger", "nosuch"],
        &["pause", "nosuch"],
        &["resume", "nosuch"],
    ] {
        let err = hub_fails(&config, args);
        assert!(err.contains(&unknown), "hub {args:?}: {err}");
    }
    // The lists of what the store keeps also take a sync removed from the configuration that
    // has runs in the history (none here), and say so.
    let unknown = format!(
        "no sync \"nosuch\" in {} or the run history; the configured syncs are: workers",
        config.display()
    );
    for args in [
        &["runs", "--sync", "nosuch"][..],
        &["dead-letters", "list", "--sync", "nosuch"],
        &["conflicts", "list", "--sync", "nosuch"],
        &["audit", "list", "--sync", "nosuch"],
    ] {
        let err = hub_fails(&config, args);
        assert_eq!(err, format!("error: {unknown}\n"), "hub {args:?}");
    }

    assert_eq!(
        text(hub(&config, &["runs"])),
        "无 / nothing: no runs in the state store\n"
    );
    assert_eq!(
        text(hub(&config, &["dead-letters", "list", "--sync", "workers"])),
        "open dead letters in the state store (id sync side stage system-id key; times in Asia/Shanghai): 0\n无 / nothing open\n"
    );
    assert_eq!(
        text(hub(&config, &["conflicts", "list"])),
        "open conflicts in the state store (id sync key what attempts runs reason status): 0\n无 / nothing open\n"
    );
    assert_eq!(
        text(hub(&config, &["dead-letters", "replay", "--all"])),
        "无 / nothing open: no open dead letters in the state store to replay\n"
    );
    let err = hub_fails(&config, &["dead-letters", "show", "9"]);
    assert!(
        err.contains(&format!(
            "no dead letter 9 in the state store of {}",
            config.display()
        )),
        "{err}"
    );

    // No daemon holds data/daemon.lock: the request is kept, and the operator told.
    let trigger = text(hub(&config, &["trigger", "workers"]));
    assert!(
        trigger.starts_with(&format!(
            "run of workers requested, but no hub daemon is running on {} (its daemon.lock is free)",
            dir.path().join("data").display()
        )),
        "{trigger}"
    );
    assert_eq!(
        text(hub(&config, &["pause", "workers"])),
        "workers paused: scheduled runs are skipped until `hub resume workers`\n"
    );
    assert_eq!(
        text(hub(&config, &["pause", "workers"])),
        "workers is already paused; nothing changed (`hub resume workers` resumes it)\n"
    );
    assert_eq!(
        text(hub(&config, &["resume", "workers"])),
        "workers resumed\n"
    );
    assert_eq!(
        text(hub(&config, &["resume", "workers"])),
        "workers is not paused; nothing changed\n"
    );

    // One dead letter and one conflict (of `workers`): the singular, and a second decision.
    seed(&config).await;
    assert_eq!(
        text(hub(
            &config,
            &["dead-letters", "replay", "--all", "--sync", "workers"]
        )),
        "1 dead letter will be replayed by its sync's next run (`hub trigger SYNC` runs it now)\n"
    );
    hub(&config, &["conflicts", "resolve", "1", "--take", "a"]);
    let err = hub_fails(&config, &["conflicts", "resolve", "1", "--take", "b"]);
    assert!(
        err.contains("conflict 1 already has a decision (take side a by cli:")
            && err.contains("), which the next run applies; add --replace to take side b instead"),
        "{err}"
    );
    hub(
        &config,
        &["conflicts", "resolve", "1", "--take", "b", "--replace"],
    );
    let show = text(hub(&config, &["conflicts", "show", "1"]));
    assert!(
        show.contains("(taking b on the next run, decided by cli:"),
        "{show}"
    );
}

#[tokio::test]
async fn a_sync_removed_from_the_configuration_keeps_its_history_listable_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // No sync configured; the store has a run, a dead letter and a conflict of `workers`.
    let config = config(dir.path());
    seed(&config).await;
    let runs = text(hub(&config, &["runs", "--sync", "workers"]));
    assert_eq!(runs.lines().count(), 2, "the heading and run 1: {runs}");
    assert!(
        runs.lines()
            .nth(1)
            .unwrap()
            .starts_with("    1  workers      manual    failed  "),
        "{runs}"
    );
    let dead = text(hub(&config, &["dead-letters", "list", "--sync", "workers"]));
    assert!(
        dead.starts_with("open dead letters in the state store (id sync side stage system-id key; times in Asia/Shanghai): 1\n#1 workers b write "),
        "{dead}"
    );
    let conflicts = text(hub(&config, &["conflicts", "list", "--sync", "workers"]));
    assert!(
        conflicts.starts_with("open conflicts in the state store (id sync key what attempts runs reason status): 1\n#1 workers "),
        "{conflicts}"
    );
    // A replay needs a sync that can run.
    let err = hub_fails(
        &config,
        &["dead-letters", "replay", "--all", "--sync", "workers"],
    );
    assert_eq!(
        err,
        format!(
            "error: no sync \"workers\" in {}; the configured syncs are: (none)\n",
            config.display()
        )
    );
    // A name in neither is still an error, which names the removed sync it may have meant.
    let err = hub_fails(&config, &["runs", "--sync", "worker"]);
    assert_eq!(
        err,
        format!(
            "error: no sync \"worker\" in {} or the run history; the configured syncs are: (none); removed, with a history: workers\n",
            config.display()
        )
    );
}
