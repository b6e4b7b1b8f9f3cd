//! `[syncs.NAME]`: the two endpoints of a sync (connector plugin and stream), which way records
//! flow, its schedule and overlap policy, the per-field merge policies and how each side shows
//! a deleted record.

use super::default_timezone;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Which way records flow.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From `a` to `b` only.
    AToB,
    /// From `b` to `a` only.
    BToA,
    /// Both ways, merged field by field.
    #[default]
    Both,
}

impl Direction {
    /// The config's spelling: `a_to_b`, `b_to_a` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::AToB => "a_to_b",
            Direction::BToA => "b_to_a",
            Direction::Both => "both",
        }
    }
}

/// `[syncs.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The shared schema both endpoints speak (e.g. `worker`).
    pub schema: Spanned<String>,
    /// First endpoint.
    pub a: Endpoint,
    /// Second endpoint.
    pub b: Endpoint,
    /// Which way records flow.
    #[serde(default)]
    pub direction: Direction,
    /// When to run: crontab(5) with an optional leading seconds field.
    pub schedule: Spanned<String>,
    /// IANA time zone of the schedule.
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    /// Natural key as JSON pointers; default: the schema's `x-key`.
    #[serde(default)]
    pub key: Option<Spanned<Vec<String>>>,
    /// Field-level merge policy for `both`.
    #[serde(default = "default_merge")]
    pub merge: Spanned<MergeConfig>,
    /// How each side shows an ended record (see [`DeletesConfig`]).
    #[serde(default = "default_deletes")]
    pub deletes: Spanned<DeletesConfig>,
    /// Records per `read`/`write` call.
    #[serde(default = "default_batch_size")]
    pub batch_size: Spanned<u32>,
    /// A disabled sync is loaded and checked but never scheduled.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Fire times that pass while a run is still going: `skip` them, or `queue_one` run after.
    #[serde(default)]
    pub overlap: Overlap,
    /// Fire times missed while the daemon was down are caught up (with one run) if the latest
    /// is at most this old; a duration such as `"1h"` or `"90s"` (humantime syntax).
    #[serde(default = "default_catch_up_window", with = "humantime_serde")]
    pub catch_up_window: std::time::Duration,
    /// Largest random delay after each fire time (never reaching the next), e.g. `"30s"`.
    #[serde(default, with = "humantime_serde")]
    pub jitter: std::time::Duration,
}

/// What happens to fire times that pass while a run of the same sync is still going.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// They are skipped.
    #[default]
    Skip,
    /// They collapse into one run right after.
    QueueOne,
}

const fn default_catch_up_window() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}

fn default_merge() -> Spanned<MergeConfig> {
    Spanned::new(0..0, MergeConfig::default())
}

fn default_deletes() -> Spanned<DeletesConfig> {
    Spanned::new(0..0, DeletesConfig::default())
}

fn default_batch_size() -> Spanned<u32> {
    Spanned::new(0..0, 200)
}

const fn default_true() -> bool {
    true
}

/// One end of a sync.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Plugin name (a key of `[plugins]`).
    pub plugin: Spanned<String>,
    /// Stream of that plugin.
    pub stream: String,
    /// Only records whose value at each JSON pointer equals the given value take part.
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, toml::Value>,
}

/// Who decides a field's value when both sides hold the record and it changed since the key
/// last settled. The names with `_wins` are the usual names of these policies; the short
/// names are kept as aliases.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum FieldPolicy {
    /// System `a` is the system of record: its change wins, a change made on `b` is
    /// overwritten (`a_wins`, or `a`).
    #[serde(rename = "a_wins", alias = "a")]
    A,
    /// System `b` is the system of record (`b_wins`, or `b`).
    #[serde(rename = "b_wins", alias = "b")]
    B,
    /// The side that changed it since the last sync; if both did, the later of the two
    /// systems' own update times (`updated-at` of the records read); equal times, or a time
    /// missing on either side, go to `a` (`newest_wins`, or `newest`).
    #[default]
    #[serde(rename = "newest_wins", alias = "newest")]
    Newest,
    /// The side that changed it, if only one did; if both changed it to different values, the
    /// whole record is parked: nothing is written for its key until a person decides
    /// (`hub conflicts resolve ID --take a|b`) or the two sides come to agree (`park`).
    #[serde(rename = "park")]
    Park,
}

/// `merge = { default = "newest_wins", a = [...], b = [...], newest = [...], park = [...] }`:
/// JSON pointers per policy; fields not listed follow `default`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Policy for fields not listed.
    #[serde(default)]
    pub default: FieldPolicy,
    /// Fields whose system of record is `a`.
    #[serde(default)]
    pub a: Vec<String>,
    /// Fields whose system of record is `b`.
    #[serde(default)]
    pub b: Vec<String>,
    /// Fields the newer change wins.
    #[serde(default)]
    pub newest: Vec<String>,
    /// Fields whose conflicting changes wait for a person.
    #[serde(default)]
    pub park: Vec<String>,
    /// How far apart the two systems' clocks may be (humantime, `"5m"`; default `0s`): two
    /// changes of a `newest_wins` field whose update times are this close or closer cannot be
    /// ordered by the clocks, and `within_skew` decides them. Set it to the largest difference
    /// between the systems' clocks you expect (ZF-REG's local 更新时间 against HY-ESMS's
    /// `updatedAt`).
    #[serde(default, with = "humantime_serde")]
    pub clock_skew: std::time::Duration,
    /// Who decides two changes within `clock_skew` of each other, or a change without an update
    /// time: `a_wins` (the default), `b_wins`, or `park` (a person decides).
    #[serde(default)]
    pub within_skew: Concurrent,
}

/// The fallback of `newest_wins` for changes its clocks cannot order (see
/// [`MergeConfig::clock_skew`]).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum Concurrent {
    /// System `a`'s change stands.
    #[default]
    #[serde(rename = "a_wins", alias = "a")]
    A,
    /// System `b`'s change stands.
    #[serde(rename = "b_wins", alias = "b")]
    B,
    /// The record waits for a person.
    #[serde(rename = "park")]
    Park,
}

impl MergeConfig {
    /// The policy of every listed pointer.
    pub fn rules(&self) -> Vec<(String, FieldPolicy)> {
        let a = self.a.iter().map(|p| (p.clone(), FieldPolicy::A));
        let b = self.b.iter().map(|p| (p.clone(), FieldPolicy::B));
        let n = self.newest.iter().map(|p| (p.clone(), FieldPolicy::Newest));
        let k = self.park.iter().map(|p| (p.clone(), FieldPolicy::Park));
        a.chain(b).chain(n).chain(k).collect()
    }
}

/// `[syncs.NAME.deletes]`: how each side shows that a record has ended, besides its connector's
/// own delete flag (`source-record.deleted`, e.g. HY-ESMS's soft delete), as values at JSON
/// pointers of the shared schema, e.g. `a = { "/status" = "returned_home" }` for ZF-REG, which
/// has no deletes (务工状态 3, 返乡).
///
/// When one side newly shows an end (its connector reports a delete, or its record comes to
/// hold all of its values here), the other side's record is given the *other* side's values
/// here, whatever the field policies say, so the end reaches it in the form that system
/// knows. A side with no values here is never told: the end stays on the side that made it. A
/// record its connector reports deleted is a tombstone: the hub never writes it again, and a
/// copy read later with an older update time is ignored as stale.
///
/// `native = ["b"]` tells side `b` of an end natively instead (contract 0.2's native delete:
/// its connector deletes the record, or marks it ended as its system does, e.g. HY-ESMS's soft
/// delete); the side's stream must say `can-delete`. A native side's values here, if any, still
/// show an end it makes itself. A record ended natively is a tombstone like any record its
/// connector reports deleted: if the other side's record comes back (a resident who leaves home
/// again), the ended record is not revived. Choose `native` where an end is final; the field
/// form follows a record back.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeletesConfig {
    /// Values that show an ended record on `a`.
    #[serde(default)]
    pub a: BTreeMap<String, toml::Value>,
    /// Values that show an ended record on `b`.
    #[serde(default)]
    pub b: BTreeMap<String, toml::Value>,
    /// Sides told of an end natively (`"a"`, `"b"`), not in field form.
    #[serde(default)]
    pub native: Vec<String>,
}

impl DeletesConfig {
    /// Whether `side` (`"a"` or `"b"`) is told of an end natively.
    pub fn is_native(&self, side: &str) -> bool {
        self.native.iter().any(|s| s == side)
    }
}
