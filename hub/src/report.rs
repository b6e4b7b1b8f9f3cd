//! Run summaries for people: one line per sync direction.

use crate::config::Direction;
use crate::sync::{RunOutcome, RunStats, SideStats};

/// One direction of a run: records read from `from`, written to `to`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirectionSummary {
    /// `from → to`, by plugin name.
    pub direction: String,
    /// The source's plugin name.
    pub from: String,
    /// The target's plugin name.
    pub to: String,
    /// Records read from the source.
    pub read: u64,
    /// Read but outside the sync's `where`.
    pub filtered: u64,
    /// Records created or updated in the target.
    pub written: u64,
    /// Read with no change.
    pub unchanged: u64,
    /// Read back exactly as the hub wrote them.
    pub echoes: u64,
    /// Invalid records read, or records the target refused.
    pub dead_letters: u64,
    /// Writes left for the next run (conflicts, transient failures).
    pub deferred: u64,
}

impl DirectionSummary {
    fn of(names: (&str, &str), from: &SideStats, to: &SideStats) -> DirectionSummary {
        DirectionSummary {
            direction: format!("{} → {}", names.0, names.1),
            from: names.0.to_string(),
            to: names.1.to_string(),
            read: from.read,
            filtered: from.filtered,
            written: to.written(),
            unchanged: from.unchanged,
            echoes: from.echoes,
            dead_letters: from.invalid + to.rejected,
            deferred: to.conflicts + to.retries,
        }
    }
}

/// The directions of a run (`a → b`, `b → a` or both, as the sync flows).
pub fn directions(
    stats: &RunStats,
    a: &str,
    b: &str,
    direction: Direction,
) -> Vec<DirectionSummary> {
    let ab = DirectionSummary::of((a, b), &stats.a, &stats.b);
    let ba = DirectionSummary::of((b, a), &stats.b, &stats.a);
    match direction {
        Direction::AToB => vec![ab],
        Direction::BToA => vec![ba],
        Direction::Both => vec![ab, ba],
    }
}

/// A small table of a run, e.g.
///
/// ```text
/// workers  run 3  ok  0.41 s
///   direction                           read  filtered  written  unchanged  echoes  dead letters  deferred
///   zhenfeng-registry → huiyang-esms       1         0        0          0       0             0         0
/// ```
pub fn table(outcome: &RunOutcome, rows: &[DirectionSummary]) -> String {
    let width = rows
        .iter()
        .map(|r| r.direction.chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut s = format!(
        "{}  run {}  {}  {:.2} s\n",
        outcome.sync,
        outcome.run_id,
        outcome.status.as_str(),
        outcome.stats.duration_ms as f64 / 1000.0
    );
    s.push_str(&format!(
        "  {:<width$}  {:>6}  {:>8}  {:>7}  {:>9}  {:>6}  {:>12}  {:>8}\n",
        "direction",
        "read",
        "filtered",
        "written",
        "unchanged",
        "echoes",
        "dead letters",
        "deferred"
    ));
    for r in rows {
        let pad = width - r.direction.chars().count();
        s.push_str(&format!(
            "  {}{}  {:>6}  {:>8}  {:>7}  {:>9}  {:>6}  {:>12}  {:>8}\n",
            r.direction,
            " ".repeat(pad),
            r.read,
            r.filtered,
            r.written,
            r.unchanged,
            r.echoes,
            r.dead_letters,
            r.deferred
        ));
    }
    if outcome.stats.parked > 0 {
        // Records that wait for a person: said, or a run that only parks looks like one that
        // wrote nothing.
        s.push_str(&format!(
            "  搁置 parked: {} record(s) both systems changed under a `park` rule wait for a person (hub conflicts list)\n",
            outcome.stats.parked
        ));
    }
    for e in &outcome.errors {
        // A plugin's or a system's words: one line, control characters escaped.
        s.push_str(&format!("  error: {}\n", crate::control_chars::escape(e)));
    }
    s
}

/// An error and its causes on one line, `outer: cause: cause`, as anyhow's `{:#}` writes it,
/// but without a cause whose text the line already ends with: some libraries (sqlx's I/O
/// errors, rustls under them) put their source's message in their own, which would then show
/// twice.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_cause_repeated_in_its_wrapper_shows_once() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "error communicating with database: {}", self.0)
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::other("certificate not valid for name \"127.0.0.1\"");
        let e = anyhow::Error::new(Wrapper(io)).context("failed to connect to the state store");
        assert_eq!(
            format!("{e:#}"),
            "failed to connect to the state store: error communicating with database: certificate not valid for name \"127.0.0.1\": certificate not valid for name \"127.0.0.1\""
        );
        assert_eq!(
            error_chain(&e),
            "failed to connect to the state store: error communicating with database: certificate not valid for name \"127.0.0.1\""
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }
    use super::*;

    #[test]
    fn directions_pair_source_reads_with_target_writes() {
        let stats = RunStats {
            a: SideStats {
                read: 3000,
                filtered: 1673,
                invalid: 5,
                changed: 1322,
                unchanged_writes: 1,
                ..SideStats::default()
            },
            b: SideStats {
                read: 1322,
                echoes: 1321,
                unchanged: 1,
                created: 1322,
                rejected: 2,
                conflicts: 1,
                ..SideStats::default()
            },
            ..RunStats::default()
        };
        let rows = directions(&stats, "zf", "hy", Direction::Both);
        assert_eq!(
            rows[0],
            DirectionSummary {
                direction: "zf → hy".into(),
                from: "zf".into(),
                to: "hy".into(),
                read: 3000,
                filtered: 1673,
                written: 1322,
                unchanged: 0,
                echoes: 0,
                dead_letters: 7,
                deferred: 1
            }
        );
        assert_eq!(
            rows[1],
            DirectionSummary {
                direction: "hy → zf".into(),
                from: "hy".into(),
                to: "zf".into(),
                read: 1322,
                filtered: 0,
                written: 0,
                unchanged: 1,
                echoes: 1321,
                dead_letters: 0,
                deferred: 0
            }
        );
        assert_eq!(directions(&stats, "zf", "hy", Direction::AToB).len(), 1);
    }
}
