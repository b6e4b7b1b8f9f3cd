//! HTTP requests performed by the host.
//!
//! The host sends only to origins the deployment granted this plugin, applies its timeouts and
//! response size limit, and replaces `{{secret:NAME}}` (or `{{secret:NAME|form}}`, inserted
//! form-urlencoded) in header values and bodies with the named secret, so that a connector never
//! sees a credential. Redirects are not followed.

use crate::bindings::hub::connector::host;
use crate::bindings::hub::connector::types::{
    ConnectorError, Rejection, TargetRecord, WriteResult,
};

pub use crate::bindings::hub::connector::host::HttpError;

/// A request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: &'static str,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn new(method: &'static str, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` to `url`.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    /// A `PUT` to `url`.
    pub fn put(url: impl Into<String>) -> Request {
        Request::new("PUT", url)
    }

    /// A `DELETE` of `url`.
    pub fn delete(url: impl Into<String>) -> Request {
        Request::new("DELETE", url)
    }

    /// Adds a query parameter (form-urlencoded into the URL when sent).
    pub fn query(mut self, name: &str, value: &str) -> Request {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a header. The value may hold `{{secret:NAME}}`.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json(self, value: &impl serde::Serialize) -> Request {
        let body = serde_json::to_vec(value).expect("JSON values always serialise");
        self.header("content-type", "application/json").body(body)
    }

    /// Sets an `application/x-www-form-urlencoded` body from pairs. Values are encoded, except
    /// that a value which is exactly a `{{secret:NAME}}` placeholder is sent as
    /// `{{secret:NAME|form}}` so that the host encodes the secret itself.
    pub fn form(self, pairs: &[(&str, &str)]) -> Request {
        let body = pairs
            .iter()
            .map(|(k, v)| {
                let k = encode(k);
                if is_secret_placeholder(v) {
                    format!("{k}={}|form}}}}", v.trim_end_matches('}'))
                } else {
                    format!("{k}={}", encode(v))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.into_bytes())
    }

    /// Sets a CSV body (header row first) in `encoding`, with `Content-Type: text/csv` and its
    /// charset (RFC 7111).
    pub fn csv(self, table: &crate::csv::Table, encoding: crate::csv::Encoding) -> Request {
        let charset = match encoding {
            crate::csv::Encoding::Utf8 => "utf-8",
            crate::csv::Encoding::Gb18030 => "gb18030",
        };
        self.header("content-type", &format!("text/csv; charset={charset}"))
            .body(crate::csv::write(table, encoding))
    }

    /// Sets raw body bytes.
    pub fn body(mut self, body: Vec<u8>) -> Request {
        self.body = body;
        self
    }

    /// The full URL with the query parameters appended.
    pub fn url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{q}", self.url)
    }

    fn into_host(self) -> host::Request {
        host::Request {
            method: self.method.to_string(),
            url: self.url(),
            headers: self.headers,
            body: self.body,
        }
    }

    /// Sends the request through the host and answers when the headers arrive; the body is
    /// read in chunks through [`StreamingResponse::reader`] (for large exports: the host never
    /// holds or copies the whole body).
    pub fn send_streaming(self) -> Result<StreamingResponse, HttpError> {
        let r = host::send_streaming(&self.into_host())?;
        Ok(StreamingResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }

    /// Sends the request through the host.
    pub fn send(self) -> Result<Response, HttpError> {
        host::send(&self.into_host()).map(|r| Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn is_secret_placeholder(v: &str) -> bool {
    v.starts_with("{{secret:") && v.ends_with("}}") && !v[9..v.len() - 2].contains(['{', '}', '|'])
}

/// A response whose body is still with the host.
pub struct StreamingResponse {
    /// Status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    body: host::Body,
}

impl StreamingResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as a [`std::io::Read`]er, chunk by chunk (64 KiB at a time). Read errors are
    /// `std::io::Error`s wrapping the [`HttpError`].
    pub fn reader(self) -> BodyReader {
        BodyReader {
            body: self.body,
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    /// The whole body (for small answers).
    pub fn bytes(self) -> Result<Vec<u8>, HttpError> {
        let mut all = Vec::new();
        loop {
            let chunk = self.body.read(1 << 16)?;
            if chunk.is_empty() {
                return Ok(all);
            }
            all.extend_from_slice(&chunk);
        }
    }
}

/// Reads a streaming body.
pub struct BodyReader {
    body: host::Body,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() && !self.done {
            self.buf = self
                .body
                .read(1 << 16)
                .map_err(|e| std::io::Error::other(describe(&e)))?;
            self.pos = 0;
            self.done = self.buf.is_empty();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A response from the system.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; a parse failure is a permanent connector error naming `what`.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::Permanent(format!(
                "{what}: response (HTTP {}) is not the expected JSON: {e}",
                self.status
            ))
        })
    }

    /// The body parsed as CSV with a header row, in `encoding` (see [`crate::csv::parse`]).
    pub fn csv(&self, encoding: crate::csv::Encoding) -> Result<crate::csv::Table, ConnectorError> {
        crate::csv::parse(&self.body, encoding)
    }

    /// The error for an answer a call cannot use, by status (RFC 9110 §15): 401 and 403 are
    /// `auth`, 408, 429 and 5xx `transient`, anything else `permanent`. The message names `what`
    /// and the status, with the first 200 characters of the body.
    pub fn error(&self, what: &str) -> ConnectorError {
        let msg = format!(
            "{what}: HTTP {} {}",
            self.status,
            self.text().chars().take(200).collect::<String>()
        );
        match self.status {
            401 | 403 => ConnectorError::Auth(msg),
            408 | 429 | 500..=599 => ConnectorError::Transient(msg),
            _ => ConnectorError::Permanent(msg),
        }
    }

    /// The write result for an answer that refused one record, by status: 409 and 412 are
    /// `conflict` (the record changed meanwhile, RFC 9110 §15.5.10 and §15.5.13; a system whose
    /// 409 to a create names the record it already holds is answered `duplicate` by the
    /// connector itself, with [`crate::prelude::Existing`]), 400 and 422
    /// `rejected` (the record's fault; `pointer` is the JSON pointer of the field, when the
    /// answer names one), 408, 429 and 5xx `retry`. Any other status (401, 403, 404, ...) is not
    /// the record's fault and ends the call: `Err` as [`Response::error`] says.
    pub fn refusal(
        &self,
        what: &str,
        pointer: Option<String>,
    ) -> Result<WriteResult, ConnectorError> {
        let reason = format!(
            "{what}: HTTP {} {}",
            self.status,
            self.text().chars().take(200).collect::<String>()
        );
        match self.status {
            409 | 412 => Ok(WriteResult::Conflict(reason)),
            400 | 422 => Ok(WriteResult::Rejected(Rejection { reason, pointer })),
            408 | 429 | 500..=599 => Ok(WriteResult::Retry(reason)),
            _ => Err(self.error(what)),
        }
    }

    /// The write result of a `DELETE` of `target` (a `delete` op): 2xx is `deleted` (with the
    /// id the host gave), and so are 404 and 410 (the record is already gone, which the contract
    /// answers `deleted` too); anything else as [`Response::refusal`] says.
    pub fn deletion(
        &self,
        what: &str,
        target: &TargetRecord,
    ) -> Result<WriteResult, ConnectorError> {
        match self.status {
            200..=299 | 404 | 410 => Ok(crate::already_gone(target)),
            _ => self.refusal(what, None),
        }
    }

    /// The body as UTF-8 text (lossy), for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A one-line description of an HTTP failure.
pub fn describe(e: &HttpError) -> String {
    match e {
        HttpError::Denied(m) => format!("denied by the host: {m}"),
        HttpError::Timeout(m) => format!("timed out: {m}"),
        HttpError::Connection(m) => format!("connection failed: {m}"),
        HttpError::TooLarge(m) => format!("response too large: {m}"),
        HttpError::Invalid(m) => format!("invalid request: {m}"),
    }
}

impl From<HttpError> for ConnectorError {
    /// Timeouts and dropped connections may pass (transient); a denied origin or secret is the
    /// deployment's to fix (config); an oversized response or a malformed request will not pass
    /// (permanent).
    fn from(e: HttpError) -> ConnectorError {
        let msg = describe(&e);
        match e {
            HttpError::Timeout(_) | HttpError::Connection(_) => ConnectorError::Transient(msg),
            HttpError::Denied(_) => ConnectorError::Config(msg),
            HttpError::TooLarge(_) | HttpError::Invalid(_) => ConnectorError::Permanent(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_form_encoded() {
        let r = Request::get("http://h/export/workers.csv")
            .query("token", "a b")
            .query("since", "2021-09-02 10:00:00");
        assert_eq!(
            r.url(),
            "http://h/export/workers.csv?token=a+b&since=2021-09-02+10%3A00%3A00"
        );
    }

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn refusals_map_to_write_results_by_status() {
        let r = answer(422, r#"{"error":"bad phone"}"#)
            .refusal("create", Some("/phone".into()))
            .unwrap();
        assert!(
            matches!(&r, WriteResult::Rejected(Rejection { reason, pointer: Some(p) }) if reason == r#"create: HTTP 422 {"error":"bad phone"}"# && p == "/phone"),
            "{r:?}"
        );
        assert!(matches!(
            answer(412, "").refusal("update", None),
            Ok(WriteResult::Conflict(_))
        ));
        assert!(matches!(
            answer(409, "").refusal("update", None),
            Ok(WriteResult::Conflict(_))
        ));
        assert!(matches!(
            answer(503, "").refusal("update", None),
            Ok(WriteResult::Retry(_))
        ));
        assert!(matches!(
            answer(401, "").refusal("update", None),
            Err(ConnectorError::Auth(_))
        ));
        assert!(matches!(
            answer(404, "").refusal("update", None),
            Err(ConnectorError::Permanent(_))
        ));
        assert!(
            matches!(answer(429, "").error("read"), ConnectorError::Transient(m) if m == "read: HTTP 429 ")
        );
    }

    #[test]
    fn deletions_of_records_already_gone_are_deleted_too() {
        use crate::bindings::hub::connector::types::{WriteOp, Written};
        let t = TargetRecord {
            op: WriteOp::Delete,
            data: "{}".into(),
            remote_id: Some("31".into()),
            version: None,
            current: None,
        };
        for status in [200, 204, 404, 410] {
            assert!(
                matches!(answer(status, "").deletion("delete", &t), Ok(WriteResult::Deleted(Written { remote_id, version: None, stored: None })) if remote_id == "31"),
                "{status}"
            );
        }
        assert!(matches!(
            answer(412, "").deletion("delete", &t),
            Ok(WriteResult::Conflict(_))
        ));
        assert!(matches!(
            answer(503, "").deletion("delete", &t),
            Ok(WriteResult::Retry(_))
        ));
        assert!(matches!(
            answer(401, "").deletion("delete", &t),
            Err(ConnectorError::Auth(_))
        ));
    }

    #[test]
    fn form_bodies_encode_values_and_defer_secrets_to_the_host() {
        let r = Request::post("http://h/login")
            .form(&[("username", "{{secret:username}}"), ("xm", "王 芳&")]);
        assert_eq!(
            String::from_utf8(r.body.clone()).unwrap(),
            "username={{secret:username|form}}&xm=%E7%8E%8B+%E8%8A%B3%26"
        );
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/x-www-form-urlencoded")
        );
    }
}
