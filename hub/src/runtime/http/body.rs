//! An answer handed to a plugin: its codings checked (only a body as it is can be scrubbed),
//! its declared size held to the grant's `max_response`, its headers scrubbed, and its body
//! streamed through the [`Scrubber`] within the size cap and the time between two chunks.

use super::{HttpError, HttpGrant, Scrubber, error_chain};
use std::time::Duration;

/// A response body kept by the host and handed to the plugin in chunks.
pub struct BodyStream {
    resp: reqwest::Response,
    pending: Vec<u8>,
    received: usize,
    max: usize,
    timeout: Duration,
    scrubber: Scrubber,
    done: bool,
}

impl BodyStream {
    /// Reads up to `max` bytes; empty when the body is complete.
    pub async fn read(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        let max = max.max(1);
        while self.pending.is_empty() && !self.done {
            match tokio::time::timeout(self.timeout, self.resp.chunk()).await {
                Err(_) => {
                    return Err(HttpError::Timeout(format!(
                        "body: no data within {:?}",
                        self.timeout
                    )));
                }
                Ok(Ok(Some(chunk))) => {
                    self.received += chunk.len();
                    if self.received > self.max {
                        self.done = true;
                        return Err(HttpError::TooLarge(format!(
                            "body is over the limit of {} bytes",
                            self.max
                        )));
                    }
                    self.pending = self.scrubber.chunk(&chunk);
                }
                Ok(Ok(None)) => {
                    self.done = true;
                    self.pending = self.scrubber.finish();
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(HttpError::Connection(format!(
                        "while reading the body: {}",
                        error_chain(&e.without_url())
                    )));
                }
            }
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.drain(..n).collect())
    }
}

/// Status and headers of a response whose body is still with the host.
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Lower-case names and values (secrets scrubbed).
    pub headers: Vec<(String, String)>,
}

impl HttpGrant {
    /// The answer's head for the plugin, and its body to follow; refuses an answer with a
    /// coding the host cannot scrub through, or a declared length over `max_response`.
    pub(in crate::runtime) fn stream(
        &self,
        resp: reqwest::Response,
    ) -> Result<(Head, BodyStream), HttpError> {
        // The host asks for `identity` and hands out only bodies it can scrub as they are: any
        // content coding (each `content-encoding` field, each coding in it) or transfer coding
        // but `chunked` is refused. The server's values are not quoted: they could carry a
        // secret back.
        let other_than = |name: reqwest::header::HeaderName, allowed: &[u8]| {
            resp.headers()
                .get_all(name)
                .iter()
                .flat_map(|v| v.as_bytes().split(|b| *b == b','))
                .any(|c| !c.trim_ascii().eq_ignore_ascii_case(allowed))
        };
        let encoded = other_than(reqwest::header::CONTENT_ENCODING, b"identity");
        let transfer = other_than(reqwest::header::TRANSFER_ENCODING, b"chunked");
        if encoded || transfer {
            return Err(HttpError::Invalid(format!(
                "the answer has a {} coding other than {}: refused, since only a body as it is can be scrubbed of secrets (the host asks for identity)",
                if encoded { "content" } else { "transfer" },
                if encoded { "identity" } else { "chunked" }
            )));
        }
        let scrubber = Scrubber::new(&self.secrets);
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(&scrubber.all(v.as_bytes())).into_owned(),
                )
            })
            .collect();
        if resp
            .content_length()
            .is_some_and(|n| n as usize > self.max_response)
        {
            return Err(HttpError::TooLarge(format!(
                "body of {} bytes is over the limit of {}",
                resp.content_length().unwrap_or(0),
                self.max_response
            )));
        }
        let body = BodyStream {
            resp,
            pending: Vec::new(),
            received: 0,
            max: self.max_response,
            timeout: self.timeout,
            scrubber,
            done: false,
        };
        Ok((Head { status, headers }, body))
    }
}
