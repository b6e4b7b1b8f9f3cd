//! The plan of a sync run (a dry run: `hub sync NAME --plan`, `POST /api/syncs/NAME/plan`):
//! what the next run would do, made by the run's own code.
//!
//! A plan is a run of the engine ([`Engine::plan`]) in which nothing leaves the process: both
//! sides are read from their cursors, staged and reconciled by the same code a run uses
//! (`stage_batch`, `plan_key`, `targets`: the per-key decisions), fed the same stored state;
//! but every commit the run would make (links, cursor moves, dead letters, conflicts, audit
//! entries) is kept in memory ([`Dry`]), and later reads of the state store see it there, as a
//! run would see its own commits; every write the run would send is collected instead, taken as
//! the system accepting it (created, updated, ended), and explained field by field. No run row
//! is recorded, no lease taken, no dead letter closed or replayed, no system written.
//!
//! What a plan cannot know is the systems' answers: a write the system would refuse (a dead
//! letter at write time, an optimistic-concurrency conflict, a transient failure) shows in the
//! plan as the write it would try; and a system that lists records by update time (HY-ESMS)
//! shows the run a record it wrote while reading again later in the same read, one more record
//! read and echo in the run than in the plan. Records changed in either system between the plan
//! and the run change the run, not the plan.

use super::*;
use crate::config::FieldPolicy;
use std::collections::BTreeMap;

/// The state a plan would have committed, in memory: the links (sealed, as the store would
/// hold them), the cursors moved, and what the run would have recorded.
#[derive(Debug, Default)]
pub(super) struct Dry(Mutex<DryState>);

#[derive(Debug, Default)]
struct DryState {
    links: BTreeMap<String, Link>,
    cursors: HashMap<Side, Option<String>>,
    dead: Vec<NewDeadLetter>,
    conflicts: Vec<NewConflict>,
    writes: Vec<PlannedRecord>,
    fixed: u64,
    replays: Vec<String>,
}

impl Dry {
    fn state(&self) -> std::sync::MutexGuard<'_, DryState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a plan says a run would do.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Plan {
    /// The sync.
    pub sync: String,
    /// When the systems were read (RFC 3339, UTC).
    pub read_at: String,
    /// One row per direction the sync flows (`a → b`, `b → a`).
    pub directions: Vec<PlannedDirection>,
    /// Keys both sides changed, decided by a field's policy (`a_wins`, `b_wins`,
    /// `newest_wins`).
    pub conflicts_resolved: u64,
    /// Keys that would be parked (a `park` field changed on both sides): nothing written for
    /// them until a person decides.
    pub parked: u64,
    /// Keys that would still be pending after the run.
    pub pending_after: u64,
    /// Open dead letters of records read again valid, which the run would close as fixed.
    pub dead_letters_fixed: u64,
    /// Each record the run would write: per system and key, the fields that change and why.
    pub records: Vec<PlannedRecord>,
    /// Each key that would be parked (masked key, the fields).
    pub parks: Vec<PlannedIssue>,
    /// Each dead letter the run would record (masked key, what is wrong).
    pub dead_letters: Vec<PlannedIssue>,
    /// Replays of dead letters an operator asked for, and what the run would make of each.
    pub replays: Vec<String>,
    /// The run's counts as the plan made them ([`RunStats`]; `duration_ms` is the plan's).
    #[schema(value_type = Object)]
    pub stats: RunStats,
}

/// One direction of a plan: records read from `from`, written to `to`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlannedDirection {
    /// The source's plugin name.
    pub from: String,
    /// The target's plugin name.
    pub to: String,
    /// Records read from the source (within its cursor).
    pub read: u64,
    /// Read but outside the sync's `where`.
    pub filtered: u64,
    /// Records to create in the target.
    pub create: u64,
    /// Records to update in the target.
    pub update: u64,
    /// Records to end in the target natively (`deletes.native`).
    pub end: u64,
    /// Read with no change: left as they are.
    pub unchanged: u64,
    /// Read back as the hub wrote them (echoes): left as they are.
    pub echoes: u64,
    /// Invalid records read from the source, or merged records the schema refuses.
    pub dead_letters: u64,
    /// Writes to the target whose fields a conflict decided (both sides changed them).
    pub conflicts: u64,
}

/// One write a run would make.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlannedRecord {
    /// The system written to (its plugin name).
    pub system: String,
    /// Its side of the sync.
    pub side: Side,
    /// `create`, `update` or `delete` (a native end).
    pub action: String,
    /// The natural key, masked ([`mask_key`]).
    pub key_masked: String,
    /// HMAC of the key, as the audit log records it.
    pub key_hash: String,
    /// The system's id of the record, for an update or a delete.
    pub remote_id: Option<String>,
    /// The fields that change (JSON pointers, RFC 6901, to the leaves), in pointer order.
    pub fields: Vec<PlannedField>,
}

/// One field a write changes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlannedField {
    /// JSON pointer of the field (schema shape).
    pub field: String,
    /// Its value in the target now (JSON, masked as logs are); `None`: empty.
    pub before: Option<String>,
    /// The value to write (JSON, masked as logs are); `None`: removed.
    pub after: Option<String>,
    /// The rule that decided it: its policy and the pointer of its `[syncs.NAME.merge]` entry
    /// (`b_wins /employer`), `newest_wins (default)` for a field no rule names, `end` for a
    /// side's delete form, `conflicts resolve` for a person's decision.
    pub rule: String,
    /// Why, in words: which system changed it, or that both did and who won.
    pub why: String,
    /// Both sides changed it to different values: a conflict, decided by `rule`.
    pub conflict: bool,
}

/// A key the run would park, or a record it would send to dead letters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlannedIssue {
    /// Side of the sync.
    pub side: Side,
    /// The natural key, masked, when it could be read.
    pub key_masked: Option<String>,
    /// What is wrong (JSON pointers and messages; no personal data).
    pub reason: String,
}

/// A value for people: JSON, masked as logs are ([`crate::logging::mask_personal`]), read as
/// the field `leaf` (so a name field's value is masked as a name).
fn shown(leaf: &str, v: &Value) -> String {
    let text = format!("{leaf}={v}");
    let masked = crate::logging::mask_personal(&text);
    masked
        .strip_prefix(&format!("{leaf}="))
        .map(str::to_string)
        .unwrap_or_else(|| masked.into_owned())
}

/// The leaves where `before` and `after` differ (objects compared member by member; anything
/// else whole), as (pointer, before, after).
fn changed_leaves(
    before: Option<&Value>,
    after: Option<&Value>,
    ptr: &str,
    out: &mut Vec<(String, Option<Value>, Option<Value>)>,
) {
    match (non_null(before), non_null(after)) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let names: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for n in names {
                let p = format!("{ptr}/{}", n.replace('~', "~0").replace('/', "~1"));
                changed_leaves(b.get(n), a.get(n), &p, out);
            }
        }
        (None, Some(Value::Object(a))) => {
            for (n, v) in a {
                let p = format!("{ptr}/{}", n.replace('~', "~0").replace('/', "~1"));
                changed_leaves(None, Some(v), &p, out);
            }
        }
        (b, a) if b != a => out.push((ptr.to_string(), b.map(strip_nulls), a.map(strip_nulls))),
        _ => {}
    }
}

/// The sync's rule for the field at `ptr`: the rule of the longest pointer that is `ptr` or
/// holds it, else the default policy.
fn rule_of(spec: &SyncSpec, ptr: &str) -> (FieldPolicy, Option<String>) {
    spec.rules
        .iter()
        .filter(|(r, _)| ptr == r || ptr.starts_with(&format!("{r}/")))
        .max_by_key(|(r, _)| r.len())
        .map(|(r, p)| (*p, Some(r.clone())))
        .unwrap_or((spec.default_policy, None))
}

fn policy_name(p: FieldPolicy) -> &'static str {
    match p {
        FieldPolicy::A => "a_wins",
        FieldPolicy::B => "b_wins",
        FieldPolicy::Newest => "newest_wins",
        FieldPolicy::Park => "park",
    }
}

impl Engine {
    /// The plan of a run of `spec` now ([`Plan`]): both sides read and reconciled as a run
    /// would, nothing written anywhere. Takes no lease: it can be made beside a daemon (a run
    /// in progress meanwhile makes the plan one of the state before it). Errors: a connector
    /// that cannot be opened or read (a plan of half the records would mislead), the state
    /// store unreachable, a sealed record that does not open with this state key.
    pub async fn plan(&self, spec: &SyncSpec) -> anyhow::Result<Plan> {
        let dry = Arc::new(Dry::default());
        let engine = Engine {
            dry: Some(dry.clone()),
            resync: None,
            crash: None,
            progress: ProgressBoard::default(),
            ..self.clone()
        };
        engine.plan_run(spec, &dry).await
    }

    async fn plan_run(&self, spec: &SyncSpec, dry: &Dry) -> anyhow::Result<Plan> {
        let started = Instant::now();
        let read_at = now_rfc3339();
        // Nothing a plan makes is recorded: the run id of its dead letters and conflicts.
        let run_id = 0;
        let mut stats = RunStats::default();
        let mut sessions: HashMap<Side, Connection> = HashMap::new();
        for &side in spec.read_sides().iter().chain(spec.write_sides()) {
            if sessions.contains_key(&side) {
                continue;
            }
            let s = spec.endpoint(side).plugin.connect().await?;
            sessions.insert(side, s);
        }
        let span = tracing::info_span!("plan", sync = %spec.name);
        self.replay(spec, run_id, &mut stats)
            .instrument(span.clone())
            .await
            .map_err(|e| anyhow::anyhow!("sync {}: replaying dead letters: {e}", spec.name))?;
        let mut tracker = Tracker::new(self.progress.clone(), &spec.name, run_id);
        let (errors, failed) = self
            .stage_and_reconcile(spec, run_id, &mut sessions, &mut stats, &mut tracker, &span)
            .await
            .map_err(|c| anyhow::anyhow!("sync {}: the plan stopped: {c}", spec.name))?;
        if failed {
            anyhow::bail!(
                "sync {}: no plan: {}",
                spec.name,
                crate::logging::mask_personal(&errors.join("; "))
            );
        }
        stats.pending = self.state_pending_count(&spec.name).await? as u64;
        stats.duration_ms = started.elapsed().as_millis() as u64;
        let st = std::mem::take(&mut *dry.state());
        let conflicted = |t: Side| {
            st.writes
                .iter()
                .filter(|w| w.side == t && w.fields.iter().any(|f| f.conflict))
                .count() as u64
        };
        let direction = |from: Side| {
            let (f, t) = (&stats.side_ref(from), &stats.side_ref(from.other()));
            PlannedDirection {
                from: spec.endpoint(from).plugin.name.clone(),
                to: spec.endpoint(from.other()).plugin.name.clone(),
                read: f.read,
                filtered: f.filtered,
                create: t.created,
                update: t.updated,
                end: t.ended,
                unchanged: f.unchanged,
                echoes: f.echoes,
                dead_letters: f.invalid + t.rejected,
                conflicts: conflicted(from.other()),
            }
        };
        let directions = match spec.direction {
            Direction::AToB => vec![direction(Side::A)],
            Direction::BToA => vec![direction(Side::B)],
            Direction::Both => vec![direction(Side::A), direction(Side::B)],
        };
        let issue = |side: Side, key: &Option<String>, reason: String| PlannedIssue {
            side,
            key_masked: key.clone(),
            reason: crate::logging::mask_personal(&reason).into_owned(),
        };
        let mut records = st.writes;
        records.sort_by(|x, y| {
            (x.side.as_str(), &x.key_masked, &x.key_hash).cmp(&(
                y.side.as_str(),
                &y.key_masked,
                &y.key_hash,
            ))
        });
        Ok(Plan {
            sync: spec.name.clone(),
            read_at,
            directions,
            conflicts_resolved: stats.conflicts_resolved,
            parked: stats.parked,
            pending_after: stats.pending,
            dead_letters_fixed: st.fixed,
            records,
            parks: st
                .conflicts
                .iter()
                .map(|c| issue(c.side, &c.key_masked, c.reason.clone()))
                .collect(),
            dead_letters: st
                .dead
                .iter()
                .map(|d| {
                    let why: Vec<String> = d.errors.iter().map(ToString::to_string).collect();
                    issue(
                        d.side,
                        &d.key_masked,
                        format!("{}: {}", d.stage, why.join("; ")),
                    )
                })
                .collect(),
            replays: st.replays,
            stats,
        })
    }

    /// In a plan: the results of writing `batch` to side `t`, each taken as the system accepting
    /// it (a create, an update by id, a native delete), with each write explained in the plan
    /// against the record as the system would store it (its connector's normal form, asked
    /// through `session`; the record itself for a connector that does not say), so that a field
    /// the system does not keep is no change. `None` in a run: the batch is sent.
    pub(super) async fn dry_writes(
        &self,
        spec: &SyncSpec,
        t: Side,
        batch: &[(usize, TargetRecord)],
        links: &[Link],
        session: &mut Connection,
    ) -> Option<Vec<WriteResult>> {
        let dry = self.dry.as_ref()?;
        let records: Vec<Value> = batch
            .iter()
            .map(|(_, r)| serde_json::from_str(&r.data).unwrap_or(Value::Null))
            .collect();
        let refs: Vec<&Value> = records.iter().collect();
        let stored = self.normal_forms(spec, t, Some(session), &refs).await;
        let mut results = Vec::with_capacity(batch.len());
        let mut explained = Vec::with_capacity(batch.len());
        for (j, (i, rec)) in batch.iter().enumerate() {
            let as_stored = stored
                .as_ref()
                .and_then(|s| s.get(j))
                .filter(|v| v.is_object())
                .unwrap_or(&records[j]);
            let written = |remote_id: Option<&String>| crate::runtime::Written {
                remote_id: remote_id.cloned().unwrap_or_default(),
                version: None,
                stored: None,
            };
            results.push(match (rec.op, &rec.remote_id) {
                (WriteOp::Delete, id) => WriteResult::Deleted(written(id.as_ref())),
                (WriteOp::Upsert, Some(id)) => WriteResult::Updated(written(Some(id))),
                (WriteOp::Upsert, None) => WriteResult::Created(written(None)),
            });
            explained.push(self.explain(spec, t, &links[*i], rec, as_stored));
        }
        dry.state().writes.extend(explained);
        Some(results)
    }

    /// A write of `rec` to side `t` for `link`, for people: each field that changes from the
    /// side's current record to `stored` (the record as the system would store it), with the
    /// rule that decided it.
    fn explain(
        &self,
        spec: &SyncSpec,
        t: Side,
        link: &Link,
        rec: &TargetRecord,
        stored: &Value,
    ) -> PlannedRecord {
        let record: Value = serde_json::from_str(&rec.data).unwrap_or(Value::Null);
        let current: Option<Value> = rec
            .current
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let action = match (rec.op, &rec.remote_id) {
            (WriteOp::Delete, _) => "delete",
            (WriteOp::Upsert, Some(_)) => "update",
            (WriteOp::Upsert, None) => "create",
        };
        let o = self.open_link(link).ok();
        let name = |s: Side| spec.endpoint(s).plugin.name.clone();
        let ti = if t == Side::A { 0 } else { 1 };
        let mut leaves = Vec::new();
        if rec.op == WriteOp::Upsert {
            changed_leaves(current.as_ref(), Some(stored), "", &mut leaves);
        }
        let fields = leaves
            .into_iter()
            .map(|(ptr, before, after)| {
                let leaf = ptr.rsplit('/').next().unwrap_or_default().to_string();
                let at =
                    |v: Option<&Value>| v.and_then(|v| non_null(v.pointer(&ptr))).map(strip_nulls);
                let (policy, rule_ptr) = rule_of(spec, &ptr);
                let mut rule = match &rule_ptr {
                    Some(r) => format!("{} {r}", policy_name(policy)),
                    None => format!("{} (default)", policy_name(policy)),
                };
                let mut conflict = false;
                let why = match &o {
                    _ if spec.deletes[ti]
                        .iter()
                        .any(|(p, v)| *p == ptr && after.as_ref() == Some(v)) =>
                    {
                        rule = format!("end: [syncs.{}.deletes] {}", spec.name, t.as_str());
                        format!(
                            "{} ended the record: {}'s own end form",
                            name(t.other()),
                            name(t)
                        )
                    }
                    None => "the link's records could not be opened".into(),
                    Some(o) => {
                        let changed = |i: usize| {
                            o.current[i].is_some()
                                && at(o.current[i].as_ref()) != at(o.settled[i].as_ref())
                        };
                        let from = [Side::A, Side::B].into_iter().find(|&s| {
                            let si = if s == Side::A { 0 } else { 1 };
                            at(o.current[si].as_ref()) == after
                        });
                        let (a_ch, b_ch) = (changed(0), changed(1));
                        match from {
                            _ if o.base.is_none() && o.current.iter().all(Option::is_some) => {
                                format!(
                                    "first meeting of the two records: {}'s value",
                                    from.map(name).unwrap_or_else(|| "the merged".into())
                                )
                            }
                            _ if o.base.is_none() => format!("new in {}", name(t.other())),
                            Some(s)
                                if a_ch
                                    && b_ch
                                    && at(o.current[0].as_ref()) != at(o.current[1].as_ref()) =>
                            {
                                conflict = true;
                                format!("both systems changed it: {} wins by the rule", name(s))
                            }
                            Some(s) if (s == Side::A && a_ch) || (s == Side::B && b_ch) => {
                                format!("{} changed it", name(s))
                            }
                            Some(s) => format!("{}'s value, the last merged one", name(s)),
                            None => {
                                format!("filled in as {} would store it", name(t.other()))
                            }
                        }
                    }
                };
                PlannedField {
                    before: before.as_ref().map(|v| shown(&leaf, v)),
                    after: after.as_ref().map(|v| shown(&leaf, v)),
                    field: ptr,
                    rule,
                    why,
                    conflict,
                }
            })
            .collect();
        let key_source = if rec.op == WriteOp::Delete {
            current.as_ref().unwrap_or(&record)
        } else {
            &record
        };
        PlannedRecord {
            system: name(t),
            side: t,
            action: action.to_string(),
            key_masked: mask_key(&key_of(&spec.key, key_source)),
            key_hash: link.key_hash.clone(),
            remote_id: rec.remote_id.clone(),
            fields,
        }
    }

    /// A side's cursor, as a plan's commits left it if it is a plan.
    pub(super) async fn state_cursor(
        &self,
        sync: &str,
        side: Side,
    ) -> crate::store::Result<Option<String>> {
        if let Some(c) = self
            .dry
            .as_ref()
            .and_then(|d| d.state().cursors.get(&side).cloned())
        {
            return Ok(c);
        }
        self.store.cursor(sync, side).await
    }

    /// [`Store::links`], with a plan's committed links over the store's.
    pub(super) async fn state_links(
        &self,
        sync: &str,
        keys: &[String],
    ) -> crate::store::Result<Vec<Link>> {
        let mut out = self.store.links(sync, keys).await?;
        if let Some(d) = &self.dry {
            let st = d.state();
            out.retain(|l| !st.links.contains_key(&l.key_hash));
            out.extend(keys.iter().filter_map(|k| st.links.get(k).cloned()));
        }
        Ok(out)
    }

    /// [`Store::pending`], with a plan's committed links over the store's (still in key-hash
    /// order, at most `limit`).
    pub(super) async fn state_pending(
        &self,
        sync: &str,
        after: Option<&str>,
        limit: u32,
    ) -> crate::store::Result<Vec<Link>> {
        let Some(d) = &self.dry else {
            return self.store.pending(sync, after, limit).await;
        };
        let mut after = after.map(str::to_string);
        loop {
            let page = self.store.pending(sync, after.as_deref(), limit).await?;
            let full = page.len() >= limit as usize;
            let bound = if full {
                page.last().map(|l| l.key_hash.clone())
            } else {
                None
            };
            let mut out: Vec<Link> = {
                let st = d.state();
                let mut out: Vec<Link> = page
                    .into_iter()
                    .filter(|l| !st.links.contains_key(&l.key_hash))
                    .collect();
                let from = after.clone().unwrap_or_default();
                out.extend(
                    st.links
                        .range::<String, _>((
                            std::ops::Bound::Excluded(&from),
                            std::ops::Bound::Unbounded,
                        ))
                        .filter(|(k, l)| {
                            l.pending && bound.as_ref().is_none_or(|b| k.as_str() <= b.as_str())
                        })
                        .map(|(_, l)| l.clone()),
                );
                out
            };
            out.sort_by(|x, y| x.key_hash.cmp(&y.key_hash));
            out.truncate(limit as usize);
            if !out.is_empty() || !full {
                return Ok(out);
            }
            after = bound;
        }
    }

    /// [`Store::pending_count`], with a plan's committed links over the store's.
    pub(super) async fn state_pending_count(&self, sync: &str) -> crate::store::Result<i64> {
        let n = self.store.pending_count(sync).await?;
        let Some(d) = &self.dry else {
            return Ok(n);
        };
        let (keys, now_pending): (Vec<String>, i64) = {
            let st = d.state();
            (
                st.links.keys().cloned().collect(),
                st.links.values().filter(|l| l.pending).count() as i64,
            )
        };
        let were_pending = self
            .store
            .links(sync, &keys)
            .await?
            .iter()
            .filter(|l| l.pending)
            .count() as i64;
        Ok(n - were_pending + now_pending)
    }

    /// [`Store::commit`]; in a plan, kept in memory.
    pub(super) async fn state_commit(&self, sync: &str, c: Commit<'_>) -> crate::store::Result<()> {
        let Some(d) = &self.dry else {
            return self.store.commit(sync, c).await;
        };
        let mut st = d.state();
        for l in c.links {
            st.links.insert(l.key_hash.clone(), l.clone());
        }
        if let Some((side, cursor)) = c.cursor {
            st.cursors.insert(side, cursor.map(str::to_string));
        }
        st.dead.extend(c.dead_letters.iter().cloned());
        st.conflicts.extend(c.conflicts.iter().cloned());
        Ok(())
    }

    /// [`Store::finish_replay`]; in a plan, the result is kept for the plan, and the key it
    /// marks pending is marked in memory.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn state_finish_replay(
        &self,
        sync: &str,
        id: i64,
        run_id: i64,
        result: &str,
        closed: bool,
        pending_key: Option<(&str, &str)>,
    ) -> crate::store::Result<()> {
        let Some(d) = &self.dry else {
            return self
                .store
                .finish_replay(id, run_id, result, closed, pending_key)
                .await;
        };
        if let Some((_, key)) = pending_key {
            let keys = [key.to_string()];
            if let Some(mut l) = self.state_links(sync, &keys).await?.pop() {
                l.pending = true;
                d.state().links.insert(l.key_hash.clone(), l);
            }
        }
        d.state()
            .replays
            .push(format!("dead letter {id}: {result}"));
        Ok(())
    }

    /// [`Store::close_fixed_dead_letters`]; in a plan, only counted.
    pub(super) async fn state_close_fixed(
        &self,
        sync: &str,
        side: Side,
        keys: &[String],
    ) -> crate::store::Result<u64> {
        let Some(d) = &self.dry else {
            return self.store.close_fixed_dead_letters(sync, side, keys).await;
        };
        d.state().fixed += keys.len() as u64;
        Ok(keys.len() as u64)
    }
}

impl RunStats {
    fn side_ref(&self, s: Side) -> &SideStats {
        match s {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

impl Plan {
    /// The plan for people: a table per direction (words in Chinese with English beside),
    /// then each record to write with its changed fields, values masked, then the keys to park
    /// and the dead letters. `zone`: the deployment's time zone.
    pub fn text(&self, zone: chrono_tz::Tz) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}  计划 plan (dry run: nothing written)  read at {} ({zone})",
            self.sync,
            crate::local_time::for_people(&self.read_at, zone)
        );
        let width = self
            .directions
            .iter()
            .map(|d| d.from.chars().count() + d.to.chars().count() + 3)
            .max()
            .unwrap_or(9)
            .max(9);
        let _ = writeln!(
            s,
            "  {:<width$}  {:>6}  {:>8}  {:>6}  {:>6}  {:>4}  {:>9}  {:>6}  {:>12}  {:>9}",
            "direction",
            "read",
            "filtered",
            "create",
            "update",
            "end",
            "unchanged",
            "echoes",
            "dead letters",
            "conflicts"
        );
        let _ = writeln!(
            s,
            "  {:<width$}  {:>6}  {:>8}  {:>6}  {:>6}  {:>4}  {:>9}  {:>6}  {:>12}  {:>9}",
            "方向", "读取", "范围外", "新建", "更新", "结束", "未变", "回声", "死信", "冲突"
        );
        for d in &self.directions {
            let dir = format!("{} → {}", d.from, d.to);
            let pad = width.saturating_sub(dir.chars().count());
            let _ = writeln!(
                s,
                "  {dir}{}  {:>6}  {:>8}  {:>6}  {:>6}  {:>4}  {:>9}  {:>6}  {:>12}  {:>9}",
                " ".repeat(pad),
                d.read,
                d.filtered,
                d.create,
                d.update,
                d.end,
                d.unchanged,
                d.echoes,
                d.dead_letters,
                d.conflicts
            );
        }
        let _ = writeln!(
            s,
            "  冲突按规则解决 conflicts resolved by rule: {}; 搁置 parked: {}; 运行后待处理 pending after the run: {}; 死信将关闭 dead letters fixed: {}",
            self.conflicts_resolved, self.parked, self.pending_after, self.dead_letters_fixed
        );
        let _ = writeln!(s, "写入 records to write: {}", self.records.len());
        for r in &self.records {
            let _ = writeln!(
                s,
                "  {} {} ({}) key {}{}",
                r.action,
                r.system,
                r.side.as_str(),
                crate::control_chars::escape(&r.key_masked),
                r.remote_id
                    .as_deref()
                    .map(|id| format!(
                        " id {}",
                        crate::control_chars::escape(&crate::logging::mask_personal(id))
                    ))
                    .unwrap_or_default()
            );
            for f in &r.fields {
                let _ = writeln!(
                    s,
                    "    {}: {} → {}  [{}] {}",
                    f.field,
                    f.before.as_deref().unwrap_or("(empty)"),
                    f.after.as_deref().unwrap_or("(removed)"),
                    f.rule,
                    f.why
                );
            }
        }
        for (title, list) in [
            ("搁置 parked", &self.parks),
            ("死信 dead letters", &self.dead_letters),
        ] {
            let _ = writeln!(s, "{title}: {}", list.len());
            for i in list {
                let _ = writeln!(
                    s,
                    "  {} key {}: {}",
                    i.side.as_str(),
                    crate::control_chars::escape(i.key_masked.as_deref().unwrap_or("(none)")),
                    crate::control_chars::escape(&i.reason)
                );
            }
        }
        for r in &self.replays {
            let _ = writeln!(s, "重放 replay: {}", crate::control_chars::escape(r));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_changed_leaves_of_a_record_are_listed_by_pointer() {
        let before = json!({"name": "王芳", "employer": {"name": "甲", "uscc": "X1"}, "phone": "13800138000"});
        let after = json!({"name": "王芳", "employer": {"name": "乙", "uscc": "X1"}, "status": "left", "phone": null});
        let mut out = Vec::new();
        changed_leaves(Some(&before), Some(&after), "", &mut out);
        assert_eq!(
            out,
            vec![
                (
                    "/employer/name".into(),
                    Some(json!("甲")),
                    Some(json!("乙"))
                ),
                ("/phone".into(), Some(json!("13800138000")), None),
                ("/status".into(), None, Some(json!("left"))),
            ]
        );
        // A create: every leaf of the new record.
        let mut created = Vec::new();
        changed_leaves(
            None,
            Some(&json!({"a/b": 1, "c": {"d": 2}})),
            "",
            &mut created,
        );
        assert_eq!(
            created,
            vec![
                ("/a~1b".into(), None, Some(json!(1))),
                ("/c/d".into(), None, Some(json!(2))),
            ]
        );
    }

    #[test]
    fn values_are_masked_as_logs_mask_them() {
        assert_eq!(shown("phone", &json!("13912345678")), "\"139****5678\"");
        assert_eq!(
            shown("idNumber", &json!("522325199001010998")),
            "\"5223**********0998\""
        );
        assert_eq!(shown("name", &json!("王芳芳")), "\"王**\"");
        assert_eq!(shown("status", &json!("left")), "\"left\"");
    }
}
