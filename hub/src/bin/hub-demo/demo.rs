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

use anyhow::{Context as _, bail};
use hub::daemon::Hub;
use hub::report;
use hub::sync::RunOutcome;
use hub_sims::{SimOptions, start_hy_esms, start_med_roster, start_zf_reg};
use serde_json::{Value, json};
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

/// A change the demo made, to check after the next run.
struct Changes {
    zf_registry_number: String,
    zf_id_number: String,
    new_phone: String,
    hy_id: i64,
    hy_id_number: String,
    new_employer_name: String,
}

/// The changes made for the job-postings and secondments syncs.
struct OtherChanges {
    closed_job: i64,
    stay_hy_id: i64,
}

struct Admin {
    client: reqwest::Client,
    hy: String,
    zf: String,
    med: String,
}

impl Admin {
    async fn get(&self, url: String) -> anyhow::Result<Value> {
        let r = self.client.get(&url).send().await?.error_for_status()?;
        Ok(serde_json::from_slice(&r.bytes().await?)?)
    }

    async fn patch(&self, url: String, body: Value) -> anyhow::Result<()> {
        self.client
            .patch(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// A phone change in ZF-REG and an employer and status change in HY-ESMS, on two
    /// different residents.
    async fn make_changes(&self) -> anyhow::Result<Changes> {
        let seed = self.get(format!("{}/_admin/seed", self.zf)).await?;
        let broken: Vec<&str> = seed["broken"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["djbh"].as_str())
            .collect();
        let residents = self.get(format!("{}/_admin/workers", self.zf)).await?;
        let resident = residents
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                r["务工县区代码"] == "441303"
                    && !broken.contains(&r["登记编号"].as_str().unwrap_or(""))
            })
            .context("no resident working in 441303")?;
        let djbh = resident["登记编号"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let zf_id_number =
            hub_schemas::id_number::normalise(resident["身份证号"].as_str().unwrap_or_default());
        let new_phone = "13912345678".to_string();
        self.patch(
            format!("{}/_admin/workers/{djbh}", self.zf),
            json!({ "联系电话": new_phone }),
        )
        .await?;

        let workers = self
            .get(format!("{}/_admin/zhenfeng-workers", self.hy))
            .await?;
        let worker = workers
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| {
                w["status"] == "employed"
                    && w["idNo"].as_str() != Some(zf_id_number.as_str())
                    && w["employerUscc"].is_string()
            })
            .context("no employed worker in HY-ESMS")?;
        let hy_id = worker["id"].as_i64().context("worker id")?;
        let enterprises = self.get(format!("{}/_admin/enterprises", self.hy)).await?;
        let employer = enterprises
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["uscc"] != worker["employerUscc"])
            .context("no second enterprise")?;
        self.patch(
            format!("{}/_admin/zhenfeng-workers/{hy_id}", self.hy),
            json!({ "employerUscc": employer["uscc"], "status": "left" }),
        )
        .await?;
        Ok(Changes {
            zf_registry_number: djbh,
            zf_id_number,
            new_phone,
            hy_id,
            hy_id_number: worker["idNo"].as_str().unwrap_or_default().to_string(),
            new_employer_name: employer["name"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Checks that both changes reached the other system; returns a line per check.
    async fn verify(&self, c: &Changes) -> anyhow::Result<Vec<String>> {
        let workers = self
            .get(format!("{}/_admin/zhenfeng-workers", self.hy))
            .await?;
        let hy = workers
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["idNo"].as_str() == Some(c.zf_id_number.as_str()))
            .context("the resident changed in ZF-REG is not in HY-ESMS")?;
        let residents = self.get(format!("{}/_admin/workers", self.zf)).await?;
        let zf = residents
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                hub_schemas::id_number::normalise(r["身份证号"].as_str().unwrap_or_default())
                    == c.hy_id_number
            })
            .context("the worker changed in HY-ESMS is not in ZF-REG")?;
        let mut lines = Vec::new();
        let ok = |b: bool| if b { "ok" } else { "NOT SYNCED" };
        lines.push(format!(
            "  {} phone changed in ZF-REG ({}) → HY-ESMS has it: {}",
            ok(hy["phone"].as_str() == Some(c.new_phone.as_str())),
            c.zf_registry_number,
            hy["phone"]
                .as_str()
                .map(|p| format!(
                    "{}****{}",
                    &p[..3.min(p.len())],
                    &p[p.len().saturating_sub(4)..]
                ))
                .unwrap_or_default()
        ));
        lines.push(format!(
            "  {} employer and status changed in HY-ESMS (worker {}) → ZF-REG 务工单位 {}, 务工状态 {}",
            ok(zf["务工单位"].as_str() == Some(c.new_employer_name.as_str()) && zf["务工状态"] == "3"),
            c.hy_id,
            zf["务工单位"].as_str().unwrap_or_default(),
            zf["务工状态"].as_str().unwrap_or_default()
        ));
        if lines.iter().any(|l| l.contains("NOT SYNCED")) {
            bail!(
                "a change did not reach the other system:\n{}",
                lines.join("\n")
            );
        }
        Ok(lines)
    }
}

impl Admin {
    /// After the first job-postings run: every posting on the board, with its pay as text; then
    /// Huiyang closes an open posting.
    async fn jobs_after_first_run(&self) -> anyhow::Result<(i64, Vec<String>)> {
        let jobs = self.get(format!("{}/_admin/jobs", self.hy)).await?;
        let board = self.get(format!("{}/_admin/jobs", self.zf)).await?;
        let jobs = jobs.as_array().context("jobs")?;
        let rows = board.as_array().context("job board")?;
        let open: Vec<&Value> = jobs.iter().filter(|j| j["status"] == "open").collect();
        let firms: std::collections::BTreeSet<i64> = jobs
            .iter()
            .filter_map(|j| j["enterpriseId"].as_i64())
            .collect();
        let row_of = |id: &Value| {
            rows.iter()
                .find(|r| r["wbbh"].as_str() == Some(id.to_string().as_str()))
        };
        let on_board = open
            .iter()
            .filter(|j| {
                row_of(&j["id"]).is_some_and(|r| {
                    r["zt"] == "1"
                        && r["zprs"] == j["headcount"]
                        && r["xzfw"] == json!(format!("{}-{}元/月", j["salaryMin"], j["salaryMax"]))
                })
            })
            .count();
        let job = open.first().context("no open posting")?;
        let id = job["id"].as_i64().context("job id")?;
        let ok = |b: bool| if b { "ok" } else { "NOT SYNCED" };
        let lines = vec![format!(
            "  {} {on_board} of {} open postings (of {} enterprises) on the ZF-REG job board with pay and headcount, e.g. {} {}",
            ok(on_board == open.len()),
            open.len(),
            firms.len(),
            row_of(&job["id"])
                .and_then(|r| r["gwmc"].as_str())
                .unwrap_or("?"),
            row_of(&job["id"])
                .and_then(|r| r["xzfw"].as_str())
                .unwrap_or("?"),
        )];
        if on_board != open.len() {
            bail!(
                "postings did not reach the job board:\n{}",
                lines.join("\n")
            );
        }
        self.patch(
            format!("{}/_admin/jobs/{id}", self.hy),
            json!({"status": "closed"}),
        )
        .await?;
        Ok((id, lines))
    }

    async fn jobs_verify(&self, id: i64) -> anyhow::Result<Vec<String>> {
        let board = self.get(format!("{}/_admin/jobs", self.zf)).await?;
        let row = board
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["wbbh"].as_str() == Some(id.to_string().as_str()))
            .context("the closed posting is not on the board")?;
        let line = format!(
            "  {} posting {id} closed in HY-ESMS → ZF-REG job board zt {}",
            if row["zt"] == "0" { "ok" } else { "NOT SYNCED" },
            row["zt"].as_str().unwrap_or("?")
        );
        if row["zt"] != "0" {
            bail!("a change did not reach the other system:\n{line}");
        }
        Ok(vec![line])
    }

    /// After the first secondments run: the roster holds each clinician once and each stay;
    /// then the roster records that a serving stay ended early, in another department.
    async fn secondments_after_first_run(&self) -> anyhow::Result<(String, i64, Vec<String>)> {
        let people = self
            .get(format!("{}/_admin/Practitioner", self.med))
            .await?;
        let roles = self
            .get(format!("{}/_admin/PractitionerRole", self.med))
            .await?;
        let plan = self.get(format!("{}/_admin/secondments", self.hy)).await?;
        let (people, roles, plan) = (
            people.as_array().context("practitioners")?,
            roles.as_array().context("roles")?,
            plan.as_array().context("secondments")?,
        );
        let ok = |b: bool| if b { "ok" } else { "NOT SYNCED" };
        let lines = vec![format!(
            "  {} {} secondments in HY-ESMS → MED-ROSTER {} Practitioners, {} PractitionerRoles",
            ok(people.len() == plan.len() && roles.len() == plan.len()),
            plan.len(),
            people.len(),
            roles.len()
        )];
        if roles.len() != plan.len() {
            bail!(
                "the secondments did not reach the roster:\n{}",
                lines.join("\n")
            );
        }
        let serving = plan
            .iter()
            .find(|s| s["status"] == "serving")
            .context("no serving secondment")?;
        let hy_id = serving["id"].as_i64().context("secondment id")?;
        let person = people
            .iter()
            .find(|p| p["identifier"][0]["value"] == serving["idNo"])
            .context("the serving clinician is not in the roster")?;
        let reference = format!("Practitioner/{}", person["id"].as_str().unwrap_or_default());
        let role = roles
            .iter()
            .find(|r| r["practitioner"]["reference"] == json!(reference))
            .context("the serving stay is not in the roster")?;
        let role_id = role["id"].as_str().unwrap_or_default().to_string();
        self.patch(
            format!("{}/_admin/PractitionerRole/{role_id}", self.med),
            json!({"period": {"end": "2021-11-20"}, "specialty": [{"text": "康复医学科"}], "active": false}),
        )
        .await?;
        Ok((role_id, hy_id, lines))
    }

    async fn secondments_verify(&self, hy_id: i64) -> anyhow::Result<Vec<String>> {
        let s = self
            .get(format!("{}/_admin/secondments/{hy_id}", self.hy))
            .await?;
        let synced = s["actualEndDate"] == "2021-11-20"
            && s["department"] == "康复医学科"
            && s["status"] == "completed";
        let line = format!(
            "  {} stay ended early in MED-ROSTER → HY-ESMS secondment {hy_id}: actualEndDate {}, department {}, status {}",
            if synced { "ok" } else { "NOT SYNCED" },
            s["actualEndDate"].as_str().unwrap_or("-"),
            s["department"].as_str().unwrap_or("-"),
            s["status"].as_str().unwrap_or("-")
        );
        if !synced {
            bail!("a change did not reach the other system:\n{line}");
        }
        Ok(vec![line])
    }
}

/// Runs the demo; prints to stdout.
pub async fn run(opts: DemoOptions) -> anyhow::Result<()> {
    let runs = opts.runs.max(3);
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
    let (data_dir, _temp) = match &opts.data_dir {
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
    hub::say!(
        "HY-ESMS simulator at {} (rate limit {}), ZF-REG simulator at {}, MED-ROSTER simulator at {}",
        hy.url(),
        rate(opts.hy_rate_limit),
        zf.url(),
        med.url()
    );
    hub::say!("state in {}", data_dir.display());
    let vars = {
        let (hy, zf, med, dd, hy_rate_limit) = (
            hy.url(),
            zf.url(),
            med.url(),
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
    let admin = Admin {
        client: reqwest::Client::new(),
        hy: hy.url(),
        zf: zf.url(),
        med: med.url(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel::<RunOutcome>();
    let daemon = async {
        hub.run_scheduled(stop_rx, Some(tx)).await;
    };
    let driver = async {
        let mut changes = None;
        let mut other = OtherChanges {
            closed_job: 0,
            stay_hy_id: 0,
        };
        let mut history: Vec<RunOutcome> = Vec::new();
        let mut result = Ok(());
        let mut done: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
        while let Some(outcome) = rx.recv().await {
            let s = &hub.syncs[&outcome.sync];
            let rows = report::directions(
                &outcome.stats,
                &s.spec.a.plugin.name,
                &s.spec.b.plugin.name,
                s.spec.direction,
            );
            println!("\n{}", report::table(&outcome, &rows));
            history.push(outcome.clone());
            let n = {
                let n = done.entry(outcome.sync.clone()).or_default();
                *n += 1;
                *n
            };
            let step = match (outcome.sync.as_str(), n) {
                ("job-postings", 1) => admin.jobs_after_first_run().await.map(|(id, lines)| {
                    other.closed_job = id;
                    say_lines(&lines);
                    hub::say!("closed HY-ESMS posting {id}");
                }),
                ("job-postings", 2) => admin
                    .jobs_verify(other.closed_job)
                    .await
                    .map(|lines| say_lines(&lines)),
                ("secondments", 1) => admin.secondments_after_first_run().await.map(|(role, id, lines)| {
                    say_lines(&lines);
                    hub::say!("changed MED-ROSTER PractitionerRole {role}: period.end, specialty, active false");
                    other.stay_hy_id = id;
                }),
                ("secondments", 2) => admin
                    .secondments_verify(other.stay_hy_id)
                    .await
                    .map(|lines| say_lines(&lines)),
                _ => Ok(()),
            };
            if let Err(e) = step {
                result = Err(e);
                break;
            }
            if n == 3 && outcome.sync != "workers" {
                let w = outcome.stats.written();
                hub::say!(
                    "  {} {} run 3 wrote {w} records (no echo expected: 0)",
                    if w == 0 { "ok" } else { "ECHO" },
                    outcome.sync
                );
                if w != 0 {
                    result = Err(anyhow::anyhow!(
                        "{} run 3 wrote {w} records; expected none",
                        outcome.sync
                    ));
                    break;
                }
            }
            if outcome.sync != "workers" {
                if hub
                    .syncs
                    .keys()
                    .all(|k| done.get(k).copied().unwrap_or(0) >= runs)
                {
                    break;
                }
                continue;
            }
            if n == 1 {
                match admin.make_changes().await {
                    Ok(c) => {
                        hub::say!(
                            "changed ZF-REG {}: phone; changed HY-ESMS worker {}: employer and status → left",
                            c.zf_registry_number,
                            c.hy_id
                        );
                        changes = Some(c);
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            } else if n == 2 {
                match admin
                    .verify(changes.as_ref().expect("made after run 1"))
                    .await
                {
                    Ok(lines) => say_lines(&lines),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            } else if n == 3 {
                let w = outcome.stats.written();
                hub::say!(
                    "  {} workers run 3 wrote {w} records (no echo expected: 0)",
                    if w == 0 { "ok" } else { "ECHO" }
                );
                if w != 0 {
                    result = Err(anyhow::anyhow!(
                        "workers run 3 wrote {w} records; expected none"
                    ));
                    break;
                }
            }
            if hub
                .syncs
                .keys()
                .all(|k| done.get(k).copied().unwrap_or(0) >= runs)
            {
                break;
            }
        }
        let _ = stop_tx.send(true);
        (history, result)
    };
    let ((history, result), ()) = tokio::join!(driver, daemon);
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
    match hub::statistics::Statistician::of_hub(&hub)
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
    hub.engine.store().close().await;
    hy.shutdown().await;
    zf.shutdown().await;
    med.shutdown().await;
    result
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

fn rate(r: u32) -> String {
    if r == 0 {
        "off".into()
    } else {
        format!("{r} requests/s")
    }
}
