//! The HY-ESMS simulator (Huiyang District Employment Service Management System): REST/JSON
//! with an API key, page-number paging, soft deletes, a rate limit. `huiyang-esms.md` is the
//! contract.

mod admin;
mod api;
mod model;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

use crate::SimOptions;
use crate::clock::Clock;
use crate::gate::{self, Gate, System};
use crate::seed::Seed;
use model::{Collection, Tables};

/// A simulator's state: its gate (faults, counters, rate limit), key and data.
#[derive(Debug)]
pub(crate) struct HyState {
    api_key: String,
    gate: Arc<Gate>,
    data: Mutex<HyData>,
    /// Record counts per collection at start, for `/_admin/seed`.
    seed_counts: Value,
}

/// The data, behind one lock: every handler takes it for a few microseconds and never across an
/// await.
#[derive(Debug, Default)]
pub(crate) struct HyData {
    clock: Clock,
    tables: Tables,
}

impl HyState {
    pub(crate) fn new(seed: &Seed, opts: &SimOptions) -> HyState {
        let mut data = HyData::default();
        for e in &seed.enterprises {
            let fields = object(json!({
                "uscc": e.uscc, "name": e.name, "address": e.address,
                "contactName": e.contact_name, "contactPhone": e.contact_phone,
            }));
            let id = data.tables[Collection::Enterprises]
                .insert(Collection::Enterprises, fields, e.updated_at)
                .id;
            debug_assert_eq!(id, e.id);
        }
        for j in &seed.jobs {
            let fields = object(json!({
                "enterpriseId": j.enterprise_id, "title": j.title, "headcount": j.headcount,
                "salaryMin": j.salary_min, "salaryMax": j.salary_max, "workLocation": j.work_location,
                "requirements": j.requirements, "publishedAt": j.published_at, "validUntil": j.valid_until,
                "status": j.status,
            }));
            let id = data.tables[Collection::Jobs]
                .insert(Collection::Jobs, fields, j.updated_at)
                .id;
            debug_assert_eq!(id, j.id);
        }
        for sd in &seed.secondments {
            let fields = object(json!({
                "name": sd.name, "idNo": sd.id_no, "gender": sd.gender, "phone": sd.phone,
                "profession": sd.profession, "sendingOrg": sd.sending_org,
                "hostFacility": sd.host_facility, "batch": sd.batch, "startDate": sd.start_date,
                "endDate": sd.end_date, "actualEndDate": sd.actual_end_date, "status": sd.status,
                "department": sd.department, "honours": sd.honours, "deleted": false,
            }));
            let id = data.tables[Collection::Secondments]
                .insert(Collection::Secondments, fields, sd.updated_at)
                .id;
            debug_assert_eq!(id, sd.id);
        }
        for r in &seed.referrals {
            let fields = object(json!({
                "workerIdNo": r.worker_id_no, "jobId": r.job_id, "status": r.status,
                "note": r.note, "deleted": r.deleted,
            }));
            let id = data.tables[Collection::Referrals]
                .insert(Collection::Referrals, fields, r.updated_at)
                .id;
            debug_assert_eq!(id, r.id);
        }
        let seed_counts: Map<String, Value> = Collection::ALL
            .iter()
            .map(|c| (c.name().to_string(), json!(data.tables[*c].rows().len())))
            .collect();
        HyState {
            api_key: opts.hy_api_key.clone(),
            gate: Arc::new(Gate::new(
                System::Hy,
                opts.rate_limit,
                &Collection::WRITABLE,
            )),
            data: Mutex::new(data),
            seed_counts: Value::Object(seed_counts),
        }
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The whole HY-ESMS application: `/api/v1/…` behind the gate and the API key, `/_admin/…`
/// open, everything access-logged.
pub(crate) fn router(state: Arc<HyState>) -> Router {
    use axum::routing::put;
    let api = Router::new()
        .route("/api/v1/{collection}", get(api::list).post(api::create))
        .route(
            "/api/v1/{collection}/{id}",
            put(api::replace)
                .delete(api::delete)
                .get(api::no_such_route)
                .post(api::no_such_route),
        )
        .layer(from_fn_with_state(state.clone(), api::auth))
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
