//! `hub demo`: the simulators and the daemon in one process, on SQLite in a fresh data
//! directory, for a few scheduled runs of the demo configuration (`config/demo.toml`).
//!
//! Between runs the demo changes data the way people at the two bureaus would, through the
//! simulators' admin side-door: after the first run a phone number changes in ZF-REG, and an
//! employer and employment status change in HY-ESMS. It then checks that each change reached the
//! other system, and that the run after that wrote nothing (no echo). It prints a table per run
//! and per direction.

use crate::daemon::Hub;
use crate::report;
use crate::sync::RunOutcome;
use anyhow::{Context as _, bail};
use hub_sims::{SimOptions, start_hy_esms, start_zf_reg};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::{mpsc, watch};

/// Options of `hub demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The demo deployment.
    pub config: PathBuf,
    /// Scheduled runs to wait for (at least 3: initial sync, changes, quiet run).
    pub runs: u32,
    /// Where the state goes; default a new temporary directory.
    pub data_dir: Option<PathBuf>,
    /// HY-ESMS simulator rate limit, requests per second (0 = none).
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

struct Admin {
    client: reqwest::Client,
    hy: String,
    zf: String,
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
    println!(
        "HY-ESMS simulator at {} (rate limit {}), ZF-REG simulator at {}",
        hy.url(),
        rate(opts.hy_rate_limit),
        zf.url()
    );
    println!("state in {}", data_dir.display());
    let vars = {
        let (hy, zf, dd) = (hy.url(), zf.url(), data_dir.display().to_string());
        move |name: &str| match name {
            "HY_ESMS_URL" => Some(hy.clone()),
            "ZF_REG_URL" => Some(zf.clone()),
            "HUB_DATA_DIR" => Some(dd.clone()),
            other => std::env::var(other).ok(),
        }
    };
    let config =
        crate::config::load_with(&opts.config, &vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hub = Hub::build(config).await?;
    if !hub.problems.is_empty() {
        bail!(
            "the demo deployment did not load:\n{}",
            hub.problems.join("\n")
        );
    }
    for (name, s) in &hub.syncs {
        println!(
            "sync {name}: {} ⇄ {} every \"{}\"",
            s.spec.a.plugin.name, s.spec.b.plugin.name, s.schedule
        );
    }
    let admin = Admin {
        client: reqwest::Client::new(),
        hy: hy.url(),
        zf: zf.url(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel::<RunOutcome>();
    let daemon = async {
        hub.run_scheduled(stop_rx, Some(tx)).await;
    };
    let driver = async {
        let mut changes = None;
        let mut history: Vec<RunOutcome> = Vec::new();
        let mut result = Ok(());
        while let Some(outcome) = rx.recv().await {
            let s = &hub.syncs[&outcome.sync];
            let rows = report::directions(
                &outcome.stats,
                &s.spec.a.plugin.name,
                &s.spec.b.plugin.name,
                s.spec.direction,
            );
            println!("\n{}", report::table(&outcome, &rows));
            let n = history.len() + 1;
            history.push(outcome.clone());
            if n == 1 {
                match admin.make_changes().await {
                    Ok(c) => {
                        println!(
                            "changed ZF-REG {}: phone; changed HY-ESMS worker {}: employer and status → left",
                            c.zf_registry_number, c.hy_id
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
                    Ok(lines) => println!("{}", lines.join("\n")),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            } else if n == 3 {
                let w = outcome.stats.written();
                println!(
                    "  {} run 3 wrote {w} records (no echo expected: 0)",
                    if w == 0 { "ok" } else { "ECHO" }
                );
                if w != 0 {
                    result = Err(anyhow::anyhow!("run 3 wrote {w} records; expected none"));
                }
            }
            if n as u32 >= runs {
                break;
            }
        }
        let _ = stop_tx.send(true);
        (history, result)
    };
    let ((history, result), ()) = tokio::join!(driver, daemon);
    println!("\nsummary ({} runs):", history.len());
    for o in &history {
        let s = &hub.syncs[&o.sync];
        for r in report::directions(
            &o.stats,
            &s.spec.a.plugin.name,
            &s.spec.b.plugin.name,
            s.spec.direction,
        ) {
            println!(
                "  run {:>2}  {:<36} read {:>5}  written {:>5}  unchanged {:>5}  echoes skipped {:>5}  dead letters {:>3}  ({:.2} s)",
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
    let dead = hub.engine.store().dead_letters(None).await?;
    println!("\ndead letters ({}):", dead.len());
    for d in &dead {
        for e in &d.errors {
            println!(
                "  #{} {} {} key {} at {}: {}",
                d.id,
                d.side.as_str(),
                d.remote_id.as_deref().unwrap_or("-"),
                d.key_masked.as_deref().unwrap_or("(none)"),
                if e.pointer.is_empty() {
                    "/"
                } else {
                    &e.pointer
                },
                e.message
            );
        }
    }
    hub.engine.store().close().await;
    hy.shutdown().await;
    zf.shutdown().await;
    result
}

fn rate(r: u32) -> String {
    if r == 0 {
        "off".into()
    } else {
        format!("{r} requests/s")
    }
}
