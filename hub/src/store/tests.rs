//! The store's tests, each run on both backends (SQLite and PostgreSQL).

use super::*;

/// A test body run on both backends, as `NAME::sqlite` (a new file) and `NAME::postgres`
/// (a new database, see [`testing::fresh_postgres_database`]); it gets the store and its URL.
macro_rules! both {
    (async fn $name:ident($s:ident, $url:ident) $body:block) => {
        mod $name {
            use super::*;
            #[allow(unused_variables)]
            async fn body($s: Store, $url: String) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("state.db").display());
                body(Store::open(&url).await.unwrap(), url).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let url = testing::fresh_postgres_database().await.unwrap();
                body(Store::open(&url).await.unwrap(), url).await
            }
        }
    };
}

/// That `values` are written `texts` (given by hand: the texts the store holds) by `Display`
/// and serde, and read back from them by `FromStr` and serde.
pub(super) fn texts_round_trip<T>(values: &[T], texts: &[&str])
where
    T: std::fmt::Display
        + std::str::FromStr<Err: std::fmt::Debug>
        + serde::Serialize
        + serde::de::DeserializeOwned
        + PartialEq
        + std::fmt::Debug,
{
    assert_eq!(values.len(), texts.len(), "{values:?}");
    for (v, &text) in values.iter().zip(texts) {
        assert_eq!(v.to_string(), text);
        assert_eq!(&text.parse::<T>().unwrap(), v, "{text:?}");
        assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(text));
        assert_eq!(
            &serde_json::from_value::<T>(serde_json::json!(text)).unwrap(),
            v
        );
    }
}

/// Runs one statement of the test's own on the store (breaking it on purpose).
async fn exec(s: &Store, sql: &str) -> anyhow::Result<u64> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    on_pool!(s, p => { Ok(sqlx::query(sql).execute(p).await?.rows_affected()) })
}

fn link(k: &str, pending: bool) -> Link {
    let mut l = Link::new(k.into());
    l.pending = pending;
    l.a.remote_id = Some(format!("ZF-{k}"));
    l.a.snapshot = Some(vec![1, 2, 3]);
    l
}

both! {
async fn a_run_whose_lease_is_held_by_a_live_process_is_not_marked_interrupted(s, url) {
    let theirs = s.start_run("w", &RunTrigger::Schedule, None).await.unwrap();
    let abandoned = s.start_run("x", &RunTrigger::Schedule, None).await.unwrap();
    // This (live) process holds w's lease: its run is in progress, not interrupted.
    let lease = s
        .acquire_lease("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.close_interrupted_runs().await.unwrap().len(), 1);
    let status =
        |runs: &[RunRecord], id: i64| runs.iter().find(|r| r.id == id).unwrap().status;
    let runs = s.runs(None, 10).await.unwrap();
    assert_eq!(
        (
            status(&runs, theirs).as_str(),
            status(&runs, abandoned).as_str()
        ),
        ("running", "interrupted")
    );
    // Released (or held by a process that is gone): interrupted at the next start.
    s.release_lease(&lease).await.unwrap();
    assert_eq!(s.close_interrupted_runs().await.unwrap().len(), 1);
    assert_eq!(
        status(&s.runs(None, 10).await.unwrap(), theirs).as_str(),
        "interrupted"
    );
    }
}

both! {
async fn links_cursor_and_dead_letters_commit_together_and_read_back(s, url) {
    let links = [link("k1", true), link("k2", false), link("k3", true)];
    let dl = NewDeadLetter {
        run_id: 1,
        side: Side::A,
        stage: DeadLetterStage::Read,
        key_hash: None,
        key_masked: Some("5223**********123X".into()),
        remote_id: Some("ZF2021000001".into()),
        record_hash: "h1".into(),
        errors: vec![Violation {
            pointer: "/idNumber".into(),
            message: "bad".into(),
        }],
        record: Some(vec![9]),
    };
    s.commit(
        "w",
        Commit {
            links: &links,
            dead_letters: std::slice::from_ref(&dl),
            cursor: Some((Side::A, Some("2021-09-02 10:00:00"))),
            audit: &[],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.cursor("w", Side::A).await.unwrap().as_deref(),
        Some("2021-09-02 10:00:00")
    );
    assert_eq!(s.cursor("w", Side::B).await.unwrap(), None);
    let got = s
        .links("w", &["k2".into(), "k1".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&links[0]) && got.contains(&links[1]));
    let pending: Vec<_> = s
        .pending("w", None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key_hash)
        .collect();
    assert_eq!(pending, ["k1", "k3"]);
    let after: Vec<_> = s
        .pending("w", Some("k1"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key_hash)
        .collect();
    assert_eq!(after, ["k3"]);
    assert_eq!(s.link_counts("w").await.unwrap(), (3, 2));
    // The same record again only counts another occurrence.
    s.commit(
        "w",
        Commit {
            dead_letters: std::slice::from_ref(&dl),
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let d = s.dead_letters(Some("w")).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].occurrences, d[0].errors[0].pointer.as_str()),
        (2, "/idNumber")
    );
    }
}

/// The audit key of state key 32 × 0x07.
fn audit_key() -> AuditKey {
    crate::keys::Keys::derive(&[7u8; 32]).audit_key()
}

fn written(run_id: i64, key: &str, remote_id: Option<&str>) -> NewAuditEntry {
    use crate::audit::{WriteAction, WriteOutcome};
    NewAuditEntry {
        run_id,
        system: "huiyang-esms".into(),
        side: Side::B,
        key_hash: key.into(),
        action: if remote_id.is_some() {
            WriteAction::Update
        } else {
            WriteAction::Create
        },
        result: if remote_id.is_some() {
            WriteOutcome::Updated
        } else {
            WriteOutcome::Created
        },
        remote_id: remote_id.map(str::to_string),
        actor: None,
        detail: None,
    }
}

/// HMAC-SHA256 under the audit key derived with the hkdf crate here, over the encoding.
fn expected_hash(e: &AuditEntry) -> String {
    use hmac::{Hmac, Mac};
    let mut k = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(b"hub state v1"), &[7u8; 32])
        .expand(b"audit-chain", &mut k)
        .unwrap();
    let mut mac = <Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&k).unwrap();
    mac.update(&crate::audit::canonical(e));
    hex::encode(mac.finalize().into_bytes())
}

both! {
async fn audit_entries_are_appended_chained_in_the_commit_of_their_links(s, url) {
    let s = s.with_audit_key(audit_key());
    let links = [link("k1", false), link("k2", false)];
    let audit = [written(3, "k1", None), written(3, "k2", Some("10042"))];
    s.commit(
        "w",
        Commit {
            links: &links,
            audit: &audit,
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    s.commit(
        "v",
        Commit {
            audit: &[written(4, "k3", None)],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let mut all = s.audit_entries(None, 10).await.unwrap();
    all.reverse();
    assert_eq!(
        all.iter()
            .map(|e| (e.id, e.sync.as_str()))
            .collect::<Vec<_>>(),
        [(1, "w"), (2, "w"), (3, "v")]
    );
    let e = &all[1];
    assert_eq!(
        (
            e.run_id,
            e.system.as_str(),
            e.side,
            e.key_hash.as_str(),
            e.action.as_str(),
            e.result.as_str(),
            e.remote_id.as_deref()
        ),
        (
            3,
            "huiyang-esms",
            Side::B,
            "k2",
            "update",
            "updated",
            Some("10042")
        )
    );
    assert_eq!(
        (
            all[0].action.as_str(),
            all[0].result.as_str(),
            all[0].remote_id.as_deref()
        ),
        ("create", "created", None)
    );
    assert_eq!(all[0].prev_hash, GENESIS);
    assert_eq!(all[1].prev_hash, all[0].hash);
    assert_eq!(all[2].prev_hash, all[1].hash);
    for e in &all {
        assert_eq!(e.hash, expected_hash(e), "entry {}", e.id);
        assert!(parse_utc(&e.at).is_some(), "{}", e.at);
    }
    assert_eq!(s.audit_entries(Some("w"), 1).await.unwrap()[0].id, 2);
    assert_eq!(
        s.verify_audit(&audit_key()).await.unwrap(),
        Ok(Intact {
            entries: 3,
            head: Some(all[2].hash.clone())
        })
    );
    // Under another state key the first entry already fails.
    let other = crate::keys::Keys::derive(&[8u8; 32]).audit_key();
    assert_eq!(
        s.verify_audit(&other).await.unwrap(),
        Err(Break::Hash { id: 1 })
    );
    }
}

both! {
async fn a_failed_commit_appends_nothing_and_audit_entries_need_the_key(s, url) {
    let bad = NewDeadLetter {
        run_id: 1,
        side: Side::A,
        stage: DeadLetterStage::Read,
        key_hash: None,
        key_masked: None,
        remote_id: None,
        record_hash: "h".into(),
        errors: vec![],
        record: None,
    };
    let audit = [written(1, "k1", None)];
    let links = [link("k1", false)];
    let e = s
        .commit(
            "w",
            Commit {
                links: &links,
                audit: &audit,
                ..Commit::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no audit key"), "{e}");
    let s = s.with_audit_key(audit_key());
    // The dead letter's insert fails (its table lost a column) after the link and the entry
    // were inserted.
    exec(&s, "ALTER TABLE dead_letters RENAME COLUMN errors TO errors_gone")
        .await
        .unwrap();
    let c = Commit {
        links: &links,
        dead_letters: std::slice::from_ref(&bad),
        audit: &audit,
        ..Commit::default()
    };
    assert!(s.commit("w", c).await.is_err());
    assert_eq!(s.link_counts("w").await.unwrap(), (0, 0));
    assert_eq!(
        s.verify_audit(&audit_key()).await.unwrap(),
        Ok(Intact {
            entries: 0,
            head: None
        })
    );
    }
}

both! {
async fn two_stores_committing_at_once_keep_one_chain(s, url) {
    let one = Store::open(&url).await.unwrap().with_audit_key(audit_key());
    let two = Store::open(&url).await.unwrap().with_audit_key(audit_key());
    let run = |s: Store, sync: &'static str| {
        tokio::spawn(async move {
            for i in 0..40 {
                let links = [link(&format!("{sync}{i}"), false)];
                let audit: Vec<NewAuditEntry> = (0..3)
                    .map(|j| written(i, &format!("{sync}{i}.{j}"), None))
                    .collect();
                // Every other commit carries only audit entries: its first statement
                // reads the chain's head, which a deferred BEGIN would let go stale.
                let links: &[Link] = if i % 2 == 0 { &links } else { &[] };
                s.commit(
                    sync,
                    Commit {
                        links,
                        audit: &audit,
                        ..Commit::default()
                    },
                )
                .await
                .unwrap();
            }
        })
    };
    let (a, b) = tokio::join!(run(one.clone(), "x"), run(two, "y"));
    a.unwrap();
    b.unwrap();
    let r = one.verify_audit(&audit_key()).await.unwrap();
    assert_eq!(r.map(|i| i.entries), Ok(240));
    let ids: Vec<i64> = one
        .audit_entries(None, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, (1..=240).rev().collect::<Vec<i64>>());
    // Each commit's three entries are consecutive: the other store never slipped in between.
    let mut entries = one.audit_entries(None, 1000).await.unwrap();
    entries.reverse();
    for c in entries.chunks(3) {
        assert!(
            c.iter()
                .all(|e| e.sync == c[0].sync && e.run_id == c[0].run_id),
            "{c:?}"
        );
    }
    }
}

both! {
async fn the_audit_log_refuses_changes_and_verify_names_the_entry_altered_or_removed(s, url) {
    let s = s.with_audit_key(audit_key());
    let audit: Vec<NewAuditEntry> = (1..=5)
        .map(|i| written(1, &format!("k{i}"), None))
        .collect();
    s.commit(
        "w",
        Commit {
            audit: &audit,
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let e = exec(&s, "UPDATE audit SET result = 'updated' WHERE id = 3")
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("append-only"), "{e:#}");
    assert!(exec(&s, "DELETE FROM audit WHERE id = 3").await.is_err());
    let on = if s.backend() == "postgres" { " ON audit" } else { "" };
    exec(&s, &format!("DROP TRIGGER audit_no_update{on}"))
        .await
        .unwrap();
    exec(&s, &format!("DROP TRIGGER audit_no_delete{on}"))
        .await
        .unwrap();
    exec(&s, "UPDATE audit SET key_hash = 'k9' WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        s.verify_audit(&audit_key()).await.unwrap(),
        Err(Break::Hash { id: 3 })
    );
    exec(&s, "UPDATE audit SET key_hash = 'k3' WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        s.verify_audit(&audit_key())
            .await
            .unwrap()
            .map(|i| i.entries),
        Ok(5)
    );
    exec(&s, "DELETE FROM audit WHERE id = 2").await.unwrap();
    assert_eq!(
        s.verify_audit(&audit_key()).await.unwrap(),
        Err(Break::Gap { id: 3, expected: 2 })
    );
    }
}

both! {
async fn a_lease_is_held_by_one_process_and_freed_when_it_is_gone(s, url) {
    let ttl = Duration::from_secs(60);
    let take = |s: Store| async move { s.acquire_lease("w", ttl).await.unwrap() };
    let first = take(s.clone()).await.unwrap();
    assert_eq!((first.holder.clone(), first.token), (holder_id(), 1));
    // The same process may take it again: a new token.
    let again = take(s.clone()).await.unwrap();
    assert_eq!(again.token, 2);
    assert!(s.renew_lease(&again, ttl).await.unwrap());
    // The first take's token no longer holds it.
    assert!(!s.renew_lease(&first, ttl).await.unwrap());
    assert!(first.is_lost());
    // A live process of this host holds it: pid 1 (init) is always alive.
    let init = format!("{}:1", this_host());
    exec(&s, &format!("UPDATE leases SET holder = '{init}', pid = 1 WHERE sync = 'w'"))
        .await
        .unwrap();
    assert_eq!(take(s.clone()).await.unwrap_err(), init);
    assert!(!s.renew_lease(&again, ttl).await.unwrap());
    // A process that is gone (pids are below 2^22 on Linux) loses it at once.
    exec(&s, "UPDATE leases SET holder = 'gone', pid = 999999999 WHERE sync = 'w'")
        .await
        .unwrap();
    assert_eq!(take(s.clone()).await.unwrap().token, 3);
    // Another host's lease frees only when it expires.
    exec(&s, "UPDATE leases SET holder = 'elsewhere:5', host = 'elsewhere', pid = 5 WHERE sync = 'w'")
        .await
        .unwrap();
    assert_eq!(take(s.clone()).await.unwrap_err(), "elsewhere:5");
    exec(&s, "UPDATE leases SET expires_at = '2000-01-01T00:00:00.000Z' WHERE sync = 'w'")
        .await
        .unwrap();
    let last = take(s.clone()).await.unwrap();
    assert_eq!(last.token, 4);
    // Released: the row stays, expired, and the next take goes on counting.
    s.release_lease(&last).await.unwrap();
    let leases = s.leases().await.unwrap();
    assert_eq!(
        leases.iter().map(|l| (l.sync.as_str(), l.token, l.live)).collect::<Vec<_>>(),
        [("w", 4, false)]
    );
    assert_eq!(take(s.clone()).await.unwrap().token, 5);
}
}

both! {
async fn racing_takes_of_an_expired_lease_hand_out_distinct_tokens(s, url) {
    // Eight stores (eight pools, as eight daemons would have) race for an expired lease
    // held by another host. Each take is a compare-and-swap on (holder, token).
    exec(&s, "INSERT INTO leases (sync, holder, host, pid, acquired_at, expires_at, token) \
              VALUES ('w', 'elsewhere:5', 'elsewhere', 5, '2000-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z', 1)")
        .await
        .unwrap();
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(Store::open(&url).await.unwrap());
    }
    // They all look before any of them takes, so every take is a compare-and-swap race.
    let handles: Vec<_> = stores
        .into_iter()
        .map(|st| tokio::spawn(async move { st.acquire_lease("w", Duration::from_secs(60)).await.unwrap() }))
        .collect();
    let mut takes = Vec::new();
    for h in handles {
        takes.push(h.await.unwrap());
    }
    let won: Vec<i64> = takes.iter().filter_map(|t| t.as_ref().ok()).map(|l| l.token).collect();
    // All eight share this process's holder id, so a later take by "the same process" may
    // legitimately win again; what must hold is that the tokens handed out are distinct
    // and the row shows the last of them.
    let mut sorted = won.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), won.len(), "{won:?}");
    let row = s.leases().await.unwrap();
    assert_eq!(row[0].token, *sorted.last().unwrap());
    assert_eq!(row[0].token, 1 + won.len() as i64);
}
}

both! {
async fn a_commit_fenced_by_a_lease_taken_over_is_refused_and_writes_nothing(s, url) {
    let ttl = Duration::from_secs(60);
    let old = s.acquire_lease("w", ttl).await.unwrap().unwrap();
    let fenced = s.fenced(old.clone());
    let run = fenced.start_run("w", &RunTrigger::Schedule, None).await.unwrap();
    fenced
        .commit("w", Commit { links: &[link("k1", false)], cursor: Some((Side::A, Some("c1"))), ..Commit::default() })
        .await
        .unwrap();
    // Another daemon takes the lease over (here: it expired and another host took it).
    exec(&s, "UPDATE leases SET holder = 'elsewhere:5', host = 'elsewhere', pid = 5, token = token + 1 WHERE sync = 'w'")
        .await
        .unwrap();
    let e = fenced
        .commit("w", Commit { links: &[link("k2", false)], cursor: Some((Side::A, Some("c2"))), ..Commit::default() })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::LeaseLost(_)), "{e:#}");
    assert!(old.is_lost());
    assert_eq!(s.cursor("w", Side::A).await.unwrap().as_deref(), Some("c1"));
    assert_eq!(s.link_counts("w").await.unwrap(), (1, 0));
    assert!(fenced.confirm_lease(ttl).await.is_err());
    assert!(matches!(fenced.start_run("w", &RunTrigger::Schedule, None).await.unwrap_err(), StoreError::LeaseLost(_)));
    // The new holder starts a run: the old one is marked interrupted and resumed from.
    exec(&s, &format!("UPDATE leases SET holder = '{}', host = '{}', pid = {} WHERE sync = 'w'", holder_id(), this_host(), std::process::id()))
        .await
        .unwrap();
    let new = s.acquire_lease("w", ttl).await.unwrap().unwrap();
    assert_eq!(new.token, 3);
    let next = s.fenced(new).start_run("w", &RunTrigger::Resume, None).await.unwrap();
    let runs = s.runs(Some("w"), 10).await.unwrap();
    let by_id = |id: i64| runs.iter().find(|r| r.id == id).unwrap();
    assert_eq!(by_id(run).status.as_str(), "interrupted");
    assert_eq!(by_id(next).resumed_from, Some(run));
    assert_eq!(by_id(next).holder.as_deref(), Some(holder_id().as_str()));
    // The old run's late finish changes nothing.
    s.finish_run(run, RunStatus::Ok, &serde_json::json!({}), None).await.unwrap();
    assert_eq!(s.run(run).await.unwrap().unwrap().status.as_str(), "interrupted");
}
}

both! {
async fn a_fire_time_is_claimed_once_and_runs_once(s, url) {
    let t = |x: &str| chrono::DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&chrono::Utc);
    let other = Store::open(&url).await.unwrap();
    assert_eq!(s.claim_fire("w", t("2026-11-30T08:00:10Z")).await.unwrap(), FireClaim::Claimed);
    assert_eq!(other.claim_fire("w", t("2026-11-30T08:00:10Z")).await.unwrap(), FireClaim::Taken);
    // An earlier instant is handled already; a later one is free.
    assert_eq!(other.claim_fire("w", t("2026-11-30T08:00:00Z")).await.unwrap(), FireClaim::Taken);
    assert_eq!(other.claim_fire("w", t("2026-11-30T08:00:20Z")).await.unwrap(), FireClaim::Claimed);
    assert_eq!(
        s.schedule_state("w").await.unwrap().handled_through,
        Some(t("2026-11-30T08:00:20Z"))
    );
    let fire = t("2026-11-30T08:00:10Z");
    let id = s.start_run("w", &RunTrigger::Schedule, Some(fire)).await.unwrap();
    let e = other.start_run("w", &RunTrigger::Schedule, Some(fire)).await.unwrap_err();
    let StoreError::AlreadyRan(ran) = e else { panic!("AlreadyRan: {e:#}") };
    assert_eq!((ran.run, ran.fire_time.as_str()), (id, "2026-11-30T08:00:10.000Z"));
    assert_eq!(
        s.run(id).await.unwrap().unwrap().scheduled_for.as_deref(),
        Some("2026-11-30T08:00:10.000Z")
    );
}
}

both! {
async fn a_commit_of_many_links_stores_each_once_and_a_key_given_twice_keeps_its_last(s, url) {
    // 450 links (on PostgreSQL three statements: 200, 200, 50); k007 comes twice, the
    // second time pending.
    let mut links: Vec<Link> = (0..450).map(|i| link(&format!("k{i:03}"), false)).collect();
    links.push(link("k007", true));
    s.commit("w", Commit { links: &links, ..Commit::default() }).await.unwrap();
    assert_eq!(s.link_counts("w").await.unwrap(), (450, 1));
    let back = s
        .links("w", &["k000".into(), "k007".into(), "k449".into(), "k450".into()])
        .await
        .unwrap();
    let mut got: Vec<(String, bool, Option<String>)> = back
        .into_iter()
        .map(|l| (l.key_hash, l.pending, l.a.remote_id))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("k000".to_string(), false, Some("ZF-k000".to_string())),
            ("k007".to_string(), true, Some("ZF-k007".to_string())),
            ("k449".to_string(), false, Some("ZF-k449".to_string())),
        ]
    );
    // Committed again with changes: updated in place, not added.
    let mut again = links[..300].to_vec();
    for l in &mut again {
        l.attempts = 2;
    }
    s.commit("w", Commit { links: &again, ..Commit::default() }).await.unwrap();
    assert_eq!(s.link_counts("w").await.unwrap(), (450, 0));
    assert_eq!(s.links("w", &["k299".into()]).await.unwrap()[0].attempts, 2);
    assert_eq!(s.links("w", &["k300".into()]).await.unwrap()[0].attempts, 0);
}
}

both! {
async fn runs_are_recorded_and_interrupted_ones_closed(s, url) {
    let r1 = s.start_run("w", &RunTrigger::Schedule, None).await.unwrap();
    s.finish_run(r1, RunStatus::Ok, &serde_json::json!({"a": {"read": 3}}), None)
        .await
        .unwrap();
    let _r2 = s.start_run("w", &RunTrigger::Manual, None).await.unwrap();
    assert_eq!(s.close_interrupted_runs().await.unwrap().len(), 1);
    let runs = s.runs(Some("w"), 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
        ["interrupted", "ok"]
    );
    assert_eq!(runs[1].stats.as_ref().unwrap()["a"]["read"], 3);
    }
}

both! {
async fn runs_are_summed_per_quarter_hour_and_found_by_what_they_wrote(s, url) {
    use serde_json::json;
    // (sync, status, stats, started at): ids 1 to 5 in start order.
    let runs = [
        ("w", "ok", json!({"a": {"read": 9, "created": 9}}), "2026-12-02T23:59:59.999Z"),
        ("w", "ok", json!({"a": {"read": 3}, "b": {"read": 2, "created": 1}}), "2026-12-03T15:44:59.999Z"),
        ("w", "failed", json!({"a": {"read": 4}}), "2026-12-03T15:45:00.000Z"),
        ("x", "ok", json!({"a": {"read": 100, "updated": 100}}), "2026-12-03T15:50:00.000Z"),
        ("w", "crashed", json!(null), "2026-12-03T15:59:59.999Z"),
    ];
    for (i, (sync, status, stats, at)) in runs.iter().enumerate() {
        let id = s.start_run(sync, &RunTrigger::Schedule, None).await.unwrap();
        assert_eq!(id, i as i64 + 1);
        s.finish_run(id, status.parse().unwrap(), stats, None).await.unwrap();
        exec(&s, &format!("UPDATE runs SET started_at = '{at}' WHERE id = {id}"))
            .await
            .unwrap();
    }
    let since = "2026-12-03T00:00:00Z".parse().unwrap();
    let quarter = RunTotals::of;
    // Run 1 is before `since`, run 4 of another sync; 15:30 holds run 2 (read 3 + 2,
    // created 1), 15:45 runs 3 and 5 (both failed, read 4, wrote nothing).
    assert_eq!(
        s.run_totals("w", since).await.unwrap(),
        [
            quarter("2026-12-03T15:30:00Z", 1, 0, 5, 1),
            quarter("2026-12-03T15:45:00Z", 2, 2, 4, 0),
        ]
    );
    assert_eq!(s.run_totals("nothing", since).await.unwrap(), []);
    let wrote: Vec<i64> = s
        .runs_that_wrote("w", 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(wrote, [2, 1]);
    assert_eq!(s.runs_that_wrote("w", 1).await.unwrap()[0].id, 2);
    }
}

both! {
async fn a_syncs_history_answers_for_its_name_whether_configured_or_not(s, url) {
    for sync in ["x", "w", "x"] {
        s.start_run(sync, &RunTrigger::Schedule, None).await.unwrap();
    }
    assert!(s.has_runs("x").await.unwrap());
    assert!(!s.has_runs("y").await.unwrap());
    assert_eq!(s.run_syncs().await.unwrap(), ["w", "x"]);
    // `w` configured, `x` removed from the configuration with its runs, `y` in neither.
    assert_eq!(
        s.history_sync("x", &["w"], "hub.toml").await.unwrap(),
        Ok(())
    );
    assert_eq!(
        s.history_sync("v", &["w", "v"], "hub.toml").await.unwrap(),
        Ok(())
    );
    assert_eq!(
        s.history_sync("y", &["w", "v"], "hub.toml").await.unwrap(),
        Err("no sync \"y\" in hub.toml or the run history; the configured syncs are: v, w; removed, with a history: x".to_string())
    );
    }
}

/// SQLite URLs may carry options after `?` and `%`-escapes: the connection of a run's batches
/// must open the file sqlx opened (a second, empty database would have no `links` table).
#[tokio::test]
async fn a_sqlite_url_with_options_commits_links_to_the_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state store.db");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state%20store.db").display()
    );
    let s = Store::open(&url).await.unwrap();
    s.commit(
        "w",
        Commit {
            links: &[link("k1", true)],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(s.pending_count("w").await.unwrap(), 1);
    assert_eq!(s.pending("w", None, 10).await.unwrap()[0].key_hash, "k1");
    assert!(file.exists(), "the file the URL names holds the store");
    assert!(!dir.path().join("state%20store.db?mode=rwc").exists());
}

/// PostgreSQL: the lookup of a batch's links by key is never kept prepared, so it is planned
/// for each call's own keys (why: the comment in [`Store::links`]).
#[tokio::test]
async fn a_batchs_links_are_looked_up_on_postgresql_without_a_kept_prepared_statement() {
    let url = testing::fresh_postgres_database().await.unwrap();
    let s = Store::open(&url).await.unwrap();
    let links: Vec<Link> = (0..20).map(|i| link(&format!("k{i:02}"), false)).collect();
    s.commit(
        "w",
        Commit {
            links: &links,
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let keys: Vec<String> = ["k03", "k11", "absent"].map(String::from).to_vec();
    for _ in 0..8 {
        let mut found: Vec<String> = s
            .links("w", &keys)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.key_hash)
            .collect();
        found.sort();
        assert_eq!(found, ["k03", "k11"]);
    }
    // Calls one after another take the pool's one idle connection: the session the lookups ran
    // in is the one asked here.
    let kept: i64 = on_pool!(s, p => {
        sqlx::query_scalar("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT * FROM links WHERE%'")
            .persistent(false)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(kept, 0, "the lookup of links by key is kept prepared");
}

#[tokio::test]
async fn an_in_memory_sqlite_store_is_refused_with_the_reason() {
    let e = Store::open("sqlite://:memory:").await.unwrap_err();
    assert!(format!("{e:#}").contains("in-memory"), "{e:#}");
    // The configuration's to fix: the command line exits 2 for it.
    assert!(matches!(e, StoreError::Config(_)), "{e:#}");
}

/// A new SQLite store is made of 8 KiB pages; a store made with SQLite's default 4 KiB pages
/// (every store before this one) keeps them, and commits and reads as before.
#[tokio::test]
async fn a_new_sqlite_store_has_8_kib_pages_and_an_older_one_keeps_its_own() {
    let page_size = |path: std::path::PathBuf| {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.db");
    let s = Store::open(&format!("sqlite://{}", new.display()))
        .await
        .unwrap();
    s.commit(
        "w",
        Commit {
            links: &[link("k1", false)],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    drop(s);
    assert_eq!(page_size(new), 8192);

    // An existing store, as SQLite made it before: 4 KiB pages, WAL.
    let old = dir.path().join("old.db");
    let c = rusqlite::Connection::open(&old).unwrap();
    c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .unwrap();
    c.execute_batch("CREATE TABLE t (x); DROP TABLE t;")
        .unwrap();
    drop(c);
    assert_eq!(page_size(old.clone()), 4096);
    let s = Store::open(&format!("sqlite://{}", old.display()))
        .await
        .unwrap();
    s.commit(
        "w",
        Commit {
            links: &[link("k1", false), link("k2", true)],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.links("w", &["k1".into(), "k2".into()])
            .await
            .unwrap()
            .len(),
        2
    );
    drop(s);
    assert_eq!(page_size(old), 4096);
}

both! {
async fn fire_times_and_lease_expiry_go_by_the_databases_clock(s, url) {
    let db = s.db_now().await.unwrap();
    // The test's machine is the server's: the two clocks agree to a second.
    assert!((db - chrono::Utc::now()).num_milliseconds().abs() < 1000, "{db}");
    // A fire time 90 s ahead of the store's clock (a daemon whose clock runs fast) is not
    // claimed, and nothing is recorded.
    let whole = |t: chrono::DateTime<chrono::Utc>| {
        chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap()
    };
    let ahead = whole(db) + chrono::Duration::seconds(90);
    match s.claim_fire("w", ahead).await.unwrap() {
        FireClaim::NotYetDue { wait } => assert!(
            wait > Duration::from_secs(88) && wait <= Duration::from_secs(90),
            "{wait:?}"
        ),
        other => panic!("a fire time 90 s ahead was answered {other:?}"),
    }
    assert_eq!(s.schedule_state("w").await.unwrap().handled_through, None);
    // A due one is claimed once.
    let due = whole(db) - chrono::Duration::seconds(10);
    assert_eq!(s.claim_fire("w", due).await.unwrap(), FireClaim::Claimed);
    assert_eq!(s.claim_fire("w", due).await.unwrap(), FireClaim::Taken);
    assert_eq!(s.schedule_state("w").await.unwrap().handled_through, Some(due));
    // A lease's expiry is the store's clock plus the TTL (to the millisecond it was set at).
    let before = s.db_now().await.unwrap();
    let lease = s.acquire_lease("w", Duration::from_secs(60)).await.unwrap().unwrap();
    let after = s.db_now().await.unwrap();
    let expires = s.leases().await.unwrap()[0].expires_at.clone();
    let expires = parse_utc(&expires).unwrap();
    assert!(
        expires >= before + chrono::Duration::seconds(60)
            && expires <= after + chrono::Duration::seconds(60),
        "{before} .. {after} + 60 s, expires {expires}"
    );
    assert!(s.renew_lease(&lease, Duration::from_secs(5)).await.unwrap());
    let renewed = parse_utc(&s.leases().await.unwrap()[0].expires_at).unwrap();
    assert!(renewed < expires - chrono::Duration::seconds(50), "{renewed}");
}
}

both! {
async fn daemons_are_counted_per_rate_limited_plugin_until_their_heartbeat_expires(s, url) {
    let ttl = Duration::from_secs(30);
    let plugins = ["huiyang-esms".to_string(), "zhenfeng-registry".to_string()];
    let counts = |m: std::collections::BTreeMap<String, u32>| m.into_iter().collect::<Vec<_>>();
    // Alone: each budget whole.
    assert_eq!(
        counts(s.daemon_heartbeat(&plugins, ttl).await.unwrap()),
        [("huiyang-esms".to_string(), 1), ("zhenfeng-registry".to_string(), 1)]
    );
    // Another host's daemon using HY-ESMS and the roster, one of this host that is gone (pids
    // are below 2^22 on Linux), and one whose heartbeat expired.
    let far = "2999-01-01T00:00:00.000Z";
    let me = this_host();
    exec(&s, &format!(
        "INSERT INTO daemons (holder, plugin, host, pid, expires_at) VALUES \
         ('elsewhere:5', 'huiyang-esms', 'elsewhere', 5, '{far}'), \
         ('elsewhere:5', 'medical-roster', 'elsewhere', 5, '{far}'), \
         ('{me}:999999999', 'huiyang-esms', '{me}', 999999999, '{far}'), \
         ('late:7', 'zhenfeng-registry', 'late', 7, '2000-01-01T00:00:00.000Z')"
    ))
    .await
    .unwrap();
    assert_eq!(
        counts(s.daemon_heartbeat(&plugins, ttl).await.unwrap()),
        [("huiyang-esms".to_string(), 2), ("zhenfeng-registry".to_string(), 1)]
    );
    // The expired row is gone; this daemon's rows expire 30 s after its heartbeat, by the
    // database's clock.
    let late: i64 = on_pool!(s, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM daemons WHERE holder = 'late:7'")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(late, 0);
    let before = s.db_now().await.unwrap();
    s.daemon_heartbeat(&plugins, ttl).await.unwrap();
    let expires: String = on_pool!(s, p => {
        sqlx::query_scalar("SELECT expires_at FROM daemons WHERE holder = $1 AND plugin = 'huiyang-esms'")
            .bind(holder_id())
            .fetch_one(p)
            .await
            .unwrap()
    });
    let expires = parse_utc(&expires).unwrap();
    assert!(
        expires >= before + chrono::Duration::seconds(30)
            && expires < before + chrono::Duration::seconds(35),
        "{before} + 30 s, expires {expires}"
    );
    // The other daemon stops heartbeating: once its rows expire, HY-ESMS's budget is whole again.
    exec(&s, "UPDATE daemons SET expires_at = '2000-01-01T00:00:00.000Z' WHERE holder = 'elsewhere:5'")
        .await
        .unwrap();
    assert_eq!(
        counts(s.daemon_heartbeat(&plugins, ttl).await.unwrap()),
        [("huiyang-esms".to_string(), 1), ("zhenfeng-registry".to_string(), 1)]
    );
    // Leaving removes this daemon's rows only.
    s.daemon_leave().await.unwrap();
    let left: Vec<String> = on_pool!(s, p => {
        sqlx::query_scalar("SELECT holder FROM daemons ORDER BY holder")
            .fetch_all(p)
            .await
            .unwrap()
    });
    assert_eq!(left, [format!("{me}:999999999")]);
}
}

both! {
async fn a_field_by_field_decision_is_kept_with_its_decider_and_audited_with_it(s, url) {
    use crate::audit::{WriteAction, WriteOutcome};
    let s = s.with_audit_key(audit_key());
    let run = s.start_run("w", &RunTrigger::Schedule, None).await.unwrap();
    let settled = link("k1", false);
    s.commit(
        "w",
        Commit {
            links: std::slice::from_ref(&settled),
            conflicts: &[NewConflict {
                run_id: run,
                kind: ConflictKind::Park,
                key_hash: "k1".into(),
                key_masked: Some("5223**********0011".into()),
                side: Side::A,
                reason: "parked: both sides changed /phone, /position (policy park)".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let id = s.conflicts(Some("w"), false).await.unwrap()[0].id;
    let fields: std::collections::BTreeMap<String, Side> =
        [("/phone".to_string(), Side::A), ("/position".to_string(), Side::B)].into();
    let decided = |side: Side, detail: &str| NewAuditEntry {
        run_id: 0,
        system: if side == Side::A { "zhenfeng-registry" } else { "huiyang-esms" }.into(),
        side,
        key_hash: "k1".into(),
        action: WriteAction::Decide,
        result: WriteOutcome::Recorded,
        remote_id: Some(format!("{}-k1", side.as_str())),
        actor: Some("wang".into()),
        detail: Some(detail.into()),
    };
    let detail = r#"{"conflict":1,"fields":{"/phone":"a","/position":"b"},"reason":"电话以户籍为准"}"#;
    assert!(
        s.decide_conflict(
            id,
            &Decision::Fields(fields.clone()),
            Some("wang"),
            Some("电话以户籍为准"),
            &[decided(Side::A, detail), decided(Side::B, detail)],
        )
        .await
        .unwrap()
    );
    let c = s.conflict(id).await.unwrap().unwrap();
    assert_eq!(c.take, None);
    assert_eq!(c.take_fields.as_ref(), Some(&fields));
    assert_eq!(c.decided_by.as_deref(), Some("wang"));
    assert_eq!(c.decision_reason.as_deref(), Some("电话以户籍为准"));
    assert!(c.decided_at.as_deref().and_then(parse_utc).is_some());
    assert_eq!(c.decision(), Some(Decision::Fields(fields.clone())));
    // The next run sees the decision, with its decider; a whole-side take it does not list.
    let d = s.conflict_decisions("w").await.unwrap();
    assert_eq!(
        d.get("k1"),
        Some(&Decided {
            conflict_id: id,
            decision: Decision::Fields(fields.clone()),
            by: Some("wang".into())
        })
    );
    assert!(s.conflict_takes("w").await.unwrap().is_empty());
    // The key is pending again, so that the next run merges it.
    assert!(s.links("w", &["k1".into()]).await.unwrap()[0].pending);
    // Two audit entries, each naming the decider, chained and verified.
    let all = s.audit_entries(Some("w"), 10).await.unwrap();
    assert_eq!(all.len(), 2);
    for e in &all {
        assert_eq!(
            (e.action.as_str(), e.result.as_str(), e.run_id, e.actor.as_deref(), e.detail.as_deref()),
            ("decide", "recorded", 0, Some("wang"), Some(detail))
        );
        assert_eq!(e.hash, expected_hash(e), "entry {}", e.id);
    }
    assert_eq!(
        s.verify_audit(&audit_key()).await.unwrap(),
        Ok(Intact { entries: 2, head: Some(all[0].hash.clone()) })
    );
    // A whole-side decision replaces it: the fields are cleared.
    assert!(s.decide_conflict(id, &Decision::Take(Side::B), Some("li"), None, &[]).await.unwrap());
    let c = s.conflict(id).await.unwrap().unwrap();
    assert_eq!((c.take, c.take_fields.as_ref(), c.decided_by.as_deref()), (Some(Side::B), None, Some("li")));
    assert_eq!(s.conflict_takes("w").await.unwrap().get("k1"), Some(&Side::B));
    // Back to fields; the key settles: resolved as "took fields".
    assert!(s.decide_conflict(id, &Decision::Fields(fields), Some("wang"), None, &[]).await.unwrap());
    s.commit("w", Commit { settled: &["k1".to_string()], ..Default::default() })
        .await
        .unwrap();
    let c = s.conflict(id).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.resolution.map(ConflictResolution::as_str)),
        ("resolved", Some("took fields"))
    );
    // A resolved conflict takes no decision (nothing recorded, no audit entry).
    assert!(!s.decide_conflict(id, &Decision::Take(Side::A), Some("wang"), None, &[decided(Side::B, "{}")]).await.unwrap());
    assert_eq!(s.audit_entries(None, 10).await.unwrap().len(), 2);
}
}

// The open `read` dead letters of a batch's keys and record hashes: the key lookup leaves the
// stage out of its query (`open_dead_letters_by`), so a `write` dead letter of the same key, one
// on the other side and one no longer open must still be left out.
both! {
    async fn open_read_dead_letters_are_found_by_key_or_record_hash_and_no_others(s, url) {
        let dl = |side, stage, key: &str, record: &str| NewDeadLetter {
            run_id: 1,
            side,
            stage,
            key_hash: Some(key.into()),
            key_masked: None,
            remote_id: None,
            record_hash: record.into(),
            errors: vec![],
            record: None,
        };
        let letters = [
            dl(Side::A, DeadLetterStage::Read, "k1", "r1"),
            dl(Side::A, DeadLetterStage::Write, "k1", "w1"),
            dl(Side::B, DeadLetterStage::Read, "k1", "b1"),
            dl(Side::A, DeadLetterStage::Read, "k2", "r2"),
            dl(Side::A, DeadLetterStage::Read, "k3", "r3"),
        ];
        s.commit("w", Commit { dead_letters: &letters, ..Commit::default() }).await.unwrap();
        // k3's is closed as fixed: no longer open.
        assert_eq!(s.close_fixed_dead_letters("w", Side::A, &["k3".into()]).await.unwrap(), 1);
        let by_key = s
            .open_read_dead_letters("w", Side::A, &[], &["k1".into(), "k3".into(), "k9".into()])
            .await
            .unwrap();
        assert_eq!(by_key, [(Some("k1".to_string()), "r1".to_string())]);
        let by_record = s
            .open_read_dead_letters("w", Side::A, &["r2".into(), "w1".into(), "b1".into()], &[])
            .await
            .unwrap();
        assert_eq!(by_record, [(Some("k2".to_string()), "r2".to_string())]);
        // Both at once, the same letter found twice is listed once.
        let both = s
            .open_read_dead_letters("w", Side::A, &["r1".into()], &["k1".into(), "k2".into()])
            .await
            .unwrap();
        assert_eq!(
            both,
            [(Some("k1".to_string()), "r1".to_string()), (Some("k2".to_string()), "r2".to_string())]
        );
    }
}

/// SQLite, without statistics, plans the batch's dead-letter lookups through the index of the
/// column looked up: by key through `dead_letters_open_key`, by record hash through
/// `dead_letters_once`. With the stage in the key query it took `dead_letters_once` and walked
/// every open read dead letter of the side for each batch (1 s a query at 412,488 of them).
#[tokio::test]
async fn sqlite_plans_the_dead_letter_lookups_of_a_batch_through_the_looked_up_column() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    for (by, index) in [
        (
            dead_letters::ByHash::Key,
            "dead_letters_open_key (sync=? AND side=? AND key_hash=?)",
        ),
        (
            dead_letters::ByHash::Record,
            "dead_letters_once (sync=? AND side=? AND stage=? AND record_hash=?)",
        ),
    ] {
        let sql = format!(
            "EXPLAIN QUERY PLAN {}",
            dead_letters::open_dead_letters_by(by, 2)
        );
        let rows: Vec<(i64, i64, i64, String)> = on_pool!(s, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind("w")
                .bind("a")
                .bind("x")
                .bind("y")
                .fetch_all(p)
                .await
                .unwrap()
        });
        let detail: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert_eq!(
            detail,
            [format!("SEARCH dead_letters USING INDEX {index}")],
            "{by:?}"
        );
    }
}

both! {
async fn a_row_holding_a_value_the_store_never_writes_is_refused_naming_row_and_column(s, url) {
    let run = s.start_run("w", &RunTrigger::Schedule, None).await.unwrap();
    let dead = NewDeadLetter {
        run_id: run,
        side: Side::A,
        stage: DeadLetterStage::Read,
        key_hash: None,
        key_masked: None,
        remote_id: Some("ZF-1".into()),
        record_hash: "h1".into(),
        errors: vec![],
        record: None,
    };
    let conflict = NewConflict {
        run_id: run,
        kind: ConflictKind::Park,
        key_hash: "k1".into(),
        key_masked: None,
        side: Side::A,
        reason: "parked".into(),
    };
    s.commit(
        "w",
        Commit {
            dead_letters: std::slice::from_ref(&dead),
            conflicts: std::slice::from_ref(&conflict),
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let dl = s.dead_letters(Some("w")).await.unwrap()[0].id;
    let c = s.conflicts(Some("w"), false).await.unwrap()[0].id;
    assert_eq!(s.request_replay(Some(dl), None).await.unwrap(), 1);
    // The tables' CHECK constraints would keep some of these texts out: PostgreSQL's are
    // dropped, SQLite's ignored for the statement that writes them.
    let (before, after) = match s.backend() {
        "sqlite" => ("PRAGMA ignore_check_constraints = ON; ", "; PRAGMA ignore_check_constraints = OFF"),
        _ => {
            for (table, check) in [
                ("dead_letters", "dead_letters_stage_check"),
                ("conflicts", "conflicts_status_check"),
                ("conflicts", "conflicts_kind_check"),
            ] {
                exec(&s, &format!("ALTER TABLE {table} DROP CONSTRAINT {check}")).await.unwrap();
            }
            ("", "")
        }
    };
    let runs = "a run status (running, ok, partial, failed, interrupted, crashed)";
    let triggers =
        "a run trigger (schedule, manual, catch-up, queued, resume, resync SIDES [since TIME])";
    // (table, id, column, its value, a text the store never writes there, what it is not).
    let cases = [
        ("runs", run, "status", "'running'", "finished", runs),
        ("runs", run, "trigger", "'schedule'", "cron", triggers),
        ("runs", run, "trigger", "'schedule'", "resync c", triggers),
        ("runs", run, "trigger", "'schedule'", "resync a since yesterday", triggers),
        ("runs", run, "trigger", "'schedule'", "resync a since 2026-12-01T08:00:00+08:00", triggers),
        ("dead_letters", dl, "stage", "'read'", "send", "a dead letter's stage (read, write)"),
        ("dead_letters", dl, "status", "'open'", "lost", "a dead letter's status (open, replayed, fixed)"),
        ("conflicts", c, "status", "'open'", "closed", "a conflict's status (open, resolved)"),
        ("conflicts", c, "kind", "'park'", "merge", "a conflict's kind (write, park)"),
        (
            "conflicts",
            c,
            "resolution",
            "NULL",
            "took c",
            "a conflict's resolution (merge policy, took a, took b, took fields)",
        ),
    ];
    for (table, id, column, was, text, not) in cases {
        let set = |value: &str| format!("{before}UPDATE {table} SET {column} = {value} WHERE id = {id}{after}");
        exec(&s, &set(&format!("'{text}'"))).await.unwrap();
        let row = match table {
            "runs" => format!("run {id}"),
            "dead_letters" => format!("dead letter {id}"),
            _ => format!("conflict {id}"),
        };
        let wanted = format!("{row} in the store is corrupt: column {column}: {text:?} is not {not}");
        // Every reader of the row refuses it, naming the row, the column and the text.
        let mut read: Vec<Result<()>> = Vec::new();
        match table {
            "runs" => {
                read.push(s.run(id).await.map(drop));
                read.push(s.runs(Some("w"), 10).await.map(drop));
                read.push(s.runs(None, 10).await.map(drop));
            }
            "dead_letters" => {
                read.push(s.dead_letter(id).await.map(drop));
                read.push(s.run_dead_letters(run).await.map(drop));
                // Only an open dead letter is listed as one and replayed.
                if column != "status" {
                    read.push(s.dead_letters(None).await.map(drop));
                    read.push(s.replay_requests("w").await.map(drop));
                }
            }
            _ => {
                read.push(s.conflict(id).await.map(drop));
                read.push(s.conflicts(None, true).await.map(drop));
            }
        }
        for (i, r) in read.into_iter().enumerate() {
            let e = r.unwrap_err();
            assert!(matches!(&e, StoreError::Corrupt { column: c, .. } if c == column), "{e:?}");
            assert_eq!(e.to_string(), wanted, "{table}.{column} = {text:?}, reader {i}");
        }
        exec(&s, &set(was)).await.unwrap();
    }
    // Put back, every row reads again.
    assert_eq!(s.run(run).await.unwrap().unwrap().trigger, RunTrigger::Schedule);
    assert_eq!(s.dead_letter(dl).await.unwrap().unwrap().stage, DeadLetterStage::Read);
    assert_eq!(s.conflict(c).await.unwrap().unwrap().resolution, None);
}
}

/// Sets `side` of row `id` of `table` to `'c'` behind the store's back, past the column's
/// CHECK constraint (SQLite: `ignore_check_constraints` on a connection of the test's own;
/// PostgreSQL: the constraint dropped).
async fn set_side_c(s: &Store, url: &str, table: &str, id: i64) {
    let update = format!("UPDATE {table} SET side = 'c' WHERE id = {id}");
    if s.backend() == "postgres" {
        exec(
            s,
            &format!("ALTER TABLE {table} DROP CONSTRAINT {table}_side_check"),
        )
        .await
        .unwrap();
        exec(s, &update).await.unwrap();
    } else {
        let c = rusqlite::Connection::open(url.strip_prefix("sqlite://").unwrap()).unwrap();
        c.execute_batch(&format!("PRAGMA ignore_check_constraints = ON; {update};"))
            .unwrap();
    }
}

both! {
async fn a_row_whose_side_is_neither_a_nor_b_is_corrupt_naming_the_row_and_column(s, url) {
    let s = s.with_audit_key(audit_key());
    let run = s.start_run("w", &RunTrigger::Manual, None).await.unwrap();
    let dl = |hash: &str| NewDeadLetter {
        run_id: run,
        side: Side::A,
        stage: DeadLetterStage::Read,
        key_hash: None,
        key_masked: None,
        remote_id: None,
        record_hash: hash.into(),
        errors: vec![],
        record: None,
    };
    let audit: Vec<NewAuditEntry> = (1..=3).map(|i| written(run, &format!("k{i}"), None)).collect();
    s.commit("w", Commit { dead_letters: &[dl("h1"), dl("h2")], audit: &audit, ..Commit::default() })
        .await
        .unwrap();
    set_side_c(&s, &url, "dead_letters", 2).await;
    let detail = r#""c" is not a side of a sync ("a" or "b")"#;
    let e = s.dead_letters(Some("w")).await.unwrap_err();
    let StoreError::Corrupt { row, column, detail: d } = &e else { panic!("not Corrupt: {e:#}") };
    assert_eq!((row.as_str(), column.as_str(), d.as_str()), ("dead letter 2", "side", detail));
    assert_eq!(e.to_string(), format!("dead letter 2 in the store is corrupt: column side: {detail}"));
    // Through anyhow, as a caller propagating it reads it: the same text.
    assert_eq!(format!("{:#}", anyhow::Error::from(e)), format!("dead letter 2 in the store is corrupt: column side: {detail}"));
    assert!(matches!(s.dead_letter(2).await, Err(StoreError::Corrupt { .. })));
    assert_eq!(s.dead_letter(1).await.unwrap().unwrap().side, Side::A);
    // A dead letter is not in the audit chain: the chain is still intact.
    assert_eq!(s.verify_audit(&audit_key()).await.unwrap().map(|i| i.entries), Ok(3));

    // An audit entry altered so: listing it names the row; verifying names the entry as the
    // chain's break, the entries before it verified.
    let on = if s.backend() == "postgres" { " ON audit" } else { "" };
    exec(&s, &format!("DROP TRIGGER audit_no_update{on}")).await.unwrap();
    set_side_c(&s, &url, "audit", 2).await;
    let e = s.audit_entries(None, 10).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt { row, column, .. } if row == "audit entry 2" && column == "side"),
        "{e:#}"
    );
    let broken = s.verify_audit(&audit_key()).await.unwrap().unwrap_err();
    assert_eq!(broken, Break::Corrupt { id: 2, column: "side".into(), detail: detail.into() });
    assert_eq!(
        broken.to_string(),
        format!("entry 2: corrupt: column side: {detail} (the entry was altered)")
    );
}
}

both! {
async fn a_database_locked_past_the_busy_timeout_is_busy(s, url) {
    // A store waiting 200 ms for a lock (SQLite: its busy timeout; PostgreSQL: `lock_timeout`,
    // set through the URL's `options`).
    let postgres = s.backend() == "postgres";
    let short = if postgres {
        Store::open(&format!("{url}?options=-c%20lock_timeout%3D200")).await.unwrap()
    } else {
        Store::open_with(&url, Duration::from_millis(200)).await.unwrap()
    };
    // Another connection holds the write lock (SQLite) or the tables' locks (PostgreSQL).
    let mut pg_holder = None;
    let sqlite_holder = if postgres {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut c).await.unwrap();
        sqlx::query("LOCK TABLE runs, links IN ACCESS EXCLUSIVE MODE").execute(&mut c).await.unwrap();
        pg_holder = Some(c);
        None
    } else {
        let c = rusqlite::Connection::open(url.strip_prefix("sqlite://").unwrap()).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        Some(c)
    };
    let started = std::time::Instant::now();
    // Through sqlx (a run's start) and, on SQLite, through rusqlite (a batch's commit).
    let e = short.start_run("w", &RunTrigger::Manual, None).await.unwrap_err();
    assert!(matches!(e, StoreError::Busy(_)), "{e:#}");
    let e = short
        .commit("w", Commit { links: &[link("k1", false)], ..Commit::default() })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Busy(_)), "{e:#}");
    let text = format!("{e:#}");
    if postgres {
        assert!(text.contains("lock timeout"), "{text}");
    } else {
        // The text is the store's context and SQLite's own, as before.
        assert!(text.starts_with("state store: cannot begin a write transaction: "), "{text}");
        assert!(text.contains("database is locked"), "{text}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // The lock released, the same writes go through.
    drop(sqlite_holder);
    if let Some(mut c) = pg_holder {
        sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
    }
    short.start_run("w", &RunTrigger::Manual, None).await.unwrap();
    short
        .commit("w", Commit { links: &[link("k1", false)], ..Commit::default() })
        .await
        .unwrap();
    assert_eq!(s.link_counts("w").await.unwrap(), (1, 0));
}
}

#[test]
fn busy_and_locked_errors_are_told_from_others_and_keep_their_text() {
    let locked = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_LOCKED),
        Some("database table is locked".into()),
    );
    let text = locked.to_string();
    let e = StoreError::from(locked);
    assert!(e.is_busy(), "{e:?}");
    assert_eq!(e.to_string(), text);
    let other = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
        None,
    );
    assert!(matches!(StoreError::from(other), StoreError::Other(_)));
    // Under context, the busy cause is found in the chain and the context kept.
    let busy =
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
    let e = StoreError::from(anyhow::Error::from(busy).context("state store: cannot begin"));
    assert!(matches!(e, StoreError::Busy(_)));
    assert!(
        format!("{e:#}").starts_with("state store: cannot begin: "),
        "{e:#}"
    );
    // A typed cause at the top comes out as its variant; under context it stays whole.
    let lost = LeaseLost {
        sync: "w".into(),
        token: 3,
    };
    assert!(matches!(
        StoreError::from(anyhow::Error::from(lost.clone())),
        StoreError::LeaseLost(_)
    ));
    let e = StoreError::from(anyhow::Error::from(lost).context("while committing"));
    assert!(matches!(e, StoreError::Other(_)));
    assert!(
        format!("{e:#}").starts_with("while committing: sync w: "),
        "{e:#}"
    );
    let e = StoreError::from(anyhow::Error::from(StoreConfigError("bad".into())));
    assert!(matches!(e, StoreError::Config(_)));
    assert!(StoreConfigError::is_cause_of(
        &anyhow::Error::from(e).context("opening")
    ));
}

both! {
async fn every_instant_the_store_writes_has_one_form_utc_rfc3339_with_milliseconds(s, url) {
    // The store's one form ([`utc_text`] for the daemon's clock, `DB_NOW` for the database's):
    // `2026-12-07T07:22:24.123Z`, so that text order is time order in both backends.
    fn in_store_form(t: &str) -> bool {
        t.len() == 24
            && t.ends_with('Z')
            && chrono::NaiveDateTime::parse_from_str(&t[..23], "%Y-%m-%dT%H:%M:%S%.3f")
                .is_ok_and(|d| utc_text(d.and_utc()) == t)
    }
    assert!(in_store_form("2026-12-07T07:22:24.123Z"));
    assert!(!in_store_form("2026-12-07T07:22:24Z"));
    assert!(!in_store_form("2026-12-07T07:22:24.123+00:00"));
    assert!(!in_store_form("2026-12-07 07:22:24.123Z"));

    let s = s.with_audit_key(audit_key());
    let fire: chrono::DateTime<chrono::Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    let run = s.start_run("w", &RunTrigger::Schedule, Some(fire)).await.unwrap();
    s.start_run("x", &RunTrigger::Manual, None).await.unwrap();
    let lease = s.acquire_lease("w", Duration::from_secs(60)).await.unwrap().unwrap();
    assert!(s.renew_lease(&lease, Duration::from_secs(60)).await.unwrap());
    s.daemon_heartbeat(&["zhenfeng-registry".into()], Duration::from_secs(30))
        .await
        .unwrap();
    let dead = NewDeadLetter {
        run_id: run,
        side: Side::B,
        stage: DeadLetterStage::Write,
        key_hash: Some("k2".into()),
        key_masked: Some("5223**********0012".into()),
        remote_id: None,
        record_hash: "h2".into(),
        errors: vec![Violation {
            pointer: "/phone".into(),
            message: "bad".into(),
        }],
        record: Some(vec![9]),
    };
    let conflict = NewConflict {
        run_id: run,
        kind: ConflictKind::Write,
        key_hash: "k3".into(),
        key_masked: Some("5223**********0013".into()),
        side: Side::B,
        reason: "changed since read".into(),
    };
    s.commit(
        "w",
        Commit {
            links: &[link("k1", true), link("k3", false)],
            dead_letters: std::slice::from_ref(&dead),
            conflicts: std::slice::from_ref(&conflict),
            cursor: Some((Side::A, Some("2021-09-02 10:00:00"))),
            audit: &[written(run, "k1", None)],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let conflict_id = s.conflicts(Some("w"), false).await.unwrap()[0].id;
    assert!(
        s.decide_conflict(conflict_id, &Decision::Take(Side::A), Some("wang"), None, &[])
            .await
            .unwrap()
    );
    s.commit(
        "w",
        Commit {
            settled: &["k3".into()],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let dead_id = s.dead_letters(Some("w")).await.unwrap()[0].id;
    assert_eq!(s.request_replay(Some(dead_id), None).await.unwrap(), 1);
    s.finish_replay(dead_id, run, "failed again", false, None)
        .await
        .unwrap();
    // The replay cleared its request; the dead letter is still open, and is asked for again.
    assert_eq!(s.request_replay(Some(dead_id), None).await.unwrap(), 1);
    s.set_handled_through("w", fire).await.unwrap();
    s.set_paused("w", true).await.unwrap();
    s.request_trigger("w").await.unwrap();
    s.finish_run(run, RunStatus::Ok, &serde_json::json!({}), None)
        .await
        .unwrap();
    // Run x holds no lease: it is closed as interrupted, with its end time.
    assert_eq!(s.close_interrupted_runs().await.unwrap().len(), 1);

    // Every column that holds an instant the store wrote. `a_updated_at` and `b_updated_at` are
    // the systems' own times, kept as each system wrote them, and are not among them.
    let columns = [
        "audit.at",
        "conflicts.created_at",
        "conflicts.decided_at",
        "conflicts.resolved_at",
        "conflicts.updated_at",
        "cursors.updated_at",
        "daemons.expires_at",
        "dead_letters.created_at",
        "dead_letters.last_seen_at",
        "dead_letters.replay_requested_at",
        "leases.acquired_at",
        "leases.expires_at",
        "links_at_rest.updated_at",
        "links_pending.updated_at",
        "runs.finished_at",
        "runs.scheduled_for",
        "runs.started_at",
        "schedule_state.handled_through",
        "schedule_state.trigger_requested",
        "schedule_state.updated_at",
    ];
    for table_column in columns {
        let (table, column) = table_column.split_once('.').unwrap();
        let sql = format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL");
        let times: Vec<String> = on_pool!(&s, p => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(p).await.unwrap()
        });
        assert!(!times.is_empty(), "{table_column}: no row written");
        for t in &times {
            assert!(in_store_form(t), "{table_column}: {t:?}");
        }
    }
    // The replay's history keeps both of its instants.
    let d = s.dead_letter(dead_id).await.unwrap().unwrap();
    assert_eq!(d.replays.len(), 1);
    assert!(
        in_store_form(&d.replays[0].requested_at) && in_store_form(&d.replays[0].at),
        "{:?}",
        d.replays
    );
    // No other column of the schema is named as an instant is (`…_at`, `…_for`, `…_through`,
    // `…_requested`): a new one must join the list above.
    let named: Vec<String> = match &s.pool {
        Pool::Sqlite(p, _) => sqlx::query_scalar(
            "SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table'",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(
            "SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c \
             JOIN information_schema.tables t USING (table_schema, table_name) \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
        )
        .fetch_all(p)
        .await
        .unwrap(),
    };
    let mut named: Vec<String> = named
        .into_iter()
        .filter(|n| {
            ["_at", "_for", "_through", "_requested", ".at"].iter().any(|end| n.ends_with(end))
                && !n.ends_with("a_updated_at")
                && !n.ends_with("b_updated_at")
        })
        .collect();
    named.sort();
    assert_eq!(named, columns);
    }
}

/// Puts a store's `links` and `audit` back in the form before migration 0013, as a store of the
/// previous version holds them: hashes as 64 hex digits of text (other values as their text),
/// each audit entry with `prev_hash`, the hash of the entry before it; and forgets that
/// migration. (SQLite keeps the tables' declared types: its values decide there.)
async fn back_to_the_form_before_0013(s: &Store) {
    let pg = s.backend() == "postgres";
    let statements = testing::back_to_the_form_before_0013(pg);
    // One connection for all (SQLite's pragma is the connection's).
    on_pool!(s, p => {
        let mut c = p.acquire().await.unwrap();
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.unwrap();
        }
        if !pg {
            sqlx::query("PRAGMA ignore_check_constraints = OFF")
                .execute(&mut *c)
                .await
                .unwrap();
        }
    });
}

both! {
async fn a_store_with_hex_text_hashes_migrates_to_bytes_and_reads_the_same_links_and_chain(s, url) {
    let s = s.with_audit_key(audit_key());
    let key = "0123456789abcdef".repeat(4);
    let mut one = link(&key, true);
    one.a.hash = Some("ab".repeat(32));
    one.a.settled_hash = Some("=".into());
    one.b.hash = Some("cd".repeat(32));
    one.b.written_hash = Some("=".into());
    let two = link("k2", false);
    let audit = [written(1, &key, None), written(1, "k2", Some("HY-2"))];
    s.commit(
        "w",
        Commit {
            links: &[one.clone(), two.clone()],
            audit: &audit,
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    let head = s.verify_audit(&audit_key()).await.unwrap().unwrap().head;
    let entries = s.audit_entries(None, 10).await.unwrap();
    assert_eq!(
        (entries[1].prev_hash.as_str(), &entries[0].prev_hash),
        (GENESIS, &entries[1].hash)
    );
    back_to_the_form_before_0013(&s).await;
    let stored: String = on_pool!(s, p => {
        sqlx::query_scalar("SELECT a_hash FROM links WHERE sync = 'w' AND a_hash IS NOT NULL")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(stored, "ab".repeat(32), "the previous form: hex text");
    let prev: String = on_pool!(s, p => {
        sqlx::query_scalar("SELECT prev_hash FROM audit WHERE id = 2")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(prev, entries[1].hash, "the previous form: each entry keeps prev_hash");
    s.close().await;

    // Opened by this version: migrated in place.
    let s = Store::open(&url).await.unwrap().with_audit_key(audit_key());
    let lengths: Vec<(i64, i64)> = on_pool!(s, p => {
        sqlx::query_as(
            "SELECT CAST(octet_length(key_hash) AS BIGINT), CAST(octet_length(hash) AS BIGINT) \
             FROM audit ORDER BY id",
        )
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert_eq!(lengths, [(32, 32), (2, 32)], "a hex hash is 32 bytes; k2 its 2");
    let mut got = s.links("w", &[key.clone(), "k2".into()]).await.unwrap();
    got.sort_by(|x, y| x.key_hash.cmp(&y.key_hash));
    assert_eq!(got, [one.clone(), two.clone()]);
    assert_eq!(s.pending("w", None, 10).await.unwrap(), [one.clone()]);
    // Byte order is hex order: 0x01… before "k2" (0x6b…), and paging goes on after a key.
    let page = s.links_after("w", None, 1).await.unwrap();
    assert_eq!(page, [one.clone()]);
    assert_eq!(s.links_after("w", Some(&key), 10).await.unwrap(), [two]);
    // The chain reads as it was written (each entry's prev_hash now read from the entry
    // before it), and goes on from its head.
    assert_eq!(s.audit_entries(None, 10).await.unwrap(), entries);
    let intact = s.verify_audit(&audit_key()).await.unwrap().unwrap();
    assert_eq!((intact.entries, &intact.head), (2, &head));
    s.commit(
        "w",
        Commit {
            audit: &[written(2, &key, Some("HY-1"))],
            ..Commit::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.verify_audit(&audit_key()).await.unwrap().map(|i| i.entries),
        Ok(3)
    );
    // A daemon of the previous version left running writes its links with text keys: refused
    // (since migration 0014 by the view `links` first; at rest, SQLite by the CHECK on
    // key_hash, PostgreSQL by the column's type), so it commits nothing and writes nothing
    // anywhere.
    let e = exec(
        &s,
        &format!(
            "INSERT INTO links_at_rest (sync, key_hash, updated_at) VALUES ('w', CAST('{}' AS TEXT), 'x')",
            "ef".repeat(32)
        ),
    )
    .await
    .unwrap_err();
    let shown = format!("{e:#}");
    assert!(
        shown.contains("CHECK constraint failed") || shown.contains("is of type bytea but expression is of type text"),
        "{shown}"
    );
    }
}

/// The rows of `table` of the store, as (key, attempts), in key order.
async fn rows_of(s: &Store, table: &str) -> Vec<(String, i64)> {
    let sql = format!("SELECT key_hash, attempts FROM {table} ORDER BY key_hash");
    let rows: Vec<(Vec<u8>, i64)> = on_pool!(s, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await.unwrap()
    });
    rows.into_iter()
        .map(|(k, n)| (String::from_utf8(k).unwrap(), n))
        .collect()
}

both! {
async fn a_pending_link_is_kept_apart_until_it_settles_and_read_as_the_current_one(s, url) {
    let at = |k: &str, attempts: i64, pending: bool| {
        let mut l = link(k, pending);
        l.attempts = attempts;
        l
    };
    let commit = |links: Vec<Link>| {
        let s = s.clone();
        async move { s.commit("w", Commit { links: &links, ..Commit::default() }).await.unwrap() }
    };
    // k1 settled; then a change of k1 staged (attempt 1) and a new key k2.
    commit(vec![at("k1", 0, false)]).await;
    commit(vec![at("k1", 1, true), at("k2", 1, true)]).await;
    assert_eq!(
        rows_of(&s, "links_at_rest").await,
        [("k1".to_string(), 0)],
        "the link as it settled, untouched"
    );
    assert_eq!(
        rows_of(&s, "links_pending").await,
        [("k1".to_string(), 1), ("k2".to_string(), 1)]
    );
    // Every read sees the pending links, each key once.
    let pending = [at("k1", 1, true), at("k2", 1, true)];
    let mut got = s.links("w", &["k1".into(), "k2".into()]).await.unwrap();
    got.sort_by(|x, y| x.key_hash.cmp(&y.key_hash));
    assert_eq!(got, pending);
    assert_eq!(s.pending("w", None, 10).await.unwrap(), pending);
    assert_eq!(s.pending("w", Some("k1"), 10).await.unwrap(), pending[1..]);
    assert_eq!(s.links_after("w", None, 10).await.unwrap(), pending);
    assert_eq!(s.link_counts("w").await.unwrap(), (2, 2));
    assert_eq!(s.pending_count("w").await.unwrap(), 2);

    // k1 settles: written at rest, its pending row gone; k2 still pending.
    commit(vec![at("k1", 0, false)]).await;
    assert_eq!(rows_of(&s, "links_at_rest").await, [("k1".to_string(), 0)]);
    assert_eq!(rows_of(&s, "links_pending").await, [("k2".to_string(), 1)]);
    assert_eq!(s.link_counts("w").await.unwrap(), (2, 1));
    assert_eq!(s.pending("w", None, 10).await.unwrap(), pending[1..]);
    assert_eq!(s.links_after("w", None, 10).await.unwrap(), [at("k1", 0, false), at("k2", 1, true)]);

    // A daemon of the previous version left running (the store migrated under it) reads the
    // same links through the view, and its first commit is refused: a view takes no INSERT.
    let k3 = if s.backend() == "postgres" { "'\\x6b33'::bytea" } else { "X'6b33'" };
    let e = exec(
        &s,
        &format!("INSERT INTO links (sync, key_hash, updated_at) VALUES ('w', {k3}, 'x')"),
    )
    .await
    .unwrap_err();
    let shown = format!("{e:#}");
    assert!(
        shown.contains("cannot modify links because it is a view")
            || shown.contains("cannot insert into view \"links\""),
        "{shown}"
    );

    // A store of the previous version kept every link in the table `links`: put back in that
    // form, k2 is there; opened again (migrated), it reads the same, and settles at rest.
    let statements = testing::back_to_the_form_before_0014();
    on_pool!(s, p => {
        let mut c = p.acquire().await.unwrap();
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.unwrap();
        }
    });
    assert_eq!(
        rows_of(&s, "links").await,
        [("k1".to_string(), 0), ("k2".to_string(), 1)],
        "the previous form: one table"
    );
    s.close().await;
    let s = Store::open(&url).await.unwrap();
    assert_eq!(
        rows_of(&s, "links_at_rest").await,
        [("k1".to_string(), 0), ("k2".to_string(), 1)]
    );
    assert_eq!(rows_of(&s, "links_pending").await, []);
    assert_eq!(s.pending("w", None, 10).await.unwrap(), pending[1..]);
    s.commit("w", Commit { links: &[at("k2", 0, false)], ..Commit::default() })
        .await
        .unwrap();
    assert_eq!(
        rows_of(&s, "links_at_rest").await,
        [("k1".to_string(), 0), ("k2".to_string(), 0)]
    );
    assert_eq!(s.link_counts("w").await.unwrap(), (2, 0));
    }
}

/// The versions of the store's links at rest, as stored: (key, a_version, b_version), in key
/// order.
async fn versions_of(s: &Store) -> Vec<(String, Option<String>, Option<String>)> {
    let sql = "SELECT key_hash, a_version, b_version FROM links_at_rest ORDER BY key_hash";
    let rows: Vec<(Vec<u8>, Option<String>, Option<String>)> = on_pool!(s, p => {
        sqlx::query_as(sql).fetch_all(p).await.unwrap()
    });
    rows.into_iter()
        .map(|(k, a, b)| (String::from_utf8(k).unwrap(), a, b))
        .collect()
}

both! {
async fn migration_0015_escapes_a_stored_version_beginning_with_equals(s, url) {
    let with = |k: &str, a: &str, b: &str| {
        let mut l = Link::new(k.into());
        l.a.version = Some(a.into());
        l.b.version = Some(b.into());
        l.b.updated_at = Some("2026-12-08T03:46:00+08:00".into());
        l
    };
    // As the hub keeps them now (`link_seal::version_as_kept`): k1's a-side version is `=v1`
    // escaped, its b-side version its update time; k2's versions plain.
    let kept = [with("k1", "==v1", "="), with("k2", "v2", "2026-12-08 03:46:00")];
    s.commit("w", Commit { links: &kept, ..Commit::default() }).await.unwrap();
    let t = "2026-12-08T03:46:00+08:00".to_string();
    let versions = |k1: [&str; 2]| {
        vec![
            ("k1".to_string(), Some(k1[0].to_string()), Some(k1[1].to_string())),
            ("k2".to_string(), Some("v2".to_string()), Some("2026-12-08 03:46:00".to_string())),
        ]
    };
    // A store of the previous version held the versions as the systems gave them.
    let statements = testing::back_to_the_form_before_0015();
    on_pool!(s, p => {
        let mut c = p.acquire().await.unwrap();
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.unwrap();
        }
    });
    assert_eq!(versions_of(&s).await, versions(["=v1", t.as_str()]));
    // Migrated: `=v1` escaped again; the rest as it was (a link takes the shorter form at its
    // next commit), and read by the hub as the systems gave them.
    s.close().await;
    let s = Store::open(&url).await.unwrap();
    assert_eq!(versions_of(&s).await, versions(["==v1", t.as_str()]));
    let keys = crate::keys::Keys::derive(&[7; 32]);
    let mut read = s.links("w", &["k1".into(), "k2".into()]).await.unwrap();
    read.sort_by(|x, y| x.key_hash.cmp(&y.key_hash));
    for l in &mut read {
        crate::sync::link_seal::unseal(&keys, "w", l).unwrap();
    }
    let read: Vec<_> = read.iter().map(|l| (l.a.version.clone(), l.b.version.clone())).collect();
    assert_eq!(
        read,
        [
            (Some("=v1".to_string()), Some(t.clone())),
            (Some("v2".to_string()), Some("2026-12-08 03:46:00".to_string())),
        ]
    );
    }
}

/// The sides' update times and versions of the store's links at rest, as stored: (key,
/// a_updated_at, a_version, b_updated_at, b_version), in key order.
async fn side_columns_of(s: &Store) -> Vec<[Option<String>; 5]> {
    let sql = "SELECT key_hash, a_updated_at, a_version, b_updated_at, b_version FROM links_at_rest ORDER BY key_hash";
    type Row = (
        Vec<u8>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = on_pool!(s, p => {
        sqlx::query_as(sql).fetch_all(p).await.unwrap()
    });
    rows.into_iter()
        .map(|(k, a, av, b, bv)| [Some(String::from_utf8(k).unwrap()), a, av, b, bv])
        .collect()
}

both! {
async fn a_link_of_form_2_reads_as_it_was_and_its_next_commit_seals_its_times_and_versions(s, url) {
    use crate::sync::link_seal;
    let _ = &url;
    let keys = crate::keys::Keys::derive(&[7; 32]);
    // A ZF-REG resident (version: the update time's local date and time) and its HY-ESMS
    // worker (version: the update time), settled.
    let (t, u) = (link_seal::test_links::T, link_seal::test_links::U);
    let l = link_seal::test_links::settled_pair();
    let some = |v: &str| Some(v.to_string());
    let read = |s: &Store| {
        let keys = keys.clone();
        let s = s.clone();
        async move {
            let mut read = s.links("w", &["k1".into()]).await.unwrap();
            link_seal::unseal(&keys, "w", &mut read[0]).unwrap();
            read.remove(0)
        }
    };
    // As a store before migration 0016 held it: the times and versions in the row.
    let old = link_seal::in_form_2(&keys, "w", &l);
    s.commit("w", Commit { links: std::slice::from_ref(&old), ..Commit::default() }).await.unwrap();
    assert_eq!(
        side_columns_of(&s).await,
        [[some("k1"), some(u), some("2021-10-29 10:27:57"), some(t), some("=")]]
    );
    assert_eq!(read(&s).await, l);
    // Its next commit (as the engine seals it): form 3, the four columns empty.
    let new = link_seal::sealed(&keys, "w", &l);
    s.commit("w", Commit { links: std::slice::from_ref(&new), ..Commit::default() }).await.unwrap();
    assert_eq!(side_columns_of(&s).await, [[some("k1"), None, None, None, None]]);
    assert_eq!(read(&s).await, l);
    }
}
