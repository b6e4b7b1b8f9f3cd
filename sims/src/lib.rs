//! Simulators of the three bureau systems the hub bridges, for the demo, the tests and the
//! benchmarks. Each behaves like the real system as `shared/systems/*.md` describes it, quirks
//! included, serves seeded deterministic data from memory, and has an unauthenticated side-door
//! under `/_admin/` for tests.
//!
//! - [`start_hy_esms`]: HY-ESMS, Huiyang District Employment Service Management System
//!   (惠阳区就业服务管理系统). REST/JSON under `/api/v1/{collection}` with an `X-Api-Key`, page
//!   paging (`updatedSince`, `page`, `size` ≤ 500), soft deletes, `If-Unmodified-Since`, a rate
//!   limit (429 with `Retry-After: 1`). Errors are `{"error": …}` (and `"field"` for 422).
//! - [`start_zf_reg`]: ZF-REG, Zhenfeng County registry of residents working away
//!   (贞丰县外出务工人员登记系统). `POST /login` for a session token, a GB18030 CSV export,
//!   form posts; every error the system itself gives is HTTP 200 with a non-zero `code`
//!   (40001 bad parameter, 40100 bad credentials, 40101 session expired, 40901 changed since
//!   read, 40902 identity number already registered, 50000 internal).
//! - [`start_med_roster`]: MED-ROSTER, Zhenfeng health bureau's roster of clinicians
//!   (医疗人才派驻花名册), a FHIR R4 server for `Organization`, `Practitioner` and
//!   `PractitionerRole` under `/fhir` with a bearer token: searchset Bundles with `next` links,
//!   `_lastUpdated`, `_include`/`_revinclude`, conditional create (`If-None-Exist`), versioned
//!   update (`If-Match`, 412), `OperationOutcome` errors.
//!
//! Side-door routes (all three, no auth, never rate-limited or faulted):
//! - `GET /_admin/{collection}` every record in native form (soft-deleted ones too),
//!   `GET|PATCH|DELETE /_admin/{collection}/{id}`, `POST /_admin/{collection}`: direct reads
//!   and writes, without validation and without counting as connector writes;
//! - `GET|DELETE /_admin/counters`: every write the API made, per collection;
//! - `GET|POST|DELETE /_admin/faults`: `slow_ms`, `burst_429` (with `retry_after`), `burst_503`, `drop`,
//!   `reject_writes` (HY-ESMS),
//!   `expire_sessions_after` (ZF-REG), `concurrent_edit` (MED-ROSTER);
//! - `GET /_admin/seed`: facts about the seed.
//!
//! The simulators log method, path (never the query string) and status at debug level, and
//! never a record's contents.

// Handlers return `Result<_, Response>` to answer early, as axum's own examples do; the size of
// `Response` (128 bytes) is of no consequence here.
#![allow(clippy::result_large_err)]

mod admin;
mod clock;
mod counters;
mod gate;
mod hy;
mod med;
mod net;
pub mod seed;
mod zf;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How a simulator runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// Data volume: `scale` times the reference numbers of workers (3,000 residents, 1,322 in
    /// Huiyang) and job postings (60). Default 1; 0 is taken as 1.
    pub scale: u32,
    /// Seed of the generated data; the same seed gives the same data byte for byte. Default
    /// [`seed::DEFAULT_SEED`] (20210902).
    pub seed: u64,
    /// HY-ESMS: requests admitted per second before 429 (`Retry-After: 1`); `None` or `Some(0)`
    /// turns the limit off. Default `Some(20)`, as the real system. ZF-REG has no rate limit.
    pub rate_limit: Option<u32>,
    /// ZF-REG: how long a session token lives after login (`expiresIn`). Default 1,800 s.
    pub session_ttl: Duration,
    /// HY-ESMS: the API key `X-Api-Key` must carry. Default `demo-hy-key`.
    pub hy_api_key: String,
    /// ZF-REG: login user name. Default `hub-sync`.
    pub zf_username: String,
    /// ZF-REG: login password. Default `demo-zf-password`.
    pub zf_password: String,
    /// ZF-REG: seed the registry's residents. Default true; false starts the registry with
    /// none, for tests that create every record they sync.
    pub seed_residents: bool,
    /// MED-ROSTER: the bearer token `Authorization` must carry. Default `demo-med-token`.
    pub med_token: String,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            scale: 1,
            seed: seed::DEFAULT_SEED,
            rate_limit: Some(20),
            session_ttl: Duration::from_secs(1800),
            hy_api_key: "demo-hy-key".into(),
            zf_username: "hub-sync".into(),
            zf_password: "demo-zf-password".into(),
            seed_residents: true,
            med_token: "demo-med-token".into(),
        }
    }
}

/// A simulator serving in a background task of the current tokio runtime. Dropping it stops
/// the server too (without waiting); [`RunningSim::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct RunningSim {
    /// The address it listens on (the actual port when bound to port 0).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSim {
    fn new(served: net::Served) -> RunningSim {
        RunningSim {
            addr: served.addr,
            stop: Some(served.stop),
            task: Some(served.task),
        }
    }

    /// Base URL, `http://127.0.0.1:PORT` (an unspecified bind address is reached on loopback).
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".parse().expect("an IP")
        } else {
            self.addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops accepting connections, lets requests in flight finish (up to 5 s, then aborts)
    /// and returns when the server task has ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts HY-ESMS on `bind` (port 0 picks a free port) with data seeded from `opts`.
///
/// API (`X-Api-Key` required; wrong or missing → 401 `{"error":"unauthorized"}`):
/// - `GET /api/v1/{enterprises|jobs|zhenfeng-workers|referrals|secondments}?updatedSince=
///   <RFC 3339>&page=<1..>&size=<1..500>` (defaults page 1, size 100) →
///   `{"total","page","size","items"}`, items by `updatedAt` then `id`, `updatedSince`
///   inclusive; bad parameters → 422 `{"error","field"}`.
/// - `POST /api/v1/{zhenfeng-workers|referrals|secondments}` → 201 stored item; a worker whose
///   `idNo` exists (even soft-deleted) → 409 `{"error":"duplicate idNo","id":N}`.
/// - `PUT /api/v1/{…}/{id}` whole item → 200; 404; 412 when `If-Unmodified-Since` (RFC 3339
///   or HTTP-date) is earlier than the stored `updatedAt`; 409 as above.
/// - `DELETE /api/v1/{…}/{id}` → 204, soft delete.
///
/// Every write sets `updatedAt` to the current whole second (`+08:00`), never going back.
/// Data: 40 enterprises, `60·scale` jobs, the 10 secondments of the four batches of the medical
/// programme (not scaled); 180·N referrals (see `seed::Seed::referrals`); zhenfeng-workers start empty.
///
/// # Errors
/// When `bind` cannot be bound.
pub async fn start_hy_esms(bind: SocketAddr, opts: &SimOptions) -> anyhow::Result<RunningSim> {
    let seed = seed::generate(opts.scale, opts.seed);
    let state = Arc::new(hy::HyState::new(&seed, opts));
    net::serve(bind, hy::router(state))
        .await
        .map(RunningSim::new)
}

/// Starts ZF-REG on `bind` (port 0 picks a free port) with data seeded from `opts`.
///
/// API (all answers HTTP 200 JSON `{"code","msg"[,"data"]}` unless noted):
/// - `POST /login` form `username`, `password` → `data: {"token","expiresIn"}`; 40100.
/// - Every other route takes `token` as a query or form field; missing, unknown or expired →
///   40101 `登录已过期`.
/// - `GET /export/workers.csv?token=&since=<yyyy-MM-dd HH:mm:ss>` → `text/csv; charset=GB18030`
///   (GB18030 bytes, CRLF, Chinese header), rows with 更新时间 ≥ `since` by 更新时间 then
///   登记编号; malformed `since` → 40001.
/// - `POST /api/worker/save` form `djbh` (empty = new), `xm`, `sfzh`, `xb` (1/2), `lxdh`, `hjxz`,
///   `wgsf`, `wgxq`, `wgdw`, `dwxydm`, `gz`, `wgzt` (1/2/3/9), `gxsj` → `data: {"djbh"}`;
///   40001 naming the field; 40902 `data: {"djbh"}` when the normalised 身份证号 is registered
///   to another resident; 40901 when the stored 更新时间 is later than `gxsj`. A field absent
///   from the form is saved empty.
/// - `GET /api/job/list?token=&page=1&rows=100`, `POST /api/job/save` (natural key `wbbh`).
///
/// Data: `3000·scale` residents (see [`seed`]); the job board starts empty.
///
/// # Errors
/// When `bind` cannot be bound.
pub async fn start_zf_reg(bind: SocketAddr, opts: &SimOptions) -> anyhow::Result<RunningSim> {
    let mut seed = seed::generate(opts.scale, opts.seed);
    if !opts.seed_residents {
        seed.residents.clear();
        seed.broken.clear();
    }
    let state = Arc::new(zf::ZfState::new(&seed, opts));
    net::serve(bind, zf::router(state))
        .await
        .map(RunningSim::new)
}

/// Starts MED-ROSTER on `bind` (port 0 picks a free port), seeded with the five host facilities
/// and the sending hospital (`Organization`s); no clinicians yet.
///
/// API (FHIR R4 JSON, `application/fhir+json`; `Authorization: Bearer <token>` on everything
/// but `GET /fhir/metadata`; a wrong or missing one → 401 `OperationOutcome`):
/// - `GET /fhir/metadata` → `CapabilityStatement`.
/// - `GET /fhir/{Organization|Practitioner|PractitionerRole}?…` → searchset `Bundle` with
///   `total`, `link` `self`/`next`, `entry[].search.mode` `match`/`include`. `_lastUpdated`
///   (`gt`, `ge`, `lt`, `le`, `eq` at the value's precision), `_count` (≤ 500, default 50),
///   `_include`/`_revinclude` `PractitionerRole:practitioner|organization`, `identifier`,
///   `_id`, `_sort`; `next` pages a snapshot of the matches (`GET /fhir?_getpages=…`).
/// - `GET /fhir/{type}/{id}` (and `/_history/{vid}`) → the resource with `ETag: W/"n"`.
/// - `POST /fhir/{type}` → 201, `Location`, `ETag: W/"1"`; `If-None-Exist: <search>` with one
///   match → 200 with it.
/// - `PUT /fhir/{type}/{id}` → 200; `If-Match: W/"n"` not the current version → 412.
///
/// `meta.lastUpdated` has millisecond precision with the `+08:00` offset and is distinct for
/// every version.
///
/// # Errors
/// When `bind` cannot be bound.
pub async fn start_med_roster(bind: SocketAddr, opts: &SimOptions) -> anyhow::Result<RunningSim> {
    let seed = seed::generate(opts.scale, opts.seed);
    let state = Arc::new(med::MedState::new(&seed, opts));
    net::serve(bind, med::router(state))
        .await
        .map(RunningSim::new)
}
