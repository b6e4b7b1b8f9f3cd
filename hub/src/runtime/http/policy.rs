//! The request policy: which methods a plugin may use, which headers are the host's to set,
//! and which origins it may reach (the deployment's `allow_hosts`). Every request passes here
//! before anything is sent; nothing here sends.

use super::{HttpError, HttpGrant, Request};

/// The methods a plugin may use: those the contract lists for `request.method`.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Whether the host refuses a request header a plugin sets (any case):
/// - `host`: the granted origin is where a request goes, and it must not name another
///   virtual host behind the same address (RFC 9110 §7.2);
/// - connection-level headers (RFC 9110 §7.6.1): `connection`, `keep-alive`, `upgrade`,
///   `te`, `trailer`, `proxy-connection` and every `proxy-*` header;
/// - message framing, which the client computes (RFC 9112 §6): `content-length`,
///   `transfer-encoding`, `expect`;
/// - what changes the coding or extent of the answer or the body (RFC 9110 §12.5.3, §8.4,
///   §14.2), which the host decides so that the body it scrubs of secrets is the body the
///   plugin gets: `accept-encoding`, `content-encoding`, `range`, `if-range`;
/// - what names another host, client or method to a proxy or framework in front of the
///   granted origin: `forwarded` (RFC 7239), `via`, `x-forwarded-*`, `x-real-ip`, `x-host`,
///   `x-original-url`, `x-rewrite-url`, `x-http-method-override`, `x-http-method`,
///   `x-method-override`.
pub fn refused_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("proxy-")
        || name.starts_with("x-forwarded-")
        || matches!(
            name.as_str(),
            "host"
                | "connection"
                | "keep-alive"
                | "upgrade"
                | "te"
                | "trailer"
                | "content-length"
                | "transfer-encoding"
                | "expect"
                | "accept-encoding"
                | "content-encoding"
                | "range"
                | "if-range"
                | "http2-settings"
                | "forwarded"
                | "via"
                | "x-real-ip"
                | "x-host"
                | "x-original-url"
                | "x-rewrite-url"
                | "x-http-method-override"
                | "x-http-method"
                | "x-method-override"
        )
}

/// An origin: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port]` (a trailing `/` is allowed; a path, query or credentials
    /// are not). Only `http` and `https`.
    pub fn parse(s: &str) -> Result<Origin, String> {
        let url = url::Url::parse(s)
            .map_err(|e| format!("{s:?} is not an origin (scheme://host[:port]): {e}"))?;
        if url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(format!(
                "{s:?} is not an origin: give only scheme://host[:port]"
            ));
        }
        Origin::of(&url).ok_or_else(|| format!("{s:?}: only http and https origins can be granted"))
    }

    /// The origin of a URL, if it is `http` or `https` with a host.
    pub fn of(url: &url::Url) -> Option<Origin> {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl HttpGrant {
    /// The request's method, if the contract allows it ([`METHODS`], in any case), and no
    /// header the host keeps for itself ([`refused_header`]); a refusal is logged.
    pub(super) fn allowed(&self, req: &Request) -> Result<reqwest::Method, HttpError> {
        let upper = req.method.to_ascii_uppercase();
        let refusal = if !METHODS.contains(&upper.as_str()) {
            Some(format!(
                "method {:?} is not one the contract allows ({})",
                crate::control_chars::escape(&req.method),
                METHODS.join(", ")
            ))
        } else {
            req.headers
                .iter()
                .find(|(k, _)| refused_header(k))
                .map(|(k, _)| {
                    format!(
                        "header {:?} is the host's to set, not a plugin's (connection-level, framing and content-coding headers are refused)",
                        crate::control_chars::escape(&k.to_ascii_lowercase())
                    )
                })
        };
        if let Some(why) = refusal {
            tracing::warn!(target: "hub::runtime::http", plugin = %self.plugin, "request refused: {why}");
            return Err(HttpError::Invalid(why));
        }
        reqwest::Method::from_bytes(upper.as_bytes())
            .map_err(|_| HttpError::Invalid(format!("method {:?}", req.method)))
    }

    /// The URL of a request and its origin, if the origin is granted to this plugin.
    pub(in crate::runtime) fn granted_url(
        &self,
        url: &str,
    ) -> Result<(url::Url, Origin), HttpError> {
        let url = url::Url::parse(url).map_err(|e| HttpError::Invalid(format!("URL: {e}")))?;
        let origin = Origin::of(&url)
            .ok_or_else(|| HttpError::Invalid("only http and https URLs".into()))?;
        if !self.origins.contains(&origin) {
            return Err(HttpError::Denied(format!(
                "origin {origin} is not granted to plugin {}",
                self.plugin
            )));
        }
        Ok((url, origin))
    }
}
