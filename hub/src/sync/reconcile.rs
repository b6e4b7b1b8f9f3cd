//! Phase 2 of a run, reconcile: each pending key merged ([`super::merge_fields`]) and written
//! to the sides it flows to, a batch at a time.
//!
//! A batch of links goes through three steps: **plan** (each pending key's [`KeyPlan`]: the
//! merged record, the sides to write, or why nothing is written: parked, invalid, blocked),
//! **write** (the write intents commit first, then one `write` call per target side), and
//! **settle** (each result recorded on its link, the settled keys' records become the base;
//! links, dead letters, conflicts and audit entries commit together).
//!
//! Batches come from two places: the links a read batch just staged, reconciled at once when
//! nothing read later in the run can change them (the last side a run reads; every batch of a
//! one-way sync), and, after the reads, the keys still pending (in key order). A key a read
//! batch reconciled and left pending (a retry, a conflict, parked) is not tried again by the
//! same run. This module may call the store and the connectors; it does not read records.

use super::*;

/// Whether a system holds `current` exactly as it would store `stored` (a record in that
/// system's normal form, [`Engine::normal_forms`]): equal once members holding null are left out
/// on both, so a record differing from `current` only in its coding is not a difference.
pub(super) fn same_under_coding(stored: &Value, current: &Value) -> bool {
    strip_nulls(stored) == strip_nulls(current)
}

/// What reconciling one pending key decided, before anything is written: the plan of one key
/// ([`Engine::plan_key`]).
enum KeyPlan {
    /// Neither side holds a record: nothing to merge.
    Nothing,
    /// Both sides changed a `park` field: the key waits for a person (`why`, and the conflict
    /// to open).
    Parked { why: String, conflict: NewConflict },
    /// The merged record breaks the schema: a dead letter, nothing written.
    Invalid(NewDeadLetter),
    /// The merged record, and a side's own end form when it differs (the side that ended keeps
    /// its own delete form). Which sides it is written to is decided after the connectors'
    /// normal forms ([`Engine::targets`]).
    Merged {
        record: Value,
        own: Option<(Side, Value)>,
        /// The side told of the other's end natively (`deletes.native`).
        end: Option<Side>,
    },
}

/// One merged key of a batch on its way to its targets: the link's records in the clear, the
/// merged record, and a side's own end form.
struct MergedKey {
    o: Opened,
    m: Value,
    own: Option<(Side, Value)>,
    /// The side told of the other's end natively: it is sent a delete, not `m`.
    end: Option<Side>,
}

impl MergedKey {
    /// The record for side `t`: its own end form, or the merged record.
    fn record_for(&self, t: Side) -> &Value {
        match &self.own {
            Some((s, o)) if *s == t => o,
            _ => &self.m,
        }
    }
}

/// What a run's reconcile steps share: conflicts a person decided (a side taken whole, or
/// fields chosen one by one, by key hash), the sides whose read failed in this run (never written), the keys tried and left
/// pending by this run, and how many were deferred to the next run (with one reason).
#[derive(Default)]
pub(super) struct Reconciling {
    pub(super) decisions: HashMap<String, crate::store::Decided>,
    pub(super) unread: Vec<Side>,
    pub(super) attempted: std::collections::HashSet<String>,
    pub(super) deferred: Option<(u64, String)>,
    /// A connector's `write` call failed in a batch reconciled with its read: the run's
    /// writes stop there (as they do in the pass over pending keys).
    pub(super) write_failed: bool,
}

/// What a read batch commits with its links when they are reconciled at once: its dead
/// letters, the side's new cursor and the audit entries of writes recognised by the read. They
/// go with the first commit of the batch (the intents', or the results' when nothing is
/// written), so the cursor never moves without the links.
#[derive(Default)]
pub(super) struct StagedExtra {
    pub(super) dead_letters: Vec<NewDeadLetter>,
    pub(super) cursor: Option<(Side, Option<String>)>,
    pub(super) audit: Vec<NewAuditEntry>,
}

/// The plan of one batch of links, by link index.
#[derive(Default)]
struct BatchPlan {
    /// The merged record of each planned key that has one.
    merged: Vec<Option<Value>>,
    /// The record for a side that ended, when it differs from `merged` (its own end form).
    own: Vec<Option<(Side, Value)>>,
    /// The key was planned (pending when the batch began).
    planned: Vec<bool>,
    /// The key stays pending after the batch.
    unsettled: Vec<bool>,
    /// The key waits for a person (parked): unsettled, but not deferred.
    waiting: Vec<bool>,
    /// Per target side: (link index, record to write).
    writes: HashMap<Side, Vec<(usize, TargetRecord)>>,
    dead: Vec<NewDeadLetter>,
    conflicts: Vec<NewConflict>,
    audit: Vec<NewAuditEntry>,
    /// The person whose decision a key's writes carry out (name, audit detail), by link index.
    actors: HashMap<usize, (String, String)>,
}

impl Engine {
    /// The pass over pending keys after the reads: merges and writes every pending key not yet
    /// tried by this run, in key order, a batch at a time.
    pub(super) async fn reconcile(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        sessions: &mut HashMap<Side, Connection>,
        stats: &mut RunStats,
        r: &mut Reconciling,
        tracker: &mut Tracker,
    ) -> Result<(), RunError> {
        let pending = self.state_pending_count(&spec.name).await?;
        tracker.phase("write", Some(pending as u64));
        let mut after: Option<String> = None;
        loop {
            let mut links = self
                .state_pending(&spec.name, after.as_deref(), spec.batch_size)
                .await?;
            let Some(last) = links.last() else {
                return Ok(());
            };
            after = Some(last.key_hash.clone());
            tracker.add(links.len() as u64, None);
            links.retain(|l| !r.attempted.contains(&l.key_hash));
            for link in &mut links {
                self.unseal(&spec.name, link)?;
            }
            if links.is_empty() {
                continue;
            }
            self.reconcile_links(
                spec,
                run_id,
                sessions,
                stats,
                r,
                links,
                StagedExtra::default(),
            )
            .await?;
        }
    }

    /// Reconciles one batch of links, in the clear: plans the pending ones, commits the write
    /// intents (with `extra`), writes, and commits the results (with `extra` if nothing was
    /// written). Links not pending are committed as they are. Errors: a store failure, or a
    /// connector's failed `write` call (after the batch's results are committed).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn reconcile_links(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        sessions: &mut HashMap<Side, Connection>,
        stats: &mut RunStats,
        r: &mut Reconciling,
        mut links: Vec<Link>,
        mut extra: StagedExtra,
    ) -> Result<(), RunError> {
        let mut plan = self
            .plan_batch(spec, run_id, &mut links, stats, r, sessions)
            .await?;
        if !plan.writes.is_empty() {
            // The intents reach the store before any write does.
            let counts = serde_json::to_value(&*stats).unwrap_or_default();
            let extra = std::mem::take(&mut extra);
            self.state_commit(
                &spec.name,
                Commit {
                    links: &link_seal::sealed_all(&self.keys, &spec.name, &links),
                    dead_letters: &extra.dead_letters,
                    cursor: extra.cursor.as_ref().map(|(s, c)| (*s, c.as_deref())),
                    audit: &extra.audit,
                    run_stats: Some((run_id, &counts)),
                    ..Commit::default()
                },
            )
            .await?;
        }
        let mut abort = None;
        for &t in spec.write_sides() {
            let Some(batch) = plan.writes.remove(&t) else {
                continue;
            };
            let Some(session) = sessions.get_mut(&t) else {
                continue;
            };
            // A stream that takes fewer records a call (`max-write-batch`, contract 0.2) gets
            // the batch in several calls; a failed call leaves only its own records pending.
            let ep = spec.endpoint(t);
            let most = ep
                .plugin
                .stream(&ep.stream)
                .map_or(0, |s| s.max_write_batch as usize);
            let mut batch = batch;
            while !batch.is_empty() {
                let rest = if most > 0 && batch.len() > most {
                    batch.split_off(most)
                } else {
                    Vec::new()
                };
                if let Some(e) = self
                    .write_side(
                        spec, run_id, t, session, batch, &mut links, &mut plan, stats,
                    )
                    .await?
                {
                    abort = Some(e);
                }
                batch = rest;
            }
        }
        let settled = self.settle(&mut links, &plan, r);
        // The write results, their links, their audit entries and the run's counts so far
        // commit together.
        let counts = serde_json::to_value(&*stats).unwrap_or_default();
        let mut dead = extra.dead_letters;
        dead.append(&mut plan.dead);
        let mut audit = extra.audit;
        audit.append(&mut plan.audit);
        self.state_commit(
            &spec.name,
            Commit {
                links: &link_seal::sealed_all(&self.keys, &spec.name, &links),
                dead_letters: &dead,
                cursor: extra.cursor.as_ref().map(|(s, c)| (*s, c.as_deref())),
                audit: &audit,
                conflicts: &plan.conflicts,
                settled: &settled,
                run_stats: Some((run_id, &counts)),
            },
        )
        .await?;
        match abort {
            Some(e) => {
                r.write_failed = true;
                Err(e.into())
            }
            None => Ok(()),
        }
    }

    /// Plans each pending link of a batch ([`Engine::plan_key`]), decides with the connectors'
    /// normal forms which sides each merged record goes to ([`Engine::targets`]), and sets the
    /// write intents of the records to write.
    ///
    /// The normal forms (contract 0.2, or 0.1.2's optional export; a connector that does not give one stores what it is
    /// sent) of the sides the sync writes are asked for at most three times per side and batch: the other side's records
    /// as this side would store them, for keys that never settled (the first meeting,
    /// [`merge_fields`]); the merged records as each side would store them, whose values a
    /// side fills in for a field it wins are the owner's and go to the other side too
    /// ([`fill_empty`]); and once more for the records that filling changed.
    async fn plan_batch(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        links: &mut [Link],
        stats: &mut RunStats,
        r: &Reconciling,
        sessions: &mut HashMap<Side, Connection>,
    ) -> Result<BatchPlan, RunError> {
        let n = links.len();
        let mut p = BatchPlan {
            merged: vec![None; n],
            own: vec![None; n],
            planned: vec![false; n],
            unsettled: vec![false; n],
            waiting: vec![false; n],
            ..BatchPlan::default()
        };
        let mut opened: Vec<Option<Opened>> = Vec::with_capacity(n);
        for link in links.iter() {
            opened.push(if link.pending {
                Some(self.open_link(link)?)
            } else {
                None
            });
        }
        // First meetings: each side's current record as the other side would store it.
        let meeting: Vec<usize> = (0..n)
            .filter(|&i| {
                opened[i].as_ref().is_some_and(|o| {
                    o.base.is_none()
                        && o.current.iter().all(Option::is_some)
                        && !matches!(
                            r.decisions.get(&links[i].key_hash).map(|d| &d.decision),
                            Some(Decision::Take(_))
                        )
                })
            })
            .collect();
        let mut as_stored: HashMap<usize, [Option<Value>; 2]> = HashMap::new();
        for &side in spec.write_sides() {
            let si = if side == Side::A { 0 } else { 1 };
            let records: Vec<&Value> = meeting
                .iter()
                .filter_map(|&i| opened[i].as_ref()?.current[1 - si].as_ref())
                .collect();
            if let Some(forms) = self
                .normal_forms(spec, side, sessions.get_mut(&side), &records)
                .await
            {
                for (&i, f) in meeting.iter().zip(forms) {
                    as_stored.entry(i).or_default()[si] = Some(f);
                }
            }
        }
        let mut merged: Vec<Option<MergedKey>> = Vec::with_capacity(n);
        for (i, link) in links.iter_mut().enumerate() {
            let Some(o) = opened[i].take() else {
                merged.push(None);
                continue;
            };
            p.planned[i] = true;
            let decided = r.decisions.get(&link.key_hash);
            if let Some(d) = decided
                && let Some(by) = &d.by
            {
                // The writes that carry out a person's decision name that person.
                let detail = serde_json::json!({ "conflict": d.conflict_id });
                p.actors.insert(i, (by.clone(), detail.to_string()));
            }
            let stored = as_stored.get(&i);
            let plan = self.plan_key(
                spec,
                run_id,
                link,
                &o,
                decided.map(|d| &d.decision),
                stored,
                stats,
            );
            merged.push(match plan {
                KeyPlan::Nothing => None,
                KeyPlan::Parked { why, conflict } => {
                    p.conflicts.push(conflict);
                    p.unsettled[i] = true;
                    p.waiting[i] = true;
                    link.last_error = Some(why);
                    None
                }
                KeyPlan::Invalid(d) => {
                    p.dead.push(d);
                    None
                }
                KeyPlan::Merged { record, own, end } => Some(MergedKey {
                    o,
                    m: record,
                    own,
                    end,
                }),
            });
        }
        let normal = self.fill_owned(spec, sessions, &mut merged).await;
        for (i, link) in links.iter_mut().enumerate() {
            let Some(k) = merged[i].take() else {
                continue;
            };
            let (targets, blocked) = self.targets(spec, link, &k, &normal[i], &r.unread);
            if let Some(why) = blocked.into_iter().last() {
                p.unsettled[i] = true;
                link.last_error = Some(why);
            }
            for &t in &targets {
                let ti = if t == Side::A { 0 } else { 1 };
                let delete = k.end == Some(t);
                // A native delete carries the record as last seen there.
                let rec = match (&k.o.current[ti], delete) {
                    (Some(current), true) => current,
                    _ => k.record_for(t),
                };
                let other = (targets.len() == 1)
                    .then(|| k.o.current[1 - ti].clone())
                    .flatten();
                let intent = Intent {
                    record: rec.clone(),
                    other,
                    delete,
                };
                link.side_mut(t).intent = Some(plain(&intent.to_value()));
                let ts = link.side(t);
                p.writes.entry(t).or_default().push((
                    i,
                    TargetRecord {
                        op: if delete {
                            WriteOp::Delete
                        } else {
                            WriteOp::Upsert
                        },
                        data: rec.to_string(),
                        remote_id: ts.remote_id.clone(),
                        version: ts.version.clone(),
                        current: k.o.current[ti].as_ref().map(Value::to_string),
                    },
                ));
            }
            p.merged[i] = Some(k.m);
            p.own[i] = k.own;
        }
        Ok(p)
    }

    /// The merged records of a batch as each side would store them (`[a, b]` per key; `None`
    /// where the connector does not say), after the values a side fills in for a field it wins
    /// (an `a_wins`/`b_wins` rule, or the default policy's unlisted members) were put into the
    /// merged record: a code the owner looks up from a name is the owner's value, and reaches
    /// the other side in normal operation as it would after a lost state store. A merged record
    /// that filling would make break the schema is left as it was.
    async fn fill_owned(
        &self,
        spec: &SyncSpec,
        sessions: &mut HashMap<Side, Connection>,
        merged: &mut [Option<MergedKey>],
    ) -> Vec<[Option<Value>; 2]> {
        let mut normal: Vec<[Option<Value>; 2]> = vec![[None, None]; merged.len()];
        let mut round: Vec<usize> = (0..merged.len()).filter(|&i| merged[i].is_some()).collect();
        for pass in 0..2 {
            if round.is_empty() {
                break;
            }
            for &side in spec.write_sides() {
                let si = if side == Side::A { 0 } else { 1 };
                let records: Vec<&Value> = round
                    .iter()
                    .filter_map(|&i| merged[i].as_ref().map(|k| k.record_for(side)))
                    .collect();
                let forms = self
                    .normal_forms(spec, side, sessions.get_mut(&side), &records)
                    .await;
                for (j, &i) in round.iter().enumerate() {
                    normal[i][si] = forms.as_ref().map(|f| f[j].clone());
                }
            }
            if pass == 1 {
                break;
            }
            let mut changed = Vec::new();
            for &i in &round {
                let Some(k) = merged[i].as_mut() else {
                    continue;
                };
                if normal[i].iter().all(Option::is_none) {
                    continue;
                }
                let mut m = k.m.clone();
                for (si, side) in [Side::A, Side::B].into_iter().enumerate() {
                    if let Some(n) = &normal[i][si] {
                        for ptr in owned_fields(spec, side, n) {
                            let filled = fill_empty(m.pointer(&ptr), n.pointer(&ptr));
                            set_pointer(&mut m, &ptr, filled);
                        }
                    }
                }
                if m != k.m && spec.schema.validate(&m).is_empty() {
                    // A side that ended keeps its own end form over the filled record.
                    if let Some((s, own)) = &mut k.own {
                        let mut o = m.clone();
                        for (ptr, v) in &spec.deletes[if *s == Side::A { 0 } else { 1 }] {
                            set_pointer(&mut o, ptr, Some(v.clone()));
                        }
                        *own = o;
                    }
                    k.m = m;
                    changed.push(i);
                }
            }
            round = changed;
        }
        normal
    }

    /// The sides merged key `k` is written to, and why a side that should be written is not
    /// (its read failed in this run, `unread`). A side is not written when it is deleted, when
    /// its current record is already the one to write, or when its connector says it would
    /// store the record exactly as it holds it now (`normal`, `[a, b]`: equality under the
    /// side's own coding is not a difference).
    fn targets(
        &self,
        spec: &SyncSpec,
        link: &Link,
        k: &MergedKey,
        normal: &[Option<Value>; 2],
        unread: &[Side],
    ) -> (Vec<Side>, Vec<String>) {
        let mut targets: Vec<Side> = Vec::new();
        let mut blocked: Vec<String> = Vec::new();
        for &t in spec.write_sides() {
            let rec = k.record_for(t);
            let ti = if t == Side::A { 0 } else { 1 };
            let ts = link.side(t);
            if k.end == Some(t) {
                // Told of the other side's end natively: a record it never held, or one already
                // gone, needs no delete.
                if ts.deleted || ts.remote_id.is_none() {
                    continue;
                }
                if unread.contains(&t) {
                    blocked.push(format!(
                        "not deleted on {}: reading it failed in this run",
                        t.as_str()
                    ));
                    continue;
                }
                targets.push(t);
                continue;
            }
            let same_under_coding = match (&normal[ti], &k.o.current[ti]) {
                (Some(n), Some(cur)) => same_under_coding(n, cur),
                _ => false,
            };
            if ts.remote_id.is_some() && ts.hash.is_none() && !ts.deleted {
                // Linked to a record the system already held (a `duplicate` answer without
                // its content): never overwritten before it is read.
                blocked.push(format!(
                    "not written to {}: it holds a record of this key (id {}) the hub has not read yet",
                    t.as_str(),
                    ts.remote_id.as_deref().unwrap_or_default()
                ));
                continue;
            }
            if ts.deleted
                || same_under_coding
                || ts
                    .hash
                    .as_deref()
                    .is_some_and(|h| h == self.keys.content_hash(rec))
            {
                continue;
            }
            if unread.contains(&t) {
                blocked.push(format!(
                    "not written to {}: reading it failed in this run",
                    t.as_str()
                ));
                continue;
            }
            targets.push(t);
        }
        (targets, blocked)
    }

    /// Writes a batch's records to side `t` in one `write` call and records each result on its
    /// link and in `plan` (audit entries, dead letters, conflicts, keys left pending). Returns
    /// the call's error when the call itself failed (every record of it left pending).
    #[allow(clippy::too_many_arguments)]
    async fn write_side(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        t: Side,
        session: &mut Connection,
        batch: Vec<(usize, TargetRecord)>,
        links: &mut [Link],
        plan: &mut BatchPlan,
        stats: &mut RunStats,
    ) -> Result<Option<PluginError>, RunError> {
        let records: Vec<TargetRecord> = batch.iter().map(|(_, r)| r.clone()).collect();
        let system = &spec.endpoint(t).plugin.name;
        let audited =
            |link: &Link, rec: &TargetRecord, result: WriteOutcome, remote_id: Option<String>| {
                NewAuditEntry {
                    run_id,
                    system: system.clone(),
                    side: t,
                    key_hash: link.key_hash.clone(),
                    action: if rec.op == WriteOp::Delete {
                        WriteAction::Delete
                    } else if rec.remote_id.is_some() {
                        WriteAction::Update
                    } else {
                        WriteAction::Create
                    },
                    result,
                    remote_id: remote_id.or_else(|| rec.remote_id.clone()),
                    actor: None,
                    detail: None,
                }
            };
        let by_person = |plan: &BatchPlan, i: usize, mut e: NewAuditEntry| {
            if let Some((actor, detail)) = plan.actors.get(&i) {
                e.actor = Some(actor.clone());
                e.detail = Some(detail.clone());
            }
            e
        };
        let batch_span = tracing::debug_span!("batch", side = t.as_str(), records = records.len());
        self.crash_point(CrashPoint::BeforeWrite(t))?;
        // A plan sends nothing: each write is taken as the system accepting it
        // ([`Engine::dry_writes`]), and explained.
        let taken = self.dry_writes(spec, t, &batch, links, session).await;
        let sent = match taken {
            Some(taken) => Ok(taken),
            None => {
                // A process paused past its lease learns here that another took over, before
                // it writes to the system (its store writes would be refused anyway).
                self.store.confirm_lease(self.lease_ttl).await?;
                session
                    .write(&spec.endpoint(t).stream, &records)
                    .instrument(batch_span)
                    .await
            }
        };
        let results = match sent {
            Ok(r) => {
                self.crash_point(CrashPoint::AfterWrite(t))?;
                r
            }
            Err(e) => {
                for (i, rec) in &batch {
                    let entry = by_person(
                        plan,
                        *i,
                        audited(&links[*i], rec, WriteOutcome::Failed, None),
                    );
                    plan.audit.push(entry);
                    plan.unsettled[*i] = true;
                    links[*i].attempts += 1;
                    links[*i].last_error = Some(e.to_string());
                }
                return Ok(Some(e));
            }
        };
        for ((i, rec), result) in batch.into_iter().zip(results) {
            let (result, stored) = stored_checked(spec, t, result);
            let outcome = match &result {
                WriteResult::Created(_) => WriteOutcome::Created,
                WriteResult::Updated(_) => WriteOutcome::Updated,
                WriteResult::Unchanged(_) => WriteOutcome::Unchanged,
                WriteResult::Deleted(_) => WriteOutcome::Deleted,
                WriteResult::Duplicate(_) => WriteOutcome::Duplicate,
                WriteResult::Conflict(_) => WriteOutcome::Conflict,
                WriteResult::Retry(_) => WriteOutcome::Retry,
                WriteResult::Rejected(_) => WriteOutcome::Rejected,
            };
            let written_id = match &result {
                WriteResult::Created(w)
                | WriteResult::Updated(w)
                | WriteResult::Unchanged(w)
                | WriteResult::Deleted(w) => Some(w.remote_id.clone()).filter(|r| !r.is_empty()),
                WriteResult::Duplicate(e) => Some(e.remote_id.clone()).filter(|r| !r.is_empty()),
                _ => None,
            };
            let e = by_person(plan, i, audited(&links[i], &rec, outcome, written_id));
            plan.audit.push(e);
            self.record_result(spec, run_id, t, i, &rec, result, stored, links, plan, stats);
        }
        Ok(None)
    }

    /// Records one write result on link `i` (see [`Engine::write_side`]).
    #[allow(clippy::too_many_arguments)]
    fn record_result(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        t: Side,
        i: usize,
        rec: &TargetRecord,
        result: WriteResult,
        stored: Option<Value>,
        links: &mut [Link],
        plan: &mut BatchPlan,
        stats: &mut RunStats,
    ) {
        let link = &mut links[i];
        let m = match &plan.own[i] {
            Some((s, o)) if *s == t => o,
            _ => plan.merged[i]
                .as_ref()
                .expect("only merged records are written"),
        };
        let s = stats.side(t);
        let failed = |link: &mut Link, what: &str, msg: &str| {
            link.side_mut(t).intent = None;
            link.attempts += 1;
            link.last_error = Some(format!("{what} on {}: {msg}", t.as_str()));
        };
        match result {
            WriteResult::Created(w) => {
                s.created += 1;
                self.apply_written(link, t, w, stored, m, true);
            }
            WriteResult::Updated(w) => {
                s.updated += 1;
                self.apply_written(link, t, w, stored, m, true);
            }
            WriteResult::Unchanged(w) => {
                s.unchanged_writes += 1;
                self.apply_written(link, t, w, stored, m, false);
            }
            WriteResult::Deleted(w) => {
                s.ended += 1;
                let ss = link.side_mut(t);
                ss.intent = None;
                ss.deleted = true;
                if !w.remote_id.is_empty() {
                    ss.remote_id = Some(w.remote_id);
                }
                if w.version.is_some() {
                    ss.version = w.version;
                }
            }
            WriteResult::Duplicate(e) => {
                s.linked += 1;
                self.link_existing(link, t, e, stored);
                if link.side(t).hash.as_deref() != Some(self.keys.content_hash(m).as_str()) {
                    // Linked, but holding other values than the merged record: the key is
                    // merged again with that record as the side's, and written by id.
                    plan.unsettled[i] = true;
                    link.pending = true;
                    link.last_error = Some(format!(
                        "{} already held a record of this key: linked to it; merged with it and written by id on the next run",
                        t.as_str()
                    ));
                }
            }
            WriteResult::Conflict(msg) => {
                s.conflicts += 1;
                plan.unsettled[i] = true;
                failed(link, "conflict", &msg);
                let key_values = key_of(&spec.key, m);
                plan.conflicts.push(NewConflict {
                    run_id,
                    kind: ConflictKind::Write,
                    key_hash: link.key_hash.clone(),
                    key_masked: Some(mask_key(&key_values)),
                    side: t,
                    reason: crate::logging::mask_personal(&msg).into_owned(),
                });
            }
            WriteResult::Retry(msg) => {
                s.retries += 1;
                plan.unsettled[i] = true;
                failed(link, "retry", &msg);
            }
            WriteResult::Rejected(rej) => {
                s.rejected += 1;
                link.side_mut(t).intent = None;
                let key_values = key_of(&spec.key, m);
                let v = vec![Violation {
                    pointer: rej.pointer.unwrap_or_default(),
                    message: rej.reason,
                }];
                let d = self.dead_letter(
                    spec,
                    run_id,
                    t,
                    "write",
                    Some(mask_key(&key_values)),
                    rec.remote_id.clone(),
                    Some(m),
                    v,
                );
                plan.dead.push(d);
            }
        }
    }

    /// After a batch's writes: each planned key that nothing left pending settles (the merged
    /// record is the new common ancestor, and each side's current record is what later changes
    /// are measured against); the others count as deferred (unless parked) and are not tried
    /// again by this run. Returns the settled keys.
    fn settle(&self, links: &mut [Link], plan: &BatchPlan, r: &mut Reconciling) -> Vec<String> {
        let mut settled = Vec::new();
        for (i, link) in links.iter_mut().enumerate() {
            if !plan.planned[i] {
                continue;
            }
            if plan.unsettled[i] {
                r.attempted.insert(link.key_hash.clone());
                if plan.waiting[i] {
                    continue;
                }
                let why = link.last_error.clone().unwrap_or_default();
                let d = r.deferred.get_or_insert((0, why));
                d.0 += 1;
                continue;
            }
            if let Some(m) = &plan.merged[i] {
                link.base = Some(plain(m));
            }
            for side in [Side::A, Side::B] {
                let ss = link.side_mut(side);
                ss.settled_hash = ss.hash.clone();
                ss.settled = None;
                ss.settled_deleted = ss.deleted;
            }
            link.pending = false;
            link.attempts = 0;
            link.last_error = None;
            settled.push(link.key_hash.clone());
        }
        settled
    }

    /// Plans one pending key ([`KeyPlan`]): merges its sides' records (or takes what a person
    /// decided: a side's record whole, or each chosen field from its side over the merge), applies an end one side newly shows, and checks the merged record
    /// against the schema. `as_stored`: at a first meeting, each side's connector's normal form
    /// of the other side's record (`[b as a stores it, a as b stores it]`). Counts parked keys,
    /// resolved conflicts and refused merges in `stats`.
    #[allow(clippy::too_many_arguments)]
    fn plan_key(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        link: &Link,
        o: &Opened,
        decided: Option<&Decision>,
        as_stored: Option<&[Option<Value>; 2]>,
        stats: &mut RunStats,
    ) -> KeyPlan {
        let a = SideInput {
            current: o.current[0].as_ref(),
            settled: o.settled[0].as_ref(),
            updated_at: link.a.updated_at.as_deref(),
            other_as_stored: as_stored.and_then(|s| s[0].as_ref()),
        };
        let b = SideInput {
            current: o.current[1].as_ref(),
            settled: o.settled[1].as_ref(),
            updated_at: link.b.updated_at.as_deref(),
            other_as_stored: as_stored.and_then(|s| s[1].as_ref()),
        };
        // A side taken whole, at a key that never settled (or whose other side is gone), is
        // that side's record. At a settled key it is that side's value of each field a side
        // changed since they last agreed (`FieldState::differs`), the other fields following
        // the sync's rules: a field the taken side's system does not hold (HY-ESMS's /remark
        // for ZF-REG) keeps the other side's value instead of being removed.
        let (taken, take_fields) = match decided {
            Some(Decision::Take(s)) => {
                let i = if *s == Side::A { 0 } else { 1 };
                if o.base.is_none() || o.current.iter().any(Option::is_none) {
                    (o.current[i].clone(), None)
                } else {
                    let fields: std::collections::BTreeMap<String, Side> =
                        super::decide::field_states(spec, link, o)
                            .into_iter()
                            .filter(super::decide::FieldState::differs)
                            .map(|f| (f.pointer, *s))
                            .collect();
                    (None, Some(fields))
                }
            }
            _ => (None, None),
        };
        let chosen = match decided {
            Some(Decision::Fields(f)) => Some(f),
            _ => take_fields.as_ref(),
        };
        let m = match taken {
            Some(t) => Some(t),
            None => match merge_fields(
                a,
                b,
                o.base.as_ref(),
                &spec.rules,
                spec.default_policy,
                spec.newest,
            )
            .map(|mut mf| {
                // A person's choice field by field: each chosen field's value is the chosen
                // side's (absent there: absent), whatever the rules decided; a parked field
                // chosen is parked no more.
                if let Some(f) = chosen {
                    for (ptr, side) in f {
                        let i = if *side == Side::A { 0 } else { 1 };
                        let v = o.current[i]
                            .as_ref()
                            .and_then(|c| c.pointer(ptr))
                            .filter(|v| !v.is_null())
                            .cloned();
                        set_pointer(&mut mf.record, ptr, v);
                    }
                    mf.conflicts.retain(|(p, _)| !f.contains_key(p));
                    mf.record = strip_nulls(&mf.record);
                }
                mf
            }) {
                Some(mf) if mf.parked() => {
                    let fields: Vec<&str> = mf
                        .conflicts
                        .iter()
                        .filter(|(_, p)| *p == FieldPolicy::Park)
                        .map(|(f, _)| f.as_str())
                        .collect();
                    let why = format!(
                        "parked: both sides changed {} (policy park); waiting for `hub conflicts resolve`",
                        fields.join(", ")
                    );
                    stats.parked += 1;
                    let key_values = key_of(&spec.key, &mf.record);
                    return KeyPlan::Parked {
                        conflict: NewConflict {
                            run_id,
                            kind: ConflictKind::Park,
                            key_hash: link.key_hash.clone(),
                            key_masked: Some(mask_key(&key_values)),
                            side: Side::A,
                            reason: why.clone(),
                        },
                        why,
                    };
                }
                Some(mf) => {
                    if !mf.conflicts.is_empty() {
                        stats.conflicts_resolved += 1;
                    }
                    Some(mf.record)
                }
                None => None,
            },
        };
        let Some(mut m) = m else {
            return KeyPlan::Nothing;
        };
        // A side that newly shows an end (its connector's delete, or its delete form)
        // gives the other side that side's own delete form, whatever the policies say,
        // and keeps its own. At a first meeting, an end form the other side's record also
        // shows as this side would store it is no news (HY-ESMS's `left` for a resident the
        // registry has lost contact with).
        let ended = |i: usize, side: Side| {
            let form = &spec.deletes[i];
            let s = link.side(side);
            let agreed = as_stored.is_some_and(|st| shows_end(st[i].as_ref(), form));
            (s.deleted && !s.settled_deleted)
                || (!s.deleted
                    && shows_end(o.current[i].as_ref(), form)
                    && !shows_end(o.settled[i].as_ref(), form)
                    && !agreed)
        };
        let (a_ended, b_ended) = (ended(0, Side::A), ended(1, Side::B));
        let tell = match (a_ended, b_ended) {
            (true, false) => Some(1),
            (false, true) => Some(0),
            _ => None,
        };
        let mut own = None;
        let mut end = None;
        if let Some(other) = tell.filter(|&o| spec.native_deletes[o]) {
            // Told natively: the side is sent a delete; the side that ended keeps its form.
            let ended = 1 - other;
            if !spec.deletes[ended].is_empty() {
                for (ptr, v) in &spec.deletes[ended] {
                    set_pointer(&mut m, ptr, Some(v.clone()));
                }
            }
            end = Some(if other == 0 { Side::A } else { Side::B });
        } else if let Some(other) = tell {
            let ended = 1 - other;
            if !spec.deletes[ended].is_empty() {
                let mut o = m.clone();
                for (ptr, v) in &spec.deletes[ended] {
                    set_pointer(&mut o, ptr, Some(v.clone()));
                }
                own = Some((if ended == 0 { Side::A } else { Side::B }, o));
            }
            for (ptr, v) in &spec.deletes[other] {
                set_pointer(&mut m, ptr, Some(v.clone()));
            }
        }
        let violations = spec.schema.validate(&m);
        if !violations.is_empty() {
            let side = spec.write_sides()[0];
            let key_values = key_of(&spec.key, &m);
            stats.side(side).rejected += 1;
            return KeyPlan::Invalid(self.dead_letter(
                spec,
                run_id,
                side,
                "write",
                Some(mask_key(&key_values)),
                None,
                Some(&m),
                violations,
            ));
        }
        KeyPlan::Merged {
            record: m,
            own,
            end,
        }
    }

    /// Links the record a create collided with (a `duplicate` answer) on side `t`: its id and
    /// version, and, when the system returned it (`stored`, checked against the schema by
    /// [`stored_checked`]), its content as the side's record, as if just read. Without its
    /// content the side's record stays unknown: the key waits for a read of it
    /// ([`Engine::targets`] writes nothing there meanwhile), so that values the system held are
    /// never overwritten unseen.
    fn link_existing(
        &self,
        link: &mut Link,
        t: Side,
        e: crate::runtime::Existing,
        stored: Option<Value>,
    ) {
        let ss = link.side_mut(t);
        ss.intent = None;
        ss.remote_id = Some(e.remote_id).filter(|r| !r.is_empty());
        ss.version = e.version;
        ss.written_hash = None;
        if let Some(stored) = stored {
            ss.hash = Some(self.keys.content_hash(&stored));
            ss.snapshot = Some(plain(&stored));
            ss.updated_at = None;
        }
    }

    /// Records a successful write on side `t`: the system's id and version, and the record as
    /// it now holds it (`stored`, as [`stored_checked`] parsed it, or what was sent; for
    /// `unchanged` without `stored`, the snapshot already held), which is also the side's
    /// settled record. Its hash marks the coming read-back as an echo when the hub actually
    /// wrote (`wrote`).
    fn apply_written(
        &self,
        link: &mut Link,
        t: Side,
        w: crate::runtime::Written,
        stored: Option<Value>,
        sent: &Value,
        wrote: bool,
    ) {
        let ss = link.side_mut(t);
        // `unchanged` of a record the hub had not seen: the system holds what was sent.
        let stored = stored.or_else(|| (wrote || ss.hash.is_none()).then(|| sent.clone()));
        ss.intent = None;
        if !w.remote_id.is_empty() {
            ss.remote_id = Some(w.remote_id);
        }
        if w.version.is_some() || wrote {
            ss.version = w.version;
        }
        if let Some(stored) = stored {
            let h = self.keys.content_hash(&stored);
            ss.snapshot = Some(plain(&stored));
            ss.hash = Some(h.clone());
            if wrote {
                ss.written_hash = Some(h);
                // The system's own time of the write when its version token is one (HY-ESMS's
                // `updatedAt`); otherwise unknown until read back, never the hub's clock, which
                // would make the read-back look stale.
                ss.updated_at = ss.version.clone().filter(|v| parse_time(v).is_some());
            }
        }
    }
}
