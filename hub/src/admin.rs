//! The admin HTTP API and the status page (axum), served by `hub run`.
//!
//! Bound to `[admin] listen` (default `127.0.0.1:8470`), over HTTPS when `[admin] tls_cert`
//! and `tls_key` are set ([`crate::admin_tls`]; the files are read again on SIGHUP). Every
//! route but `/healthz`, `/login` and `/logout` needs the admin token: `Authorization: Bearer
//! <token>` (RFC 6750), or, for the pages only (`GET /`, `GET /runs/{id}`,
//! `GET /syncs/{name}/reconcile`, `GET /statistics` and its `GET /statistics.csv`), the session cookie
//! that `POST /login` sets after a browser user types the token. State-changing routes
//! (`POST`) accept the bearer header only, so a page on another site cannot make a signed-in
//! browser trigger anything (no cookie-borne CSRF).
//!
//! Defences ([`crate::admin_security`]): tokens are compared in constant time; a session is a
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

use crate::admin_security::{self as security, Principal, Role, Sessions, Throttle, Tokens};
use crate::config::Config;
use crate::metrics as hub_metrics;
use crate::schedule::Schedule;
use crate::store::{DeadLetter, LeaseInfo, RunRecord, Store};
use crate::sync::ProgressBoard;
use anyhow::Context as _;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::sync::watch;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Name of the status page's session cookie.
const COOKIE: &str = "hub_admin";

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
    /// The pages' Content-Security-Policy, with the hash of [`STYLE`].
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
            csp: security::content_security_policy(STYLE),
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

/// A token's secret as read from its source: at least 16 characters, or an error naming
/// `what` (never the value).
fn secret(
    src: &crate::config::SecretSource,
    config: &Config,
    what: &str,
) -> anyhow::Result<String> {
    let t = src
        .resolve(&config.dir())
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    anyhow::ensure!(
        t.trim().len() >= 16,
        "{what}: must be at least 16 characters"
    );
    Ok(t.trim().to_string())
}

/// The tokens of a deployment: each `[[admin.tokens]]` with its name and role, and
/// `[admin] token` (or, with neither, the file of [`token`]) as an operator named `admin`.
/// Errors name the token (`admin.tokens[1] (li.na)`), never its value; two entries with the
/// same secret are refused, as the holder could not be told apart.
pub fn tokens(config: &Config) -> anyhow::Result<Tokens> {
    let mut list = Vec::new();
    if config.admin.token.is_some() || config.admin.tokens.is_empty() {
        list.push(("admin".to_string(), Role::Operator, token(config)?));
    }
    for (i, t) in config.admin.tokens.iter().enumerate() {
        let what = format!("admin.tokens[{i}] ({})", t.name.get_ref());
        let s = secret(&t.token, config, &what)?;
        if let Some((other, _, _)) = list.iter().find(|(_, _, o)| *o == s) {
            anyhow::bail!("{what}: the same secret as token {other}; each token needs its own");
        }
        list.push((t.name.get_ref().clone(), *t.role.get_ref(), s));
    }
    Ok(Tokens::new(list))
}

/// The admin token of a deployment: `[admin] token`, or the file `<data_dir>/admin.token`,
/// created with 32 random bytes (hex) and mode 0600 if missing. Errors name the source.
pub fn token(config: &Config) -> anyhow::Result<String> {
    if let Some(src) = &config.admin.token {
        return secret(src, config, "admin.token");
    }
    let path = config.data_dir().join("admin.token");
    if !path.exists() {
        std::fs::create_dir_all(config.data_dir())
            .with_context(|| format!("failed to create {}", config.data_dir().display()))?;
        let t: [u8; 32] = rand::random();
        crate::keys::write_private(&path, hex::encode(t).as_bytes())
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    let t = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    Ok(t.trim().to_string())
}

/// The admin server of a running daemon.
pub struct Server {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    view: watch::Sender<Arc<View>>,
    state: AdminState,
    task: tokio::task::JoinHandle<()>,
    /// The certificate when served over HTTPS, and the task reloading it on SIGHUP.
    tls: Option<(
        Arc<crate::admin_tls::Certificate>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Server {
    /// Binds `[admin] listen`, writes `http://<addr>/` (`https://` with `[admin] tls_cert`) to
    /// `<data_dir>/admin.url`, and serves `view` until [`Server::stop`]. Errors: the
    /// certificate or key file cannot be used (named, with the reason), the address cannot be
    /// bound, or the token cannot be read.
    pub async fn start(config: &Config, view: View) -> anyhow::Result<Server> {
        let tokens = tokens(config)?;
        let certificate = match config.admin_tls_files() {
            Some((cert, key)) => Some(Arc::new(crate::admin_tls::Certificate::load(&cert, &key)?)),
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
            tracing::warn!(%addr, "the admin API listens beyond this machine over plain HTTP; set [admin] tls_cert and tls_key for HTTPS");
        }
        let (tx, rx) = watch::channel(Arc::new(view));
        let state = AdminState::with_tokens(rx, tokens);
        let (task, tls) = match certificate {
            None => {
                let (router, _) = router(state.clone());
                let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
                let task = tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!("admin API stopped: {e}");
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
                    crate::admin_tls::TlsListener::new(listener, certificate.server_config())?
                        .tap_io(|_| ());
                let task = tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!("admin API stopped: {e}");
                    }
                });
                let reload = tokio::spawn(crate::admin_tls::reload_on_sighup(certificate.clone()));
                (task, Some((certificate, reload)))
            }
        };
        tracing::info!("admin API and status page on {url}");
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
        tracing::info!(tokens = tokens.len(), "admin API: tokens reloaded");
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

/// An error response: `{"error": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// What is wrong.
    pub error: String,
}

struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(ApiError { error: self.1 })).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hub\""),
            );
        }
        r
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        tracing::error!("admin API: state store: {e:#}");
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the state store failed; see the daemon's log".into(),
        )
    }
}

fn not_found(what: String) -> Failure {
    Failure(StatusCode::NOT_FOUND, what)
}

fn bad_request(what: String) -> Failure {
    Failure(StatusCode::BAD_REQUEST, what)
}

/// The configured syncs (loaded or not), in name order.
fn configured(view: &View) -> Vec<&str> {
    let mut known: Vec<&str> = view
        .syncs
        .keys()
        .chain(view.not_loaded.keys())
        .map(String::as_str)
        .collect();
    known.sort_unstable();
    known
}

/// 404 for a sync name that is not configured, listing the ones that are.
fn unknown_sync(view: &View, name: &str) -> Failure {
    let known = configured(view);
    not_found(format!(
        "no sync {name:?}; the configured syncs are: {}",
        if known.is_empty() {
            "(none)".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// `Ok` when `sync` is absent or configured (loaded or not); else [`unknown_sync`].
fn check_sync(view: &View, sync: Option<&str>) -> Result<(), Failure> {
    match sync {
        Some(name) if !configured(view).contains(&name) => Err(unknown_sync(view, name)),
        _ => Ok(()),
    }
}

/// For the lists of what the store keeps (runs, dead letters, conflicts): `Ok` when `sync` is
/// absent, configured (loaded or not), or has runs in the store's history (a sync removed from
/// the configuration, whose history can still be listed); else 404 listing the configured syncs
/// and the removed ones that have a history ([`Store::history_sync`]).
async fn check_history_sync(view: &View, sync: Option<&str>) -> Result<(), Failure> {
    match sync {
        Some(name) => view
            .store
            .history_sync(name, &configured(view), "the configuration")
            .await?
            .map_err(not_found),
        None => Ok(()),
    }
}

/// The query string's parameters (`application/x-www-form-urlencoded`, WHATWG URL), each named
/// in `known` and given at most once; otherwise 400 naming the parameter, so that a typo such
/// as `?synk=workers` is an error rather than an unfiltered answer.
fn query_params(
    uri: &axum::http::Uri,
    known: &[&str],
) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if !known.contains(&k.as_ref()) {
            return Err(bad_request(format!(
                "unknown query parameter {k:?}; this route takes {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(bad_request(format!("query parameter {k:?} is given twice")));
        }
    }
    Ok(out)
}

/// `true`/`false` of query parameter `name`, or 400 naming it.
fn query_bool(q: &BTreeMap<String, String>, name: &str) -> Result<Option<bool>, Failure> {
    q.get(name)
        .map(|v| match v.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad_request(format!(
                "query parameter {name} must be true or false, not {v:?}"
            ))),
        })
        .transpose()
}

/// The numeric id of a path such as `/api/runs/{id}`, or 400 saying it must be a number.
fn path_id(what: &str, raw: &str) -> Result<i64, Failure> {
    raw.parse().map_err(|_| {
        bad_request(format!(
            "{what} id must be a whole number such as 12, not {raw:?}"
        ))
    })
}

/// Any path no route serves: 404 with a JSON body pointing at the route list.
async fn no_route(uri: axum::http::Uri) -> Failure {
    not_found(format!(
        "no route {}; the routes are listed in /openapi.json",
        uri.path()
    ))
}

/// A route that exists but not with this method: 405 with a JSON body.
async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Failure {
    Failure(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take {method}; see /openapi.json for its methods",
            uri.path()
        ),
    )
}

fn cookie_of<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The address a request came from, as the sign-in throttle counts it
/// ([`security::client_key`]). A server without connect info (none in this crate) counts
/// every client as one, 0.0.0.0: throttled together rather than not at all.
#[derive(Debug, Clone, Copy)]
struct Client(std::net::IpAddr);

impl Client {
    fn of(req: &Request) -> Client {
        Client(security::client_key(
            req.extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip()),
        ))
    }
}

/// 429 for an address with too many failed sign-ins: `Retry-After` in seconds, and the
/// reason in Chinese and English, as a sign-in page when `html` (a browser), else as JSON.
fn throttled(client: Client, wait: std::time::Duration, html: bool) -> Response {
    let secs = security::retry_after_secs(wait);
    // Every refused attempt is logged: the log shows an address kept out, and for how long.
    tracing::warn!(
        client = %client.0,
        retry_after_s = secs,
        "admin API: sign-in refused, too many wrong tokens from this address within a minute"
    );
    let message = format!(
        "登录失败次数过多，请 {secs} 秒后再试 too many failed sign-ins from {}: try again in {secs} s (at most {} a minute per address)",
        client.0,
        security::MAX_FAILURES
    );
    let mut r = if html {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Html(page("登录 Sign in", &login_body(Some(&message)), false)),
        )
            .into_response()
    } else {
        Failure(StatusCode::TOO_MANY_REQUESTS, message).into_response()
    };
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// Whether a request is a page a browser opens with its session cookie.
fn is_page(method: &axum::http::Method, path: &str) -> bool {
    let get = method == axum::http::Method::GET;
    (get
        && (path == "/"
            || path.starts_with("/runs/")
            || path.starts_with("/conflicts/")
            || (path.starts_with("/syncs/") && path.ends_with("/reconcile"))
            || path == "/statistics"
            || path == "/statistics.csv"))
        // The conflict page's form (checked against the session's form token by the handler).
        || (method == axum::http::Method::POST && path.starts_with("/conflicts/"))
}

/// 403 for a signed-in token whose role does not allow the route: names the role needed and
/// the token's name and role.
fn forbidden(who: &Principal, needs: Role, html: bool) -> Response {
    let message = format!(
        "权限不足 this needs a token of role {}; token {:?} has role {}",
        needs.as_str(),
        who.name,
        who.role.as_str()
    );
    tracing::warn!(token = %who.name, role = who.role.as_str(), needs = needs.as_str(), "admin API: refused for the token's role");
    if html {
        return page_error(StatusCode::FORBIDDEN, "权限不足 Forbidden", &message);
    }
    Failure(StatusCode::FORBIDDEN, message).into_response()
}

/// Lets a request through with a configured token (bearer header) or, for a page, a live
/// session cookie whose token is still configured; counts a wrong bearer token as a failed
/// sign-in of its address, and refuses (429) any token from an address with too many of them.
/// The token's [`Principal`] goes with the request; a state-changing request (`POST`) needs
/// [`Role::Operator`] (403 otherwise). `POST /login` is throttled here and checked by
/// [`login`].
async fn authenticate(State(s): State<AdminState>, mut req: Request, next: Next) -> Response {
    let client = Client::of(&req);
    req.extensions_mut().insert(client);
    let path = req.uri().path().to_string();
    let post = req.method() == axum::http::Method::POST;
    if path == "/healthz" || path == "/logout" || (path == "/login" && !post) {
        return next.run(req).await;
    }
    let page = is_page(req.method(), &path);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
        });
    let signing_in = path == "/login";
    if (signing_in || bearer.is_some())
        && let Err(wait) = s.throttle.check(client.0)
    {
        return throttled(client, wait, signing_in || page);
    }
    if signing_in {
        return next.run(req).await;
    }
    let tokens = s.tokens();
    let mut who = None;
    if let Some(t) = bearer {
        match tokens.find(t.as_bytes()) {
            Some((p, _)) => who = Some(p),
            None => {
                s.throttle.failed(client.0);
                tracing::warn!(client = %client.0, path, "admin API: a request with a wrong bearer token");
            }
        }
    } else if page {
        who = cookie_of(req.headers(), COOKIE)
            .and_then(|c| s.sessions.token_of(c))
            .and_then(|d| tokens.by_digest(&d));
    }
    let Some(who) = who else {
        if page && bearer.is_none() {
            return Redirect::to("/login").into_response();
        }
        return Failure(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token (Authorization: Bearer <token>)".into(),
        )
        .into_response();
    };
    if post && who.role != Role::Operator {
        return forbidden(&who, Role::Operator, page && bearer.is_none());
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

/// Adds the security headers ([`security::add_headers`]) to every answer.
async fn security_headers(State(s): State<AdminState>, req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    security::add_headers(r.headers_mut(), &s.csp, s.tls);
    r
}

#[derive(OpenApi)]
#[openapi(
    info(title = "hub admin API", description = "Operate a running hub daemon: health, metrics, syncs, runs, dead letters."),
    modifiers(&BearerAuth, &Throttled),
    security(("bearer" = [])),
    tags((name = "health"), (name = "syncs"), (name = "runs"), (name = "dead letters"), (name = "conflicts"), (name = "leases"), (name = "statistics"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every operation that can answer 401 can also answer 429, once its caller's address has
/// sent too many wrong tokens.
struct Throttled;

impl utoipa::Modify for Throttled {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
        };
        let response = ResponseBuilder::new()
            .description("too many wrong tokens from this address within a minute; retry after Retry-After seconds")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("seconds until a token is checked again"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiError")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                if op.responses.responses.contains_key("401") {
                    op.responses
                        .responses
                        .insert("429".into(), response.clone().into());
                }
            }
        }
    }
}

/// The router and its OpenAPI document.
pub fn router(state: AdminState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(list_syncs))
        .routes(routes!(get_sync))
        .routes(routes!(trigger))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(list_run_dead_letters))
        .routes(routes!(list_dead_letters))
        .routes(routes!(get_dead_letter))
        .routes(routes!(replay_dead_letter))
        .routes(routes!(replay_dead_letters))
        .routes(routes!(list_conflicts))
        .routes(routes!(get_conflict))
        .routes(routes!(resolve_conflict))
        .routes(routes!(list_leases))
        .routes(routes!(reconcile))
        .routes(routes!(plan))
        .routes(routes!(resync))
        .routes(routes!(statistics))
        .routes(routes!(statistics_csv))
        .split_for_parts();
    let doc = api.clone();
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || std::future::ready(Json(doc.clone()))),
        )
        .route("/", axum::routing::get(status_page))
        .route("/runs/{id}", axum::routing::get(run_page))
        .route(
            "/conflicts/{id}",
            axum::routing::get(conflict_page).post(conflict_form),
        )
        .route(
            "/syncs/{name}/reconcile",
            axum::routing::get(reconcile_page),
        )
        .route("/statistics", axum::routing::get(statistics_page))
        .route("/statistics.csv", axum::routing::get(statistics_csv_page))
        .route("/login", axum::routing::get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state);
    (router, api)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "the daemon is alive", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// True when the state store answers, every configured sync loaded, no plugin failed its
    /// last live check and the last reload was not refused (`status` `ready`).
    pub ready: bool,
    /// `ready`; `degraded` (the store answers and some syncs run, but `problems` lists what does
    /// not: a sync or plugin that could not load, a plugin that failed its live check, a
    /// refused reload); or `not_ready` (the store does not answer, or no sync can run).
    pub status: String,
    /// Syncs that can run.
    pub syncs: usize,
    /// What keeps the deployment from running as configured, one line each.
    pub problems: Vec<String>,
    /// The daemon's last live check of each loaded plugin, in name order.
    pub plugins: Vec<crate::check::LiveCheck>,
}

/// Readiness: 200 when the state store answers and the whole configuration runs; 503 with
/// `status` `degraded` or `not_ready` and each problem otherwise.
///
/// Cheap enough to poll: it asks the state store one `SELECT 1` and calls no system. Plugins
/// are judged by the daemon's last live check of them ([`crate::check::LiveChecks`]: each
/// plugin at start and at every reload, a failed one again every
/// [`crate::check::RECHECK_FAILED`] until it passes); a check still pending is not a problem.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready", body = Readiness),
    (status = 503, description = "degraded or not ready, with each problem", body = Readiness),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
async fn readyz(State(s): State<AdminState>) -> Response {
    let view = s.view();
    let store_ok = view.store.ping().await.is_ok();
    let mut problems = view.all_problems();
    if !store_ok {
        problems.push("the state store does not answer".into());
    }
    let status = if !store_ok || view.syncs.is_empty() {
        "not_ready"
    } else if problems.is_empty() {
        "ready"
    } else {
        "degraded"
    };
    let ready = status == "ready";
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Readiness {
            ready,
            status: status.into(),
            syncs: view.syncs.len(),
            problems,
            plugins: view.checks.all(),
        }),
    )
        .into_response()
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "metrics", body = String, content_type = "text/plain"),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        hub_metrics::render(),
    )
        .into_response()
}

/// A sync, its schedule and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncInfo {
    /// Name (a key of `[syncs]`).
    pub name: String,
    /// Shared schema of its records.
    pub schema: String,
    /// `a_to_b`, `b_to_a` or `both`.
    pub direction: String,
    /// Endpoint `a`.
    pub a: Endpoint,
    /// Endpoint `b`.
    pub b: Endpoint,
    /// Crontab expression.
    pub schedule: String,
    /// IANA time zone of the schedule.
    pub timezone: String,
    /// Scheduled at all (`enabled` in the config).
    pub enabled: bool,
    /// Paused (`hub pause` or the API).
    pub paused: bool,
    /// A manual run waits to start.
    pub run_requested: bool,
    /// The next fire times (RFC 3339 in UTC with milliseconds, `Z`, as every time in the API);
    /// empty when disabled.
    pub next_runs: Vec<String>,
    /// The latest run, if any.
    pub last_run: Option<RunRecord>,
    /// The run in progress, if any.
    pub running: Option<crate::sync::RunProgress>,
    /// Open dead letters.
    pub dead_letters: i64,
    /// Open conflicts.
    pub conflicts: i64,
}

async fn sync_info(name: &str, view: &View) -> Result<SyncInfo, Failure> {
    let v = view
        .syncs
        .get(name)
        .ok_or_else(|| unknown_sync(view, name))?;
    let state = view.store.schedule_state(name).await?;
    let next_runs = if v.enabled {
        v.schedule
            .upcoming(chrono::Utc::now(), 3)
            .iter()
            // As the store writes every other time of the API: UTC, milliseconds, `Z`.
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(SyncInfo {
        name: name.to_string(),
        schema: v.schema.clone(),
        direction: v.direction.clone(),
        a: v.a.clone(),
        b: v.b.clone(),
        schedule: v.schedule.expression().to_string(),
        timezone: v.schedule.timezone().name().to_string(),
        enabled: v.enabled,
        paused: state.paused,
        run_requested: state.trigger_requested,
        next_runs,
        last_run: view.store.runs(Some(name), 1).await?.into_iter().next(),
        running: view.progress.get(name),
        dead_letters: view.store.open_dead_letter_count(Some(name)).await?,
        conflicts: view.store.open_conflict_count(Some(name)).await?,
    })
}

/// Every sync with its schedule, last run and run in progress.
#[utoipa::path(get, path = "/api/syncs", tag = "syncs", responses(
    (status = 200, description = "syncs by name", body = Vec<SyncInfo>),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
async fn list_syncs(State(s): State<AdminState>) -> Result<Json<Vec<SyncInfo>>, Failure> {
    let view = s.view();
    let mut out = Vec::new();
    for name in view.syncs.keys() {
        out.push(sync_info(name, &view).await?);
    }
    Ok(Json(out))
}

/// One sync.
#[utoipa::path(get, path = "/api/syncs/{name}", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "the sync", body = SyncInfo),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError)))]
async fn get_sync(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<SyncInfo>, Failure> {
    let view = s.view();
    Ok(Json(sync_info(&name, &view).await?))
}

/// The reconciliation report of sync `name` ([`crate::sync::compare`]), made now on the runs'
/// runtime: 404 for a sync not configured (naming the configured ones), 409 for one that did
/// not load, 503 when a system of the sync could not be read (the message masked as logs are).
async fn reconciliation(
    view: &View,
    name: &str,
) -> Result<crate::sync::compare::Reconciliation, Failure> {
    check_sync(view, Some(name))?;
    let reconciler = view.reconciler.as_ref();
    let Some((engine, spec)) =
        reconciler.and_then(|r| Some((r.engine.clone(), r.specs.get(name)?.clone())))
    else {
        let why = match view.not_loaded.get(name) {
            Some(why) => format!("sync {name} did not load, so it cannot be reconciled: {why}"),
            None => format!("this server makes no reconciliation report of sync {name}"),
        };
        return Err(Failure(StatusCode::CONFLICT, why));
    };
    let made = crate::daemon::runs_runtime()
        .spawn(async move { engine.reconciliation(&spec).await })
        .await;
    match made {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the systems of sync {name} could not be read whole: {}",
                crate::logging::mask_personal(&format!("{e:#}"))
            ),
        )),
        Err(e) => Err(anyhow::anyhow!("the reconciliation of {name} panicked: {e}").into()),
    }
}

/// The reconciliation report of a sync: both systems read whole (within the sync's filter) and
/// compared record by record under each system's coding; counts first, then the records that
/// differ (masked keys, each system's own id, differing field names, never values). Nothing is
/// written to the systems or the state store. Takes as long as reading both systems.
#[utoipa::path(get, path = "/api/syncs/{name}/reconcile", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "the report", body = crate::sync::compare::Reconciliation),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load (the error says why)", body = ApiError),
    (status = 503, description = "a system of the sync could not be read", body = ApiError)))]
async fn reconcile(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<crate::sync::compare::Reconciliation>, Failure> {
    let view = s.view();
    Ok(Json(reconciliation(&view, &name).await?))
}

/// The engine and the resolved spec of sync `name`, for a plan or a resync: 404 for a sync not
/// configured (naming the configured ones), 409 for one that did not load (`what` it cannot
/// do, and why).
fn loaded_sync(
    view: &View,
    name: &str,
    what: &str,
) -> Result<(crate::sync::Engine, crate::sync::SyncSpec), Failure> {
    check_sync(view, Some(name))?;
    let reconciler = view.reconciler.as_ref();
    reconciler
        .and_then(|r| Some((r.engine.clone(), r.specs.get(name)?.clone())))
        .ok_or_else(|| {
            let why = match view.not_loaded.get(name) {
                Some(why) => format!("sync {name} did not load, so it cannot {what}: {why}"),
                None => format!("this server cannot {what} sync {name}"),
            };
            Failure(StatusCode::CONFLICT, why)
        })
}

/// The plan of a run of a sync now (a dry run): both systems read from their cursors and
/// reconciled as a run would, then per direction the records to create, update, leave
/// unchanged, the echoes, dead letters, conflicts and parks, and per record (masked key) the
/// fields that would change with the rule that decided each (values masked). Nothing is written
/// to any system or to the state store (no run, cursor move, audit entry or dead letter), and
/// no lease is taken.
#[utoipa::path(post, path = "/api/syncs/{name}/plan", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "the plan", body = crate::sync::plan::Plan),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load (the error says why)", body = ApiError),
    (status = 503, description = "a system of the sync could not be read", body = ApiError)))]
async fn plan(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<crate::sync::plan::Plan>, Failure> {
    let view = s.view();
    let (engine, spec) = loaded_sync(&view, &name, "be planned")?;
    let made = crate::daemon::runs_runtime()
        .spawn(async move { engine.plan(&spec).await })
        .await;
    match made {
        Ok(Ok(p)) => Ok(Json(p)),
        Ok(Err(e)) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "no plan of sync {name}: {}",
                crate::logging::mask_personal(&format!("{e:#}"))
            ),
        )),
        Err(e) => Err(anyhow::anyhow!("the plan of {name} panicked: {e}").into()),
    }
}

/// `?side=&since=` of `POST /api/syncs/{name}/resync` (read from the query string by
/// [`query_params`], so that an unknown parameter is an error).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResyncQuery {
    /// `a` or `b`: the side to read again (default: every side the sync reads from).
    #[param(value_type = Option<crate::store::Side>)]
    pub side: Option<String>,
    /// Only look at records changed at or after this time: RFC 3339, or a local time in the
    /// deployment's zone (`2026-12-01 08:00`; a date alone is its midnight).
    pub since: Option<String>,
}

/// Resync: read one side of a sync again from the beginning (or only the records changed since
/// a time) and sync what differs, matching records by natural key (none is created twice),
/// without moving the other side's cursor. Started now on the runs' runtime as a run with
/// trigger `resync SIDE`, holding the sync's lease; its progress and result show as a run's
/// (status page, `/api/runs`).
#[utoipa::path(post, path = "/api/syncs/{name}/resync", tag = "syncs", params(("name" = String, Path, description = "sync name"), ResyncQuery), responses(
    (status = 202, description = "the resync started", body = Done),
    (status = 400, description = "an unknown parameter, a side other than a or b, a time that is not one", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load, or runs in this daemon now", body = ApiError)))]
async fn resync(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
) -> Result<(StatusCode, Json<Done>), Failure> {
    let view = s.view();
    let q = query_params(&uri, &["side", "since"])?;
    let (engine, spec) = loaded_sync(&view, &name, "be resynced")?;
    let r = crate::sync::resync::Resync::of(
        &spec,
        q.get("side").map(String::as_str),
        q.get("since").map(String::as_str),
        view.zone,
    )
    .map_err(bad_request)?;
    if engine.running_here(&name) {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("sync {name} is running now; resync it after this run ends"),
        ));
    }
    let trigger = r.trigger();
    tracing::info!(sync = %name, %trigger, "admin API: resync started");
    let sync = name.clone();
    crate::daemon::runs_runtime().spawn(async move {
        match engine.resync(&spec, r).await {
            Ok(o) => tracing::info!(sync = %sync, run = o.run_id, status = o.status.as_str(), "resync finished"),
            Err(e) => tracing::warn!(sync = %sync, "resync not done: {e:#}"),
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(Done {
            message: format!(
                "{trigger} of {name} started; its progress shows on the status page and in /api/runs"
            ),
            sync: name,
        }),
    ))
}

/// The statistics of the sections `?section=` names (all when absent; an unknown name is 400
/// naming the known ones) and the CSV encoding `?encoding=` names (`utf-8` or `gb18030`, for
/// the CSV routes only; else 400), made now on the runs' runtime ([`crate::statistics`]): 409
/// when the server has no engine, 503 when a source could not be read (a referrals connector,
/// or the state store; the message masked as logs are).
async fn statistics_of(
    view: &View,
    uri: &axum::http::Uri,
    csv: bool,
) -> Result<
    (
        crate::statistics::Statistics,
        crate::statistics::CsvEncoding,
    ),
    Failure,
> {
    use crate::statistics::{CsvEncoding, Section, Statistician};
    let known: &[&str] = if csv {
        &["section", "encoding"]
    } else {
        &["section"]
    };
    let q = query_params(uri, known)?;
    let sections = match q.get("section") {
        Some(name) => vec![Section::parse(name).map_err(bad_request)?],
        None => Vec::new(),
    };
    let encoding = match q.get("encoding") {
        Some(name) => CsvEncoding::parse(name).map_err(bad_request)?,
        None => CsvEncoding::Utf8,
    };
    let Some(r) = view.reconciler.as_ref() else {
        return Err(Failure(
            StatusCode::CONFLICT,
            "this server makes no statistics (it has no sync engine)".into(),
        ));
    };
    let st = Statistician {
        store: r.engine.store().clone(),
        keys: r.engine.keys().clone(),
        specs: r.specs.clone(),
        plugins: Vec::new(),
        zone: view.zone,
    };
    let made = crate::daemon::runs_runtime()
        .spawn(async move { st.statistics(&sections).await })
        .await;
    match made {
        Ok(Ok(out)) => Ok((out, encoding)),
        Ok(Err(e)) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the statistics could not be made: {}",
                crate::logging::mask_personal(&format!("{e:#}"))
            ),
        )),
        Err(e) => Err(anyhow::anyhow!("the statistics panicked: {e}").into()),
    }
}

/// Statistics (数据统计): Zhenfeng workers in Huiyang, clinicians seconded, job postings and
/// referrals, counted from the settled records in the state store (referrals read now from
/// the connectors that carry them); no personal data. `?section=` one of `workers`,
/// `secondments`, `job-postings`, `referrals`.
#[utoipa::path(get, path = "/api/statistics", tag = "statistics", params(
    ("section" = Option<crate::statistics::Section>, Query, description = "only this section: workers, secondments, job-postings or referrals (anything else is 400)")), responses(
    (status = 200, description = "the statistics", body = crate::statistics::Statistics),
    (status = 400, description = "an unknown section or query parameter (named)", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 409, description = "the server has no sync engine", body = ApiError),
    (status = 503, description = "a source could not be read (a referrals connector, the state store)", body = ApiError)))]
async fn statistics(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<crate::statistics::Statistics>, Failure> {
    let view = s.view();
    Ok(Json(statistics_of(&view, &uri, false).await?.0))
}

/// The statistics as a CSV file for Excel and WPS: one figure per row (部分 section, 维度
/// dimension, 项目 item, 指标 measure, 数量 count), UTF-8 with a byte order mark, or GB 18030
/// with `?encoding=gb18030`.
#[utoipa::path(get, path = "/api/statistics/csv", tag = "statistics", params(
    ("section" = Option<crate::statistics::Section>, Query, description = "only this section: workers, secondments, job-postings or referrals (anything else is 400)"),
    ("encoding" = Option<String>, Query, description = "utf-8 (default, with a byte order mark) or gb18030")), responses(
    (status = 200, description = "the statistics as CSV", body = String, content_type = "text/csv"),
    (status = 400, description = "an unknown section, encoding or query parameter (named)", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 409, description = "the server has no sync engine", body = ApiError),
    (status = 503, description = "a source could not be read (a referrals connector, the state store)", body = ApiError)))]
async fn statistics_csv(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let view = s.view();
    let (st, encoding) = statistics_of(&view, &uri, true).await?;
    csv_file(&st, encoding)
}

/// `st` as a CSV attachment in `encoding`.
fn csv_file(
    st: &crate::statistics::Statistics,
    encoding: crate::statistics::CsvEncoding,
) -> Result<Response, Failure> {
    let body = st.csv(encoding)?;
    let name = format!(
        "statistics-{}.csv",
        st.generated_at.get(..10).unwrap_or("now")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                format!("text/csv; charset={}", encoding.charset()),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The statistics page `/statistics`: each figure as a chart (server-rendered SVG) with its
/// table, and the CSV export links ([`crate::statistics::page`]). An error page otherwise.
async fn statistics_page(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let view = s.view();
    let st = match statistics_of(&view, &uri, false).await {
        Ok((st, _)) => st,
        Err(Failure(code, what)) => {
            return Ok(page_error(
                code,
                "无法统计 Cannot make the statistics",
                &what,
            ));
        }
    };
    let made = crate::local_time::for_people(&st.generated_at, view.zone);
    Ok(Html(page(
        "hub · 数据统计 Statistics",
        &crate::statistics::page::body(&st, &made),
        false,
    ))
    .into_response())
}

/// `/statistics.csv`: the page's CSV download (the session cookie is enough), as
/// `GET /api/statistics/csv`.
async fn statistics_csv_page(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let view = s.view();
    match statistics_of(&view, &uri, true).await {
        Ok((st, encoding)) => csv_file(&st, encoding),
        Err(Failure(code, what)) => Ok(page_error(
            code,
            "无法统计 Cannot make the statistics",
            &what,
        )),
    }
}

/// What a control request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// The sync.
    pub sync: String,
    /// What happens now, for people.
    pub message: String,
}

fn known(s: &AdminState, name: &str) -> Result<(), Failure> {
    check_sync(&s.view(), Some(name))
}

/// Run a sync now (within a second; after a run in progress).
#[utoipa::path(post, path = "/api/syncs/{name}/trigger", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 202, description = "the run is requested", body = Done),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError),
    (status = 409, description = "the sync did not load (the error says why)", body = ApiError)))]
async fn trigger(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Done>), Failure> {
    let view = s.view();
    known(&s, &name)?;
    if let Some(why) = view.not_loaded.get(&name) {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("sync {name} did not load, so it cannot run: {why}"),
        ));
    }
    view.store.request_trigger(&name).await?;
    tracing::info!(sync = %name, "admin API: run requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(Done {
            message: format!(
                "run of {name} requested; it starts within a second (after a run in progress)"
            ),
            sync: name,
        }),
    ))
}

/// Pause a sync's schedule (fire times are skipped; manual triggers still run).
#[utoipa::path(post, path = "/api/syncs/{name}/pause", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "paused", body = Done),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError)))]
async fn pause(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Done>, Failure> {
    let view = s.view();
    known(&s, &name)?;
    view.store.set_paused(&name, true).await?;
    tracing::info!(sync = %name, "admin API: paused");
    Ok(Json(Done {
        message: format!("{name} paused: scheduled runs are skipped until resumed"),
        sync: name,
    }))
}

/// Resume a paused schedule (fire times skipped while paused are not caught up).
#[utoipa::path(post, path = "/api/syncs/{name}/resume", tag = "syncs", params(("name" = String, Path, description = "sync name")), responses(
    (status = 200, description = "resumed", body = Done),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync", body = ApiError)))]
async fn resume(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Done>, Failure> {
    let view = s.view();
    known(&s, &name)?;
    view.store.set_paused(&name, false).await?;
    tracing::info!(sync = %name, "admin API: resumed");
    Ok(Json(Done {
        message: format!("{name} resumed"),
        sync: name,
    }))
}

/// `?sync=&limit=` of the run history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only this sync (configured, or removed from the configuration with runs in the history).
    pub sync: Option<String>,
    /// How many runs, newest first (1–1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Run history, newest first, with per-run counts and errors.
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(RunsQuery), responses(
    (status = 200, description = "runs, newest first", body = Vec<RunRecord>),
    (status = 400, description = "bad parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync in the configuration or the run history (the error lists the configured ones and the removed ones with a history)", body = ApiError)))]
async fn list_runs(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<RunRecord>>, Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync", "limit"])?;
    let limit = match q.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| {
                bad_request(format!(
                    "query parameter limit must be a whole number from 1 to 1000, not {v:?}"
                ))
            })?,
    };
    let sync = q.get("sync").map(String::as_str);
    check_history_sync(&view, sync).await?;
    Ok(Json(view.store.runs(sync, limit).await?))
}

/// The run leases of every sync, from the shared store: which daemon (`host:pid`) holds or
/// last held each, its fencing token, its expiry, and whether it still binds. The same answer
/// from every daemon on the store.
#[utoipa::path(get, path = "/api/leases", tag = "leases", responses(
    (status = 200, description = "leases by sync name", body = Vec<LeaseInfo>),
    (status = 401, description = "missing or wrong token", body = ApiError)))]
async fn list_leases(State(s): State<AdminState>) -> Result<Json<Vec<LeaseInfo>>, Failure> {
    Ok(Json(s.view().store.leases().await?))
}

/// One run.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", params(("id" = i64, Path, description = "run id")), responses(
    (status = 200, description = "the run", body = RunRecord),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such run", body = ApiError)))]
async fn get_run(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<RunRecord>, Failure> {
    let id = path_id("run", &id)?;
    let view = s.view();
    view.store
        .run(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(format!("no run {id}")))
}

/// The dead letters a run recorded first, open or replayed, oldest first (masked keys).
#[utoipa::path(get, path = "/api/runs/{id}/dead-letters", tag = "runs", params(("id" = i64, Path, description = "run id")), responses(
    (status = 200, description = "the run's dead letters", body = Vec<DeadLetter>),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such run", body = ApiError)))]
async fn list_run_dead_letters(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeadLetter>>, Failure> {
    let id = path_id("run", &id)?;
    let view = s.view();
    if view.store.run(id).await?.is_none() {
        return Err(not_found(format!("no run {id}")));
    }
    Ok(Json(view.store.run_dead_letters(id).await?))
}

/// `?sync=` of the dead letters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLettersQuery {
    /// Only this sync. Listing takes a sync removed from the configuration whose runs are in
    /// the history; a replay needs a configured sync (one that can run).
    pub sync: Option<String>,
}

/// Open dead letters, oldest first: masked key, side, stage, and what is wrong by JSON pointer.
#[utoipa::path(get, path = "/api/dead-letters", tag = "dead letters", params(DeadLettersQuery), responses(
    (status = 200, description = "open dead letters", body = Vec<DeadLetter>),
    (status = 400, description = "an unknown or bad query parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync in the configuration or the run history (the error lists the configured ones and the removed ones with a history)", body = ApiError)))]
async fn list_dead_letters(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<DeadLetter>>, Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync"])?;
    let sync = q.get("sync").map(String::as_str);
    check_history_sync(&view, sync).await?;
    Ok(Json(view.store.dead_letters(sync).await?))
}

/// One dead letter (masked; the record itself stays sealed).
#[utoipa::path(get, path = "/api/dead-letters/{id}", tag = "dead letters", params(("id" = i64, Path, description = "dead letter id")), responses(
    (status = 200, description = "the dead letter", body = DeadLetter),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such dead letter", body = ApiError)))]
async fn get_dead_letter(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetter>, Failure> {
    let id = path_id("dead letter", &id)?;
    let view = s.view();
    view.store
        .dead_letter(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(format!("no dead letter {id}")))
}

/// How many dead letters a replay request reached.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayRequested {
    /// Dead letters that will be replayed by their sync's next run.
    pub requested: u64,
    /// What happens now, for people.
    pub message: String,
}

const REPLAY_MESSAGE: &str = "replayed by the sync's next run (trigger it to run now)";

/// Replay one open dead letter on its sync's next run, after a fix: a record a system refused
/// is written again; a record that was invalid is validated again and, valid now, synced.
#[utoipa::path(post, path = "/api/dead-letters/{id}/replay", tag = "dead letters", params(("id" = i64, Path, description = "dead letter id")), responses(
    (status = 202, description = "the replay is requested", body = ReplayRequested),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such dead letter", body = ApiError),
    (status = 409, description = "the dead letter is not open (already replayed)", body = ApiError)))]
async fn replay_dead_letter(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ReplayRequested>), Failure> {
    let id = path_id("dead letter", &id)?;
    let view = s.view();
    let d = view
        .store
        .dead_letter(id)
        .await?
        .ok_or_else(|| not_found(format!("no dead letter {id}")))?;
    if d.status != "open" {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("dead letter {id} is {}, not open", d.status),
        ));
    }
    let requested = view.store.request_replay(Some(id), None).await?;
    tracing::info!(dead_letter = id, sync = %d.sync, "admin API: replay requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayRequested {
            requested,
            message: REPLAY_MESSAGE.into(),
        }),
    ))
}

/// Replay every open dead letter (of `?sync=` if given) on the next runs.
#[utoipa::path(post, path = "/api/dead-letters/replay", tag = "dead letters", params(DeadLettersQuery), responses(
    (status = 202, description = "the replays are requested", body = ReplayRequested),
    (status = 400, description = "an unknown or bad query parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync (the error lists the configured ones)", body = ApiError)))]
async fn replay_dead_letters(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<(StatusCode, Json<ReplayRequested>), Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync"])?;
    let sync = q.get("sync").map(String::as_str);
    check_sync(&view, sync)?;
    let requested = view.store.request_replay(None, sync).await?;
    tracing::info!(requested, sync = ?sync, "admin API: replay of dead letters requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayRequested {
            requested,
            message: REPLAY_MESSAGE.into(),
        }),
    ))
}

/// `?sync=&all=` of the conflicts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictsQuery {
    /// Only this sync (configured, or removed from the configuration with runs in the history).
    pub sync: Option<String>,
    /// Resolved conflicts too (default: open ones only).
    pub all: Option<bool>,
}

/// Conflicts, newest first: keys whose write a system refused because its record changed since
/// it was read. Each run tries again under the merge policy until a person takes a side.
#[utoipa::path(get, path = "/api/conflicts", tag = "conflicts", params(ConflictsQuery), responses(
    (status = 200, description = "conflicts", body = Vec<crate::store::Conflict>),
    (status = 400, description = "bad parameter", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such sync in the configuration or the run history (the error lists the configured ones and the removed ones with a history)", body = ApiError)))]
async fn list_conflicts(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<crate::store::Conflict>>, Failure> {
    let view = s.view();
    let q = query_params(&uri, &["sync", "all"])?;
    let all = query_bool(&q, "all")?.unwrap_or(false);
    let sync = q.get("sync").map(String::as_str);
    check_history_sync(&view, sync).await?;
    Ok(Json(view.store.conflicts(sync, all).await?))
}

/// One conflict (masked key).
#[utoipa::path(get, path = "/api/conflicts/{id}", tag = "conflicts", params(("id" = i64, Path, description = "conflict id")), responses(
    (status = 200, description = "the conflict", body = crate::store::Conflict),
    (status = 400, description = "the id is not a number", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 404, description = "no such conflict", body = ApiError)))]
async fn get_conflict(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<crate::store::Conflict>, Failure> {
    let id = path_id("conflict", &id)?;
    let view = s.view();
    view.store
        .conflict(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(format!("no conflict {id}")))
}

/// A person's decision on a conflict: JSON `{"take": "a" | "b", "replace": false}` (a side's
/// record whole) or `{"fields": {"/phone": "b", "/name": "a"}, "reason": "...", "replace":
/// false}` (field by field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// The side whose record the next run takes whole and writes to the other side.
    pub take: Option<crate::store::Side>,
    /// Field by field instead: each field's JSON pointer (RFC 6901) with the side whose value
    /// the next run takes. Only fields whose values differ may be named, and every field that
    /// parked the record must be; the others follow the sync's rules.
    #[schema(value_type = Option<BTreeMap<String, crate::store::Side>>)]
    pub fields: Option<BTreeMap<String, crate::store::Side>>,
    /// Why (kept with the decision and in the audit log, masked as logs are; at most 500
    /// characters).
    pub reason: Option<String>,
    /// Replace a decision taken earlier that the next run has not yet applied (default
    /// false: a second decision is refused with 409, so two people cannot overrule each other
    /// unknowingly).
    #[serde(default)]
    pub replace: bool,
}

/// The fields of a resolution body, for error messages.
const RESOLUTION_SHAPE: &str = "{\"take\": \"a\"} or {\"take\": \"b\"}, or {\"fields\": {\"/pointer\": \"a\" | \"b\", ...}, \"reason\": \"...\"}, with \"replace\": true to change an earlier decision";

/// The longest reason a decision keeps, in characters.
const MOST_REASON: usize = 500;

/// Reads a [`Resolution`] from a request body (RFC 8259 JSON, `Content-Type:
/// application/json`): 415 for another content type, 400 for text that is not JSON (with its
/// line and column), 422 naming the field that is missing, unknown or of the wrong value.
fn resolution_of(headers: &HeaderMap, body: &[u8]) -> Result<Resolution, Failure> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(Failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be JSON sent with Content-Type: application/json, such as {RESOLUTION_SHAPE}"
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        bad_request(format!(
            "the body is not JSON (line {}, column {}); send {RESOLUTION_SHAPE}",
            e.line(),
            e.column()
        ))
    })?;
    let unprocessable = |m: String| Failure(StatusCode::UNPROCESSABLE_ENTITY, m);
    let Some(fields) = value.as_object() else {
        return Err(unprocessable(format!(
            "the body must be a JSON object: {RESOLUTION_SHAPE}"
        )));
    };
    if let Some(k) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "take" | "replace" | "fields" | "reason"))
    {
        return Err(unprocessable(format!(
            "unknown field {k:?} in the body; it takes {RESOLUTION_SHAPE}"
        )));
    }
    let side_of = |v: &serde_json::Value| match v.as_str() {
        Some("a") => Some(crate::store::Side::A),
        Some("b") => Some(crate::store::Side::B),
        _ => None,
    };
    let take = match fields.get("take") {
        None => None,
        Some(t) => Some(side_of(t).ok_or_else(|| {
            unprocessable(format!(
                "\"take\" must be \"a\" or \"b\" (the side whose record is kept), not {t}"
            ))
        })?),
    };
    let chosen = match fields.get("fields") {
        None => None,
        Some(serde_json::Value::Object(m)) if !m.is_empty() => {
            let mut out = BTreeMap::new();
            for (ptr, v) in m {
                let side = side_of(v).ok_or_else(|| {
                    unprocessable(format!(
                        "\"fields\"/{ptr:?} must be \"a\" or \"b\" (the side whose value is kept), not {v}"
                    ))
                })?;
                out.insert(ptr.clone(), side);
            }
            Some(out)
        }
        Some(v) => {
            return Err(unprocessable(format!(
                "\"fields\" must be an object of at least one JSON pointer with \"a\" or \"b\", such as {{\"/phone\": \"b\"}}, not {v}"
            )));
        }
    };
    match (&take, &chosen) {
        (None, None) => {
            return Err(unprocessable(format!(
                "the body has no \"take\" or \"fields\": say which side's record or which fields to keep, {RESOLUTION_SHAPE}"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(unprocessable(
                "the body has both \"take\" and \"fields\": a decision takes a side's record whole or chooses fields, not both".into(),
            ));
        }
        _ => {}
    }
    let reason = match fields.get("reason") {
        None => None,
        Some(serde_json::Value::String(r)) if r.chars().count() <= MOST_REASON => {
            Some(r.trim().to_string()).filter(|r| !r.is_empty())
        }
        Some(v) => {
            return Err(unprocessable(format!(
                "\"reason\" must be text of at most {MOST_REASON} characters, not {}",
                if v.is_string() {
                    "a longer text".to_string()
                } else {
                    v.to_string()
                }
            )));
        }
    };
    let replace = match fields.get("replace") {
        None => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(v) => {
            return Err(unprocessable(format!(
                "\"replace\" must be true or false, not {v}"
            )));
        }
    };
    Ok(Resolution {
        take,
        fields: chosen,
        reason,
        replace,
    })
}

/// The two systems of a sync for people: each side's short system name (`ZF-REG`, from its
/// connector's manifest) or, without a loaded sync, its plugin's name.
fn system_names(view: &View, sync: &str) -> [String; 2] {
    let spec = view.reconciler.as_ref().and_then(|r| r.specs.get(sync));
    let configured = view.syncs.get(sync);
    [crate::store::Side::A, crate::store::Side::B].map(|side| {
        let plugin = configured.map_or_else(
            || side.as_str().to_string(),
            |v| {
                if side == crate::store::Side::A {
                    v.a.plugin.clone()
                } else {
                    v.b.plugin.clone()
                }
            },
        );
        match spec {
            Some(spec) => crate::sync::decide::system_name(&spec.endpoint(side).plugin, &plugin),
            None => plugin,
        }
    })
}

/// The `a` and `b` plugin names of `sync` when it is configured (see
/// [`crate::sync::decide::person_entry`]).
fn sync_plugins<'v>(view: &'v View, sync: &str) -> Option<[&'v str; 2]> {
    view.syncs
        .get(sync)
        .map(|v| [v.a.plugin.as_str(), v.b.plugin.as_str()])
}

/// The record of conflict `c` field by field, when its sync is loaded on this server.
async fn conflict_record(
    view: &View,
    c: &crate::store::Conflict,
) -> Result<Option<crate::sync::decide::ConflictRecord>, Failure> {
    let Some(r) = view.reconciler.as_ref() else {
        return Ok(None);
    };
    let Some(spec) = r.specs.get(&c.sync) else {
        return Ok(None);
    };
    Ok(r.engine.conflict_record(spec, &c.key_hash).await?)
}

/// Records a person's decision on conflict `id` (shared by the API and the page): 404 for no
/// such conflict, 409 when it is not open or already has a decision and `r.replace` is false,
/// 400 naming a field the record does not have (or whose values do not differ) or a parked
/// field the decision leaves out. The decision and its audit entries (one per system the
/// decision changes: who, which fields or side, the reason masked) commit together.
async fn decide(
    view: &View,
    id: i64,
    r: &Resolution,
    who: &Principal,
) -> Result<crate::store::Conflict, Failure> {
    use crate::store::Decision;
    let c = view
        .store
        .conflict(id)
        .await?
        .ok_or_else(|| not_found(format!("no conflict {id}")))?;
    if c.status != "open" {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("conflict {id} is {}, not open", c.status),
        ));
    }
    if let (Some(said), false) = (c.decision(), r.replace) {
        let by = c
            .decided_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        let resend = match r.take {
            Some(t) => format!("{{\"take\": \"{}\", \"replace\": true}}", t.as_str()),
            None => "the same body with \"replace\": true".to_string(),
        };
        return Err(Failure(
            StatusCode::CONFLICT,
            format!(
                "conflict {id} already has a decision ({said}{by}), which the next run applies; send {resend} to replace it"
            ),
        ));
    }
    let decision = match (&r.take, &r.fields) {
        (Some(t), _) => Decision::Take(*t),
        (None, Some(f)) => {
            let Some(record) = conflict_record(view, &c).await? else {
                return Err(Failure(
                    StatusCode::CONFLICT,
                    format!(
                        "sync {} is not loaded on this server, so conflict {id}'s fields cannot be checked; take a side's record whole instead",
                        c.sync
                    ),
                ));
            };
            let choosable = record.choosable();
            if let Some(bad) = f.keys().find(|p| !choosable.contains(&p.as_str())) {
                let what = if record.fields.iter().any(|x| x.pointer == *bad) {
                    "holds the same value on both sides"
                } else {
                    "is not a field of this record"
                };
                return Err(bad_request(format!(
                    "field {bad:?} in the decision {what}; conflict {id}'s fields whose values differ are {}",
                    choosable.join(", ")
                )));
            }
            if let Some(missing) = record.parked().into_iter().find(|p| !f.contains_key(*p)) {
                return Err(bad_request(format!(
                    "the decision leaves out field {missing:?}, which parked the record: choose a side for each of {}",
                    record.parked().join(", ")
                )));
            }
            Decision::Fields(f.clone())
        }
        (None, None) => unreachable!("resolution_of refuses a body with neither"),
    };
    let (detail, open) = crate::sync::decide::record_decision(
        &view.store,
        sync_plugins(view, &c.sync),
        &c,
        &decision,
        &who.name,
        r.reason.as_deref(),
    )
    .await?;
    if !open {
        return Err(Failure(
            StatusCode::CONFLICT,
            format!("conflict {id} is no longer open"),
        ));
    }
    tracing::info!(conflict = id, sync = %c.sync, token = %who.name, decision = %detail, replaced = c.decision().is_some(), "admin API: conflict decided by a person");
    view.store
        .conflict(id)
        .await?
        .ok_or_else(|| not_found(format!("no conflict {id}")))
}

/// Resolve an open conflict: take one side (its record whole at a key the systems never agreed
/// on; at a settled key its value of each field a system changed since, the other fields by
/// the sync's rules), or choose field by field (the merged record goes to each side it differs
/// from). The sync's next run writes it, and the
/// conflict closes when that write succeeds. A second decision before that run is refused
/// (409) unless it says `"replace": true`. Needs an operator token (403 for a viewer). The
/// audit log records who decided what.
#[utoipa::path(post, path = "/api/conflicts/{id}/resolve", tag = "conflicts", params(("id" = i64, Path, description = "conflict id")), request_body = Resolution, responses(
    (status = 202, description = "the decision waits for the next run", body = crate::store::Conflict),
    (status = 400, description = "the body is not JSON, the id is not a number, a field named is not one whose values differ, or a parked field is left out", body = ApiError),
    (status = 401, description = "missing or wrong token", body = ApiError),
    (status = 403, description = "the token's role is not operator", body = ApiError),
    (status = 404, description = "no such conflict", body = ApiError),
    (status = 409, description = "the conflict is already resolved, or already has a decision and the body does not say \"replace\": true", body = ApiError),
    (status = 415, description = "the body is not application/json", body = ApiError),
    (status = 422, description = "the body is not {\"take\": \"a\" | \"b\"} or {\"fields\": {...}, \"reason\": \"...\"} with \"replace\": bool", body = ApiError)))]
async fn resolve_conflict(
    State(s): State<AdminState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<crate::store::Conflict>), Failure> {
    let id = path_id("conflict", &id)?;
    let r = resolution_of(&headers, &body)?;
    let view = s.view();
    let c = decide(&view, id, &r, &who).await?;
    Ok((StatusCode::ACCEPTED, Json(c)))
}

/// A value on the conflict page: in clear (JSON text, strings without quotes), or masked;
/// `—` when absent.
fn shown_value(v: Option<&serde_json::Value>, clear: bool) -> String {
    match (v, clear) {
        (None, _) => "—".into(),
        (Some(_), false) => "•••".into(),
        (Some(serde_json::Value::String(s)), true) => s.clone(),
        (Some(v), true) => v.to_string(),
    }
}

/// What the conflict page says after a form was sent: a note (saved) or an error, with the
/// status of the answer.
struct FormOutcome {
    status: StatusCode,
    message: String,
    ok: bool,
    /// The choices sent, kept on the page shown again.
    chosen: BTreeMap<String, crate::store::Side>,
    reason: String,
}

/// The conflict page `/conflicts/{id}`: the conflict (sync, masked key, the rule that parked
/// it or the system that refused the write), each system by its short name with its own id of
/// the record and its update time, and each field's values on both sides, the last merged
/// value, which side changed it and the rule that decides it. An operator sees the values in
/// clear (each view appended to the audit log: one `view` entry per system, naming the token)
/// and a form to choose per field with a reason; a viewer sees them masked and no form. A
/// decision not yet applied is shown with a warning that saving replaces it.
async fn conflict_page(
    State(s): State<AdminState>,
    axum::Extension(who): axum::Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let q = match query_params(&uri, &["saved"]) {
        Ok(q) => q,
        Err(Failure(code, what)) => return Ok(page_error(code, "参数错误 Bad parameter", &what)),
    };
    let outcome = q.contains_key("saved").then(|| FormOutcome {
        status: StatusCode::OK,
        message: "已保存 Saved: the sync's next run writes the decision (trigger it to run now)"
            .into(),
        ok: true,
        chosen: BTreeMap::new(),
        reason: String::new(),
    });
    render_conflict(&s, &who, &headers, &id, outcome).await
}

async fn render_conflict(
    s: &AdminState,
    who: &Principal,
    headers: &HeaderMap,
    id: &str,
    outcome: Option<FormOutcome>,
) -> Result<Response, Failure> {
    use crate::store::Side;
    let id = match path_id("conflict", id) {
        Ok(id) => id,
        Err(Failure(code, what)) => return Ok(page_error(code, "参数错误 Bad parameter", &what)),
    };
    let view = s.view();
    let Some(c) = view.store.conflict(id).await? else {
        return Ok(page_not_found(&format!("no conflict {id}")));
    };
    let names = system_names(&view, &c.sync);
    let record = conflict_record(&view, &c).await?;
    let clear = who.role == Role::Operator;
    if clear && let Some(r) = &record {
        // Each view of personal values in clear is audited: one entry per system shown.
        let detail =
            serde_json::json!({"conflict": id, "page": format!("/conflicts/{id}")}).to_string();
        let entries: Vec<crate::audit::NewAuditEntry> = [Side::A, Side::B]
            .into_iter()
            .map(|side| {
                let remote_id = r.remote_ids[if side == Side::A { 0 } else { 1 }].clone();
                let act = (
                    crate::audit::WriteAction::View,
                    crate::audit::WriteOutcome::Shown,
                );
                crate::sync::decide::person_entry(
                    sync_plugins(&view, &c.sync),
                    &c,
                    side,
                    act,
                    remote_id,
                    &who.name,
                    &detail,
                )
            })
            .collect();
        view.store.append_audit(&c.sync, &entries).await?;
        tracing::info!(conflict = id, sync = %c.sync, token = %who.name, "admin: conflict values shown in clear (audited)");
    }
    let zone = view.zone;
    let time = |t: Option<&str>| {
        t.map_or("—".to_string(), |t| {
            crate::local_time::for_people(t, zone)
        })
    };
    let mut b = format!(
        "<form id=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">退出 Sign out</button></form>\
         <p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 冲突 Conflict #{id} · {}</h1>\
         <p class=\"note\" id=\"signed-in\">{} ({})</p>",
        esc(&c.sync),
        esc(&who.name),
        match who.role {
            Role::Operator => "操作员 operator: values in clear, this view is audited",
            Role::Viewer => "查看者 viewer: values masked",
        }
    );
    let kind = match c.kind {
        crate::store::ConflictKind::Park => {
            "待定 parked: both systems changed a field whose rule is park".to_string()
        }
        crate::store::ConflictKind::Write => format!(
            "写入被拒 write refused by {}",
            names[if c.side == Side::A { 0 } else { 1 }]
        ),
    };
    let _ = write!(
        b,
        "<table id=\"conflict\"><tr><th>键 Key (masked)</th><td>{}</td></tr><tr><th>类型 Kind</th><td>{}</td></tr>\
         <tr><th>原因 Reason</th><td id=\"rule\">{}</td></tr><tr><th>状态 Status</th><td>{}</td></tr>\
         <tr><th>次数 Attempts</th><td class=\"num\">{}</td></tr><tr><th>首次 First met</th><td>{}</td></tr></table>",
        esc(c.key_masked.as_deref().unwrap_or("—")),
        esc(&kind),
        esc(&c.reason),
        esc(&c.status),
        c.attempts,
        esc(&time(Some(&c.created_at))),
    );
    if let Some(o) = &outcome {
        let _ = write!(
            b,
            "<p id=\"outcome\" class=\"{}\">{}</p>",
            if o.ok { "ok" } else { "bad" },
            esc(&o.message)
        );
    }
    let pending = (c.status == "open").then(|| c.decision()).flatten();
    if let Some(d) = &pending {
        let said = match d {
            crate::store::Decision::Take(t) => format!(
                "取 {} 的整条记录 take {}'s record whole",
                names[if *t == Side::A { 0 } else { 1 }],
                names[if *t == Side::A { 0 } else { 1 }]
            ),
            crate::store::Decision::Fields(f) => f
                .iter()
                .map(|(p, t)| format!("{p} ← {}", names[if *t == Side::A { 0 } else { 1 }]))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = write!(
            b,
            "<p id=\"replace-warning\" class=\"partial\">⚠ 已有尚未执行的决定 A decision not yet applied: {} (由 by {}, {}{}). 再次保存将替换它，请勾选“替换 replace” Saving again replaces it: tick “replace” to confirm.</p>",
            esc(&said),
            esc(c.decided_by.as_deref().unwrap_or("hub conflicts resolve")),
            esc(&time(c.decided_at.as_deref().or(Some(&c.updated_at)))),
            c.decision_reason
                .as_deref()
                .map(|r| format!("; 理由 reason: {}", esc(r)))
                .unwrap_or_default(),
        );
    }
    let Some(record) = record else {
        b.push_str("<p class=\"note\">此服务器未加载该同步，无法显示字段 The sync is not loaded on this server: its fields cannot be shown.</p>");
        return Ok(Html(page(&format!("hub · 冲突 Conflict #{id}"), &b, false)).into_response());
    };
    let _ = write!(
        b,
        "<h2>系统 Systems</h2><table id=\"systems\"><tr><th></th><th>系统 System</th><th>本系统编号 Its id of the record</th><th>更新时间 Updated there</th></tr>\
         <tr data-side=\"a\"><td>a</td><td class=\"system\">{}</td><td class=\"remote-id\">{}</td><td>{}</td></tr>\
         <tr data-side=\"b\"><td>b</td><td class=\"system\">{}</td><td class=\"remote-id\">{}</td><td>{}</td></tr></table>",
        esc(&names[0]),
        esc(record.remote_ids[0].as_deref().unwrap_or("—")),
        esc(&time(record.updated_at[0].as_deref())),
        esc(&names[1]),
        esc(record.remote_ids[1].as_deref().unwrap_or("—")),
        esc(&time(record.updated_at[1].as_deref())),
    );
    let form = clear && c.status == "open";
    let chosen: BTreeMap<String, Side> = match (&outcome, &pending) {
        (Some(o), _) if !o.chosen.is_empty() => o.chosen.clone(),
        (_, Some(crate::store::Decision::Fields(f))) => f.clone(),
        (_, Some(crate::store::Decision::Take(t))) => record
            .choosable()
            .into_iter()
            .map(|p| (p.to_string(), *t))
            .collect(),
        _ => BTreeMap::new(),
    };
    if form {
        let session = cookie_of(headers, COOKIE).unwrap_or_default();
        let _ = write!(
            b,
            "<form id=\"decide\" method=\"post\" action=\"/conflicts/{id}\"><input type=\"hidden\" name=\"form_token\" value=\"{}\">",
            Sessions::form_token(session)
        );
    }
    let _ = write!(
        b,
        "<h2>字段 Fields</h2><table id=\"fields\"><tr><th>字段 Field</th><th>规则 Rule</th><th>{a} 的值 value</th><th>{bn} 的值 value</th><th>上次合并 Last merged</th><th>选择 Choose</th></tr>",
        a = esc(&names[0]),
        bn = esc(&names[1])
    );
    for f in &record.fields {
        let rule = format!(
            "{}{}{}",
            crate::sync::decide::policy_name(f.rule),
            if f.by_default { " (default)" } else { "" },
            if f.parked { " · 搁置 parked it" } else { "" }
        );
        let changed = |i: usize| {
            if f.changed[i] {
                " <span class=\"note\">已改 changed</span>"
            } else {
                ""
            }
        };
        // Values that differ though neither side changed them since the key settled are each
        // system's own form of one value (a registry number HY-ESMS does not keep): no choice.
        let coded = f.values[0] != f.values[1] && !f.differs();
        let choice = if coded {
            "<span class=\"note\" title=\"neither system changed it since they last agreed\">各自写法 each system's own form</span>".to_string()
        } else if !f.differs() {
            "<span class=\"note\">相同 same</span>".to_string()
        } else if form {
            let ptr = esc(&f.pointer);
            let checked = |side: Side| {
                if chosen.get(&f.pointer) == Some(&side) {
                    " checked"
                } else {
                    ""
                }
            };
            format!(
                "<label><input type=\"radio\" name=\"field:{ptr}\" value=\"a\"{}{}> {}</label> <label><input type=\"radio\" name=\"field:{ptr}\" value=\"b\"{}> {}</label>",
                checked(Side::A),
                if f.parked { " required" } else { "" },
                esc(&names[0]),
                checked(Side::B),
                esc(&names[1])
            )
        } else {
            "<span class=\"note\">需 operator</span>".to_string()
        };
        let _ = write!(
            b,
            "<tr data-field=\"{p}\" class=\"{cls}\"><td><code>{p}</code></td><td class=\"rule\">{rule}</td><td class=\"value-a\">{va}{ca}</td><td class=\"value-b\">{vb}{cb}</td><td class=\"base\">{base}</td><td class=\"choose\">{choice}</td></tr>",
            p = esc(&f.pointer),
            cls = if f.parked {
                "parked"
            } else if f.differs() {
                "differs"
            } else if coded {
                "coded"
            } else {
                "same"
            },
            rule = esc(&rule),
            va = esc(&shown_value(f.values[0].as_ref(), clear)),
            ca = changed(0),
            vb = esc(&shown_value(f.values[1].as_ref(), clear)),
            cb = changed(1),
            base = esc(&shown_value(f.base.as_ref(), clear)),
        );
    }
    b.push_str("</table>");
    if form {
        let reason = outcome.as_ref().map(|o| o.reason.as_str()).unwrap_or("");
        let _ = write!(
            b,
            "<p><label>理由 Reason <input type=\"text\" name=\"reason\" id=\"reason\" size=\"60\" maxlength=\"{MOST_REASON}\" required value=\"{}\"></label></p>",
            esc(reason)
        );
        if pending.is_some() {
            b.push_str("<p><label class=\"partial\"><input type=\"checkbox\" name=\"replace\" value=\"true\" id=\"replace\"> 替换尚未执行的决定 Replace the decision not yet applied</label></p>");
        }
        b.push_str("<p><button type=\"submit\" id=\"save\">保存决定 Save the decision</button> <span class=\"note\">下次运行写入 The next run writes the chosen values to the system that lacks them.</span></p></form>");
    } else if !clear {
        b.push_str("<p class=\"note\" id=\"masked-note\">值已遮蔽 Values are masked: a token of role operator sees them in clear and decides.</p>");
    }
    let status = outcome.as_ref().map_or(StatusCode::OK, |o| o.status);
    Ok((
        status,
        Html(page(&format!("hub · 冲突 Conflict #{id}"), &b, false)),
    )
        .into_response())
}

/// The conflict page's form (`POST /conflicts/{id}`, signed-in operators): checks the form
/// token against the session, reads `field:POINTER` = `a`|`b`, `reason` and `replace`, and
/// records the decision as the API does ([`decide`]). Saved: a redirect to the page (303);
/// refused: the page again with the choices made and the error (its status: 400, 409, ...).
async fn conflict_form(
    State(s): State<AdminState>,
    axum::Extension(who): axum::Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    use crate::store::Side;
    let session = cookie_of(&headers, COOKIE).unwrap_or_default();
    let token = form
        .iter()
        .find(|(k, _)| k == "form_token")
        .map(|(_, v)| v.as_str());
    if session.is_empty()
        || !token
            .is_some_and(|t| security::same(t.as_bytes(), Sessions::form_token(session).as_bytes()))
    {
        return Ok(page_error(
            StatusCode::FORBIDDEN,
            "表单已失效 Form expired",
            "the form does not belong to this sign-in: open the conflict page again and send it from there",
        ));
    }
    let mut chosen = BTreeMap::new();
    let mut reason = String::new();
    let mut replace = false;
    let mut problem = None;
    for (k, v) in &form {
        if let Some(ptr) = k.strip_prefix("field:") {
            match v.as_str() {
                "a" => {
                    chosen.insert(ptr.to_string(), Side::A);
                }
                "b" => {
                    chosen.insert(ptr.to_string(), Side::B);
                }
                other => {
                    problem = Some(format!(
                        "field {ptr:?}: the choice must be a or b, not {other:?}"
                    ))
                }
            }
        } else {
            match k.as_str() {
                "form_token" => {}
                "reason" => reason = v.trim().to_string(),
                "replace" => replace = v == "true",
                other => problem = Some(format!("unknown form field {other:?}")),
            }
        }
    }
    if problem.is_none() && chosen.is_empty() {
        problem = Some("choose a side for at least one field".into());
    }
    if problem.is_none() && reason.is_empty() {
        problem = Some("give a reason for the decision".into());
    }
    if problem.is_none() && reason.chars().count() > MOST_REASON {
        problem = Some(format!(
            "the reason is longer than {MOST_REASON} characters"
        ));
    }
    let refused = |status: StatusCode, message: String, chosen, reason| FormOutcome {
        status,
        message: format!("未保存 Not saved: {message}"),
        ok: false,
        chosen,
        reason,
    };
    if let Some(p) = problem {
        let o = refused(StatusCode::BAD_REQUEST, p, chosen, reason);
        return render_conflict(&s, &who, &headers, &id, Some(o)).await;
    }
    let Ok(n) = path_id("conflict", &id) else {
        return Ok(page_error(
            StatusCode::BAD_REQUEST,
            "参数错误 Bad parameter",
            &format!("conflict id must be a whole number such as 12, not {id:?}"),
        ));
    };
    let r = Resolution {
        take: None,
        fields: Some(chosen.clone()),
        reason: Some(reason.clone()),
        replace,
    };
    match decide(&s.view(), n, &r, &who).await {
        Ok(_) => Ok(Redirect::to(&format!("/conflicts/{n}?saved=1")).into_response()),
        Err(Failure(code, what)) if code != StatusCode::INTERNAL_SERVER_ERROR => {
            let what = if code == StatusCode::CONFLICT && !replace {
                format!("{what} (tick “替换 replace” to replace it)")
            } else {
                what
            };
            let o = refused(code, what, chosen, reason);
            render_conflict(&s, &who, &headers, &id, Some(o)).await
        }
        Err(f) => Err(f),
    }
}

async fn login_form() -> Html<String> {
    Html(page("登录 Sign in", &login_body(None), false))
}

fn login_body(error: Option<&str>) -> String {
    let mut b = String::from("<h1>hub · 登录 Sign in</h1>");
    if let Some(e) = error {
        let _ = write!(b, "<p class=\"bad\">{}</p>", esc(e));
    }
    b.push_str(
        "<form method=\"post\" action=\"/login\"><label>管理令牌 Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" autofocus></label> <button type=\"submit\">登录 Sign in</button></form>\
         <p class=\"note\">The token is in <code>[admin] token</code> of the configuration, or in <code>admin.token</code> in the data directory.</p>",
    );
    b
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// The session cookie's attributes (RFC 6265): sent back to this server only, over HTTPS only
/// when served so, never to scripts, and on no request another site starts.
fn cookie_attributes(s: &AdminState, max_age: u64) -> String {
    format!(
        "Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{}",
        if s.tls { "; Secure" } else { "" }
    )
}

/// Signs a browser in: with the right token, a new session (its id in the cookie, for
/// [`security::SESSION_LIFETIME`]) and a redirect to the status page; a wrong token is 401
/// and counts against the address ([`authenticate`] refuses it beyond the limit).
async fn login(
    State(s): State<AdminState>,
    axum::Extension(client): axum::Extension<Client>,
    Form(f): Form<LoginForm>,
) -> Response {
    let Some((who, digest)) = s.tokens().find(f.token.trim().as_bytes()) else {
        s.throttle.failed(client.0);
        tracing::warn!(client = %client.0, "admin API: sign-in with a wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            Html(page(
                "登录 Sign in",
                &login_body(Some("令牌不对 Wrong token")),
                false,
            )),
        )
            .into_response();
    };
    tracing::info!(token = %who.name, role = who.role.as_str(), client = %client.0, "admin API: signed in");
    let cookie = format!(
        "{COOKIE}={}; {}",
        s.sessions.open(digest),
        cookie_attributes(&s, s.sessions.lifetime().as_secs())
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// Signs a browser out: its session ends (the cookie no longer opens a page, even if kept)
/// and the cookie is cleared. Needs no token: ending a session is harmless, and a page on
/// another site cannot send the cookie (`SameSite=Strict`).
async fn logout(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_of(&headers, COOKIE) {
        s.sessions.close(id);
    }
    let cookie = format!("{COOKIE}=; {}", cookie_attributes(&s, 0));
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

/// A dead letter's reasons as one line: `pointer: 中文 English` each
/// ([`crate::dead_letter_reasons::for_people`]), joined by `; `.
fn reasons(errors: &[crate::schema::Violation]) -> String {
    errors
        .iter()
        .map(crate::dead_letter_reasons::for_people)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Escapes text for HTML: `s` for an HTML page: control characters (and the other characters
/// [`crate::control_chars::is_unsafe`] names) written as visible escapes first (`\n`,
/// `\u{1b}`), then `&`, `<`, `>`, `"` and `'` as character references.
pub(crate) fn esc(s: &str) -> String {
    let s = crate::control_chars::escape(s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A whole page; `refresh` reloads it every 30 s (the status page, never the sign-in form,
/// where it would wipe a token being typed).
fn page(title: &str, body: &str, refresh: bool) -> String {
    let refresh = if refresh {
        "<meta http-equiv=\"refresh\" content=\"30\">"
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">{refresh}<title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

/// The pages' one stylesheet, inline; the Content-Security-Policy allows it by its SHA-256
/// (worked out from this text, [`security::content_security_policy`]), so editing it needs
/// nothing else. Tables scroll inside their own box and charts scale to the width given them
/// (`viewBox`), so the page body never scrolls sideways, down to phones and a 700-pixel window.
const STYLE: &str = "body{font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;margin:24px;color:#1b1f24;background:#fafbfc}\
h1{font-size:20px;margin-right:120px}h2{font-size:16px;margin:28px 0 6px}\
table{border-collapse:collapse;margin:6px 0;display:block;max-width:100%;overflow-x:auto}\
td,th{border-bottom:1px solid #d8dee4;padding:4px 10px;text-align:left;vertical-align:top}th{background:#eef1f4}\
.ok{color:#1a7f37}.partial{color:#9a6700}.failed,.bad{color:#cf222e}.interrupted{color:#9a6700}.running{color:#0969da}\
.note{color:#57606a}.num{text-align:right;font-variant-numeric:tabular-nums}.run-error,.load-error,#problems li{overflow-wrap:anywhere}\
.charts{display:flex;flex-wrap:wrap;gap:12px 20px}figure{margin:0;flex:1 1 380px;min-width:0;max-width:640px}\
figcaption{color:#57606a;margin:0 0 4px}\
svg{display:block;width:100%;height:auto;background:#fff;border:1px solid #d8dee4;font-family:system-ui,'Noto Sans CJK SC',sans-serif}\
svg .x-tick,svg .y-tick{fill:#57606a}svg a:hover rect.read,svg a:hover rect.written{opacity:.7}\
#logout{position:absolute;top:24px;right:24px}\
@media (max-width:760px){body{margin:16px 12px}#logout{top:16px;right:12px}td,th{padding:4px 5px}}";

/// A sync's direction for people, its sides named by their plugins (the systems), not `a`/`b`:
/// `单向 one way: huiyang-esms → zhenfeng-registry` for `a_to_b` (a is huiyang-esms), the
/// arrow reversed for `b_to_a`, `双向 both ways: a ⇄ b` for `both`.
fn direction_for_people(direction: &str, a: &str, b: &str) -> String {
    match direction {
        "a_to_b" => format!("单向 one way: {a} → {b}"),
        "b_to_a" => format!("单向 one way: {b} → {a}"),
        _ => format!("双向 both ways: {a} ⇄ {b}"),
    }
}

/// Status label for people, Chinese and English.
pub(crate) fn status_label(s: &str) -> &'static str {
    match s {
        "ok" => "正常 ok",
        "partial" => "部分 partial",
        "failed" => "失败 failed",
        "running" => "运行中 running",
        "interrupted" => "中断 interrupted",
        _ => "?",
    }
}

fn num(stats: &Option<serde_json::Value>, side: &str, field: &str) -> u64 {
    stats
        .as_ref()
        .and_then(|s| s.get(side))
        .and_then(|s| s.get(field))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// Records a run wrote: created or updated, both sides.
pub(crate) fn written(r: &RunRecord) -> u64 {
    ["a", "b"]
        .iter()
        .map(|s| num(&r.stats, s, "created") + num(&r.stats, s, "updated"))
        .sum()
}

/// Records a run read, both sides.
pub(crate) fn read(r: &RunRecord) -> u64 {
    ["a", "b"].iter().map(|s| num(&r.stats, s, "read")).sum()
}

/// A run's duration in seconds.
pub(crate) fn duration_s(r: &RunRecord) -> f64 {
    r.stats
        .as_ref()
        .and_then(|s| s.get("duration_ms"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
        / 1000.0
}

/// How many of a sync's last runs its chart shows.
const CHART_RUNS: u32 = 20;
/// How many days its daily totals cover.
const CHART_DAYS: u32 = 30;

/// The status page `/`: every sync with its state, last and next run; per sync, the chart of
/// its last runs beside its daily totals over the last [`CHART_DAYS`] days (days in the
/// deployment's zone); the problems; the dead letters and conflicts waiting. `?wrote=1` shows
/// only runs that wrote records in the run charts (`?wrote=0`, the default, all runs); any
/// other value, or another parameter, is a 400 page saying what is wrong.
async fn status_page(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let wrote_only = match query_params(&uri, &["wrote"]).and_then(|q| wrote_filter(&q)) {
        Ok(w) => w,
        Err(Failure(code, what)) => return Ok(page_error(code, "请求有误 Bad request", &what)),
    };
    let view = s.view();
    let mut b = String::from(
        "<form id=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">退出 Sign out</button></form><h1>hub · 同步状态 Sync status</h1>",
    );
    let _ = write!(
        b,
        "<p class=\"note\">{} ({}) · 时间均为 {} 时间 all times in {} · 每 30 秒刷新 refreshes every 30 s · <a id=\"statistics-link\" href=\"/statistics\">数据统计 Statistics</a></p>",
        crate::local_time::now_for_people(view.zone),
        view.zone.name(),
        view.zone.name(),
        view.zone.name()
    );
    let problems = view.all_problems();
    if !problems.is_empty() {
        let _ = write!(
            b,
            "<div id=\"problems\" class=\"bad\"><b>部分未运行 Degraded: {}</b><ul>",
            if problems.len() == 1 {
                "1 problem".to_string()
            } else {
                format!("{} problems", problems.len())
            }
        );
        for p in &problems {
            let _ = write!(b, "<li>{}</li>", esc(p));
        }
        b.push_str("</ul></div>");
    }
    b.push_str(
        "<table id=\"syncs\"><tr><th>同步 Sync</th><th>状态 State</th><th>上次运行 Last run</th><th>读取 Read</th><th>写入 Written</th><th>下次运行 Next run</th><th>死信 Dead letters</th><th>冲突 Conflicts</th></tr>",
    );
    let failed_checks = view.checks.failed();
    let mut charts = run_filter_links(wrote_only);
    for name in view.syncs.keys() {
        let info = sync_info(name, &view).await?;
        let state = if let Some(p) = &info.running {
            format!("<span class=\"running\">{}</span>", esc(&running_words(p)))
        } else if !info.enabled {
            "停用 disabled".into()
        } else if info.paused {
            "暂停 paused".into()
        } else {
            "按计划 scheduled".into()
        };
        let state = state + &plugin_check_notes(&failed_checks, &info);
        let (last, nread, nwritten) = match &info.last_run {
            Some(r) => (
                format!(
                    "<span class=\"{}\">{}</span> {} (<a href=\"/runs/{}\">run {}</a>, {:.2} s){}{}",
                    esc(&r.status),
                    status_label(&r.status),
                    esc(&crate::local_time::for_people(&r.started_at, view.zone)),
                    r.id,
                    r.id,
                    duration_s(r),
                    if r.trigger.starts_with("resync") {
                        format!(
                            " <span class=\"note trigger\">重新同步 {}</span>",
                            esc(&r.trigger)
                        )
                    } else {
                        String::new()
                    },
                    r.error
                        .as_deref()
                        .map(|e| format!("<div class=\"bad run-error\">{}</div>", esc(e)))
                        .unwrap_or_default()
                ),
                read(r),
                written(r),
            ),
            None => ("—".into(), 0, 0),
        };
        let _ = write!(
            b,
            "<tr data-sync=\"{n}\"><td><b>{n}</b> <a class=\"reconcile\" href=\"/syncs/{n}/reconcile\">对账 reconcile</a><br><span class=\"note direction\">{way}</span></td><td>{state}</td><td>{last}</td><td class=\"num read\">{nread}</td><td class=\"num written\">{nwritten}</td><td>{next}</td><td class=\"num dead\">{dl}</td><td class=\"num conflicts\">{cf}</td></tr>",
            n = esc(name),
            way = esc(&direction_for_people(
                &info.direction,
                &info.a.plugin,
                &info.b.plugin
            )),
            next = info
                .next_runs
                .first()
                .map(|t| esc(&crate::local_time::for_people(t, view.zone)))
                .unwrap_or_else(|| "—".into()),
            dl = info.dead_letters,
            cf = info.conflicts,
        );
        charts.push_str(&sync_charts(&view, name, wrote_only).await?);
    }
    for (name, why) in &view.not_loaded {
        let _ = write!(
            b,
            "<tr data-sync=\"{}\" class=\"not-loaded\"><td><b>{}</b></td><td><span class=\"bad\">未加载 not loaded</span></td><td colspan=\"6\" class=\"bad load-error\">{}</td></tr>",
            esc(name),
            esc(name),
            esc(why)
        );
    }
    b.push_str("</table>");
    b.push_str(&charts);
    let dead = view.store.dead_letters(None).await?;
    let _ = write!(
        b,
        "<h2>待处理死信 Dead letters waiting ({})</h2>",
        dead.len()
    );
    if !dead.is_empty() {
        b.push_str("<table id=\"dead-letters\"><tr><th>#</th><th>同步 Sync</th><th>阶段 Stage</th><th>键 Key (masked)</th><th>原因 Reason</th><th>次数 Seen</th></tr>");
        for d in dead.iter().take(50) {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                d.id,
                esc(&d.sync),
                d.side.as_str(),
                esc(&d.stage),
                esc(d.key_masked.as_deref().unwrap_or("—")),
                esc(&reasons(&d.errors)),
                d.occurrences
            );
        }
        b.push_str("</table>");
    }
    let conflicts = view.store.conflicts(None, false).await?;
    let _ = write!(
        b,
        "<h2>待处理冲突 Conflicts waiting ({})</h2>",
        conflicts.len()
    );
    if !conflicts.is_empty() {
        b.push_str("<table id=\"conflicts\"><tr><th>#</th><th>同步 Sync</th><th>键 Key (masked)</th><th>拒绝方 Refused by / 待定 Parked</th><th>原因 Reason</th><th>次数 Attempts</th><th>已选 Taking</th></tr>");
        for c in conflicts.iter().take(50) {
            let _ = write!(
                b,
                "<tr><td><a class=\"conflict\" href=\"/conflicts/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                c.id,
                c.id,
                esc(&c.sync),
                esc(c.key_masked.as_deref().unwrap_or("—")),
                match c.kind {
                    crate::store::ConflictKind::Write => c.side.as_str(),
                    crate::store::ConflictKind::Park => "待定 parked",
                },
                esc(&c.reason),
                c.attempts,
                match (c.take, &c.take_fields) {
                    (_, Some(_)) => "fields",
                    (Some(t), None) => t.as_str(),
                    (None, None) => "—",
                }
            );
        }
        b.push_str("</table>");
    }
    Ok(Html(page("hub · 同步状态 Sync status", &b, true)).into_response())
}

/// `?wrote=` of the status page: `1` only runs that wrote records, `0` (or absent) all runs;
/// anything else 400 saying which values it takes.
fn wrote_filter(q: &BTreeMap<String, String>) -> Result<bool, Failure> {
    match q.get("wrote").map(String::as_str) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(bad_request(format!(
            "query parameter wrote must be 1 (only runs that wrote records) or 0 (all runs), not {other:?}"
        ))),
    }
}

/// The links that switch the run charts between all runs and the runs that wrote records
/// (plain links: the page works without script); the one shown now is marked current.
fn run_filter_links(wrote_only: bool) -> String {
    let link = |current: bool, href: &str, text: &str| {
        if current {
            format!("<b aria-current=\"page\">{text}</b>")
        } else {
            format!("<a href=\"{href}\">{text}</a>")
        }
    };
    format!(
        "<p id=\"run-filter\" class=\"note\">运行图 Run charts: {} · {}</p>",
        link(!wrote_only, "/?wrote=0", "全部运行 all runs"),
        link(
            wrote_only,
            "/?wrote=1",
            "只看有写入的运行 only runs that wrote records"
        )
    )
}

/// A sync's charts: its last [`CHART_RUNS`] runs (with `wrote_only`, the last that wrote
/// records) beside its daily totals over the last [`CHART_DAYS`] days.
async fn sync_charts(view: &View, name: &str, wrote_only: bool) -> Result<String, Failure> {
    let (runs, what, none) = if wrote_only {
        (
            view.store.runs_that_wrote(name, CHART_RUNS).await?,
            format!(
                "最近 {CHART_RUNS} 次有写入的运行 the last {CHART_RUNS} runs that wrote records"
            ),
            "没有写入记录的运行 No runs that wrote records",
        )
    } else {
        (
            view.store.runs(Some(name), CHART_RUNS).await?,
            format!("最近 {CHART_RUNS} 次运行 the last {CHART_RUNS} runs"),
            "尚无运行 No runs yet",
        )
    };
    let runs_chart = if runs.iter().any(|r| r.status != "running") {
        crate::admin_charts::runs_chart(&runs, view.zone, &what)
    } else {
        format!("<p class=\"note\">{none}</p>")
    };
    let days = crate::local_time::last_days(view.zone, chrono::Utc::now(), CHART_DAYS);
    let since = days
        .first()
        .map_or_else(chrono::Utc::now, |(_, start)| *start);
    let totals = view.store.run_totals(name, since).await?;
    let days_chart = if totals.is_empty() {
        format!(
            "<p class=\"note\">最近 {CHART_DAYS} 天无运行 No runs in the last {CHART_DAYS} days</p>"
        )
    } else {
        crate::admin_charts::days_chart(&crate::admin_charts::per_day(&totals, &days), view.zone)
    };
    Ok(format!(
        "<h2>{n} · 运行 Runs</h2><div class=\"charts\" data-sync=\"{n}\">\
         <figure class=\"runs-chart\"><figcaption>{what}</figcaption>{runs_chart}</figure>\
         <figure class=\"days-chart\"><figcaption>最近 {CHART_DAYS} 天每日合计 daily totals, last {CHART_DAYS} days</figcaption>{days_chart}</figure></div>",
        n = esc(name),
        what = esc(&what),
    ))
}

/// Notes for a sync's row when a plugin it uses failed its last live check (none otherwise).
fn plugin_check_notes(failed: &BTreeMap<String, String>, info: &SyncInfo) -> String {
    let mut plugins = vec![&info.a.plugin, &info.b.plugin];
    plugins.dedup();
    plugins
        .into_iter()
        .filter(|p| failed.contains_key(*p))
        .map(|p| {
            format!(
                "<div class=\"bad plugin-check\">✗ 插件检查失败 check failed: {}</div>",
                esc(p)
            )
        })
        .collect()
}

/// A run in progress in words: its phase, the records handled of how many (when known, `约`
/// "about" for a connector's estimate) and the time left at the rate so far, e.g. `运行中 running
/// · 读取 reading a · 1200 / 约 about 5000 条 records · 约 40 秒 s left`.
fn running_words(p: &crate::sync::RunProgress) -> String {
    let phase = match p.phase.as_str() {
        "read a" => "读取 reading a".to_string(),
        "read b" => "读取 reading b".to_string(),
        "write" => "写入 writing".to_string(),
        "start" => "开始 starting".to_string(),
        other => other.to_string(),
    };
    let of = match p.total {
        Some(t) if p.total_estimated => format!(" / 约 about {t}"),
        Some(t) => format!(" / {t}"),
        None => String::new(),
    };
    let left = p
        .eta_seconds
        .map(|s| format!(" · 约 {s:.0} 秒 s left"))
        .unwrap_or_default();
    format!(
        "运行中 running · {phase} · {}{of} 条 records{left}",
        p.records
    )
}

/// Counts of a run's side shown on its page: (stats field, label in Chinese and English).
const SIDE_COUNTS: &[(&str, &str)] = &[
    ("read", "读取 read"),
    ("changed", "有变化 changed"),
    ("unchanged", "未变 unchanged"),
    ("echoes", "回读本系统写入 echoes of the hub's writes"),
    ("invalid", "无效（死信）invalid (dead letters)"),
    ("filtered", "范围外 outside the sync's filter"),
    ("deleted", "已删除 deleted"),
    ("created", "新建 created"),
    ("updated", "更新 updated"),
    ("ended", "已删除（原生删除）ended natively"),
    ("linked", "已关联现有记录 linked to a record it held"),
    ("rejected", "被拒（死信）refused (dead letters)"),
    ("conflicts", "冲突 conflicts"),
    ("retries", "待重试 to retry"),
];

/// An HTML page answering 404 for a run page that does not exist.
fn page_not_found(what: &str) -> Response {
    page_error(StatusCode::NOT_FOUND, "未找到 Not found", what)
}

/// An HTML page answering `status` (titled `title`, Chinese and English) with what is wrong,
/// and the way back to the status page: the pages' errors are pages, as the API's are JSON.
fn page_error(status: StatusCode, title: &str, what: &str) -> Response {
    (
        status,
        Html(page(
            title,
            &format!(
                "<h1>hub · {}</h1><p class=\"bad\" id=\"error\">{}</p><p><a href=\"/\">← 同步状态 Sync status</a></p>",
                esc(title),
                esc(what)
            ),
            false,
        )),
    )
        .into_response()
}

/// The reconciliation page `/syncs/{name}/reconcile`: the report of [`reconcile`] for people,
/// each system named by its plugin: the counts, what each side held, and the records that
/// differ (at most 1,000 rows; the API and `hub reconcile --csv` give them all). An error
/// page with the API's status otherwise.
async fn reconcile_page(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    const MOST: usize = 1000;
    let view = s.view();
    let r = match reconciliation(&view, &name).await {
        Ok(r) => r,
        Err(Failure(StatusCode::NOT_FOUND, what)) => return Ok(page_not_found(&what)),
        Err(Failure(code, what)) => {
            return Ok(page_error(code, "无法对账 Cannot reconcile", &what));
        }
    };
    let (a, b) = (esc(&r.a.plugin), esc(&r.b.plugin));
    let c = &r.counts;
    let mut h = format!(
        "<p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 对账 Reconciliation · {}</h1>\
         <p class=\"note\">a: {a} ({}) · b: {b} ({}) · {} · {:.2} s</p>",
        esc(&r.sync),
        esc(&r.a.stream),
        esc(&r.b.stream),
        esc(&crate::local_time::for_people(&r.checked_at, view.zone)),
        r.duration_ms as f64 / 1000.0
    );
    h.push_str("<table id=\"reconcile-counts\">");
    for (id, label, n) in [
        ("equal", "两边一致 In both and equal".to_string(), c.equal),
        (
            "different",
            "两边不同 In both and different".into(),
            c.different,
        ),
        ("only-a", format!("仅在 a Only in a ({a})"), c.only_a),
        ("only-b", format!("仅在 b Only in b ({b})"), c.only_b),
        (
            "invalid",
            "无效 Invalid (schema or key, as read now)".into(),
            c.invalid,
        ),
        ("ended", "已结束 Ended (deleted on a side)".into(), c.ended),
        (
            "dead-letters",
            "死信 Dead letters (open)".into(),
            c.dead_letters,
        ),
        (
            "parked",
            "搁置 Parked (waiting for a person)".into(),
            c.parked,
        ),
    ] {
        let _ = write!(
            h,
            "<tr data-count=\"{id}\"><th>{label}</th><td class=\"num\">{n}</td></tr>"
        );
    }
    h.push_str("</table><h2>各方 Each side</h2><table id=\"reconcile-sides\"><tr><th></th><th>读取 Read</th><th>过滤外 Outside the filter</th><th>无效 Invalid</th><th>已删除 Deleted</th><th>重复键 Duplicate keys</th></tr>");
    for (side, x) in [("a", &r.a), ("b", &r.b)] {
        let _ = write!(
            h,
            "<tr><th>{side}: {}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&x.plugin),
            x.read,
            x.outside_filter,
            x.invalid,
            x.deleted,
            x.duplicate_keys
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<h2>差异 Records that differ ({})</h2>", r.records.len());
    if r.records.is_empty() {
        h.push_str("<p class=\"ok\">两个系统一致 The two systems agree.</p>");
    } else {
        let _ = write!(
            h,
            "<table id=\"reconcile-records\"><tr><th>键 Key (masked)</th><th>类别 Kind</th><th>{a} 编号 id</th><th>{b} 编号 id</th><th>字段 Fields</th></tr>"
        );
        for x in r.records.iter().take(MOST) {
            let _ = write!(
                h,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                x.kind.as_str(),
                esc(x.key_masked.as_deref().unwrap_or("—")),
                x.kind.label(),
                esc(x.a_id.as_deref().unwrap_or("—")),
                esc(x.b_id.as_deref().unwrap_or("—")),
                esc(&x.fields.join(", "))
            );
        }
        h.push_str("</table>");
        if r.records.len() > MOST {
            let _ = write!(
                h,
                "<p class=\"note\">前 {MOST} 条 The first {MOST} shown; <code>hub reconcile {} --csv</code> gives them all.</p>",
                esc(&r.sync)
            );
        }
    }
    Ok(Html(page(
        &format!("hub · 对账 Reconciliation · {}", r.sync),
        &h,
        false,
    ))
    .into_response())
}

/// The run-detail page `/runs/{id}`: the run's sync, trigger, status, start, end, duration,
/// error, its counts per side (each side named by its plugin) and the dead letters it
/// recorded. HTML; 404 page for an unknown run.
async fn run_page(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let view = s.view();
    let Ok(id) = id.parse::<i64>() else {
        return Ok(page_not_found(&format!("没有这次运行 no run {id:?}")));
    };
    let Some(r) = view.store.run(id).await? else {
        return Ok(page_not_found(&format!("没有这次运行 no run {id}")));
    };
    let sync = view.syncs.get(&r.sync);
    let side_name = |side: &str| match (sync, side) {
        (Some(v), "a") => format!("{} ({})", esc(&v.a.plugin), esc(&v.a.stream)),
        (Some(v), _) => format!("{} ({})", esc(&v.b.plugin), esc(&v.b.stream)),
        (None, s) => s.to_string(),
    };
    let mut b = format!(
        "<p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 运行 Run {} · {}</h1>",
        r.id,
        esc(&r.sync)
    );
    let _ = write!(
        b,
        "<table id=\"run\"><tr><th>状态 Status</th><td><span class=\"{}\">{}</span></td></tr>\
         <tr><th>触发 Trigger</th><td>{}</td></tr><tr><th>开始 Started</th><td>{}</td></tr>\
         <tr><th>结束 Finished</th><td>{}</td></tr><tr><th>耗时 Duration</th><td>{:.2} s</td></tr>\
         <tr><th>原因 Error</th><td class=\"bad run-error\">{}</td></tr></table>",
        esc(&r.status),
        status_label(&r.status),
        esc(&r.trigger),
        esc(&format!(
            "{} ({})",
            crate::local_time::for_people(&r.started_at, view.zone),
            view.zone.name()
        )),
        esc(&r
            .finished_at
            .as_deref()
            .map_or("—".into(), |t| crate::local_time::for_people(
                t, view.zone
            ))),
        duration_s(&r),
        esc(r.error.as_deref().unwrap_or("—")),
    );
    let _ = write!(
        b,
        "<h2>各方计数 Counts per side</h2><table id=\"counts\"><tr><th></th><th>a: {}</th><th>b: {}</th></tr>",
        side_name("a"),
        side_name("b")
    );
    for (field, label) in SIDE_COUNTS {
        let _ = write!(
            b,
            "<tr data-count=\"{field}\"><th>{label}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            num(&r.stats, "a", field),
            num(&r.stats, "b", field)
        );
    }
    b.push_str("</table>");
    let dead = view.store.run_dead_letters(id).await?;
    let _ = write!(
        b,
        "<h2>本次运行的死信 Dead letters of this run ({})</h2>",
        dead.len()
    );
    if dead.is_empty() {
        b.push_str("<p class=\"note\">无 None</p>");
    } else {
        b.push_str("<table id=\"run-dead-letters\"><tr><th>#</th><th>方 Side</th><th>阶段 Stage</th><th>键 Key (masked)</th><th>原因 Reason</th><th>状态 Status</th></tr>");
        for d in dead.iter().take(200) {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.id,
                side_name(d.side.as_str()),
                esc(&d.stage),
                esc(d.key_masked.as_deref().unwrap_or("—")),
                esc(&reasons(&d.errors)),
                esc(&d.status)
            );
        }
        b.push_str("</table>");
    }
    Ok(Html(page(&format!("hub · 运行 Run {id}"), &b, false)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_tls::testing::{localhost_cert, over_https, test_ca};
    use crate::schema::Violation;
    use crate::store::{Commit, NewConflict, NewDeadLetter, Side};
    use reqwest::StatusCode as S;
    use serde_json::{Value, json};

    const TOKEN: &str = "test-token-0123456789abcdef";

    #[test]
    fn a_run_in_progress_says_its_phase_how_far_of_how_many_and_the_time_left() {
        let p = crate::sync::RunProgress {
            run_id: 7,
            phase: "read a".into(),
            records: 1200,
            total: Some(5000),
            total_estimated: true,
            records_per_second: 95.0,
            eta_seconds: Some(40.0),
            started_at: "2026-12-06T08:00:00Z".into(),
        };
        assert_eq!(
            running_words(&p),
            "运行中 running · 读取 reading a · 1200 / 约 about 5000 条 records · 约 40 秒 s left"
        );
        let exact = crate::sync::RunProgress {
            phase: "write".into(),
            total_estimated: false,
            ..p.clone()
        };
        assert_eq!(
            running_words(&exact),
            "运行中 running · 写入 writing · 1200 / 5000 条 records · 约 40 秒 s left"
        );
        // A read whose connector says nothing of what waits: no total, no time left.
        let unknown = crate::sync::RunProgress {
            phase: "read b".into(),
            total: None,
            eta_seconds: None,
            ..p
        };
        assert_eq!(
            running_words(&unknown),
            "运行中 running · 读取 reading b · 1200 条 records"
        );
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        url: String,
        http: reqwest::Client,
        api: utoipa::openapi::OpenApi,
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn conflict(run_id: i64) -> NewConflict {
        NewConflict {
            run_id,
            kind: crate::store::ConflictKind::Write,
            key_hash: KEY.into(),
            key_masked: Some("5223**********0011".into()),
            side: Side::B,
            reason: "HY-ESMS: the record changed since it was read (412)".into(),
        }
    }

    /// A store with two runs of `workers`, one open dead letter and one open conflict, served
    /// on a free port.
    async fn fixture() -> Fixture {
        fixture_with(|s| s).await
    }

    /// [`fixture`] with its admin state adjusted by `adjust`.
    async fn fixture_with(adjust: impl FnOnce(AdminState) -> AdminState) -> Fixture {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("state.db").display()
        ))
        .await
        .unwrap()
        .with_audit_key(crate::keys::Keys::derive(&[7u8; 32]).audit_key());
        let first = store.start_run("workers", "schedule", None).await.unwrap();
        let stats = json!({"a": {"read": 3000, "created": 0, "updated": 0}, "b": {"read": 0, "created": 1322, "updated": 0}, "duration_ms": 6600});
        store.finish_run(first, "ok", &stats, None).await.unwrap();
        let second = store.start_run("workers", "manual", None).await.unwrap();
        let stats = json!({"a": {"read": 1, "created": 0, "updated": 1}, "b": {"read": 2, "created": 0, "updated": 1}, "duration_ms": 150});
        store
            .finish_run(
                second,
                "partial",
                &stats,
                Some("1 records deferred to the next run"),
            )
            .await
            .unwrap();
        let dl = NewDeadLetter {
            run_id: first,
            side: Side::A,
            stage: "read",
            key_hash: Some("ab".repeat(32)),
            key_masked: Some("5223**********123X".into()),
            remote_id: Some("ZF-000017".into()),
            record_hash: "cd".repeat(32),
            errors: vec![Violation {
                pointer: "/idNumber".into(),
                message: "the check character is wrong (GB 11643-1999)".into(),
            }],
            record: Some(vec![1, 2, 3]),
        };
        store
            .commit(
                "workers",
                Commit {
                    dead_letters: &[dl],
                    conflicts: &[conflict(first)],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let sync = SyncView {
            schema: "worker".into(),
            direction: "both".into(),
            a: Endpoint {
                plugin: "zhenfeng-registry".into(),
                stream: "workers".into(),
            },
            b: Endpoint {
                plugin: "huiyang-esms".into(),
                stream: "zhenfeng-workers".into(),
            },
            schedule: Schedule::parse("0 2 * * *", "Asia/Shanghai").unwrap(),
            enabled: true,
        };
        let view = View {
            store: store.clone(),
            syncs: [("workers".to_string(), sync)].into(),
            problems: vec![],
            not_loaded: BTreeMap::new(),
            reload_refused: None,
            progress: ProgressBoard::default(),
            zone: chrono_tz::Asia::Shanghai,
            checks: crate::check::LiveChecks::default(),
            reconciler: None,
        };
        let (_tx, rx) = watch::channel(Arc::new(view));
        std::mem::forget(_tx);
        let (router, api) = router(adjust(AdminState::new(rx, TOKEN)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Fixture {
            _dir: dir,
            store,
            url,
            http,
            api,
        }
    }

    impl Fixture {
        async fn get(&self, path: &str) -> reqwest::Response {
            self.http
                .get(format!("{}{path}", self.url))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
        }

        async fn post(&self, path: &str) -> reqwest::Response {
            self.http
                .post(format!("{}{path}", self.url))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
        }

        /// `method path` with the cookie `pair` (`name=value`) and no bearer token, as a
        /// browser sends it.
        async fn with_cookie(
            &self,
            method: reqwest::Method,
            path: &str,
            pair: &str,
        ) -> reqwest::Response {
            self.http
                .request(method, format!("{}{path}", self.url))
                .header(reqwest::header::COOKIE, pair)
                .send()
                .await
                .unwrap()
        }

        /// A scheduled run of `sync`, finished with `status`, `stats` and `error`; its id.
        async fn finished_run(
            &self,
            sync: &str,
            status: &str,
            stats: Value,
            error: Option<&str>,
        ) -> i64 {
            let id = self.store.start_run(sync, "schedule", None).await.unwrap();
            self.store
                .finish_run(id, status, &stats, error)
                .await
                .unwrap();
            id
        }

        async fn json(&self, path: &str) -> Value {
            let r = self.get(path).await;
            assert_eq!(r.status(), S::OK, "{path}");
            r.json().await.unwrap()
        }

        /// Every (method, path) of the OpenAPI document, path parameters filled in.
        fn operations(&self) -> Vec<(String, String, String)> {
            let doc = serde_json::to_value(&self.api).unwrap();
            let mut out = Vec::new();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for method in item.as_object().unwrap().keys() {
                    let concrete = path.replace("{name}", "workers").replace("{id}", "1");
                    out.push((method.clone(), path.clone(), concrete));
                }
            }
            out
        }
    }

    #[tokio::test]
    async fn every_route_but_healthz_needs_the_token() {
        let f = fixture().await;
        let ops = f.operations();
        assert_eq!(ops.len(), 24, "{ops:?}");
        // Wrong tokens count against the address: the first 5 are 401, the rest 429 (a
        // request without a token is not a guess, and stays 401).
        let mut wrong = 0;
        for (method, path, concrete) in &ops {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for token in [None, Some("wrong-token-0123456789abcdef")] {
                let mut req = f.http.request(m.clone(), format!("{}{concrete}", f.url));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let r = req.send().await.unwrap();
                if path == "/healthz" {
                    assert_eq!(r.status(), S::OK);
                    continue;
                }
                if token.is_some() {
                    wrong += 1;
                }
                if token.is_some() && wrong > 5 {
                    assert_eq!(
                        r.status(),
                        S::TOO_MANY_REQUESTS,
                        "{method} {path}: wrong token {wrong}"
                    );
                    let body: Value = r.json().await.unwrap();
                    assert!(
                        body["error"]
                            .as_str()
                            .unwrap()
                            .contains("too many failed sign-ins from 127.0.0.1")
                    );
                    continue;
                }
                assert_eq!(
                    r.status(),
                    S::UNAUTHORIZED,
                    "{method} {path} with {token:?}"
                );
                assert_eq!(
                    r.headers()[reqwest::header::WWW_AUTHENTICATE],
                    "Bearer realm=\"hub\""
                );
                let body: Value = r.json().await.unwrap();
                assert!(body["error"].as_str().unwrap().contains("admin token"));
            }
        }
        for path in ["/openapi.json", "/"] {
            let r = f.http.get(format!("{}{path}", f.url)).send().await.unwrap();
            assert!(
                matches!(r.status(), S::UNAUTHORIZED | S::SEE_OTHER),
                "{path}: {}",
                r.status()
            );
        }
    }

    /// The OpenAPI document is true: each operation answers with a status it declares, and
    /// each JSON body validates against the schema declared for that status.
    #[tokio::test]
    async fn every_operation_answers_as_the_openapi_document_says() {
        let f = fixture().await;
        let served: Value = f.json("/openapi.json").await;
        let doc = serde_json::to_value(&f.api).unwrap();
        assert_eq!(served, doc);
        assert_eq!(doc["openapi"], json!("3.1.0"));
        for (method, path, concrete) in f.operations() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = f
                .http
                .request(m, format!("{}{concrete}", f.url))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16().to_string();
            let declared = &doc["paths"][&path][&method]["responses"][&status];
            assert!(
                declared.is_object(),
                "{method} {path} answered {status}, which the document does not declare"
            );
            let is_json = r
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .is_some_and(|c| c.to_str().unwrap().starts_with("application/json"));
            let body = r.text().await.unwrap();
            if is_json {
                let pointer = format!(
                    "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
                    path.replace('~', "~0")
                        .replace('/', "~1")
                        .replace('{', "%7B")
                        .replace('}', "%7D")
                );
                let mut schema = doc.clone();
                schema["$ref"] = json!(pointer);
                let v = jsonschema::validator_for(&schema).unwrap();
                let instance: Value = serde_json::from_str(&body).unwrap();
                let errors: Vec<String> = v
                    .iter_errors(&instance)
                    .map(|e| format!("{}: {e}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{method} {path}: {errors:?}\n{body}");
            }
        }
    }

    #[tokio::test]
    async fn a_reconciliation_of_an_unknown_sync_is_404_naming_the_configured_ones() {
        let f = fixture().await;
        let r = f.get("/api/syncs/nope/reconcile").await;
        assert_eq!(r.status(), S::NOT_FOUND);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"],
            json!("no sync \"nope\"; the configured syncs are: workers")
        );
        let page = f.get("/syncs/nope/reconcile").await;
        assert_eq!(page.status(), S::NOT_FOUND);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("no sync &quot;nope&quot;")
        );
        // This fixture has no engine: a configured sync is refused, not reported empty.
        assert_eq!(
            f.get("/api/syncs/workers/reconcile").await.status(),
            S::CONFLICT
        );
        // The status page links each sync's reconciliation.
        let status = f.get("/").await.text().await.unwrap();
        assert!(status.contains("<a class=\"reconcile\" href=\"/syncs/workers/reconcile\">"));
    }

    #[tokio::test]
    async fn syncs_runs_and_dead_letters_show_the_store() {
        let f = fixture().await;
        let syncs = f.json("/api/syncs").await;
        let w = &syncs[0];
        assert_eq!(
            (
                w["name"].as_str(),
                w["schedule"].as_str(),
                w["timezone"].as_str()
            ),
            (Some("workers"), Some("0 2 * * *"), Some("Asia/Shanghai"))
        );
        assert_eq!(
            w["a"],
            json!({"plugin": "zhenfeng-registry", "stream": "workers"})
        );
        assert_eq!(
            (
                w["last_run"]["id"].as_i64(),
                w["last_run"]["status"].as_str()
            ),
            (Some(2), Some("partial"))
        );
        assert_eq!(w["dead_letters"], json!(1));
        // 02:00 in Shanghai is 18:00 UTC the day before; the API writes every time as the
        // store does (UTC, milliseconds, `Z`), the page in the deployment's zone.
        let next_text = w["next_runs"][0].as_str().unwrap();
        assert!(next_text.ends_with("T18:00:00.000Z"), "{next_text}");
        let next: chrono::DateTime<chrono::FixedOffset> = next_text.parse().unwrap();
        let ahead = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
        assert!(
            ahead > chrono::Duration::zero() && ahead <= chrono::Duration::hours(24),
            "{next}"
        );
        assert_eq!(f.json("/api/syncs/workers").await["name"], json!("workers"));
        assert_eq!(f.get("/api/syncs/nope").await.status(), S::NOT_FOUND);

        let runs = f.json("/api/runs").await;
        assert_eq!(
            runs.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(
            f.json("/api/runs?limit=1").await.as_array().unwrap().len(),
            1
        );
        // A sync the deployment does not have is a typo, not an empty history.
        assert_eq!(f.get("/api/runs?sync=other").await.status(), S::NOT_FOUND);
        assert_eq!(f.get("/api/runs?limit=0").await.status(), S::BAD_REQUEST);
        assert_eq!(f.get("/api/runs?limit=many").await.status(), S::BAD_REQUEST);
        let run = f.json("/api/runs/1").await;
        assert_eq!(
            (
                run["stats"]["a"]["read"].as_u64(),
                run["stats"]["b"]["created"].as_u64()
            ),
            (Some(3000), Some(1322))
        );
        assert_eq!(f.get("/api/runs/99").await.status(), S::NOT_FOUND);

        let dead = f.json("/api/dead-letters").await;
        assert_eq!(dead[0]["key_masked"], json!("5223**********123X"));
        assert_eq!(dead[0]["errors"][0]["pointer"], json!("/idNumber"));
        let one = f
            .json(&format!("/api/dead-letters/{}", dead[0]["id"]))
            .await;
        assert_eq!(one["remote_id"], json!("ZF-000017"));
        assert!(
            one.get("record").is_none(),
            "the sealed record is not shown"
        );
        assert_eq!(f.get("/api/dead-letters/99").await.status(), S::NOT_FOUND);
        let ready = f.json("/readyz").await;
        assert_eq!(
            (
                ready["ready"].as_bool(),
                ready["status"].as_str(),
                ready["syncs"].as_u64()
            ),
            (Some(true), Some("ready"), Some(1))
        );

        // One clock in the API: every time is UTC with milliseconds and `Z`, never `+08:00` on
        // one line and `Z` on the next.
        fn times<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
            match v {
                Value::String(s)
                    if s.len() >= 20
                        && s.as_bytes()[10] == b'T'
                        && s[..4].parse::<u16>().is_ok() =>
                {
                    out.push(s)
                }
                Value::Array(a) => a.iter().for_each(|x| times(x, out)),
                Value::Object(m) => m.values().for_each(|x| times(x, out)),
                _ => {}
            }
        }
        let mut seen = Vec::new();
        let answers = [
            f.json("/api/syncs").await,
            f.json("/api/runs").await,
            f.json("/api/dead-letters").await,
            f.json("/api/leases").await,
        ];
        for a in &answers {
            times(a, &mut seen);
        }
        assert!(seen.len() >= 8, "{seen:?}");
        for t in seen {
            assert!(
                t.ends_with('Z') && t.len() == "2026-12-04T02:26:10.123Z".len(),
                "{t}"
            );
        }
    }

    #[tokio::test]
    async fn a_replay_is_requested_once_per_open_dead_letter_and_its_history_shown() {
        let f = fixture().await;
        let r = f.post("/api/dead-letters/1/replay").await;
        assert_eq!(r.status(), S::ACCEPTED);
        assert_eq!(r.json::<Value>().await.unwrap()["requested"], json!(1));
        assert!(f.json("/api/dead-letters/1").await["replay_requested_at"].is_string());
        assert_eq!(
            f.post("/api/dead-letters/99/replay").await.status(),
            S::NOT_FOUND
        );
        // A run replays it through (as the engine records it): closed, with its history.
        f.store
            .finish_replay(1, 7, "valid now: staged by this run", true, None)
            .await
            .unwrap();
        let d = f.json("/api/dead-letters/1").await;
        assert_eq!(
            (d["status"].as_str(), d["replay_requested_at"].as_str()),
            (Some("replayed"), None)
        );
        assert_eq!(
            (
                d["replays"][0]["run_id"].as_i64(),
                d["replays"][0]["result"].as_str()
            ),
            (Some(7), Some("valid now: staged by this run"))
        );
        assert!(d["replays"][0]["requested_at"].is_string());
        assert_eq!(
            f.post("/api/dead-letters/1/replay").await.status(),
            S::CONFLICT
        );
        let all = f.post("/api/dead-letters/replay?sync=workers").await;
        assert_eq!(
            all.json::<Value>().await.unwrap()["requested"],
            json!(0),
            "none is open any more"
        );
        assert_eq!(f.json("/api/dead-letters").await, json!([]));
    }

    #[tokio::test]
    async fn a_conflict_is_counted_until_a_person_takes_a_side_and_the_next_run_settles_it() {
        let f = fixture().await;
        let open = f.json("/api/conflicts").await;
        assert_eq!(open.as_array().unwrap().len(), 1);
        assert_eq!(
            (
                open[0]["key_masked"].as_str(),
                open[0]["side"].as_str(),
                open[0]["attempts"].as_i64()
            ),
            (Some("5223**********0011"), Some("b"), Some(1))
        );
        // Met again by run 2: one conflict, two attempts.
        f.store
            .commit(
                "workers",
                Commit {
                    conflicts: &[conflict(2)],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let c = f.json("/api/conflicts/1").await;
        assert_eq!(
            (
                c["attempts"].as_i64(),
                c["first_run_id"].as_i64(),
                c["last_run_id"].as_i64()
            ),
            (Some(2), Some(1), Some(2))
        );
        assert_eq!(f.json("/api/syncs/workers").await["conflicts"], json!(1));

        let resolve = |body: &'static str, content_type: Option<&'static str>| {
            let mut r = f
                .http
                .post(format!("{}/api/conflicts/1/resolve", f.url))
                .bearer_auth(TOKEN)
                .body(body);
            if let Some(t) = content_type {
                r = r.header(reqwest::header::CONTENT_TYPE, t);
            }
            r.send()
        };
        assert_eq!(
            resolve(r#"{"take":"c"}"#, Some("application/json"))
                .await
                .unwrap()
                .status(),
            S::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            resolve(r#"{"take":"b"}"#, None).await.unwrap().status(),
            S::UNSUPPORTED_MEDIA_TYPE
        );
        let r = resolve(r#"{"take":"b"}"#, Some("application/json"))
            .await
            .unwrap();
        assert_eq!(r.status(), S::ACCEPTED);
        assert_eq!(r.json::<Value>().await.unwrap()["take"], json!("b"));
        assert_eq!(
            f.store.conflict_takes("workers").await.unwrap().get(KEY),
            Some(&Side::B)
        );
        // The next run writes it and the key settles: resolved as the person decided.
        f.store
            .commit(
                "workers",
                Commit {
                    settled: &[KEY.to_string()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let c = f.json("/api/conflicts/1").await;
        assert_eq!(
            (c["status"].as_str(), c["resolution"].as_str()),
            (Some("resolved"), Some("took b"))
        );
        assert!(c["resolved_at"].is_string());
        assert_eq!(f.json("/api/conflicts").await, json!([]));
        assert_eq!(
            f.json("/api/conflicts?all=true")
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            resolve(r#"{"take":"a"}"#, Some("application/json"))
                .await
                .unwrap()
                .status(),
            S::CONFLICT
        );
        assert_eq!(f.get("/api/conflicts/9").await.status(), S::NOT_FOUND);
    }

    /// The error body of `r`, after checking its status and that it is JSON `{"error": ...}`.
    async fn error_of(r: reqwest::Response, status: S) -> String {
        assert_eq!(r.status(), status, "{}", r.url());
        let body: Value = r.json().await.expect("an error body is JSON");
        body["error"]
            .as_str()
            .expect("{\"error\": ...}")
            .to_string()
    }

    /// Each list of what the store keeps (runs, dead letters, conflicts) answers `?sync=name`
    /// with 404 and `message`.
    async fn history_lists_answer_404(f: &Fixture, name: &str, message: &str) {
        for list in ["runs", "dead-letters", "conflicts"] {
            let path = format!("/api/{list}?sync={name}");
            assert_eq!(
                error_of(f.get(&path).await, S::NOT_FOUND).await,
                message,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn typos_are_errors_naming_what_is_wrong() {
        let f = fixture().await;
        let nosuch = "no sync \"nosuch\"; the configured syncs are: workers";
        assert_eq!(
            error_of(f.get("/api/syncs/nosuch").await, S::NOT_FOUND).await,
            nosuch
        );
        history_lists_answer_404(
            &f,
            "nosuch",
            "no sync \"nosuch\" in the configuration or the run history; the configured syncs are: workers",
        )
        .await;
        for path in [
            "/api/syncs/nosuch/trigger",
            "/api/syncs/nosuch/pause",
            "/api/syncs/nosuch/resume",
            "/api/dead-letters/replay?sync=nosuch",
        ] {
            assert_eq!(
                error_of(f.post(path).await, S::NOT_FOUND).await,
                nosuch,
                "{path}"
            );
        }
        // Nothing was requested for the sync that exists either.
        assert_eq!(
            f.store.dead_letters(Some("workers")).await.unwrap()[0].replay_requested_at,
            None
        );
        let cases = [
            (
                "/api/runs?synk=workers",
                "unknown query parameter \"synk\"; this route takes sync, limit",
            ),
            (
                "/api/runs?limit=abc",
                "query parameter limit must be a whole number from 1 to 1000, not \"abc\"",
            ),
            (
                "/api/runs?limit=0",
                "query parameter limit must be a whole number from 1 to 1000, not \"0\"",
            ),
            (
                "/api/runs?sync=workers&sync=other",
                "query parameter \"sync\" is given twice",
            ),
            (
                "/api/conflicts?all=yes",
                "query parameter all must be true or false, not \"yes\"",
            ),
            (
                "/api/runs/abc",
                "run id must be a whole number such as 12, not \"abc\"",
            ),
            (
                "/api/dead-letters/1x",
                "dead letter id must be a whole number such as 12, not \"1x\"",
            ),
        ];
        for (path, message) in cases {
            assert_eq!(
                error_of(f.get(path).await, S::BAD_REQUEST).await,
                message,
                "{path}"
            );
        }
        assert_eq!(
            error_of(f.get("/api/sync").await, S::NOT_FOUND).await,
            "no route /api/sync; the routes are listed in /openapi.json"
        );
        assert_eq!(
            error_of(f.post("/api/runs").await, S::METHOD_NOT_ALLOWED).await,
            "/api/runs does not take POST; see /openapi.json for its methods"
        );
    }

    /// A sync removed from the configuration keeps its history: its runs, dead letters and
    /// conflicts can be listed by its name; a name in neither the configuration nor the run
    /// history stays a 404.
    #[tokio::test]
    async fn a_removed_syncs_history_is_listed_by_its_name_and_other_names_are_404() {
        let f = fixture().await;
        // Run 3 of `retired`, a sync the configuration no longer has, with a dead letter.
        let run = f
            .finished_run("retired", "ok", json!({"a": {"read": 4}}), None)
            .await;
        let dl = NewDeadLetter {
            run_id: run,
            side: Side::B,
            stage: "write",
            key_hash: Some("ef".repeat(32)),
            key_masked: Some("4403**********0017".into()),
            remote_id: None,
            record_hash: "01".repeat(32),
            errors: vec![],
            record: None,
        };
        f.store
            .commit(
                "retired",
                Commit {
                    dead_letters: &[dl],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let ids = |v: Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(ids(f.json("/api/runs?sync=retired").await), vec![3]);
        assert_eq!(ids(f.json("/api/dead-letters?sync=retired").await), vec![2]);
        assert_eq!(f.json("/api/conflicts?sync=retired").await, json!([]));
        // The configured sync's lists leave it out.
        assert_eq!(ids(f.json("/api/runs?sync=workers").await), vec![2, 1]);
        // A typo is a 404 that names the removed sync as well as the configured ones.
        history_lists_answer_404(
            &f,
            "retire",
            "no sync \"retire\" in the configuration or the run history; the configured syncs are: workers; removed, with a history: retired",
        )
        .await;
        // What needs a sync that can run still needs a configured one.
        for path in [
            "/api/dead-letters/replay?sync=retired",
            "/api/syncs/retired/trigger",
        ] {
            assert_eq!(
                error_of(f.post(path).await, S::NOT_FOUND).await,
                "no sync \"retired\"; the configured syncs are: workers",
                "{path}"
            );
        }
        assert_eq!(
            f.store.dead_letters(Some("retired")).await.unwrap()[0].replay_requested_at,
            None
        );
    }

    #[tokio::test]
    async fn a_second_conflict_decision_is_refused_unless_it_replaces_the_first() {
        let f = fixture().await;
        let resolve = |body: &'static str, content_type: Option<&'static str>| {
            let mut r = f
                .http
                .post(format!("{}/api/conflicts/1/resolve", f.url))
                .bearer_auth(TOKEN)
                .body(body);
            if let Some(t) = content_type {
                r = r.header(reqwest::header::CONTENT_TYPE, t);
            }
            r.send()
        };
        let json = Some("application/json");
        let shape = r#"{"take": "a"} or {"take": "b"}, or {"fields": {"/pointer": "a" | "b", ...}, "reason": "..."}, with "replace": true to change an earlier decision"#;
        let bad = [
            (
                r#""a""#,
                S::UNPROCESSABLE_ENTITY,
                format!("the body must be a JSON object: {shape}"),
            ),
            (
                r#"{"takes":"a"}"#,
                S::UNPROCESSABLE_ENTITY,
                format!("unknown field \"takes\" in the body; it takes {shape}"),
            ),
            (
                r#"{}"#,
                S::UNPROCESSABLE_ENTITY,
                format!(
                    "the body has no \"take\" or \"fields\": say which side's record or which fields to keep, {shape}"
                ),
            ),
            (
                r#"{"take":"c"}"#,
                S::UNPROCESSABLE_ENTITY,
                r#""take" must be "a" or "b" (the side whose record is kept), not "c""#.to_string(),
            ),
            (
                r#"{"take":"a","replace":"yes"}"#,
                S::UNPROCESSABLE_ENTITY,
                r#""replace" must be true or false, not "yes""#.to_string(),
            ),
            (
                r#"{"take":"#,
                S::BAD_REQUEST,
                format!("the body is not JSON (line 1, column 8); send {shape}"),
            ),
        ];
        for (body, status, message) in bad {
            assert_eq!(
                error_of(resolve(body, json).await.unwrap(), status).await,
                message,
                "{body}"
            );
        }
        assert_eq!(
            error_of(
                resolve(r#"{"take":"a"}"#, None).await.unwrap(),
                S::UNSUPPORTED_MEDIA_TYPE
            )
            .await,
            format!(
                "the body must be JSON sent with Content-Type: application/json, such as {shape}"
            )
        );
        let r = resolve(r#"{"take":"a"}"#, json).await.unwrap();
        assert_eq!(r.status(), S::ACCEPTED);
        assert_eq!(
            error_of(resolve(r#"{"take":"b"}"#, json).await.unwrap(), S::CONFLICT).await,
            r#"conflict 1 already has a decision (take side a by admin), which the next run applies; send {"take": "b", "replace": true} to replace it"#
        );
        assert_eq!(
            f.store.conflict_takes("workers").await.unwrap().get(KEY),
            Some(&Side::A),
            "the refused decision changed nothing"
        );
        let r = resolve(r#"{"take":"b","replace":true}"#, json)
            .await
            .unwrap();
        assert_eq!(r.status(), S::ACCEPTED);
        assert_eq!(r.json::<Value>().await.unwrap()["take"], json!("b"));
        assert_eq!(
            f.store.conflict_takes("workers").await.unwrap().get(KEY),
            Some(&Side::B)
        );
    }

    #[tokio::test]
    async fn trigger_pause_and_resume_reach_the_schedule_state() {
        let f = fixture().await;
        assert_eq!(
            f.post("/api/syncs/workers/trigger").await.status(),
            S::ACCEPTED
        );
        assert!(
            f.store
                .schedule_state("workers")
                .await
                .unwrap()
                .trigger_requested
        );
        assert_eq!(f.post("/api/syncs/workers/pause").await.status(), S::OK);
        assert!(f.store.schedule_state("workers").await.unwrap().paused);
        assert_eq!(f.json("/api/syncs/workers").await["paused"], json!(true));
        assert_eq!(f.post("/api/syncs/workers/resume").await.status(), S::OK);
        assert!(!f.store.schedule_state("workers").await.unwrap().paused);
        assert_eq!(
            f.post("/api/syncs/nope/trigger").await.status(),
            S::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn the_status_page_signs_in_with_the_token_and_shows_the_counts() {
        let f = fixture().await;
        let r = f.http.get(format!("{}/", f.url)).send().await.unwrap();
        assert_eq!(
            (
                r.status(),
                r.headers()[reqwest::header::LOCATION].to_str().unwrap()
            ),
            (S::SEE_OTHER, "/login")
        );
        let bad = f
            .http
            .post(format!("{}/login", f.url))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("token=nope")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), S::UNAUTHORIZED);
        let ok = f
            .http
            .post(format!("{}/login", f.url))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!("token={TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), S::SEE_OTHER);
        let cookie = ok.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        assert!(
            !cookie.contains(TOKEN),
            "the cookie is not the token itself"
        );
        let page = f.with_cookie(reqwest::Method::GET, "/", &cookie).await;
        assert_eq!(page.status(), S::OK);
        let html = page.text().await.unwrap();
        // The latest run (2) read 1 + 2 records and wrote 1 + 1.
        assert!(
            html.contains("<td class=\"num read\">3</td><td class=\"num written\">2</td>"),
            "{html}"
        );
        assert!(
            html.contains("同步 Sync")
                && html.contains("死信 Dead letters")
                && html.contains("5223**********123X")
        );
        assert!(
            html.contains("读取 read 3000 · 写入 written 1322 · 耗时 duration 6.60 s</title>"),
            "the chart has the first run"
        );
        // The cookie opens the page only: it cannot trigger a run (no cross-site request forgery).
        let forged = f
            .with_cookie(reqwest::Method::POST, "/api/syncs/workers/trigger", &cookie)
            .await;
        assert_eq!(forged.status(), S::UNAUTHORIZED);
        assert!(
            !f.store
                .schedule_state("workers")
                .await
                .unwrap()
                .trigger_requested
        );
    }

    /// The status page's HTML at `path`, signed in, after checking its status.
    async fn page_html(f: &Fixture, path: &str, status: S) -> String {
        let cookie = set_cookie(&sign_in(f, TOKEN).await).0;
        let r = f.with_cookie(reqwest::Method::GET, path, &cookie).await;
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(
            r.headers()[reqwest::header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{path}"
        );
        r.text().await.unwrap()
    }

    /// The run ids the run chart of `sync` links to, oldest first.
    fn charted_runs(html: &str, sync: &str) -> Vec<i64> {
        let charts = html
            .split(&format!("<div class=\"charts\" data-sync=\"{sync}\">"))
            .nth(1)
            .unwrap();
        let runs = charts.split("class=\"days-chart\"").next().unwrap();
        runs.split("<a href=\"/runs/")
            .skip(1)
            .map(|r| r.split('"').next().unwrap().parse().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn the_run_chart_marks_failed_runs_and_filters_the_runs_that_wrote() {
        let f = fixture().await;
        // Run 3 read 5 records and wrote none; run 4 failed, reading nothing.
        let stats = json!({"a": {"read": 5, "unchanged": 5}, "b": {"read": 0}, "duration_ms": 80});
        f.finished_run("workers", "ok", stats, None).await;
        let failed = json!({"duration_ms": 20});
        f.finished_run("workers", "failed", failed, Some("huiyang-esms: HTTP 401"))
            .await;
        let all = page_html(&f, "/", S::OK).await;
        assert_eq!(charted_runs(&all, "workers"), vec![1, 2, 3, 4]);
        // The failed run, and only it, is marked: a ✗ and its status in words in its title;
        // and so is today in the daily totals, with the failed run counted in its title.
        let (runs_chart, days_chart) = all.split_once("class=\"days-chart\"").unwrap();
        assert_eq!(runs_chart.matches("class=\"slot failed\"").count(), 1);
        assert_eq!(days_chart.matches("class=\"slot failed\"").count(), 1);
        assert!(days_chart.contains(
            " · 运行 runs 4 (失败 failed 1) · 读取 read 3008 · 写入 written 1324</title>"
        ));
        assert!(
            all.contains(
                "<a href=\"/runs/4\"><g class=\"slot failed\"><title>运行 run 4 · 失败 failed · "
            ),
            "{all}"
        );
        assert!(all.contains(" · 读取 read 0 · 写入 written 0 · 耗时 duration 0.02 s · huiyang-esms: HTTP 401</title>"));
        // One y scale for all four runs: 0 to 3000 by 1000 (the first run read 3000).
        assert_eq!(
            crate::admin_charts::texts_of(runs_chart, "y-tick"),
            ["0", "1000", "2000", "3000"]
        );
        assert!(runs_chart.contains("开始时间 start time (Asia/Shanghai)"));
        // Only the runs that wrote: 1 (1,322 created) and 2 (one update each way).
        let wrote = page_html(&f, "/?wrote=1", S::OK).await;
        assert_eq!(charted_runs(&wrote, "workers"), vec![1, 2]);
        assert!(wrote.contains(
            "<b aria-current=\"page\">只看有写入的运行 only runs that wrote records</b>"
        ));
        assert!(wrote.contains("<a href=\"/?wrote=0\">全部运行 all runs</a>"));
        assert_eq!(
            charted_runs(&page_html(&f, "/?wrote=0", S::OK).await, "workers"),
            vec![1, 2, 3, 4]
        );
        // Typos are errors, on a page that says what is wrong.
        for (path, message) in [
            (
                "/?wrote=yes",
                "query parameter wrote must be 1 (only runs that wrote records) or 0 (all runs), not &quot;yes&quot;",
            ),
            (
                "/?wrot=1",
                "unknown query parameter &quot;wrot&quot;; this route takes wrote",
            ),
            (
                "/?wrote=1&wrote=0",
                "query parameter &quot;wrote&quot; is given twice",
            ),
        ] {
            let html = page_html(&f, path, S::BAD_REQUEST).await;
            assert!(
                html.contains(&format!("<p class=\"bad\" id=\"error\">{message}</p>")),
                "{path}: {html}"
            );
        }
    }

    #[tokio::test]
    async fn the_daily_totals_sum_the_runs_of_each_day_in_the_deployments_zone() {
        let f = fixture().await;
        // Run 3 (read 40, created 4) started yesterday at 23:59:59 in Shanghai (15:59:59
        // UTC), run 2 today at 00:00:00 (16:00:00 UTC the day before); run 1, 30 days before
        // today's midnight, is out of the 30 days.
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        let utc_text = |day: chrono::NaiveDate, offset_s: i64| {
            (day.and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::Duration::hours(8)
                + chrono::Duration::seconds(offset_s))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
        };
        let third = f
            .finished_run(
                "workers",
                "ok",
                json!({"a": {"read": 40, "created": 4}}),
                None,
            )
            .await;
        // The store has no way to start a run in the past: its file is changed directly.
        let db = sqlx::SqlitePool::connect(&format!(
            "sqlite://{}",
            f._dir.path().join("state.db").display()
        ))
        .await
        .unwrap();
        for (id, at) in [
            (1, utc_text(today - chrono::Days::new(30), 0)),
            (2, utc_text(today, 0)),
            (third, utc_text(today, -1)),
        ] {
            sqlx::query("UPDATE runs SET started_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&db)
                .await
                .unwrap();
        }
        db.close().await;
        let html = page_html(&f, "/", S::OK).await;
        let days = html.split("class=\"days-chart\"").nth(1).unwrap();
        let days = days.split("</svg>").next().unwrap();
        let titles: Vec<&str> = days
            .split("<g class=\"slot")
            .skip(1)
            .map(|g| {
                g.split("<title>")
                    .nth(1)
                    .unwrap()
                    .split("</title>")
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(titles.len(), 30);
        let yesterday = today - chrono::Days::new(1);
        // Run 3: read 40, wrote 4; run 2: read 1 + 2, wrote 1 + 1.
        assert_eq!(
            titles[28],
            format!("{yesterday} · 运行 runs 1 · 读取 read 40 · 写入 written 4")
        );
        assert_eq!(
            titles[29],
            format!("{today} · 运行 runs 1 · 读取 read 3 · 写入 written 2")
        );
        assert_eq!(
            titles[0],
            format!(
                "{} · 运行 runs 0 · 读取 read 0 · 写入 written 0",
                today - chrono::Days::new(29)
            )
        );
        assert!(days.contains("日期 day (Asia/Shanghai)"));
        // The newest day is labelled, as MM-DD.
        assert!(days.contains(&format!(
            "class=\"x-tick\">{}</text>",
            today.format("%m-%d")
        )));
    }

    /// `token=<token>` posted to `/login` from `f`'s client.
    async fn sign_in(f: &Fixture, token: &str) -> reqwest::Response {
        f.http
            .post(format!("{}/login", f.url))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!("token={token}"))
            .send()
            .await
            .unwrap()
    }

    /// The `name=value` of a `Set-Cookie` answer, and its attributes.
    fn set_cookie(r: &reqwest::Response) -> (String, String) {
        let v = r.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
        let (pair, attributes) = v.split_once("; ").unwrap();
        (pair.to_string(), attributes.to_string())
    }

    /// `GET path` with the cookie `pair`: its status and `Location`, if any.
    async fn page_with(f: &Fixture, path: &str, pair: &str) -> (S, Option<String>) {
        let r = f.with_cookie(reqwest::Method::GET, path, pair).await;
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        (r.status(), location)
    }

    const VIEWER: &str = "viewer-token-0123456789";
    const OPERATOR: &str = "operator-token-0123456789";

    /// The fixture with a viewer `li.na`, an operator `wang` and today's single token
    /// (operator `admin`), and its admin state, to replace the tokens later (a reload).
    async fn fixture_with_roles() -> (Fixture, AdminState) {
        let kept = Arc::new(std::sync::Mutex::new(None));
        let k = kept.clone();
        let f = fixture_with(move |s| {
            // Failed tokens do not throttle these tests' later requests.
            let s = s.with_times(security::SESSION_LIFETIME, std::time::Duration::ZERO);
            s.set_tokens(Tokens::new([
                ("admin".to_string(), Role::Operator, TOKEN.to_string()),
                ("li.na".to_string(), Role::Viewer, VIEWER.to_string()),
                ("wang".to_string(), Role::Operator, OPERATOR.to_string()),
            ]));
            *k.lock().unwrap() = Some(s.clone());
            s
        })
        .await;
        let state = kept.lock().unwrap().take().unwrap();
        (f, state)
    }

    async fn send(
        f: &Fixture,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::Response {
        let mut r = f
            .http
            .request(method.clone(), format!("{}{path}", f.url))
            .bearer_auth(token);
        if method == reqwest::Method::POST && path.ends_with("/resolve") {
            r = r.json(&json!({"take": "a"}));
        }
        r.send().await.unwrap()
    }

    #[tokio::test]
    async fn a_viewer_reads_an_operator_also_acts_and_an_unknown_token_is_401() {
        let (f, _) = fixture_with_roles().await;
        let m = reqwest::Method::GET;
        for path in [
            "/api/syncs",
            "/api/runs",
            "/api/conflicts",
            "/api/conflicts/1",
            "/",
        ] {
            for t in [VIEWER, OPERATOR, TOKEN] {
                assert_eq!(send(&f, m.clone(), path, t).await.status(), S::OK, "{path}");
            }
            let r = send(&f, m.clone(), path, "unknown-token-0123456789").await;
            assert_eq!(r.status(), S::UNAUTHORIZED, "{path}");
        }
        // Every state-changing route needs an operator: 403 naming the role needed.
        for path in [
            "/api/syncs/workers/trigger",
            "/api/syncs/workers/pause",
            "/api/syncs/workers/resume",
            "/api/dead-letters/1/replay",
            "/api/dead-letters/replay",
            "/api/conflicts/1/resolve",
        ] {
            let r = send(&f, reqwest::Method::POST, path, VIEWER).await;
            assert_eq!(
                error_of(r, S::FORBIDDEN).await,
                "权限不足 this needs a token of role operator; token \"li.na\" has role viewer",
                "{path}"
            );
            let r = send(&f, reqwest::Method::POST, path, "unknown-token-0123456789").await;
            assert_eq!(r.status(), S::UNAUTHORIZED, "{path}");
        }
        // The operator's actions go through (the viewer's refusals changed nothing).
        assert!(!f.store.schedule_state("workers").await.unwrap().paused);
        let r = send(
            &f,
            reqwest::Method::POST,
            "/api/syncs/workers/pause",
            OPERATOR,
        )
        .await;
        assert_eq!(r.status(), S::OK);
        assert!(f.store.schedule_state("workers").await.unwrap().paused);
        let r = send(
            &f,
            reqwest::Method::POST,
            "/api/conflicts/1/resolve",
            OPERATOR,
        )
        .await;
        assert_eq!(r.status(), S::ACCEPTED);
        let c: Value = r.json().await.unwrap();
        assert_eq!(
            (c["take"].as_str(), c["decided_by"].as_str()),
            (Some("a"), Some("wang"))
        );
        // The decision is in the audit log under the operator's name: one entry for the side
        // it changes (b, taking a's record).
        let audit = f.store.audit_entries(Some("workers"), 10).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (
                audit[0].action.as_str(),
                audit[0].side,
                audit[0].system.as_str(),
                audit[0].actor.as_deref()
            ),
            ("decide", Side::B, "huiyang-esms", Some("wang"))
        );
        assert_eq!(
            audit[0].detail.as_deref(),
            Some(r#"{"conflict":1,"reason":null,"take":"a"}"#)
        );
    }

    #[tokio::test]
    async fn a_viewers_session_opens_pages_but_not_the_conflict_form_and_sees_values_masked() {
        let (f, _) = fixture_with_roles().await;
        let (pair, _) = set_cookie(&sign_in(&f, VIEWER).await);
        assert_eq!(page_with(&f, "/", &pair).await.0, S::OK);
        let r = f
            .with_cookie(reqwest::Method::GET, "/conflicts/1", &pair)
            .await;
        assert_eq!(r.status(), S::OK);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("li.na (查看者 viewer: values masked)"),
            "{html}"
        );
        assert!(!html.contains("<form id=\"decide\""), "{html}");
        // The form's POST is refused for the role before anything is read.
        let r = f
            .http
            .post(format!("{}/conflicts/1", f.url))
            .header(reqwest::header::COOKIE, &pair)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("field%3A%2Fphone=a&reason=x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), S::FORBIDDEN);
        assert!(r.text().await.unwrap().contains(
            "this needs a token of role operator; token &quot;li.na&quot; has role viewer"
        ));
        // Nothing was viewed in clear: no audit entry.
        assert!(f.store.audit_entries(None, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn rotated_tokens_take_effect_at_once_and_end_the_old_ones_sessions() {
        let (f, state) = fixture_with_roles().await;
        let (viewer_session, _) = set_cookie(&sign_in(&f, VIEWER).await);
        let (operator_session, _) = set_cookie(&sign_in(&f, OPERATOR).await);
        assert_eq!(page_with(&f, "/", &viewer_session).await.0, S::OK);
        // A reload with li.na's token rotated and wang promoted... to viewer.
        state.set_tokens(Tokens::new([
            (
                "li.na".to_string(),
                Role::Viewer,
                "viewer-token-rotated-0001".to_string(),
            ),
            ("wang".to_string(), Role::Viewer, OPERATOR.to_string()),
        ]));
        let m = reqwest::Method::GET;
        assert_eq!(
            send(&f, m.clone(), "/api/syncs", VIEWER).await.status(),
            S::UNAUTHORIZED
        );
        assert_eq!(
            send(&f, m.clone(), "/api/syncs", TOKEN).await.status(),
            S::UNAUTHORIZED
        );
        assert_eq!(
            send(&f, m.clone(), "/api/syncs", "viewer-token-rotated-0001")
                .await
                .status(),
            S::OK
        );
        // The old token's session ends; wang's stays, with the new role.
        assert_eq!(
            page_with(&f, "/", &viewer_session).await,
            (S::SEE_OTHER, Some("/login".into()))
        );
        assert_eq!(page_with(&f, "/", &operator_session).await.0, S::OK);
        let r = send(
            &f,
            reqwest::Method::POST,
            "/api/syncs/workers/trigger",
            OPERATOR,
        )
        .await;
        assert_eq!(
            error_of(r, S::FORBIDDEN).await,
            "权限不足 this needs a token of role operator; token \"wang\" has role viewer"
        );
    }

    #[tokio::test]
    async fn a_decision_naming_fields_needs_the_sync_loaded_and_typos_in_it_are_named() {
        let (f, _) = fixture_with_roles().await;
        let post = |body: Value| {
            f.http
                .post(format!("{}/api/conflicts/1/resolve", f.url))
                .bearer_auth(OPERATOR)
                .json(&body)
                .send()
        };
        let r = post(json!({"fields": {"/phone": "a"}, "reason": "x"}))
            .await
            .unwrap();
        assert_eq!(
            error_of(r, S::CONFLICT).await,
            "sync workers is not loaded on this server, so conflict 1's fields cannot be checked; take a side's record whole instead"
        );
        let r = post(json!({"fields": {"/phone": "c"}})).await.unwrap();
        assert_eq!(
            error_of(r, S::UNPROCESSABLE_ENTITY).await,
            "\"fields\"/\"/phone\" must be \"a\" or \"b\" (the side whose value is kept), not \"c\""
        );
        let r = post(json!({"fields": {}})).await.unwrap();
        assert_eq!(
            error_of(r, S::UNPROCESSABLE_ENTITY).await,
            "\"fields\" must be an object of at least one JSON pointer with \"a\" or \"b\", such as {\"/phone\": \"b\"}, not {}"
        );
        let r = post(json!({"take": "a", "fields": {"/phone": "a"}}))
            .await
            .unwrap();
        assert_eq!(
            error_of(r, S::UNPROCESSABLE_ENTITY).await,
            "the body has both \"take\" and \"fields\": a decision takes a side's record whole or chooses fields, not both"
        );
        let r = post(json!({"take": "a", "reson": "x"})).await.unwrap();
        assert!(
            error_of(r, S::UNPROCESSABLE_ENTITY)
                .await
                .starts_with("unknown field \"reson\" in the body")
        );
    }

    #[tokio::test]
    async fn pages_carry_a_strict_content_security_policy_with_the_hash_of_their_stylesheet() {
        use base64::Engine as _;
        use sha2::Digest as _;
        let f = fixture().await;
        // The hash of the stylesheet the pages carry, worked out here, from the page's own
        // `<style>` text (CSP Level 3: base64 of the SHA-256 of the element's content).
        let login = f.http.get(format!("{}/login", f.url)).send().await.unwrap();
        let headers = login.headers().clone();
        let html = login.text().await.unwrap();
        let inline = html
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .unwrap()
            .0;
        assert_eq!(inline, STYLE);
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline));
        assert_eq!(hash.len(), 44, "32 bytes in base64");
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        let cookie = set_cookie(&sign_in(&f, TOKEN).await).0;
        for path in [
            "/login",
            "/",
            "/?wrote=1",
            "/?wrote=yes",
            "/runs/1",
            "/runs/99",
        ] {
            let r = f.with_cookie(reqwest::Method::GET, path, &cookie).await;
            assert!(
                matches!(r.status(), S::OK | S::NOT_FOUND | S::BAD_REQUEST),
                "{path}"
            );
            let h = r.headers();
            assert_eq!(h["content-security-policy"], csp.as_str(), "{path}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
            assert!(
                h.get("strict-transport-security").is_none(),
                "{path}: plain HTTP"
            );
            // Nothing on the pages that the policy would block: no script, no style attribute,
            // no event handler, no other stylesheet.
            let html = r.text().await.unwrap();
            for blocked in [
                "<script",
                " style=",
                " onclick=",
                " onload=",
                "<link",
                "javascript:",
            ] {
                assert!(!html.contains(blocked), "{path} has {blocked}");
            }
            assert_eq!(html.matches("<style>").count(), 1, "{path}");
        }
        assert_eq!(headers["content-security-policy"], csp.as_str());
        // JSON answers carry the headers every answer has, not the page policy.
        let r = f.get("/api/syncs").await;
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        assert!(r.headers().get("content-security-policy").is_none());
        assert!(r.headers().get("strict-transport-security").is_none());
        // Refusals too.
        let r = f
            .http
            .get(format!("{}/api/syncs", f.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), S::UNAUTHORIZED);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }

    #[tokio::test]
    async fn a_sign_in_is_a_random_session_of_eight_hours_that_signing_out_ends() {
        let f = fixture().await;
        let first = sign_in(&f, TOKEN).await;
        assert_eq!(first.status(), S::SEE_OTHER);
        let (pair, attributes) = set_cookie(&first);
        assert_eq!(
            attributes,
            "Max-Age=28800; Path=/; HttpOnly; SameSite=Strict"
        );
        let id = pair.strip_prefix("hub_admin=").unwrap();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        let (other, _) = set_cookie(&sign_in(&f, TOKEN).await);
        assert_ne!(pair, other, "each sign-in is a session of its own");
        assert_eq!(page_with(&f, "/", &pair).await, (S::OK, None));
        assert_eq!(page_with(&f, "/runs/1", &pair).await, (S::OK, None));
        let page = f
            .with_cookie(reqwest::Method::GET, "/", &pair)
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(
            "<form id=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">退出 Sign out</button></form>"
        ));

        let out = f.with_cookie(reqwest::Method::POST, "/logout", &pair).await;
        assert_eq!(out.status(), S::SEE_OTHER);
        assert_eq!(out.headers()[reqwest::header::LOCATION], "/login");
        assert_eq!(
            out.headers()[reqwest::header::SET_COOKIE],
            "hub_admin=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
        );
        // The old cookie, kept by a client that ignores the clearing, opens nothing any more.
        assert_eq!(
            page_with(&f, "/", &pair).await,
            (S::SEE_OTHER, Some("/login".into()))
        );
        assert_eq!(
            page_with(&f, "/runs/1", &pair).await,
            (S::SEE_OTHER, Some("/login".into()))
        );
        assert_eq!(
            page_with(&f, "/", &other).await,
            (S::OK, None),
            "the other session stays"
        );
        // A made-up session id opens nothing.
        assert_eq!(
            page_with(&f, "/", &format!("hub_admin={}", "ab".repeat(32))).await,
            (S::SEE_OTHER, Some("/login".into()))
        );
    }

    #[tokio::test]
    async fn a_session_ends_after_its_lifetime() {
        let second = std::time::Duration::from_secs(1);
        let f = fixture_with(|s| s.with_times(second, security::FAILURE_WINDOW)).await;
        let r = sign_in(&f, TOKEN).await;
        let (pair, attributes) = set_cookie(&r);
        assert_eq!(attributes, "Max-Age=1; Path=/; HttpOnly; SameSite=Strict");
        assert_eq!(page_with(&f, "/", &pair).await, (S::OK, None));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(
            page_with(&f, "/", &pair).await,
            (S::SEE_OTHER, Some("/login".into()))
        );
    }

    #[tokio::test]
    async fn the_sixth_wrong_sign_in_in_a_minute_is_refused_and_the_right_token_with_it() {
        let f = fixture().await;
        for n in 1..=5 {
            let r = sign_in(&f, "wrong-token-0123456789").await;
            assert_eq!(r.status(), S::UNAUTHORIZED, "wrong sign-in {n}");
            assert!(r.text().await.unwrap().contains("令牌不对 Wrong token"));
        }
        let sixth = sign_in(&f, "wrong-token-0123456789").await;
        assert_eq!(sixth.status(), S::TOO_MANY_REQUESTS);
        // A minute from the first failure, less the moments since (rounded up): 60, or 59 on
        // a machine slow enough to take over a second for these requests.
        let retry = sixth.headers()[reqwest::header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .to_string();
        assert!(retry == "60" || retry == "59", "{retry}");
        let html = sixth.text().await.unwrap();
        assert!(
            html.contains(&format!(
                "登录失败次数过多，请 {retry} 秒后再试 too many failed sign-ins from 127.0.0.1: try again in {retry} s (at most 5 a minute per address)"
            )),
            "{html}"
        );
        let right = sign_in(&f, TOKEN).await;
        assert_eq!(right.status(), S::TOO_MANY_REQUESTS, "the right token too");
        assert!(right.headers().get(reqwest::header::SET_COOKIE).is_none());
        let api = f.get("/api/syncs").await;
        assert_eq!(api.status(), S::TOO_MANY_REQUESTS, "and the bearer token");
        assert!(api.headers().contains_key(reqwest::header::RETRY_AFTER));
        let body: Value = api.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("登录失败次数过多")
        );
        // Nothing else is held up: the health check, the sign-in form.
        assert_eq!(
            f.http
                .get(format!("{}/healthz", f.url))
                .send()
                .await
                .unwrap()
                .status(),
            S::OK
        );
        assert_eq!(
            f.http
                .get(format!("{}/login", f.url))
                .send()
                .await
                .unwrap()
                .status(),
            S::OK
        );
    }

    #[tokio::test]
    async fn wrong_bearer_tokens_count_as_failed_sign_ins_and_the_window_passes() {
        let window = std::time::Duration::from_secs(2);
        let f = fixture_with(|s| s.with_times(security::SESSION_LIFETIME, window)).await;
        for n in 1..=5 {
            let r = f
                .http
                .get(format!("{}/api/syncs", f.url))
                .bearer_auth("wrong-token-0123456789")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), S::UNAUTHORIZED, "wrong token {n}");
        }
        let r = sign_in(&f, TOKEN).await;
        assert_eq!(r.status(), S::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()[reqwest::header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        tokio::time::sleep(window + std::time::Duration::from_millis(100)).await;
        assert_eq!(
            sign_in(&f, TOKEN).await.status(),
            S::SEE_OTHER,
            "the window passed"
        );
        assert_eq!(f.get("/api/syncs").await.status(), S::OK);
    }

    /// Log lines written while the guard lives, on this thread (the tests' runtime runs its
    /// tasks on the test's own thread).
    struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture_logs() -> (
        Arc<std::sync::Mutex<Vec<u8>>>,
        tracing::subscriber::DefaultGuard,
    ) {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(move || Logs(writer.clone()))
            .finish();
        (buffer, tracing::subscriber::set_default(subscriber))
    }

    /// The captured log text, once it holds `wanted` (handshakes are logged by their own
    /// task, a moment after the client gave up), or after 5 s.
    async fn logged(logs: &std::sync::Mutex<Vec<u8>>, wanted: &str) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
            if text.contains(wanted) || tokio::time::Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// A deployment in `dir` with no syncs and `[admin]` as given, loaded.
    async fn tls_deployment(dir: &std::path::Path, admin: &str) -> (Config, View) {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("hub.toml"),
            format!(
                "[hub]\ndata_dir = \"data\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = {{ value = \"{TOKEN}\" }}\n{admin}"
            ),
        )
        .unwrap();
        let config = crate::config::load(&dir.join("hub.toml")).unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.join("data/state.db").display()))
            .await
            .unwrap();
        let view = View {
            store,
            syncs: BTreeMap::new(),
            problems: vec![],
            not_loaded: BTreeMap::new(),
            reload_refused: None,
            progress: ProgressBoard::default(),
            zone: chrono_tz::Asia::Shanghai,
            checks: crate::check::LiveChecks::default(),
            reconciler: None,
        };
        (config, view)
    }

    #[tokio::test]
    async fn https_serves_the_certificate_files_and_a_reload_swaps_them_for_new_connections() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (logs, _guard) = capture_logs();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        test_ca(d);
        let first = localhost_cert(
            d,
            "first",
            "1",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        let second = localhost_cert(d, "second", "2", &["rsa:2048"]);
        assert_ne!(first, second);
        let ca = std::fs::read(d.join("ca.pem")).unwrap();
        let install = |name: &str| {
            std::fs::copy(d.join(format!("{name}.pem")), d.join("admin.pem")).unwrap();
            std::fs::copy(d.join(format!("{name}.key")), d.join("admin.key")).unwrap();
        };
        install("first");
        let (config, view) =
            tls_deployment(d, "tls_cert = \"admin.pem\"\ntls_key = \"admin.key\"\n").await;
        let server = Server::start(&config, view).await.unwrap();
        let port = server.addr.port();
        assert_eq!(
            std::fs::read_to_string(d.join("data/admin.url")).unwrap(),
            format!("https://127.0.0.1:{port}/\n")
        );
        let base = format!("https://localhost:{port}");

        let (r, cert) = over_https(&ca, &format!("{base}/healthz")).await;
        assert_eq!(cert, first, "the certificate of admin.pem");
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
        assert_eq!(r.text().await.unwrap(), "ok");
        // Over HTTPS the session cookie is Secure.
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let signed_in = client
            .post(format!("{base}/login"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!("token={TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), S::SEE_OTHER);
        assert!(
            signed_in.headers()[reqwest::header::SET_COOKIE]
                .to_str()
                .unwrap()
                .ends_with("; Max-Age=28800; Path=/; HttpOnly; SameSite=Strict; Secure")
        );

        // Plain HTTP to the HTTPS port gets no answer, and the log names the client and why.
        let plain = reqwest::Client::new()
            .get(format!("http://localhost:{port}/healthz"))
            .send()
            .await;
        assert!(plain.is_err(), "{plain:?}");
        let wanted = " failed: received corrupt message of type InvalidContentType (not TLS: plain HTTP to the HTTPS port?)";
        let text = logged(&logs, wanted).await;
        let line = text
            .lines()
            .find(|l| l.contains(wanted))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.starts_with(" WARN "), "{line}");
        assert!(
            line.contains("admin API: TLS handshake with 127.0.0.1:"),
            "{line}"
        );
        // A client that does not trust the certificate refuses the handshake.
        let untrusting = reqwest::Client::builder()
            .tls_certs_only([])
            .build()
            .unwrap()
            .get(format!("{base}/healthz"))
            .send()
            .await;
        assert!(untrusting.is_err());
        let wanted = " failed: received fatal alert: UnknownCA (the client refused the handshake: does it trust the certificate and its name?)";
        let text = logged(&logs, wanted).await;
        assert!(text.contains(wanted), "{text}");
        // The server still serves.
        assert_eq!(
            over_https(&ca, &format!("{base}/healthz")).await.0.status(),
            S::OK
        );

        // New files, and the reload SIGHUP does: new connections get the new certificate.
        install("second");
        assert!(server.reload_certificate());
        let (r, cert) = over_https(&ca, &format!("{base}/healthz")).await;
        assert_eq!(r.status(), S::OK);
        assert_eq!(cert, second, "the reloaded certificate");
        let (pem, key) = (d.join("admin.pem"), d.join("admin.key"));
        assert!(logs_contain(
            &logs,
            &format!(
                "admin API: certificate reloaded from {} and {}; new connections use it",
                pem.display(),
                key.display()
            )
        ));

        // A bad key file: nothing changes, and the log says which file and why.
        std::fs::copy(d.join("first.pem"), &pem).unwrap();
        std::fs::write(&key, "not a key\n").unwrap();
        assert!(!server.reload_certificate());
        assert_eq!(over_https(&ca, &format!("{base}/healthz")).await.1, second);
        assert!(logs_contain(
            &logs,
            &format!(
                "ERROR hub::admin_tls: admin API: certificate not reloaded, the one in use stays: admin.tls_key: {} holds no private key (a PEM block \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" expected)",
                key.display()
            )
        ));
        // The key of another certificate.
        std::fs::copy(d.join("second.key"), &key).unwrap();
        assert!(!server.reload_certificate());
        assert_eq!(over_https(&ca, &format!("{base}/healthz")).await.1, second);
        assert!(logs_contain(
            &logs,
            &format!(
                "admin.tls_key: {} is not the private key of the certificate in {}",
                key.display(),
                pem.display()
            )
        ));
        server.stop();
    }

    fn logs_contain(logs: &std::sync::Mutex<Vec<u8>>, wanted: &str) -> bool {
        let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
        text.contains(wanted) || panic!("no {wanted:?} in:\n{text}")
    }

    #[tokio::test]
    async fn a_certificate_or_key_file_that_cannot_be_used_stops_the_start_naming_it() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        test_ca(d);
        localhost_cert(
            d,
            "first",
            "1",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        let cases = [
            (
                "tls_cert = \"missing.pem\"\ntls_key = \"first.key\"\n",
                format!(
                    "admin.tls_cert: cannot read {}: No such file or directory (os error 2)",
                    d.join("missing.pem").display()
                ),
            ),
            (
                "tls_cert = \"first.key\"\ntls_key = \"first.key\"\n",
                format!(
                    "admin.tls_cert: {} holds no certificate (PEM blocks \"-----BEGIN CERTIFICATE-----\" expected, the server's own first)",
                    d.join("first.key").display()
                ),
            ),
            (
                "tls_cert = \"first.pem\"\ntls_key = \"first.pem\"\n",
                format!(
                    "admin.tls_key: {} holds no private key (a PEM block \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" expected)",
                    d.join("first.pem").display()
                ),
            ),
            (
                "tls_cert = \"first.pem\"\ntls_key = \"ca.key\"\n",
                format!(
                    "admin.tls_key: {} is not the private key of the certificate in {}",
                    d.join("ca.key").display(),
                    d.join("first.pem").display()
                ),
            ),
        ];
        for (admin, message) in cases {
            let (config, view) = tls_deployment(d, admin).await;
            let e = Server::start(&config, view).await.err().unwrap();
            assert_eq!(format!("{e:#}"), message, "{admin}");
            assert!(
                !d.join("data/admin.url").exists(),
                "{admin}: nothing served"
            );
        }
    }

    #[test]
    fn directions_name_the_systems_and_say_one_way_or_both() {
        let (hy, zf) = ("huiyang-esms", "zhenfeng-registry");
        assert_eq!(
            direction_for_people("a_to_b", hy, zf),
            "单向 one way: huiyang-esms → zhenfeng-registry"
        );
        assert_eq!(
            direction_for_people("b_to_a", hy, zf),
            "单向 one way: zhenfeng-registry → huiyang-esms"
        );
        assert_eq!(
            direction_for_people("both", zf, hy),
            "双向 both ways: zhenfeng-registry ⇄ huiyang-esms"
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn control_characters_become_visible_escapes_on_pages() {
        assert_eq!(esc("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(esc("a\u{0}b"), "a\\u{0}b");
        assert_eq!(
            esc("<i>\u{1b}[2J\u{0}evil\nline\r</i>"),
            "&lt;i&gt;\\u{1b}[2J\\u{0}evil\\nline\\r&lt;/i&gt;"
        );
        assert_eq!(esc("贞丰县 ok"), "贞丰县 ok");
    }
}
