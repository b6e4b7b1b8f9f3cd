//! The sync engine: one run of one sync.
//!
//! A run has two phases, each made of batches that commit atomically with their cursor:
//!
//! 1. **Stage.** For each side it reads from (`a`, `b` or both), it reads batches from the
//!    side's cursor. Each record is filtered (`where`), validated against the schema (invalid →
//!    dead letter with JSON pointers), keyed (HMAC of the natural key) and compared with the
//!    side's last known content hash: the same hash is *unchanged*, or an *echo* when it is what
//!    the hub itself wrote there; a different one replaces the side's sealed snapshot and marks
//!    the key pending. The batch's links, dead letters and the new cursor commit in one
//!    transaction, so a crash re-reads at most one batch and loses nothing.
//! 2. **Reconcile.** Every pending key is merged field by field ([`merge`]). A field *changed*
//!    on a side if its value differs from that side's record when the key last settled; a
//!    system storing a record differently from what it was sent (a re-coded status, a derived
//!    employer code) is therefore not a change, so lossy mappings never ping-pong. A field owned
//!    by one side takes that side's value when it changed there, else keeps the last merged
//!    value (a non-owner's edit is overwritten); a `newest` field takes the side that changed it,
//!    or the later update time if both did (ties go to `a`). The merged record is written (an
//!    upsert by natural key) to every side it flows to whose content differs. Before each write
//!    the record is kept as the side's *intent*; each result replaces the side's snapshot with
//!    the record as the system stores it, so the next read of it is an echo. If the hub dies
//!    between a write and its result, the read-back meets the intent: where it holds what the
//!    write left (the intent in the system's normal form, contract 0.2) it is the write's
//!    result, and every other difference is a change made after the write, merged like any
//!    other ([`recover`]; `docs/architecture.md` gives the rule and, per system, its limits).
//!    Conflicts and transient failures keep the key pending for the next run; permanent
//!    refusals become dead letters.
//!
//! Every write's result (and every write recognised through an intent) is appended to the audit
//! log ([`crate::audit`]) in the transaction that records it.
//!
//! Conflicts: a field both sides changed to different values since the key last settled is
//! decided by its policy (`a_wins`, `b_wins`, `newest_wins` by the systems' own update times,
//! ties to `a`; counted in [`RunStats::conflicts_resolved`]), or, under `park`, the whole record
//! waits in the conflicts table for a person (`hub conflicts resolve`) and nothing is written for
//! its key meanwhile ([`RunStats::parked`]). A write a system refuses because its record changed
//! since it was read (optimistic concurrency) is a conflict too: the key is merged again on the
//! next run, from what is read then.
//!
//! Deletes: a side's soft delete (the connector's `deleted` flag) is kept as a tombstone: the
//! hub never writes to that side's record again (no resurrection). When a side newly shows an
//! end (a soft delete, or the values its `[syncs.NAME.deletes]` form names, e.g. ZF-REG's
//! 务工状态 3), the other side gets its own form's values once (see
//! [`crate::config::DeletesConfig`]). A record read with an update time earlier than the one
//! already known for it is a stale copy and is ignored ([`SideStats::stale`]).
//!
//! Crash points ([`crate::crash`]) let tests stop a run at any step as if the process died; the
//! model-based test in `hub/tests/fidelity` checks that the systems still converge.
//!
//! Where the steps of a run live: `spec` (what a run is asked to do), `run` (the run loop: the
//! lease, the connector sessions, the phases, the outcome), `stage` (phase 1: reading and
//! staging batches), `reconcile` (phase 2: plan, write, settle), `merge` (the field-by-field
//! merge), `intent` (write intents and the recovery of interrupted writes), `dead_letters`
//! (making and replaying them), `stats` and `progress` (what a run reports, while it runs and
//! at its end). This file holds the [`Engine`] itself, its construction, and the helpers the
//! steps share (opening links, normal forms, keys).
//!
//! **Owns** the sync run: reading, reconciling, merging, writing, intents, dead letters and
//! conflicts as a run meets them; it is the only code that writes links and cursors. **May not
//! touch** wasmtime or HTTP directly (it calls connectors through `runtime::Connection`), nor
//! SQL (every row goes through `store`); it does not schedule runs, serve pages or print.

use crate::audit::{NewAuditEntry, WriteAction, WriteOutcome};
use crate::config::{Concurrent, Direction, FieldPolicy};
use crate::crash::{CrashPoint, Crashed};
use crate::keys::{Keys, strip_nulls};
use crate::runtime::{
    Connection, Plugin, PluginError, ReadRecord, TargetRecord, WriteOp, WriteResult,
};
use crate::schema::{Schema, Violation};
use crate::store::{
    Commit, ConflictKind, DeadLetterStage, Decision, Link, NewConflict, NewDeadLetter, RunTrigger,
    Side, Store, StoreError,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument as _;

pub mod compare;
mod dead_letters;
pub mod decide;
mod intent;
pub mod link_seal;
mod merge;
pub mod plan;
mod progress;
mod reconcile;
pub mod resync;
mod run;
mod spec;
mod stage;
mod stats;

/// How a run ended, as the run history keeps it: one type for the history and the engine.
pub use crate::store::RunStatus;
use intent::{Intent, recover};
pub use merge::{Merged, SideInput, fill_empty, merge, merge_fields};
use merge::{owned_fields, set_pointer};
use progress::Tracker;
pub use progress::{ProgressBoard, RunProgress};
use reconcile::{Reconciling, StagedExtra};
pub use spec::{EndpointSpec, NewestRule, SyncSpec};
use stage::Staged;
pub use stats::{RunOutcome, RunStats, SideStats};

/// Runs syncs against a state store.
#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    keys: Keys,
    progress: ProgressBoard,
    crash: Option<crate::crash::Held>,
    lease_ttl: std::time::Duration,
    /// A plan (dry run, [`plan`]): the state it would commit, kept here instead of the store.
    dry: Option<Arc<plan::Dry>>,
    /// A resync ([`resync`]): the side read again, and from when.
    resync: Option<resync::Resync>,
    /// The syncs running in this process (shared by the engine's clones).
    in_process: resync::InProcess,
}

/// A failure that ends a phase of the run.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A store method failed ([`StoreError`], typed), or another step of the run's state
    /// (a link that does not open) as [`StoreError::Other`].
    #[error("state store: {0:#}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crashed(Crashed),
}

impl From<anyhow::Error> for RunError {
    /// [`RunError::Store`], classified once ([`StoreError::classify`]).
    fn from(e: anyhow::Error) -> RunError {
        RunError::Store(StoreError::classify(e))
    }
}

impl RunError {
    /// The run was stopped at a crash point (here or inside a store transaction).
    fn crashed(&self) -> Option<Crashed> {
        match self {
            RunError::Crashed(c) => Some(*c),
            RunError::Store(StoreError::Other(e)) => e.downcast_ref::<Crashed>().copied(),
            RunError::Store(_) => None,
            RunError::Plugin(_) => None,
        }
    }
}

/// How long a run's lease lasts unless renewed (it is renewed every quarter of this), unless
/// set with [`Engine::with_lease_ttl`].
const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// A record as a link holds it in memory: canonical JSON ([`crate::keys::canonical_json`]),
/// the form in which equal records are equal bytes.
fn plain(record: &Value) -> Vec<u8> {
    crate::keys::canonical_json(record).into_bytes()
}

/// The key values of a record, masked for people (identity numbers keep their first and last
/// four characters).
pub fn mask_key(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => hub_schemas::id_number::mask(s),
            other => hub_schemas::id_number::mask(&other.to_string()),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The values of a record at the key's pointers that are present and not null.
fn key_of<'a>(key: &[String], data: &'a Value) -> Vec<&'a Value> {
    key.iter()
        .filter_map(|p| non_null(data.pointer(p)))
        .collect()
}

fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// Counts a read that reported more records (`n` of them, cursor `cursor` before and `next`
/// after) in `idle`: one that returned none and did not move the cursor counts, any other
/// resets. The third such read in a row breaks the contract (a connector that would have the
/// run loop for ever).
///
/// # Errors
/// [`RunError::Plugin`] of kind `contract`, naming `plugin`.
fn stalled_read(
    plugin: &str,
    idle: &mut u32,
    n: usize,
    next: &Option<String>,
    cursor: &Option<String>,
) -> Result<(), RunError> {
    *idle = if n == 0 && next == cursor {
        *idle + 1
    } else {
        0
    };
    if *idle >= 3 {
        return Err(RunError::Plugin(PluginError::Connector {
            plugin: plugin.to_string(),
            call: "read",
            kind: "contract",
            message: "reports more records three times without returning any or moving its cursor"
                .into(),
        }));
    }
    Ok(())
}

/// True if `record` holds every (pointer, value) of a non-empty delete form.
fn shows_end(record: Option<&Value>, form: &[(String, Value)]) -> bool {
    !form.is_empty() && record.is_some_and(|r| form.iter().all(|(p, v)| r.pointer(p) == Some(v)))
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

fn matches_filter(data: &Value, filter: &[(String, Value)]) -> bool {
    filter
        .iter()
        .all(|(ptr, want)| data.pointer(ptr) == Some(want))
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The sides of a link, opened.
struct Opened {
    current: [Option<Value>; 2],
    settled: [Option<Value>; 2],
    base: Option<Value>,
}

impl Engine {
    /// An engine over a store, with the state keys.
    /// The store appends the audit entries of the engine's writes under the audit key derived
    /// from `keys`.
    pub fn new(store: Store, keys: Keys) -> Engine {
        Engine {
            store: store.with_audit_key(keys.audit_key()),
            keys,
            progress: ProgressBoard::default(),
            crash: None,
            lease_ttl: LEASE_TTL,
            dry: None,
            resync: None,
            in_process: resync::InProcess::default(),
        }
    }

    /// The engine with runs' leases lasting `ttl` unless renewed (default two minutes; they are
    /// renewed every quarter of it). A daemon that stops (killed, paused) holds its runs up for
    /// at most this long before another daemon takes them over.
    pub fn with_lease_ttl(mut self, ttl: std::time::Duration) -> Engine {
        self.lease_ttl = ttl;
        self
    }

    /// The engine with a crash hook (tests only, see [`crate::crash`]; the `test-support`
    /// feature).
    #[cfg(any(test, feature = "test-support"))]
    pub fn with_crash_hook(mut self, hook: crate::crash::CrashHook) -> Engine {
        self.crash = Some(crate::crash::Held(hook));
        self
    }

    /// Stops the run here if the crash hook says so.
    fn crash_point(&self, point: CrashPoint) -> Result<(), RunError> {
        match &self.crash {
            Some(hook) if (hook.0)(point) => Err(RunError::Crashed(Crashed(point))),
            _ => Ok(()),
        }
    }

    /// Its runs in progress.
    pub fn progress(&self) -> &ProgressBoard {
        &self.progress
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The state keys (the statistics open the links' settled records with them).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Runs a sync once. Never panics on bad data or a failing plugin: failures end up in the
    /// `records` as side `side`'s system would store them (its connector's normal form,
    /// contract 0.2), one per record in order. `None` when there are no records, no session
    /// is at hand, the connector does not say, or the call failed (warned: the records are
    /// then taken as stored as sent).
    async fn normal_forms(
        &self,
        spec: &SyncSpec,
        side: Side,
        session: Option<&mut Connection>,
        records: &[&Value],
    ) -> Option<Vec<Value>> {
        let session = session.filter(|s| s.may_give_normal_form())?;
        if records.is_empty() {
            return None;
        }
        let texts: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        match session
            .normal_form(&spec.endpoint(side).stream, &texts)
            .await
        {
            Ok(forms) => Some(
                forms?
                    .iter()
                    .map(|r| serde_json::from_str(r).unwrap_or(Value::Null))
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(sync = %spec.name, side = side.as_str(), "normal-form failed; records are taken as stored as sent: {e}");
                None
            }
        }
    }

    /// Opens a link read from the store ([`link_seal::unseal`]). Errors: a sealed value that
    /// does not open with this state key, as a store error.
    fn unseal(&self, sync: &str, link: &mut Link) -> Result<(), RunError> {
        link_seal::unseal(&self.keys, sync, link)
            .map_err(|e| RunError::Store(StoreError::Other(e.into())))
    }

    /// Parses a link's record (canonical JSON, as [`plain`] wrote it).
    fn parse(&self, bytes: &[u8]) -> Result<Value, RunError> {
        serde_json::from_slice(bytes).map_err(|e| {
            RunError::Store(StoreError::Other(anyhow::anyhow!(
                "a record of a link is not JSON: {e}"
            )))
        })
    }

    /// A link's records, parsed: each side's current and settled record, and the base.
    fn open_link(&self, link: &Link) -> Result<Opened, RunError> {
        let mut o = Opened {
            current: [None, None],
            settled: [None, None],
            base: None,
        };
        for (i, side) in [Side::A, Side::B].into_iter().enumerate() {
            let s = link.side(side);
            if let Some(snapshot) = &s.snapshot {
                let v = self.parse(snapshot)?;
                o.settled[i] = match (&s.settled_hash, &s.settled) {
                    (None, _) => None,
                    (Some(_), Some(old)) => Some(self.parse(old)?),
                    (Some(h), None) if Some(h) == s.hash.as_ref() => Some(v.clone()),
                    (Some(_), None) => None,
                };
                if !s.deleted {
                    o.current[i] = Some(v);
                }
            }
        }
        if let Some(base) = &link.base {
            o.base = Some(self.parse(base)?);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Vec<(String, FieldPolicy)> {
        vec![
            ("/name".into(), FieldPolicy::A),
            ("/status".into(), FieldPolicy::B),
            ("/employer".into(), FieldPolicy::B),
            ("/phone".into(), FieldPolicy::Newest),
        ]
    }

    fn side<'a>(current: &'a Value, settled: Option<&'a Value>, at: &'a str) -> SideInput<'a> {
        SideInput {
            current: Some(current),
            settled,
            updated_at: Some(at),
            other_as_stored: None,
        }
    }

    const T1: &str = "2021-09-02T10:00:00+08:00";
    const T2: &str = "2021-09-02T11:00:00+08:00";

    #[test]
    fn a_record_on_one_side_only_is_taken_whole_without_nulls() {
        let a = json!({"name": "王芳", "phone": null, "status": "employed"});
        let m = merge(
            side(&a, None, T1),
            SideInput::default(),
            None,
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(m, Some(json!({"name": "王芳", "status": "employed"})));
        assert_eq!(
            merge(
                SideInput::default(),
                SideInput::default(),
                None,
                &rules(),
                FieldPolicy::Newest,
                NewestRule::default()
            ),
            None
        );
    }

    #[test]
    fn a_lossy_projection_on_the_owner_side_is_not_a_change() {
        // The registry says lost contact; Huiyang, which owns status but has no such state,
        // stored "left" when the hub created the record. Nobody changed anything since.
        let base = json!({"name": "王芳", "status": "lost_contact"});
        let a = json!({"name": "王芳", "status": "lost_contact"});
        let b = json!({"name": "王芳", "status": "left"});
        let m = merge(
            side(&a, Some(&a), T1),
            side(&b, Some(&b), T2),
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(m, Some(base));
    }

    #[test]
    fn the_owners_change_wins_and_a_non_owners_change_is_overwritten() {
        let base = json!({"name": "王芳", "status": "employed", "phone": "13800138000"});
        let a_settled = base.clone();
        let a = json!({"name": "王芳芳", "status": "seeking", "phone": "13800138000"});
        let b_settled = base.clone();
        let b = json!({"name": "王二", "status": "left", "phone": "13800138000"});
        let m = merge(
            side(&a, Some(&a_settled), T1),
            side(&b, Some(&b_settled), T2),
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        // name is a's (a changed it), status is b's (b changed it); b's name edit and a's
        // status edit are not theirs to make.
        assert_eq!(
            m,
            Some(json!({"name": "王芳芳", "status": "left", "phone": "13800138000"}))
        );
    }

    #[test]
    fn newest_takes_the_side_that_changed_then_the_later_time_then_a() {
        let base = json!({"phone": "13800138000"});
        let a = json!({"phone": "13900000001"});
        let b = base.clone();
        let only_a = merge(
            side(&a, Some(&base), T1),
            side(&b, Some(&base), T2),
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(only_a, Some(json!({"phone": "13900000001"})));
        let b2 = json!({"phone": "13700000002"});
        let both_b_later = merge(
            side(&a, Some(&base), T1),
            side(&b2, Some(&base), T2),
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(both_b_later, Some(json!({"phone": "13700000002"})));
        let both_a_later = merge(
            side(&a, Some(&base), T2),
            side(&b2, Some(&base), T1),
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(both_a_later, Some(json!({"phone": "13900000001"})));
        let tie = merge(
            side(&a, Some(&base), T1),
            side(&b2, Some(&base), T1),
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(tie, Some(json!({"phone": "13900000001"})));
    }

    #[test]
    fn changes_the_clocks_cannot_order_go_to_the_named_fallback_with_either_clock_ahead() {
        // A phone changed on both sides since the key settled. Each system stamps its change
        // with its own clock; one of the two clocks is five minutes ahead, and the tolerated
        // skew is six minutes.
        let base = json!({"phone": "13800138000"});
        let a = json!({"phone": "13900000001"});
        let b = json!({"phone": "13700000002"});
        let merged = |ta: &str, tb: &str, rule: NewestRule| {
            merge_fields(
                side(&a, Some(&base), ta),
                side(&b, Some(&base), tb),
                Some(&base),
                &rules(),
                FieldPolicy::Newest,
                rule,
            )
            .unwrap()
        };
        let skew = |within_skew| NewestRule {
            clock_skew: Duration::from_secs(6 * 60),
            within_skew,
        };
        let phone = |m: &Merged| m.record["phone"].as_str().unwrap().to_string();

        // ZF-REG (a) 5 min ahead: b changed at 10:03 (stamped 10:03), a at 10:00 (stamped
        // 10:05, local time). By the stamps a is newer; in truth b is. Two minutes apart: the
        // clocks cannot tell, and the fallback decides.
        let (ta, tb) = ("2026-12-04T10:05:00+08:00", "2026-12-04T02:03:00Z");
        assert_eq!(phone(&merged(ta, tb, NewestRule::default())), "13900000001");
        let parked = merged(ta, tb, skew(Concurrent::Park));
        assert_eq!(phone(&parked), "13800138000");
        assert_eq!(
            parked.conflicts,
            [("/phone".to_string(), FieldPolicy::Park)]
        );
        let to_b = merged(ta, tb, skew(Concurrent::B));
        assert_eq!(phone(&to_b), "13700000002");
        assert_eq!(
            to_b.conflicts,
            [("/phone".to_string(), FieldPolicy::Newest)]
        );
        assert_eq!(phone(&merged(ta, tb, skew(Concurrent::A))), "13900000001");

        // HY-ESMS (b) 5 min ahead: a changed at 10:03 (stamped 10:03), b at 10:00 (stamped
        // 10:05 in UTC). By the stamps b is newer; in truth a is.
        let (ta, tb) = ("2026-12-04T10:03:00+08:00", "2026-12-04T02:05:00Z");
        assert_eq!(phone(&merged(ta, tb, NewestRule::default())), "13700000002");
        let parked = merged(ta, tb, skew(Concurrent::Park));
        assert_eq!(phone(&parked), "13800138000");
        assert_eq!(
            parked.conflicts,
            [("/phone".to_string(), FieldPolicy::Park)]
        );

        // Changes further apart than the skew are ordered by the clocks, whichever is ahead:
        // b changed at 10:20 (stamped 10:25), a at 10:00 (stamped 10:00).
        let (ta, tb) = ("2026-12-04T10:00:00+08:00", "2026-12-04T02:25:00Z");
        let later_b = merged(ta, tb, skew(Concurrent::Park));
        assert_eq!(phone(&later_b), "13700000002");
        assert_eq!(
            later_b.conflicts,
            [("/phone".to_string(), FieldPolicy::Newest)]
        );
        // A change without a time goes to the fallback too.
        let m = merge_fields(
            side(&a, Some(&base), ta),
            SideInput {
                updated_at: None,
                ..side(&b, Some(&base), tb)
            },
            Some(&base),
            &rules(),
            FieldPolicy::Newest,
            skew(Concurrent::B),
        )
        .unwrap();
        assert_eq!(phone(&m), "13700000002");
    }

    #[test]
    fn a_park_field_changed_both_ways_parks_the_record_and_other_conflicts_are_named() {
        let base =
            json!({"phone": "13800138000", "hometownTownship": "珉谷街道", "status": "employed"});
        let a =
            json!({"phone": "13900000001", "hometownTownship": "永丰街道", "status": "employed"});
        let b = json!({"phone": "13700000002", "hometownTownship": "者相镇", "status": "seeking"});
        let rules = vec![
            ("/phone".to_string(), FieldPolicy::Newest),
            ("/hometownTownship".to_string(), FieldPolicy::Park),
            ("/status".to_string(), FieldPolicy::B),
        ];
        let m = merge_fields(
            side(&a, Some(&base), T1),
            side(&b, Some(&base), T2),
            Some(&base),
            &rules,
            FieldPolicy::Newest,
            NewestRule::default(),
        )
        .unwrap();
        assert!(m.parked());
        // Only fields both sides changed, to different values; status changed on b only.
        assert_eq!(
            m.conflicts,
            vec![
                ("/phone".to_string(), FieldPolicy::Newest),
                ("/hometownTownship".to_string(), FieldPolicy::Park)
            ]
        );
        // The parked field keeps the last merged value; the others follow their policies.
        assert_eq!(
            m.record,
            json!({"phone": "13700000002", "hometownTownship": "珉谷街道", "status": "seeking"})
        );
        // Changed on one side only, a park field simply takes that change.
        let m = merge_fields(
            side(&a, Some(&base), T1),
            side(&base, Some(&base), T2),
            Some(&base),
            &rules,
            FieldPolicy::Newest,
            NewestRule::default(),
        )
        .unwrap();
        assert!(!m.parked());
        assert_eq!(m.record["hometownTownship"], "永丰街道");
    }

    #[test]
    fn an_end_shows_only_when_every_value_of_a_non_empty_form_is_there() {
        let form = vec![("/status".to_string(), json!("returned_home"))];
        assert!(shows_end(Some(&json!({"status": "returned_home"})), &form));
        assert!(!shows_end(Some(&json!({"status": "employed"})), &form));
        assert!(!shows_end(None, &form));
        assert!(!shows_end(Some(&json!({"status": "returned_home"})), &[]));
    }

    #[test]
    fn first_meeting_of_two_records_takes_each_field_from_its_owner() {
        let a = json!({"name": "王芳", "status": "employed", "phone": "13800138000", "registryNumber": "ZF2021000001"});
        let b = json!({"name": "王 芳", "status": "left", "phone": "13900000001", "hiredOn": "2021-05-01"});
        let m = merge(
            side(&a, None, T1),
            side(&b, None, T2),
            None,
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        assert_eq!(
            m,
            Some(
                json!({"name": "王芳", "status": "left", "phone": "13900000001", "registryNumber": "ZF2021000001", "hiredOn": "2021-05-01"})
            )
        );
    }

    /// Issue 18: at a first meeting, a value the winning side would store exactly as it holds
    /// its own is no difference. ZF-REG (a) lost contact with the resident (`lost_contact`);
    /// HY-ESMS (b, owns `/status` and `/employer`) can only say `left`, and codes the employer
    /// named by the registry from its register. `/name` is a's and differs under a's coding.
    #[test]
    fn first_meeting_keeps_the_finer_value_the_owner_would_store_as_its_own() {
        let a = json!({"name": "王芳", "status": "lost_contact", "phone": "13800138000",
            "employer": {"name": "伯恩光学", "uscc": null}, "registryNumber": "ZF2021000001"});
        let b = json!({"name": "王 芳", "status": "left", "phone": "13800138000",
            "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
            "hiredOn": "2021-05-01"});
        // a's record as HY-ESMS would store it: `left`, the register's name and code, no
        // registry number. b's record as the registry would store it: no hire date.
        let a_as_b = json!({"name": "王芳", "status": "left", "phone": "13800138000",
            "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"}});
        let b_as_a = json!({"name": "王 芳", "status": "left", "phone": "13800138000",
            "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"}});
        let m = merge_fields(
            SideInput {
                other_as_stored: Some(&b_as_a),
                ..side(&a, None, T1)
            },
            SideInput {
                other_as_stored: Some(&a_as_b),
                ..side(&b, None, T2)
            },
            None,
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        )
        .unwrap();
        assert_eq!(
            m.record,
            json!({"name": "王芳", "status": "lost_contact", "phone": "13800138000",
                "employer": {"name": "伯恩光学", "uscc": "91350100M000100Y43"},
                "registryNumber": "ZF2021000001", "hiredOn": "2021-05-01"})
        );
        assert_eq!(m.conflicts, [("/name".to_string(), FieldPolicy::A)]);
        // Without the normal forms, the owner's values win as before.
        let m = merge(
            side(&a, None, T1),
            side(&b, None, T2),
            None,
            &rules(),
            FieldPolicy::Newest,
            NewestRule::default(),
        )
        .unwrap();
        assert_eq!(m["status"], "left");
        assert_eq!(m["employer"], b["employer"]);
    }

    #[test]
    fn fill_empty_fills_only_the_leaves_left_empty() {
        let kept = json!({"name": "伯恩光学", "uscc": null, "tags": ["x"]});
        let filler = json!({"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43", "tags": ["y"], "city": "惠州"});
        assert_eq!(
            fill_empty(Some(&kept), Some(&filler)),
            Some(
                json!({"name": "伯恩光学", "uscc": "91350100M000100Y43", "tags": ["x"], "city": "惠州"})
            )
        );
        assert_eq!(fill_empty(None, Some(&json!("left"))), Some(json!("left")));
        assert_eq!(
            fill_empty(Some(&json!("lost_contact")), Some(&json!("left"))),
            Some(json!("lost_contact"))
        );
        assert_eq!(fill_empty(Some(&Value::Null), None), None);
    }

    #[test]
    fn a_rule_inside_an_object_overrides_the_default_for_that_member_only() {
        let rules = vec![("/employer/uscc".to_string(), FieldPolicy::B)];
        let a = json!({"employer": {"name": "甲公司", "uscc": null}});
        let b = json!({"employer": {"name": "乙公司", "uscc": "91350100M000100Y43"}});
        let m = merge(
            side(&a, None, T2),
            side(&b, None, T1),
            None,
            &rules,
            FieldPolicy::Newest,
            NewestRule::default(),
        );
        // employer as a whole follows `newest` (a is later), then /employer/uscc is b's.
        assert_eq!(
            m,
            Some(json!({"employer": {"name": "甲公司", "uscc": "91350100M000100Y43"}}))
        );
    }

    #[test]
    fn pointers_are_set_and_removed_with_parents_created() {
        let mut v = json!({});
        set_pointer(&mut v, "/a/b", Some(json!(1)));
        set_pointer(&mut v, "/c~1d", Some(json!(2)));
        assert_eq!(v, json!({"a": {"b": 1}, "c/d": 2}));
        set_pointer(&mut v, "/a/b", None);
        set_pointer(&mut v, "/x/y", None);
        assert_eq!(v, json!({"a": {}, "c/d": 2}));
    }

    #[test]
    fn a_read_back_is_the_interrupted_write_only_where_it_holds_the_intents_values() {
        let old = json!({"phone": "13800138000", "position": "普工", "name": "王芳"});
        let intent = json!({"phone": "13900000001", "position": "普工", "name": "王芳"});
        // The write landed and nothing happened since: the read-back is the write.
        let r = recover(Some(&old), &intent, &intent);
        assert_eq!((r.settled, r.landed), (intent.clone(), true));
        // The write landed, then a clerk changed the position (a field the write did not
        // change): the settled record keeps the position the write left, so the clerk's
        // position is a change of that side.
        let edited = json!({"phone": "13900000001", "position": "电工", "name": "王芳"});
        let r = recover(Some(&old), &edited, &intent);
        assert_eq!((r.settled, r.landed), (intent.clone(), true));
        // The write landed, then someone set a newer phone (the field the write changed): the
        // newer phone is a change after the write, not the write (issue 16, scenario 2).
        let newer = json!({"phone": "15000000003", "position": "普工", "name": "王芳"});
        let r = recover(Some(&old), &newer, &intent);
        assert_eq!(r.settled, intent);
        // No field the write changed holds its value: nothing shows the write landed.
        assert!(!r.landed);
        // The write did not land (the old phone is there) and a clerk renamed the person: the
        // settled record is the old one, the new name is a change.
        let renamed = json!({"phone": "13800138000", "position": "普工", "name": "王芳芳"});
        let r = recover(Some(&old), &renamed, &intent);
        assert_eq!(r.settled, old);
        assert!(!r.landed);
    }

    #[test]
    fn a_created_record_read_back_keeps_what_the_system_filled_in_and_shows_later_edits() {
        let intent = json!({"idNumber": "52232519900101001X", "name": "张伟", "position": "普工"});
        // The system assigned a registry number; a clerk then changed the position (issue 16,
        // scenario 1): the number is the system's, the position a change after the create.
        let read = json!({
            "idNumber": "52232519900101001X", "name": "张伟", "position": "质检员",
            "registryNumber": "ZF2021000123"
        });
        let r = recover(None, &read, &intent);
        assert!(r.landed);
        assert_eq!(
            r.settled,
            json!({
                "idNumber": "52232519900101001X", "name": "张伟", "position": "普工",
                "registryNumber": "ZF2021000123"
            })
        );
        // A clerk emptied a field the create had filled: the empty field is the change.
        let emptied = json!({"idNumber": "52232519900101001X", "name": "张伟"});
        assert_eq!(recover(None, &emptied, &intent).settled, intent);
        // The system keeps a remark, empty on create (`null` in its normal form); a clerk then
        // wrote one: that is a change, not something the system filled in.
        let written = json!({"idNumber": "52232519900101001X", "name": "张伟", "remark": null});
        let remarked =
            json!({"idNumber": "52232519900101001X", "name": "张伟", "remark": "申请培训补贴"});
        assert_eq!(
            recover(None, &remarked, &written).settled,
            json!({"idNumber": "52232519900101001X", "name": "张伟"})
        );
    }

    #[test]
    fn an_intent_keeps_the_other_sides_record_and_a_bare_one_from_an_older_store_still_opens() {
        let i = Intent {
            record: json!({"phone": "13900000001"}),
            other: Some(json!({"phone": "13900000001", "name": "王芳"})),
            delete: false,
        };
        assert_eq!(Intent::from_value(i.to_value()), i);
        // A native delete's intent says so; one without `op` (an older store) is an upsert.
        let d = Intent {
            record: json!({"phone": "13900000001"}),
            other: None,
            delete: true,
        };
        assert_eq!(
            d.to_value(),
            json!({"intent": 2, "record": {"phone": "13900000001"}, "other": null, "op": "delete"})
        );
        assert_eq!(Intent::from_value(d.to_value()), d);
        let bare = json!({"phone": "13900000001"});
        assert_eq!(
            Intent::from_value(bare.clone()),
            Intent {
                record: bare,
                other: None,
                delete: false,
            }
        );
    }

    #[test]
    fn a_read_that_says_more_but_neither_returns_nor_moves_ends_the_run_the_third_time() {
        let (c1, c2) = (Some("c1".to_string()), Some("c2".to_string()));
        let mut idle = 0;
        stalled_read("hy", &mut idle, 0, &c1, &c1).unwrap();
        stalled_read("hy", &mut idle, 0, &c1, &c1).unwrap();
        assert_eq!(idle, 2);
        // A moved cursor, or a record returned, resets the count.
        stalled_read("hy", &mut idle, 0, &c2, &c1).unwrap();
        assert_eq!(idle, 0);
        stalled_read("hy", &mut idle, 0, &c1, &c1).unwrap();
        stalled_read("hy", &mut idle, 1, &c1, &c1).unwrap();
        assert_eq!(idle, 0);
        for _ in 0..2 {
            stalled_read("hy", &mut idle, 0, &c1, &c1).unwrap();
        }
        let e = stalled_read("hy", &mut idle, 0, &c1, &c1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin hy: read failed (contract): reports more records three times without returning any or moving its cursor"
        );
    }

    #[test]
    fn keys_are_masked_for_people() {
        let id = json!("11010519491231002X");
        assert_eq!(mask_key(&[&id]), "1101**********002X");
    }
}
