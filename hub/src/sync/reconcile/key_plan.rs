//! The plan of one pending key ([`KeyPlan`]): its sides' records merged (or what a person
//! decided taken), an end one side newly shows passed on, and the merged record checked
//! against the schema. Nothing is written here.

use super::*;

impl Engine {
    /// Plans one pending key ([`KeyPlan`]): merges its sides' records (or takes what a person
    /// decided: a side's record whole, or each chosen field from its side over the merge), applies an end one side newly shows, and checks the merged record
    /// against the schema. `as_stored`: at a first meeting, each side's connector's normal form
    /// of the other side's record (`[b as a stores it, a as b stores it]`). Counts parked keys,
    /// resolved conflicts and refused merges in `stats`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn plan_key(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        link: &Link,
        o: &Opened,
        decided: Option<&Decision>,
        as_stored: Option<&[Option<Value>; 2]>,
        stats: &mut RunStats,
    ) -> KeyPlan {
        let a = SideInput {
            current: o.current[0].as_ref(),
            settled: o.settled[0].as_ref(),
            updated_at: link.a.updated_at.as_deref(),
            other_as_stored: as_stored.and_then(|s| s[0].as_ref()),
        };
        let b = SideInput {
            current: o.current[1].as_ref(),
            settled: o.settled[1].as_ref(),
            updated_at: link.b.updated_at.as_deref(),
            other_as_stored: as_stored.and_then(|s| s[1].as_ref()),
        };
        let (taken, take_fields) = take_decided(spec, link, o, decided);
        let chosen = match decided {
            Some(Decision::Fields(f)) => Some(f),
            _ => take_fields.as_ref(),
        };
        let m = match taken {
            Some(t) => Some(t),
            None => match merge_fields(
                a,
                b,
                o.base.as_ref(),
                &spec.rules,
                spec.default_policy,
                spec.newest,
            )
            .map(|mut mf| {
                // A person's choice field by field: each chosen field's value is the chosen
                // side's (absent there: absent), whatever the rules decided; a parked field
                // chosen is parked no more.
                if let Some(f) = chosen {
                    for (ptr, side) in f {
                        let i = if *side == Side::A { 0 } else { 1 };
                        let v = o.current[i]
                            .as_ref()
                            .and_then(|c| c.pointer(ptr))
                            .filter(|v| !v.is_null())
                            .cloned();
                        set_pointer(&mut mf.record, ptr, v);
                    }
                    mf.conflicts.retain(|(p, _)| !f.contains_key(p));
                    mf.record = strip_nulls(&mf.record);
                }
                mf
            }) {
                Some(mf) if mf.parked() => return parked(spec, run_id, link, &mf, stats),
                Some(mf) => {
                    if !mf.conflicts.is_empty() {
                        stats.conflicts_resolved += 1;
                    }
                    Some(mf.record)
                }
                None => None,
            },
        };
        let Some(mut m) = m else {
            return KeyPlan::Nothing;
        };
        let (own, end) = pass_on_end(spec, link, o, as_stored, &mut m);
        let violations = spec.schema.validate(&m);
        if !violations.is_empty() {
            let side = spec.write_sides()[0];
            let key_values = key_of(&spec.key, &m);
            stats.side(side).rejected += 1;
            return KeyPlan::Invalid(self.dead_letter(
                spec,
                run_id,
                side,
                DeadLetterStage::Write,
                Some(mask_key(&key_values)),
                None,
                Some(&m),
                violations,
            ));
        }
        KeyPlan::Merged {
            record: m,
            own,
            end,
        }
    }
}

/// What a person decided by taking a side whole ([`Decision::Take`]): at a key that never
/// settled (or whose other side is gone), that side's record (`.0`); at a settled key, that
/// side for each field a side changed since they last agreed (`.1`).
fn take_decided(
    spec: &SyncSpec,
    link: &Link,
    o: &Opened,
    decided: Option<&Decision>,
) -> (
    Option<Value>,
    Option<std::collections::BTreeMap<String, Side>>,
) {
    // A side taken whole, at a key that never settled (or whose other side is gone), is
    // that side's record. At a settled key it is that side's value of each field a side
    // changed since they last agreed (`FieldState::differs`), the other fields following
    // the sync's rules: a field the taken side's system does not hold (HY-ESMS's /remark
    // for ZF-REG) keeps the other side's value instead of being removed.
    match decided {
        Some(Decision::Take(s)) => {
            let i = if *s == Side::A { 0 } else { 1 };
            if o.base.is_none() || o.current.iter().any(Option::is_none) {
                (o.current[i].clone(), None)
            } else {
                let fields: std::collections::BTreeMap<String, Side> =
                    crate::sync::decide::field_states(spec, link, o)
                        .into_iter()
                        .filter(crate::sync::decide::FieldState::differs)
                        .map(|f| (f.pointer, *s))
                        .collect();
                (None, Some(fields))
            }
        }
        _ => (None, None),
    }
}

/// The plan of a key whose merge parked it (`mf`, both sides changed a `park` field): the
/// conflict to open, and why nothing is written. Counts it in `stats`.
fn parked(spec: &SyncSpec, run_id: i64, link: &Link, mf: &Merged, stats: &mut RunStats) -> KeyPlan {
    let fields: Vec<&str> = mf
        .conflicts
        .iter()
        .filter(|(_, p)| *p == FieldPolicy::Park)
        .map(|(f, _)| f.as_str())
        .collect();
    let why = format!(
        "parked: both sides changed {} (policy park); waiting for `hub conflicts resolve`",
        fields.join(", ")
    );
    stats.parked += 1;
    let key_values = key_of(&spec.key, &mf.record);
    KeyPlan::Parked {
        conflict: NewConflict {
            run_id,
            kind: ConflictKind::Park,
            key_hash: link.key_hash.clone(),
            key_masked: Some(mask_key(&key_values)),
            side: Side::A,
            reason: why.clone(),
        },
        why,
    }
}

/// Passes on an end one side newly shows to the merged record `m`. Returns the side that ended
/// with its own end form when that differs from `m`, and the side told of the end natively.
fn pass_on_end(
    spec: &SyncSpec,
    link: &Link,
    o: &Opened,
    as_stored: Option<&[Option<Value>; 2]>,
    m: &mut Value,
) -> (Option<(Side, Value)>, Option<Side>) {
    // A side that newly shows an end (its connector's delete, or its delete form)
    // gives the other side that side's own delete form, whatever the policies say,
    // and keeps its own. At a first meeting, an end form the other side's record also
    // shows as this side would store it is no news (HY-ESMS's `left` for a resident the
    // registry has lost contact with).
    let ended = |i: usize, side: Side| {
        let form = &spec.deletes[i];
        let s = link.side(side);
        let agreed = as_stored.is_some_and(|st| shows_end(st[i].as_ref(), form));
        (s.deleted && !s.settled_deleted)
            || (!s.deleted
                && shows_end(o.current[i].as_ref(), form)
                && !shows_end(o.settled[i].as_ref(), form)
                && !agreed)
    };
    let (a_ended, b_ended) = (ended(0, Side::A), ended(1, Side::B));
    let tell = match (a_ended, b_ended) {
        (true, false) => Some(1),
        (false, true) => Some(0),
        _ => None,
    };
    let mut own = None;
    let mut end = None;
    if let Some(other) = tell.filter(|&o| spec.native_deletes[o]) {
        // Told natively: the side is sent a delete; the side that ended keeps its form.
        let ended = 1 - other;
        if !spec.deletes[ended].is_empty() {
            for (ptr, v) in &spec.deletes[ended] {
                set_pointer(m, ptr, Some(v.clone()));
            }
        }
        end = Some(if other == 0 { Side::A } else { Side::B });
    } else if let Some(other) = tell {
        let ended = 1 - other;
        if !spec.deletes[ended].is_empty() {
            let mut o = m.clone();
            for (ptr, v) in &spec.deletes[ended] {
                set_pointer(&mut o, ptr, Some(v.clone()));
            }
            own = Some((if ended == 0 { Side::A } else { Side::B }, o));
        }
        for (ptr, v) in &spec.deletes[other] {
            set_pointer(m, ptr, Some(v.clone()));
        }
    }
    (own, end)
}
