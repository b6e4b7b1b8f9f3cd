//! Reconcile's **settle** step: each write result recorded on its link (ids, versions, the
//! record as the system stores it, conflicts, dead letters), and the keys nothing left pending
//! settled at the merged record.

use super::*;

impl Engine {
    /// Records one write result on link `i` (see [`Engine::write_side`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_result(
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
                    DeadLetterStage::Write,
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
    pub(super) fn settle(
        &self,
        links: &mut [Link],
        plan: &BatchPlan,
        r: &mut Reconciling,
    ) -> Vec<String> {
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

    /// Links the record a create collided with (a `duplicate` answer) on side `t`: its id and
    /// version, and, when the system returned it (`stored`, checked against the schema by
    /// [`stored_checked`](super::write::stored_checked)), its content as the side's record, as if just read. Without its
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
    /// it now holds it (`stored`, as [`stored_checked`](super::write::stored_checked) parsed it, or what was sent; for
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
