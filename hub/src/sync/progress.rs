//! Where the runs in progress stand: the board the admin API and the status page read
//! ([`ProgressBoard`]) and the tracker a run updates after every batch, logging its progress
//! now and then.

use super::*;

/// Where a run in progress stands (for the logs, the admin API and the status page).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RunProgress {
    /// Run id in the history.
    pub run_id: i64,
    /// `read a`, `read b` or `write`.
    pub phase: String,
    /// Records handled in this phase so far (read, or reconciled and written).
    pub records: u64,
    /// Records this phase has to handle, when known: the write phase knows its pending keys; a
    /// read knows when its connector says how many records wait (contract 0.2's
    /// `batch.remaining`: the records read so far plus the last batch's `remaining`).
    pub total: Option<u64>,
    /// `total` is the connector's estimate, not an exact count.
    #[serde(default)]
    pub total_estimated: bool,
    /// Records per second in this phase so far.
    pub records_per_second: f64,
    /// Seconds left in this phase at that rate, when the total is known.
    pub eta_seconds: Option<f64>,
    /// When the run started (RFC 3339).
    pub started_at: String,
}

/// The runs in progress of one engine, by sync name. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct ProgressBoard(Arc<Mutex<HashMap<String, RunProgress>>>);

impl ProgressBoard {
    /// The run of `sync` in progress, if any.
    pub fn get(&self, sync: &str) -> Option<RunProgress> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sync)
            .cloned()
    }

    fn set(&self, sync: &str, p: RunProgress) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(sync.to_string(), p);
    }

    fn remove(&self, sync: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(sync);
    }
}

/// How often a long run logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Tracks one run's progress: publishes it on the board after every batch and logs it every
/// [`PROGRESS_EVERY`].
pub(super) struct Tracker {
    board: ProgressBoard,
    sync: String,
    now: RunProgress,
    phase_started: Instant,
    logged: Instant,
}

impl Tracker {
    pub(super) fn new(board: ProgressBoard, sync: &str, run_id: i64) -> Tracker {
        let now = RunProgress {
            run_id,
            phase: "start".into(),
            records: 0,
            total: None,
            total_estimated: false,
            records_per_second: 0.0,
            eta_seconds: None,
            started_at: now_rfc3339(),
        };
        board.set(sync, now.clone());
        Tracker {
            board,
            sync: sync.to_string(),
            now,
            phase_started: Instant::now(),
            logged: Instant::now(),
        }
    }

    pub(super) fn phase(&mut self, phase: &str, total: Option<u64>) {
        self.now.phase = phase.to_string();
        self.now.records = 0;
        self.now.total = total;
        self.now.total_estimated = false;
        self.now.records_per_second = 0.0;
        self.now.eta_seconds = None;
        self.phase_started = Instant::now();
        self.board.set(&self.sync, self.now.clone());
    }

    /// Counts `n` more records; `remaining`, when a read's connector says it, makes the phase's
    /// total the records so far plus those still waiting.
    pub(super) fn add(&mut self, n: u64, remaining: Option<&crate::runtime::Remaining>) {
        let p = &mut self.now;
        p.records += n;
        if let Some(r) = remaining {
            p.total = Some(p.records.saturating_add(r.count));
            p.total_estimated = !r.exact;
        }
        let secs = self.phase_started.elapsed().as_secs_f64();
        p.records_per_second = if secs > 0.0 {
            p.records as f64 / secs
        } else {
            0.0
        };
        p.eta_seconds = p
            .total
            .filter(|_| p.records_per_second > 0.0)
            .map(|t| t.saturating_sub(p.records) as f64 / p.records_per_second);
        self.board.set(&self.sync, p.clone());
        if self.logged.elapsed() >= PROGRESS_EVERY {
            self.logged = Instant::now();
            let about = if p.total_estimated { "about " } else { "" };
            let of = p
                .total
                .map(|t| format!(" of {about}{t}"))
                .unwrap_or_default();
            let eta = p
                .eta_seconds
                .map(|e| format!(", about {e:.0} s left"))
                .unwrap_or_default();
            tracing::info!(target: "hub::sync", sync = %self.sync, run = p.run_id, phase = %p.phase, records = p.records, "progress: {} records{of} ({:.0}/s{eta})", p.records, p.records_per_second);
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.board.remove(&self.sync);
    }
}
