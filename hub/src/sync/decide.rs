//! A conflicting record as a person sees it to decide ([`Engine::conflict_record`]): each
//! system's own id and update time, and each field's value on both sides, the last merged
//! value, which side changed it and the rule that decides it. The values are in clear here; the
//! admin pages mask them unless the viewer's role allows them (and audit each clear view).

use super::*;

/// One field of a conflicting record.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldState {
    /// The field's JSON pointer (RFC 6901), as rules and decisions name it (`/phone`).
    pub pointer: String,
    /// Its value on `a` and on `b` (`None`: absent or null there).
    pub values: [Option<Value>; 2],
    /// Its value in the last merged record (`None`: never settled, or absent).
    pub base: Option<Value>,
    /// Whether each side changed it since the key last settled.
    pub changed: [bool; 2],
    /// The rule that decides it: `a_wins`, `b_wins`, `newest_wins` or `park`.
    pub rule: FieldPolicy,
    /// The rule is the sync's default (no rule names the field).
    pub by_default: bool,
    /// Both sides changed it to different values and its rule parked the record.
    pub parked: bool,
}

impl FieldState {
    /// The two sides hold different values and one of them changed it since the key last
    /// settled (a key that never settled counts every field as changed): a person can choose
    /// one. A difference neither side made since they last agreed is each system's own coding
    /// (a registry number HY-ESMS does not keep), not a choice.
    pub fn differs(&self) -> bool {
        self.values[0] != self.values[1] && (self.changed[0] || self.changed[1])
    }
}

/// A conflicting record of a sync, both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    /// Each system's own id of the record (`[a, b]`: the registry number, the HY id, …).
    pub remote_ids: [Option<String>; 2],
    /// When each system last changed it, as the system said (RFC 3339), if it said.
    pub updated_at: [Option<String>; 2],
    /// Each side holds no record of the key, or shows it deleted.
    pub gone: [bool; 2],
    /// Every field either side or the last merged record holds, rule fields first in the rules'
    /// order, then the others by name.
    pub fields: Vec<FieldState>,
}

impl ConflictRecord {
    /// The pointers a decision may choose (the fields whose values differ).
    pub fn choosable(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.differs())
            .map(|f| f.pointer.as_str())
            .collect()
    }

    /// The pointers that parked the record: a field-by-field decision must choose each.
    pub fn parked(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.parked)
            .map(|f| f.pointer.as_str())
            .collect()
    }
}

/// `a_wins`, `b_wins`, `newest_wins` or `park`: a policy as the configuration names it.
pub fn policy_name(p: FieldPolicy) -> &'static str {
    match p {
        FieldPolicy::A => "a_wins",
        FieldPolicy::B => "b_wins",
        FieldPolicy::Newest => "newest_wins",
        FieldPolicy::Park => "park",
    }
}

/// The short name of a system for people: the last parenthesised part of its connector's
/// `system` (`Zhenfeng County registry (ZF-REG)` → `ZF-REG`), else the plugin's name.
pub fn system_name(plugin: &crate::runtime::Plugin, fallback: &str) -> String {
    let system = &plugin.manifest().system;
    system
        .rfind('(')
        .and_then(|i| system[i + 1..].split_once(')').map(|(s, _)| s.trim()))
        .filter(|s| !s.is_empty())
        .map_or_else(|| fallback.to_string(), str::to_string)
}

/// An audit entry of a person's act on conflict `c` at `side` (a decision, or a view of values
/// in clear): no run (`run_id` 0), the system named by its plugin (`plugins`: the sync's `a` and
/// `b` plugin names; by the side when the sync is not configured), `actor` (an admin token's
/// name, or `cli:` and the login name) and `detail` (JSON) saying what was done.
pub fn person_entry(
    plugins: Option<[&str; 2]>,
    c: &crate::store::Conflict,
    side: Side,
    (action, result): (WriteAction, WriteOutcome),
    remote_id: Option<String>,
    actor: &str,
    detail: &str,
) -> NewAuditEntry {
    let system = match (plugins, side) {
        (Some([a, _]), Side::A) => a.to_string(),
        (Some([_, b]), Side::B) => b.to_string(),
        (None, s) => s.as_str().to_string(),
    };
    NewAuditEntry {
        run_id: 0,
        system,
        side,
        key_hash: c.key_hash.clone(),
        action,
        result,
        remote_id,
        actor: Some(actor.to_string()),
        detail: Some(detail.to_string()),
    }
}

/// Records `actor`'s `decision` on open conflict `c` for `reason` (a person's words: masked
/// here as logs are, [`crate::logging::mask_personal`]) in `store`, with its audit entries ([`decision_entries`]; the systems' own ids of the record
/// from its link), in one transaction ([`Store::decide_conflict`]). `plugins`: as for
/// [`person_entry`]. Returns the audit detail, and false if the conflict was no longer open
/// (nothing recorded). Errors: the store's.
pub async fn record_decision(
    store: &Store,
    plugins: Option<[&str; 2]>,
    c: &crate::store::Conflict,
    decision: &Decision,
    actor: &str,
    reason: Option<&str>,
) -> anyhow::Result<(String, bool)> {
    let link = store
        .links(&c.sync, std::slice::from_ref(&c.key_hash))
        .await?
        .into_iter()
        .next();
    let reason = reason.map(crate::logging::mask_personal);
    let reason = reason.as_deref();
    let (detail, audit) = decision_entries(plugins, c, decision, link.as_ref(), actor, reason);
    let open = store
        .decide_conflict(c.id, decision, Some(actor), reason, &audit)
        .await?;
    Ok((detail, open))
}

/// What the audit log records of `actor`'s `decision` on conflict `c` (for `reason`, already
/// masked as logs are): the detail, JSON `{"conflict": ID, "take": "a"|"b", "reason": …}` or
/// `{"conflict": ID, "fields": {POINTER: SIDE}, "reason": …}`, and one `decide`/`recorded`
/// entry per system the decision changes (the other side of a side taken whole; for fields,
/// the side opposite each chosen one), with that system's own id of the record from `link`.
fn decision_entries(
    plugins: Option<[&str; 2]>,
    c: &crate::store::Conflict,
    decision: &Decision,
    link: Option<&Link>,
    actor: &str,
    reason: Option<&str>,
) -> (String, Vec<NewAuditEntry>) {
    let mut sides: Vec<Side> = match decision {
        Decision::Take(t) => vec![t.other()],
        Decision::Fields(f) => f.values().map(|s| s.other()).collect(),
    };
    sides.sort_by_key(|s| s.as_str());
    sides.dedup();
    let detail = match decision {
        Decision::Take(t) => serde_json::json!({"conflict": c.id, "take": t, "reason": reason}),
        Decision::Fields(f) => {
            serde_json::json!({"conflict": c.id, "fields": f, "reason": reason})
        }
    }
    .to_string();
    let entries = sides
        .iter()
        .map(|&side| {
            let remote_id = link.and_then(|l| l.side(side).remote_id.clone());
            let act = (WriteAction::Decide, WriteOutcome::Recorded);
            person_entry(plugins, c, side, act, remote_id, actor, &detail)
        })
        .collect();
    (detail, entries)
}

/// Each field of an opened link ([`FieldState`]): the sync's rule pointers, then every
/// top-level member either side or the base holds, leaving out those absent everywhere.
/// `link`: the link `o` was opened from (each side's update time, for `newest_wins`).
pub(super) fn field_states(spec: &SyncSpec, link: &Link, o: &Opened) -> Vec<FieldState> {
    let updated_at = [link.a.updated_at.as_deref(), link.b.updated_at.as_deref()];
    let input = |i: usize| SideInput {
        current: o.current[i].as_ref(),
        settled: o.settled[i].as_ref(),
        updated_at: updated_at[i],
        other_as_stored: None,
    };
    let parked: Vec<String> = merge_fields(
        input(0),
        input(1),
        o.base.as_ref(),
        &spec.rules,
        spec.default_policy,
        spec.newest,
    )
    .map(|m| {
        m.conflicts
            .into_iter()
            .filter(|(_, p)| *p == FieldPolicy::Park)
            .map(|(f, _)| f)
            .collect()
    })
    .unwrap_or_default();
    let mut pointers: Vec<(String, FieldPolicy, bool)> = spec
        .rules
        .iter()
        .map(|(p, r)| (p.clone(), *r, false))
        .collect();
    let members: std::collections::BTreeSet<&String> = o
        .current
        .iter()
        .chain(std::iter::once(&o.base))
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys())
        .collect();
    for m in members {
        let ptr = format!("/{}", m.replace('~', "~0").replace('/', "~1"));
        if !pointers.iter().any(|(p, _, _)| *p == ptr) {
            pointers.push((ptr, spec.default_policy, true));
        }
    }
    pointers
        .into_iter()
        .filter_map(|(pointer, rule, by_default)| {
            let at = |v: Option<&Value>| non_null(v.and_then(|v| v.pointer(&pointer))).cloned();
            let values = [at(o.current[0].as_ref()), at(o.current[1].as_ref())];
            let base = at(o.base.as_ref());
            if values.iter().all(Option::is_none) && base.is_none() {
                return None;
            }
            let changed = [input(0).changed(&pointer), input(1).changed(&pointer)];
            Some(FieldState {
                parked: parked.contains(&pointer),
                pointer,
                values,
                base,
                changed,
                rule,
                by_default,
            })
        })
        .collect()
}

impl Engine {
    /// The record of key `key_hash` of sync `spec` as both sides hold it, field by field
    /// ([`ConflictRecord`]), unsealed with the state key; `None` when the store has no link of
    /// that key. Reads the store only; calls no system.
    pub async fn conflict_record(
        &self,
        spec: &SyncSpec,
        key_hash: &str,
    ) -> anyhow::Result<Option<ConflictRecord>> {
        let Some(mut link) = self
            .store
            .links(&spec.name, &[key_hash.to_string()])
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        // The store holds the records sealed (`link_seal`): opened here, or every field would
        // read as absent on both sides.
        self.unseal(&spec.name, &mut link)
            .map_err(|e| anyhow::anyhow!("cannot open the link of the record: {e}"))?;
        let o = self
            .open_link(&link)
            .map_err(|e| anyhow::anyhow!("cannot open the link of the record: {e}"))?;
        let fields = field_states(spec, &link, &o);
        Ok(Some(ConflictRecord {
            remote_ids: [link.a.remote_id.clone(), link.b.remote_id.clone()],
            updated_at: [link.a.updated_at.clone(), link.b.updated_at.clone()],
            gone: [
                link.a.deleted || o.current[0].is_none(),
                link.b.deleted || o.current[1].is_none(),
            ],
            fields,
        }))
    }
}
