//! How the admin API says no: [`Failure`], answered as JSON `{"error": ...}` ([`ApiError`]),
//! and the checks of what a request names (its query parameters, a path's id, a sync's name)
//! that answer 400 or 404 naming what is wrong. No handler here; reads the view and the
//! store's history of sync names only.

use super::View;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// An error response: `{"error": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// What is wrong.
    pub error: String,
}

/// A refusal: the status and what is wrong, answered as an [`ApiError`] (JSON). The pages
/// answer their own as pages ([`super::pages::page_error`]) from the same two parts.
pub(super) struct Failure(pub(super) StatusCode, pub(super) String);

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
        tracing::error!(target: "hub::admin", "admin API: state store: {e:#}");
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the state store failed; see the daemon's log".into(),
        )
    }
}

impl From<crate::store::StoreError> for Failure {
    /// As an [`anyhow::Error`]: logged whole, answered 500.
    fn from(e: crate::store::StoreError) -> Failure {
        Failure::from(anyhow::Error::from(e))
    }
}

pub(super) fn not_found(what: String) -> Failure {
    Failure(StatusCode::NOT_FOUND, what)
}

pub(super) fn bad_request(what: String) -> Failure {
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
pub(super) fn unknown_sync(view: &View, name: &str) -> Failure {
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
pub(super) fn check_sync(view: &View, sync: Option<&str>) -> Result<(), Failure> {
    match sync {
        Some(name) if !configured(view).contains(&name) => Err(unknown_sync(view, name)),
        _ => Ok(()),
    }
}

/// For the lists of what the store keeps (runs, dead letters, conflicts): `Ok` when `sync` is
/// absent, configured (loaded or not), or has runs in the store's history (a sync removed from
/// the configuration, whose history can still be listed); else 404 listing the configured syncs
/// and the removed ones that have a history ([`crate::store::Store::history_sync`]).
pub(super) async fn check_history_sync(view: &View, sync: Option<&str>) -> Result<(), Failure> {
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
pub(super) fn query_params(
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
pub(super) fn query_bool(
    q: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<bool>, Failure> {
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
pub(super) fn path_id(what: &str, raw: &str) -> Result<i64, Failure> {
    raw.parse().map_err(|_| {
        bad_request(format!(
            "{what} id must be a whole number such as 12, not {raw:?}"
        ))
    })
}

/// Any path no route serves: 404 with a JSON body pointing at the route list.
pub(super) async fn no_route(uri: axum::http::Uri) -> Failure {
    not_found(format!(
        "no route {}; the routes are listed in /openapi.json",
        uri.path()
    ))
}

/// A route that exists but not with this method: 405 with a JSON body.
pub(super) async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Failure {
    Failure(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take {method}; see /openapi.json for its methods",
            uri.path()
        ),
    )
}
