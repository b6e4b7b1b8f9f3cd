//! Write intents and their recovery: the record kept on a side before a write is sent
//! ([`Intent`]), and how a read-back of a write whose result was never recorded is matched to
//! it ([`recover`]) and settled ([`Engine::settle_recovered`]).

use super::*;

/// A write intent, sealed in the target side's [`crate::store::SideState::intent`] before the
/// write is sent and cleared by its result (JSON `{"intent": 2, "record": …, "other": …}`, with
/// `"op": "delete"` for a native delete; a store written before version 2 holds the bare
/// record).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Intent {
    /// The record being written (schema shape).
    pub(super) record: Value,
    /// The other side's record when the write was decided, when that side is not written in
    /// the same batch: the record the write's result would have settled it at.
    pub(super) other: Option<Value>,
    /// A native delete (contract 0.2): `record` is the record it ends, as last seen.
    pub(super) delete: bool,
}

impl Intent {
    pub(super) fn to_value(&self) -> Value {
        let mut v = serde_json::json!({ "intent": 2, "record": self.record, "other": self.other });
        if self.delete {
            v["op"] = Value::from("delete");
        }
        v
    }

    pub(super) fn from_value(v: Value) -> Intent {
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
pub(super) struct Recovered {
    /// The record as the write left it (the side's settled record): the read-back, except that
    /// a field the read-back holds in neither the written nor the old record's value takes the
    /// written value, so that the read-back's value counts as a change made after the write.
    pub(super) settled: Value,
    /// Some field the write was changing holds the written value (or, for a create, the record
    /// is there): the write reached the system.
    pub(super) landed: bool,
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
pub(super) fn recover(old: Option<&Value>, read: &Value, written: &Value) -> Recovered {
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

impl Engine {
    /// The interrupted writes to `side` that this batch reads back (links holding an intent for
    /// `side`), by key hash: each intent, and its record as the system would store it (the
    /// connector's normal form, contract 0.2; the record itself for a connector that does not
    /// say, or when no session is at hand).
    pub(super) async fn recovering(
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

    /// Records the read-back of an interrupted write that reached `side`: the side now holds
    /// the read-back, as the write left it `settled` (what differs from that is a change made
    /// after the write, and the key waits to be merged); the other side, if the write was
    /// carrying its record, is settled at that record, and the base is the intent, as the
    /// write's recorded result would have left them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle_recovered(
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
}
