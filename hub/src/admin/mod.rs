//! The admin HTTP API and the status page (axum), served by `hub run`.
//!
//! Bound to `[admin] listen` (default `127.0.0.1:8470`), over HTTPS when `[admin] tls_cert`
//! and `tls_key` are set ([`tls`]; the files are read again on SIGHUP). Every
//! route but `/healthz`, `/login` and `/logout` needs the admin token: `Authorization: Bearer
//! <token>` (RFC 6750), or, for the pages only (`GET /`, `GET /runs/{id}`,
//! `GET /syncs/{name}/reconcile`, `GET /statistics` and its `GET /statistics.csv`), the session cookie
//! that `POST /login` sets after a browser user types the token. State-changing routes
//! (`POST`) accept the bearer header only, so a page on another site cannot make a signed-in
//! browser trigger anything (no cookie-borne CSRF).
//!
//! Defences ([`security`]): tokens are compared in constant time; a session is a
//! random id kept in memory for 8 hours (`POST /logout` ends it; a restart ends them all);
//! after 5 wrong tokens in a minute from one address (sign-in form or bearer header) that
//! address gets 429 with `Retry-After`, right token or not, until the minute has passed; the
//! pages carry a strict Content-Security-Policy (their one inline stylesheet by its hash, no
//! script) and refuse framing; HTTPS answers carry HSTS.
//!
//! The routes, their parameters and their response shapes are described by the OpenAPI 3.1
//! document at `/openapi.json`, generated from the handlers' annotations ([`utoipa`]) by the
//! same router that serves them, so the two cannot drift. Errors are JSON
//! `{"error": "<what is wrong>"}` with 400 (bad or unknown parameter, named), 401 (no or wrong
//! token), 404 (no such sync, run, dead letter, conflict or route; an unknown sync's error lists
//! the known ones), 405 (a route that does not take that method), 409 (the state forbids it),
//! 415/422 (a body that is not JSON or not the shape asked), 503 (not ready) or 500 (the state
//! store failed). A typo is never an empty success.
//!
//! Personal data: dead letters carry only masked keys (see [`crate::sync::mask_key`]); the
//! API never unseals a record.
//!
//! What lives where: this file holds what the module owns (the deployment [`View`], the
//! handlers' shared [`AdminState`], the [`Server`] and its [`router`]); [`auth`] the tokens,
//! sign-in, sessions and the checks every request passes; [`errors`] the JSON errors and the
//! checks of what a request names; `api` the JSON API's handlers by resource; [`pages`] the
//! HTML pages; [`openapi`] the document's frame; [`charts`], [`security`] and [`tls`] the
//! status page's SVG, the defences that are not routes, and HTTPS. Nothing here runs a sync
//! or a plugin itself: runs, plans and reconciliations go to the engine on the runs' runtime.
//! Every log line of the module keeps the target it had before the module was split into
//! files, `hub::admin` (HTTPS's `hub::admin_tls`), so log filters and readers see one source.
//!
//! **Owns** HTTP: routes, sign-in and roles, pages, the OpenAPI document, TLS. **May not
//! touch** SQL (rows come from `store`'s functions) or a connector; it never unseals a record
//! or shows personal data in clear.

mod api;
mod auth;
pub(crate) mod charts;
mod errors;
mod openapi;
pub(crate) mod pages;
pub mod security;
#[cfg(test)]
mod tests;
pub mod tls;

pub use api::conflicts::{ConflictsQuery, Resolution};
pub use api::dead_letters::{DeadLettersQuery, ReplayRequested};
pub use api::health::Readiness;
pub use api::runs::RunsQuery;
pub use api::syncs::{Done, ResyncQuery, SyncInfo};
pub use auth::{token, tokens};
pub use errors::ApiError;

use crate::config::Config;
use crate::schedule::Schedule;
use crate::store::Store;
use crate::sync::ProgressBoard;
use anyhow::Context as _;
use axum::Json;
use axum::http::HeaderValue;
use security::{Sessions, Throttle, Tokens};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// What the admin API shows of the deployment the daemon is running; replaced on reload.
#[derive(Clone)]
pub struct View {
    /// The deployment's state store.
    pub store: Store,
    /// Syncs that can run, by name.
    pub syncs: BTreeMap<String, SyncView>,
    /// What could not be loaded (plugins, syncs), one line each.
    pub problems: Vec<String>,
    /// Syncs of the configuration that could not load, by name, with the reason: they keep
    /// their row on the status page, marked not loaded.
    pub not_loaded: BTreeMap<String, String>,
    /// Why the last reload (SIGHUP) was refused, if it was; the running configuration stays.
    pub reload_refused: Option<String>,
    /// Runs in progress.
    pub progress: ProgressBoard,
    /// The zone people see times in (`[hub] timezone`).
    pub zone: chrono_tz::Tz,
    /// The daemon's last live check of each plugin (made at start and reload, see
    /// [`crate::check::LiveChecks`]; never made by the admin API itself).
    pub checks: crate::check::LiveChecks,
    /// What makes the syncs' reconciliation reports (`None`: the route answers 409).
    pub reconciler: Option<crate::sync::compare::Reconciler>,
}

impl View {
    /// Everything that keeps the deployment from running as configured, one line each: a
    /// refused reload first, then each plugin and sync that could not load, then each plugin
    /// whose last live check failed.
    pub fn all_problems(&self) -> Vec<String> {
        self.reload_refused
            .iter()
            .map(|r| format!("重新加载被拒 reload refused, the running configuration stays: {r}"))
            .chain(self.problems.iter().cloned())
            .chain(self.checks.failed().into_iter().map(|(plugin, why)| {
                format!(
                    "插件检查失败 plugin {plugin} failed its live check (checked again every {} s): {why}",
                    crate::check::RECHECK_FAILED.as_secs()
                )
            }))
            .collect()
    }
}

/// A sync as configured.
#[derive(Clone)]
pub struct SyncView {
    /// Shared schema.
    pub schema: String,
    /// `a_to_b`, `b_to_a` or `both`.
    pub direction: String,
    /// Endpoint `a`: plugin and stream.
    pub a: Endpoint,
    /// Endpoint `b`.
    pub b: Endpoint,
    /// Its schedule.
    pub schedule: Schedule,
    /// Scheduled at all.
    pub enabled: bool,
}

/// One end of a sync.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    /// Plugin name (a key of `[plugins]`).
    pub plugin: String,
    /// Stream of that plugin.
    pub stream: String,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AdminState {
    view: watch::Receiver<Arc<View>>,
    /// The tokens, replaced on reload ([`Server::update_tokens`]).
    tokens: Arc<std::sync::RwLock<Arc<Tokens>>>,
    sessions: Arc<Sessions>,
    throttle: Arc<Throttle>,
    /// Served over HTTPS: HSTS on every answer, `Secure` on the cookie.
    tls: bool,
    /// The pages' Content-Security-Policy, with the hash of [`pages::STYLE`].
    csp: HeaderValue,
}

impl AdminState {
    /// State over the deployment view (a watch, so that reloads show) and the admin token,
    /// served over plain HTTP, with sessions of [`security::SESSION_LIFETIME`] and the
    /// throttle of [`security::MAX_FAILURES`] per [`security::FAILURE_WINDOW`].
    pub fn new(view: watch::Receiver<Arc<View>>, token: &str) -> AdminState {
        AdminState::with_tokens(view, Tokens::single(token))
    }

    /// The same with named tokens and roles ([`tokens`]).
    pub fn with_tokens(view: watch::Receiver<Arc<View>>, tokens: Tokens) -> AdminState {
        AdminState {
            view,
            tokens: Arc::new(std::sync::RwLock::new(Arc::new(tokens))),
            sessions: Arc::new(Sessions::new(security::SESSION_LIFETIME)),
            throttle: Arc::new(Throttle::new(
                security::MAX_FAILURES,
                security::FAILURE_WINDOW,
            )),
            tls: false,
            csp: security::content_security_policy(pages::STYLE),
        }
    }

    /// The same, served over HTTPS.
    pub fn over_tls(self) -> AdminState {
        AdminState { tls: true, ..self }
    }

    /// Sessions that last `lifetime` and a throttle window of `window` (for tests, which
    /// cannot wait 8 hours or a minute).
    #[cfg(test)]
    fn with_times(self, lifetime: std::time::Duration, window: std::time::Duration) -> AdminState {
        AdminState {
            sessions: Arc::new(Sessions::new(lifetime)),
            throttle: Arc::new(Throttle::new(security::MAX_FAILURES, window)),
            ..self
        }
    }

    fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    fn tokens(&self) -> Arc<Tokens> {
        self.tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the tokens (a reload): bearer headers and sessions are checked against the new
    /// set from the next request on.
    pub fn set_tokens(&self, tokens: Tokens) {
        *self
            .tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(tokens);
    }
}

/// The admin server of a running daemon.
pub struct Server {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    view: watch::Sender<Arc<View>>,
    state: AdminState,
    task: tokio::task::JoinHandle<()>,
    /// The certificate when served over HTTPS, and the task reloading it on SIGHUP.
    tls: Option<(Arc<tls::Certificate>, tokio::task::JoinHandle<()>)>,
}

impl Server {
    /// Binds `[admin] listen`, writes `http://<addr>/` (`https://` with `[admin] tls_cert`) to
    /// `<data_dir>/admin.url`, and serves `view` until [`Server::stop`]. Errors: the
    /// certificate or key file cannot be used (named, with the reason), the address cannot be
    /// bound, or the token cannot be read.
    pub async fn start(config: &Config, view: View) -> anyhow::Result<Server> {
        let tokens = tokens(config)?;
        let certificate = match config.admin_tls_files() {
            Some((cert, key)) => Some(Arc::new(tls::Certificate::load(&cert, &key)?)),
            None => None,
        };
        let listen = config.admin.listen.get_ref();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("admin.listen: cannot bind {listen}"))?;
        let addr = listener.local_addr()?;
        let scheme = if certificate.is_some() {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme}://{addr}/");
        std::fs::write(config.data_dir().join("admin.url"), format!("{url}\n")).with_context(
            || {
                format!(
                    "failed to write admin.url in {}",
                    config.data_dir().display()
                )
            },
        )?;
        if !addr.ip().is_loopback() && certificate.is_none() {
            tracing::warn!(target: "hub::admin", %addr, "the admin API listens beyond this machine over plain HTTP; set [admin] tls_cert and tls_key for HTTPS");
        }
        let (tx, rx) = watch::channel(Arc::new(view));
        let state = AdminState::with_tokens(rx, tokens);
        let (task, tls) = match certificate {
            None => {
                let (router, _) = router(state.clone());
                let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
                let task = tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(target: "hub::admin", "admin API stopped: {e}");
                    }
                });
                (task, None)
            }
            Some(certificate) => {
                use axum::serve::ListenerExt as _;
                let (router, _) = router(state.clone().over_tls());
                let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
                // A tapped listener is one axum gives each connection's peer address for
                // (`ConnectInfo<SocketAddr>`, which the sign-in throttle counts by); the tap
                // itself does nothing.
                let listener =
                    tls::TlsListener::new(listener, certificate.server_config())?.tap_io(|_| ());
                let task = tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(target: "hub::admin", "admin API stopped: {e}");
                    }
                });
                let reload = tokio::spawn(tls::reload_on_sighup(certificate.clone()));
                (task, Some((certificate, reload)))
            }
        };
        tracing::info!(target: "hub::admin", "admin API and status page on {url}");
        Ok(Server {
            addr,
            view: tx,
            state,
            task,
            tls,
        })
    }

    /// Shows a reloaded deployment.
    pub fn update(&self, view: View) {
        let _ = self.view.send(Arc::new(view));
    }

    /// Takes the tokens of a reloaded configuration ([`tokens`]): a rotated or withdrawn token
    /// no longer opens anything, and the sessions signed in with it end.
    pub fn update_tokens(&self, tokens: Tokens) {
        tracing::info!(target: "hub::admin", tokens = tokens.len(), "admin API: tokens reloaded");
        self.state.set_tokens(tokens);
    }

    /// Reads the certificate files again, as SIGHUP does: the new pair serves new connections,
    /// or, when a file is bad, the error is logged and the old pair stays. `false` then, or
    /// when not serving HTTPS.
    pub fn reload_certificate(&self) -> bool {
        self.tls.as_ref().is_some_and(|(c, _)| c.reload_and_log())
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
        if let Some((_, reload)) = self.tls {
            reload.abort();
        }
    }
}

/// The router and its OpenAPI document.
pub fn router(state: AdminState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) =
        api::routes(OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())).split_for_parts();
    let doc = api.clone();
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || std::future::ready(Json(doc.clone()))),
        )
        .route("/", axum::routing::get(pages::status::status_page))
        .route("/runs/{id}", axum::routing::get(pages::run::run_page))
        .route(
            "/conflicts/{id}",
            axum::routing::get(pages::conflict::conflict_page).post(pages::conflict::conflict_form),
        )
        .route(
            "/syncs/{name}/reconcile",
            axum::routing::get(pages::reconcile::reconcile_page),
        )
        .route(
            "/statistics",
            axum::routing::get(pages::statistics::statistics_page),
        )
        .route(
            "/statistics.csv",
            axum::routing::get(pages::statistics::statistics_csv_page),
        )
        .route(
            "/login",
            axum::routing::get(auth::login_form).post(auth::login),
        )
        .route("/logout", axum::routing::post(auth::logout))
        .fallback(errors::no_route)
        .method_not_allowed_fallback(errors::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::security_headers,
        ))
        .with_state(state);
    (router, api)
}
