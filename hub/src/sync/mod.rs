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

use crate::audit::{NewAuditEntry, WriteAction, WriteOutcome};
use crate::config::{Concurrent, Direction, FieldPolicy};
use crate::crash::{CrashPoint, Crashed};
use crate::keys::{Keys, strip_nulls};
use crate::runtime::{
    Connection, Plugin, PluginError, ReadRecord, TargetRecord, WriteOp, WriteResult,
};
use crate::schema::{Schema, Violation};
use crate::store::{Commit, ConflictKind, Decision, Link, NewConflict, NewDeadLetter, Side, Store};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument as _;

pub mod compare;
pub mod decide;
pub mod link_seal;
pub mod plan;
mod reconcile;
pub mod resync;

use reconcile::{Reconciling, StagedExtra};

/// One end of a sync, resolved.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// Its stream.
    pub stream: String,
    /// Records take part only if the value at each pointer equals the given one.
    pub filter: Vec<(String, Value)>,
}

/// A sync, resolved from the config against the catalogue and the loaded plugins.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    /// Its name.
    pub name: String,
    /// The shared schema.
    pub schema: Arc<Schema>,
    /// Natural key: JSON pointers.
    pub key: Vec<String>,
    /// Which way records flow.
    pub direction: Direction,
    /// Endpoint `a`.
    pub a: EndpointSpec,
    /// Endpoint `b`.
    pub b: EndpointSpec,
    /// Field rules: JSON pointer → policy.
    pub rules: Vec<(String, FieldPolicy)>,
    /// Policy for fields not in `rules`.
    pub default_policy: FieldPolicy,
    /// How `newest_wins` orders two changes by the systems' clocks.
    pub newest: NewestRule,
    /// How each side, `[a, b]`, shows an ended record besides its connector's delete flag:
    /// (JSON pointer, value) pairs, from `[syncs.NAME.deletes]` (empty: only connector deletes).
    pub deletes: [Vec<(String, Value)>; 2],
    /// `[a, b]`: the side is told of an end natively (`deletes.native`, contract 0.2), not in
    /// field form.
    pub native_deletes: [bool; 2],
    /// Records per read or write call.
    pub batch_size: u32,
}

/// How `newest_wins` orders two systems' changes of a field by their update times
/// (`[syncs.NAME.merge] clock_skew` and `within_skew`): times more than `clock_skew` apart
/// decide; closer ones (the clocks cannot tell which change came first), or a missing time, go
/// to `within_skew`. The default, no skew and `a_wins`, decides by the times alone, a tie for
/// `a`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewestRule {
    /// How far apart the two systems' clocks may be.
    pub clock_skew: std::time::Duration,
    /// Who decides two changes within `clock_skew` of each other.
    pub within_skew: Concurrent,
}

impl SyncSpec {
    /// The endpoint of `side`.
    pub fn endpoint(&self, side: Side) -> &EndpointSpec {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Sides records are read from.
    pub fn read_sides(&self) -> &'static [Side] {
        match self.direction {
            Direction::AToB => &[Side::A],
            Direction::BToA => &[Side::B],
            Direction::Both => &[Side::A, Side::B],
        }
    }

    /// Sides records are written to.
    pub fn write_sides(&self) -> &'static [Side] {
        match self.direction {
            Direction::AToB => &[Side::B],
            Direction::BToA => &[Side::A],
            Direction::Both => &[Side::A, Side::B],
        }
    }
}

/// Counts for one side of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SideStats {
    /// Records read (replayed dead letters of this side included).
    pub read: u64,
    /// Dead letters of this side the run replayed through (after `hub dead-letters replay`).
    #[serde(default)]
    pub replayed: u64,
    /// Read but outside the sync's `where`.
    pub filtered: u64,
    /// Read but invalid (dead letters).
    pub invalid: u64,
    /// Read with the content already known.
    pub unchanged: u64,
    /// Read back exactly as the hub wrote them (echo suppressed).
    pub echoes: u64,
    /// Read back as the result of a write an interrupted run made here but did not record
    /// (counted once, by the run that found it; among `echoes` or `changed`).
    #[serde(default)]
    pub recovered: u64,
    /// Read with new content.
    pub changed: u64,
    /// Read by a resync `--since` but last changed before that time: read past
    /// ([`resync`]).
    #[serde(default)]
    pub before_since: u64,
    /// Read as deleted for the first time (tombstones).
    pub deleted: u64,
    /// Read with an update time older than the one already known for the record: a stale copy,
    /// ignored.
    #[serde(default)]
    pub stale: u64,
    /// Linked records that no longer match the sync's `where` (tombstoned on this side).
    pub left_scope: u64,
    /// Records created here.
    pub created: u64,
    /// Records updated here.
    pub updated: u64,
    /// Writes the connector found unnecessary.
    pub unchanged_writes: u64,
    /// Writes refused by optimistic concurrency (retried next run).
    pub conflicts: u64,
    /// Records ended here natively (contract 0.2's native delete; `deletes.a|b = "native"`).
    #[serde(default)]
    pub ended: u64,
    /// Creates the system refused because it holds a record of the key already: the hub linked
    /// that record at once (contract 0.2's `duplicate`).
    #[serde(default)]
    pub linked: u64,
    /// Writes refused for good (dead letters).
    pub rejected: u64,
    /// Writes that failed transiently (retried next run).
    pub retries: u64,
}

impl SideStats {
    /// Records written (created + updated + ended natively).
    pub fn written(&self) -> u64 {
        self.created + self.updated + self.ended
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Endpoint `a`.
    pub a: SideStats,
    /// Endpoint `b`.
    pub b: SideStats,
    /// Keys whose sides both changed a field to different values, decided by the field's policy
    /// (`a_wins`, `b_wins`, `newest_wins`).
    #[serde(default)]
    pub conflicts_resolved: u64,
    /// Keys parked: both sides changed a `park` field to different values; nothing is written
    /// for them until a person decides (`hub conflicts`).
    #[serde(default)]
    pub parked: u64,
    /// Keys still pending after the run.
    pub pending: u64,
    /// Wall-clock time, milliseconds.
    pub duration_ms: u64,
}

impl RunStats {
    fn side(&mut self, s: Side) -> &mut SideStats {
        match s {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Records written anywhere.
    pub fn written(&self) -> u64 {
        self.a.written() + self.b.written()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Everything read was handled.
    Ok,
    /// Some records failed (dead letters, conflicts, retries); the rest went through.
    Partial,
    /// A connector or the store failed; what was committed stays committed.
    Failed,
}

impl RunStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Run id in the history.
    pub run_id: i64,
    /// Sync name.
    pub sync: String,
    /// How it ended.
    pub status: RunStatus,
    /// Counts.
    pub stats: RunStats,
    /// Failures, one line each (no personal data).
    pub errors: Vec<String>,
    /// The interrupted run this one went on from (its process died before finishing it).
    pub resumed_from: Option<i64>,
}

/// Where a run in progress stands (for the logs, the admin API and the status page).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RunProgress {
    /// Run id in the history.
    pub run_id: i64,
    /// `read a`, `read b` or `write`.
    pub phase: String,
    /// Records handled in this phase so far (read, or reconciled and written).
    pub records: u64,
    /// Records this phase has to handle, when known: the write phase knows its pending keys; a
    /// read knows when its connector says how many records wait (contract 0.2's
    /// `batch.remaining`: the records read so far plus the last batch's `remaining`).
    pub total: Option<u64>,
    /// `total` is the connector's estimate, not an exact count.
    #[serde(default)]
    pub total_estimated: bool,
    /// Records per second in this phase so far.
    pub records_per_second: f64,
    /// Seconds left in this phase at that rate, when the total is known.
    pub eta_seconds: Option<f64>,
    /// When the run started (RFC 3339).
    pub started_at: String,
}

/// The runs in progress of one engine, by sync name. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct ProgressBoard(Arc<Mutex<HashMap<String, RunProgress>>>);

impl ProgressBoard {
    /// The run of `sync` in progress, if any.
    pub fn get(&self, sync: &str) -> Option<RunProgress> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sync)
            .cloned()
    }

    fn set(&self, sync: &str, p: RunProgress) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(sync.to_string(), p);
    }

    fn remove(&self, sync: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(sync);
    }
}

/// How often a long run logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Tracks one run's progress: publishes it on the board after every batch and logs it every
/// [`PROGRESS_EVERY`].
struct Tracker {
    board: ProgressBoard,
    sync: String,
    now: RunProgress,
    phase_started: Instant,
    logged: Instant,
}

impl Tracker {
    fn new(board: ProgressBoard, sync: &str, run_id: i64) -> Tracker {
        let now = RunProgress {
            run_id,
            phase: "start".into(),
            records: 0,
            total: None,
            total_estimated: false,
            records_per_second: 0.0,
            eta_seconds: None,
            started_at: now_rfc3339(),
        };
        board.set(sync, now.clone());
        Tracker {
            board,
            sync: sync.to_string(),
            now,
            phase_started: Instant::now(),
            logged: Instant::now(),
        }
    }

    fn phase(&mut self, phase: &str, total: Option<u64>) {
        self.now.phase = phase.to_string();
        self.now.records = 0;
        self.now.total = total;
        self.now.total_estimated = false;
        self.now.records_per_second = 0.0;
        self.now.eta_seconds = None;
        self.phase_started = Instant::now();
        self.board.set(&self.sync, self.now.clone());
    }

    /// Counts `n` more records; `remaining`, when a read's connector says it, makes the phase's
    /// total the records so far plus those still waiting.
    fn add(&mut self, n: u64, remaining: Option<&crate::runtime::Remaining>) {
        let p = &mut self.now;
        p.records += n;
        if let Some(r) = remaining {
            p.total = Some(p.records.saturating_add(r.count));
            p.total_estimated = !r.exact;
        }
        let secs = self.phase_started.elapsed().as_secs_f64();
        p.records_per_second = if secs > 0.0 {
            p.records as f64 / secs
        } else {
            0.0
        };
        p.eta_seconds = p
            .total
            .filter(|_| p.records_per_second > 0.0)
            .map(|t| t.saturating_sub(p.records) as f64 / p.records_per_second);
        self.board.set(&self.sync, p.clone());
        if self.logged.elapsed() >= PROGRESS_EVERY {
            self.logged = Instant::now();
            let about = if p.total_estimated { "about " } else { "" };
            let of = p
                .total
                .map(|t| format!(" of {about}{t}"))
                .unwrap_or_default();
            let eta = p
                .eta_seconds
                .map(|e| format!(", about {e:.0} s left"))
                .unwrap_or_default();
            tracing::info!(sync = %self.sync, run = p.run_id, phase = %p.phase, records = p.records, "progress: {} records{of} ({:.0}/s{eta})", p.records, p.records_per_second);
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.board.remove(&self.sync);
    }
}

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
    #[error("state store: {0:#}")]
    Store(#[from] anyhow::Error),
    #[error(transparent)]
    Crashed(Crashed),
}

impl RunError {
    /// The run was stopped at a crash point (here or inside a store transaction).
    fn crashed(&self) -> Option<Crashed> {
        match self {
            RunError::Crashed(c) => Some(*c),
            RunError::Store(e) => e.downcast_ref::<Crashed>().copied(),
            RunError::Plugin(_) => None,
        }
    }
}

/// A record read and validated, ready to stage.
struct Staged {
    key_hash: String,
    hash: String,
    data: Value,
    remote_id: String,
    version: Option<String>,
    updated_at: Option<String>,
    deleted: bool,
}

/// How long a run's lease lasts unless renewed (it is renewed every quarter of this), unless
/// set with [`Engine::with_lease_ttl`].
const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// The sealing context of a dead letter's record.
fn dead_letter_context(sync: &str, side: Side, record_hash: &str) -> String {
    format!("dead-letter/{sync}/{}/{record_hash}", side.as_str())
}

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

/// One side's input to [`merge`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SideInput<'a> {
    /// The record as the system holds it now (`None`: not there, or deleted).
    pub current: Option<&'a Value>,
    /// The record when the key last settled (`None`: never settled, so every field is new).
    pub settled: Option<&'a Value>,
    /// When the system last changed it (RFC 3339).
    pub updated_at: Option<&'a str>,
    /// The other side's current record as this side's system would store it (its connector's
    /// normal form, contract 0.2), when the key has never settled; `None` when the connector
    /// does not say, or the key has settled. See [`merge_fields`] on the first meeting.
    pub other_as_stored: Option<&'a Value>,
}

impl SideInput<'_> {
    fn value(&self, ptr: &str) -> Option<&Value> {
        self.current.and_then(|c| non_null(c.pointer(ptr)))
    }

    fn changed(&self, ptr: &str) -> bool {
        self.current.is_some()
            && self.value(ptr) != self.settled.and_then(|s| non_null(s.pointer(ptr)))
    }
}

/// The result of [`merge_fields`].
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The merged record (nulls removed).
    pub record: Value,
    /// Fields both sides changed to different values since the key last settled, as JSON
    /// pointers (RFC 6901; a top-level field not in the rules as `/name`), with the policy that
    /// decided each. A [`FieldPolicy::Park`] field decided nothing: the record must not be
    /// written ([`Merged::parked`]).
    pub conflicts: Vec<(String, FieldPolicy)>,
}

impl Merged {
    /// A `park` field is in conflict: the record waits for a person.
    pub fn parked(&self) -> bool {
        self.conflicts.iter().any(|(_, p)| *p == FieldPolicy::Park)
    }
}

/// Merges the two sides' records field by field (see the module docs). `base` is the merged
/// record when the key last settled. `None` if neither side holds the record.
pub fn merge(
    a: SideInput<'_>,
    b: SideInput<'_>,
    base: Option<&Value>,
    rules: &[(String, FieldPolicy)],
    default: FieldPolicy,
    newest: NewestRule,
) -> Option<Value> {
    merge_fields(a, b, base, rules, default, newest).map(|m| m.record)
}

/// [`merge`], with the fields in conflict. A field *conflicts* when both sides changed it since
/// the key last settled (or, at the first meeting of two records, both hold it) and their
/// values differ. Its policy decides it: `a_wins`/`b_wins` take that side's value,
/// `newest_wins` the side with the later update time, unless the two times are within
/// `newest.clock_skew` of each other (or one is missing): then the changes count as concurrent
/// and `newest.within_skew` decides (`a_wins` by default, `b_wins`, or `park`); `park` keeps
/// the last merged value and marks the record parked.
///
/// **First meeting** (no `base`: the key never settled, as after a lost state store): two values
/// that differ are first compared under the winning side's coding
/// ([`SideInput::other_as_stored`]). If the side that would win would store the other side's
/// value exactly as it holds its own (a finer code it has no code for, a name it would look up
/// to the same register entry, a field it does not keep), the two agree: there is no conflict,
/// and the other side's value is kept, with the leaves it leaves empty filled from the winner's
/// ([`fill_empty`]). For `park` (no winner), either side's coding may show the agreement, `b`'s
/// first. So the merged record depends on the two systems' contents, not on the hub's history
/// (docs/architecture.md, "Convergence without history").
pub fn merge_fields(
    a: SideInput<'_>,
    b: SideInput<'_>,
    base: Option<&Value>,
    rules: &[(String, FieldPolicy)],
    default: FieldPolicy,
    newest: NewestRule,
) -> Option<Merged> {
    let (Some(ac), Some(bc)) = (a.current, b.current) else {
        return a.current.or(b.current).map(|c| Merged {
            record: strip_nulls(c),
            conflicts: Vec::new(),
        });
    };
    // The side whose change is newer, by the systems' clocks: `None` when the two times are
    // within the clocks' tolerated skew of each other, or one is missing (concurrent changes).
    let newer = match (
        a.updated_at.and_then(parse_time),
        b.updated_at.and_then(parse_time),
    ) {
        (Some(x), Some(y)) => {
            let apart = (x - y).abs().to_std().unwrap_or_default();
            (apart > newest.clock_skew || (apart.is_zero() && newest.clock_skew.is_zero()))
                .then_some(if x >= y { Side::A } else { Side::B })
        }
        _ => None,
    };
    // What decides a conflict of a `newest_wins` field: a side, or a person (park).
    let newest_policy = match (newer, newest.within_skew) {
        (Some(Side::A), _) | (None, Concurrent::A) => FieldPolicy::A,
        (Some(Side::B), _) | (None, Concurrent::B) => FieldPolicy::B,
        (None, Concurrent::Park) => FieldPolicy::Park,
    };
    let mut conflicts = Vec::new();
    let mut choose = |policy: FieldPolicy, ptr: &str| -> Option<Value> {
        let (av, bv) = (a.value(ptr), b.value(ptr));
        let (a_ch, b_ch) = (a.changed(ptr), b.changed(ptr));
        let basev = base.and_then(|x| non_null(x.pointer(ptr)));
        let unchanged = || if base.is_some() { basev } else { av.or(bv) };
        let decides = match policy {
            FieldPolicy::Newest => newest_policy,
            p => p,
        };
        if base.is_none() && av != bv {
            let winner = match decides {
                FieldPolicy::A => Some(Side::A),
                FieldPolicy::B => Some(Side::B),
                _ => None,
            };
            // The other side's value as side `w` would store it, against `w`'s own.
            let agrees = |w: Side| match w {
                Side::A => a
                    .other_as_stored
                    .is_some_and(|n| non_null(n.pointer(ptr)) == av),
                Side::B => b
                    .other_as_stored
                    .is_some_and(|n| non_null(n.pointer(ptr)) == bv),
            };
            let kept = match winner {
                Some(w) if agrees(w) => Some(w.other()),
                Some(_) => None,
                None if agrees(Side::B) => Some(Side::A),
                None if agrees(Side::A) => Some(Side::B),
                None => None,
            };
            match kept {
                Some(Side::A) => return fill_empty(av, bv),
                Some(Side::B) => return fill_empty(bv, av),
                None => {}
            }
        }
        if a_ch && b_ch && av != bv {
            // A concurrent change of a newest_wins field parked by `within_skew` is recorded
            // as parked, so that the record waits for a person.
            let recorded = if decides == FieldPolicy::Park {
                decides
            } else {
                policy
            };
            conflicts.push((ptr.to_string(), recorded));
        }
        let pick = match policy {
            FieldPolicy::A if a_ch || base.is_none() => av,
            FieldPolicy::B if b_ch || base.is_none() => bv,
            FieldPolicy::A | FieldPolicy::B => unchanged(),
            FieldPolicy::Newest | FieldPolicy::Park => match (a_ch, b_ch) {
                (true, true) if av == bv => av,
                (true, true) if decides == FieldPolicy::Park => unchanged(),
                (true, true) if decides == FieldPolicy::A => av,
                (true, true) => bv,
                (true, false) => av,
                (false, true) => bv,
                (false, false) => unchanged(),
            },
        };
        pick.map(strip_nulls)
    };
    let mut out = serde_json::Map::new();
    let members: std::collections::BTreeSet<&String> = [ac, bc]
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|m| m.keys())
        .collect();
    for m in members {
        let ptr = format!("/{}", m.replace('~', "~0").replace('/', "~1"));
        if rules.iter().any(|(p, _)| *p == ptr) {
            continue;
        }
        if let Some(v) = choose(default, &ptr) {
            out.insert(m.clone(), v);
        }
    }
    let mut out = Value::Object(out);
    for (ptr, policy) in rules {
        set_pointer(&mut out, ptr, choose(*policy, ptr));
    }
    Some(Merged {
        record: strip_nulls(&out),
        conflicts,
    })
}

/// The fields side `side` wins by the sync's rules, as JSON pointers: its `a_wins`/`b_wins`
/// rules, and, when the default policy is its, the top-level members of `record` no rule names.
fn owned_fields(spec: &SyncSpec, side: Side, record: &Value) -> Vec<String> {
    let mine = if side == Side::A {
        FieldPolicy::A
    } else {
        FieldPolicy::B
    };
    let mut out: Vec<String> = spec
        .rules
        .iter()
        .filter(|(_, p)| *p == mine)
        .map(|(ptr, _)| ptr.clone())
        .collect();
    if spec.default_policy == mine
        && let Some(members) = record.as_object()
    {
        for m in members.keys() {
            let ptr = format!("/{}", m.replace('~', "~0").replace('/', "~1"));
            if !spec.rules.iter().any(|(p, _)| *p == ptr) {
                out.push(ptr);
            }
        }
    }
    out
}

/// `kept` with the leaves it leaves empty (null or absent) filled from `filler`, object members
/// merged member by member; any other value of `kept` stands as it is. Nulls are removed.
/// E.g. `{"name": "伯恩光学"}` filled from `{"name": "伯恩光学(惠州)有限公司", "uscc":
/// "91441300…"}` is `{"name": "伯恩光学", "uscc": "91441300…"}`.
pub fn fill_empty(kept: Option<&Value>, filler: Option<&Value>) -> Option<Value> {
    match (non_null(kept), non_null(filler)) {
        (None, f) => f.map(strip_nulls),
        (Some(Value::Object(k)), Some(Value::Object(f))) => {
            let mut out = serde_json::Map::new();
            let names: std::collections::BTreeSet<&String> = k.keys().chain(f.keys()).collect();
            for n in names {
                if let Some(v) = fill_empty(k.get(n), f.get(n)) {
                    out.insert(n.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        (Some(k), _) => Some(strip_nulls(k)),
    }
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

/// Sets (or with `None` removes) the value at a JSON pointer, creating parent objects.
fn set_pointer(root: &mut Value, ptr: &str, value: Option<Value>) {
    let tokens: Vec<String> = ptr
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut cur = root;
    for t in parents {
        if !cur.is_object() {
            if value.is_none() {
                return;
            }
            *cur = Value::Object(serde_json::Map::new());
        }
        let obj = cur.as_object_mut().expect("made an object above");
        if value.is_none() && !obj.contains_key(t) {
            return;
        }
        cur = obj.entry(t.clone()).or_insert(Value::Null);
    }
    if !cur.is_object() {
        if value.is_none() {
            return;
        }
        *cur = Value::Object(serde_json::Map::new());
    }
    let obj = cur.as_object_mut().expect("made an object above");
    match value {
        Some(v) => {
            obj.insert(last.clone(), v);
        }
        None => {
            obj.remove(last);
        }
    }
}

/// A write intent, sealed in the target side's [`crate::store::SideState::intent`] before the
/// write is sent and cleared by its result (JSON `{"intent": 2, "record": …, "other": …}`, with
/// `"op": "delete"` for a native delete; a store written before version 2 holds the bare
/// record).
#[derive(Debug, Clone, PartialEq)]
struct Intent {
    /// The record being written (schema shape).
    record: Value,
    /// The other side's record when the write was decided, when that side is not written in
    /// the same batch: the record the write's result would have settled it at.
    other: Option<Value>,
    /// A native delete (contract 0.2): `record` is the record it ends, as last seen.
    delete: bool,
}

impl Intent {
    fn to_value(&self) -> Value {
        let mut v = serde_json::json!({ "intent": 2, "record": self.record, "other": self.other });
        if self.delete {
            v["op"] = Value::from("delete");
        }
        v
    }

    fn from_value(v: Value) -> Intent {
        match v {
            Value::Object(mut m) if m.get("intent") == Some(&Value::from(2)) => Intent {
                record: m.remove("record").unwrap_or(Value::Null),
                other: m.remove("other").filter(|o| !o.is_null()),
                delete: m.get("op").and_then(Value::as_str) == Some("delete"),
            },
            record => Intent {
                record,
                other: None,
                delete: false,
            },
        }
    }
}

/// What a write intent left in a system, as far as the record read back can tell: the record
/// as the hub's interrupted write left it there, and whether the write is known to have landed.
#[derive(Debug, Clone, PartialEq)]
struct Recovered {
    /// The record as the write left it (the side's settled record): the read-back, except that
    /// a field the read-back holds in neither the written nor the old record's value takes the
    /// written value, so that the read-back's value counts as a change made after the write.
    settled: Value,
    /// Some field the write was changing holds the written value (or, for a create, the record
    /// is there): the write reached the system.
    landed: bool,
}

/// Matches a read-back to an interrupted write of a record the system held as `old` (`None`:
/// the write was a create); `written` is the record being written as the system stores it (its
/// connector's normal form, contract 0.2; the record itself for a connector without one).
/// Top-level field by field (members of the record):
///
/// - the read-back holds the written value: the hub's write (or a person who set the same
///   value: the same content either way);
/// - it holds the old value of a field the write was changing: the write did not change it (it
///   did not reach the system); the field is unchanged there and the merge sends it again;
/// - a create's read-back holds a field the written record does not have at all (a normal form
///   gives a field the system keeps empty as `null`): the system filled it in when it stored
///   the record (a number it assigns, a date it records);
/// - anything else is a change made after the write (a person's edit between the crash and
///   this read), and the sync's rules merge it like any other change.
///
/// A person who sets a field back to its old value after the write reads as the write not
/// having changed it; `docs/architecture.md` lists what each system can tell apart.
fn recover(old: Option<&Value>, read: &Value, written: &Value) -> Recovered {
    let field = |v: Option<&Value>, m: &str| v.and_then(|v| non_null(v.get(m))).map(strip_nulls);
    let members: std::collections::BTreeSet<&String> = [old, Some(read), Some(written)]
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_object())
        .flat_map(|m| m.keys())
        .collect();
    let mut settled = serde_json::Map::new();
    let mut landed = old.is_none();
    for m in members {
        let (r, i) = (field(Some(read), m), field(Some(written), m));
        let o = field(old, m);
        let value = if r == i {
            landed |= old.is_some() && i != o;
            r
        } else if old.is_some() && r == o {
            r
        } else if old.is_none() && written.get(m).is_none() {
            // A member the written record lacks altogether (not even `null`, which is how a
            // normal form says the system keeps a field empty) is one the system assigns.
            r
        } else {
            i
        };
        if let Some(v) = value {
            settled.insert(m.clone(), v);
        }
    }
    Recovered {
        settled: Value::Object(settled),
        landed,
    }
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
    /// outcome and the run history.
    pub async fn run(&self, spec: &SyncSpec, trigger: &str) -> anyhow::Result<RunOutcome> {
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
        trigger: &str,
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
                            tracing::error!(sync = %lease.sync, "lost the run lease to another process");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(sync = %lease.sync, "cannot renew the run lease: {e:#}")
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
            tracing::warn!(sync = %spec.name, "cannot release the run lease: {e:#}");
        }
        outcome
    }

    async fn run_leased(
        &self,
        spec: &SyncSpec,
        trigger: &str,
        scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<RunOutcome> {
        let started = Instant::now();
        let run_id = self
            .store
            .start_run(&spec.name, trigger, scheduled_for)
            .await?;
        // The run's span (exported as an OpenTelemetry span when `[telemetry]` is set): names and
        // counts only, never a record's values.
        let span = tracing::info_span!(
            "run",
            sync = %spec.name,
            run = run_id,
            trigger,
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
        let mut errors = Vec::new();
        let mut failed = false;
        let mut sessions: HashMap<Side, Connection> = HashMap::new();
        match resumed_from {
            Some(old) => tracing::info!(
                parent: &span,
                trigger,
                resumed_from = old,
                "sync run started; run {old} was interrupted before it finished, and this run goes on from what it committed"
            ),
            None => tracing::info!(parent: &span, trigger, "sync run started"),
        }
        let mut tracker = Tracker::new(self.progress.clone(), &spec.name, run_id);
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
                    tracing::warn!(parent: &span, side = side.as_str(), "{e}");
                    errors.push(e.to_string());
                    failed = true;
                }
            }
        }
        if !failed
            && let Err(e) = self
                .replay(spec, run_id, &mut stats)
                .instrument(span.clone())
                .await
        {
            if let Some(c) = e.crashed() {
                return Err(c.into());
            }
            tracing::warn!(parent: &span, "replaying dead letters failed: {e}");
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
        let troubled = [&stats.a, &stats.b]
            .iter()
            .any(|s| s.invalid + s.rejected + s.conflicts + s.retries > 0);
        let status = if failed {
            RunStatus::Failed
        } else if troubled || !errors.is_empty() {
            RunStatus::Partial
        } else {
            RunStatus::Ok
        };
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        self.store
            .finish_run(
                run_id,
                status.as_str(),
                &serde_json::to_value(&stats)?,
                error.as_deref(),
            )
            .await?;
        tracing::info!(
            parent: &span,
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

    /// Phases 1 and 2: reads each side the sync reads from ([`Engine::stage_side`]), the last
    /// one's batches reconciled as they are staged, then reconciles the keys still pending.
    /// Returns the run's errors (a read or a write that failed; keys deferred to the next run)
    /// and whether the run failed (a read or a write did; deferred keys leave it partial).
    /// `Err` only when the run stopped at a crash point.
    async fn stage_and_reconcile(
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
            tracing::info!(parent: span, side = target.as_str(), "the target was never read (a new or lost state store): reading what it holds once, to link its records by natural key before writing");
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
                tracing::warn!(parent: span, side = target.as_str(), "reading what the target holds failed; its records are written as upserts by natural key: {e}");
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
            tracing::warn!(parent: span, "reading back what an interrupted resync wrote failed: {e}");
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
                    tracing::warn!(parent: span, "reconcile failed: {e}");
                    errors.push(format!("write: {e}"));
                    return Ok((errors, true));
                }
                tracing::warn!(parent: span, side = side.as_str(), "read failed: {e}");
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
                tracing::warn!(parent: span, "reconcile failed: {e}");
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
    async fn target_to_discover(&self, spec: &SyncSpec) -> Option<Side> {
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

    /// Phase 1 for one side: read every batch from the cursor and stage it; with `fuse`, each
    /// batch is reconciled as soon as it is staged ([`Engine::reconcile_links`]).
    #[allow(clippy::too_many_arguments)]
    async fn stage_side(
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
            let batch_span = tracing::debug_span!("batch", side = side.as_str());
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

    /// Replays the dead letters of `spec` an operator asked for (`hub dead-letters replay`, the
    /// admin API), after a fix: a record a system refused (`write`) is written again by this
    /// run; a record that was invalid as read (`read`) is validated again and, valid now, staged
    /// as if just read (the sealed copy is used: nothing is fetched again). Every replay is
    /// appended to the dead letter's history; one that went through closes it (`replayed`).
    /// Returns how many went through.
    async fn replay(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        stats: &mut RunStats,
    ) -> Result<u64, RunError> {
        let mut through = 0;
        for r in self.store.replay_requests(&spec.name).await? {
            let mut pending = None;
            let result = match (r.stage.as_str(), &r.key_hash) {
                ("write", Some(key_hash)) => {
                    pending = Some(key_hash.as_str());
                    Ok("queued: written again by this run".to_string())
                }
                ("write", None) => Err("not replayed: the record had no key".to_string()),
                _ => {
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
            tracing::info!(sync = %spec.name, dead_letter = r.id, "replay: {text}");
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

    /// Validates and stages records read from `side` (a batch of a read, or replayed dead
    /// letters), committing their links, dead letters, audit entries and, if given, the
    /// side's new cursor in one transaction; with `fuse` (and the run's `sessions`), the
    /// batch's links are reconciled at once and that transaction is the batch's first
    /// ([`Engine::reconcile_links`]).
    #[allow(clippy::too_many_arguments)]
    async fn stage_batch(
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
                    "read",
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
        let fixed: Vec<String> = staged
            .iter()
            .filter(|st| dead_keys.contains(st.key_hash.as_str()))
            .map(|st| st.key_hash.clone())
            .collect();
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
            tracing::info!(sync = %spec.name, side = side.as_str(), closed = n, "dead letters closed: a valid copy of their record was read");
        }
        Ok(())
    }

    /// The interrupted writes to `side` that this batch reads back (links holding an intent for
    /// `side`), by key hash: each intent, and its record as the system would store it (the
    /// connector's normal form, contract 0.2; the record itself for a connector that does not
    /// say, or when no session is at hand).
    async fn recovering(
        &self,
        spec: &SyncSpec,
        side: Side,
        staged: &[Staged],
        links: &HashMap<String, Link>,
        session: Option<&mut Connection>,
    ) -> HashMap<String, (Intent, Value)> {
        let intents: Vec<(String, Intent)> = staged
            .iter()
            .filter_map(|st| {
                let intent = links.get(&st.key_hash)?.side(side).intent.as_ref()?;
                let v = serde_json::from_slice(intent).ok()?;
                Some((st.key_hash.clone(), Intent::from_value(v)))
            })
            .collect();
        if intents.is_empty() {
            return HashMap::new();
        }
        let records: Vec<&Value> = intents.iter().map(|(_, i)| &i.record).collect();
        let normal: Vec<Value> = match self.normal_forms(spec, side, session, &records).await {
            Some(n) => n,
            None => intents.iter().map(|(_, i)| i.record.clone()).collect(),
        };
        intents
            .into_iter()
            .zip(normal)
            .map(|((k, i), n)| (k, (i, n)))
            .collect()
    }

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

    /// Stages one valid record read from `side` into its link. Returns what an interrupted
    /// write had asked if this read is recognised as that write's result (to be audited): an
    /// interrupted native delete is recognised by the record read back deleted.
    fn stage_record(
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
    fn stage_read(
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

    /// Records the read-back of an interrupted write that reached `side`: the side now holds
    /// the read-back, as the write left it `settled` (what differs from that is a change made
    /// after the write, and the key waits to be merged); the other side, if the write was
    /// carrying its record, is settled at that record, and the base is the intent, as the
    /// write's recorded result would have left them.
    #[allow(clippy::too_many_arguments)]
    fn settle_recovered(
        &self,
        link: &mut Link,
        side: Side,
        hash: String,
        read: Vec<u8>,
        settled: Value,
        intent: Intent,
        s: &mut SideStats,
    ) {
        let settled_hash = self.keys.content_hash(&settled);
        let edited = settled_hash != hash;
        s.recovered += 1;
        let ss = link.side_mut(side);
        ss.snapshot = Some(read);
        ss.hash = Some(hash);
        ss.written_hash = None;
        ss.settled = edited.then(|| plain(&settled));
        ss.settled_hash = Some(settled_hash);
        if edited {
            s.changed += 1;
            link.pending = true;
        } else {
            s.echoes += 1;
        }
        let other = side.other();
        if let Some(record) = intent.other.filter(|_| link.side(other).intent.is_none()) {
            let h = self.keys.content_hash(&record);
            let os = link.side_mut(other);
            os.settled = (os.hash.as_deref() != Some(h.as_str())).then(|| plain(&record));
            os.settled_hash = Some(h);
        }
        link.base = Some(plain(&intent.record));
    }

    #[allow(clippy::too_many_arguments)]
    fn dead_letter(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        side: Side,
        stage: &'static str,
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

    /// Opens a link read from the store ([`link_seal::unseal`]). Errors: a sealed value that
    /// does not open with this state key, as a store error.
    fn unseal(&self, sync: &str, link: &mut Link) -> Result<(), RunError> {
        link_seal::unseal(&self.keys, sync, link).map_err(|e| RunError::Store(e.into()))
    }

    /// Parses a link's record (canonical JSON, as [`plain`] wrote it).
    fn parse(&self, bytes: &[u8]) -> Result<Value, RunError> {
        serde_json::from_slice(bytes)
            .map_err(|e| RunError::Store(anyhow::anyhow!("a record of a link is not JSON: {e}")))
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
