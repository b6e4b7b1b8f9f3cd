//! Resync (`hub resync NAME [--side a|b] [--since TIME]`, `POST /api/syncs/NAME/resync`): a run
//! that reads one side of a sync again from the beginning of its stream, or only the records it
//! changed since a time.
//!
//! A resync is a run ([`Engine::run_at`]) with a trigger that says so (`resync a`,
//! `resync a since 2026-12-01T00:00:00Z`): it takes the sync's lease, shows its progress and
//! history as any run does, and its batches commit with their cursor. It differs in what it
//! reads: only the side(s) it names, from the beginning (its cursor is set back as the resync
//! starts, in the state store, under the lease), and none of the other syncs' or the other
//! side's cursors move. Every record read is matched to its link by natural key as in any run,
//! so a record already linked is never created again; a record whose content is the one
//! already known is unchanged, and one that differs (a change the cursor missed) is merged and
//! written. With `--since`, records the connector says were last changed before that time are
//! read past (counted in [`SideStats::before_since`]): contract 0.2 has no way to start a read
//! at a time, so the whole stream is read, and only the newer records are looked at.
//!
//! Resumable: a resync whose process died (SIGKILL) leaves its run `interrupted` and its cursor
//! where its last batch committed; the next resync of the same side(s) and time goes on from
//! there instead of starting over (any other run goes on from there too: it reads the rest of
//! the side as news).

use super::*;

/// What a resync reads again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resync {
    /// The sides read again (each read from the beginning), in the order read.
    pub sides: Vec<Side>,
    /// Only records changed at or after this time are looked at (by the connector's
    /// `updated-at`; a record without one always is).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl Resync {
    /// The trigger its run records ([`RunTrigger::Resync`], its time cut to whole seconds):
    /// `resync a`, `resync a,b`, `resync a since 2026-12-01T00:00:00Z` (UTC, RFC 3339).
    pub fn trigger(&self) -> RunTrigger {
        RunTrigger::resync(self.sides.clone(), self.since)
    }

    /// The resync of `spec` that `side` (`a`, `b`, or `None`: every side the sync reads) and
    /// `since` ask for. Errors (naming the sync): a side other than `a` or `b`, a side whose
    /// stream cannot be read, a time that is not one ([`parse_since`]) or is in the future.
    pub fn of(
        spec: &SyncSpec,
        side: Option<&str>,
        since: Option<&str>,
        zone: chrono_tz::Tz,
    ) -> Result<Resync, String> {
        let sides = match side {
            None => spec.read_sides().to_vec(),
            Some("a") => vec![Side::A],
            Some("b") => vec![Side::B],
            Some(other) => {
                return Err(format!(
                    "sync {}: no side {other:?}: a sync's sides are a ({}) and b ({})",
                    spec.name, spec.a.plugin.name, spec.b.plugin.name
                ));
            }
        };
        for &s in &sides {
            let ep = spec.endpoint(s);
            if !ep.plugin.stream(&ep.stream).is_some_and(|st| st.can_read) {
                return Err(format!(
                    "sync {}: side {} ({} stream {}) cannot be read, so it cannot be read again",
                    spec.name,
                    s.as_str(),
                    ep.plugin.name,
                    ep.stream
                ));
            }
        }
        let since = since
            .map(|t| parse_since(t, zone))
            .transpose()
            .map_err(|e| format!("sync {}: {e}", spec.name))?;
        Ok(Resync { sides, since })
    }
}

/// A `--since` time: RFC 3339 (`2026-12-01T08:00:00+08:00`, `2026-12-01T00:00:00Z`), or a local
/// time in `zone`, the deployment's (`2026-12-01 08:00`, `2026-12-01 08:00:00`,
/// `2026-12-01T08:00`, or a date alone for its midnight). Errors: text that is none of these, a
/// local time the zone skips or repeats (a daylight-saving change), a time in the future.
pub fn parse_since(
    text: &str,
    zone: chrono_tz::Tz,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::TimeZone as _;
    let t = text.trim();
    let help = || {
        format!(
            "--since {text:?} is not a time: give RFC 3339 (2026-12-01T08:00:00+08:00) or a local time in {zone} (2026-12-01 08:00, or 2026-12-01 for midnight)"
        )
    };
    let at = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) {
        t.with_timezone(&chrono::Utc)
    } else {
        let local = [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(help)?;
        match zone.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => t.with_timezone(&chrono::Utc),
            _ => {
                return Err(format!(
                    "--since {text:?}: {zone} skips or repeats that local time (a daylight-saving change); give it in RFC 3339 with its offset"
                ));
            }
        }
    };
    if at > chrono::Utc::now() {
        return Err(format!(
            "--since {text:?} is in the future ({} UTC): nothing would be read again",
            at.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    Ok(at)
}

/// The syncs running in this process (runs and resyncs of one engine and its clones): a second
/// run of one of them in the same process would take the lease its own first run holds.
#[derive(Debug, Clone, Default)]
pub(super) struct InProcess(Arc<Mutex<std::collections::HashSet<String>>>);

/// A sync marked running in this process until dropped.
pub(super) struct RunningHere(InProcess, String);

impl InProcess {
    fn set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks `sync` running; `None` if it already is.
    pub(super) fn begin(&self, sync: &str) -> Option<RunningHere> {
        self.set()
            .insert(sync.to_string())
            .then(|| RunningHere(self.clone(), sync.to_string()))
    }
}

impl Drop for RunningHere {
    fn drop(&mut self) {
        self.0.set().remove(&self.1);
    }
}

impl Engine {
    /// Runs the resync `r` of `spec` (see the module docs): a run with trigger
    /// [`Resync::trigger`]. Errors as [`Engine::run_at`]'s: the lease is held by another
    /// process, or the sync runs in this one already.
    pub async fn resync(&self, spec: &SyncSpec, r: Resync) -> anyhow::Result<RunOutcome> {
        let trigger = r.trigger();
        let engine = Engine {
            resync: Some(r),
            ..self.clone()
        };
        engine.run_at(spec, &trigger, None).await
    }

    /// Whether a run or a resync of `sync` is in progress in this process.
    pub fn running_here(&self, sync: &str) -> bool {
        self.in_process.set().contains(sync)
    }

    /// At the start of a resync's run `run_id` (holding the lease): sets the cursor of each side
    /// it reads back to the beginning, unless the run goes on from an interrupted resync of the
    /// same sides and time (`resumed_from`), whose committed cursor it keeps. Nothing for a run.
    pub(super) async fn begin_resync(
        &self,
        spec: &SyncSpec,
        resumed_from: Option<i64>,
    ) -> anyhow::Result<()> {
        let Some(r) = &self.resync else {
            return Ok(());
        };
        if let Some(old) = resumed_from
            && self
                .store
                .run(old)
                .await?
                .is_some_and(|run| run.trigger == r.trigger())
        {
            tracing::info!(sync = %spec.name, resumed_from = old, trigger = %r.trigger(), "resync goes on from the batches the interrupted resync committed");
            return Ok(());
        }
        for &side in &r.sides {
            self.store
                .commit(
                    &spec.name,
                    Commit {
                        cursor: Some((side, None)),
                        ..Commit::default()
                    },
                )
                .await?;
        }
        tracing::info!(sync = %spec.name, trigger = %r.trigger(), "resync: reading again from the beginning");
        Ok(())
    }

    /// In a resync that goes on from an interrupted one (run `run_id`): reads whole each side
    /// it writes but does not read again, without moving that side's cursor, so that the writes
    /// the interrupted resync made there but did not record are recognised in what the side
    /// holds (a write intent is recovered only by reading its record back; sent again blind, an
    /// update would meet the system's optimistic concurrency check). Nothing for a run, or for
    /// a resync that starts afresh.
    pub(super) async fn resync_look_back(
        &self,
        spec: &SyncSpec,
        run_id: i64,
        sessions: &mut HashMap<Side, Connection>,
        stats: &mut RunStats,
        tracker: &mut Tracker,
    ) -> Result<(), RunError> {
        let Some(r) = &self.resync else {
            return Ok(());
        };
        let resumed = self
            .store
            .run(run_id)
            .await?
            .and_then(|run| run.resumed_from);
        if resumed.is_none() {
            return Ok(());
        }
        for &side in spec.write_sides() {
            let ep = spec.endpoint(side);
            if r.sides.contains(&side) || !ep.plugin.stream(&ep.stream).is_some_and(|s| s.can_read)
            {
                continue;
            }
            tracing::info!(sync = %spec.name, side = side.as_str(), "resync goes on from an interrupted one: reading this side once, its cursor left where it is, to recognise the writes it made there");
            tracker.phase(&format!("read {}", side.as_str()), None);
            let mut cursor: Option<String> = None;
            let mut idle = 0;
            loop {
                let session = sessions.get_mut(&side).expect("opened before staging");
                let batch = session
                    .read(&ep.stream, cursor.as_deref(), spec.batch_size)
                    .await?;
                tracker.add(batch.records.len() as u64, batch.remaining.as_ref());
                let n = batch.records.len();
                let next = batch.cursor.clone().or(cursor.clone());
                // `None`: the side's cursor does not move.
                self.stage_batch(
                    spec,
                    run_id,
                    side,
                    batch.records,
                    None,
                    stats,
                    Some(&mut *sessions),
                    None,
                )
                .await?;
                if !batch.more {
                    break;
                }
                stalled_read(&ep.plugin.name, &mut idle, n, &next, &cursor)?;
                cursor = next;
            }
        }
        Ok(())
    }

    /// The sides this run reads: a resync's, or every side the sync reads from.
    pub(super) fn sides_to_read(&self, spec: &SyncSpec) -> Vec<Side> {
        match &self.resync {
            Some(r) => r.sides.clone(),
            None => spec.read_sides().to_vec(),
        }
    }

    /// A record read from `side`, last changed at `updated_at`, that a resync `--since` reads
    /// past.
    pub(super) fn before_since(&self, side: Side, updated_at: Option<&str>) -> bool {
        let Some(since) = self
            .resync
            .as_ref()
            .and_then(|r| r.sides.contains(&side).then_some(r.since).flatten())
        else {
            return false;
        };
        updated_at.and_then(parse_time).is_some_and(|t| t < since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_rfc3339_or_a_local_time_in_the_zone() {
        let zone = chrono_tz::Asia::Shanghai;
        let utc = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        assert_eq!(
            parse_since("2026-12-01T08:00:00+08:00", zone),
            Ok(utc("2026-12-01T00:00:00Z"))
        );
        // Shanghai is UTC+8 all year: 08:00 there is midnight UTC.
        assert_eq!(
            parse_since("2026-12-01 08:00", zone),
            Ok(utc("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            parse_since("2026-12-01", zone),
            Ok(utc("2026-11-30T16:00:00Z"))
        );
        let bad = parse_since("yesterday", zone).unwrap_err();
        assert!(bad.contains("\"yesterday\" is not a time"), "{bad}");
        assert!(bad.contains("Asia/Shanghai"), "{bad}");
        let future = parse_since("2999-01-01", zone).unwrap_err();
        assert!(future.contains("in the future"), "{future}");
        // 2026-03-08 02:30 does not exist in New York (clocks go from 02:00 to 03:00).
        let gap = parse_since("2026-03-08 02:30", chrono_tz::America::New_York).unwrap_err();
        assert!(gap.contains("skips or repeats"), "{gap}");
    }

    #[test]
    fn a_resync_trigger_names_its_sides_and_time() {
        let r = Resync {
            sides: vec![Side::A],
            since: Some(
                chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00+08:00")
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            ),
        };
        assert_eq!(
            r.trigger().to_string(),
            "resync a since 2026-12-01T00:00:00Z"
        );
        let both = Resync {
            sides: vec![Side::A, Side::B],
            since: None,
        };
        assert_eq!(both.trigger().to_string(), "resync a,b");
    }

    #[test]
    fn a_sync_runs_once_at_a_time_in_one_process() {
        let p = InProcess::default();
        let first = p.begin("workers").expect("free");
        assert!(p.begin("workers").is_none());
        assert!(p.begin("secondments").is_some());
        drop(first);
        assert!(p.begin("workers").is_some());
    }
}
