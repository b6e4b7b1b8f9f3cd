//! Counts of every write the connector made through a simulator's API, so that tests can prove
//! "nothing created twice". Writes through `/_admin/` are not counted.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// What became of one write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created,
    Updated,
    Deleted,
    /// Refused because the natural key is taken (HY 409, ZF 40902).
    DuplicateRefused,
    /// Refused because the record changed since the client read it (HY 412, ZF 40901).
    Conflict,
    /// Refused by validation (HY 422, ZF 40001).
    Rejected,
    /// The record addressed does not exist (HY 404; ZF reports an unknown 登记编号 as 40001 and
    /// counts it here too).
    NotFound,
}

/// Per-collection tallies, serialised as `/_admin/counters` shows them.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct Tally {
    created: u64,
    updated: u64,
    deleted: u64,
    duplicates_refused: u64,
    conflicts: u64,
    rejected: u64,
    not_found: u64,
}

/// Bundles posted to a FHIR base (MED-ROSTER's `POST /fhir`), by type, and their entries. The
/// entries' writes are counted in the collections as single requests' are; a Bundle is one
/// request in `requests`.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct Bundles {
    batch: u64,
    transaction: u64,
    entries: u64,
}

/// The counters of one simulator.
#[derive(Debug)]
pub(crate) struct Counters {
    requests: u64,
    bundles: Bundles,
    /// Requests refused with 429 by the rate limit (not by an injected fault).
    rate_limited: u64,
    collections: BTreeMap<&'static str, Tally>,
    /// (collection, natural key) → records the API created with it.
    created_keys: HashMap<(&'static str, String), u32>,
}

impl Counters {
    /// Counters with a zero tally for each writable collection.
    pub(crate) fn new(collections: &[&'static str]) -> Counters {
        Counters {
            requests: 0,
            rate_limited: 0,
            bundles: Bundles::default(),
            collections: collections.iter().map(|c| (*c, Tally::default())).collect(),
            created_keys: HashMap::new(),
        }
    }

    /// Counts one request to the API (any route but `/_admin/`, whatever its outcome).
    pub(crate) fn request(&mut self) {
        self.requests += 1;
    }

    /// Counts a request the rate limit refused (429).
    pub(crate) fn rate_limited(&mut self) {
        self.rate_limited += 1;
    }

    /// Counts a Bundle of `kind` (`batch` or `transaction`; others are refused uncounted) with
    /// `entries` entries.
    pub(crate) fn bundle(&mut self, kind: &str, entries: usize) {
        match kind {
            "batch" => self.bundles.batch += 1,
            "transaction" => self.bundles.transaction += 1,
            _ => return,
        }
        self.bundles.entries += entries as u64;
    }

    /// Adds the write outcomes (collections and created keys) another set of counters holds:
    /// a transaction counts its entries apart and keeps the count only if it commits.
    pub(crate) fn add_writes(&mut self, other: &Counters) {
        for (name, t) in &other.collections {
            let mine = self.collections.entry(name).or_default();
            mine.created += t.created;
            mine.updated += t.updated;
            mine.deleted += t.deleted;
            mine.duplicates_refused += t.duplicates_refused;
            mine.conflicts += t.conflicts;
            mine.rejected += t.rejected;
            mine.not_found += t.not_found;
        }
        for (key, n) in &other.created_keys {
            *self.created_keys.entry(key.clone()).or_default() += n;
        }
    }

    /// Counts a write's outcome.
    pub(crate) fn record(&mut self, collection: &'static str, outcome: Outcome) {
        let t = self.collections.entry(collection).or_default();
        let n = match outcome {
            Outcome::Created => &mut t.created,
            Outcome::Updated => &mut t.updated,
            Outcome::Deleted => &mut t.deleted,
            Outcome::DuplicateRefused => &mut t.duplicates_refused,
            Outcome::Conflict => &mut t.conflicts,
            Outcome::Rejected => &mut t.rejected,
            Outcome::NotFound => &mut t.not_found,
        };
        *n += 1;
    }

    /// Counts a record the API created, under its natural key.
    pub(crate) fn created(&mut self, collection: &'static str, key: String) {
        self.record(collection, Outcome::Created);
        *self.created_keys.entry((collection, key)).or_default() += 1;
    }

    /// Back to zero.
    pub(crate) fn reset(&mut self) {
        self.requests = 0;
        self.rate_limited = 0;
        self.bundles = Bundles::default();
        self.collections
            .values_mut()
            .for_each(|t| *t = Tally::default());
        self.created_keys.clear();
    }

    /// `{"requests", "rate_limited", "bundles": {"batch", "transaction", "entries"},
    /// "collections": {name: tally}, "keys_created_more_than_once": [{"collection", "key",
    /// "created"}]}`, keys sorted.
    pub(crate) fn to_json(&self) -> Value {
        let mut twice: Vec<_> = self.created_keys.iter().filter(|(_, n)| **n > 1).collect();
        twice.sort();
        let twice: Vec<Value> = twice
            .into_iter()
            .map(|((c, k), n)| json!({"collection": c, "key": k, "created": n}))
            .collect();
        json!({
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "bundles": self.bundles,
            "collections": self.collections,
            "keys_created_more_than_once": twice,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_created_twice_are_listed_and_reset_clears_everything() {
        let mut c = Counters::new(&["zhenfeng-workers"]);
        c.request();
        c.created("zhenfeng-workers", "A".into());
        c.created("zhenfeng-workers", "A".into());
        c.created("zhenfeng-workers", "B".into());
        c.record("zhenfeng-workers", Outcome::Conflict);
        let j = c.to_json();
        assert_eq!(j["requests"], 1);
        assert_eq!(j["collections"]["zhenfeng-workers"]["created"], 3);
        assert_eq!(j["collections"]["zhenfeng-workers"]["conflicts"], 1);
        assert_eq!(
            j["keys_created_more_than_once"],
            json!([{"collection": "zhenfeng-workers", "key": "A", "created": 2}])
        );
        c.bundle("batch", 3);
        c.bundle("transaction", 2);
        c.bundle("document", 9);
        assert_eq!(
            c.to_json()["bundles"],
            json!({"batch": 1, "transaction": 1, "entries": 5}),
            "a document is not a bundle this counts"
        );
        let mut tx = Counters::new(&[]);
        tx.created("zhenfeng-workers", "A".into());
        tx.record("zhenfeng-workers", Outcome::Updated);
        c.add_writes(&tx);
        let j = c.to_json();
        assert_eq!(j["collections"]["zhenfeng-workers"]["created"], 4);
        assert_eq!(j["collections"]["zhenfeng-workers"]["updated"], 1);
        assert_eq!(j["keys_created_more_than_once"][0]["created"], 3);
        c.reset();
        let j = c.to_json();
        assert_eq!(j["bundles"]["batch"], 0);
        assert_eq!(j["requests"], 0);
        assert_eq!(j["collections"]["zhenfeng-workers"]["created"], 0);
        assert_eq!(j["keys_created_more_than_once"], json!([]));
    }
}
