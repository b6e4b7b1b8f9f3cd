//! The field-by-field merge of the two sides' records ([`merge`], [`merge_fields`]): pure
//! functions over JSON values, with the JSON-pointer helpers they use. No store, no connector.

use super::*;

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
    pub(super) fn value(&self, ptr: &str) -> Option<&Value> {
        self.current.and_then(|c| non_null(c.pointer(ptr)))
    }

    pub(super) fn changed(&self, ptr: &str) -> bool {
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
pub(super) fn owned_fields(spec: &SyncSpec, side: Side, record: &Value) -> Vec<String> {
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

/// Sets (or with `None` removes) the value at a JSON pointer, creating parent objects.
pub(super) fn set_pointer(root: &mut Value, ptr: &str, value: Option<Value>) {
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
