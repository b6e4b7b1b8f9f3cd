//! Reconcile's **plan** step for a batch of links: each pending key planned
//! ([`Engine::plan_key`]), the merged records filled with the values their owners' systems
//! fill in, the sides each record goes to ([`Engine::targets`]), and the write intents set.

use super::*;

impl Engine {
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
    pub(super) async fn plan_batch(
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
}
