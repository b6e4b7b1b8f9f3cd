//! Run leases (table `leases`): one process at a time runs a sync; fencing tokens that refuse
//! a writer whose lease was taken over.

use super::*;

/// This machine's host name (Linux: the kernel's; elsewhere `$HOSTNAME`).
/// A sync's lease as held by this process: the proof a run shows the store to write.
///
/// `token` is the lease row's fencing token when this process took it: the row's token rises
/// by one at every take, so a later holder always has a larger one, and a write fenced by an
/// older token is refused ([`LeaseLost`]).
#[derive(Debug)]
pub struct Lease {
    /// The sync.
    pub sync: String,
    /// This process (`host:pid`).
    pub holder: String,
    /// The fencing token.
    pub token: i64,
    /// Until when (this process's monotonic clock) the lease is surely held: set at each renewal
    /// to the renewal's start plus the TTL. A process paused past it must renew before writing.
    valid_until: std::sync::Mutex<std::time::Instant>,
    /// Set when a renewal or a fenced write found the lease taken by another process.
    lost: std::sync::atomic::AtomicBool,
}

impl Lease {
    /// Whether this process surely still holds the lease, by its own clock and without asking
    /// the store: not found lost, and within the TTL of its last renewal.
    pub fn holds_locally(&self) -> bool {
        !self.is_lost()
            && std::time::Instant::now() < *self.valid_until.lock().expect("lease clock")
    }

    /// Whether a renewal or a fenced write found the lease taken by another process.
    pub fn is_lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(super) fn lost_error(&self) -> LeaseLost {
        self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
        LeaseLost {
            sync: self.sync.clone(),
            token: self.token,
        }
    }
}

/// A write refused because the writer's lease was taken over by another process (its token is
/// no longer the lease row's): nothing of that write was stored.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "sync {sync}: the run lease (token {token}) was taken over by another process; nothing more is written by this run"
)]
pub struct LeaseLost {
    /// The sync.
    pub sync: String,
    /// The token the refused writer held.
    pub token: i64,
}

/// A scheduled run refused because its fire time already has a run (another daemon ran it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("sync {sync}: fire time {fire_time} already ran (run {run})")]
pub struct AlreadyRan {
    /// The sync.
    pub sync: String,
    /// The fire time (RFC 3339, UTC).
    pub fire_time: String,
    /// The run that ran it.
    pub run: i64,
}

/// A lease row, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LeaseInfo {
    /// The sync.
    pub sync: String,
    /// The process that last took it (`host:pid`).
    pub holder: String,
    /// Its fencing token (rises by one at every take).
    pub token: i64,
    /// When it was taken (RFC 3339).
    pub acquired_at: String,
    /// When it expires unless renewed (RFC 3339); a released lease expired when it was released.
    pub expires_at: String,
    /// Whether it still binds (not expired, holder not a dead process of this host).
    pub live: bool,
}

/// This process, as a lease holder and run holder: `host:pid`.
pub fn holder_id() -> String {
    format!("{}:{}", this_host(), std::process::id())
}

pub(super) fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A lease still binds: it has not expired by the database's clock (`unexpired`, compared in
/// SQL against [`WritePool::DB_NOW`]), and its holder is not a process of this host that is
/// gone (a daemon killed with SIGKILL leaves its lease behind).
pub(super) fn lease_live(this_host: &str, host: &str, pid: i64, unexpired: bool) -> bool {
    let gone = host == this_host && !process_alive(pid);
    unexpired && !gone
}

/// Whether a process of this host is alive (Linux: `/proc/PID`; elsewhere assumed alive, so
/// only the lease's expiry frees it).
pub(super) fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

impl Store {
    /// Takes the lease of a sync for this process for `ttl`, unless another live process holds
    /// it: the holder's `host:pid` is returned then. A lease expires unless renewed; on this
    /// host, a holder whose process is gone (killed) loses it at once.
    ///
    /// The take is a compare-and-swap on the lease row (the holder and token seen a moment
    /// before), so of several daemons taking an expired lease at once exactly one gets it; each
    /// take raises the row's fencing token by one. Expiry is the database's clock's, both when
    /// an expiry is set and when one is compared ([`WritePool::DB_NOW`]): a daemon whose clock
    /// runs ahead neither takes a lease early nor gives its own away.
    pub async fn acquire_lease(
        &self,
        sync: &str,
        ttl: Duration,
    ) -> Result<Result<Arc<Lease>, String>> {
        let (host, pid) = (this_host(), i64::from(std::process::id()));
        let me = holder_id();
        let ttl_secs = ttl.as_secs_f64();
        on_pool!(self, p => {
            let sql = format!(
                "SELECT holder, host, pid, token, expires_at > {} FROM leases WHERE sync = $1",
                db_now(p)
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(sync)
                .fetch_optional(p)
                .await?;
            let mut seen: (Option<String>, Option<i64>) = (None, None);
            if let Some(r) = row {
                let (holder, their_host, their_pid, token, unexpired): (String, String, i64, i64, bool) =
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                if holder != me && lease_live(&host, &their_host, their_pid, unexpired) {
                    return Ok(Err(holder));
                }
                seen = (Some(holder), Some(token));
            }
            let sql = format!(
                "INSERT INTO leases (sync, holder, host, pid, acquired_at, expires_at, token) \
                 VALUES ($1, $2, $3, $4, {}, {}, 1) \
                 ON CONFLICT (sync) DO UPDATE SET holder = excluded.holder, host = excluded.host, \
                   pid = excluded.pid, acquired_at = excluded.acquired_at, \
                   expires_at = excluded.expires_at, token = leases.token + 1 \
                 WHERE leases.holder = $6 AND leases.token = $7 \
                 RETURNING token",
                db_now(p),
                db_now_plus(p, "$5"),
            );
            let token: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(sync)
            .bind(&me)
            .bind(&host)
            .bind(pid)
            .bind(ttl_secs)
            .bind(seen.0)
            .bind(seen.1)
            .fetch_optional(p)
            .await?;
            let Some(token) = token else {
                // Another process took it between the look and the take.
                let holder: Option<String> =
                    sqlx::query_scalar("SELECT holder FROM leases WHERE sync = $1")
                        .bind(sync)
                        .fetch_optional(p)
                        .await?;
                return Ok(Err(holder.unwrap_or_default()));
            };
            Ok(Ok(Arc::new(Lease {
                sync: sync.to_string(),
                holder: me,
                token,
                valid_until: std::sync::Mutex::new(std::time::Instant::now() + ttl),
                lost: std::sync::atomic::AtomicBool::new(false),
            })))
        })
    }

    /// Extends `lease` by `ttl` from now; false (and the lease marked lost) if its holder and
    /// token no longer hold it.
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool> {
        let started = std::time::Instant::now();
        let renewed = on_pool!(self, p => {
            let sql = format!(
                "UPDATE leases SET expires_at = {} WHERE sync = $2 AND holder = $3 AND token = $4",
                db_now_plus(p, "$1")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(ttl.as_secs_f64())
                .bind(&lease.sync)
                .bind(&lease.holder)
                .bind(lease.token)
                .execute(p)
                .await?
                .rows_affected()
        });
        if renewed == 1 {
            *lease.valid_until.lock().expect("lease clock") = started + ttl;
            Ok(true)
        } else {
            lease.lost.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(false)
        }
    }

    /// Gives `lease` up: its row stays, expired now, so the next take raises the token again.
    pub async fn release_lease(&self, lease: &Lease) -> Result<()> {
        on_pool!(self, p => {
            let sql = format!(
                "UPDATE leases SET expires_at = {} WHERE sync = $1 AND holder = $2 AND token = $3",
                db_now(p)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&lease.sync)
                .bind(&lease.holder)
                .bind(lease.token)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// The same store, fenced by `lease`: every commit, run start and replay record checks in
    /// its transaction that the lease's holder and token still hold it, and fails with
    /// [`StoreError::LeaseLost`] (writing nothing) if another process has taken it.
    pub fn fenced(&self, lease: Arc<Lease>) -> Store {
        Store {
            fence: Some(lease),
            ..self.clone()
        }
    }

    /// The lease this store is fenced by, if any.
    pub fn lease(&self) -> Option<&Arc<Lease>> {
        self.fence.as_ref()
    }

    /// Before a write to a system: `Ok` while this store's lease (if fenced) is still held. A
    /// lease past its local deadline (the process was paused, or renewals failed) is renewed
    /// first, so a process resumed after another took over learns it here, before writing
    /// ([`StoreError::LeaseLost`]).
    pub async fn confirm_lease(&self, ttl: Duration) -> Result<()> {
        let Some(f) = &self.fence else { return Ok(()) };
        if f.is_lost() {
            return Err(f.lost_error().into());
        }
        let deadline = *f.valid_until.lock().expect("lease clock");
        // Renew once less than a quarter of the lease is left.
        if std::time::Instant::now() + ttl / 4 < deadline {
            return Ok(());
        }
        if self.renew_lease(f, ttl).await? {
            Ok(())
        } else {
            Err(f.lost_error().into())
        }
    }

    /// The leases of every sync (held, expired or released), by sync name.
    pub async fn leases(&self) -> Result<Vec<LeaseInfo>> {
        let host = this_host();
        on_pool!(self, p => {
            let sql = format!(
                "SELECT sync, holder, token, acquired_at, expires_at, host, pid, expires_at > {} \
                 FROM leases ORDER BY sync",
                db_now(p)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let (expires, their_host, pid, unexpired): (String, String, i64, bool) =
                        (r.get(4), r.get(5), r.get(6), r.get(7));
                    LeaseInfo {
                        sync: r.get(0),
                        holder: r.get(1),
                        token: r.get(2),
                        acquired_at: r.get(3),
                        live: lease_live(&host, &their_host, pid, unexpired),
                        expires_at: expires,
                    }
                })
                .collect())
        })
    }
}
