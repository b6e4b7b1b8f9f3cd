//! The JSON API's handlers, by resource: [`health`] (`/healthz`, `/readyz`, `/metrics`),
//! [`syncs`] (a sync, its control, plan, resync and reconciliation), [`runs`] (run history and
//! leases), [`dead_letters`], [`conflicts`] (and a person's decision on one) and
//! [`statistics`]. Each handler carries its `#[utoipa::path]` annotation, from which the
//! OpenAPI document is made; [`routes`] registers them all.
//!
//! Handlers answer JSON (errors as [`super::errors::Failure`]); they never render HTML. The
//! pages call the queries here ([`syncs::sync_info`], [`syncs::reconciliation`],
//! [`conflicts::decide`], ...) rather than the store's writes of their own.

pub(super) mod conflicts;
pub(super) mod dead_letters;
pub(super) mod health;
pub(super) mod runs;
pub(super) mod statistics;
pub(super) mod syncs;

use super::AdminState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `router` with every JSON API route added, each with its OpenAPI operation.
pub(super) fn routes(router: OpenApiRouter<AdminState>) -> OpenApiRouter<AdminState> {
    router
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(syncs::list_syncs))
        .routes(routes!(syncs::get_sync))
        .routes(routes!(syncs::trigger))
        .routes(routes!(syncs::pause))
        .routes(routes!(syncs::resume))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::list_run_dead_letters))
        .routes(routes!(dead_letters::list_dead_letters))
        .routes(routes!(dead_letters::get_dead_letter))
        .routes(routes!(dead_letters::replay_dead_letter))
        .routes(routes!(dead_letters::replay_dead_letters))
        .routes(routes!(conflicts::list_conflicts))
        .routes(routes!(conflicts::get_conflict))
        .routes(routes!(conflicts::resolve_conflict))
        .routes(routes!(runs::list_leases))
        .routes(routes!(syncs::reconcile))
        .routes(routes!(syncs::plan))
        .routes(routes!(syncs::resync))
        .routes(routes!(statistics::statistics))
        .routes(routes!(statistics::statistics_csv))
}
