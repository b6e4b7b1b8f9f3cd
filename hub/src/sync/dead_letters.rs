//! Dead letters of a run: a record read invalid or refused by a system, kept sealed with why
//! ([`Engine::dead_letter`]), and the replay of those an operator asked for
//! ([`Engine::replay`]).

use super::*;

/// The sealing context of a dead letter's record.
pub(super) fn dead_letter_context(sync: &str, side: Side, record_hash: &str) -> String {
    format!("dead-letter/{sync}/{}/{record_hash}", side.as_str())
}

impl Engine {
    /// Replays the dead letters of `spec` an operator asked for (`hub dead-letters replay`, the
    /// admin API), after a fix: a record a system refused (`write`) is written again by this
    /// run; a record that was invalid as read (`read`) is validated again and, valid now, staged
    /// as if just read (the sealed copy is used: nothing is fetched again). Every replay is
    /// appended to the dead letter's history; one that went through closes it (`replayed`).
    /// Returns how many went through.
    pub(super) async fn replay(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        stats: &mut RunStats,
    ) -> Result<u64, RunError> {
        let mut through = 0;
        for r in self.store.replay_requests(&spec.name).await? {
            let mut pending = None;
            let result = match (r.stage, &r.key_hash) {
                (DeadLetterStage::Write, Some(key_hash)) => {
                    pending = Some(key_hash.as_str());
                    Ok("queued: written again by this run".to_string())
                }
                (DeadLetterStage::Write, None) => {
                    Err("not replayed: the record had no key".to_string())
                }
                (DeadLetterStage::Read, _) => {
                    let context = dead_letter_context(&spec.name, r.side, &r.record_hash);
                    match r
                        .record
                        .as_deref()
                        .map(|b| self.keys.open_json(&context, b))
                    {
                        None => Err("not replayed: no copy of the record was kept".to_string()),
                        Some(Err(_)) => Err(
                            "not replayed: the sealed record does not open with this state key"
                                .to_string(),
                        ),
                        Some(Ok(data)) => {
                            let mut violations = spec.schema.validate(&data);
                            if spec.key.iter().any(|p| non_null(data.pointer(p)).is_none()) {
                                violations.push(Violation {
                                    pointer: spec.key.join(","),
                                    message: "the record has no natural key".into(),
                                });
                            }
                            if violations.is_empty() {
                                let rec = ReadRecord {
                                    data,
                                    remote_id: r.remote_id.clone().unwrap_or_default(),
                                    version: None,
                                    updated_at: None,
                                    deleted: false,
                                };
                                self.stage_batch(
                                    spec,
                                    run_id,
                                    r.side,
                                    vec![rec],
                                    None,
                                    stats,
                                    None,
                                    None,
                                )
                                .await?;
                                Ok("valid now: staged by this run".to_string())
                            } else {
                                let why: Vec<String> =
                                    violations.iter().map(ToString::to_string).collect();
                                Err(format!("still invalid: {}", why.join("; ")))
                            }
                        }
                    }
                }
            };
            let closed = result.is_ok();
            if closed {
                through += 1;
                stats.side(r.side).replayed += 1;
            }
            let text = result.unwrap_or_else(|e| e);
            tracing::info!(target: "hub::sync", sync = %spec.name, dead_letter = r.id, "replay: {text}");
            self.state_finish_replay(
                &spec.name,
                r.id,
                run_id,
                &text,
                closed,
                pending.map(|k| (spec.name.as_str(), k)),
            )
            .await?;
        }
        Ok(through)
    }

    /// The dead letter of a record (`data`; without it, the record of `remote_id`) of `side`
    /// that failed at `stage` (`read` or `write`) for `errors`: keyed when the record holds its
    /// natural key, the record sealed under its [`dead_letter_context`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dead_letter(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        side: Side,
        stage: DeadLetterStage,
        key_masked: Option<String>,
        remote_id: Option<String>,
        data: Option<&Value>,
        errors: Vec<Violation>,
    ) -> NewDeadLetter {
        let record_hash = match data {
            Some(d) => self.keys.content_hash(d),
            None => self
                .keys
                .content_hash(&Value::String(remote_id.clone().unwrap_or_default())),
        };
        let key_hash = data.and_then(|d| {
            let vals = key_of(&spec.key, d);
            (vals.len() == spec.key.len()).then(|| self.keys.key_hash(&vals))
        });
        let record = data.map(|d| {
            self.keys
                .seal_json(&dead_letter_context(&spec.name, side, &record_hash), d)
        });
        NewDeadLetter {
            run_id,
            side,
            stage,
            key_hash,
            key_masked,
            remote_id,
            record_hash,
            errors,
            record,
        }
    }
}
