//! The reconciliation report (`hub reconcile NAME`, `GET /api/syncs/{name}/reconcile`, the page
//! `/syncs/{name}/reconcile`): do the two systems of a sync agree today?
//!
//! Both sides are read whole, from the beginning (no cursor), through every batch, with the
//! sessions and checks a run uses ([`Plugin::connect`], [`Connection::read`]); each record is
//! filtered by its side's `where`, validated against the sync's schema and keyed by its natural
//! key as a run does ([`key_of`], hashed under the state key, masked for people with
//! [`mask_key`]). Keys held by both sides are compared **under each system's coding**: two
//! records are equal when side `b` would store `a`'s record exactly as `b` holds its own, or
//! `a` would store `b`'s as `a` holds its own (the connectors' normal forms, contract 0.2,
//! [`Engine::normal_forms`]; the test is the one a run uses to decide that a side needs no
//! write, [`reconcile::same_under_coding`]). Otherwise the report names the top-level fields
//! that differ, never their values.
//!
//! Nothing is written: no `write` call reaches a system, and the state store is only read (the
//! open dead letters and the parked conflicts are counted; no run row, cursor, audit entry or
//! dead letter is made). No lease is taken, so a report can be made while the daemon runs.

use super::reconcile::same_under_coding;
use super::*;
use std::collections::BTreeMap;

/// What one side of a sync held when the report read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReconcileSide {
    /// The plugin (the system) at this end, a key of `[plugins]`.
    pub plugin: String,
    /// Its stream.
    pub stream: String,
    /// Records read (every batch from the beginning).
    pub read: u64,
    /// Read but outside the sync's `where` for this side: not compared.
    pub outside_filter: u64,
    /// Within the filter but breaking the schema or without a natural key: not compared
    /// (counted in [`ReconcileCounts::invalid`]).
    pub invalid: u64,
    /// Soft-deleted in the system (the connector's `deleted` flag): not compared (counted in
    /// [`ReconcileCounts::ended`]).
    pub deleted: u64,
    /// Records with a natural key another record of this side already had (the later one is
    /// compared).
    pub duplicate_keys: u64,
}

/// The report's counts: each key within the filter falls in exactly one of `equal`,
/// `different`, `only_a`, `only_b` and `ended`; `invalid` counts records (of either side)
/// that could not be keyed or validated; `dead_letters` and `parked` are what the state store
/// holds open for the sync (they may name records counted above).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct ReconcileCounts {
    /// In both systems and equal under each system's coding.
    pub equal: u64,
    /// In both systems and different (see [`ReconcileRecord::fields`]).
    pub different: u64,
    /// Only in system `a`.
    pub only_a: u64,
    /// Only in system `b`.
    pub only_b: u64,
    /// Records read now that break the schema or have no natural key (both sides): a category
    /// of its own, beside the dead letters a run recorded.
    pub invalid: u64,
    /// Keys soft-deleted on at least one side (an ended record; not compared).
    pub ended: u64,
    /// Open dead letters of the sync in the state store (`hub dead-letters list`).
    pub dead_letters: u64,
    /// Open conflicts of kind `park` of the sync in the state store: keys waiting for a person.
    pub parked: u64,
}

/// How a listed record stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileKind {
    /// In both systems, different under both systems' codings.
    Different,
    /// Only in system `a` (within its filter).
    OnlyA,
    /// Only in system `b` (within its filter).
    OnlyB,
    /// Read within the filter but invalid (fields: the JSON pointers that break the schema).
    Invalid,
}

impl ReconcileKind {
    /// `different`, `only_a`, `only_b` or `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileKind::Different => "different",
            ReconcileKind::OnlyA => "only_a",
            ReconcileKind::OnlyB => "only_b",
            ReconcileKind::Invalid => "invalid",
        }
    }

    /// For people, Chinese and English.
    pub fn label(self) -> &'static str {
        match self {
            ReconcileKind::Different => "不同 different",
            ReconcileKind::OnlyA => "仅在 a only in a",
            ReconcileKind::OnlyB => "仅在 b only in b",
            ReconcileKind::Invalid => "无效 invalid",
        }
    }
}

/// A record the two systems do not agree on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReconcileRecord {
    /// How it stands.
    pub kind: ReconcileKind,
    /// The natural key, masked ([`mask_key`]); `None` for an invalid record without a key.
    pub key_masked: Option<String>,
    /// System `a`'s own id of the record (its remote id), if `a` holds it.
    pub a_id: Option<String>,
    /// System `b`'s own id of the record, if `b` holds it.
    pub b_id: Option<String>,
    /// `different`: the top-level fields that differ (names only, sorted); `invalid`: the
    /// JSON pointers that break the schema; otherwise empty.
    pub fields: Vec<String>,
}

/// The reconciliation report of one sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// The sync.
    pub sync: String,
    /// When the report was made (RFC 3339, UTC).
    pub checked_at: String,
    /// How long reading and comparing took, in milliseconds.
    pub duration_ms: u64,
    /// System `a`.
    pub a: ReconcileSide,
    /// System `b`.
    pub b: ReconcileSide,
    /// The counts.
    pub counts: ReconcileCounts,
    /// The records the systems do not agree on (different, only on one side, invalid), by
    /// kind then masked key.
    pub records: Vec<ReconcileRecord>,
}

/// A record of one side, kept for the comparison: as its canonical JSON text (a third or less
/// of the memory of a parsed record; parsed again only when the two sides differ as read) and
/// its content hash under the state keys ([`Keys::content_hash`], nulls left out), which a run
/// also uses to tell an unchanged record.
#[derive(Debug, Clone)]
struct Held {
    masked: String,
    remote_id: String,
    text: Box<str>,
    hash: String,
    deleted: bool,
}

impl Held {
    fn data(&self) -> Value {
        serde_json::from_str(&self.text).expect("canonical JSON written by the report")
    }
}

/// One side read whole: its counts, its records by key hash, its invalid records.
struct SideRead {
    side: ReconcileSide,
    records: HashMap<String, Held>,
    invalid: Vec<ReconcileRecord>,
}

impl SideRead {
    fn new(ep: &EndpointSpec) -> SideRead {
        SideRead {
            side: ReconcileSide {
                plugin: ep.plugin.name.clone(),
                stream: ep.stream.clone(),
                read: 0,
                outside_filter: 0,
                invalid: 0,
                deleted: 0,
                duplicate_keys: 0,
            },
            records: HashMap::new(),
            invalid: Vec::new(),
        }
    }
}

/// The top-level fields on which two records differ (members holding null count as absent),
/// sorted.
fn differing_fields(x: &Value, y: &Value) -> Vec<String> {
    let (x, y) = (strip_nulls(x), strip_nulls(y));
    let empty = serde_json::Map::new();
    let xm = x.as_object().unwrap_or(&empty);
    let ym = y.as_object().unwrap_or(&empty);
    let mut names: Vec<String> = xm
        .keys()
        .chain(ym.keys())
        .filter(|k| xm.get(*k) != ym.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// How a key held by both sides compares, given each side's record and the other side's
/// record as this side would store it (`a_as_b`: `a`'s record in `b`'s normal form; the record
/// itself when `b`'s connector does not say): `None` when equal under either coding, else the
/// differing top-level fields: those differing under both codings, or, should none differ
/// under both, under either.
fn compare_pair(a: &Value, b: &Value, a_as_b: &Value, b_as_a: &Value) -> Option<Vec<String>> {
    if same_under_coding(a_as_b, b) || same_under_coding(b_as_a, a) {
        return None;
    }
    let under_b = differing_fields(a_as_b, b);
    let under_a = differing_fields(b_as_a, a);
    let both: Vec<String> = under_b
        .iter()
        .filter(|f| under_a.contains(f))
        .cloned()
        .collect();
    if !both.is_empty() {
        return Some(both);
    }
    let mut either: Vec<String> = under_b.into_iter().chain(under_a).collect();
    either.sort();
    either.dedup();
    Some(either)
}

impl Engine {
    /// The reconciliation report of `spec` (see the module's documentation): reads both sides
    /// whole through new connector sessions, compares them key by key under each system's
    /// coding, and counts the open dead letters and parked conflicts in the state store.
    /// Writes nothing anywhere and takes no lease.
    ///
    /// # Errors
    /// A connector that cannot connect or whose `read` fails (the report needs every record),
    /// or a state store that cannot be read.
    pub async fn reconciliation(&self, spec: &SyncSpec) -> anyhow::Result<Reconciliation> {
        let started = Instant::now();
        let checked_at = now_rfc3339();
        let mut sessions: HashMap<Side, Connection> = HashMap::new();
        for side in [Side::A, Side::B] {
            sessions.insert(side, spec.endpoint(side).plugin.connect().await?);
        }
        let mut read = Vec::with_capacity(2);
        for side in [Side::A, Side::B] {
            let session = sessions.get_mut(&side).expect("connected above");
            read.push(self.read_whole(spec, side, session).await?);
        }
        let b = read.pop().expect("two sides");
        let a = read.pop().expect("two sides");
        let mut counts = ReconcileCounts {
            invalid: a.side.invalid + b.side.invalid,
            ..ReconcileCounts::default()
        };
        let mut records: Vec<ReconcileRecord> = Vec::new();
        // Keys held live by both sides, compared below; the rest are counted now.
        let mut pairs: Vec<(&Held, &Held)> = Vec::new();
        for (k, ha) in &a.records {
            match b.records.get(k) {
                Some(hb) if ha.deleted || hb.deleted => counts.ended += 1,
                Some(hb) => pairs.push((ha, hb)),
                None if ha.deleted => counts.ended += 1,
                None => {
                    counts.only_a += 1;
                    records.push(ReconcileRecord {
                        kind: ReconcileKind::OnlyA,
                        key_masked: Some(ha.masked.clone()),
                        a_id: Some(ha.remote_id.clone()),
                        b_id: None,
                        fields: Vec::new(),
                    });
                }
            }
        }
        for (k, hb) in &b.records {
            if a.records.contains_key(k) {
                continue;
            }
            if hb.deleted {
                counts.ended += 1;
                continue;
            }
            counts.only_b += 1;
            records.push(ReconcileRecord {
                kind: ReconcileKind::OnlyB,
                key_masked: Some(hb.masked.clone()),
                a_id: None,
                b_id: Some(hb.remote_id.clone()),
                fields: Vec::new(),
            });
        }
        // Equal as read (the same content hash) needs no connector; the others are compared in
        // each system's coding.
        let unequal: Vec<(&Held, &Held)> = pairs
            .into_iter()
            .filter(|(ha, hb)| {
                let same = ha.hash == hb.hash;
                counts.equal += u64::from(same);
                !same
            })
            .collect();
        let chunk = (spec.batch_size as usize).max(1);
        for part in unequal.chunks(chunk) {
            let a_data: Vec<Value> = part.iter().map(|(ha, _)| ha.data()).collect();
            let b_data: Vec<Value> = part.iter().map(|(_, hb)| hb.data()).collect();
            let a_recs: Vec<&Value> = a_data.iter().collect();
            let b_recs: Vec<&Value> = b_data.iter().collect();
            let a_as_b = self
                .normal_forms(spec, Side::B, sessions.get_mut(&Side::B), &a_recs)
                .await;
            let b_as_a = self
                .normal_forms(spec, Side::A, sessions.get_mut(&Side::A), &b_recs)
                .await;
            for (i, (ha, hb)) in part.iter().enumerate() {
                let ab = a_as_b.as_ref().map_or(&a_data[i], |f| &f[i]);
                let ba = b_as_a.as_ref().map_or(&b_data[i], |f| &f[i]);
                match compare_pair(&a_data[i], &b_data[i], ab, ba) {
                    None => counts.equal += 1,
                    Some(fields) => {
                        counts.different += 1;
                        records.push(ReconcileRecord {
                            kind: ReconcileKind::Different,
                            key_masked: Some(ha.masked.clone()),
                            a_id: Some(ha.remote_id.clone()),
                            b_id: Some(hb.remote_id.clone()),
                            fields,
                        });
                    }
                }
            }
        }
        let a_side = a.side;
        let b_side = b.side;
        records.extend(a.invalid);
        records.extend(b.invalid);
        records.sort_by(|x, y| {
            (x.kind, &x.key_masked, &x.a_id, &x.b_id).cmp(&(
                y.kind,
                &y.key_masked,
                &y.a_id,
                &y.b_id,
            ))
        });
        counts.dead_letters = self.store.open_dead_letter_count(Some(&spec.name)).await? as u64;
        counts.parked = self
            .store
            .conflicts(Some(&spec.name), false)
            .await?
            .iter()
            .filter(|c| c.kind == ConflictKind::Park)
            .count() as u64;
        Ok(Reconciliation {
            sync: spec.name.clone(),
            checked_at,
            duration_ms: started.elapsed().as_millis() as u64,
            a: a_side,
            b: b_side,
            counts,
            records,
        })
    }

    /// Reads side `side` of `spec` whole, from the beginning, and keys each record within
    /// the filter as a run stages it ([`Engine::stage_batch`]'s filter, schema and key).
    async fn read_whole(
        &self,
        spec: &SyncSpec,
        side: Side,
        session: &mut Connection,
    ) -> Result<SideRead, RunError> {
        let ep = spec.endpoint(side);
        let mut out = SideRead::new(ep);
        let mut cursor: Option<String> = None;
        let mut idle = 0;
        loop {
            let batch = session
                .read(&ep.stream, cursor.as_deref(), spec.batch_size)
                .await?;
            let n = batch.records.len();
            for rec in batch.records {
                self.take_record(spec, side, rec, &mut out);
            }
            let next = batch.cursor.clone().or(cursor.clone());
            if !batch.more {
                return Ok(out);
            }
            stalled_read(&ep.plugin.name, &mut idle, n, &next, &cursor)?;
            cursor = next;
        }
    }

    /// One record read from `side`, counted and kept in `out`.
    fn take_record(&self, spec: &SyncSpec, side: Side, rec: ReadRecord, out: &mut SideRead) {
        let ep = spec.endpoint(side);
        out.side.read += 1;
        let data = rec.data;
        if !matches_filter(&data, &ep.filter) {
            out.side.outside_filter += 1;
            return;
        }
        let key_values = key_of(&spec.key, &data);
        let keyed = key_values.len() == spec.key.len();
        if rec.deleted && keyed {
            out.side.deleted += 1;
        } else {
            let mut violations: Vec<String> = spec
                .schema
                .validate(&data)
                .into_iter()
                .map(|v| v.pointer)
                .collect();
            if !keyed {
                violations.push(spec.key.join(","));
            }
            if !violations.is_empty() {
                violations.sort();
                violations.dedup();
                out.side.invalid += 1;
                out.invalid.push(ReconcileRecord {
                    kind: ReconcileKind::Invalid,
                    key_masked: (!key_values.is_empty()).then(|| mask_key(&key_values)),
                    a_id: (side == Side::A).then(|| rec.remote_id.clone()),
                    b_id: (side == Side::B).then(|| rec.remote_id.clone()),
                    fields: violations,
                });
                return;
            }
        }
        let hash = self.keys.key_hash(&key_values);
        let held = Held {
            masked: mask_key(&key_values),
            remote_id: rec.remote_id,
            text: crate::keys::canonical_json(&data).into_boxed_str(),
            hash: self.keys.content_hash(&data),
            deleted: rec.deleted,
        };
        if out.records.insert(hash, held).is_some() {
            out.side.duplicate_keys += 1;
        }
    }
}

impl Reconciliation {
    /// The report for people: the counts first (each system named by its plugin and as
    /// `a`/`b`), then one line per record the systems do not agree on (masked key, each
    /// system's own id, the differing fields). Labels in Chinese with English beside.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let (a, b) = (&self.a.plugin, &self.b.plugin);
        let c = &self.counts;
        let mut s = format!(
            "{}  对账 reconciliation  a: {a} ({})  b: {b} ({})  {:.2} s\n",
            self.sync,
            self.a.stream,
            self.b.stream,
            self.duration_ms as f64 / 1000.0
        );
        let only_a = format!("仅在 a only in a ({a})");
        let only_b = format!("仅在 b only in b ({b})");
        let rows: [(&str, u64); 8] = [
            ("两边一致 in both and equal", c.equal),
            ("两边不同 in both and different", c.different),
            (&only_a, c.only_a),
            (&only_b, c.only_b),
            ("无效 invalid (schema or key, as read now)", c.invalid),
            ("已结束 ended (deleted on a side)", c.ended),
            ("死信 dead letters (open)", c.dead_letters),
            ("搁置 parked (waiting for a person)", c.parked),
        ];
        let width = rows
            .iter()
            .map(|(l, _)| display_width(l))
            .max()
            .unwrap_or(0);
        for (label, n) in rows {
            let pad = width - display_width(label);
            let _ = writeln!(s, "  {label}{}  {n:>7}", " ".repeat(pad));
        }
        for (name, side) in [("a", &self.a), ("b", &self.b)] {
            let _ = writeln!(
                s,
                "  {name} {}: 读取 read {}, 过滤外 outside the filter {}, 无效 invalid {}, 已删除 deleted {}, 重复键 duplicate keys {}",
                side.plugin,
                side.read,
                side.outside_filter,
                side.invalid,
                side.deleted,
                side.duplicate_keys
            );
        }
        if self.records.is_empty() {
            s.push_str("两个系统一致 the two systems agree: nothing differs\n");
            return s;
        }
        let _ = writeln!(
            s,
            "列出 listed (different, only on one side, invalid): {}",
            self.records.len()
        );
        for r in &self.records {
            let kind = match r.kind {
                ReconcileKind::OnlyA => format!("仅在 a only in a ({a})"),
                ReconcileKind::OnlyB => format!("仅在 b only in b ({b})"),
                k => k.label().to_string(),
            };
            let _ = writeln!(
                s,
                "  {}  {kind}  {a} id {}  {b} id {}{}",
                r.key_masked.as_deref().unwrap_or("(无键 no key)"),
                r.a_id.as_deref().unwrap_or("—"),
                r.b_id.as_deref().unwrap_or("—"),
                if r.fields.is_empty() {
                    String::new()
                } else {
                    format!("  字段 fields: {}", r.fields.join(", "))
                }
            );
        }
        s
    }

    /// The records the systems do not agree on as CSV: UTF-8 with a byte order mark (Excel and
    /// WPS open it as UTF-8), a header row (Chinese with English beside), one row per record:
    /// kind, masked key, `a`'s id, `b`'s id, the fields (separated by `;`).
    ///
    /// # Errors
    /// Only if the CSV writer fails (it writes to memory).
    pub fn csv(&self) -> anyhow::Result<Vec<u8>> {
        let mut out = "\u{feff}".as_bytes().to_vec();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "类别 kind".to_string(),
                "键 key (masked)".to_string(),
                format!("a 的编号 a id ({})", self.a.plugin),
                format!("b 的编号 b id ({})", self.b.plugin),
                "字段 fields".to_string(),
            ])?;
            for r in &self.records {
                w.write_record([
                    r.kind.as_str(),
                    r.key_masked.as_deref().unwrap_or(""),
                    r.a_id.as_deref().unwrap_or(""),
                    r.b_id.as_deref().unwrap_or(""),
                    &r.fields.join(";"),
                ])?;
            }
            w.flush()?;
        }
        Ok(out)
    }
}

/// Columns a label takes in a terminal: two for a CJK character, one otherwise.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// A reconciliation report maker for the admin API: the engine and the deployment's syncs.
#[derive(Debug, Clone)]
pub struct Reconciler {
    /// The engine (its state store is only read).
    pub engine: Engine,
    /// The syncs that can run, by name.
    pub specs: BTreeMap<String, SyncSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Direction, Limits};
    use crate::runtime::{
        Batch, ConnectorError, Manifest, NativeConnector, NativeSession, SourceRecord, StreamInfo,
        TargetRecord as Target, WriteResult as Result_,
    };
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn fields_differing_under_both_codings_are_named_and_nulls_count_as_absent() {
        let a = json!({"k": "1", "status": "employed", "name": "Li", "remark": null});
        let b = json!({"k": "1", "status": "EMPLOYED", "name": "Wang"});
        // b would store a's status upper-cased; a would store b's as it is.
        let a_as_b = json!({"k": "1", "status": "EMPLOYED", "name": "Li"});
        assert_eq!(
            compare_pair(&a, &b, &a_as_b, &b),
            Some(vec!["name".to_string()]),
            "status is the same under b's coding; name differs under both"
        );
        let b_same = json!({"k": "1", "status": "EMPLOYED", "name": "Li"});
        assert_eq!(compare_pair(&a, &b_same, &a_as_b, &b_same), None);
        // A field differing only under one coding each: both named.
        let x = json!({"p": 1, "q": 1});
        let y = json!({"p": 2, "q": 2});
        let x_as_y = json!({"p": 2, "q": 1});
        let y_as_x = json!({"p": 2, "q": 1});
        assert_eq!(
            compare_pair(&x, &y, &x_as_y, &y_as_x),
            Some(vec!["p".to_string(), "q".to_string()])
        );
    }

    /// A connector holding fixed records; with `upper`, its system stores `/status`
    /// upper-cased and has no `/city` (it drops it). Counts every `write` call (there must be
    /// none).
    struct Fixed {
        records: Vec<Value>,
        upper: bool,
        writes: Arc<AtomicUsize>,
    }

    struct FixedSession {
        records: Vec<Value>,
        upper: bool,
        writes: Arc<AtomicUsize>,
    }

    impl NativeConnector for Fixed {
        fn manifest(&self) -> Manifest {
            Manifest {
                name: "fixed".into(),
                version: "1.0.0".into(),
                system: "test".into(),
                streams: vec![StreamInfo {
                    name: "s".into(),
                    schema: "t".into(),
                    schema_version: "1.0.0".into(),
                    can_read: true,
                    can_write: true,
                    can_delete: false,
                    max_write_batch: 0,
                }],
                hosts: vec![],
                secrets: vec![],
            }
        }

        fn open(
            &self,
            _config: &str,
        ) -> std::result::Result<Box<dyn NativeSession>, ConnectorError> {
            Ok(Box::new(FixedSession {
                records: self.records.clone(),
                upper: self.upper,
                writes: self.writes.clone(),
            }))
        }
    }

    impl NativeSession for FixedSession {
        fn read(
            &mut self,
            _stream: &str,
            cursor: Option<&str>,
            max: u32,
        ) -> std::result::Result<Batch, ConnectorError> {
            // Two records a batch whatever `max`, so the report must follow the cursor.
            let _ = max;
            let from: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let to = (from + 2).min(self.records.len());
            Ok(Batch {
                records: self.records[from..to]
                    .iter()
                    .map(|r| SourceRecord {
                        data: r.to_string(),
                        remote_id: format!("id-{}", r["k"].as_str().unwrap_or("?")),
                        version: None,
                        updated_at: None,
                        deleted: r.get("gone").is_some(),
                    })
                    .collect(),
                cursor: Some(to.to_string()),
                more: to < self.records.len(),
                remaining: None,
            })
        }

        fn write(
            &mut self,
            _stream: &str,
            _records: &[Target],
        ) -> std::result::Result<Vec<Result_>, ConnectorError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            Err(ConnectorError::Permanent(
                "the report must not write".into(),
            ))
        }

        fn normal_form(&mut self, _stream: &str, records: &[String]) -> Option<Vec<String>> {
            Some(
                records
                    .iter()
                    .map(|r| {
                        let mut v: Value = serde_json::from_str(r).unwrap();
                        if self.upper
                            && let Some(Value::String(s)) = v.get("status").cloned()
                        {
                            v["status"] = json!(s.to_uppercase());
                        }
                        if self.upper {
                            v.as_object_mut().unwrap().remove("city");
                        }
                        v.to_string()
                    })
                    .collect(),
            )
        }
    }

    fn schema() -> Arc<Schema> {
        let text = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://schemas.hub.invalid/t.json", "title": "t", "x-version": "1.0.0",
            "x-key": ["/k"], "type": "object", "required": ["k"],
            "properties": {"k": {"type": "string"}, "status": {"type": "string"},
                           "name": {"type": "string"}, "city": {"type": "string"},
                           "gone": {"type": "boolean"}}
        })
        .to_string();
        let common = hub_schemas::catalogue::get("common").unwrap();
        crate::schema::Catalogue::compile(&[
            crate::schema::Source {
                name: "common",
                id: common.id,
                text: common.text,
            },
            crate::schema::Source {
                name: "t",
                id: "https://schemas.hub.invalid/t.json",
                text: &text,
            },
        ])
        .unwrap()
        .get("t")
        .unwrap()
    }

    fn plugin(
        name: &str,
        records: Vec<Value>,
        upper: bool,
        writes: &Arc<AtomicUsize>,
    ) -> Arc<Plugin> {
        Arc::new(Plugin::native(
            name,
            Arc::new(Fixed {
                records,
                upper,
                writes: writes.clone(),
            }),
            &json!({}),
            Limits::default(),
        ))
    }

    #[tokio::test]
    async fn both_sides_are_compared_under_each_systems_coding_within_the_filter_and_nothing_is_written()
     {
        let writes = Arc::new(AtomicUsize::new(0));
        // a: the registry, filtered to city "hy"; b stores status upper-cased and has no
        // city.
        let a = vec![
            // 1: equal under b's coding (b holds EMPLOYED).
            json!({"k": "1", "status": "employed", "name": "Li", "city": "hy"}),
            // 2: name differs (status equal under b's coding).
            json!({"k": "2", "status": "employed", "name": "Zhang", "city": "hy"}),
            // 3: only in a.
            json!({"k": "3", "status": "seeking", "name": "Wu", "city": "hy"}),
            // 5: outside a's filter: not compared, though b holds it too.
            json!({"k": "5", "status": "employed", "name": "Qian", "city": "elsewhere"}),
            // invalid: status is not a string.
            json!({"k": "6", "status": 7, "name": "Sun", "city": "hy"}),
            // 8: equal once b's coding drops the city.
            json!({"k": "8", "status": "LEFT", "name": "Zhou", "city": "hy"}),
        ];
        let b = vec![
            json!({"k": "1", "status": "EMPLOYED", "name": "Li"}),
            json!({"k": "2", "status": "EMPLOYED", "name": "Zhao"}),
            // 4: only in b.
            json!({"k": "4", "status": "EMPLOYED", "name": "Zheng"}),
            json!({"k": "5", "status": "EMPLOYED", "name": "Qian"}),
            json!({"k": "8", "status": "LEFT", "name": "Zhou"}),
            // 9: deleted in b, absent in a: ended, not only in b.
            json!({"k": "9", "status": "LEFT", "name": "Wang", "gone": true}),
        ];
        let spec = SyncSpec {
            name: "t".into(),
            schema: schema(),
            key: vec!["/k".into()],
            direction: Direction::Both,
            a: EndpointSpec {
                plugin: plugin("reg", a, false, &writes),
                stream: "s".into(),
                filter: vec![("/city".into(), json!("hy"))],
            },
            b: EndpointSpec {
                plugin: plugin("esms", b, true, &writes),
                stream: "s".into(),
                filter: vec![],
            },
            rules: vec![],
            default_policy: FieldPolicy::Newest,
            newest: NewestRule::default(),
            deletes: [vec![], vec![]],
            native_deletes: [false, false],
            batch_size: 100,
        };
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = Store::open(&url).await.unwrap();
        let engine = Engine::new(store.clone(), Keys::from_hex(&"11".repeat(32)).unwrap());
        let r = engine.reconciliation(&spec).await.unwrap();
        assert_eq!(
            r.counts,
            ReconcileCounts {
                equal: 2,
                different: 1,
                only_a: 1,
                only_b: 2,
                invalid: 1,
                ended: 1,
                dead_letters: 0,
                parked: 0,
            },
            "1 and 8 equal; 2 differs; 3 only in a; 4 and 5 only in b (5 is outside a's filter); 6 invalid; 9 ended"
        );
        assert_eq!((r.a.read, r.a.outside_filter, r.a.invalid), (6, 1, 1));
        assert_eq!((r.b.read, r.b.outside_filter, r.b.deleted), (6, 0, 1));
        type Row<'a> = (
            ReconcileKind,
            Option<&'a str>,
            Option<&'a str>,
            Vec<&'a str>,
        );
        let rows: Vec<Row> = r
            .records
            .iter()
            .map(|x| {
                (
                    x.kind,
                    x.a_id.as_deref(),
                    x.b_id.as_deref(),
                    x.fields.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    ReconcileKind::Different,
                    Some("id-2"),
                    Some("id-2"),
                    vec!["name"]
                ),
                (ReconcileKind::OnlyA, Some("id-3"), None, vec![]),
                (ReconcileKind::OnlyB, None, Some("id-4"), vec![]),
                (ReconcileKind::OnlyB, None, Some("id-5"), vec![]),
                (ReconcileKind::Invalid, Some("id-6"), None, vec!["/status"]),
            ]
        );
        // Keys are masked as the engine masks them; no value appears in the report.
        assert_eq!(
            r.records[0].key_masked.as_deref(),
            Some(mask_key(&[&json!("2")]).as_str())
        );
        let text = r.text();
        for value in ["Zhang", "Zhao", "employed", "EMPLOYED"] {
            assert!(!text.contains(value), "{value} in the text report");
        }
        let csv = String::from_utf8(r.csv().unwrap()).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert_eq!(
            csv.lines().count(),
            1 + 5,
            "a header and one row per record"
        );
        let masked = mask_key(&[&json!("2")]);
        assert_eq!(
            csv.lines().nth(1),
            Some(format!("different,{masked},id-2,id-2,name").as_str())
        );
        // Nothing written to the systems or to the store.
        assert_eq!(writes.load(Ordering::SeqCst), 0);
        assert!(store.runs(None, 10).await.unwrap().is_empty());
        assert_eq!(store.open_dead_letter_count(None).await.unwrap(), 0);
        assert_eq!(store.link_counts("t").await.unwrap(), (0, 0));
    }
}
