//! MED-ROSTER's resources in memory: every version of every `Organization`, `Practitioner` and
//! `PractitionerRole`, a millisecond clock, the search logic (parameters, `_include`,
//! `_revinclude`, sorting) and the result snapshots that `next` links page through.
//!
//! Resources are kept as JSON objects, complete with `id` and `meta` (`versionId`,
//! `lastUpdated`), so that the side-door can store anything a test needs (a resource that breaks
//! the rules included) and every answer shows exactly what is stored.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::clock::cst;

/// The resource types this roster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Organization,
    Practitioner,
    PractitionerRole,
}

/// System of the resident identity number in `Practitioner.identifier`.
pub(crate) const RESIDENT_ID: &str = "urn:cn:resident-id";
/// System of the unified social credit code in `Organization.identifier`.
pub(crate) const USCC: &str = "urn:cn:uscc";
/// URL of the extension holding a `PractitionerRole`'s batch (`valueInteger`).
pub(crate) const BATCH_EXTENSION: &str =
    "http://example.org/fhir/StructureDefinition/secondment-batch";
/// URL of the extension referring a `PractitionerRole` to the organisation that sent the
/// clinician (`valueReference`).
pub(crate) const SENDING_ORGANIZATION_EXTENSION: &str =
    "http://example.org/fhir/StructureDefinition/sending-organization";

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [
        Kind::Organization,
        Kind::Practitioner,
        Kind::PractitionerRole,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Organization => "Organization",
            Kind::Practitioner => "Practitioner",
            Kind::PractitionerRole => "PractitionerRole",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The elements FHIR R4 defines for the type (top level), so that a misspelt element is
    /// refused as a real server refuses it.
    fn elements(self) -> &'static [&'static str] {
        const ORGANIZATION: &[&str] = &[
            "identifier",
            "active",
            "type",
            "name",
            "alias",
            "telecom",
            "address",
            "partOf",
            "contact",
            "endpoint",
        ];
        const PRACTITIONER: &[&str] = &[
            "identifier",
            "active",
            "name",
            "telecom",
            "address",
            "gender",
            "birthDate",
            "photo",
            "qualification",
            "communication",
        ];
        const ROLE: &[&str] = &[
            "identifier",
            "active",
            "period",
            "practitioner",
            "organization",
            "code",
            "specialty",
            "location",
            "healthcareService",
            "telecom",
            "availableTime",
            "notAvailable",
            "availabilityExceptions",
            "endpoint",
        ];
        match self {
            Kind::Organization => ORGANIZATION,
            Kind::Practitioner => PRACTITIONER,
            Kind::PractitionerRole => ROLE,
        }
    }

    /// True if `element` is one FHIR R4 defines for the type.
    pub(crate) fn knows(self, element: &str) -> bool {
        matches!(
            element,
            "resourceType"
                | "id"
                | "meta"
                | "implicitRules"
                | "language"
                | "text"
                | "contained"
                | "extension"
                | "modifierExtension"
        ) || self.elements().contains(&element)
    }
}

/// A clock in whole milliseconds that never goes backwards and never hands out the same
/// instant twice (every version gets its own `lastUpdated`).
#[derive(Debug, Default, Clone)]
pub(crate) struct MsClock {
    last: i64,
}

impl MsClock {
    pub(crate) fn now(&mut self) -> i64 {
        self.last = (self.last + 1).max(Utc::now().timestamp_millis());
        self.last
    }

    /// Notes a time set from outside (the side-door), so later times come after it.
    fn saw(&mut self, ms: i64) {
        self.last = self.last.max(ms);
    }
}

/// `meta.lastUpdated` as this server writes it: milliseconds, China Standard Time offset.
pub(crate) fn instant(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&cst())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// Parses a FHIR instant or dateTime search value into the range of milliseconds it covers at
/// its precision: `2021-09-02T10:00:00+08:00` covers that whole second,
/// `2021-09-02T10:00:00.123+08:00` one millisecond, `2021-09-02` that day (China Standard
/// Time, the server's zone).
pub(crate) fn instant_range(s: &str) -> Option<(i64, i64)> {
    if s.len() == 10 {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        let start = cst()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()?
            .timestamp_millis();
        return Some((start, start + 86_400_000));
    }
    let t: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(s).ok()?;
    let lo = t.timestamp_millis();
    // Precision from the digits after the seconds' decimal point.
    let digits = s
        .split_once('.')
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).count())
        .unwrap_or(0);
    let width = match digits {
        0 => 1000,
        1 => 100,
        2 => 10,
        _ => 1,
    };
    Some((lo, lo + width))
}

/// A stored resource: its versions, oldest first (each complete with `id` and `meta`), and
/// whether it was deleted (reads answer 410).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) versions: Vec<Value>,
    pub(crate) deleted: bool,
    pub(crate) last_updated: i64,
}

impl Entry {
    pub(crate) fn current(&self) -> &Value {
        self.versions.last().expect("an entry has a version")
    }

    pub(crate) fn version(&self) -> u64 {
        self.versions.len() as u64
    }
}

/// The roster's data (`Clone`: a transaction works on a copy and keeps it only if every
/// entry succeeds).
#[derive(Debug, Default, Clone)]
pub(crate) struct MedData {
    pub(crate) clock: MsClock,
    next_id: u64,
    entries: BTreeMap<(Kind, u64), Entry>,
    snapshots: HashMap<String, Snapshot>,
    snapshot_order: VecDeque<String>,
    next_snapshot: u64,
}

/// Ids are decimal numbers handed out in order across all types, as many servers do.
fn parse_id(id: &str) -> Option<u64> {
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0'))
        .then(|| id.parse().ok())
        .flatten()
}

impl MedData {
    pub(crate) fn get(&self, kind: Kind, id: &str) -> Option<&Entry> {
        self.entries.get(&(kind, parse_id(id)?))
    }

    /// Every live resource of a type, by id.
    pub(crate) fn all(&self, kind: Kind) -> impl Iterator<Item = (&u64, &Entry)> {
        self.entries
            .range((kind, 0)..=(kind, u64::MAX))
            .filter(|(_, e)| !e.deleted)
            .map(|((_, id), e)| (id, e))
    }

    /// Stores a new resource under the next id, version 1, at `at` (now if `None`); returns its
    /// id.
    pub(crate) fn create(
        &mut self,
        kind: Kind,
        mut resource: Map<String, Value>,
        at: Option<i64>,
    ) -> String {
        self.next_id += 1;
        let id = self.next_id;
        let ms = match at {
            Some(ms) => {
                self.clock.saw(ms);
                ms
            }
            None => self.clock.now(),
        };
        stamp(&mut resource, kind, &id.to_string(), 1, ms);
        self.entries.insert(
            (kind, id),
            Entry {
                versions: vec![Value::Object(resource)],
                deleted: false,
                last_updated: ms,
            },
        );
        id.to_string()
    }

    /// Stores a new version of an existing resource; returns its version number.
    pub(crate) fn update(
        &mut self,
        kind: Kind,
        id: &str,
        mut resource: Map<String, Value>,
        at: Option<i64>,
    ) -> Option<u64> {
        let ms = match at {
            Some(ms) => {
                self.clock.saw(ms);
                ms
            }
            None => self.clock.now(),
        };
        let entry = self.entries.get_mut(&(kind, parse_id(id)?))?;
        let version = entry.version() + 1;
        stamp(&mut resource, kind, id, version, ms);
        entry.versions.push(Value::Object(resource));
        entry.last_updated = ms;
        entry.deleted = false;
        Some(version)
    }

    /// Deletes a resource (reads answer 410 Gone from now on).
    pub(crate) fn delete(&mut self, kind: Kind, id: &str) -> bool {
        match parse_id(id).and_then(|id| self.entries.get_mut(&(kind, id))) {
            Some(e) if !e.deleted => {
                e.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// The live resource a reference such as `Practitioner/12` points at.
    pub(crate) fn resolve(&self, reference: &str) -> Option<(Kind, &Entry)> {
        let (kind, id) = reference.split_once('/')?;
        let kind = Kind::parse(kind)?;
        self.get(kind, id).filter(|e| !e.deleted).map(|e| (kind, e))
    }
}

/// Sets `resourceType`, `id` and `meta` (`versionId`, `lastUpdated`), keeping other `meta`
/// members (profiles, tags) as given.
fn stamp(resource: &mut Map<String, Value>, kind: Kind, id: &str, version: u64, ms: i64) {
    let mut meta = match resource.remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert("versionId".into(), json!(version.to_string()));
    meta.insert("lastUpdated".into(), json!(instant(ms)));
    let mut out = Map::new();
    out.insert("resourceType".into(), json!(kind.name()));
    out.insert("id".into(), json!(id));
    out.insert("meta".into(), Value::Object(meta));
    for (k, v) in std::mem::take(resource) {
        if k != "resourceType" && k != "id" {
            out.insert(k, v);
        }
    }
    *resource = out;
}

/// The resource's content without `id` and `meta`: what an update compares to decide whether
/// anything changed.
pub(crate) fn content(resource: &Value) -> Map<String, Value> {
    let mut m = resource.as_object().cloned().unwrap_or_default();
    m.remove("id");
    m.remove("meta");
    m.remove("resourceType");
    m
}

// ---------------------------------------------------------------------------------------------
// Search

/// A `_lastUpdated` comparison.
#[derive(Debug, Clone, Copy)]
enum Compare {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A token search value: `system|value`, `|value` (no system), `value` (any system) or
/// `system|` (any value).
#[derive(Debug, Clone)]
struct Token {
    system: Option<String>,
    value: Option<String>,
}

impl Token {
    fn parse(s: &str) -> Token {
        match s.split_once('|') {
            Some((sys, val)) => Token {
                system: Some(sys.to_string()),
                value: (!val.is_empty()).then(|| val.to_string()),
            },
            None => Token {
                system: None,
                value: Some(s.to_string()),
            },
        }
    }

    fn matches(&self, identifiers: Option<&Value>) -> bool {
        identifiers
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|i| {
                let sys = i.get("system").and_then(Value::as_str);
                let val = i.get("value").and_then(Value::as_str);
                let sys_ok = match self.system.as_deref() {
                    None => true,
                    Some("") => sys.is_none(),
                    Some(s) => sys == Some(s),
                };
                sys_ok && self.value.as_deref().is_none_or(|v| val == Some(v))
            })
    }
}

/// What to include beside the matches: `(source type, reference element, target type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Include {
    source: Kind,
    element: &'static str,
    target: Kind,
}

const INCLUDES: [(&str, Include); 2] = [
    (
        "PractitionerRole:practitioner",
        Include {
            source: Kind::PractitionerRole,
            element: "practitioner",
            target: Kind::Practitioner,
        },
    ),
    (
        "PractitionerRole:organization",
        Include {
            source: Kind::PractitionerRole,
            element: "organization",
            target: Kind::Organization,
        },
    ),
];

/// Search result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    /// By `lastUpdated`, then id (the default).
    LastUpdated,
    LastUpdatedDesc,
    Id,
}

/// A parsed search.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    kind: Kind,
    last_updated: Vec<(Compare, (i64, i64))>,
    ids: Option<Vec<String>>,
    /// Any of these (a comma-separated list, as FHIR search ORs values).
    identifier: Option<Vec<Token>>,
    practitioner: Option<String>,
    organization: Option<String>,
    name: Option<(bool, String)>,
    active: Option<bool>,
    sort: Sort,
    pub(crate) count: usize,
    includes: Vec<Include>,
    revincludes: Vec<Include>,
}

/// The default and largest page sizes.
pub(crate) const DEFAULT_COUNT: usize = 50;
pub(crate) const MAX_COUNT: usize = 500;

/// A search parameter this server refuses, with why (HTTP 400).
#[derive(Debug)]
pub(crate) struct BadSearch(pub(crate) String);

impl Search {
    /// Parses the query of `GET /fhir/{kind}` (or an `If-None-Exist` header). Unknown
    /// parameters are refused, as a strict server does, rather than silently ignored.
    pub(crate) fn parse(kind: Kind, params: &[(String, String)]) -> Result<Search, BadSearch> {
        let mut s = Search {
            kind,
            last_updated: Vec::new(),
            ids: None,
            identifier: None,
            practitioner: None,
            organization: None,
            name: None,
            active: None,
            sort: Sort::LastUpdated,
            count: DEFAULT_COUNT,
            includes: Vec::new(),
            revincludes: Vec::new(),
        };
        for (k, v) in params {
            let bad = |why: &str| BadSearch(format!("{k}={v}: {why}"));
            match (k.as_str(), kind) {
                ("_lastUpdated", _) => {
                    let (cmp, rest) = match v.get(..2) {
                        Some("gt") => (Compare::Gt, &v[2..]),
                        Some("ge") => (Compare::Ge, &v[2..]),
                        Some("lt") => (Compare::Lt, &v[2..]),
                        Some("le") => (Compare::Le, &v[2..]),
                        Some("eq") => (Compare::Eq, &v[2..]),
                        _ => (Compare::Eq, v.as_str()),
                    };
                    let range = instant_range(rest).ok_or_else(|| {
                        bad(if rest.contains(' ') {
                            "not a FHIR instant (a '+' in the offset must be percent-encoded as %2B)"
                        } else {
                            "not a FHIR instant, e.g. gt2021-09-02T10:00:00.000+08:00"
                        })
                    })?;
                    s.last_updated.push((cmp, range));
                }
                ("_id", _) => s.ids = Some(v.split(',').map(str::to_string).collect()),
                ("_count", _) => {
                    s.count = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_COUNT).contains(n))
                        .ok_or_else(|| bad(&format!("_count must be 1 to {MAX_COUNT}")))?;
                }
                ("_sort", _) => {
                    s.sort = match v.as_str() {
                        "_lastUpdated" => Sort::LastUpdated,
                        "-_lastUpdated" => Sort::LastUpdatedDesc,
                        "_id" => Sort::Id,
                        _ => return Err(bad("supported: _lastUpdated, -_lastUpdated, _id")),
                    }
                }
                ("_include", _) | ("_revinclude", _) => {
                    let inc = INCLUDES
                        .iter()
                        .find(|(name, _)| name == v)
                        .map(|(_, i)| *i)
                        .ok_or_else(|| bad("supported: PractitionerRole:practitioner, PractitionerRole:organization"))?;
                    if k == "_include" {
                        if inc.source != kind {
                            return Err(bad(&format!("not a reference of {}", kind.name())));
                        }
                        s.includes.push(inc);
                    } else {
                        if inc.target != kind {
                            return Err(bad(&format!("does not point at {}", kind.name())));
                        }
                        s.revincludes.push(inc);
                    }
                }
                ("_format", _)
                    if matches!(
                        v.as_str(),
                        "json" | "application/fhir+json" | "application/json"
                    ) => {}
                ("_format", _) => return Err(bad("this server speaks JSON only")),
                ("identifier", _) => s.identifier = Some(v.split(',').map(Token::parse).collect()),
                ("practitioner", Kind::PractitionerRole) => {
                    s.practitioner = Some(reference(v, "Practitioner"))
                }
                ("organization", Kind::PractitionerRole) => {
                    s.organization = Some(reference(v, "Organization"))
                }
                ("active", Kind::PractitionerRole | Kind::Organization) => {
                    s.active = Some(match v.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad("true or false")),
                    })
                }
                ("name", Kind::Organization) => s.name = Some((false, v.clone())),
                ("name:exact", Kind::Organization) => s.name = Some((true, v.clone())),
                _ => {
                    return Err(BadSearch(format!(
                        "unknown search parameter {k:?} for {}",
                        kind.name()
                    )));
                }
            }
        }
        Ok(s)
    }

    fn matches(&self, id: u64, e: &Entry) -> bool {
        let r = e.current();
        let lu = e.last_updated;
        self.last_updated.iter().all(|(cmp, (lo, hi))| match cmp {
            Compare::Eq => *lo <= lu && lu < *hi,
            Compare::Gt => lu >= *hi,
            Compare::Ge => lu >= *lo,
            Compare::Lt => lu < *lo,
            Compare::Le => lu < *hi,
        }) && self
            .ids
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|i| *i == id.to_string()))
            && self
                .identifier
                .as_ref()
                .is_none_or(|any| any.iter().any(|t| t.matches(r.get("identifier"))))
            && self.practitioner.as_ref().is_none_or(|p| {
                r.pointer("/practitioner/reference").and_then(Value::as_str) == Some(p)
            })
            && self.organization.as_ref().is_none_or(|o| {
                r.pointer("/organization/reference").and_then(Value::as_str) == Some(o)
            })
            && self
                .active
                .is_none_or(|a| r.get("active").and_then(Value::as_bool) == Some(a))
            && self.name.as_ref().is_none_or(|(exact, want)| {
                let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                if *exact {
                    name == want
                } else {
                    name.to_lowercase().starts_with(&want.to_lowercase())
                }
            })
    }

    /// The matching resources in result order, as `(kind, id)`.
    pub(crate) fn run(&self, data: &MedData) -> Vec<(Kind, u64)> {
        let mut hits: Vec<(i64, u64)> = data
            .all(self.kind)
            .filter(|(id, e)| self.matches(**id, e))
            .map(|(id, e)| (e.last_updated, *id))
            .collect();
        match self.sort {
            Sort::LastUpdated => hits.sort(),
            Sort::LastUpdatedDesc => hits.sort_by(|a, b| b.cmp(a)),
            Sort::Id => hits.sort_by_key(|h| h.1),
        }
        hits.into_iter().map(|(_, id)| (self.kind, id)).collect()
    }
}

/// `Practitioner/12` from `12` or `Practitioner/12` (or a full URL ending so).
fn reference(v: &str, kind: &str) -> String {
    let tail = v
        .rsplit_once(&format!("{kind}/"))
        .map(|(_, t)| t)
        .unwrap_or(v);
    format!("{kind}/{tail}")
}

/// The resources to include beside a page of matches (each once, none that is a match).
pub(crate) fn included(data: &MedData, search: &Search, page: &[(Kind, u64)]) -> Vec<Value> {
    let mut out: Vec<(Kind, u64)> = Vec::new();
    let add = |k: Kind, id: u64, out: &mut Vec<(Kind, u64)>| {
        if !page.contains(&(k, id)) && !out.contains(&(k, id)) {
            out.push((k, id));
        }
    };
    for &(kind, id) in page {
        let Some(e) = data.entries.get(&(kind, id)) else {
            continue;
        };
        for inc in search.includes.iter().filter(|i| i.source == kind) {
            let reference = e
                .current()
                .get(inc.element)
                .and_then(|r| r.get("reference"))
                .and_then(Value::as_str);
            if let Some((k, id)) = reference
                .and_then(|r| r.split_once('/'))
                .and_then(|(k, id)| Some((Kind::parse(k)?, parse_id(id)?)))
                .filter(|(k, id)| {
                    *k == inc.target && data.entries.get(&(*k, *id)).is_some_and(|e| !e.deleted)
                })
            {
                add(k, id, &mut out);
            }
        }
        for inc in search.revincludes.iter().filter(|i| i.target == kind) {
            let target = format!("{}/{id}", kind.name());
            let sources: Vec<u64> = data
                .all(inc.source)
                .filter(|(_, s)| {
                    s.current()
                        .get(inc.element)
                        .and_then(|r| r.get("reference"))
                        .and_then(Value::as_str)
                        == Some(target.as_str())
                })
                .map(|(sid, _)| *sid)
                .collect();
            for sid in sources {
                add(inc.source, sid, &mut out);
            }
        }
    }
    out.into_iter()
        .filter_map(|k| data.entries.get(&k).map(|e| e.current().clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Snapshots: a search's matches, kept for its `next` links

/// How long a search's results stay available to its `next` links.
pub(crate) const SNAPSHOT_TTL: Duration = Duration::from_secs(600);
/// Snapshots kept at most (the oldest go first).
const MAX_SNAPSHOTS: usize = 200;

/// The matches of one search, frozen when it ran (each page shows their current versions).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) search: Search,
    pub(crate) matches: Vec<(Kind, u64)>,
    created: Instant,
}

impl MedData {
    /// Keeps a search's matches; returns the snapshot id for `_getpages`.
    pub(crate) fn keep(&mut self, search: Search, matches: Vec<(Kind, u64)>) -> String {
        self.next_snapshot += 1;
        let id = format!("s{:06}", self.next_snapshot);
        self.snapshots.insert(
            id.clone(),
            Snapshot {
                search,
                matches,
                created: Instant::now(),
            },
        );
        self.snapshot_order.push_back(id.clone());
        while self.snapshot_order.len() > MAX_SNAPSHOTS {
            if let Some(old) = self.snapshot_order.pop_front() {
                self.snapshots.remove(&old);
            }
        }
        id
    }

    /// A kept search, if it has not expired.
    pub(crate) fn snapshot(&self, id: &str) -> Option<&Snapshot> {
        self.snapshots
            .get(id)
            .filter(|s| s.created.elapsed() < SNAPSHOT_TTL)
    }

    /// The current version of each resource of a page (deleted ones left out).
    pub(crate) fn resources(&self, page: &[(Kind, u64)]) -> Vec<Value> {
        page.iter()
            .filter_map(|k| self.entries.get(k))
            .filter(|e| !e.deleted)
            .map(|e| e.current().clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_cover_the_range_of_their_precision() {
        let (lo, hi) = instant_range("2021-09-02T10:00:00+08:00").unwrap();
        assert_eq!(hi - lo, 1000);
        let (lo2, hi2) = instant_range("2021-09-02T10:00:00.123+08:00").unwrap();
        assert_eq!((lo2 - lo, hi2 - lo2), (123, 1));
        let (d0, d1) = instant_range("2021-09-02").unwrap();
        assert_eq!((lo - d0, d1 - d0), (10 * 3_600_000, 86_400_000));
        assert!(instant_range("2021-09-02T10:00:00 08:00").is_none());
        assert_eq!(instant(lo2), "2021-09-02T10:00:00.123+08:00");
    }

    #[test]
    fn every_version_gets_its_own_instant() {
        let mut d = MedData::default();
        let id = d.create(Kind::Organization, Map::new(), None);
        let v = d.update(Kind::Organization, &id, Map::new(), None).unwrap();
        assert_eq!(v, 2);
        let e = d.get(Kind::Organization, &id).unwrap();
        let (a, b) = (
            &e.versions[0]["meta"]["lastUpdated"],
            &e.versions[1]["meta"]["lastUpdated"],
        );
        assert_ne!(a, b);
        assert_eq!(e.current()["meta"]["versionId"], "2");
        assert!(d.get(Kind::Organization, "01").is_none());
    }

    #[test]
    fn tokens_match_system_and_value() {
        let ids = json!([{"system": RESIDENT_ID, "value": "441303199001011234"}]);
        assert!(Token::parse(&format!("{RESIDENT_ID}|441303199001011234")).matches(Some(&ids)));
        assert!(Token::parse("441303199001011234").matches(Some(&ids)));
        assert!(Token::parse(&format!("{RESIDENT_ID}|")).matches(Some(&ids)));
        assert!(!Token::parse("|441303199001011234").matches(Some(&ids)));
        assert!(!Token::parse(&format!("{USCC}|441303199001011234")).matches(Some(&ids)));
    }

    #[test]
    fn an_identifier_search_with_commas_matches_any_of_its_values() {
        let mut d = MedData::default();
        let person = |id: &str| {
            let Value::Object(m) = json!({"identifier": [{"system": RESIDENT_ID, "value": id}]})
            else {
                unreachable!()
            };
            m
        };
        let a = d.create(Kind::Practitioner, person("441303199001011234"), None);
        d.create(Kind::Practitioner, person("44130319921120004X"), None);
        let c = d.create(Kind::Practitioner, person("441303198808081216"), None);
        let q = format!("{RESIDENT_ID}|441303199001011234,{RESIDENT_ID}|441303198808081216");
        let s = Search::parse(Kind::Practitioner, &[("identifier".into(), q)]).unwrap();
        let mut ids: Vec<String> = s.run(&d).iter().map(|(_, id)| id.to_string()).collect();
        ids.sort();
        assert_eq!(ids, [a, c]);
    }
}
