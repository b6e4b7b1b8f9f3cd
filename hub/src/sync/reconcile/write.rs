//! Reconcile's **write** step: one side's batch of merged records sent in a `write` call,
//! each result checked against the schema ([`stored_checked`]) and audited.

use super::*;

/// A write's result on side `t`, refused when the record it says the system now holds
/// (`written.stored`) breaks the sync's schema: such a record never becomes a side's record.
/// The refusal (`rejected`, naming the plugin and each violation) sends the record to dead
/// letters. Returns the result and, when it stands, `stored` parsed (parsed once, here). The
/// runtime has already held `stored` to the contract's bounds (a JSON object within
/// `limits.max_record_kib`).
fn stored_checked(spec: &SyncSpec, t: Side, result: WriteResult) -> (WriteResult, Option<Value>) {
    let stored = match &result {
        WriteResult::Created(w) | WriteResult::Updated(w) | WriteResult::Unchanged(w) => w
            .stored
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .filter(Value::is_object),
        // The record a duplicate collided with becomes the side's record only if it fits the
        // schema; otherwise the record is linked by its id alone.
        WriteResult::Duplicate(e) => {
            return match e
                .data
                .as_deref()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .filter(|v| v.is_object() && spec.schema.validate(v).is_empty())
            {
                Some(v) => (result, Some(v)),
                None => (result, None),
            };
        }
        _ => None,
    };
    let Some(stored) = stored else {
        return (result, None);
    };
    let violations = spec.schema.validate(&stored);
    let Some(first) = violations.first() else {
        return (result, Some(stored));
    };
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    let refused = WriteResult::Rejected(crate::runtime::Rejection {
        reason: format!(
            "plugin {} returned a stored record that breaks schema {} {}: {}; the result is refused",
            spec.endpoint(t).plugin.name,
            spec.schema.name,
            spec.schema.version,
            listed.join("; ")
        ),
        pointer: Some(first.pointer.clone()),
    });
    (refused, None)
}

impl Engine {
    /// Writes a batch's records to side `t` in one `write` call and records each result on its
    /// link and in `plan` (audit entries, dead letters, conflicts, keys left pending). Returns
    /// the call's error when the call itself failed (every record of it left pending).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_side(
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
        let batch_span = tracing::debug_span!(target: "hub::sync::reconcile", "batch", side = t.as_str(), records = records.len());
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
}
