//! The HTTP capability: requests a plugin hands to the host, checked against the origins the
//! deployment granted it, with secrets filled in by the host, timeouts and a response size cap.
//!
//! - Origins are compared as scheme, host and port (RFC 6454 §4), the default port filled in.
//! - `{{secret:NAME}}` in a header value or body is replaced by the secret's value;
//!   `{{secret:NAME|form}}` inserts it `application/x-www-form-urlencoded`. A name the
//!   deployment did not grant is refused (`denied`), and the plugin never sees a value.
//! - With a `rate_limit`, every attempt of every request first waits for a slot of the plugin's
//!   [`RateBudget`](super::rate::RateBudget), in line with the other syncs' requests.
//! - 429 and 503 answers are retried, up to [`MAX_ATTEMPTS`] attempts in all (and within the
//!   session's [`RetryBudget`], `limits.retries_per_run`), after the
//!   `Retry-After` delay (RFC 9110 §10.2.3, delay-seconds; at most [`MAX_RETRY_AFTER`]) or one
//!   second; a 429 holds the plugin's whole rate budget for that delay, so that no other sync
//!   sends to the system meanwhile; timeouts and dropped connections are retried for
//!   idempotent methods (`GET`, `PUT`, `DELETE`; RFC 9110 §9.2.2) only, after an exponential
//!   backoff (0.5 s, 1 s, 2 s, 4 s) with up to 25 % random jitter so that plugins do not retry
//!   in step.
//! - Only the contract's methods ([`METHODS`]) and no header the host keeps for itself
//!   ([`refused_header`]: `host`, connection-level, framing and content-coding headers).
//! - Responses come back as they are: the host asks for `identity` and refuses an answer with
//!   any content coding, or a transfer coding but `chunked` (a compressed body could carry a
//!   secret past the scrubber), with every granted secret scrubbed in the encodings a server
//!   may echo it in ([`Scrubber`]).
//! - Log lines carry the origin and path, never the query (it can hold session tokens).
//! - Timeouts (`limits.http_timeout_secs`): the answer's head must arrive within the timeout;
//!   a body read whole for the plugin (`send`) within the timeout again; a body the plugin
//!   streams (`send-streaming`) within the timeout between two chunks, with no limit in all
//!   (a registry export of millions of rows is read a batch at a time over a whole run).
//!
//! Where each part lives:
//! - `policy`: what a plugin may send at all, the methods, the headers the host keeps for
//!   itself and the granted [`Origin`]s;
//! - `secrets`: `{{secret:NAME}}` placeholders filled in a request;
//! - `scrub`: the [`Scrubber`] that takes every granted secret out of an answer;
//! - `send`: a request sent, attempt after attempt;
//! - `retry`: the session's [`RetryBudget`] and when, and after what wait, an attempt is
//!   retried (a 429's hold on the rate budget included);
//! - `body`: an answer checked (codings, size) and its body streamed to the plugin under the
//!   size and time limits.

mod body;
mod policy;
mod retry;
mod scrub;
mod secrets;
mod send;

pub use body::{BodyStream, Head};
pub use policy::{METHODS, Origin, refused_header};
pub use retry::RetryBudget;
pub use scrub::{MIN_SCRUBBED_SECRET, Scrubber};
pub use secrets::fill_secrets;

use std::collections::BTreeMap;
use std::time::Duration;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest `Retry-After` honoured; longer ones are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A request as the plugin built it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method name.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header names and values (values may hold secret placeholders).
    pub headers: Vec<(String, String)>,
    /// Body bytes (may hold secret placeholders).
    pub body: Vec<u8>,
}

/// The response handed back.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Lower-case header names and values.
    pub headers: Vec<(String, String)>,
    /// Body, at most the grant's `max_response` bytes.
    pub body: Vec<u8>,
}

/// Why no response is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Origin or secret not granted.
    Denied(String),
    /// No answer in time.
    Timeout(String),
    /// Connection failed or dropped.
    Connection(String),
    /// Body over the size cap.
    TooLarge(String),
    /// Malformed request.
    Invalid(String),
}

/// What one plugin may do over HTTP.
#[derive(Clone)]
pub struct HttpGrant {
    /// The plugin's name (for messages).
    pub plugin: String,
    /// Origins it may reach.
    pub origins: Vec<Origin>,
    /// Secrets it may name, by name.
    pub secrets: BTreeMap<String, String>,
    /// The client (connection pool) used for its requests.
    pub client: reqwest::Client,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Largest body handed back, bytes.
    pub max_response: usize,
    /// Recorded exchanges answering instead of the network (`hub plugin test`); `None` in a
    /// deployment.
    pub tape: Option<std::sync::Arc<super::tape::Tape>>,
    /// The system's request budget (`rate_limit`), shared by every session of the plugin:
    /// each attempt of each request waits for a slot of it. `None`: no limit.
    pub budget: Option<std::sync::Arc<super::rate::RateBudget>>,
}

impl std::fmt::Debug for HttpGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGrant")
            .field("plugin", &self.plugin)
            .field("origins", &self.origins)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// An error and its sources, outermost first, joined by `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests;
