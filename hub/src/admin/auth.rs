//! Who may do what: the admin tokens of a deployment ([`tokens`], [`token`]), the check every
//! request passes ([`authenticate`]: bearer header or session cookie, the sign-in throttle,
//! the operator role for `POST`), the security headers on every answer, and signing in and out
//! of the pages. The defences themselves (constant-time comparison, sessions, throttle,
//! headers) are [`super::security`]'s; this module applies them. It answers no API route and
//! never touches the state store.

use super::AdminState;
use super::errors::Failure;
use super::pages::{esc, page, page_error};
use super::security::{self, Principal, Role, Tokens};
use crate::config::Config;
use anyhow::Context as _;
use axum::Form;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write as _;

/// Name of the status page's session cookie.
pub(super) const COOKIE: &str = "hub_admin";

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

pub(super) fn cookie_of<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
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
pub(super) struct Client(std::net::IpAddr);

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
        target: "hub::admin", client = %client.0,
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
    tracing::warn!(target: "hub::admin", token = %who.name, role = who.role.as_str(), needs = needs.as_str(), "admin API: refused for the token's role");
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
pub(super) async fn authenticate(
    State(s): State<AdminState>,
    mut req: Request,
    next: Next,
) -> Response {
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
                tracing::warn!(target: "hub::admin", client = %client.0, path, "admin API: a request with a wrong bearer token");
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
pub(super) async fn security_headers(
    State(s): State<AdminState>,
    req: Request,
    next: Next,
) -> Response {
    let mut r = next.run(req).await;
    security::add_headers(r.headers_mut(), &s.csp, s.tls);
    r
}

pub(super) async fn login_form() -> Html<String> {
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

/// The sign-in form's one field.
#[derive(Deserialize)]
pub(super) struct LoginForm {
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
pub(super) async fn login(
    State(s): State<AdminState>,
    axum::Extension(client): axum::Extension<Client>,
    Form(f): Form<LoginForm>,
) -> Response {
    let Some((who, digest)) = s.tokens().find(f.token.trim().as_bytes()) else {
        s.throttle.failed(client.0);
        tracing::warn!(target: "hub::admin", client = %client.0, "admin API: sign-in with a wrong token");
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
    tracing::info!(target: "hub::admin", token = %who.name, role = who.role.as_str(), client = %client.0, "admin API: signed in");
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
pub(super) async fn logout(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_of(&headers, COOKIE) {
        s.sessions.close(id);
    }
    let cookie = format!("{COOKIE}=; {}", cookie_attributes(&s, 0));
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
