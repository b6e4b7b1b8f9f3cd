//! The audit log: one entry for every write the hub makes to a system, append-only and
//! hash-chained.
//!
//! An entry says when (RFC 3339, UTC, milliseconds), in which sync and run, to which system (the
//! plugin's name and the sync's side `a` or `b`), for which record (its key hash, the HMAC the
//! state store already keys links by: never an identity number, a name or a phone), what the hub
//! asked ([`WriteAction`]: `create` when it knew no record of that key on that side, else
//! `update`), what came of it ([`WriteOutcome`], from the connector's write result) and the
//! system's id of the record if there is one. Free text from connectors (conflict and rejection
//! messages) is left out: an append-only log cannot be scrubbed later, so it holds nothing that
//! could carry personal data.
//!
//! Entries are appended by the state store in the same transaction as the write results and
//! links they describe ([`crate::store::Store::commit`]), so an audited write and its link are
//! committed together or not at all. Ids are 1, 2, 3, … without gaps.
//!
//! **Chain.** Each entry's `hash` = HMAC-SHA256 (RFC 2104) under the audit key (HKDF-SHA256 of
//! the state key, info `audit-chain`, see [`crate::keys`]) over [`canonical`] encoding of its
//! fields and `prev_hash`, the previous entry's hash (64 zeros, [`GENESIS`], for entry 1), as 64
//! lower-case hex digits. Whoever lacks the state key can neither alter an entry nor recompute
//! the chain after it. The store keeps each hash once, as its 32 bytes, and gives an entry read
//! back the hash of the entry before it as `prev_hash` (migration 0013; before it, each row kept
//! a copy). [`ChainVerifier`] walks the log in id order and names the first entry that is out of
//! place: a gap in the ids (an entry deleted), a `prev_hash` that is not the previous entry's
//! hash (a broken link: entries given to it by hand; read from the store, the ids and hashes
//! leave only a gap or a mismatch), or a hash that does not match the entry's fields (an altered
//! entry, or one written under another state key).
//!
//! **Limit.** Removing the newest entries leaves a shorter chain that is still intact; only a
//! head recorded elsewhere shows it (`hub audit verify` prints the head's hash for that).

use crate::store::Side;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `prev_hash` of the first entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain tag, the first field of every [`canonical`] encoding.
pub const DOMAIN: &str = "hub audit v1";

/// The key of the audit chain, derived from the state key ([`crate::keys::Keys::audit_key`]).
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> AuditKey {
        AuditKey(bytes)
    }

    /// The entry's hash: HMAC-SHA256 of [`canonical`]`(e)` (which covers `e.prev_hash` but not
    /// `e.hash`), 64 lower-case hex digits.
    pub fn hash(&self, e: &AuditEntry) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes any key length");
        mac.update(&canonical(e));
        hex::encode(mac.finalize().into_bytes())
    }
}

/// What the hub asked of the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAction {
    /// The hub knew no record of the key on that side (the write is an upsert by natural key,
    /// so the system may still answer `updated`).
    Create,
    /// The hub knew the system's record of the key.
    Update,
    /// The hub ended the record natively (contract 0.2's `write-op::delete`).
    Delete,
    /// Not a write: a person decided what the hub writes for a conflicting record (the entry's
    /// `actor` and `detail` say who and what; `run_id` 0).
    Decide,
    /// Not a write: a person was shown the record's values in clear (`actor`; `run_id` 0).
    View,
}

impl WriteAction {
    /// `create` or `update`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteAction::Create => "create",
            WriteAction::Update => "update",
            WriteAction::Delete => "delete",
            WriteAction::Decide => "decide",
            WriteAction::View => "view",
        }
    }
}

/// What came of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The system created the record (`write-result::created`).
    Created,
    /// The system updated it (`updated`).
    Updated,
    /// The connector found nothing to change (`unchanged`).
    Unchanged,
    /// The system ended the record, or it was already gone (`deleted`, contract 0.2).
    Deleted,
    /// A create the system refused because it holds a record of the key already: the hub
    /// linked that record (`duplicate`, contract 0.2).
    Duplicate,
    /// Refused by optimistic concurrency, retried next run (`conflict`).
    Conflict,
    /// Failed transiently, retried next run (`retry`).
    Retry,
    /// Refused for good: a dead letter (`rejected`).
    Rejected,
    /// The write call failed as a whole (trap, connector error, broken contract): the record may
    /// or may not have reached the system; the next read or run settles it.
    Failed,
    /// A write of a run that stopped before recording its result, recognised when the record
    /// was read back (see [`crate::sync`]'s write intents).
    Recovered,
    /// A person's decision, recorded for the next run ([`WriteAction::Decide`]).
    Recorded,
    /// Values shown to a person ([`WriteAction::View`]).
    Shown,
}

impl WriteOutcome {
    /// Lower-case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOutcome::Created => "created",
            WriteOutcome::Updated => "updated",
            WriteOutcome::Unchanged => "unchanged",
            WriteOutcome::Deleted => "deleted",
            WriteOutcome::Duplicate => "duplicate",
            WriteOutcome::Conflict => "conflict",
            WriteOutcome::Retry => "retry",
            WriteOutcome::Rejected => "rejected",
            WriteOutcome::Failed => "failed",
            WriteOutcome::Recovered => "recovered",
            WriteOutcome::Recorded => "recorded",
            WriteOutcome::Shown => "shown",
        }
    }
}

/// An entry to append (the store adds the id, the time, the sync and the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// The run that wrote.
    pub run_id: i64,
    /// The plugin that wrote (the deployment's name for it).
    pub system: String,
    /// The side of the sync it serves.
    pub side: Side,
    /// HMAC of the record's key (64 hex digits), as in the links.
    pub key_hash: String,
    /// What was asked.
    pub action: WriteAction,
    /// What came of it.
    pub result: WriteOutcome,
    /// The system's id of the record, if known.
    pub remote_id: Option<String>,
    /// The person behind it (an admin token's name): who decided, who looked, or whose decision
    /// this write carries out. `None` for a run's own writes.
    pub actor: Option<String>,
    /// What the person did, as JSON (`{"conflict": 3, "fields": {"/phone": "b"}, "reason":
    /// "..."}`); no personal value, the reason masked as logs are.
    pub detail: Option<String>,
}

/// A stored entry. `action` and `result` are kept as stored (verification covers whatever
/// text is there).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … in append order.
    pub id: i64,
    /// When it was appended (RFC 3339, UTC).
    pub at: String,
    /// Sync name.
    pub sync: String,
    /// Run id in the history.
    pub run_id: i64,
    /// Plugin name.
    pub system: String,
    /// Side of the sync.
    pub side: Side,
    /// HMAC of the record's key.
    pub key_hash: String,
    /// [`WriteAction::as_str`].
    pub action: String,
    /// [`WriteOutcome::as_str`].
    pub result: String,
    /// The system's id of the record.
    pub remote_id: Option<String>,
    /// The person behind it ([`NewAuditEntry::actor`]).
    pub actor: Option<String>,
    /// What they did ([`NewAuditEntry::detail`]).
    pub detail: Option<String>,
    /// The previous entry's hash ([`GENESIS`] for entry 1).
    pub prev_hash: String,
    /// [`AuditKey::hash`] of this entry.
    pub hash: String,
}

/// The bytes an entry's hash covers: for each of `DOMAIN`, id, at, sync, run_id, system, side,
/// key_hash, action, result, remote_id and prev_hash in this order, its length in bytes as a
/// 4-byte big-endian integer followed by its UTF-8 bytes (integers in decimal); an absent
/// remote id is the four bytes `FF FF FF FF` alone. Length prefixes keep field boundaries
/// unambiguous (`"ab","c"` and `"a","bc"` encode differently). An entry with an `actor` or a
/// `detail` (a person's decision or view, from migration 0012 on) has both encoded after
/// `prev_hash` the same way; one with neither encodes exactly as before, so older chains verify
/// unchanged and removing a person's name from an entry breaks its hash.
pub fn canonical(e: &AuditEntry) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            Some(s) => {
                let len = u32::try_from(s.len()).expect("audit fields are far below 4 GiB");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
        }
    }
    let mut out = Vec::with_capacity(256);
    let (id, run_id) = (e.id.to_string(), e.run_id.to_string());
    for v in [
        Some(DOMAIN),
        Some(id.as_str()),
        Some(e.at.as_str()),
        Some(e.sync.as_str()),
        Some(run_id.as_str()),
        Some(e.system.as_str()),
        Some(e.side.as_str()),
        Some(e.key_hash.as_str()),
        Some(e.action.as_str()),
        Some(e.result.as_str()),
        e.remote_id.as_deref(),
        Some(e.prev_hash.as_str()),
    ] {
        field(&mut out, v);
    }
    if e.actor.is_some() || e.detail.is_some() {
        field(&mut out, e.actor.as_deref());
        field(&mut out, e.detail.as_deref());
    }
    out
}

/// The first entry out of place, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// Ids must run 1, 2, 3, …: one or more entries before this one are missing.
    Gap {
        /// The entry found.
        id: i64,
        /// The id that should have come.
        expected: i64,
    },
    /// `prev_hash` is not the previous entry's hash.
    Link {
        /// The entry.
        id: i64,
        /// Its `prev_hash`, first 16 hex digits.
        found: String,
        /// The previous entry's hash (or the genesis value), first 16 hex digits.
        expected: String,
    },
    /// The entry's fields do not give its hash.
    Hash {
        /// The entry.
        id: i64,
    },
    /// The entry's row cannot be read as an entry (a side other than `a` or `b`): the store
    /// never writes such a value, so the row was altered.
    Corrupt {
        /// The entry.
        id: i64,
        /// The column whose value cannot be read.
        column: String,
        /// What is wrong with the value.
        detail: String,
    },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Gap { id, expected } if *id == expected + 1 => {
                write!(
                    f,
                    "entry {id}: gap in ids: entry {expected} before it is missing"
                )
            }
            Break::Gap { id, expected } if id > expected => {
                write!(
                    f,
                    "entry {id}: gap in ids: entries {expected} to {} before it are missing",
                    id - 1
                )
            }
            Break::Gap { id, expected } => {
                write!(f, "entry {id}: gap in ids: expected entry {expected} here")
            }
            Break::Link {
                id,
                found,
                expected,
            } => {
                write!(
                    f,
                    "entry {id}: broken link: its prev_hash {found}… is not the hash of the entry before it ({expected}…)"
                )
            }
            Break::Hash { id } => write!(
                f,
                "entry {id}: hash mismatch: its fields do not give its stored hash (the entry was altered, or written under another state key)"
            ),
            Break::Corrupt { id, column, detail } => write!(
                f,
                "entry {id}: corrupt: column {column}: {detail} (the entry was altered)"
            ),
        }
    }
}

impl std::error::Error for Break {}

impl Break {
    /// The id of the entry found out of place.
    pub fn id(&self) -> i64 {
        match self {
            Break::Gap { id, .. }
            | Break::Link { id, .. }
            | Break::Hash { id }
            | Break::Corrupt { id, .. } => *id,
        }
    }
}

/// A chain found intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    /// How many entries.
    pub entries: u64,
    /// The last entry's hash (`None` for an empty log).
    pub head: Option<String>,
}

/// Checks entries fed in id order, stopping at the first that is out of place.
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    key: &'k AuditKey,
    last_id: i64,
    last_hash: String,
    entries: u64,
}

fn prefix(h: &str) -> String {
    h.chars().take(16).collect()
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a log that starts at entry 1.
    pub fn new(key: &'k AuditKey) -> ChainVerifier<'k> {
        ChainVerifier {
            key,
            last_id: 0,
            last_hash: GENESIS.to_string(),
            entries: 0,
        }
    }

    /// Checks the next entry: its id follows the previous one, its `prev_hash` is the previous
    /// hash, and its hash is that of its fields (in this order, so a deleted entry shows as a
    /// gap rather than as the broken link that follows from it).
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), Break> {
        self.follows(e.id, &e.prev_hash)?;
        if self.key.hash(e) != e.hash {
            return Err(Break::Hash { id: e.id });
        }
        self.last_id = e.id;
        self.last_hash = e.hash.clone();
        self.entries += 1;
        Ok(())
    }

    /// The next entry's row cannot be read as an entry (`column` holds a value the store never
    /// writes, `detail` says which): the break it is, the same way as [`ChainVerifier::push`]
    /// (a gap before it or a broken link first, else [`Break::Corrupt`]).
    pub fn unreadable(&self, id: i64, prev_hash: &str, column: &str, detail: &str) -> Break {
        match self.follows(id, prev_hash) {
            Err(b) => b,
            Ok(()) => Break::Corrupt {
                id,
                column: column.to_string(),
                detail: detail.to_string(),
            },
        }
    }

    /// Entry `id` with `prev_hash` comes next: its id follows the previous one and its
    /// `prev_hash` is the previous hash.
    fn follows(&self, id: i64, prev_hash: &str) -> Result<(), Break> {
        let expected = self.last_id + 1;
        if id != expected {
            return Err(Break::Gap { id, expected });
        }
        if prev_hash != self.last_hash {
            return Err(Break::Link {
                id,
                found: prefix(prev_hash),
                expected: prefix(&self.last_hash),
            });
        }
        Ok(())
    }

    /// The result once every entry was pushed.
    pub fn finish(self) -> Intact {
        Intact {
            entries: self.entries,
            head: (self.entries > 0).then_some(self.last_hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hkdf::Hkdf;

    /// The audit key for state key 32 × 0x07, derived here with the hkdf crate directly.
    fn key_bytes() -> [u8; 32] {
        let mut k = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"hub state v1"), &[7u8; 32])
            .expand(b"audit-chain", &mut k)
            .unwrap();
        k
    }

    fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap();
        mac.update(msg);
        hex::encode(mac.finalize().into_bytes())
    }

    fn entry(id: i64, prev_hash: &str, remote_id: Option<&str>) -> AuditEntry {
        AuditEntry {
            id,
            at: "2026-03-01T02:03:04.567Z".into(),
            sync: "workers".into(),
            run_id: 7,
            system: "huiyang-esms".into(),
            side: Side::B,
            key_hash: "ab".repeat(32),
            action: "create".into(),
            result: "created".into(),
            remote_id: remote_id.map(str::to_string),
            actor: None,
            detail: None,
            prev_hash: prev_hash.into(),
            hash: String::new(),
        }
    }

    /// Entry 1 of [`entry`], encoded by hand byte for byte.
    fn hand_encoded(remote_id: Option<&str>) -> Vec<u8> {
        let mut m: Vec<u8> = Vec::new();
        m.extend_from_slice(b"\x00\x00\x00\x0chub audit v1");
        m.extend_from_slice(b"\x00\x00\x00\x011");
        m.extend_from_slice(b"\x00\x00\x00\x182026-03-01T02:03:04.567Z");
        m.extend_from_slice(b"\x00\x00\x00\x07workers");
        m.extend_from_slice(b"\x00\x00\x00\x017");
        m.extend_from_slice(b"\x00\x00\x00\x0chuiyang-esms");
        m.extend_from_slice(b"\x00\x00\x00\x01b");
        m.extend_from_slice(b"\x00\x00\x00\x40");
        m.extend_from_slice("ab".repeat(32).as_bytes());
        m.extend_from_slice(b"\x00\x00\x00\x06create");
        m.extend_from_slice(b"\x00\x00\x00\x07created");
        match remote_id {
            Some(r) => {
                m.extend_from_slice(&[0, 0, 0, r.len() as u8]);
                m.extend_from_slice(r.as_bytes());
            }
            None => m.extend_from_slice(b"\xff\xff\xff\xff"),
        }
        m.extend_from_slice(b"\x00\x00\x00\x40");
        m.extend_from_slice(GENESIS.as_bytes());
        m
    }

    #[test]
    fn the_encoding_is_length_prefixed_fields_in_a_fixed_order() {
        assert_eq!(
            canonical(&entry(1, GENESIS, Some("10042"))),
            hand_encoded(Some("10042"))
        );
        assert_eq!(canonical(&entry(1, GENESIS, None)), hand_encoded(None));
        // An empty remote id and an absent one differ.
        assert_ne!(
            canonical(&entry(1, GENESIS, Some(""))),
            canonical(&entry(1, GENESIS, None))
        );
    }

    #[test]
    fn a_persons_name_and_detail_follow_prev_hash_and_cannot_be_removed() {
        let mut e = entry(1, GENESIS, None);
        e.action = "decide".into();
        e.result = "recorded".into();
        e.actor = Some("wang".into());
        e.detail = Some("{}".into());
        let mut m = canonical(&entry(1, GENESIS, None));
        // The first fields as any entry's, with decide/recorded for create/created.
        let plain = hand_encoded(None);
        assert_eq!(m, plain);
        m = Vec::new();
        m.extend_from_slice(&plain[..plain.len() - (4 + 64) - 4 - (4 + 7) - (4 + 6)]);
        m.extend_from_slice(b"\x00\x00\x00\x06decide");
        m.extend_from_slice(b"\x00\x00\x00\x08recorded");
        m.extend_from_slice(b"\xff\xff\xff\xff");
        m.extend_from_slice(b"\x00\x00\x00\x40");
        m.extend_from_slice(GENESIS.as_bytes());
        m.extend_from_slice(b"\x00\x00\x00\x04wang");
        m.extend_from_slice(b"\x00\x00\x00\x02{}");
        assert_eq!(canonical(&e), m);
        let key = AuditKey::new(key_bytes());
        let mut stripped = e.clone();
        stripped.actor = None;
        stripped.detail = None;
        assert_ne!(key.hash(&e), key.hash(&stripped));
        // An actor without detail still encodes the absent detail.
        let mut no_detail = e.clone();
        no_detail.detail = None;
        assert!(canonical(&no_detail).ends_with(b"\x00\x00\x00\x04wang\xff\xff\xff\xff"));
    }

    #[test]
    fn an_entry_hash_is_hmac_sha256_under_the_hkdf_derived_audit_key() {
        let keys = crate::keys::Keys::derive(&[7u8; 32]);
        let e = entry(1, GENESIS, Some("10042"));
        let want = hmac_hex(&key_bytes(), &hand_encoded(Some("10042")));
        assert_eq!(keys.audit_key().hash(&e), want);
        // Another state key gives another chain.
        assert_ne!(
            crate::keys::Keys::derive(&[8u8; 32]).audit_key().hash(&e),
            want
        );
        // The hash covers prev_hash: the same fields after another entry hash differently.
        assert_ne!(
            keys.audit_key()
                .hash(&entry(1, &"1".repeat(64), Some("10042"))),
            want
        );
    }

    fn chain(n: i64) -> (AuditKey, Vec<AuditEntry>) {
        let key = AuditKey::new(key_bytes());
        let mut out: Vec<AuditEntry> = Vec::new();
        for id in 1..=n {
            let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
            let mut e = entry(id, &prev, Some(&format!("{}", 10_000 + id)));
            // Computed here with the hmac crate over the encoding, not with AuditKey::hash.
            e.hash = hmac_hex(&key_bytes(), &canonical(&e));
            out.push(e);
        }
        (key, out)
    }

    fn verify(key: &AuditKey, entries: &[AuditEntry]) -> Result<Intact, Break> {
        let mut v = ChainVerifier::new(key);
        for e in entries {
            v.push(e)?;
        }
        Ok(v.finish())
    }

    #[test]
    fn an_intact_chain_verifies_with_its_count_and_head() {
        let (key, entries) = chain(5);
        assert_eq!(
            verify(&key, &entries),
            Ok(Intact {
                entries: 5,
                head: Some(entries[4].hash.clone())
            })
        );
        assert_eq!(
            verify(&key, &[]),
            Ok(Intact {
                entries: 0,
                head: None
            })
        );
    }

    #[test]
    fn an_altered_entry_is_a_hash_mismatch_at_that_entry() {
        let (key, mut entries) = chain(5);
        entries[2].remote_id = Some("10004".into());
        assert_eq!(verify(&key, &entries), Err(Break::Hash { id: 3 }));
        let (key, mut entries) = chain(5);
        entries[3].result = "updated".into();
        assert_eq!(verify(&key, &entries), Err(Break::Hash { id: 4 }));
    }

    #[test]
    fn a_deleted_entry_is_a_gap_and_a_rewired_one_a_broken_link() {
        let (key, mut entries) = chain(5);
        entries.remove(2);
        let b = verify(&key, &entries).unwrap_err();
        assert_eq!(b, Break::Gap { id: 4, expected: 3 });
        assert_eq!(
            b.to_string(),
            "entry 4: gap in ids: entry 3 before it is missing"
        );
        let (key, mut two_gone) = chain(5);
        two_gone.drain(1..3);
        assert_eq!(
            verify(&key, &two_gone).unwrap_err().to_string(),
            "entry 4: gap in ids: entries 2 to 3 before it are missing"
        );
        // Renumbering after a deletion does not help: entry 3 now points at the deleted one.
        for (i, e) in entries.iter_mut().enumerate() {
            e.id = i as i64 + 1;
        }
        let b = verify(&key, &entries).unwrap_err();
        assert_eq!(b.id(), 3);
        assert!(matches!(b, Break::Link { .. }), "{b}");
        // The first entry must start from the genesis value.
        let (key, mut entries) = chain(2);
        entries[0].prev_hash = "f".repeat(64);
        assert_eq!(
            verify(&key, &entries).unwrap_err().to_string(),
            "entry 1: broken link: its prev_hash ffffffffffffffff… is not the hash of the entry before it (0000000000000000…)"
        );
    }
}
