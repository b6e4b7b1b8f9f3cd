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
//! 2. **Reconcile.** Every pending key is merged field by field from the two sides' snapshots
//!    and the last merged record (the common ancestor): a field owned by one side takes that
//!    side's value; a `newest` field takes the side that changed it, or the later update time if
//!    both did (ties go to `a`). The merged record is written (an upsert by natural key) to every
//!    side it flows to whose content differs; each result updates the side's snapshot with the
//!    record as the system stores it, so the next read of it is recognised as an echo. Conflicts
//!    and transient failures keep the key pending for the next run; permanent refusals become
//!    dead letters.
//!
//! A side's soft delete is kept as a tombstone: the hub never writes to that side's record again
//! (no resurrection) and does not propagate the delete.

use crate::config::{Direction, FieldPolicy};
use crate::keys::{Keys, strip_nulls};
use crate::runtime::{Plugin, PluginError, Session, TargetRecord, WriteResult};
use crate::schema::{Schema, Violation};
use crate::store::{Commit, Link, NewDeadLetter, Side, Store};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

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
    /// Records per read or write call.
    pub batch_size: u32,
}

impl SyncSpec {
    fn endpoint(&self, side: Side) -> &EndpointSpec {
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
    /// Records read.
    pub read: u64,
    /// Read but outside the sync's `where`.
    pub filtered: u64,
    /// Read but invalid (dead letters).
    pub invalid: u64,
    /// Read with the content already known.
    pub unchanged: u64,
    /// Read back exactly as the hub wrote them (echo suppressed).
    pub echoes: u64,
    /// Read with new content.
    pub changed: u64,
    /// Read as deleted for the first time (tombstones).
    pub deleted: u64,
    /// Records created here.
    pub created: u64,
    /// Records updated here.
    pub updated: u64,
    /// Writes the connector found unnecessary.
    pub unchanged_writes: u64,
    /// Writes refused by optimistic concurrency (retried next run).
    pub conflicts: u64,
    /// Writes refused for good (dead letters).
    pub rejected: u64,
    /// Writes that failed transiently (retried next run).
    pub retries: u64,
}

impl SideStats {
    /// Records written (created + updated).
    pub fn written(&self) -> u64 {
        self.created + self.updated
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Endpoint `a`.
    pub a: SideStats,
    /// Endpoint `b`.
    pub b: SideStats,
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
}

/// Runs syncs against a state store.
#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    keys: Keys,
}

/// A failure that ends a phase of the run.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("state store: {0:#}")]
    Store(#[from] anyhow::Error),
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

fn seal_context(sync: &str, key_hash: &str, what: &str) -> String {
    format!("{sync}/{key_hash}/{what}")
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

fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// Merges the two sides' records field by field (see the module docs). `base` is the last
/// merged record; `a_at`/`b_at` the sides' update times (RFC 3339).
pub fn merge(
    a: Option<&Value>,
    b: Option<&Value>,
    base: Option<&Value>,
    a_at: Option<&str>,
    b_at: Option<&str>,
    rules: &[(String, FieldPolicy)],
    default: FieldPolicy,
) -> Option<Value> {
    let (a, b) = match (a, b) {
        (None, None) => return None,
        (Some(x), None) | (None, Some(x)) => return Some(strip_nulls(x)),
        (Some(a), Some(b)) => (a, b),
    };
    let a_newer = match (a_at.and_then(parse_time), b_at.and_then(parse_time)) {
        (Some(x), Some(y)) => x >= y,
        _ => true,
    };
    let choose = |policy: FieldPolicy, ptr: &str| -> Option<Value> {
        let av = non_null(a.pointer(ptr));
        let bv = non_null(b.pointer(ptr));
        let pick = match policy {
            FieldPolicy::A => av,
            FieldPolicy::B => bv,
            FieldPolicy::Newest if av == bv => av,
            FieldPolicy::Newest => {
                let basev = base.and_then(|x| non_null(x.pointer(ptr)));
                let a_changed = base.is_none() || av != basev;
                let b_changed = base.is_none() || bv != basev;
                match (a_changed, b_changed) {
                    (true, false) => av,
                    (false, true) => bv,
                    _ if a_newer => av,
                    _ => bv,
                }
            }
        };
        pick.map(strip_nulls)
    };
    let mut out = serde_json::Map::new();
    let members: std::collections::BTreeSet<&String> =
        a.as_object().into_iter().chain(b.as_object()).flat_map(|m| m.keys()).collect();
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
    Some(strip_nulls(&out))
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// Sets (or with `None` removes) the value at a JSON pointer, creating parent objects.
fn set_pointer(root: &mut Value, ptr: &str, value: Option<Value>) {
    let tokens: Vec<String> = ptr.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    let Some((last, parents)) = tokens.split_last() else { return };
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

fn matches_filter(data: &Value, filter: &[(String, Value)]) -> bool {
    filter.iter().all(|(ptr, want)| data.pointer(ptr) == Some(want))
}

impl Engine {
    /// An engine over a store, with the state keys.
    pub fn new(store: Store, keys: Keys) -> Engine {
        Engine { store, keys }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs a sync once. Never panics on bad data or a failing plugin: failures end up in the
    /// outcome and the run history.
    pub async fn run(&self, spec: &SyncSpec, trigger: &str) -> anyhow::Result<RunOutcome> {
        let started = Instant::now();
        let run_id = self.store.start_run(&spec.name, trigger).await?;
        let span = tracing::info_span!("run", sync = %spec.name, run = run_id);
        let mut stats = RunStats::default();
        let mut errors = Vec::new();
        let mut failed = false;
        let mut sessions: HashMap<Side, Session> = HashMap::new();
        {
            let _e = span.enter();
            tracing::info!(trigger, "sync run started");
        }
        for &side in spec.read_sides().iter().chain(spec.write_sides()) {
            if sessions.contains_key(&side) {
                continue;
            }
            match spec.endpoint(side).plugin.session().await {
                Ok(s) => {
                    sessions.insert(side, s);
                }
                Err(e) => {
                    errors.push(e.to_string());
                    failed = true;
                }
            }
        }
        if !failed {
            for &side in spec.read_sides() {
                let session = sessions.get_mut(&side).expect("opened above");
                if let Err(e) = self.stage_side(spec, run_id, side, session, &mut stats).await {
                    tracing::warn!(parent: &span, side = side.as_str(), "read failed: {e}");
                    errors.push(format!("read {}: {e}", side.as_str()));
                    failed = true;
                }
            }
            if let Err(e) = self.reconcile(spec, run_id, &mut sessions, &mut stats, &mut errors).await {
                tracing::warn!(parent: &span, "reconcile failed: {e}");
                errors.push(format!("write: {e}"));
                failed = true;
            }
        }
        stats.pending = self.store.link_counts(&spec.name).await.map(|(_, p)| p as u64).unwrap_or(0);
        stats.duration_ms = started.elapsed().as_millis() as u64;
        let troubled = [&stats.a, &stats.b].iter().any(|s| s.invalid + s.rejected + s.conflicts + s.retries > 0);
        let status = if failed {
            RunStatus::Failed
        } else if troubled || !errors.is_empty() {
            RunStatus::Partial
        } else {
            RunStatus::Ok
        };
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        self.store.finish_run(run_id, status.as_str(), &serde_json::to_value(&stats)?, error.as_deref()).await?;
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
        Ok(RunOutcome { run_id, sync: spec.name.clone(), status, stats, errors })
    }

    /// Phase 1 for one side: read every batch from the cursor and stage it.
    async fn stage_side(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        side: Side,
        session: &mut Session,
        stats: &mut RunStats,
    ) -> Result<(), RunError> {
        let ep = spec.endpoint(side);
        let mut cursor = self.store.cursor(&spec.name, side).await?;
        let mut idle = 0;
        loop {
            let batch = session.read(&ep.stream, cursor.as_deref(), spec.batch_size).await?;
            let n = batch.records.len();
            let mut staged: Vec<Staged> = Vec::with_capacity(n);
            let mut dead = Vec::new();
            for rec in batch.records {
                let s = stats.side(side);
                s.read += 1;
                let data: Value = match serde_json::from_str(&rec.data) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        s.invalid += 1;
                        dead.push(self.dead_letter(spec, run_id, side, "read", None, Some(rec.remote_id), None, vec![Violation {
                            pointer: String::new(),
                            message: "the connector returned a record that is not a JSON object".into(),
                        }]));
                        continue;
                    }
                };
                if !matches_filter(&data, &ep.filter) {
                    s.filtered += 1;
                    continue;
                }
                let mut violations = spec.schema.validate(&data);
                let key_values: Vec<&Value> = spec.key.iter().filter_map(|p| non_null(data.pointer(p))).collect();
                if key_values.len() != spec.key.len() {
                    violations.push(Violation { pointer: spec.key.join(","), message: "the record has no natural key".into() });
                }
                if !violations.is_empty() {
                    s.invalid += 1;
                    let masked = (!key_values.is_empty()).then(|| mask_key(&key_values));
                    dead.push(self.dead_letter(spec, run_id, side, "read", masked, Some(rec.remote_id), Some(&data), violations));
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
            let keys: Vec<String> = staged.iter().map(|s| s.key_hash.clone()).collect();
            let mut links: HashMap<String, Link> =
                self.store.links(&spec.name, &keys).await?.into_iter().map(|l| (l.key_hash.clone(), l)).collect();
            let mut touched: Vec<String> = Vec::new();
            for st in staged {
                let link = links.entry(st.key_hash.clone()).or_insert_with(|| Link::new(st.key_hash.clone()));
                if !touched.contains(&st.key_hash) {
                    touched.push(st.key_hash.clone());
                }
                let s = stats.side(side);
                let ss = link.side_mut(side);
                if !st.remote_id.is_empty() {
                    ss.remote_id = Some(st.remote_id);
                }
                ss.version = st.version;
                ss.updated_at = st.updated_at;
                if st.deleted && !ss.deleted {
                    s.deleted += 1;
                }
                ss.deleted = st.deleted;
                if ss.hash.as_deref() == Some(st.hash.as_str()) {
                    if ss.written_hash.take().as_deref() == Some(st.hash.as_str()) {
                        s.echoes += 1;
                    } else {
                        s.unchanged += 1;
                    }
                } else {
                    s.changed += 1;
                    ss.snapshot = Some(self.keys.seal_json(&seal_context(&spec.name, &st.key_hash, side.as_str()), &st.data));
                    ss.hash = Some(st.hash);
                    ss.written_hash = None;
                    link.pending = true;
                    link.attempts = 0;
                    link.last_error = None;
                }
            }
            let changed: Vec<Link> = touched.iter().filter_map(|k| links.remove(k)).collect();
            let next = batch.cursor.or(cursor.clone());
            self.store
                .commit(&spec.name, Commit { links: &changed, dead_letters: &dead, cursor: Some((side, next.as_deref())) })
                .await?;
            if !batch.more {
                return Ok(());
            }
            idle = if n == 0 && next == cursor { idle + 1 } else { 0 };
            if idle >= 3 {
                return Err(RunError::Plugin(PluginError::Connector {
                    plugin: ep.plugin.name.clone(),
                    call: "read",
                    kind: "contract",
                    message: "reports more records three times without returning any or moving its cursor".into(),
                }));
            }
            cursor = next;
        }
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
            None => self.keys.content_hash(&Value::String(remote_id.clone().unwrap_or_default())),
        };
        let key_hash = data.and_then(|d| {
            let vals: Vec<&Value> = spec.key.iter().filter_map(|p| non_null(d.pointer(p))).collect();
            (vals.len() == spec.key.len()).then(|| self.keys.key_hash(&vals))
        });
        let record = data.map(|d| self.keys.seal_json(&format!("dead-letter/{}/{}/{record_hash}", spec.name, side.as_str()), d));
        NewDeadLetter { run_id, side, stage, key_hash, key_masked, remote_id, record_hash, errors, record }
    }

    fn open_side(&self, sync: &str, link: &Link, side: Side) -> Result<Option<Value>, RunError> {
        let s = link.side(side);
        match &s.snapshot {
            Some(sealed) if !s.deleted => Ok(Some(
                self.keys
                    .open_json(&seal_context(sync, &link.key_hash, side.as_str()), sealed)
                    .map_err(|e| RunError::Store(e.into()))?,
            )),
            _ => Ok(None),
        }
    }

    /// Records a successful write on side `t`: the system's id and version, and the record as
    /// it now holds it (`stored`, or what was sent), whose hash marks the coming read-back as
    /// an echo when the hub actually wrote (`wrote`).
    fn apply_written(&self, sync: &str, link: &mut Link, t: Side, w: crate::runtime::Written, sent: Option<&Value>, wrote: bool) {
        let sent = sent.expect("only merged records are written");
        let stored = match w.stored.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(v @ Value::Object(_))) => v,
            Some(_) => {
                tracing::warn!(sync, side = t.as_str(), "connector returned a stored record that is not a JSON object; assuming it stores what was sent");
                sent.clone()
            }
            None => sent.clone(),
        };
        let h = self.keys.content_hash(&stored);
        let snapshot = self.keys.seal_json(&seal_context(sync, &link.key_hash, t.as_str()), &stored);
        let ss = link.side_mut(t);
        if !w.remote_id.is_empty() {
            ss.remote_id = Some(w.remote_id);
        }
        if w.version.is_some() || wrote {
            ss.version = w.version;
        }
        ss.snapshot = Some(snapshot);
        ss.hash = Some(h.clone());
        if wrote {
            ss.written_hash = Some(h);
            ss.updated_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
    }

    /// Phase 2: merge and write every pending key.
    async fn reconcile(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        sessions: &mut HashMap<Side, Session>,
        stats: &mut RunStats,
        errors: &mut Vec<String>,
    ) -> Result<(), RunError> {
        let mut after: Option<String> = None;
        loop {
            let mut links = self.store.pending(&spec.name, after.as_deref(), spec.batch_size).await?;
            let Some(last) = links.last() else { return Ok(()) };
            after = Some(last.key_hash.clone());
            let mut merged: Vec<Option<Value>> = Vec::with_capacity(links.len());
            let mut dead = Vec::new();
            // Per target side: (link index, record to write).
            let mut writes: HashMap<Side, Vec<(usize, TargetRecord)>> = HashMap::new();
            for (i, link) in links.iter_mut().enumerate() {
                let a = self.open_side(&spec.name, link, Side::A)?;
                let b = self.open_side(&spec.name, link, Side::B)?;
                let base = match &link.base {
                    Some(sealed) => Some(
                        self.keys
                            .open_json(&seal_context(&spec.name, &link.key_hash, "base"), sealed)
                            .map_err(|e| RunError::Store(e.into()))?,
                    ),
                    None => None,
                };
                let m = merge(
                    a.as_ref(),
                    b.as_ref(),
                    base.as_ref(),
                    link.a.updated_at.as_deref(),
                    link.b.updated_at.as_deref(),
                    &spec.rules,
                    spec.default_policy,
                );
                let Some(m) = m else {
                    link.pending = false;
                    merged.push(None);
                    continue;
                };
                let violations = spec.schema.validate(&m);
                if !violations.is_empty() {
                    let side = spec.write_sides()[0];
                    let key_values: Vec<&Value> = spec.key.iter().filter_map(|p| non_null(m.pointer(p))).collect();
                    stats.side(side).rejected += 1;
                    dead.push(self.dead_letter(spec, run_id, side, "write", Some(mask_key(&key_values)), None, Some(&m), violations));
                    link.pending = false;
                    merged.push(None);
                    continue;
                }
                let hash = self.keys.content_hash(&m);
                let data = m.to_string();
                for &t in spec.write_sides() {
                    let ts = link.side(t);
                    if ts.deleted || ts.hash.as_deref() == Some(hash.as_str()) {
                        continue;
                    }
                    let current = if t == Side::A { a.as_ref() } else { b.as_ref() };
                    writes.entry(t).or_default().push((
                        i,
                        TargetRecord {
                            data: data.clone(),
                            remote_id: ts.remote_id.clone(),
                            version: ts.version.clone(),
                            current: current.map(Value::to_string),
                        },
                    ));
                }
                merged.push(Some(m));
            }
            let mut unsettled = vec![false; links.len()];
            let mut abort = None;
            for &t in spec.write_sides() {
                let Some(batch) = writes.remove(&t) else { continue };
                let Some(session) = sessions.get_mut(&t) else { continue };
                let records: Vec<TargetRecord> = batch.iter().map(|(_, r)| r.clone()).collect();
                let results = match session.write(&spec.endpoint(t).stream, &records).await {
                    Ok(r) => r,
                    Err(e) => {
                        for (i, _) in &batch {
                            unsettled[*i] = true;
                            links[*i].attempts += 1;
                            links[*i].last_error = Some(e.to_string());
                        }
                        abort = Some(e);
                        continue;
                    }
                };
                for ((i, rec), result) in batch.into_iter().zip(results) {
                    let link = &mut links[i];
                    let s = stats.side(t);
                    match result {
                        WriteResult::Created(w) => {
                            s.created += 1;
                            self.apply_written(&spec.name, link, t, w, merged[i].as_ref(), true);
                        }
                        WriteResult::Updated(w) => {
                            s.updated += 1;
                            self.apply_written(&spec.name, link, t, w, merged[i].as_ref(), true);
                        }
                        WriteResult::Unchanged(w) => {
                            s.unchanged_writes += 1;
                            self.apply_written(&spec.name, link, t, w, merged[i].as_ref(), false);
                        }
                        WriteResult::Conflict(msg) => {
                            s.conflicts += 1;
                            unsettled[i] = true;
                            link.attempts += 1;
                            link.last_error = Some(format!("conflict on {}: {msg}", t.as_str()));
                        }
                        WriteResult::Retry(msg) => {
                            s.retries += 1;
                            unsettled[i] = true;
                            link.attempts += 1;
                            link.last_error = Some(format!("retry on {}: {msg}", t.as_str()));
                        }
                        WriteResult::Rejected(rej) => {
                            s.rejected += 1;
                            let m = merged[i].as_ref().expect("written records were merged");
                            let key_values: Vec<&Value> = spec.key.iter().filter_map(|p| non_null(m.pointer(p))).collect();
                            dead.push(self.dead_letter(
                                spec,
                                run_id,
                                t,
                                "write",
                                Some(mask_key(&key_values)),
                                rec.remote_id.clone(),
                                Some(m),
                                vec![Violation { pointer: rej.pointer.unwrap_or_default(), message: rej.reason }],
                            ));
                        }
                    }
                }
            }
            for (i, link) in links.iter_mut().enumerate() {
                if unsettled[i] {
                    continue;
                }
                if let Some(m) = &merged[i] {
                    link.base = Some(self.keys.seal_json(&seal_context(&spec.name, &link.key_hash, "base"), m));
                }
                link.pending = false;
                link.attempts = 0;
                link.last_error = None;
            }
            self.store.commit(&spec.name, Commit { links: &links, dead_letters: &dead, cursor: None }).await?;
            if let Some(e) = abort {
                errors.push(e.to_string());
                return Err(e.into());
            }
        }
    }
}
