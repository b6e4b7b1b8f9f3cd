//! The audit witness: the audit chain's head, written outside the state store after every run,
//! so that entries removed from the end of the log, or a store restored from an older backup,
//! show (`hub audit verify --witness FILE`). The chain alone cannot show either: a shorter
//! chain is still intact (see [`crate::audit`]).
//!
//! The witness is an append-only text file the operator names (`hub.audit_witness`; keep it
//! off the state store's disk, or ship it elsewhere with the journal): one line per head, UTF-8,
//! LF-terminated, three tab-separated fields:
//!
//! ```text
//! 2026-12-05T04:31:07.482Z	entries=1322	head=<64 hex digits: HMAC-SHA256 of entry 1322>
//! ```
//!
//! (time RFC 3339 UTC with milliseconds; the entry count, which is the newest entry's id; its
//! hash). A line is appended after a run when the head changed since the last line this process
//! wrote; a log line (`audit head witnessed`) says the same after every run. The file is
//! created only while the audit log is still empty: a configured witness that is missing
//! although the log has entries, or that is shorter than this process left it, is reported
//! (an error log line after each run) and never recreated or written to.

// The format's example line above holds its tab separators as they are in the file.
#![allow(clippy::tabs_in_doc_comments)]

use crate::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One head the witness saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// How many entries the log had: the id of its newest entry.
    pub entries: i64,
    /// That entry's hash (64 lower-case hex digits).
    pub head: String,
    /// Line number in the witness file (1-based).
    pub line: usize,
}

/// Formats one witness line (without the LF).
pub fn line(at: &str, entries: i64, head: &str) -> String {
    format!("{at}\tentries={entries}\thead={head}")
}

/// Reads a witness file: every head it saw, in order. Errors name the file (missing,
/// unreadable: "never recreated") or `FILE:LINE` (a line not in the format above).
pub fn read(path: &Path) -> Result<Vec<Seen>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "audit witness {}: cannot read it ({e}); a witness is never recreated: restore it from where it was copied",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let bad = || {
            format!(
                "{}:{}: not an audit witness line (TIME<TAB>entries=N<TAB>head=HASH)",
                path.display(),
                i + 1
            )
        };
        let mut f = l.split('\t');
        let (Some(at), Some(n), Some(h), None) = (f.next(), f.next(), f.next(), f.next()) else {
            return Err(bad());
        };
        let entries = n
            .strip_prefix("entries=")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(bad)?;
        let head = h.strip_prefix("head=").filter(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        let head = head.ok_or_else(bad)?.to_string();
        if chrono::DateTime::parse_from_rfc3339(at).is_err() {
            return Err(bad());
        }
        out.push(Seen {
            at: at.to_string(),
            entries,
            head,
            line: i + 1,
        });
    }
    Ok(out)
}

/// What the witness says of the store's audit log ([`check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every head the witness saw is in the chain; `newest` is the last line (`None` if the
    /// witness is empty and the log too).
    Agrees {
        /// The witness's last line.
        newest: Option<Seen>,
        /// How many lines (heads) the witness holds.
        heads: usize,
    },
    /// The witness saw more entries than the store has: entries removed from the end, or the
    /// store restored from an older backup.
    CutShort {
        /// The witness's line that counts more entries than the store has.
        seen: Seen,
        /// How many entries the store's log has.
        entries: i64,
    },
    /// The store's entry at a witnessed count has another hash: the store was restored from an
    /// older backup (or its log rewritten) and has run since.
    Differs {
        /// The witness's line whose head the store does not have.
        seen: Seen,
        /// The hash of the store's entry at that count (64 lower-case hex digits).
        found: String,
    },
    /// The witness is empty though the log has entries: it was cut short.
    Empty {
        /// How many entries the store's log has.
        entries: i64,
    },
}

impl Verdict {
    /// True for [`Verdict::Agrees`].
    pub fn agrees(&self) -> bool {
        matches!(self, Verdict::Agrees { .. })
    }
}

fn short(h: &str) -> &str {
    &h[..h.len().min(16)]
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Agrees { newest: None, .. } => {
                write!(f, "the witness is empty and so is the audit log")
            }
            Verdict::Agrees {
                newest: Some(s),
                heads,
            } => write!(
                f,
                "the witness agrees: its {heads} heads are in the chain, the last entry it saw is {} (head {}, witnessed {})",
                s.entries,
                short(&s.head),
                s.at
            ),
            Verdict::CutShort { seen, entries } => write!(
                f,
                "the audit log was cut short: the witness saw entry {} (head {}, witnessed {}, line {}) but the store has {entries} entries: entries {}..{} were removed from the end, or the store was restored from an older backup",
                seen.entries,
                short(&seen.head),
                seen.at,
                seen.line,
                entries + 1,
                seen.entries
            ),
            Verdict::Differs { seen, found } => write!(
                f,
                "the audit log differs from its witness: the witness saw entry {} with head {} (witnessed {}, line {}) but the store's entry {} has hash {}: the store was restored from an older backup, or its log rewritten, and has run since",
                seen.entries,
                short(&seen.head),
                seen.at,
                seen.line,
                seen.entries,
                short(found)
            ),
            Verdict::Empty { entries } => write!(
                f,
                "the witness is empty but the audit log has {entries} entries: the witness was cut short"
            ),
        }
    }
}

/// Compares every head in `seen` with the store's audit log (whose chain the caller verifies).
/// The first head out of place decides, latest counts first (a cut shows as the newest head).
pub async fn check(store: &Store, seen: &[Seen]) -> anyhow::Result<Verdict> {
    let (entries, _) = store.audit_head().await?;
    let Some(newest) = seen.last() else {
        return Ok(match entries {
            0 => Verdict::Agrees {
                newest: None,
                heads: 0,
            },
            n => Verdict::Empty { entries: n },
        });
    };
    let mut by_count: Vec<&Seen> = seen.iter().collect();
    by_count.sort_by_key(|s| std::cmp::Reverse(s.entries));
    for s in by_count {
        if s.entries > entries {
            return Ok(Verdict::CutShort {
                seen: s.clone(),
                entries,
            });
        }
        match store.audit_hash(s.entries).await? {
            Some(h) if h == s.head => {}
            found => {
                return Ok(Verdict::Differs {
                    seen: s.clone(),
                    found: found.unwrap_or_default(),
                });
            }
        }
    }
    Ok(Verdict::Agrees {
        newest: Some(newest.clone()),
        heads: seen.len(),
    })
}

/// The daemon's side: appends the head after each run.
#[derive(Debug)]
pub struct Witness {
    path: PathBuf,
    /// The last head written by this process and the file's length after it.
    last: Mutex<Option<(i64, String, u64)>>,
}

impl Witness {
    /// A witness writing to `path`.
    pub fn new(path: PathBuf) -> Witness {
        Witness {
            path,
            last: Mutex::new(None),
        }
    }

    /// At start: the witness of `store`'s audit log at `path`. The file is created (empty) if it
    /// is missing and the log is still empty; a witness that disagrees with the store (see
    /// [`check`]) or cannot be read is logged as an error, and the daemon goes on.
    pub async fn start(path: PathBuf, store: &Store) -> anyhow::Result<Witness> {
        let (entries, _) = store.audit_head().await?;
        if entries == 0 && !path.exists() {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|e| {
                    anyhow::anyhow!("audit witness {}: cannot create it: {e}", path.display())
                })?;
        }
        match read(&path) {
            Ok(seen) => {
                let verdict = check(store, &seen).await?;
                if !verdict.agrees() {
                    tracing::error!("audit witness {}: {verdict}", path.display());
                }
            }
            Err(e) => tracing::error!("{e}"),
        }
        Ok(Witness::new(path))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// After a run: reads the store's head, logs it, and appends it to the file if it changed
    /// since the last line this process wrote. An error (also logged) if the file is missing
    /// while the log has entries, is shorter than this process left it, or cannot be written;
    /// nothing is written then.
    pub async fn record(&self, store: &Store) -> Result<(), String> {
        let (entries, head) = store
            .audit_head()
            .await
            .map_err(|e| format!("audit witness: cannot read the chain's head: {e:#}"))?;
        let Some(head) = head else {
            return Ok(());
        };
        tracing::info!(entries, head = %head, witness = %self.path.display(), "audit head witnessed");
        let r = self.append(entries, &head);
        if let Err(e) = &r {
            tracing::error!("{e}");
        }
        r
    }

    fn append(&self, entries: i64, head: &str) -> Result<(), String> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(&*last, Some((n, h, _)) if *n == entries && h == head) {
            return Ok(());
        }
        let shown = self.path.display();
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("audit witness {shown}: {e}; not written")),
        };
        match (len, &*last) {
            (None, _) => {
                return Err(format!(
                    "audit witness {shown} is missing but the audit log has {entries} entries: not recreated (restore it; to start a new witness on purpose, create the file empty)"
                ));
            }
            (Some(now), Some((_, _, was))) if now < *was => {
                return Err(format!(
                    "audit witness {shown} is shorter ({now} bytes) than this daemon left it ({was} bytes): it was cut short; not written to (restore it)"
                ));
            }
            _ => {}
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("audit witness {shown}: cannot open it: {e}"))?;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        writeln!(f, "{}", line(&at, entries, head))
            .and_then(|()| f.sync_data())
            .map_err(|e| format!("audit witness {shown}: cannot write it: {e}"))?;
        let now = f.metadata().map(|m| m.len()).unwrap_or(0);
        *last = Some((entries, head.to_string(), now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn lines_are_appended_when_the_head_moves_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        // As the daemon's start leaves it for a store with no entry yet: empty.
        std::fs::write(dir.path().join("w"), "").unwrap();
        let w = Witness::new(dir.path().join("w"));
        w.append(1, H1).unwrap();
        w.append(1, H1).unwrap();
        w.append(7, H2).unwrap();
        let seen = read(w.path()).unwrap();
        assert_eq!(
            seen.iter()
                .map(|s| (s.entries, s.head.as_str(), s.line))
                .collect::<Vec<_>>(),
            [(1, H1, 1), (7, H2, 2)]
        );
        assert!(
            seen[0].at.ends_with('Z') && seen[0].at.len() == 24,
            "{}",
            seen[0].at
        );
    }

    #[test]
    fn a_missing_or_shortened_witness_is_reported_and_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        // A log with entries and no witness file: not created.
        let w = Witness::new(path.clone());
        let e = w.append(5, H1).unwrap_err();
        assert_eq!(
            e,
            format!(
                "audit witness {} is missing but the audit log has 5 entries: not recreated (restore it; to start a new witness on purpose, create the file empty)",
                path.display()
            )
        );
        assert!(!path.exists());
        // Created empty on purpose: written.
        std::fs::write(&path, "").unwrap();
        w.append(5, H1).unwrap();
        let was = std::fs::metadata(&path).unwrap().len();
        // Deleted after this process wrote it.
        std::fs::remove_file(&path).unwrap();
        assert!(
            w.append(6, H2)
                .unwrap_err()
                .contains("is missing but the audit log has 6 entries")
        );
        assert!(!path.exists());
        // Cut short.
        std::fs::write(&path, "x").unwrap();
        let e = w.append(6, H2).unwrap_err();
        assert_eq!(
            e,
            format!(
                "audit witness {} is shorter (1 bytes) than this daemon left it ({was} bytes): it was cut short; not written to (restore it)",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        std::fs::write(
            &path,
            format!("2026-12-05T04:31:07.482Z\tentries=3\thead={H1}\n2026-12-05T04:31:09.000Z\tentries=x\thead={H2}\n"),
        )
        .unwrap();
        assert_eq!(
            read(&path).unwrap_err(),
            format!(
                "{}:2: not an audit witness line (TIME<TAB>entries=N<TAB>head=HASH)",
                path.display()
            )
        );
        let missing = dir.path().join("none");
        assert!(read(&missing).unwrap_err().starts_with(&format!(
            "audit witness {}: cannot read it (",
            missing.display()
        )));
    }
}
