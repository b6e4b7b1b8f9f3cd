//! `hub demo`: the three simulators and the daemon in one process, on SQLite in a fresh data
//! directory, for a few scheduled runs of each sync of the demo configuration
//! (`config/demo.toml`): workers, job-postings and secondments.
//!
//! Between runs the demo changes data the way people at the bureaus would, through the
//! simulators' admin side-door, after each sync's first run:
//! - workers: a phone number changes in ZF-REG, an employer and employment status in HY-ESMS;
//! - job-postings: Huiyang closes a posting;
//! - secondments: the roster records that a stay ended early, in another department.
//!
//! After the second run it checks that each change reached the other system, and that the third
//! wrote nothing (no echo). It prints a table per run and per direction, a summary per sync, and
//! the statistics (`hub stats`) after the change set.
//!
//! The changes and their checks go through the simulators' side-door ([`side_door`]); this
//! file starts everything, walks through the runs, and prints.

mod side_door;

use anyhow::{Context as _, bail};
use hub::config::Config;
use hub::daemon::Hub;
use hub::report;
use hub::sync::RunOutcome;
use hub_sims::{RunningSim, SimOptions, start_hy_esms, start_med_roster, start_zf_reg};
use side_door::{Admin, Changes};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::{mpsc, watch};

/// Options of `hub demo` (its command line, `main.rs`).
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// Demo deployment configuration.
    #[arg(long, default_value = "config/demo.toml")]
    pub config: PathBuf,
    /// Scheduled runs of each sync to wait for (at least 3).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// State directory (default: a new temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Rate limit of the HY-ESMS simulator, requests per second (its system's is 20;
    /// 0 = none).
    #[arg(long, default_value_t = 200)]
    pub hy_rate_limit: u32,
}

/// The changes made for the job-postings and secondments syncs.
struct OtherChanges {
    closed_job: i64,
    stay_hy_id: i64,
}

/// The three simulators, each on a loopback port of its own.
struct Simulators {
    hy: RunningSim,
    zf: RunningSim,
    med: RunningSim,
}

/// Runs the demo; prints to stdout.
pub async fn run(opts: DemoOptions) -> anyhow::Result<()> {
    let runs = opts.runs.max(3);
    let sims = start_simulators(&opts).await?;
    let (data_dir, _temp) = state_dir(&opts)?;
    hub::say!(
        "HY-ESMS simulator at {} (rate limit {}), ZF-REG simulator at {}, MED-ROSTER simulator at {}",
        sims.hy.url(),
        rate(opts.hy_rate_limit),
        sims.zf.url(),
        sims.med.url()
    );
    hub::say!("state in {}", data_dir.display());
    let config = load_config(&opts, &sims, &data_dir)?;
    let hub = build_hub(config).await?;
    let admin = Admin {
        client: reqwest::Client::new(),
        hy: sims.hy.url(),
        zf: sims.zf.url(),
        med: sims.med.url(),
    };
    let (history, result) = walk_through(&hub, &admin, runs).await;
    print_summary(&hub, &history);
    print_afterword(&hub, &admin, &history).await?;
    hub.engine.store().close().await;
    sims.hy.shutdown().await;
    sims.zf.shutdown().await;
    sims.med.shutdown().await;
    result
}

/// Starts the HY-ESMS, ZF-REG and MED-ROSTER simulators on loopback, HY-ESMS with the rate
/// limit asked for.
async fn start_simulators(opts: &DemoOptions) -> anyhow::Result<Simulators> {
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    let sim = SimOptions {
        rate_limit: (opts.hy_rate_limit > 0).then_some(opts.hy_rate_limit),
        ..SimOptions::default()
    };
    let hy = start_hy_esms(loopback, &sim)
        .await
        .context("failed to start the HY-ESMS simulator")?;
    let zf = start_zf_reg(loopback, &sim)
        .await
        .context("failed to start the ZF-REG simulator")?;
    let med = start_med_roster(loopback, &sim)
        .await
        .context("failed to start the MED-ROSTER simulator")?;
    Ok(Simulators { hy, zf, med })
}

/// The state directory: the one given, or a new temporary one (kept as long as the second
/// value lives). Errors: a directory that already holds a state database.
fn state_dir(opts: &DemoOptions) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    let (data_dir, temp) = match &opts.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new().prefix("hub-demo-").tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    if data_dir.join("state.db").exists() {
        bail!(
            "{} already holds a state database; the demo's simulators start fresh, so give an empty --data-dir",
            data_dir.display()
        );
    }
    Ok((data_dir, temp))
}

/// The demo configuration, its variables pointing at the simulators and the state directory;
/// prints each plugin's shared request budget.
fn load_config(
    opts: &DemoOptions,
    sims: &Simulators,
    data_dir: &std::path::Path,
) -> anyhow::Result<Config> {
    let vars = {
        let (hy, zf, med, dd, hy_rate_limit) = (
            sims.hy.url(),
            sims.zf.url(),
            sims.med.url(),
            data_dir.display().to_string(),
            opts.hy_rate_limit,
        );
        move |name: &str| match name {
            "HY_ESMS_URL" => Some(hy.clone()),
            "ZF_REG_URL" => Some(zf.clone()),
            "MED_ROSTER_URL" => Some(med.clone()),
            "HUB_DATA_DIR" => Some(dd.clone()),
            // The hub keeps to the simulator's limit (config/demo.toml's rate_limit).
            "HY_ESMS_RATE_LIMIT" if hy_rate_limit > 0 => Some(hy_rate_limit.to_string()),
            other => std::env::var(other).ok(),
        }
    };
    let mut config =
        hub::config::load_with(&opts.config, &vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    if opts.hy_rate_limit == 0
        && let Some(p) = config.plugins.get_mut("huiyang-esms")
    {
        // A simulator without a limit: the hub sends as fast as the syncs go.
        p.rate_limit = None;
    }
    for (name, p) in &config.plugins {
        if let Some(r) = &p.rate_limit {
            hub::say!(
                "plugin {name}: its syncs share a budget of {} requests/s (burst {})",
                r.get_ref().requests_per_second,
                r.get_ref().burst
            );
        }
    }
    Ok(config)
}

/// The daemon of the demo configuration; prints each sync and its schedule. Errors: a
/// deployment that did not load whole.
async fn build_hub(config: Config) -> anyhow::Result<Hub> {
    let hub = Hub::build(config).await?;
    if !hub.problems.is_empty() {
        bail!(
            "the demo deployment did not load:\n{}",
            hub.problems.join("\n")
        );
    }
    for (name, s) in &hub.syncs {
        hub::say!(
            "sync {name}: {} ⇄ {} every \"{}\"",
            s.spec.a.plugin.name,
            s.spec.b.plugin.name,
            s.schedule
        );
    }
    Ok(hub)
}

/// Runs the daemon's schedule while [`Walkthrough`] follows each run, until every sync ran
/// `runs` times or a change or check failed; then stops the daemon. Returns every run and how
/// the walkthrough ended.
async fn walk_through(
    hub: &Hub,
    admin: &Admin,
    runs: u32,
) -> (Vec<RunOutcome>, anyhow::Result<()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel::<RunOutcome>();
    let daemon = async {
        hub.run_scheduled(stop_rx, Some(tx)).await;
    };
    let driver = async {
        let mut walk = Walkthrough {
            hub,
            admin,
            runs,
            changes: None,
            other: OtherChanges {
                closed_job: 0,
                stay_hy_id: 0,
            },
            history: Vec::new(),
            done: BTreeMap::new(),
        };
        let mut result = Ok(());
        while let Some(outcome) = rx.recv().await {
            match walk.after_run(outcome).await {
                Ok(false) => {}
                Ok(true) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let _ = stop_tx.send(true);
        (walk.history, result)
    };
    let ((history, result), ()) = tokio::join!(driver, daemon);
    (history, result)
}

/// What the walkthrough keeps between runs.
struct Walkthrough<'a> {
    hub: &'a Hub,
    admin: &'a Admin,
    /// Runs of each sync to wait for.
    runs: u32,
    /// The workers changes, made after the first workers run.
    changes: Option<Changes>,
    /// The job-postings and secondments changes, made after their first runs.
    other: OtherChanges,
    /// Every run so far.
    history: Vec<RunOutcome>,
    /// Runs so far, by sync.
    done: BTreeMap<String, u32>,
}

impl Walkthrough<'_> {
    /// Follows one run: prints its table; after a sync's first run makes its change, after its
    /// second checks the change arrived, after its third checks it wrote nothing (no echo).
    /// Returns whether every sync has run often enough.
    async fn after_run(&mut self, outcome: RunOutcome) -> anyhow::Result<bool> {
        let s = &self.hub.syncs[&outcome.sync];
        let rows = report::directions(
            &outcome.stats,
            &s.spec.a.plugin.name,
            &s.spec.b.plugin.name,
            s.spec.direction,
        );
        println!("\n{}", report::table(&outcome, &rows));
        self.history.push(outcome.clone());
        let n = {
            let n = self.done.entry(outcome.sync.clone()).or_default();
            *n += 1;
            *n
        };
        self.change_or_check(&outcome.sync, n).await?;
        if n == 3 {
            no_echo(&outcome)?;
        }
        Ok(self
            .hub
            .syncs
            .keys()
            .all(|k| self.done.get(k).copied().unwrap_or(0) >= self.runs))
    }

    /// After run `n` of `sync`: the change to make (run 1) or the check that it arrived (run 2).
    async fn change_or_check(&mut self, sync: &str, n: u32) -> anyhow::Result<()> {
        let admin = self.admin;
        match (sync, n) {
            ("job-postings", 1) => {
                let (id, lines) = admin.jobs_after_first_run().await?;
                self.other.closed_job = id;
                say_lines(&lines);
                hub::say!("closed HY-ESMS posting {id}");
            }
            ("job-postings", 2) => say_lines(&admin.jobs_verify(self.other.closed_job).await?),
            ("secondments", 1) => {
                let (role, id, lines) = admin.secondments_after_first_run().await?;
                say_lines(&lines);
                hub::say!(
                    "changed MED-ROSTER PractitionerRole {role}: period.end, specialty, active false"
                );
                self.other.stay_hy_id = id;
            }
            ("secondments", 2) => {
                say_lines(&admin.secondments_verify(self.other.stay_hy_id).await?);
            }
            ("workers", 1) => {
                let c = admin.make_changes().await?;
                hub::say!(
                    "changed ZF-REG {}: phone; changed HY-ESMS worker {}: employer and status → left",
                    c.zf_registry_number,
                    c.hy_id
                );
                self.changes = Some(c);
            }
            ("workers", 2) => say_lines(
                &admin
                    .verify(self.changes.as_ref().expect("made after run 1"))
                    .await?,
            ),
            _ => {}
        }
        Ok(())
    }
}

/// Checks that a sync's third run wrote nothing (each change arrived in run 2: no echo).
fn no_echo(outcome: &RunOutcome) -> anyhow::Result<()> {
    let w = outcome.stats.written();
    hub::say!(
        "  {} {} run 3 wrote {w} records (no echo expected: 0)",
        if w == 0 { "ok" } else { "ECHO" },
        outcome.sync
    );
    if w != 0 {
        bail!("{} run 3 wrote {w} records; expected none", outcome.sync);
    }
    Ok(())
}

/// The summary: per sync, per run and direction, what was read, written, unchanged, skipped as
/// echoes and dead-lettered.
fn print_summary(hub: &Hub, history: &[RunOutcome]) {
    println!("\nsummary ({} runs):", history.len());
    let mut by_sync: Vec<&RunOutcome> = history.iter().collect();
    by_sync.sort_by(|x, y| x.sync.cmp(&y.sync).then(x.run_id.cmp(&y.run_id)));
    let mut last_sync = "";
    for o in by_sync {
        if o.sync != last_sync {
            hub::say!("  sync {}:", o.sync);
            last_sync = &o.sync;
        }
        let s = &hub.syncs[&o.sync];
        for r in report::directions(
            &o.stats,
            &s.spec.a.plugin.name,
            &s.spec.b.plugin.name,
            s.spec.direction,
        ) {
            hub::say!(
                "    run {:>2}  {:<36} read {:>5}  written {:>5}  unchanged {:>5}  echoes skipped {:>5}  dead letters {:>3}  ({:.2} s)",
                o.run_id,
                r.direction,
                r.read,
                r.written,
                r.unchanged,
                r.echoes,
                r.dead_letters,
                o.stats.duration_ms as f64 / 1000.0
            );
        }
    }
}

/// After the summary: the failed runs, the HY-ESMS simulator's request counters, the
/// statistics (as `hub stats` prints them) and the dead letters. Errors: a state store whose
/// dead letters cannot be read.
async fn print_afterword(hub: &Hub, admin: &Admin, history: &[RunOutcome]) -> anyhow::Result<()> {
    let failed = history
        .iter()
        .filter(|o| o.status == hub::sync::RunStatus::Failed)
        .count();
    println!();
    hub::say!("failed runs: {failed}");
    if let Ok(c) = admin.get(format!("{}/_admin/counters", admin.hy)).await {
        hub::say!(
            "HY-ESMS answered {} requests; its rate limit refused {} of them (429)",
            c["requests"],
            c["rate_limited"]
        );
    }
    // The statistics (数据统计) after the change set, as `hub stats` prints them.
    match hub::statistics::Statistician::of_hub(hub)
        .statistics(&[])
        .await
    {
        Ok(st) => print!("\n{}", st.text()),
        Err(e) => hub::say!("statistics: {e:#}"),
    }
    let dead = hub.engine.store().dead_letters(None).await?;
    println!("\ndead letters ({}):", dead.len());
    for d in &dead {
        for e in &d.errors {
            hub::say!(
                "  #{} {} {} key {} at {}",
                d.id,
                d.side.as_str(),
                d.remote_id.as_deref().unwrap_or("-"),
                d.key_masked.as_deref().unwrap_or("(none)"),
                hub::dead_letter_reasons::for_people(e)
            );
        }
    }
    Ok(())
}

/// Prints lines the simulators' records went into, control characters escaped.
fn say_lines(lines: &[String]) {
    if lines.is_empty() {
        println!();
    }
    for l in lines {
        hub::say!("{l}");
    }
}

/// A rate limit for people: `off`, or `N requests/s`.
fn rate(r: u32) -> String {
    if r == 0 {
        "off".into()
    } else {
        format!("{r} requests/s")
    }
}
