//! ZF-REG's data: residents as the raw strings of their 14 columns, keyed by 登记编号, and the
//! job board.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::clock::{self, Clock};
use crate::seed::{COLUMNS, Seed};

/// Column positions in [`COLUMNS`].
pub(crate) mod col {
    pub(crate) const DJBH: usize = 0;
    pub(crate) const XM: usize = 1;
    pub(crate) const SFZH: usize = 2;
    pub(crate) const XB: usize = 3;
    pub(crate) const LXDH: usize = 4;
    pub(crate) const HJXZ: usize = 5;
    pub(crate) const WGSF: usize = 6;
    pub(crate) const WGXQ: usize = 7;
    pub(crate) const WGDW: usize = 8;
    pub(crate) const DWXYDM: usize = 9;
    pub(crate) const GZ: usize = 10;
    pub(crate) const WGZT: usize = 11;
    pub(crate) const DJRQ: usize = 12;
    pub(crate) const GXSJ: usize = 13;
}

/// One resident: the stored strings, and 更新时间 read as Unix seconds.
#[derive(Debug, Clone)]
pub(crate) struct Resident {
    pub(crate) cols: [String; 14],
    pub(crate) updated: i64,
}

impl Resident {
    pub(crate) fn djbh(&self) -> &str {
        &self.cols[col::DJBH]
    }

    /// The identity number normalised (GB 11643: `x` → `X`, 15 digits upgraded), the key
    /// duplicates are found by.
    fn key(&self) -> String {
        hub_schemas::id_number::normalise(&self.cols[col::SFZH])
    }
}

/// A resident as `/_admin/workers` shows it: an object keyed by the Chinese column names.
impl Serialize for Resident {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(COLUMNS.len()))?;
        for (name, value) in COLUMNS.iter().zip(&self.cols) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Job-board fields, in the order `/api/job/list` shows them between `id` and `gxsj`.
pub(crate) const JOB_FIELDS: [&str; 9] = [
    "wbbh", "qymc", "xydm", "gwmc", "zprs", "xzfw", "gzdd", "jzrq", "zt",
];

/// A job-board posting: id, update time and the fields (JSON values, so that the side-door can
/// store anything).
#[derive(Debug, Clone)]
pub(crate) struct JobPost {
    pub(crate) id: u64,
    pub(crate) updated: i64,
    pub(crate) fields: Map<String, Value>,
}

impl Serialize for JobPost {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        for name in JOB_FIELDS {
            if let Some(v) = self.fields.get(name) {
                map.serialize_entry(name, v)?;
            }
        }
        for (k, v) in &self.fields {
            if !JOB_FIELDS.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("gxsj", &clock::local_datetime(self.updated))?;
        map.end()
    }
}

/// Everything the registry holds.
#[derive(Debug, Default)]
pub(crate) struct ZfData {
    pub(crate) clock: Clock,
    residents: BTreeMap<String, Resident>,
    /// Normalised identity number → 登记编号 holding it.
    keys: HashMap<String, BTreeSet<String>>,
    /// Last 登记编号 sequence number handed out.
    last_seq: u64,
    jobs: Vec<JobPost>,
    last_job_id: u64,
}

impl ZfData {
    pub(crate) fn from_seed(seed: &Seed) -> ZfData {
        let mut data = ZfData::default();
        for r in &seed.residents {
            let cols = r.clone().into_columns();
            let updated = clock::parse_local_datetime(&cols[col::GXSJ])
                .expect("seeded 更新时间 is well-formed");
            data.insert(Resident { cols, updated });
        }
        data
    }

    pub(crate) fn residents(&self) -> impl Iterator<Item = &Resident> {
        self.residents.values()
    }

    pub(crate) fn resident(&self, djbh: &str) -> Option<&Resident> {
        self.residents.get(djbh)
    }

    /// The first 登记编号 whose identity number normalises to `key`, other than `except`.
    pub(crate) fn holder(&self, key: &str, except: Option<&str>) -> Option<&str> {
        self.keys
            .get(key)?
            .iter()
            .map(String::as_str)
            .find(|d| Some(*d) != except)
    }

    /// The next 登记编号: `ZF` + the current year + the next 6-digit sequence number.
    pub(crate) fn next_djbh(&mut self, now: i64) -> String {
        self.last_seq += 1;
        format!("ZF{}{:06}", clock::local_year(now), self.last_seq)
    }

    /// Stores a resident, replacing one with the same 登记编号.
    pub(crate) fn insert(&mut self, r: Resident) {
        if let Some(seq) = r.djbh().get(6..).and_then(|s| s.parse::<u64>().ok()) {
            self.last_seq = self.last_seq.max(seq);
        }
        self.remove(r.djbh());
        self.keys
            .entry(r.key())
            .or_default()
            .insert(r.djbh().to_string());
        self.residents.insert(r.djbh().to_string(), r);
    }

    pub(crate) fn remove(&mut self, djbh: &str) -> Option<Resident> {
        let old = self.residents.remove(djbh)?;
        let key = old.key();
        if let Some(set) = self.keys.get_mut(&key) {
            set.remove(djbh);
            if set.is_empty() {
                self.keys.remove(&key);
            }
        }
        Some(old)
    }

    pub(crate) fn jobs(&self) -> &[JobPost] {
        &self.jobs
    }

    pub(crate) fn job(&self, id: u64) -> Option<&JobPost> {
        self.jobs
            .binary_search_by_key(&id, |j| j.id)
            .ok()
            .map(|i| &self.jobs[i])
    }

    /// The posting with this 外部编号 (wbbh).
    pub(crate) fn job_by_wbbh(&self, wbbh: &str) -> Option<&JobPost> {
        self.jobs
            .iter()
            .find(|j| j.fields.get("wbbh").and_then(Value::as_str) == Some(wbbh))
    }

    /// Stores a new posting under the next id.
    pub(crate) fn add_job(&mut self, fields: Map<String, Value>, updated: i64) -> &JobPost {
        self.last_job_id += 1;
        self.jobs.push(JobPost {
            id: self.last_job_id,
            updated,
            fields,
        });
        self.jobs.last().expect("just pushed")
    }

    /// Replaces a posting's fields and update time.
    pub(crate) fn replace_job(
        &mut self,
        id: u64,
        fields: Map<String, Value>,
        updated: i64,
    ) -> Option<&JobPost> {
        let i = self.jobs.binary_search_by_key(&id, |j| j.id).ok()?;
        let job = &mut self.jobs[i];
        job.fields = fields;
        job.updated = updated;
        Some(job)
    }

    pub(crate) fn remove_job(&mut self, id: u64) -> Option<JobPost> {
        let i = self.jobs.binary_search_by_key(&id, |j| j.id).ok()?;
        Some(self.jobs.remove(i))
    }
}
