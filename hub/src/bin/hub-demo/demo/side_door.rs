//! The simulators' admin side-door, as the demo uses it: the changes people at the bureaus
//! would make between runs (in ZF-REG, HY-ESMS and MED-ROSTER), and the checks, after the next
//! run, that each change reached the other system. Talks only to the simulators, never to the
//! hub.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// A change the demo made, to check after the next run.
pub(super) struct Changes {
    pub(super) zf_registry_number: String,
    pub(super) zf_id_number: String,
    pub(super) new_phone: String,
    pub(super) hy_id: i64,
    pub(super) hy_id_number: String,
    pub(super) new_employer_name: String,
}

/// The admin side-door of the three simulators: a client and their base URLs.
pub(super) struct Admin {
    pub(super) client: reqwest::Client,
    pub(super) hy: String,
    pub(super) zf: String,
    pub(super) med: String,
}

impl Admin {
    /// GETs `url` of a simulator's side-door, as JSON.
    pub(super) async fn get(&self, url: String) -> anyhow::Result<Value> {
        let r = self.client.get(&url).send().await?.error_for_status()?;
        Ok(serde_json::from_slice(&r.bytes().await?)?)
    }

    /// PATCHes `url` of a simulator's side-door with the JSON `body`.
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
    pub(super) async fn make_changes(&self) -> anyhow::Result<Changes> {
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
    pub(super) async fn verify(&self, c: &Changes) -> anyhow::Result<Vec<String>> {
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
    pub(super) async fn jobs_after_first_run(&self) -> anyhow::Result<(i64, Vec<String>)> {
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

    /// Checks that the posting closed in HY-ESMS is closed on the ZF-REG job board.
    pub(super) async fn jobs_verify(&self, id: i64) -> anyhow::Result<Vec<String>> {
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
    pub(super) async fn secondments_after_first_run(
        &self,
    ) -> anyhow::Result<(String, i64, Vec<String>)> {
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

    /// Checks that the stay ended early in MED-ROSTER reached HY-ESMS's secondment `hy_id`.
    pub(super) async fn secondments_verify(&self, hy_id: i64) -> anyhow::Result<Vec<String>> {
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
