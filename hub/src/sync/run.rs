//! The run loop: a sync run from its lease to its outcome. Takes and renews the sync's lease,
//! opens the connector sessions, replays dead letters, drives the read (stage) and reconcile
//! phases, and records how the run ended in the run history, the logs and the metrics.

use super::*;

impl Engine {
    /// outcome and the run history.
    pub async fn run(&self, spec: &SyncSpec, trigger: &RunTrigger) -> anyhow::Result<RunOutcome> {
        self.run_at(spec, trigger, None).await
    }

    /// Runs a sync once for fire time `scheduled_for` (a scheduled run; `None` otherwise).
    ///
    /// The run holds the sync's lease ([`Store::acquire_lease`]) from start to end, renewed every
    /// quarter of its TTL; every store write of the run is fenced by it, and before each batch
    /// written to a system the lease is confirmed, so a process paused past its lease stops
    /// at its next step once another has taken over. Errors: the lease is held by another live
    /// process (the run is not started), the fire time already ran ([`crate::store::AlreadyRan`]),
    /// the store is unreachable.
    pub async fn run_at(
        &self,
        spec: &SyncSpec,
        trigger: &RunTrigger,
        scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<RunOutcome> {
        // Its own run would hold the lease this process would take again.
        let Some(_here) = self.in_process.begin(&spec.name) else {
            anyhow::bail!(
                "sync {} is running in this process already (a run or a resync); this run was not started",
                spec.name
            );
        };
        let lease = match self.store.acquire_lease(&spec.name, self.lease_ttl).await? {
            Ok(lease) => lease,
            Err(holder) => anyhow::bail!(
                "sync {} is running in another process ({holder}); this run was not started",
                spec.name
            ),
        };
        // Renew the lease while the run goes on; give it up at the end.
        let renew = {
            let (store, lease, ttl) = (self.store.clone(), lease.clone(), self.lease_ttl);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 4).await;
                    match store.renew_lease(&lease, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(target: "hub::sync", sync = %lease.sync, "lost the run lease to another process");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(target: "hub::sync", sync = %lease.sync, "cannot renew the run lease: {e:#}")
                        }
                    }
                }
            })
        };
        let fenced = Engine {
            store: self.store.fenced(lease.clone()),
            ..self.clone()
        };
        let outcome = fenced.run_leased(spec, trigger, scheduled_for).await;
        renew.abort();
        if outcome
            .as_ref()
            .is_err_and(|e| e.downcast_ref::<Crashed>().is_some())
        {
            // As if the process had died: the lease stays until it expires.
            return outcome;
        }
        if let Err(e) = self.store.release_lease(&lease).await {
            tracing::warn!(target: "hub::sync", sync = %spec.name, "cannot release the run lease: {e:#}");
        }
        outcome
    }

    /// [`Engine::run_at`] once the sync's lease is held: records the run in the history, opens
    /// the connector sessions, replays dead letters, stages and reconciles, and records how the
    /// run ended.
    async fn run_leased(
        &self,
        spec: &SyncSpec,
        trigger: &RunTrigger,
        scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<RunOutcome> {
        let started = Instant::now();
        // Recorded on the span and the logs as the text it was before it had a type (a `&str`
        // field, quoted as such by the log formats).
        let trigger_text = trigger.to_string();
        let trigger_text = trigger_text.as_str();
        let run_id = self
            .store
            .start_run(&spec.name, trigger, scheduled_for)
            .await?;
        // The run's span (exported as an OpenTelemetry span when `[telemetry]` is set): names and
        // counts only, never a record's values.
        let span = tracing::info_span!(target: "hub::sync",
            "run",
            sync = %spec.name,
            run = run_id,
            trigger = trigger_text,
            status = tracing::field::Empty,
            records_read = tracing::field::Empty,
            records_written = tracing::field::Empty,
            dead_letters = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let resumed_from = self
            .store
            .run(run_id)
            .await
            .ok()
            .flatten()
            .and_then(|r| r.resumed_from);
        self.begin_resync(spec, resumed_from).await?;
        let mut stats = RunStats::default();
        match resumed_from {
            Some(old) => tracing::info!(target: "hub::sync",
                parent: &span,
                trigger = trigger_text,
                resumed_from = old,
                "sync run started; run {old} was interrupted before it finished, and this run goes on from what it committed"
            ),
            None => {
                tracing::info!(target: "hub::sync", parent: &span, trigger = trigger_text, "sync run started")
            }
        }
        let mut tracker = Tracker::new(self.progress.clone(), &spec.name, run_id);
        let (mut sessions, mut errors) = self.open_sessions(spec, &span).await;
        let mut failed = !errors.is_empty();
        if !failed
            && let Err(e) = self
                .replay(spec, run_id, &mut stats)
                .instrument(span.clone())
                .await
        {
            if let Some(c) = e.crashed() {
                return Err(c.into());
            }
            tracing::warn!(target: "hub::sync", parent: &span, "replaying dead letters failed: {e}");
            errors.push(format!("replay: {e}"));
            failed = true;
        }
        if !failed {
            let (more, fail) = self
                .stage_and_reconcile(spec, run_id, &mut sessions, &mut stats, &mut tracker, &span)
                .await?;
            errors.extend(more);
            failed |= fail;
        }
        stats.pending = self
            .store
            .pending_count(&spec.name)
            .await
            .map(|p| p as u64)
            .unwrap_or(0);
        stats.duration_ms = started.elapsed().as_millis() as u64;
        let status = run_status(&stats, &errors, failed);
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        self.store
            .finish_run(
                run_id,
                status,
                &serde_json::to_value(&stats)?,
                error.as_deref(),
            )
            .await?;
        log_finished(&span, status, &stats);
        let outcome = RunOutcome {
            run_id,
            sync: spec.name.clone(),
            status,
            stats,
            errors,
            resumed_from,
        };
        crate::metrics::run_finished(
            &outcome,
            &spec.a.plugin.name,
            &spec.b.plugin.name,
            spec.direction,
        );
        Ok(outcome)
    }

    /// Opens a connector session for each side the sync reads from or writes to. While the run
    /// holds a lease, each session's sends are guarded by it: a request is not sent once the
    /// lease is lost or past its time. Returns the sessions and, one per side that could not be
    /// connected, the error (the run then fails).
    async fn open_sessions(
        &self,
        spec: &SyncSpec,
        span: &tracing::Span,
    ) -> (HashMap<Side, Connection>, Vec<String>) {
        let mut sessions: HashMap<Side, Connection> = HashMap::new();
        let mut errors = Vec::new();
        for &side in spec.read_sides().iter().chain(spec.write_sides()) {
            if sessions.contains_key(&side) {
                continue;
            }
            match spec.endpoint(side).plugin.connect().await {
                Ok(mut s) => {
                    if let Some(lease) = self.store.lease().cloned() {
                        s.guard_sends(std::sync::Arc::new(move || {
                            if lease.holds_locally() {
                                Ok(())
                            } else {
                                Err(format!(
                                    "sync {}: this run's lease is lost or past its time; the request was not sent",
                                    lease.sync
                                ))
                            }
                        }));
                    }
                    sessions.insert(side, s);
                }
                Err(e) => {
                    tracing::warn!(target: "hub::sync", parent: span, side = side.as_str(), "{e}");
                    errors.push(e.to_string());
                }
            }
        }
        (sessions, errors)
    }

    /// Phases 1 and 2: reads each side the sync reads from ([`Engine::stage_side`]), the last
    /// one's batches reconciled as they are staged, then reconciles the keys still pending.
    /// Returns the run's errors (a read or a write that failed; keys deferred to the next run)
    /// and whether the run failed (a read or a write did; deferred keys leave it partial).
    /// `Err` only when the run stopped at a crash point.
    pub(super) async fn stage_and_reconcile(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        sessions: &mut HashMap<Side, Connection>,
        stats: &mut RunStats,
        tracker: &mut Tracker,
        span: &tracing::Span,
    ) -> Result<(Vec<String>, bool), Crashed> {
        let mut errors = Vec::new();
        // Conflicts a person decided: a side's record taken whole, or fields chosen one by one.
        let decisions = match self.store.conflict_decisions(&spec.name).await {
            Ok(t) => t,
            Err(e) => {
                let e = RunError::from(e);
                if let Some(c) = e.crashed() {
                    return Err(c);
                }
                return Ok((vec![format!("write: {e}")], true));
            }
        };
        let mut r = Reconciling {
            decisions,
            ..Reconciling::default()
        };
        if let Some(target) = self.target_to_discover(spec).await {
            tracing::info!(target: "hub::sync", parent: span, side = target.as_str(), "the target was never read (a new or lost state store): reading what it holds once, to link its records by natural key before writing");
            // Linking only: a failure costs this run's knowledge of the target, not its writes
            // (they are upserts by natural key, as before it was read).
            if let Err(e) = self
                .stage_side(spec, run_id, target, sessions, stats, tracker, None)
                .instrument(span.clone())
                .await
            {
                if let Some(c) = e.crashed() {
                    return Err(c);
                }
                tracing::warn!(target: "hub::sync", parent: span, side = target.as_str(), "reading what the target holds failed; its records are written as upserts by natural key: {e}");
            }
        }
        if let Err(e) = self
            .resync_look_back(spec, run_id, sessions, stats, tracker)
            .instrument(span.clone())
            .await
        {
            if let Some(c) = e.crashed() {
                return Err(c);
            }
            tracing::warn!(target: "hub::sync", parent: span, "reading back what an interrupted resync wrote failed: {e}");
            errors.push(format!("read back: {e}"));
            return Ok((errors, true));
        }
        let sides = self.sides_to_read(spec);
        let last = sides.last().copied();
        for &side in &sides {
            let fuse = Some(side) == last;
            if let Err(e) = self
                .stage_side(
                    spec,
                    run_id,
                    side,
                    sessions,
                    stats,
                    tracker,
                    fuse.then_some(&mut r),
                )
                .instrument(span.clone())
                .await
            {
                if let Some(c) = e.crashed() {
                    return Err(c);
                }
                if r.write_failed {
                    tracing::warn!(target: "hub::sync", parent: span, "reconcile failed: {e}");
                    errors.push(format!("write: {e}"));
                    return Ok((errors, true));
                }
                tracing::warn!(target: "hub::sync", parent: span, side = side.as_str(), "read failed: {e}");
                errors.push(format!("read {}: {e}", side.as_str()));
                // What that side holds now is unknown: nothing more is written to it this run.
                r.unread.push(side);
            }
        }
        match self
            .reconcile(spec, run_id, sessions, stats, &mut r, tracker)
            .instrument(span.clone())
            .await
        {
            Ok(()) => {}
            Err(e) => {
                if let Some(c) = e.crashed() {
                    return Err(c);
                }
                tracing::warn!(target: "hub::sync", parent: span, "reconcile failed: {e}");
                errors.push(format!("write: {e}"));
                return Ok((errors, true));
            }
        }
        let failed = !errors.is_empty();
        if let Some((n, example)) = r.deferred {
            errors.push(format!(
                "{n} records deferred to the next run, e.g. {example}"
            ));
        }
        Ok((errors, failed))
    }

    /// The target side of a one-way sync when it has never been read (no cursor: a new or
    /// lost state store) and its stream can be read. The run then reads it once, to its end,
    /// before the source: what the target already holds is linked by natural key and compared
    /// under its own coding, so a record it holds as the source would have it is not written
    /// again (issue 18: convergence without history). Later runs read only the source. A run
    /// stopped in the middle of this read leaves a cursor, and the rest of the target is not
    /// read again: those records are written as upserts by natural key.
    pub(super) async fn target_to_discover(&self, spec: &SyncSpec) -> Option<Side> {
        if self.resync.is_some() {
            // A resync reads the sides it names, and only those.
            return None;
        }
        let target = match spec.direction {
            Direction::Both => return None,
            Direction::AToB => Side::B,
            Direction::BToA => Side::A,
        };
        let ep = spec.endpoint(target);
        if !ep.plugin.stream(&ep.stream).is_some_and(|s| s.can_read) {
            return None;
        }
        match self.state_cursor(&spec.name, target).await {
            Ok(None) => Some(target),
            _ => None,
        }
    }
}

/// How a run ended: failed when a connector or the store failed, partial when some records
/// failed (dead letters, conflicts, retries) or an error was noted, ok otherwise.
fn run_status(stats: &RunStats, errors: &[String], failed: bool) -> RunStatus {
    let troubled = [&stats.a, &stats.b]
        .iter()
        .any(|s| s.invalid + s.rejected + s.conflicts + s.retries > 0);
    if failed {
        RunStatus::Failed
    } else if troubled || !errors.is_empty() {
        RunStatus::Partial
    } else {
        RunStatus::Ok
    }
}

/// Logs the end of a run and records its status and counts on the run's span.
fn log_finished(span: &tracing::Span, status: RunStatus, stats: &RunStats) {
    tracing::info!(target: "hub::sync",
        parent: span,
        status = status.as_str(),
        read_a = stats.a.read,
        read_b = stats.b.read,
        written_a = stats.a.written(),
        written_b = stats.b.written(),
        echoes = stats.a.echoes + stats.b.echoes,
        dead_letters = stats.a.invalid + stats.b.invalid + stats.a.rejected + stats.b.rejected,
        ms = stats.duration_ms,
        "sync run finished"
    );
    span.record("status", status.as_str());
    span.record("records_read", stats.a.read + stats.b.read);
    span.record("records_written", stats.a.written() + stats.b.written());
    span.record(
        "dead_letters",
        stats.a.invalid + stats.b.invalid + stats.a.rejected + stats.b.rejected,
    );
    span.record(
        "otel.status_code",
        if status == RunStatus::Failed {
            "ERROR"
        } else {
            "OK"
        },
    );
}
