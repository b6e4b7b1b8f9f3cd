//! Phase 1 of a run, stage: reading a side batch by batch from its cursor, and each record
//! filtered, validated, keyed and staged into its link (unchanged, an echo, or a change that
//! makes the key pending); a batch's links, dead letters and cursor commit together.

use super::*;

/// A record read and validated, ready to stage.
pub(super) struct Staged {
    pub(super) key_hash: String,
    pub(super) hash: String,
    pub(super) data: Value,
    pub(super) remote_id: String,
    pub(super) version: Option<String>,
    pub(super) updated_at: Option<String>,
    pub(super) deleted: bool,
}

impl Engine {
    /// Phase 1 for one side: read every batch from the cursor and stage it; with `fuse`, each
    /// batch is reconciled as soon as it is staged ([`Engine::reconcile_links`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn stage_side(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        side: Side,
        sessions: &mut HashMap<Side, Connection>,
        stats: &mut RunStats,
        tracker: &mut Tracker,
        mut fuse: Option<&mut Reconciling>,
    ) -> Result<(), RunError> {
        tracker.phase(&format!("read {}", side.as_str()), None);
        let ep = spec.endpoint(side);
        let mut cursor = self.state_cursor(&spec.name, side).await?;
        let mut idle = 0;
        loop {
            let batch_span =
                tracing::debug_span!(target: "hub::sync", "batch", side = side.as_str());
            let session = sessions.get_mut(&side).expect("opened before staging");
            let batch = session
                .read(&ep.stream, cursor.as_deref(), spec.batch_size)
                .instrument(batch_span.clone())
                .await?;
            self.crash_point(CrashPoint::AfterRead(side))?;
            tracker.add(batch.records.len() as u64, batch.remaining.as_ref());
            let n = batch.records.len();
            let next = batch.cursor.clone().or(cursor.clone());
            self.stage_batch(
                spec,
                run_id,
                side,
                batch.records,
                Some(next.as_deref()),
                stats,
                Some(&mut *sessions),
                fuse.as_deref_mut(),
            )
            .await?;
            if !batch.more {
                return Ok(());
            }
            stalled_read(&ep.plugin.name, &mut idle, n, &next, &cursor)?;
            cursor = next;
        }
    }

    /// Validates and stages records read from `side` (a batch of a read, or replayed dead
    /// letters), committing their links, dead letters, audit entries and, if given, the
    /// side's new cursor in one transaction; with `fuse` (and the run's `sessions`), the
    /// batch's links are reconciled at once and that transaction is the batch's first
    /// ([`Engine::reconcile_links`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn stage_batch(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        side: Side,
        records: Vec<ReadRecord>,
        cursor: Option<Option<&str>>,
        stats: &mut RunStats,
        mut sessions: Option<&mut HashMap<Side, Connection>>,
        fuse: Option<&mut Reconciling>,
    ) -> Result<(), RunError> {
        let ep = spec.endpoint(side);
        let (staged, out_of_scope, dead) = self.validate_batch(spec, run_id, side, records, stats);
        let fixed = self
            .open_dead_letters(spec, side, &staged, &dead, stats)
            .await?;
        let keys: Vec<String> = staged
            .iter()
            .map(|s| s.key_hash.clone())
            .chain(out_of_scope.iter().cloned())
            .collect();
        let mut links: HashMap<String, Link> = HashMap::with_capacity(keys.len());
        for mut l in self.state_links(&spec.name, &keys).await? {
            self.unseal(&spec.name, &mut l)?;
            links.insert(l.key_hash.clone(), l);
        }
        let session = sessions.as_deref_mut().and_then(|m| m.get_mut(&side));
        let mut recovering = self.recovering(spec, side, &staged, &links, session).await;
        // The keys this batch changes, in the order met; a key read twice is listed twice, and
        // taking the links out of `links` below keeps each once, at its first place.
        let mut touched: Vec<String> = Vec::new();
        let mut audit: Vec<NewAuditEntry> = Vec::new();
        // A linked record that no longer matches `where` has left the sync's scope: it is a
        // tombstone on this side from now on (never written to; back in scope, it revives).
        for k in &out_of_scope {
            if let Some(link) = links
                .get_mut(k)
                .filter(|l| !l.side(side).deleted && l.side(side).snapshot.is_some())
            {
                link.side_mut(side).deleted = true;
                stats.side(side).left_scope += 1;
                touched.push(k.clone());
            }
        }
        for st in staged {
            let link = links
                .entry(st.key_hash.clone())
                .or_insert_with(|| Link::new(st.key_hash.clone()));
            touched.push(st.key_hash.clone());
            let recovered = recovering.remove(&st.key_hash);
            if let Some(action) = self.stage_record(link, side, st, recovered, stats.side(side)) {
                audit.push(NewAuditEntry {
                    run_id,
                    system: ep.plugin.name.clone(),
                    side,
                    key_hash: link.key_hash.clone(),
                    action,
                    result: WriteOutcome::Recovered,
                    remote_id: link.side(side).remote_id.clone(),
                    actor: None,
                    detail: None,
                });
            }
        }
        self.crash_point(CrashPoint::BeforeCursorCommit(side))?;
        let touched: Vec<Link> = touched.iter().filter_map(|k| links.remove(k)).collect();
        match (fuse, sessions) {
            (Some(r), Some(sessions)) => {
                // Nothing read later in this run can change these links: reconcile them now,
                // their staging committed with the first commit of the batch.
                let extra = StagedExtra {
                    dead_letters: dead,
                    cursor: cursor.map(|c| (side, c.map(str::to_string))),
                    audit,
                };
                self.reconcile_links(spec, run_id, sessions, stats, r, touched, extra)
                    .await?;
            }
            _ => {
                let counts = serde_json::to_value(&*stats).unwrap_or_default();
                self.state_commit(
                    &spec.name,
                    Commit {
                        links: &link_seal::sealed_all(&self.keys, &spec.name, &touched),
                        dead_letters: &dead,
                        cursor: cursor.map(|c| (side, c)),
                        audit: &audit,
                        run_stats: Some((run_id, &counts)),
                        ..Commit::default()
                    },
                )
                .await?;
            }
        }
        if !fixed.is_empty() {
            let n = self.state_close_fixed(&spec.name, side, &fixed).await?;
            tracing::info!(target: "hub::sync", sync = %spec.name, side = side.as_str(), closed = n, "dead letters closed: a valid copy of their record was read");
        }
        Ok(())
    }

    /// The first step of [`Engine::stage_batch`]: counts each record read from `side` and sorts
    /// it. Returns the records to stage (in the sync's `where`, valid against the schema, with
    /// a natural key), the key hashes of records outside the `where` (a linked one has left
    /// the sync's scope), and a dead letter for each invalid record.
    fn validate_batch(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        side: Side,
        records: Vec<ReadRecord>,
        stats: &mut RunStats,
    ) -> (Vec<Staged>, Vec<String>, Vec<NewDeadLetter>) {
        let ep = spec.endpoint(side);
        let mut staged: Vec<Staged> = Vec::with_capacity(records.len());
        let mut out_of_scope: Vec<String> = Vec::new();
        let mut dead = Vec::new();
        for rec in records {
            let s = stats.side(side);
            s.read += 1;
            if self.before_since(side, rec.updated_at.as_deref()) {
                s.before_since += 1;
                continue;
            }
            let data = rec.data;
            if !matches_filter(&data, &ep.filter) {
                s.filtered += 1;
                let key_values = key_of(&spec.key, &data);
                if key_values.len() == spec.key.len() {
                    out_of_scope.push(self.keys.key_hash(&key_values));
                }
                continue;
            }
            let mut violations = spec.schema.validate(&data);
            let key_values = key_of(&spec.key, &data);
            if key_values.len() != spec.key.len() {
                violations.push(Violation {
                    pointer: spec.key.join(","),
                    message: "the record has no natural key".into(),
                });
            }
            if !violations.is_empty() {
                s.invalid += 1;
                let masked = (!key_values.is_empty()).then(|| mask_key(&key_values));
                dead.push(self.dead_letter(
                    spec,
                    run_id,
                    side,
                    DeadLetterStage::Read,
                    masked,
                    Some(rec.remote_id),
                    Some(&data),
                    violations,
                ));
                continue;
            }
            staged.push(Staged {
                key_hash: self.keys.key_hash(&key_values),
                hash: self.keys.content_hash(&data),
                data,
                remote_id: rec.remote_id,
                version: rec.version,
                updated_at: rec.updated_at,
                deleted: rec.deleted,
            });
        }
        (staged, out_of_scope, dead)
    }

    /// Matches a batch's invalid records (`dead`) and valid ones (`staged`) read from `side`
    /// against the open dead letters of records invalid as read. Returns the keys whose open
    /// dead letter a valid copy fixes.
    async fn open_dead_letters(
        &self,
        spec: &SyncSpec,
        side: Side,
        staged: &[Staged],
        dead: &[NewDeadLetter],
        stats: &mut RunStats,
    ) -> Result<Vec<String>, RunError> {
        // Invalid records already waiting as open dead letters (read again at an inclusive
        // cursor, or unchanged at the source) are not new failures: they are counted as
        // unchanged, so a run that met nothing new stays `ok`. A valid copy of a record with an
        // open dead letter means the source fixed it: that dead letter closes as `fixed`.
        let open_dead = {
            let record_hashes: Vec<String> = dead.iter().map(|d| d.record_hash.clone()).collect();
            let key_hashes: Vec<String> = staged.iter().map(|st| st.key_hash.clone()).collect();
            self.store
                .open_read_dead_letters(&spec.name, side, &record_hashes, &key_hashes)
                .await?
        };
        if !dead.is_empty() {
            let known: std::collections::HashSet<&str> =
                open_dead.iter().map(|(_, h)| h.as_str()).collect();
            let again = dead
                .iter()
                .filter(|d| known.contains(d.record_hash.as_str()))
                .count() as u64;
            let s = stats.side(side);
            s.invalid -= again;
            s.unchanged += again;
        }
        let dead_keys: std::collections::HashSet<&str> =
            open_dead.iter().filter_map(|(k, _)| k.as_deref()).collect();
        Ok(staged
            .iter()
            .filter(|st| dead_keys.contains(st.key_hash.as_str()))
            .map(|st| st.key_hash.clone())
            .collect())
    }

    /// Stages one valid record read from `side` into its link. Returns what an interrupted
    /// write had asked if this read is recognised as that write's result (to be audited): an
    /// interrupted native delete is recognised by the record read back deleted.
    pub(super) fn stage_record(
        &self,
        link: &mut Link,
        side: Side,
        st: Staged,
        recovered: Option<(Intent, Value)>,
        s: &mut SideStats,
    ) -> Option<WriteAction> {
        let delete_landed = st.deleted
            && link.side(side).intent.is_some()
            && recovered.as_ref().is_some_and(|(i, _)| i.delete);
        if delete_landed {
            link.side_mut(side).intent = None;
            s.recovered += 1;
            self.stage_read(link, side, st, None, s);
            return Some(WriteAction::Delete);
        }
        self.stage_read(link, side, st, recovered, s)
    }

    /// [`Engine::stage_record`] for a read that is not a native delete's read-back.
    pub(super) fn stage_read(
        &self,
        link: &mut Link,
        side: Side,
        st: Staged,
        recovered: Option<(Intent, Value)>,
        s: &mut SideStats,
    ) -> Option<WriteAction> {
        {
            let ss = link.side_mut(side);
            // A copy older than the one already known (a lagging replica, a read that overlaps
            // an earlier one) must not undo what is known, least of all a delete.
            let known = ss.updated_at.as_deref().and_then(parse_time);
            if let (Some(known), Some(read)) =
                (known, st.updated_at.as_deref().and_then(parse_time))
                && read < known
            {
                s.stale += 1;
                return None;
            }
            if !st.remote_id.is_empty() {
                ss.remote_id = Some(st.remote_id);
            }
            ss.version = st.version;
            ss.updated_at = st.updated_at;
            if st.deleted && !ss.deleted {
                s.deleted += 1;
            }
            let delete_changed = ss.deleted != st.deleted;
            ss.deleted = st.deleted;
            if ss.hash.as_deref() == Some(st.hash.as_str()) {
                if ss.written_hash.take().as_deref() == Some(st.hash.as_str()) {
                    s.echoes += 1;
                } else {
                    s.unchanged += 1;
                }
                if delete_changed {
                    // Deleted (or restored) with the same content: the key has news all the same.
                    link.pending = true;
                    link.attempts = 0;
                    link.last_error = None;
                }
                return None;
            }
        }
        let plain = plain(&st.data);
        if link.side_mut(side).intent.take().is_some()
            && let Some((intent, normal)) = recovered
        {
            // The hub wrote here but stopped before recording the result. What of this read
            // the write explains (as the system stores it: `normal`) is the write's result; the
            // rest is a change made after it ([`recover`]), merged by the sync's rules.
            let old = link
                .side(side)
                .snapshot
                .as_ref()
                .and_then(|o| serde_json::from_slice(o).ok());
            let r = recover(old.as_ref(), &st.data, &normal);
            if r.landed {
                self.settle_recovered(link, side, st.hash, plain, r.settled, intent, s);
                return Some(if old.is_some() {
                    WriteAction::Update
                } else {
                    WriteAction::Create
                });
            }
        }
        s.changed += 1;
        let ss = link.side_mut(side);
        // Keep the record as it was when the key last settled, for field-level change detection.
        if ss.settled_hash.is_some() && ss.settled_hash == ss.hash && ss.settled.is_none() {
            ss.settled = ss.snapshot.take();
        }
        ss.snapshot = Some(plain);
        ss.hash = Some(st.hash);
        ss.written_hash = None;
        link.pending = true;
        link.attempts = 0;
        link.last_error = None;
        None
    }
}
