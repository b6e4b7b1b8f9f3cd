//! Daemons alive on the store (table `daemons`), by the rate-limited plugins they use: a
//! system's request budget is divided among the daemons sending to it
//! ([`crate::runtime::rate::RateBudget::set_share`]).

use super::leases::{lease_live, this_host};
use super::*;
use std::collections::BTreeMap;

impl Store {
    /// Says that this process (`host:pid`, [`holder_id`]) is alive and uses each of `plugins`,
    /// until `ttl` from now by the database's clock; forgets rows that have expired. Returns,
    /// for each of `plugins`, the live daemons using it, this one included (so at least 1): a
    /// row counts until it expires, unless its process is one of this host's and is gone.
    pub async fn daemon_heartbeat(
        &self,
        plugins: &[String],
        ttl: Duration,
    ) -> Result<BTreeMap<String, u32>> {
        let (host, pid) = (this_host(), i64::from(std::process::id()));
        let me = holder_id();
        let rows: Vec<(String, String, i64, bool)> = on_pool!(self, p => {
            for plugin in plugins {
                let sql = format!(
                    "INSERT INTO daemons (holder, plugin, host, pid, expires_at) \
                     VALUES ($1, $2, $3, $4, {}) \
                     ON CONFLICT (holder, plugin) DO UPDATE SET expires_at = excluded.expires_at",
                    db_now_plus(p, "$5")
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&me)
                    .bind(plugin)
                    .bind(&host)
                    .bind(pid)
                    .bind(ttl.as_secs_f64())
                    .execute(p)
                    .await?;
            }
            let sql = format!("DELETE FROM daemons WHERE expires_at <= {}", db_now(p));
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await?;
            let sql = format!(
                "SELECT plugin, host, pid, expires_at > {} FROM daemons",
                db_now(p)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect()
        });
        let mut live: BTreeMap<String, u32> = plugins.iter().map(|p| (p.clone(), 0)).collect();
        for (plugin, their_host, their_pid, unexpired) in rows {
            if let Some(n) = live.get_mut(&plugin)
                && lease_live(&host, &their_host, their_pid, unexpired)
            {
                *n += 1;
            }
        }
        Ok(live.into_iter().map(|(p, n)| (p, n.max(1))).collect())
    }

    /// Removes this process's rows (a daemon stopping): the others take its share at their
    /// next heartbeat.
    pub async fn daemon_leave(&self) -> Result<()> {
        let me = holder_id();
        on_pool!(self, p => {
            sqlx::query("DELETE FROM daemons WHERE holder = $1")
                .bind(&me)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
