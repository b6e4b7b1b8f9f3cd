//! The calls into a component: `manifest`, `open`, `check`, `read`, `write` and
//! `normal-form`, each under the session's limits, in the bindings of the component's contract
//! line (a 0.1 component's answers turned into 0.2's), its answer checked by [`super::answers`].

use super::ReadBatch;
use super::answers::{check_batch, check_normal_form, check_write, cut};
use super::session::{Session, session_timeout};
use crate::runtime::contract::{Exports, v0_1};
use crate::runtime::{
    Batch, Manifest, PluginError, Rejection, TargetRecord, WriteOp, WriteResult, connector_error,
};
use std::sync::Arc;
use tracing::Instrument as _;

impl Session {
    /// Calls `manifest` (a 0.1 component's manifest as 0.2 says it, see [`v0_1::manifest`]).
    pub async fn manifest(&mut self) -> Result<Manifest, PluginError> {
        let span = self.begin("manifest")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(t, p.hub_connector_connector().call_manifest(store))
                    .instrument(span)
                    .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let m = plugin
                        .hub_connector_connector()
                        .call_manifest(store)
                        .await?;
                    Ok(v0_1::manifest(m))
                })
                .instrument(span)
                .await
            }
        };
        self.finish("manifest", r)
    }

    pub(super) async fn open(&mut self, config: &str) -> Result<(), PluginError> {
        let span = self.begin("open")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(t, p.hub_connector_connector().call_open(store, config))
                    .instrument(span)
                    .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let r = plugin
                        .hub_connector_connector()
                        .call_open(store, config)
                        .await?;
                    Ok(r.map_err(v0_1::error))
                })
                .instrument(span)
                .await
            }
        };
        self.finish("open", r)?
            .map_err(|e| connector_error(&self.plugin, "open", e))
    }

    /// Calls `check`.
    pub async fn check(&mut self) -> Result<(), PluginError> {
        let span = self.begin("check")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(t, p.hub_connector_connector().call_check(store))
                    .instrument(span)
                    .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let r = plugin.hub_connector_connector().call_check(store).await?;
                    Ok(r.map_err(v0_1::error))
                })
                .instrument(span)
                .await
            }
        };
        self.finish("check", r)?
            .map_err(|e| connector_error(&self.plugin, "check", e))
    }

    /// Calls `read`, and checks the batch: every record a JSON object no larger than
    /// `limits.max_record_kib`, a cursor no larger than `limits.max_cursor_kib`. A batch that
    /// breaks the contract is refused whole (nothing of it is used, the cursor does not move).
    pub async fn read(
        &mut self,
        stream: &str,
        cursor: Option<&str>,
        max: u32,
    ) -> Result<ReadBatch, PluginError> {
        let span = self.begin("read")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(
                    t,
                    p.hub_connector_connector()
                        .call_read(store, stream, cursor, max),
                )
                .instrument(span)
                .await
            }
            Exports::V0_1 { plugin, .. } => {
                session_timeout(t, async {
                    let r = plugin
                        .hub_connector_connector()
                        .call_read(store, stream, cursor, max)
                        .await?;
                    Ok(r.map(v0_1::batch).map_err(v0_1::error))
                })
                .instrument(span)
                .await
            }
        };
        let batch: Batch = self
            .finish("read", r)?
            .map_err(|e| connector_error(&self.plugin, "read", e))?;
        check_batch(&self.plugin, &self.limits, batch, max)
    }

    /// Calls `write`; checks that one result comes back per record. A 0.1 component is sent
    /// only the upserts: a delete is answered `rejected` by the host (a 0.1 stream has no
    /// `can-delete`, so the sync engine never asks one).
    pub async fn write(
        &mut self,
        stream: &str,
        records: &[TargetRecord],
    ) -> Result<Vec<WriteResult>, PluginError> {
        let span = self.begin("write")?;
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(
                    t,
                    p.hub_connector_connector()
                        .call_write(store, stream, records),
                )
                .instrument(span)
                .await
            }
            Exports::V0_1 { plugin, .. } => {
                let upserts: Vec<_> = records.iter().filter_map(v0_1::target).collect();
                session_timeout(t, async {
                    let r = if upserts.is_empty() {
                        Ok(Vec::new())
                    } else {
                        plugin
                            .hub_connector_connector()
                            .call_write(store, stream, &upserts)
                            .await?
                    };
                    Ok(r.map_err(v0_1::error).map(|results| {
                        with_deletes_refused(records, results.into_iter().map(v0_1::write_result))
                    }))
                })
                .instrument(span)
                .await
            }
        };
        let results = self
            .finish("write", r)?
            .map_err(|e| connector_error(&self.plugin, "write", e))?;
        check_write(&self.plugin, &self.limits, results, records.len())
    }
}

/// The results of a write to a 0.1 component, one per record of `records`: the component's
/// `results` for the upserts in order, and `rejected` for each delete. A component that
/// answered too few or too many results keeps its count wrong, for [`check_write`] to refuse.
fn with_deletes_refused(
    records: &[TargetRecord],
    results: impl Iterator<Item = WriteResult>,
) -> Vec<WriteResult> {
    let mut results = results.peekable();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if r.op == WriteOp::Delete {
            out.push(WriteResult::Rejected(Rejection {
                reason: "the connector is built against contract 0.1, which cannot delete a record natively".into(),
                pointer: None,
            }));
        } else if let Some(result) = results.next() {
            out.push(result);
        }
    }
    out.extend(results);
    out
}

impl Session {
    /// True if the component states its system's normal form: every 0.2 component, and a 0.1.2
    /// component that exports the optional `normal-form`.
    pub fn has_normal_form(&self) -> bool {
        match self.exports.as_ref() {
            Some(Exports::V0_2(_)) => true,
            Some(Exports::V0_1 { normal_form, .. }) => normal_form.is_some(),
            None => false,
        }
    }

    /// Calls `normal-form`: how the system would store each of `records` (JSON text).
    /// `Ok(None)` if the component has none (0.1.0, 0.1.1, a 0.1.2 component without the
    /// optional export), or if it answered `err` (taken as "stores what was sent"). Sends are
    /// refused during the call: a normal form must not reach the system.
    ///
    /// # Errors
    /// A trap; an answer that is not one JSON object per record, each within
    /// `limits.max_record_kib` ([`PluginError::Connector`] of kind `contract`).
    pub async fn normal_form(
        &mut self,
        stream: &str,
        records: &[String],
    ) -> Result<Option<Vec<String>>, PluginError> {
        if !self.has_normal_form() {
            return Ok(None);
        }
        let span = self.begin("normal-form")?;
        let guard =
            self.store.data_mut().guard.replace(Arc::new(|| {
                Err("a normal form is computed without calling the system; the request was not sent"
                .to_string())
            }));
        let t = self.limits.call_timeout_secs;
        let store = &mut self.store;
        let r = match self.exports.as_ref().expect("set at instantiation") {
            Exports::V0_2(p) => {
                session_timeout(
                    t,
                    p.hub_connector_connector()
                        .call_normal_form(store, stream, records),
                )
                .instrument(span)
                .await
            }
            Exports::V0_1 { normal_form, .. } => {
                let f = normal_form.expect("has_normal_form");
                session_timeout(t, async {
                    let (r,) = f
                        .call_async(store, (stream.to_string(), records.to_vec()))
                        .await?;
                    Ok(r)
                })
                .instrument(span)
                .await
            }
        };
        self.store.data_mut().guard = guard;
        let out = match self.finish("normal-form", r)? {
            Ok(out) => out,
            Err(message) => {
                tracing::warn!(target: "hub::runtime::plugin", plugin = %self.plugin, "normal-form answered an error; taken as storing what was sent: {}", crate::logging::mask_personal(&crate::control_chars::escape(&cut(message))));
                return Ok(None);
            }
        };
        check_normal_form(&self.plugin, &self.limits, out, records.len()).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Written;

    fn written(id: &str) -> Written {
        Written {
            remote_id: id.to_string(),
            version: None,
            stored: None,
        }
    }

    fn target(op: WriteOp, name: &str) -> TargetRecord {
        TargetRecord {
            op,
            data: format!(r#"{{"name":"{name}"}}"#),
            remote_id: Some(name.into()),
            version: None,
            current: None,
        }
    }

    #[test]
    fn a_0_1_component_gets_the_upserts_and_each_delete_is_refused_in_its_place() {
        let records = [
            target(WriteOp::Upsert, "a"),
            target(WriteOp::Delete, "b"),
            target(WriteOp::Upsert, "c"),
            target(WriteOp::Delete, "d"),
        ];
        let sent: Vec<_> = records.iter().filter_map(v0_1::target).collect();
        assert_eq!(
            sent.iter().map(|r| r.data.as_str()).collect::<Vec<_>>(),
            [r#"{"name":"a"}"#, r#"{"name":"c"}"#]
        );
        let answered = [
            WriteResult::Updated(written("a")),
            WriteResult::Created(written("c")),
        ];
        let results = with_deletes_refused(&records, answered.into_iter());
        let kinds: Vec<&str> = results
            .iter()
            .map(|r| match r {
                WriteResult::Updated(w) if w.remote_id == "a" => "updated a",
                WriteResult::Created(w) if w.remote_id == "c" => "created c",
                WriteResult::Rejected(r) if r.reason.contains("contract 0.1") => "refused",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["updated a", "refused", "created c", "refused"]);
        // A component that answers one result too many keeps the count wrong for check_write.
        let answered = (0..3).map(|_| WriteResult::Retry("x".into()));
        assert_eq!(with_deletes_refused(&records, answered).len(), 5);
    }
}
