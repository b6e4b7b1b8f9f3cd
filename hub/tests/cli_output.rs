//! The command line's lists print what plugins and the systems behind them supplied (remote ids,
//! error messages, dead-letter and conflict reasons, run errors) with their control characters
//! as visible escapes: the real `hub` binary on a state store seeded with hostile strings.

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
    let run = store.start_run("workers", "manual", None).await.unwrap();
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
                }],
                dead_letters: &[NewDeadLetter {
                    run_id: run,
                    side: Side::B,
                    stage: "write",
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
        .finish_run(run, "failed", &serde_json::json!({}), Some(HOSTILE))
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

    // The dead letter: its remote id on its line, its message on the next.
    assert_escaped(
        "hub dead-letters list",
        &hub(&config, &["dead-letters", "list"]),
        2,
    );
    let show = hub(&config, &["dead-letters", "show", "1"]);
    assert_escaped("hub dead-letters show", &show, 5);
    assert_eq!(String::from_utf8(show).unwrap().matches(ESCAPED).count(), 2);
    assert_escaped(
        "hub conflicts list",
        &hub(&config, &["conflicts", "list"]),
        1,
    );
    assert_escaped(
        "hub conflicts show",
        &hub(&config, &["conflicts", "show", "1"]),
        1,
    );
    assert_escaped("hub runs", &hub(&config, &["runs"]), 1);
}
