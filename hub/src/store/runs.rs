//! The run history (table `runs`): a row per sync run, its counts as of its last commit, how
//! it ended, and runs interrupted by a stopped process.

use super::*;

column_values! {
    /// A run's status in the history (column `status` of `runs`): `running` while it goes on,
    /// then how it ended. A run ends `ok`, `partial` or `failed` (what a run reports itself);
    /// `interrupted` and `crashed` are given to runs that did not end themselves.
    pub enum RunStatus ("a run status") {
        /// Going on (or its process stopped and no process marked it since).
        Running = "running",
        /// Everything read was handled.
        Ok = "ok",
        /// Some records failed (dead letters, conflicts, retries); the rest went through.
        Partial = "partial",
        /// A connector or the store failed; what was committed stays committed.
        Failed = "failed",
        /// Its process died or lost the lease before finishing it; the next run goes on from
        /// what it committed.
        Interrupted = "interrupted",
        /// Its process crashed (a status of older histories; counted as failed).
        Crashed = "crashed",
    }
}

/// Why a run started (column `trigger` of `runs`), stored and shown as its text: `schedule`,
/// `manual`, `catch-up`, `queued`, `resume`, or a resync's `resync a`, `resync a,b`,
/// `resync a since 2026-12-01T00:00:00Z`. Serialized as that text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunTrigger {
    /// A fire time of the sync's schedule (claimed by this daemon): `schedule`.
    Schedule,
    /// Asked for by a person (`hub trigger`, the admin API's trigger, `hub sync --once`):
    /// `manual`.
    Manual,
    /// Fire times passed while the daemon was down, the latest within the catch-up window:
    /// one run at start, `catch-up`.
    CatchUp,
    /// Fire times passed while a run was going, with `overlap = queue_one`: one more run,
    /// `queued`.
    Queued,
    /// Taking over a run whose process stopped or lost its lease: `resume`.
    Resume,
    /// A resync (`hub resync`, `POST /api/syncs/NAME/resync`): `resync a`, `resync a,b`,
    /// `resync a since 2026-12-01T00:00:00Z` (see [`crate::sync::Resync`]).
    Resync {
        /// The sides read again, in the order read (`a,b`).
        sides: Vec<Side>,
        /// Only records changed at or after this time (UTC, whole seconds, as the text gives
        /// it) are looked at.
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
}

impl RunTrigger {
    /// A resync's trigger for `sides` and `since`, `since` cut to whole seconds (the text keeps
    /// no more, so the trigger equals the one read back from the history).
    pub fn resync(sides: Vec<Side>, since: Option<chrono::DateTime<chrono::Utc>>) -> RunTrigger {
        use chrono::SubsecRound as _;
        RunTrigger::Resync {
            sides,
            since: since.map(|t| t.trunc_subsecs(0)),
        }
    }

    /// The trigger `column` of a row holds, `row` naming it ("run 12"): any text
    /// [`RunTrigger::from_str`] refuses is [`StoreError::Corrupt`] naming the row, the column
    /// and the text ([`corrupt_row`]).
    fn stored(text: &str, row: &dyn std::fmt::Display, column: &str) -> Result<RunTrigger> {
        text.parse().map_err(|e| corrupt_row(row, column, e))
    }
}

impl std::fmt::Display for RunTrigger {
    /// The text stored: `schedule`, …, `resync a,b since 2026-12-01T00:00:00Z`, padded as the
    /// format asks (`{:<9}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sides, since) = match self {
            RunTrigger::Schedule => return f.pad("schedule"),
            RunTrigger::Manual => return f.pad("manual"),
            RunTrigger::CatchUp => return f.pad("catch-up"),
            RunTrigger::Queued => return f.pad("queued"),
            RunTrigger::Resume => return f.pad("resume"),
            RunTrigger::Resync { sides, since } => (sides, since),
        };
        let sides: Vec<&str> = sides.iter().map(|s| s.as_str()).collect();
        let text = match since {
            Some(t) => format!(
                "resync {} since {}",
                sides.join(","),
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => format!("resync {}", sides.join(",")),
        };
        f.pad(&text)
    }
}

impl std::str::FromStr for RunTrigger {
    type Err = UnknownValue;

    /// The trigger whose text is `s`, exactly as [`RunTrigger`]'s `Display` writes it (a
    /// resync's time in RFC 3339, UTC, whole seconds, `Z`).
    fn from_str(s: &str) -> Result<RunTrigger, UnknownValue> {
        let unknown = || UnknownValue {
            what: "a run trigger",
            text: s.to_string(),
            values: "schedule, manual, catch-up, queued, resume, resync SIDES [since TIME]"
                .to_string(),
        };
        let rest = match s {
            "schedule" => return Ok(RunTrigger::Schedule),
            "manual" => return Ok(RunTrigger::Manual),
            "catch-up" => return Ok(RunTrigger::CatchUp),
            "queued" => return Ok(RunTrigger::Queued),
            "resume" => return Ok(RunTrigger::Resume),
            _ => s.strip_prefix("resync ").ok_or_else(unknown)?,
        };
        let (sides, since) = match rest.split_once(" since ") {
            Some((sides, t)) => {
                let t = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| unknown())?;
                (sides, Some(t.with_timezone(&chrono::Utc)))
            }
            None => (rest, None),
        };
        let sides = match sides {
            "" => Vec::new(),
            sides => sides
                .split(',')
                .map(|s| Side::parse(s).map_err(|_| unknown()))
                .collect::<Result<_, _>>()?,
        };
        let trigger = RunTrigger::Resync { sides, since };
        // Only the text `Display` writes: a time in another form would be shown otherwise.
        if trigger.to_string() != s {
            return Err(unknown());
        }
        Ok(trigger)
    }
}

impl serde::Serialize for RunTrigger {
    /// As its text.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RunTrigger {
    /// From its text.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RunTrigger, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for RunTrigger {
    /// A string: the trigger's text.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .into()
    }
}

impl utoipa::ToSchema for RunTrigger {}

/// A run of the history.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Sync name.
    pub sync: String,
    /// `schedule`, `manual` (`hub trigger`, `hub sync --once`), `catch-up`, `queued` or
    /// `resume` (taking over a run whose process stopped).
    #[schema(value_type = String)]
    pub trigger: RunTrigger,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339), if finished.
    pub finished_at: Option<String>,
    /// `running`, `ok`, `partial`, `failed`, `interrupted` (its process died or lost the lease
    /// before finishing it) or `crashed`.
    pub status: RunStatus,
    /// Counts (JSON, see `sync::RunStats`).
    pub stats: Option<serde_json::Value>,
    /// Why it failed or what went partly wrong.
    pub error: Option<String>,
    /// The fire time a scheduled run ran (RFC 3339, UTC): the store keeps one run per fire time.
    pub scheduled_for: Option<String>,
    /// The process that ran it (`host:pid`).
    pub holder: Option<String>,
    /// The interrupted run this one took over from (trigger `resume`).
    pub resumed_from: Option<i64>,
}

/// A run's counts summed over the runs of a sync that started in one quarter hour (UTC):
/// what [`Store::run_totals`] gives, for daily totals in any zone (every zone's offset is a
/// whole number of quarter hours, so a quarter hour falls in one local day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTotals {
    /// The start of the quarter hour.
    pub start: chrono::DateTime<chrono::Utc>,
    /// Runs started in it (running ones included, with their counts so far).
    pub runs: i64,
    /// Of them, runs that ended `failed` or `crashed`.
    pub failed: i64,
    /// Records they read, both sides together.
    pub read: i64,
    /// Records they wrote (created or updated), both sides together.
    pub written: i64,
}

#[cfg(test)]
impl RunTotals {
    /// The totals of the quarter hour starting at `start` (RFC 3339), for tests.
    pub(crate) fn of(start: &str, runs: i64, failed: i64, read: i64, written: i64) -> RunTotals {
        RunTotals {
            start: start.parse().expect("RFC 3339"),
            runs,
            failed,
            read,
            written,
        }
    }
}

/// The SQL of one count of a run's `stats` (JSON text: `{"a": {"read": 3, …}, "b": …}`), 0
/// when absent, in each backend's JSON functions (they differ: SQLite's `json_extract`,
/// PostgreSQL's `jsonb` path operator).
trait StatsSql {
    /// `stats.<side>.<field>` as a whole number, 0 when absent.
    fn count(side: &str, field: &str) -> String;
}

impl StatsSql for SqlitePool {
    fn count(side: &str, field: &str) -> String {
        format!("COALESCE(json_extract(stats, '$.{side}.{field}'), 0)")
    }
}

impl StatsSql for PgPool {
    fn count(side: &str, field: &str) -> String {
        format!("COALESCE((stats::jsonb #>> '{{{side},{field}}}')::bigint, 0)")
    }
}

/// The records a run read (both sides), in `p`'s backend's SQL.
fn read_sql<P: StatsSql>(_: &P) -> String {
    format!("({} + {})", P::count("a", "read"), P::count("b", "read"))
}

/// The records a run wrote (created or updated, both sides), in `p`'s backend's SQL; the same
/// count as the status page's.
fn written_sql<P: StatsSql>(_: &P) -> String {
    format!(
        "({} + {} + {} + {})",
        P::count("a", "created"),
        P::count("a", "updated"),
        P::count("b", "created"),
        P::count("b", "updated")
    )
}

/// A run as stored; an error if its row is corrupt (a trigger or a status the store never
/// writes).
pub(super) fn run_record(r: &impl Cols) -> Result<RunRecord> {
    let id = r.int("id");
    let row = format!("run {id}");
    Ok(RunRecord {
        id,
        sync: r.text("sync"),
        trigger: RunTrigger::stored(&r.text("trigger"), &row, "trigger")?,
        started_at: r.text("started_at"),
        finished_at: r.opt_text("finished_at"),
        status: RunStatus::stored(&r.text("status"), &row, "status")?,
        stats: r
            .opt_text("stats")
            .and_then(|s| serde_json::from_str(&s).ok()),
        error: r.opt_text("error"),
        scheduled_for: r.opt_text("scheduled_for"),
        holder: r.opt_text("holder"),
        resumed_from: r.opt_int("resumed_from"),
    })
}

impl Store {
    /// Records the start of a run; returns its id. `scheduled_for` is the fire time a scheduled
    /// run runs (at most one run per fire time and sync: a second fails with
    /// [`StoreError::AlreadyRan`]).
    ///
    /// On a store fenced by the sync's lease, in the same transaction: the lease is checked
    /// ([`StoreError::LeaseLost`]), and runs of the sync still marked `running` (only a process that lost
    /// the lease can have left them) are marked `interrupted`; the latest of them is recorded as
    /// the run this one resumes.
    pub async fn start_run(
        &self,
        sync: &str,
        trigger: &RunTrigger,
        scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<i64> {
        let holder = self
            .fence
            .as_ref()
            .map_or_else(holder_id, |f| f.holder.clone());
        let scheduled_for = scheduled_for.map(utc_text);
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            check_fence!(self, p, tx);
            let mut resumed_from = None;
            if self.fence.is_some() {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "UPDATE runs SET status = 'interrupted', finished_at = $1, \
                       error = COALESCE(error, 'its process stopped or lost the lease before finishing it') \
                     WHERE sync = $2 AND status = 'running' RETURNING id",
                )
                .bind(now())
                .bind(sync)
                .fetch_all(&mut *tx)
                .await?;
                resumed_from = ids.into_iter().max();
            }
            if resumed_from.is_none() {
                // The sync's last run was interrupted (its process died; a restarted daemon or
                // `hub sync --once` marked it so): this run goes on from its committed batches.
                let last: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, status FROM runs WHERE sync = $1 ORDER BY id DESC LIMIT 1",
                )
                .bind(sync)
                .fetch_optional(&mut *tx)
                .await?;
                resumed_from = last
                    .filter(|(_, s)| s == RunStatus::Interrupted.as_str())
                    .map(|(id, _)| id);
            }
            if let Some(t) = &scheduled_for {
                let ran: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM runs WHERE sync = $1 AND scheduled_for = $2",
                )
                .bind(sync)
                .bind(t)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(id) = ran {
                    return Err(AlreadyRan { sync: sync.to_string(), fire_time: t.clone(), run: id }.into());
                }
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO runs (sync, trigger, started_at, status, scheduled_for, holder, resumed_from) \
                 VALUES ($1, $2, $3, 'running', $4, $5, $6) RETURNING id",
            )
            .bind(sync)
            .bind(trigger.to_string())
            .bind(now())
            .bind(&scheduled_for)
            .bind(&holder)
            .bind(resumed_from)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Records the end of a run still marked `running` (a run another process marked
    /// `interrupted` after taking its lease over keeps that status): `status` is how it ended,
    /// [`RunStatus::Ok`], [`RunStatus::Partial`] or [`RunStatus::Failed`].
    pub async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        stats: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query(
                "UPDATE runs SET finished_at = $1, status = $2, stats = $3, error = $4 \
                 WHERE id = $5 AND status = 'running'",
            )
            .bind(now())
            .bind(status.as_str())
            .bind(stats.to_string())
            .bind(error)
            .bind(id)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Runs left `running` by a process that stopped without finishing them are marked
    /// `interrupted` (keeping the counts they had committed); returns them as (sync, run id).
    pub async fn close_interrupted_runs(&self) -> Result<Vec<(String, i64)>> {
        on_pool!(self, p => {
            // A run whose sync's lease is still held by a live process is someone else's run in
            // progress (a daemon beside a `hub sync --once`), not an interrupted one.
            let host = this_host();
            let sql = format!("SELECT sync, host, pid, expires_at > {} AS unexpired FROM leases", db_now(p));
            let live: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await?
                .iter()
                .filter(|r| lease_live(&host, r.get("host"), r.get("pid"), r.get("unexpired")))
                .map(|r| r.get("sync"))
                .collect();
            let mut closed = Vec::new();
            let running: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, sync FROM runs WHERE status = 'running'")
                    .fetch_all(p)
                    .await?;
            for (id, sync) in running.into_iter().filter(|(_, s)| !live.contains(s)) {
                let n = sqlx::query(
                    "UPDATE runs SET status = 'interrupted', finished_at = $1, \
                       error = COALESCE(error, 'its process stopped before finishing it') \
                     WHERE id = $2 AND status = 'running'",
                )
                .bind(now())
                .bind(id)
                .execute(p)
                .await?
                .rows_affected();
                if n > 0 {
                    tracing::debug!(sync, run = id, "run marked interrupted");
                    closed.push((sync, id));
                }
            }
            Ok(closed)
        })
    }

    /// The latest runs, newest first (all syncs if `sync` is `None`).
    pub async fn runs(&self, sync: Option<&str>, limit: u32) -> Result<Vec<RunRecord>> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM runs WHERE ($1 IS NULL OR sync = $1) ORDER BY id DESC LIMIT $2",
            )
            .bind(sync)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter().map(run_record).collect()
        })
    }

    /// Whether the run history has a run of `sync`: a sync removed from the configuration
    /// keeps its history, which can still be listed by its name.
    pub async fn has_runs(&self, sync: &str) -> Result<bool> {
        on_pool!(self, p => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM runs WHERE sync = $1 LIMIT 1")
                .bind(sync)
                .fetch_optional(p)
                .await?;
            Ok(id.is_some())
        })
    }

    /// The names of the syncs the run history has runs of, each once, in name order.
    pub async fn run_syncs(&self) -> Result<Vec<String>> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT DISTINCT sync FROM runs ORDER BY sync")
                .fetch_all(p)
                .await?)
        })
    }

    /// Whether a list of what the store keeps (runs, dead letters, conflicts) may be filtered
    /// by sync `name`: `Ok(Ok(()))` when it is one of `configured` (the configuration's syncs,
    /// loaded or not) or has runs in the history (a sync removed from the configuration keeps
    /// its history); otherwise `Ok(Err(message))`, the message for people: no such sync in
    /// `place` (the configuration, as the caller names it) or the run history, naming the
    /// configured syncs and the removed ones that have a history (a typo is never an empty
    /// list).
    pub async fn history_sync(
        &self,
        name: &str,
        configured: &[&str],
        place: &str,
    ) -> Result<Result<(), String>> {
        if configured.contains(&name) || self.has_runs(name).await? {
            return Ok(Ok(()));
        }
        let removed: Vec<String> = self
            .run_syncs()
            .await?
            .into_iter()
            .filter(|s| !configured.contains(&s.as_str()))
            .collect();
        let mut configured = configured.to_vec();
        configured.sort_unstable();
        Ok(Err(format!(
            "no sync {name:?} in {place} or the run history; the configured syncs are: {}{}",
            if configured.is_empty() {
                "(none)".to_string()
            } else {
                configured.join(", ")
            },
            if removed.is_empty() {
                String::new()
            } else {
                format!("; removed, with a history: {}", removed.join(", "))
            }
        )))
    }

    /// The latest finished runs of `sync` that wrote at least one record (created or updated,
    /// on either side), newest first: the status page's filter of runs that wrote something.
    pub async fn runs_that_wrote(&self, sync: &str, limit: u32) -> Result<Vec<RunRecord>> {
        on_pool!(self, p => {
            let sql = format!(
                "SELECT * FROM runs WHERE sync = $1 AND status <> 'running' AND {} > 0 \
                 ORDER BY id DESC LIMIT $2",
                written_sql(p)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(sync)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(run_record).collect()
        })
    }

    /// The runs of `sync` that started at or after `since`, summed per quarter hour (UTC) of
    /// their start, oldest first; quarter hours without a run are left out. The sums are made
    /// by the database: a month of runs every few seconds is a few thousand rows here, not
    /// half a million. The runs are found from the newest back (by the index on sync and id)
    /// to the newest that started before `since`, so the cost is that of the runs since
    /// `since`, however long the history. Run ids are handed out in the order runs start; a
    /// run whose daemon's clock was behind, recorded as started before `since` after runs
    /// that started after it, would leave those out (minutes at the start of a 30-day window).
    pub async fn run_totals(
        &self,
        sync: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RunTotals>> {
        let since = utc_text(since);
        let rows: Vec<(String, i64, i64, i64, i64, i64)> = on_pool!(self, p => {
            // `started_at` is RFC 3339 UTC text (`2026-12-04T02:26:10.123Z`): its first 13
            // characters are the hour, characters 15–16 the minute.
            let sql = format!(
                "SELECT substr(started_at, 1, 13) AS hour, \
                   CAST(substr(started_at, 15, 2) AS BIGINT) / 15 AS quarter, \
                   COUNT(*), \
                   SUM(CASE WHEN status IN ('failed', 'crashed') THEN 1 ELSE 0 END), \
                   CAST(SUM({read}) AS BIGINT), CAST(SUM({written}) AS BIGINT) \
                 FROM runs \
                 WHERE sync = $1 AND started_at >= $2 AND id > COALESCE( \
                   (SELECT id FROM runs WHERE sync = $1 AND started_at < $2 ORDER BY id DESC LIMIT 1), 0) \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                read = read_sql(p),
                written = written_sql(p),
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(sync)
                .bind(&since)
                .fetch_all(p)
                .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(hour, quarter, runs, failed, read, written)| {
                let start =
                    parse_utc(&format!("{hour}:00:00Z"))? + chrono::Duration::minutes(15 * quarter);
                Some(RunTotals {
                    start,
                    runs,
                    failed,
                    read,
                    written,
                })
            })
            .collect())
    }

    /// One run, if it exists.
    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(run_record).transpose()
        })
    }

    /// The dead letters run `run_id` recorded first (their `run_id`), open or not, oldest
    /// first: what the run-detail page and `GET /api/runs/{id}/dead-letters` show.
    pub async fn run_dead_letters(&self, run_id: i64) -> Result<Vec<DeadLetter>> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM dead_letters WHERE run_id = $1 ORDER BY id")
                .bind(run_id)
                .fetch_all(p)
                .await?;
            rows.iter().map(super::dead_letters::dead_letter).collect()
        })
    }

    /// The latest run of `sync` still marked `running` whose lease no process holds any more
    /// (expired, or its process on this host is gone): a run another daemon should take over.
    pub async fn orphaned_run(&self, sync: &str) -> Result<Option<i64>> {
        let host = this_host();
        on_pool!(self, p => {
            let sql = format!(
                "SELECT r.id, l.host, l.pid, l.expires_at > {} FROM runs r LEFT JOIN leases l ON l.sync = r.sync \
                 WHERE r.sync = $1 AND r.status = 'running' ORDER BY r.id DESC LIMIT 1",
                db_now(p)
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sync)
            .fetch_optional(p)
            .await?;
            Ok(row.and_then(|r| {
                let (id, their_host, pid, unexpired): (i64, Option<String>, Option<i64>, Option<bool>) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                let live = match (their_host, pid, unexpired) {
                    (Some(h), Some(pid), Some(u)) => lease_live(&host, &h, pid, u),
                    _ => false,
                };
                (!live).then_some(id)
            }))
        })
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;
    use crate::store::tests::texts_round_trip;

    #[test]
    fn a_run_status_is_stored_as_its_text_and_only_those_texts_read_back() {
        texts_round_trip(
            RunStatus::ALL,
            &[
                "running",
                "ok",
                "partial",
                "failed",
                "interrupted",
                "crashed",
            ],
        );
        for bad in ["", "OK", "Ok", " ok", "finished", "catch-up"] {
            assert_eq!(
                bad.parse::<RunStatus>().unwrap_err().to_string(),
                format!(
                    "{bad:?} is not a run status (running, ok, partial, failed, interrupted, crashed)"
                )
            );
        }
        // Padded as text is (`hub runs`' columns).
        assert_eq!(format!("{:<11}|", RunStatus::Ok), "ok         |");
    }

    #[test]
    fn a_run_trigger_is_stored_as_its_text_and_only_those_texts_read_back() {
        let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        texts_round_trip(
            &[
                RunTrigger::Schedule,
                RunTrigger::Manual,
                RunTrigger::CatchUp,
                RunTrigger::Queued,
                RunTrigger::Resume,
                RunTrigger::resync(vec![Side::A], None),
                RunTrigger::resync(vec![Side::B], None),
                RunTrigger::resync(vec![Side::A, Side::B], None),
                RunTrigger::resync(vec![Side::A], Some(t("2026-12-01T00:00:00Z"))),
                RunTrigger::resync(vec![Side::B, Side::A], Some(t("2026-12-01T08:00:00+08:00"))),
            ],
            &[
                "schedule",
                "manual",
                "catch-up",
                "queued",
                "resume",
                "resync a",
                "resync b",
                "resync a,b",
                "resync a since 2026-12-01T00:00:00Z",
                "resync b,a since 2026-12-01T00:00:00Z",
            ],
        );
        // A resync's time is kept to the second, as its text: the trigger read back is equal.
        let r = RunTrigger::resync(vec![Side::A], Some(t("2026-12-01T00:00:00.750Z")));
        assert_eq!(r.to_string(), "resync a since 2026-12-01T00:00:00Z");
        assert_eq!(r.to_string().parse::<RunTrigger>().unwrap(), r);
        for bad in [
            "",
            "Manual",
            "catch up",
            "resync",
            "resync c",
            "resync a,",
            "resync a b",
            "resync a since",
            "resync a since yesterday",
            "resync a since 2026-12-01T08:00:00+08:00",
            "resync a since 2026-12-01T00:00:00.750Z",
        ] {
            assert_eq!(
                bad.parse::<RunTrigger>().unwrap_err().to_string(),
                format!(
                    "{bad:?} is not a run trigger (schedule, manual, catch-up, queued, resume, resync SIDES [since TIME])"
                )
            );
        }
        assert_eq!(format!("{:<9}|", RunTrigger::Manual), "manual   |");
        assert_eq!(
            format!("{:<9}|", RunTrigger::resync(vec![Side::A], None)),
            "resync a |"
        );
    }
}
