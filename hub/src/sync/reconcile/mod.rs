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

mod batch_plan;
mod key_plan;
mod settle;
mod write;

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
}
