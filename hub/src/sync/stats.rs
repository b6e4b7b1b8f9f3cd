//! What a sync run reports: its counts per side ([`SideStats`], [`RunStats`]) and its result
//! ([`RunOutcome`]), whose status is the run history's ([`RunStatus`]), one of the three a run
//! ends with.

use super::*;

/// Counts for one side of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SideStats {
    /// Records read (replayed dead letters of this side included).
    pub read: u64,
    /// Dead letters of this side the run replayed through (after `hub dead-letters replay`).
    #[serde(default)]
    pub replayed: u64,
    /// Read but outside the sync's `where`.
    pub filtered: u64,
    /// Read but invalid (dead letters).
    pub invalid: u64,
    /// Read with the content already known.
    pub unchanged: u64,
    /// Read back exactly as the hub wrote them (echo suppressed).
    pub echoes: u64,
    /// Read back as the result of a write an interrupted run made here but did not record
    /// (counted once, by the run that found it; among `echoes` or `changed`).
    #[serde(default)]
    pub recovered: u64,
    /// Read with new content.
    pub changed: u64,
    /// Read by a resync `--since` but last changed before that time: read past
    /// ([`resync`]).
    #[serde(default)]
    pub before_since: u64,
    /// Read as deleted for the first time (tombstones).
    pub deleted: u64,
    /// Read with an update time older than the one already known for the record: a stale copy,
    /// ignored.
    #[serde(default)]
    pub stale: u64,
    /// Linked records that no longer match the sync's `where` (tombstoned on this side).
    pub left_scope: u64,
    /// Records created here.
    pub created: u64,
    /// Records updated here.
    pub updated: u64,
    /// Writes the connector found unnecessary.
    pub unchanged_writes: u64,
    /// Writes refused by optimistic concurrency (retried next run).
    pub conflicts: u64,
    /// Records ended here natively (contract 0.2's native delete; `deletes.a|b = "native"`).
    #[serde(default)]
    pub ended: u64,
    /// Creates the system refused because it holds a record of the key already: the hub linked
    /// that record at once (contract 0.2's `duplicate`).
    #[serde(default)]
    pub linked: u64,
    /// Writes refused for good (dead letters).
    pub rejected: u64,
    /// Writes that failed transiently (retried next run).
    pub retries: u64,
}

impl SideStats {
    /// Records written (created + updated + ended natively).
    pub fn written(&self) -> u64 {
        self.created + self.updated + self.ended
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Endpoint `a`.
    pub a: SideStats,
    /// Endpoint `b`.
    pub b: SideStats,
    /// Keys whose sides both changed a field to different values, decided by the field's policy
    /// (`a_wins`, `b_wins`, `newest_wins`).
    #[serde(default)]
    pub conflicts_resolved: u64,
    /// Keys parked: both sides changed a `park` field to different values; nothing is written
    /// for them until a person decides (`hub conflicts`).
    #[serde(default)]
    pub parked: u64,
    /// Keys still pending after the run.
    pub pending: u64,
    /// Wall-clock time, milliseconds.
    pub duration_ms: u64,
}

impl RunStats {
    pub(super) fn side(&mut self, s: Side) -> &mut SideStats {
        match s {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Records written anywhere.
    pub fn written(&self) -> u64 {
        self.a.written() + self.b.written()
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Run id in the history.
    pub run_id: i64,
    /// Sync name.
    pub sync: String,
    /// How it ended: [`RunStatus::Ok`], [`RunStatus::Partial`] or [`RunStatus::Failed`] (never
    /// one of the statuses the history gives runs that did not end themselves).
    pub status: RunStatus,
    /// Counts.
    pub stats: RunStats,
    /// Failures, one line each (no personal data).
    pub errors: Vec<String>,
    /// The interrupted run this one went on from (its process died before finishing it).
    pub resumed_from: Option<i64>,
}
