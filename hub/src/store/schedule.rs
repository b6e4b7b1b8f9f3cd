//! Schedule state per sync (table `schedule`): the fire time handled through, pause, manual
//! triggers, and fire times claimed once across daemons.

use super::*;

/// Where a sync's schedule stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleState {
    /// Every fire time up to this instant has been run or deliberately skipped.
    pub handled_through: Option<chrono::DateTime<chrono::Utc>>,
    /// Scheduled runs are skipped while paused (manual runs still start).
    pub paused: bool,
    /// A manual run waits to start.
    pub trigger_requested: bool,
}

impl Store {
    /// The scheduling state of a sync (defaults if it never ran).
    pub async fn schedule_state(&self, sync: &str) -> Result<ScheduleState> {
        on_pool!(self, p => {
            let row = sqlx::query(
                "SELECT handled_through, paused, trigger_requested FROM schedule_state WHERE sync = $1",
            )
            .bind(sync)
            .fetch_optional(p)
            .await?;
            Ok(row
                .map(|r| ScheduleState {
                    handled_through: r.get::<Option<String>, _>(0).and_then(|t| parse_utc(&t)),
                    paused: r.get(1),
                    trigger_requested: r.get::<Option<String>, _>(2).is_some(),
                })
                .unwrap_or_default())
        })
    }

    pub(super) async fn upsert_schedule(
        &self,
        sync: &str,
        column: &'static str,
        value: Option<String>,
    ) -> Result<()> {
        on_pool!(self, p => {
            // `column` is one of this file's literals, never input.
            let sql = format!(
                "INSERT INTO schedule_state (sync, {column}, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (sync) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(sync)
                .bind(value)
                .bind(now())
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Records that every fire time up to `t` has been run or skipped. Handled-through only
    /// moves forward: a `t` before the recorded instant (another daemon got further) changes
    /// nothing.
    pub async fn set_handled_through(
        &self,
        sync: &str,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.mark_handled(sync, t, false).await.map(|_| ())
    }

    /// Pauses or resumes a sync's schedule.
    pub async fn set_paused(&self, sync: &str, paused: bool) -> Result<()> {
        on_pool!(self, p => {
            let sql = "INSERT INTO schedule_state (sync, paused, updated_at) VALUES ($1, $2, $3) \
                       ON CONFLICT (sync) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at";
            sqlx::query(sql)
                .bind(sync)
                .bind(paused)
                .bind(now())
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Asks the daemon running the sync to start a run now.
    pub async fn request_trigger(&self, sync: &str) -> Result<()> {
        self.upsert_schedule(sync, "trigger_requested", Some(now()))
            .await
    }

    /// Takes a pending manual trigger: true (and cleared) if one was asked for.
    pub async fn take_trigger(&self, sync: &str) -> Result<bool> {
        on_pool!(self, p => {
            let r = sqlx::query("UPDATE schedule_state SET trigger_requested = NULL, updated_at = $1 WHERE sync = $2 AND trigger_requested IS NOT NULL")
                .bind(now())
                .bind(sync)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Claims fire time `t` of `sync` for this process. [`FireClaim::Claimed`] if no process
    /// had handled `t` (or a later instant) yet, and handled-through is now `t`: of several
    /// daemons claiming the same fire time, exactly one gets it (one conditional upsert).
    /// [`FireClaim::NotYetDue`] if `t` is still ahead of the database's clock (the caller's
    /// clock runs fast): nothing is recorded, and the caller claims again once the wait is over.
    /// A fire time is thus run when the store's clock says so, whatever each daemon's clock.
    pub async fn claim_fire(
        &self,
        sync: &str,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Result<FireClaim> {
        let db_now = self.db_now().await?;
        if t > db_now {
            return Ok(FireClaim::NotYetDue {
                wait: (t - db_now).to_std().unwrap_or_default(),
            });
        }
        let claimed = self.mark_handled(sync, t, true).await?;
        Ok(if claimed {
            FireClaim::Claimed
        } else {
            FireClaim::Taken
        })
    }

    /// Moves `sync`'s handled-through instant to `t` unless it is at or past `t` already:
    /// true if it moved. With `due_only`, only if `t` is not ahead of the database's clock.
    async fn mark_handled(
        &self,
        sync: &str,
        t: chrono::DateTime<chrono::Utc>,
        due_only: bool,
    ) -> Result<bool> {
        on_pool!(self, p => {
            let guard = if due_only {
                format!(" AND $2 <= {}", db_now(p))
            } else {
                String::new()
            };
            // INSERT … SELECT, so that the guard also holds for a sync's first claim.
            let sql = format!(
                "INSERT INTO schedule_state (sync, handled_through, updated_at) \
                 SELECT $1, $2, $3 WHERE true{guard} \
                 ON CONFLICT (sync) DO UPDATE SET handled_through = excluded.handled_through, \
                   updated_at = excluded.updated_at \
                 WHERE schedule_state.handled_through IS NULL \
                    OR schedule_state.handled_through < excluded.handled_through"
            );
            let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(sync)
                .bind(utc_text(t))
                .bind(now())
                .execute(p)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// The database's clock now ([`WritePool::DB_NOW`]), the clock leases and fire times go by.
    pub async fn db_now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        let text: String = on_pool!(self, p => {
            let sql = format!("SELECT {}", db_now(p));
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(p).await?
        });
        parse_utc(&text).ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!(
                "the store's clock gave {text:?}, not RFC 3339"
            ))
        })
    }
}

/// The answer to [`Store::claim_fire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireClaim {
    /// This process runs the fire time.
    Claimed,
    /// Another process claimed it, or a later instant, first.
    Taken,
    /// The fire time is still `wait` ahead of the database's clock.
    NotYetDue {
        /// How long until it is due by the database's clock.
        wait: std::time::Duration,
    },
}
