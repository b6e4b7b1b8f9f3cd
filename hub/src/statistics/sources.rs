//! Reading the sources: the settled links of the state store (workers, secondments, job
//! postings) and, on demand, the connector streams of schema `referral`. Only reads: nothing
//! is written to the store or to a connector.

use super::figures::{
    ReferralRecord, WorkerRecord, of_a_zhenfeng_worker, posting_stats, referral_stats,
    secondment_stats, text_at, worker_stats,
};
use super::model::{ReferralStats, Section, SourceNote, Statistics};
use crate::keys::Keys;
use crate::runtime::Plugin;
use crate::store::{Link, Store};
use crate::sync::SyncSpec;
use anyhow::Context as _;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Links read from the state store per query.
const PAGE: u32 = 1000;

/// Records asked of a connector per `read` of the referrals stream.
const READ_BATCH: u32 = 200;

/// What the statistics read: the state store (with the state keys that open its links), the
/// loaded syncs, and the connectors that may carry referrals.
#[derive(Clone)]
pub struct Statistician {
    /// The state store (only read).
    pub store: Store,
    /// The state keys (to open the links' sealed records).
    pub keys: Keys,
    /// The syncs that loaded, by name.
    pub specs: BTreeMap<String, SyncSpec>,
    /// Loaded plugins besides the syncs' own (their streams of schema `referral` are read).
    pub plugins: Vec<Arc<Plugin>>,
    /// The deployment's zone, for months.
    pub zone: chrono_tz::Tz,
}

impl Statistician {
    /// The statistics of a built deployment: its store and state keys, its loaded syncs and
    /// plugins, its zone.
    pub fn of_hub(hub: &crate::daemon::Hub) -> Statistician {
        Statistician {
            store: hub.engine.store().clone(),
            keys: hub.engine.keys().clone(),
            specs: hub
                .syncs
                .iter()
                .map(|(n, s)| (n.clone(), s.spec.clone()))
                .collect(),
            plugins: hub.plugins.values().cloned().collect(),
            zone: hub.config.zone(),
        }
    }
}

/// The settled records of one sync and what was skipped.
struct SyncRead {
    records: Vec<(String, Value, Link)>,
    note: SourceNote,
}

impl Statistician {
    /// The statistics of `sections` (all when empty). Reads the state store and, for
    /// referrals, the connectors; writes nothing.
    ///
    /// # Errors
    /// A state store that cannot be read, a link that does not open with the state key (naming
    /// the sync), a referrals connector that cannot connect or read (naming it).
    pub async fn statistics(&self, sections: &[Section]) -> anyhow::Result<Statistics> {
        let want = |s: Section| sections.is_empty() || sections.contains(&s);
        let mut out = Statistics {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            zone: self.zone.name().to_string(),
            sources: Vec::new(),
            missing: Vec::new(),
            workers: None,
            secondments: None,
            job_postings: None,
            referrals: None,
        };
        // Referrals need the workers (who is a Zhenfeng worker) and the postings (enterprises).
        let need_workers = want(Section::Workers) || want(Section::Referrals);
        let need_postings = want(Section::JobPostings) || want(Section::Referrals);
        let workers = if need_workers {
            self.settled(Section::Workers, &mut out).await?
        } else {
            None
        };
        let postings = if need_postings {
            self.settled(Section::JobPostings, &mut out).await?
        } else {
            None
        };
        if want(Section::Workers)
            && let Some(w) = &workers
        {
            let rows: Vec<WorkerRecord> = w
                .iter()
                .map(|(_, record, link)| {
                    let mut record = record.clone();
                    if let Some(s) = finer_status(&record, link) {
                        record["status"] = Value::String(s);
                    }
                    WorkerRecord {
                        returned_at: returned_at(link),
                        record,
                    }
                })
                .collect();
            out.workers = Some(worker_stats(&rows, self.zone));
        }
        if want(Section::Secondments)
            && let Some(s) = self.settled(Section::Secondments, &mut out).await?
        {
            let stays: Vec<Value> = s.into_iter().map(|(_, r, _)| r).collect();
            out.secondments = Some(secondment_stats(&stays));
        }
        let have_postings = postings.is_some();
        let posting_records: Vec<Value> = postings
            .map(|p| p.into_iter().map(|(_, r, _)| r).collect())
            .unwrap_or_default();
        if want(Section::JobPostings) && have_postings {
            out.job_postings = Some(posting_stats(&posting_records));
        }
        if want(Section::Referrals) {
            let zhenfeng: Option<HashSet<String>> = workers.as_ref().map(|w| {
                w.iter()
                    .filter_map(|(_, r, _)| text_at(r, "/idNumber"))
                    .map(hub_schemas::id_number::normalise)
                    .collect()
            });
            out.referrals = self
                .referrals(zhenfeng.as_ref(), &posting_records, &mut out)
                .await?;
        }
        // Only the sections asked for are reported; the ones read for referrals are not.
        out.sources.retain(|s| want(s.section));
        out.missing.retain(|m| {
            Section::ALL
                .iter()
                .any(|s| want(*s) && m.starts_with(s.as_str()))
        });
        Ok(out)
    }

    /// The settled records of every loaded sync of the section's schema, keys held by two such
    /// syncs once (the first sync by name); `None` (and a line in `missing`) when there is no
    /// such sync.
    async fn settled(
        &self,
        section: Section,
        out: &mut Statistics,
    ) -> anyhow::Result<Option<Vec<(String, Value, Link)>>> {
        let syncs: Vec<&SyncSpec> = self
            .specs
            .values()
            .filter(|s| s.schema.name == section.schema())
            .collect();
        if syncs.is_empty() {
            out.missing.push(format!(
                "{}: no loaded sync has schema {}",
                section.as_str(),
                section.schema()
            ));
            return Ok(None);
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut all = Vec::new();
        for spec in syncs {
            let read = self.read_sync(section, spec).await?;
            let mut note = read.note;
            for (key, record, link) in read.records {
                if seen.insert(key.clone()) {
                    all.push((key, record, link));
                } else {
                    note.counted -= 1;
                }
            }
            out.sources.push(note);
        }
        Ok(Some(all))
    }

    /// Every link of `spec`, opened: the base of each settled key that is not ended.
    async fn read_sync(&self, section: Section, spec: &SyncSpec) -> anyhow::Result<SyncRead> {
        let mut note = SourceNote {
            section,
            from: format!("sync {}", spec.name),
            visited: 0,
            counted: 0,
            unsettled: 0,
            ended: 0,
        };
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .links_after(&spec.name, after.as_deref(), PAGE)
                .await
                .with_context(|| format!("reading the links of sync {}", spec.name))?;
            let Some(last) = page.last() else { break };
            after = Some(last.key_hash.clone());
            for mut link in page {
                note.visited += 1;
                crate::sync::link_seal::unseal(&self.keys, &spec.name, &mut link).map_err(
                    |_| {
                        anyhow::anyhow!(
                            "sync {}: a link's records do not open with this state key (another key, or an altered row)",
                            spec.name
                        )
                    },
                )?;
                if link.a.deleted || link.b.deleted {
                    note.ended += 1;
                    continue;
                }
                let Some(base) = link.base.as_deref() else {
                    note.unsettled += 1;
                    continue;
                };
                let record: Value = serde_json::from_slice(base)
                    .with_context(|| format!("sync {}: a settled record is not JSON", spec.name))?;
                note.counted += 1;
                records.push((link.key_hash.clone(), record, link));
            }
        }
        Ok(SyncRead { records, note })
    }

    /// The referrals section, read now from every loaded connector stream of schema
    /// `referral`; `None` (and a line in `missing`) when there is none.
    async fn referrals(
        &self,
        zhenfeng: Option<&HashSet<String>>,
        postings: &[Value],
        out: &mut Statistics,
    ) -> anyhow::Result<Option<ReferralStats>> {
        let readers = self.referral_streams();
        if readers.is_empty() {
            out.missing.push(
                "referrals: no loaded connector has a readable stream of schema referral".into(),
            );
            return Ok(None);
        }
        let schema = crate::schema::Catalogue::builtin()?.get("referral")?;
        let mut records = Vec::new();
        let mut invalid = 0;
        for (plugin, stream) in readers {
            let (read, bad) = read_stream(&plugin, &stream, &schema).await?;
            out.sources.push(SourceNote {
                section: Section::Referrals,
                from: format!("{}/{stream}", plugin.name),
                visited: (read.len() as u64) + bad,
                // As the section counts them: not deleted, of a Zhenfeng worker.
                counted: read
                    .iter()
                    .filter(|r| !r.deleted && of_a_zhenfeng_worker(r, zhenfeng))
                    .count() as u64,
                unsettled: 0,
                ended: read.iter().filter(|r| r.deleted).count() as u64,
            });
            records.extend(read);
            invalid += bad;
        }
        Ok(Some(referral_stats(&records, invalid, zhenfeng, postings)))
    }

    /// The (plugin, stream) pairs of schema `referral` that can be read, among the syncs'
    /// plugins and the others given, each plugin once.
    fn referral_streams(&self) -> Vec<(Arc<Plugin>, String)> {
        let mut seen: HashSet<String> = HashSet::new();
        let plugins = self
            .specs
            .values()
            .flat_map(|s| [s.a.plugin.clone(), s.b.plugin.clone()])
            .chain(self.plugins.iter().cloned());
        let mut out = Vec::new();
        for p in plugins {
            if !seen.insert(p.name.clone()) {
                continue;
            }
            for s in &p.manifest().streams {
                if s.schema == Section::Referrals.schema() && s.can_read {
                    out.push((p.clone(), s.name.clone()));
                }
            }
        }
        out
    }
}

/// A side's own record of the link as it settled (its settled record, else its snapshot).
fn side_record(s: &crate::store::SideState) -> Option<Value> {
    s.settled
        .as_deref()
        .or(s.snapshot.as_deref())
        .and_then(|b| serde_json::from_slice(b).ok())
}

/// The finer status a side holds where the settled record says `left`: HY-ESMS has no code for
/// the registry's `returned_home` (务工状态 3) and `lost_contact` (9) and holds `left` for both,
/// and a record that ended on one side takes the other side's end form (the workers sync's
/// `[deletes]`), so the settled record of a resident who came home may say `left` while the
/// registry says `returned_home`: the statistics keep the registry's word. `None`: the settled
/// status stands.
pub fn finer_status(record: &Value, link: &Link) -> Option<String> {
    if text_at(record, "/status") != Some("left") {
        return None;
    }
    [&link.a, &link.b]
        .into_iter()
        .filter_map(side_record)
        .filter_map(|r| text_at(&r, "/status").map(str::to_string))
        .find(|s| s == "returned_home" || s == "lost_contact")
}

/// When the worker of this link came home, if a side's record says `returned_home`: that
/// side's update time (the latest such, should both).
pub fn returned_at(link: &Link) -> Option<String> {
    [&link.a, &link.b]
        .into_iter()
        .filter(|s| side_record(s).is_some_and(|r| text_at(&r, "/status") == Some("returned_home")))
        .filter_map(|s| s.updated_at.clone())
        .max_by_key(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MIN)
        })
}

/// Reads `stream` of `plugin` whole, from the beginning: the valid records and how many broke
/// `schema`. Errors: a connection or a read that fails, a read that stops moving (naming the
/// plugin).
async fn read_stream(
    plugin: &Plugin,
    stream: &str,
    schema: &crate::schema::Schema,
) -> anyhow::Result<(Vec<ReferralRecord>, u64)> {
    let mut session = plugin
        .connect()
        .await
        .with_context(|| format!("{}: cannot connect to read {stream}", plugin.name))?;
    let mut cursor: Option<String> = None;
    let (mut out, mut invalid, mut idle) = (Vec::new(), 0, 0);
    loop {
        let batch = session
            .read(stream, cursor.as_deref(), READ_BATCH)
            .await
            .with_context(|| format!("{}: reading stream {stream}", plugin.name))?;
        let n = batch.records.len();
        for r in batch.records {
            if schema.is_valid(&r.data) {
                out.push(ReferralRecord {
                    record: r.data,
                    deleted: r.deleted,
                });
            } else {
                invalid += 1;
            }
        }
        if !batch.more {
            return Ok((out, invalid));
        }
        let next = batch.cursor.or(cursor.clone());
        idle = if n == 0 && next == cursor {
            idle + 1
        } else {
            0
        };
        if idle >= 3 {
            anyhow::bail!(
                "{}: stream {stream} said more records wait three times without giving any or moving its cursor",
                plugin.name
            );
        }
        cursor = next;
    }
}
