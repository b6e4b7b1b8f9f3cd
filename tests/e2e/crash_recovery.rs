//! Crash recovery against the real binary (issue 16): a run killed after its writes reached a
//! system but before their results were recorded, then people editing those very records before
//! the next run. The next run must recognise its own writes where the records still hold them
//! and take everything else as the people's changes: every edit survives and reaches the other
//! system, nothing is written twice, nothing echoes.
//!
//! Expected values are the edits the tests make themselves; counts come from the simulators'
//! write counters.

use super::harness::{Env, canonical_id};
use super::{CONFIG, by_id, created, expected_residents};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Counted writes of one collection: (created, updated).
async fn counted(env: &Env, sim: &hub_sims::RunningSim, collection: &str) -> (u64, u64) {
    let c = env.get(sim, "/_admin/counters").await;
    let of = |k: &str| c["collections"][collection][k].as_u64().unwrap_or(0);
    (of("created"), of("updated"))
}

/// Kills `hub sync workers --once` (SIGKILL) with HY-ESMS answering `slow_ms` late, once
/// `progress` of HY-ESMS's counters reaches `at`; returns the value it had reached.
async fn kill_sync_when(env: &Env, slow_ms: u64, at: u64, progress: fn(&Value) -> u64) -> u64 {
    env.post(&env.hy, "/_admin/faults", json!({ "slow_ms": slow_ms }))
        .await;
    let reached = env.kill_sync_when(at, progress).await;
    env.delete(&env.hy, "/_admin/faults").await;
    reached
}

/// HY-ESMS's workers, in the order it created them (ascending id).
async fn hy_in_creation_order(env: &Env) -> Vec<Value> {
    let mut all = env
        .get(&env.hy, "/_admin/zhenfeng-workers")
        .await
        .as_array()
        .unwrap()
        .clone();
    all.sort_by_key(|w| w["id"].as_i64().unwrap());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerks_edit_of_a_record_whose_create_was_interrupted_survives_and_reaches_the_registry()
{
    let env = Env::start().await;
    // Batches of 200: the first two are recorded; the kill lands in the third one's writes.
    let killed_at = kill_sync_when(&env, 5, 450, |c| created(c, "zhenfeng-workers")).await;
    assert!((450..600).contains(&killed_at), "killed at {killed_at}");
    let hy = hy_in_creation_order(&env).await;
    assert_eq!(hy.len() as u64, killed_at);
    // The registry's writes so far: employers' codes HY-ESMS looked up (issue 18), each batch's
    // written before its HY-ESMS creates.
    let zf_at_kill = super::writes(&env.get(&env.zf, "/_admin/counters").await, "workers");
    // A clerk sets a new position on every record whose creation was not recorded, and on 20
    // whose creation was, before the next run.
    let edited: Vec<&Value> = hy[380..].iter().collect();
    for w in &edited {
        env.patch(
            &env.hy,
            &format!("/_admin/zhenfeng-workers/{}", w["id"]),
            json!({ "position": "叉车司机组长" }),
        )
        .await;
    }
    let zf_before = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let summary = env.sync_once().await;
    // The killed run keeps the counts it had committed (two batches of 200 created), and the
    // next one says it went on from it.
    assert!(
        summary.contains(
            "run 1 of workers was interrupted before it finished (its process stopped); \
             this run went on from the batches it had committed"
        ),
        "{summary}"
    );
    let runs = env
        .run(&["runs", "--json", "--config", CONFIG, "--sync", "workers"])
        .await;
    let runs: Vec<Value> = String::from_utf8_lossy(&runs.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (second, first) = (&runs[0], &runs[1]);
    // The writes of the batch in flight are found: its creates in HY-ESMS (after the two
    // recorded batches of 200) and its codes written to the registry that run 1 did not record.
    let zf_unrecorded = zf_at_kill - first["stats"]["a"]["updated"].as_u64().unwrap();
    assert!(
        summary.contains(&format!(
            "  {} writes an interrupted run made but did not record were found in the systems",
            killed_at - 400 + zf_unrecorded
        )),
        "{summary}"
    );
    assert_eq!(first["status"], "interrupted");
    assert_eq!(first["stats"]["b"]["created"], 400);
    assert_eq!(first["stats"]["a"]["read"], 3000);
    assert_eq!(second["resumed_from"], first["id"]);

    // Every edit is in both systems.
    let hy_after = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    let zf_after = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let mut lost = Vec::new();
    for w in &edited {
        let id = canonical_id(w["idNo"].as_str().unwrap());
        if hy_after[&id]["position"] != json!("叉车司机组长")
            || zf_after[&id]["工种"] != json!("叉车司机组长")
        {
            lost.push(id);
        }
    }
    assert_eq!(
        lost.len(),
        0,
        "{} of {} edits lost",
        lost.len(),
        edited.len()
    );
    // The registry was written once per edit and once per employer's code HY-ESMS looked up
    // (DEMO_CODES_LOOKED_UP, whichever run wrote it), and nothing else changed there: a value
    // HY-ESMS stores in its own coding (a registry status it has no code for) is the hub's
    // create, not an edit (the connector's normal form says so).
    assert_eq!(
        counted(&env, &env.zf, "workers").await,
        (
            0,
            edited.len() as u64 + super::harness::DEMO_CODES_LOOKED_UP
        )
    );
    let changed: Vec<&String> = zf_before
        .iter()
        .filter(|(id, row)| {
            let mut now = zf_after[*id].clone();
            let mut then = (*row).clone();
            // An empty 单位信用代码 may have become the code HY-ESMS holds.
            let code_looked_up = then["单位信用代码"] == json!("")
                && hy_after
                    .get(*id)
                    .is_some_and(|w| now["单位信用代码"] == w["employerUscc"]);
            for r in [&mut now, &mut then] {
                let o = r.as_object_mut().unwrap();
                o.remove("工种");
                o.remove("更新时间");
                if code_looked_up {
                    o.remove("单位信用代码");
                }
            }
            now != then
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(changed.len(), 0, "registry rows changed beyond the edits");
    // HY-ESMS: each resident created once, none updated (the edits are the clerk's).
    assert_eq!(counted(&env, &env.hy, "zhenfeng-workers").await, (1322, 0));
    assert_eq!(hy_after.len(), 1322);

    // A further run writes nothing.
    env.sync_once().await;
    assert_eq!(
        counted(&env, &env.zf, "workers").await,
        (
            0,
            edited.len() as u64 + super::harness::DEMO_CODES_LOOKED_UP
        )
    );
    assert_eq!(counted(&env, &env.hy, "zhenfeng-workers").await, (1322, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_phones_set_after_an_interrupted_update_win_over_the_registrys_older_ones() {
    let env = Env::start().await;
    env.sync_once().await;
    env.sync_once().await;
    let residents = expected_residents(&env).await;
    let zf_rows = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let hy_ids: BTreeMap<String, i64> =
        by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo")
            .into_iter()
            .map(|(id, w)| (id, w["id"].as_i64().unwrap()))
            .collect();
    // The registry changes 600 phones; the next run carries them to HY-ESMS in three batches of
    // 200 and is killed inside the second one's writes.
    let people: Vec<&String> = residents.keys().take(600).collect();
    for (i, id) in people.iter().enumerate() {
        let djbh = zf_rows[*id]["登记编号"].as_str().unwrap();
        env.patch(
            &env.zf,
            &format!("/_admin/workers/{djbh}"),
            json!({ "联系电话": format!("139{:08}", i) }),
        )
        .await;
    }
    let (_, updated_before) = counted(&env, &env.hy, "zhenfeng-workers").await;
    assert_eq!(updated_before, 0);
    // The registry's updates so far: the employers' codes the first run wrote it.
    let (_, zf_before) = counted(&env, &env.zf, "workers").await;
    let killed_at = kill_sync_when(&env, 5, 250, |c| {
        c["collections"]["zhenfeng-workers"]["updated"]
            .as_u64()
            .unwrap_or(0)
    })
    .await;
    assert!((250..400).contains(&killed_at), "killed at {killed_at}");
    // Then the same people get newer phones in HY-ESMS (a second later, so that HY's whole-second
    // update times are later than the registry's).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (i, id) in people.iter().enumerate() {
        env.patch(
            &env.hy,
            &format!("/_admin/zhenfeng-workers/{}", hy_ids[*id]),
            json!({ "phone": format!("137{:08}", i) }),
        )
        .await;
    }
    env.sync_once().await;

    // Newest wins: every newer HY phone is in both systems.
    let hy_after = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    let zf_after = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let lost: Vec<usize> = people
        .iter()
        .enumerate()
        .filter(|(i, id)| {
            let want = format!("137{:08}", i);
            hy_after[**id]["phone"] != json!(want) || zf_after[**id]["联系电话"] != json!(want)
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(lost.len(), 0, "{} of 600 newer phones lost", lost.len());
    // HY-ESMS got the registry's changes the killed run had sent, and nothing after the
    // people's edits.
    let (_, hy_updated) = counted(&env, &env.hy, "zhenfeng-workers").await;
    assert_eq!(
        hy_updated, killed_at,
        "HY-ESMS written after the people's edits"
    );
    let (_, zf_updated) = counted(&env, &env.zf, "workers").await;
    // The registry gets each newer phone once (its own 600 changes were made on the side door).
    assert_eq!(zf_updated - zf_before, 600);

    // A further run writes nothing.
    env.sync_once().await;
    assert_eq!(
        counted(&env, &env.hy, "zhenfeng-workers").await.1,
        killed_at
    );
    assert_eq!(counted(&env, &env.zf, "workers").await.1 - zf_before, 600);
}
