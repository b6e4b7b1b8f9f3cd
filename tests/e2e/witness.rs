//! The audit witness (`hub.audit_witness`, on in config/demo.toml): the chain's head appended
//! to a file after every run, and `hub audit verify --witness FILE` against a chain cut short,
//! a store restored from an older backup, and a witness that went missing.

use crate::CONFIG;
use crate::harness::Env;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `hub audit verify --witness W` on the demo config.
async fn verify_with(env: &Env, w: &str) -> std::process::Output {
    env.run(&["audit", "verify", "--config", CONFIG, "--witness", w])
        .await
}

/// The witness's lines as (entries, head).
fn heads(path: &std::path::Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "{l}");
            (
                f[1].strip_prefix("entries=").unwrap().parse().unwrap(),
                f[2].strip_prefix("head=").unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_shows_entries_cut_from_the_end_an_older_backup_and_its_own_loss() {
    let env = Env::start().await;
    let witness = env.dir.path().join("audit.witness");
    let w = witness.to_str().unwrap().to_string();
    let verify = || verify_with(&env, &w);

    // The first run creates every worker in HY-ESMS and writes the registry the employers'
    // codes HY-ESMS looked up: 1,322 + 117 audited writes (the counts the operating tests
    // work out from the simulators), witnessed once.
    env.sync_once().await;
    let after_first = heads(&witness);
    assert_eq!(after_first.len(), 1, "{after_first:?}");
    assert_eq!(
        after_first[0].0,
        1322 + super::harness::DEMO_CODES_LOOKED_UP
    );
    let out = verify().await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "the witness agrees: its 1 heads are in the chain, the last entry it saw is {} (head {}, witnessed ",
            after_first[0].0,
            &after_first[0].1[..16]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\naudit log intact: {} entries, head {}\n",
            after_first[0].0,
            &after_first[0].1[..16]
        )),
        "the chain's own head is the one witnessed: {text}"
    );

    // A backup of the store now; then the job postings are carried too.
    let db = env.dir.path().join("state.db");
    let backup = env.dir.path().join("backup");
    std::fs::create_dir(&backup).unwrap();
    let files = ["state.db", "state.db-wal"];
    for f in files {
        if env.dir.path().join(f).exists() {
            std::fs::copy(env.dir.path().join(f), backup.join(f)).unwrap();
        }
    }
    env.sync_once_of("job-postings").await;
    let all = heads(&witness);
    assert_eq!(all.len(), 2, "{all:?}");
    let (n, head) = all[1].clone();
    assert!(n > after_first[0].0, "{all:?}");

    // The newest three entries deleted (the append-only triggers dropped first).
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_no_delete")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE id > ?")
        .bind(n as i64 - 3)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = verify().await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let cut = |has: u64| {
        format!(
            "audit log chain intact ({has} entries), but the audit log was cut short: the witness saw entry {n} (head {}, witnessed ",
            &head[..16]
        )
    };
    assert!(text.starts_with(&cut(n - 3)), "{text}");
    assert!(
        text.contains(&format!(
            ", line 2) but the store has {} entries: entries {}..{n} were removed from the end, or the store was restored from an older backup\n",
            n - 3,
            n - 2
        )),
        "{text}"
    );

    // The store put back from the backup taken after the first run.
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(env.dir.path().join(f));
    }
    for f in files {
        if backup.join(f).exists() {
            std::fs::copy(backup.join(f), env.dir.path().join(f)).unwrap();
        }
    }
    let out = verify().await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with(&cut(after_first[0].0)), "{text}");

    // The witness gone: reported by verify, and a run neither recreates it nor fails for it.
    let moved = env.dir.path().join("audit.witness.moved");
    std::fs::rename(&witness, &moved).unwrap();
    let out = verify().await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(&format!(
            "audit witness {w}: cannot read it (No such file or directory (os error 2)); a witness is never recreated: restore it from where it was copied"
        )),
        "{text}"
    );
    env.sync_once().await;
    assert!(!witness.exists(), "the witness was recreated");
    assert!(
        env.logs().contains(&format!(
            "audit witness {w} is missing but the audit log has "
        )),
        "{}",
        env.logs()
    );
}
