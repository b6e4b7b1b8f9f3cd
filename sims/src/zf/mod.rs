//! The ZF-REG simulator (贞丰县外出务工人员登记系统): session login, GB18030 CSV export, form
//! posts, every error as HTTP 200 with a non-zero `code`. `zhenfeng-registry.md` is the
//! contract.

mod admin;
mod api;
mod store;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::SimOptions;
use crate::gate::{self, Gate, System, lock};
use crate::seed::{HUIYANG, Seed};
use store::ZfData;

/// The simulator's state: credentials, sessions, gate and data.
#[derive(Debug)]
pub(crate) struct ZfState {
    username: String,
    password: String,
    session_ttl: Duration,
    gate: Arc<Gate>,
    /// token → expiry.
    sessions: Mutex<HashMap<String, Instant>>,
    data: Mutex<ZfData>,
    /// Facts about the seed, for `/_admin/seed`.
    seed_facts: Value,
}

/// The collections `/_admin/counters` tallies.
const COLLECTIONS: [&str; 2] = ["workers", "jobs"];

impl ZfState {
    pub(crate) fn new(seed: &Seed, opts: &SimOptions) -> ZfState {
        let broken: Vec<Value> = seed
            .broken
            .iter()
            .map(|b| json!({"djbh": b.djbh, "defect": b.defect.as_str()}))
            .collect();
        let legacy: Vec<&str> = seed
            .residents
            .iter()
            .filter(|r| r.sfzh.chars().count() == 15)
            .map(|r| r.djbh.as_str())
            .collect();
        let in_huiyang = seed.residents.iter().filter(|r| r.wgxq == HUIYANG).count();
        let seed_facts = json!({
            "scale": opts.scale.max(1),
            "seed": opts.seed,
            "residents": seed.residents.len(),
            "valid_in_441303": in_huiyang - seed.broken.len(),
            "in_441303": in_huiyang,
            "broken": broken,
            "legacy_15_digit": legacy,
        });
        ZfState {
            username: opts.zf_username.clone(),
            password: opts.zf_password.clone(),
            session_ttl: opts.session_ttl,
            gate: Arc::new(Gate::new(System::Zf, None, &COLLECTIONS)),
            sessions: Mutex::new(HashMap::new()),
            data: Mutex::new(ZfData::from_seed(seed)),
            seed_facts,
        }
    }

    /// Opens a session: a random token valid for the session TTL from now.
    fn open_session(&self) -> String {
        use rand::RngExt;
        let token: String = {
            let mut rng = rand::rng();
            (0..32)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("a hex digit"))
                .collect()
        };
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, expiry| *expiry > now);
        sessions.insert(token.clone(), now + self.session_ttl);
        token
    }

    /// True if the token names a live session. Each such request also counts down the
    /// `expire_sessions_after` fault, which may end every session now.
    fn authenticate(&self, token: Option<&str>) -> bool {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return false;
        };
        let mut sessions = lock(&self.sessions);
        if sessions
            .get(token)
            .is_none_or(|expiry| *expiry <= Instant::now())
        {
            return false;
        }
        if lock(&self.gate.faults).sessions_expire_now() {
            sessions.clear();
            return false;
        }
        true
    }
}

/// The whole ZF-REG application.
pub(crate) fn router(state: Arc<ZfState>) -> Router {
    let api = Router::new()
        .route("/login", post(api::login))
        .route("/export/workers.csv", get(api::export))
        .route("/api/worker/save", post(api::save_worker))
        .route("/api/job/list", get(api::list_jobs))
        .route("/api/job/save", post(api::save_job))
        .layer(from_fn_with_state(state.gate.clone(), gate::gate))
        .with_state(state.clone());
    let admin = Router::new()
        .route("/_admin/seed", get(admin::seed))
        .route("/_admin/{collection}", get(admin::list).post(admin::create))
        .route(
            "/_admin/{collection}/{id}",
            get(admin::get).patch(admin::patch).delete(admin::delete),
        )
        .with_state(state.clone())
        .merge(crate::admin::router(state.gate.clone()));
    api.merge(admin).layer(from_fn(gate::access_log))
}
