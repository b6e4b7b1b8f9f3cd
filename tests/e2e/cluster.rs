//! Several `hub` daemons on one PostgreSQL state store, against the simulators: every fire time
//! run once by one of them (one daemon's clock 90 s ahead: leases and fire times go by the
//! database's clock), runs taken over from a daemon that is killed or paused past its lease,
//! and the paused daemon's late writes refused.
//!
//! Each test gets a database of its own on the local server (`HUB_TEST_POSTGRES`, see
//! `hub::store::testing`). What is expected is counted by the test itself: the fire times of a
//! ten-second schedule, and one write per change it makes in a system (the workers sync writes a
//! ZF-REG phone change once to HY-ESMS and an HY-ESMS status change once to ZF-REG, nothing
//! back: `changes_flow_both_ways_and_the_run_after_writes_nothing`).

use crate::harness::{Daemon, Env};
use crate::{by_id, created, expected_residents, writes};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONFIG: &str = "config/demo.toml";
/// The state key every daemon of a test shares (64 hex digits).
const STATE_KEY: &str = "6875622d636c75737465722d746573742d6b65792d3031323334353637383961";

/// A state store shared by daemons, and one data directory per daemon (same state key).
struct Cluster {
    store: String,
    dirs: Vec<PathBuf>,
}

impl Cluster {
    async fn new(env: &Env, daemons: usize) -> Cluster {
        let store = hub::store::testing::fresh_postgres_database()
            .await
            .expect("the test PostgreSQL server (HUB_TEST_POSTGRES) is reachable");
        let dirs = (0..daemons)
            .map(|i| {
                let d = env.dir.path().join(format!("daemon-{i}"));
                std::fs::create_dir_all(&d).unwrap();
                // The daemon's own rule: a state key readable by others is refused (0600).
                use std::os::unix::fs::OpenOptionsExt as _;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(d.join("state.key"))
                    .unwrap();
                std::io::Write::write_all(&mut f, STATE_KEY.as_bytes()).unwrap();
                d
            })
            .collect();
        Cluster { store, dirs }
    }

    fn vars<'a>(
        &'a self,
        dir: &'a Path,
        schedule: &'a str,
        ttl: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("HUB_STORE", self.store.as_str()),
            ("HUB_DATA_DIR", dir.to_str().unwrap()),
            ("HUB_WORKERS_SCHEDULE", schedule),
            ("HUB_LEASE_TTL", ttl),
        ]
    }

    /// `hub ARGS --config demo` on the shared store (as daemon 0's data directory).
    async fn hub(&self, env: &Env, args: &[&str]) -> std::process::Output {
        let mut c = env.hub(args);
        c.args(["--config", CONFIG])
            .env("HUB_STORE", &self.store)
            .env("HUB_DATA_DIR", &self.dirs[0]);
        let out = c.output().await.unwrap();
        env.keep(&out);
        assert!(
            out.status.success(),
            "hub {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The run history of the workers sync, oldest first.
    async fn runs(&self, env: &Env) -> Vec<Value> {
        let out = self
            .hub(
                env,
                &["runs", "--json", "--limit", "1000", "--sync", "workers"],
            )
            .await;
        let mut runs: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        runs.reverse();
        runs
    }

    fn start(&self, env: &Env, i: usize, schedule: &str, ttl: &str) -> Daemon {
        self.start_with(env, i, schedule, ttl, &[])
    }

    /// [`Cluster::start`] with more environment variables.
    fn start_with(
        &self,
        env: &Env,
        i: usize,
        schedule: &str,
        ttl: &str,
        more: &[(&str, &str)],
    ) -> Daemon {
        let _ = std::fs::remove_file(self.dirs[i].join("admin.url"));
        let mut vars = self.vars(&self.dirs[i], schedule, ttl);
        vars.extend_from_slice(more);
        env.daemon(CONFIG, &vars)
    }

    /// GET `path` from daemon `i`'s admin API (waiting for it to listen).
    async fn admin(&self, i: usize, path: &str) -> Value {
        let url_file = self.dirs[i].join("admin.url");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while !url_file.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon {i} never listened"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let base = std::fs::read_to_string(&url_file).unwrap();
        let token = std::fs::read_to_string(self.dirs[i].join("admin.token")).unwrap();
        let r = reqwest::Client::new()
            .get(format!("{}{path}", base.trim().trim_end_matches('/')))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "daemon {i} GET {path}: {}",
            r.status()
        );
        r.json().await.unwrap()
    }
}

impl Cluster {
    /// Daemon `i`'s share of `plugin`'s rate budget, from its `/metrics`
    /// (`hub_rate_budget_requests_per_second`); `None` before its first heartbeat.
    async fn budget_share(&self, i: usize, plugin: &str) -> Option<f64> {
        let base = std::fs::read_to_string(self.dirs[i].join("admin.url")).ok()?;
        let token = std::fs::read_to_string(self.dirs[i].join("admin.token")).ok()?;
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", base.trim().trim_end_matches('/')))
            .bearer_auth(token.trim())
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let name = format!("hub_rate_budget_requests_per_second{{plugin=\"{plugin}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&name))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Waits (up to 30 s: a heartbeat is every 10 s) until daemon `i` takes `expected`
    /// requests/s of HY-ESMS's budget.
    async fn wait_share(&self, i: usize, expected: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let share = self.budget_share(i, "huiyang-esms").await;
            if share == Some(expected) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon {i} takes {share:?} requests/s of HY-ESMS's 20, not {expected}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Issue 22: HY-ESMS's 20 requests/s are divided among the daemons alive on the store: 20 for
/// one, 10 each for two; a daemon that stops (SIGTERM) or is killed gives its share back to the
/// other within a heartbeat (10 s; a killed process of the same host is seen gone at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_on_one_store_divide_a_systems_rate_budget_among_those_alive() {
    let env = Env::start_with(hub_sims::SimOptions {
        rate_limit: Some(20),
        ..hub_sims::SimOptions::default()
    })
    .await;
    let cluster = Cluster::new(&env, 2).await;
    let yearly = "0 0 1 1 *";
    let first = cluster.start(&env, 0, yearly, "2m");
    cluster.wait_share(0, 20.0).await;
    let second = cluster.start(&env, 1, yearly, "2m");
    cluster.wait_share(1, 10.0).await;
    cluster.wait_share(0, 10.0).await;
    assert!(env.stop(second).await.status.success());
    cluster.wait_share(0, 20.0).await;
    let mut second = cluster.start(&env, 1, yearly, "2m");
    cluster.wait_share(1, 10.0).await;
    cluster.wait_share(0, 10.0).await;
    second.start_kill().unwrap();
    env.keep(&second.wait_with_output().await.unwrap());
    cluster.wait_share(0, 20.0).await;
    assert!(env.stop(first).await.status.success());
}

/// Environment variables that run a process with its wall clock `offset` ahead (Debian's
/// libfaketime, multi-threaded build; the monotonic clock stays true), checked on `date`: the
/// variables work before a daemon is given them.
fn clock_ahead(offset: &str) -> Vec<(&'static str, String)> {
    let lib = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| format!("/usr/lib/{arch}/faketime/libfaketimeMT.so.1"))
        .find(|p| Path::new(p).exists())
        .expect("libfaketime is installed (Debian package faketime; scripts/test installs it)");
    let vars = vec![
        ("LD_PRELOAD", lib),
        ("FAKETIME", offset.to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
    ];
    let out = std::process::Command::new("date")
        .arg("+%s")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let faked: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let ahead = faked - Utc::now().timestamp();
    assert!(
        (85..=95).contains(&ahead),
        "faketime {offset}: date is {ahead} s ahead"
    );
    vars
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn pid_of(holder: &str) -> u32 {
    holder.rsplit(':').next().unwrap().parse().unwrap()
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// Round `round` of people's changes: `n` phones changed in ZF-REG (on the first `n` residents)
/// and `n` statuses toggled in HY-ESMS (on the next `n`); every change differs from the value
/// before it. Returns how many of each were made.
async fn change_round(
    env: &Env,
    ids: &[String],
    djbh: &BTreeMap<String, String>,
    round: usize,
    n: usize,
) {
    for (i, id) in ids.iter().take(n).enumerate() {
        env.patch(
            &env.zf,
            &format!("/_admin/workers/{}", djbh[id]),
            json!({"联系电话": format!("139{round:04}{i:04}")}),
        )
        .await;
    }
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    for id in ids.iter().skip(n).take(n) {
        let w = &hy[id];
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
}

/// The residents the sync carries, by canonical identity number, and each one's registry
/// number (登记编号, the ZF-REG side door's path).
async fn registry_numbers(env: &Env) -> (Vec<String>, BTreeMap<String, String>) {
    let residents = expected_residents(env).await;
    let djbh: BTreeMap<String, String> = residents
        .iter()
        .map(|(id, r)| (id.clone(), r["登记编号"].as_str().unwrap().to_string()))
        .collect();
    (djbh.keys().cloned().collect(), djbh)
}

async fn counters(env: &Env) -> (Value, Value) {
    (
        env.get(&env.hy, "/_admin/counters").await,
        env.get(&env.zf, "/_admin/counters").await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_on_one_postgres_store_run_every_fire_time_once_for_five_minutes() {
    let env = Env::start().await;
    let cluster = Cluster::new(&env, 3).await;
    // The first, full sync before the daemons start, so that every scheduled run is short.
    cluster.hub(&env, &["sync", "workers", "--once"]).await;
    let (ids, djbh) = registry_numbers(&env).await;
    env.delete(&env.hy, "/_admin/counters").await;
    env.delete(&env.zf, "/_admin/counters").await;

    let every_10s = "*/10 * * * * *";
    // Daemon 2's clock runs 90 s ahead of the others' and of the database's (longer than the
    // lease and than nine fire times): going by its own clock it would claim every fire time
    // first, run it 90 s early, and take the others' leases as expired.
    let ahead = clock_ahead("+90s");
    let ahead: Vec<(&str, &str)> = ahead.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemons: Vec<_> = (0..3)
        .map(|i| {
            let more: &[(&str, &str)] = if i == 2 { &ahead } else { &[] };
            cluster.start_with(&env, i, every_10s, "20s", more)
        })
        .collect();
    let fast_pid = daemons[2].id().unwrap();
    for i in 0..3 {
        cluster.admin(i, "/api/leases").await;
    }
    let started = Utc::now();
    // Five minutes of schedule; people change 4 + 4 records every 20 s.
    let (n, mut rounds) = (4, 0);
    while Utc::now() < started + chrono::Duration::seconds(300) {
        rounds += 1;
        change_round(&env, &ids, &djbh, rounds, n).await;
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    // Let a last scheduled run carry the last round, then stop everyone.
    tokio::time::sleep(Duration::from_secs(12)).await;
    // Every daemon's admin API shows the same history and the same lease.
    let views: Vec<(Value, Value)> = admin_views(&cluster).await;
    let stopped = Utc::now();
    for d in daemons {
        assert!(env.stop(d).await.status.success());
    }

    let runs = cluster.runs(&env).await;
    let scheduled: Vec<&Value> = runs.iter().filter(|r| r["trigger"] == "schedule").collect();
    let fires: Vec<DateTime<Utc>> = scheduled
        .iter()
        .map(|r| {
            utc(r["scheduled_for"]
                .as_str()
                .expect("a scheduled run names its fire time"))
        })
        .collect();
    let distinct: BTreeSet<_> = fires.iter().collect();
    assert_eq!(
        distinct.len(),
        fires.len(),
        "a fire time ran twice: {fires:?}"
    );
    // Every ten-second fire time from the first to the last ran: no gap, none twice.
    let (first, last) = (*distinct.first().unwrap(), *distinct.last().unwrap());
    let expected: BTreeSet<DateTime<Utc>> = (0..)
        .map(|k| *first + chrono::Duration::seconds(10 * k))
        .take_while(|t| t <= last)
        .collect();
    assert_eq!(distinct, expected.iter().collect(), "fire times missing");
    assert!(
        *first <= started + chrono::Duration::seconds(12),
        "first fire {first}, daemons up at {started}"
    );
    assert!(
        *last >= stopped - chrono::Duration::seconds(25),
        "last fire {last}, stopped at {stopped}"
    );
    assert!(
        fires.len() >= 30,
        "{} scheduled runs in five minutes",
        fires.len()
    );
    for r in &scheduled {
        assert_eq!(r["status"], "ok", "{r}");
    }
    assert!(
        runs.iter()
            .all(|r| r["trigger"] == "schedule" || r["trigger"] == "manual"),
        "only the first sync and scheduled runs: {:?}",
        runs.iter().map(|r| &r["trigger"]).collect::<Vec<_>>()
    );
    // The work was shared: more than one daemon ran scheduled runs.
    let holders: BTreeMap<&str, usize> = scheduled.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["holder"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert!(holders.len() >= 2, "one daemon ran everything: {holders:?}");
    eprintln!("scheduled runs per daemon: {holders:?}");
    // The daemon whose clock is ahead took part, but won no more than its share: it woke for
    // each fire time with the others (by the store's clock), not 90 s before them.
    let fast = holders
        .iter()
        .filter(|(h, _)| pid_of(h) == fast_pid)
        .map(|(_, n)| *n)
        .sum::<usize>();
    assert!(
        fast >= 1 && fast < fires.len() * 2 / 3,
        "the daemon 90 s ahead ran {fast} of {} fire times: {holders:?}",
        fires.len()
    );

    // Each change written once, to the other system only; no record created.
    let (hy_c, zf_c) = counters(&env).await;
    assert_eq!(
        (
            writes(&hy_c, "zhenfeng-workers"),
            created(&hy_c, "zhenfeng-workers")
        ),
        ((rounds * n) as u64, 0),
        "HY-ESMS: one write per registry phone change"
    );
    assert_eq!(
        (writes(&zf_c, "workers"), created(&zf_c, "workers")),
        ((rounds * n) as u64, 0),
        "ZF-REG: one write per HY-ESMS status change"
    );
    assert_eq!(hy_c["keys_created_more_than_once"], json!([]));

    // Every daemon's admin API answered with the same runs and the same lease, whose token
    // counts the takes: one per run (the first sync's included).
    let ids_of = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>()
    };
    for (runs_i, leases_i) in &views[1..] {
        assert_eq!(ids_of(runs_i), ids_of(&views[0].0));
        assert_eq!(leases_i, &views[0].1);
    }
    let lease = views[0]
        .1
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sync"] == "workers")
        .unwrap();
    let runs_then = views[0].0.as_array().unwrap().len() as i64;
    assert_eq!(lease["token"].as_i64().unwrap(), runs_then, "{lease}");
}

/// Each daemon's `GET /api/runs?sync=workers&limit=1000` and `GET /api/leases`, taken when no run
/// is going (just after a fire time's run: the schedule is every ten seconds).
async fn admin_views(cluster: &Cluster) -> Vec<(Value, Value)> {
    // Wait for a quiet moment: the latest run finished.
    loop {
        let runs = cluster.admin(0, "/api/runs?sync=workers&limit=1").await;
        if runs[0]["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut out = Vec::new();
    for i in 0..3 {
        out.push((
            cluster.admin(i, "/api/runs?sync=workers&limit=1000").await,
            cluster.admin(i, "/api/leases").await,
        ));
    }
    out
}

/// Polls the run history until `pred` holds (two minutes at most).
async fn wait_runs(
    cluster: &Cluster,
    env: &Env,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let runs = cluster.runs(env).await;
        if pred(&runs) {
            return runs;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The workers lease's holder pid, read from daemon `i`'s admin API, once a run holds it.
async fn holder_pid(cluster: &Cluster, i: usize) -> u32 {
    let leases = cluster.admin(i, "/api/leases").await;
    let l = leases
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sync"] == "workers" && l["live"] == true)
        .unwrap_or_else(|| panic!("no live workers lease: {leases}"));
    pid_of(l["holder"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_a_paused_daemon_lose_their_runs_to_another_and_the_paused_ones_late_writes_are_refused()
 {
    let env = Env::start().await;
    let cluster = Cluster::new(&env, 3).await;
    let never = "0 0 1 1 *";
    let mut daemons: Vec<Option<Daemon>> = (0..3)
        .map(|i| Some(cluster.start(&env, i, never, "4s")))
        .collect();
    let pids: Vec<u32> = daemons
        .iter()
        .map(|c| c.as_ref().unwrap().id().unwrap())
        .collect();
    for i in 0..3 {
        cluster.admin(i, "/api/leases").await;
    }

    // 1. SIGKILL mid-run. The first, full sync (1,322 creates in HY-ESMS), started by a manual
    // trigger that one of the daemons takes; killed once 300 workers are created.
    cluster.hub(&env, &["trigger", "workers"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while created(
        &env.get(&env.hy, "/_admin/counters").await,
        "zhenfeng-workers",
    ) < 300
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = holder_pid(&cluster, 0).await;
    let k = pids
        .iter()
        .position(|p| *p == killed)
        .expect("a daemon of the test holds it");
    signal(killed, "-KILL");
    let out = daemons[k].take().unwrap().wait_with_output().await.unwrap();
    env.keep(&out);
    let before = created(
        &env.get(&env.hy, "/_admin/counters").await,
        "zhenfeng-workers",
    );
    assert!(before < 1322, "killed mid-run ({before} created)");
    let runs = wait_runs(
        &cluster,
        &env,
        "the killed daemon's run was never finished",
        |runs| {
            runs.iter()
                .any(|r| r["trigger"] == "resume" && r["status"] == "ok")
        },
    )
    .await;
    let first = &runs[0];
    let resumed = runs.iter().find(|r| r["trigger"] == "resume").unwrap();
    assert_eq!(
        (first["trigger"].as_str(), first["status"].as_str()),
        (Some("manual"), Some("interrupted"))
    );
    assert_eq!(pid_of(first["holder"].as_str().unwrap()), killed);
    assert_eq!(resumed["resumed_from"], first["id"]);
    assert_ne!(pid_of(resumed["holder"].as_str().unwrap()), killed);
    let c = env.get(&env.hy, "/_admin/counters").await;
    assert_eq!(
        created(&c, "zhenfeng-workers"),
        1322,
        "every resident created exactly once"
    );
    assert_eq!(c["keys_created_more_than_once"], json!([]));

    // 2. SIGSTOP past the lease. 300 registry phone changes for HY-ESMS, which answers each
    // request 20 ms late, so the run writes for several seconds; its daemon is stopped after
    // 60 writes, for 4 lease TTLs.
    let (ids, djbh) = registry_numbers(&env).await;
    for (i, id) in ids.iter().take(300).enumerate() {
        env.patch(
            &env.zf,
            &format!("/_admin/workers/{}", djbh[id]),
            json!({"联系电话": format!("1380000{i:04}")}),
        )
        .await;
    }
    env.delete(&env.hy, "/_admin/counters").await;
    env.delete(&env.zf, "/_admin/counters").await;
    env.post(&env.hy, "/_admin/faults", json!({"slow_ms": 20}))
        .await;
    let runs_before = cluster.runs(&env).await.len();
    cluster.hub(&env, &["trigger", "workers"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while writes(
        &env.get(&env.hy, "/_admin/counters").await,
        "zhenfeng-workers",
    ) < 60
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ask a daemon that is still alive which one holds the lease.
    let paused = holder_pid(&cluster, if k == 0 { 1 } else { 0 }).await;
    let p = pids.iter().position(|x| *x == paused).unwrap();
    assert_ne!(p, k);
    signal(paused, "-STOP");
    let stopped_at = tokio::time::Instant::now();
    let runs = wait_runs(
        &cluster,
        &env,
        "the paused daemon's run was never taken over",
        |runs| {
            runs.len() > runs_before + 1
                && runs
                    .last()
                    .is_some_and(|r| r["trigger"] == "resume" && r["status"] == "ok")
        },
    )
    .await;
    let taken_after = stopped_at.elapsed();
    let paused_run = &runs[runs_before];
    let resumed = runs.last().unwrap();
    assert_eq!(pid_of(paused_run["holder"].as_str().unwrap()), paused);
    assert_eq!(paused_run["status"], "interrupted");
    assert_eq!(resumed["resumed_from"], paused_run["id"]);
    assert_ne!(pid_of(resumed["holder"].as_str().unwrap()), paused);
    assert!(
        taken_after >= Duration::from_secs(3),
        "taken over before the lease ran out ({taken_after:?})"
    );
    // Keep it stopped for four TTLs in all, then let it go on.
    tokio::time::sleep(Duration::from_secs(16).saturating_sub(stopped_at.elapsed())).await;
    signal(paused, "-CONT");
    tokio::time::sleep(Duration::from_secs(6)).await;
    env.post(&env.hy, "/_admin/faults", json!({"slow_ms": 0}))
        .await;

    // Nothing lost, nothing written twice: 300 writes to HY-ESMS, one per change, none back.
    let (hy_c, zf_c) = counters(&env).await;
    assert_eq!(writes(&hy_c, "zhenfeng-workers"), 300, "{hy_c}");
    assert_eq!(writes(&zf_c, "workers"), 0, "{zf_c}");
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    for (i, id) in ids.iter().take(300).enumerate() {
        assert_eq!(hy[id]["phone"], json!(format!("1380000{i:04}")), "{i}");
    }
    // The paused run stays interrupted: its late finish was not recorded over the takeover.
    let runs = cluster.runs(&env).await;
    assert_eq!(runs[runs_before]["status"], "interrupted");
    // A further run writes nothing.
    env.delete(&env.hy, "/_admin/counters").await;
    env.delete(&env.zf, "/_admin/counters").await;
    cluster.hub(&env, &["trigger", "workers"]).await;
    let n = runs.len();
    wait_runs(&cluster, &env, "the last run", |runs| {
        runs.len() > n && runs.last().is_some_and(|r| r["status"] == "ok")
    })
    .await;
    let (hy_c, zf_c) = counters(&env).await;
    assert_eq!(
        (writes(&hy_c, "zhenfeng-workers"), writes(&zf_c, "workers")),
        (0, 0)
    );

    // The paused daemon learnt it had lost the lease, and said so.
    let mut paused_out = None;
    for (i, child) in daemons.into_iter().enumerate() {
        if let Some(child) = child {
            let out = env.stop(child).await;
            if i == p {
                paused_out = Some(out);
            }
        }
    }
    let log = String::from_utf8_lossy(&paused_out.unwrap().stderr).into_owned();
    for l in log.lines().filter(|l| l.contains("lease")) {
        eprintln!("paused daemon: {l}");
    }
    eprintln!(
        "killed {killed} after {before} creates; paused {paused}, taken over after {taken_after:?}"
    );
    assert!(
        log.contains("taken over by another process")
            || log.contains("lease is lost or past its time")
            || log.contains("lost the run lease"),
        "{log}"
    );
}
