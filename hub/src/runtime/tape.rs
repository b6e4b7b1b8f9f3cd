//! Recorded HTTP exchanges in place of the network, for `hub plugin test`: a [`Tape`] either
//! plays exchanges back from files (no live system) or records what a live system answers.
//!
//! One exchange is two files in the fixture directory, paired by name:
//! `NNN-NAME.request.http` and `NNN-NAME.response.http`, each an HTTP/1.1 message as RFC 9112
//! writes it (start line, header lines, an empty line, the body bytes exactly; line ends CRLF or
//! LF). The request's target is the absolute URL (RFC 9112 §3.2.2, absolute-form):
//!
//! ```text
//! GET http://esms.test/api/v1/zhenfeng-workers?page=1&size=100 HTTP/1.1
//! x-api-key: {{secret:api_key}}
//!
//! ```
//!
//! A request the plugin sends is answered by the first exchange, in file-name order, not used
//! yet, whose request has the same method and URL, every header it lists with the same value
//! (others are ignored) and, when it has a body, the same body: equal JSON values if both are
//! JSON, otherwise equal bytes once trailing line ends are cut. Secrets stay placeholders
//! (`{{secret:NAME}}`) on both sides, so fixtures never hold one. A request that no exchange
//! answers fails with `connection` and is reported; so are exchanges never used.
//!
//! Recording writes the same files from a live run: requests as the plugin built them,
//! responses with secrets scrubbed and the `date`, `content-length`, `transfer-encoding` and
//! `connection` headers left out; the live origin is written as the fixture's origin.

use super::http::{BodyStream, Head, HttpError, HttpGrant, Request};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Headers a recording leaves out: they describe one transfer, not the answer.
const TRANSFER_HEADERS: &[&str] = &["date", "content-length", "transfer-encoding", "connection"];

/// A recorded request and its response.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The name the files share, e.g. `001-login`.
    pub name: String,
    /// Method, upper-case.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers the request must carry (name lower-case, value).
    pub headers: Vec<(String, String)>,
    /// The body the request must carry; empty for any.
    pub body: Vec<u8>,
    /// Status code of the response.
    pub status: u16,
    /// Response headers (name lower-case, value).
    pub response_headers: Vec<(String, String)>,
    /// Response body bytes.
    pub response_body: Vec<u8>,
}

/// A tape failed to load or record; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TapeError {
    /// The file at fault.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn tape_error(path: &Path, message: impl Into<String>) -> TapeError {
    TapeError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Splits an HTTP message into its head lines and body (after the first empty line).
fn split_message(bytes: &[u8]) -> (Vec<String>, Vec<u8>) {
    let mut lines = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| pos + i);
        let line = String::from_utf8_lossy(&bytes[pos..end]);
        let line = line.strip_suffix('\r').unwrap_or(&line).to_string();
        pos = (end + 1).min(bytes.len());
        if line.is_empty() {
            return (lines, bytes[pos..].to_vec());
        }
        lines.push(line);
    }
    (lines, Vec::new())
}

/// Parses header lines `name: value` (line numbers from 2 in messages).
fn parse_headers(lines: &[String], path: &Path) -> Result<Vec<(String, String)>, TapeError> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (k, v) = l.split_once(':').ok_or_else(|| {
                tape_error(
                    path,
                    format!("line {}: a header line is `name: value`", i + 2),
                )
            })?;
            Ok((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

impl Exchange {
    /// Reads the two files of exchange `name` in `dir`.
    pub fn load(dir: &Path, name: &str) -> Result<Exchange, TapeError> {
        let req_path = dir.join(format!("{name}.request.http"));
        let resp_path = dir.join(format!("{name}.response.http"));
        let read = |p: &Path| std::fs::read(p).map_err(|e| tape_error(p, e.to_string()));
        let (req_lines, body) = split_message(&read(&req_path)?);
        let start = req_lines
            .first()
            .ok_or_else(|| tape_error(&req_path, "empty: expected `METHOD URL HTTP/1.1`"))?;
        let mut parts = start.split_whitespace();
        let (Some(method), Some(url)) = (parts.next(), parts.next()) else {
            return Err(tape_error(
                &req_path,
                "line 1: expected `METHOD URL HTTP/1.1`",
            ));
        };
        let url = url::Url::parse(url)
            .map_err(|e| tape_error(&req_path, format!("line 1: {url:?} is not a URL: {e}")))?;
        let (resp_lines, response_body) = split_message(&read(&resp_path)?);
        let status = resp_lines
            .first()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (100..600).contains(s))
            .ok_or_else(|| tape_error(&resp_path, "line 1: expected `HTTP/1.1 STATUS REASON`"))?;
        Ok(Exchange {
            name: name.to_string(),
            method: method.to_ascii_uppercase(),
            url: url.to_string(),
            headers: parse_headers(&req_lines[1..], &req_path)?,
            body,
            status,
            response_headers: parse_headers(&resp_lines[1..], &resp_path)?,
            response_body,
        })
    }

    /// Every exchange in `dir`, in file-name order; a request file without its response file is
    /// an error.
    pub fn load_dir(dir: &Path) -> Result<Vec<Exchange>, TapeError> {
        let entries = std::fs::read_dir(dir).map_err(|e| tape_error(dir, e.to_string()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| tape_error(dir, e.to_string()))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(".request.http") {
                names.push(name.to_string());
            } else if let Some(name) = file.strip_suffix(".response.http")
                && !dir.join(format!("{name}.request.http")).exists()
            {
                return Err(tape_error(
                    &entry.path(),
                    "a response without its request file",
                ));
            }
        }
        names.sort();
        names.iter().map(|n| Exchange::load(dir, n)).collect()
    }

    /// Why this exchange does not answer `req`, or `None` if it does.
    fn mismatch(&self, req: &Request) -> Option<String> {
        if !self.method.eq_ignore_ascii_case(&req.method) {
            return Some(format!("method {} ≠ {}", self.method, req.method));
        }
        let url = url::Url::parse(&req.url).map_or_else(|_| req.url.clone(), |u| u.to_string());
        if self.url != url {
            return Some(format!("URL {} ≠ {url}", self.url));
        }
        for (k, v) in &self.headers {
            let sent = req
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str());
            if sent != Some(v.as_str()) {
                return Some(format!("header {k}: {v:?} ≠ {sent:?}"));
            }
        }
        if !same_body(&self.body, &req.body) {
            return Some(format!(
                "body {:?} ≠ {:?}",
                preview(&self.body),
                preview(&req.body)
            ));
        }
        None
    }
}

/// True if a recorded request body (empty for any) accepts the body sent.
fn same_body(recorded: &[u8], sent: &[u8]) -> bool {
    let trim = |b: &[u8]| -> Vec<u8> {
        let end = b
            .iter()
            .rposition(|c| !matches!(c, b'\r' | b'\n'))
            .map_or(0, |i| i + 1);
        b[..end].to_vec()
    };
    let recorded = trim(recorded);
    if recorded.is_empty() {
        return true;
    }
    let sent = trim(sent);
    match (
        serde_json::from_slice::<serde_json::Value>(&recorded),
        serde_json::from_slice::<serde_json::Value>(&sent),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => recorded == sent,
    }
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(120).collect()
}

/// What a tape does.
#[derive(Debug)]
enum Mode {
    /// Answers from exchanges; `used[i]` once exchange `i` answered.
    Replay {
        exchanges: Vec<Exchange>,
        used: Vec<bool>,
    },
    /// Sends live (through the plugin's grant, without the tape) and writes each exchange to
    /// `dir`.
    Record {
        dir: PathBuf,
        /// (live origin as written in URLs, e.g. `http://127.0.0.1:8081`, fixture origin).
        rewrite: Vec<(String, String)>,
        count: usize,
    },
}

/// Recorded exchanges standing in for the HTTP capability (see the module docs).
#[derive(Debug)]
pub struct Tape {
    mode: Mutex<Mode>,
    /// Requests no exchange answered, each with the nearest exchange's mismatch.
    misses: Mutex<Vec<String>>,
}

impl Tape {
    /// A player of the exchanges in `dir`.
    pub fn replay(dir: &Path) -> Result<Tape, TapeError> {
        let exchanges = Exchange::load_dir(dir)?;
        Ok(Tape {
            mode: Mutex::new(Mode::Replay {
                used: vec![false; exchanges.len()],
                exchanges,
            }),
            misses: Mutex::new(Vec::new()),
        })
    }

    /// A recorder into `dir`, sending to the live system. `rewrite` pairs a live origin (as
    /// written in URLs, e.g. `http://127.0.0.1:8081`) with the origin written in the files
    /// instead (in URLs, response headers and bodies).
    pub fn record(dir: &Path, rewrite: Vec<(String, String)>) -> Tape {
        Tape {
            mode: Mutex::new(Mode::Record {
                dir: dir.to_path_buf(),
                rewrite,
                count: 0,
            }),
            misses: Mutex::new(Vec::new()),
        }
    }

    /// Requests that no exchange answered, described.
    pub fn misses(&self) -> Vec<String> {
        self.misses.lock().expect("not poisoned").clone()
    }

    /// Names of the exchanges that answered no request (replay only).
    pub fn unused(&self) -> Vec<String> {
        match &*self.mode.lock().expect("not poisoned") {
            Mode::Replay { exchanges, used } => exchanges
                .iter()
                .zip(used)
                .filter(|(_, u)| !**u)
                .map(|(e, _)| e.name.clone())
                .collect(),
            Mode::Record { .. } => Vec::new(),
        }
    }

    /// Answers a request for `grant` (whose origins and secret scrubbing apply).
    pub(super) async fn send(
        &self,
        grant: &HttpGrant,
        req: Request,
        budget: &super::http::RetryBudget,
    ) -> Result<(Head, BodyStream), HttpError> {
        grant.granted_url(&req.url)?;
        {
            let mut mode = self.mode.lock().expect("not poisoned");
            match &mut *mode {
                Mode::Replay { exchanges, used } => {
                    let found = exchanges
                        .iter()
                        .enumerate()
                        .find(|(i, e)| !used[*i] && e.mismatch(&req).is_none())
                        .map(|(i, _)| i);
                    let Some(i) = found else {
                        drop(mode);
                        return Err(self.miss(&req));
                    };
                    used[i] = true;
                    let e = &exchanges[i];
                    return respond(
                        grant,
                        e.status,
                        &e.response_headers,
                        e.response_body.clone(),
                    );
                }
                Mode::Record { .. } => {}
            }
        }
        let live = HttpGrant {
            tape: None,
            ..grant.clone()
        };
        let (head, mut body) = Box::pin(live.send_streaming(req.clone(), budget)).await?;
        let mut bytes = Vec::new();
        loop {
            let chunk = body.read(1 << 20).await?;
            if chunk.is_empty() {
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        let headers: Vec<(String, String)> = head
            .headers
            .into_iter()
            .filter(|(k, _)| !TRANSFER_HEADERS.contains(&k.as_str()))
            .collect();
        self.write_exchange(&req, head.status, &headers, &bytes)
            .map_err(|e| HttpError::Connection(format!("recording: {e}")))?;
        respond(grant, head.status, &headers, bytes)
    }

    fn miss(&self, req: &Request) -> HttpError {
        let nearest = match &*self.mode.lock().expect("not poisoned") {
            Mode::Replay { exchanges, used } => exchanges
                .iter()
                .zip(used)
                .filter(|(e, u)| !**u && e.method.eq_ignore_ascii_case(&req.method))
                .filter_map(|(e, _)| e.mismatch(req).map(|m| format!("{}: {m}", e.name)))
                .min_by_key(|m| !m.contains(" URL ") as u8)
                .unwrap_or_else(|| "no unused exchange with this method".into()),
            Mode::Record { .. } => String::new(),
        };
        let what = format!(
            "no recorded exchange answers {} {} (nearest: {nearest})",
            req.method, req.url
        );
        self.misses.lock().expect("not poisoned").push(what.clone());
        HttpError::Connection(what)
    }

    fn write_exchange(
        &self,
        req: &Request,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut mode = self.mode.lock().expect("not poisoned");
        let Mode::Record {
            dir,
            rewrite,
            count,
            ..
        } = &mut *mode
        else {
            return Ok(());
        };
        *count += 1;
        let rw = |s: &str| {
            rewrite
                .iter()
                .fold(s.to_string(), |s, (live, fixed)| s.replace(live, fixed))
        };
        let url = rw(&req.url);
        let last = url::Url::parse(&url)
            .ok()
            .and_then(|u| {
                u.path_segments()
                    .and_then(|mut s| s.rfind(|p| !p.is_empty()).map(str::to_string))
            })
            .unwrap_or_else(|| "root".into());
        let slug: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let name = format!("{:03}-{}-{slug}", *count, req.method.to_ascii_lowercase());
        let mut out =
            format!("{} {url} HTTP/1.1\r\n", req.method.to_ascii_uppercase()).into_bytes();
        for (k, v) in &req.headers {
            out.extend(format!("{}: {v}\r\n", k.to_ascii_lowercase()).bytes());
        }
        out.extend(b"\r\n");
        out.extend(&req.body);
        std::fs::write(dir.join(format!("{name}.request.http")), out)?;
        let reason = ::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        for (k, v) in headers {
            out.extend(format!("{k}: {}\r\n", rw(v)).bytes());
        }
        out.extend(b"\r\n");
        match std::str::from_utf8(body) {
            Ok(text) => out.extend(rw(text).bytes()),
            Err(_) => out.extend(body),
        }
        std::fs::write(dir.join(format!("{name}.response.http")), out)
    }
}

/// A response held in memory, handed out as the grant hands out live ones.
fn respond(
    grant: &HttpGrant,
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(Head, BodyStream), HttpError> {
    let mut b = ::http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(k, v);
    }
    let resp = b
        .body(body)
        .map_err(|e| HttpError::Invalid(format!("recorded response: {e}")))?;
    grant.stream(reqwest::Response::from(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn req(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn exchanges_parse_with_lf_or_crlf_and_keep_the_body_bytes() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "001-login.request.http",
            "POST http://reg.test/login HTTP/1.1\ncontent-type: application/x-www-form-urlencoded\n\nusername={{secret:username|form}}\n",
        );
        write(
            dir.path(),
            "001-login.response.http",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"code\":0}",
        );
        let e = Exchange::load_dir(dir.path()).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].method.as_str(), e[0].url.as_str(), e[0].status),
            ("POST", "http://reg.test/login", 200)
        );
        assert_eq!(
            e[0].headers,
            [(
                "content-type".to_string(),
                "application/x-www-form-urlencoded".to_string()
            )]
        );
        assert_eq!(e[0].body, b"username={{secret:username|form}}\n");
        assert_eq!(
            e[0].response_headers,
            [("content-type".to_string(), "application/json".to_string())]
        );
        assert_eq!(e[0].response_body, b"{\"code\":0}");
    }

    #[test]
    fn a_bad_start_line_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "001-x.request.http", "GET\n\n");
        write(dir.path(), "001-x.response.http", "HTTP/1.1 200 OK\n\n");
        let e = Exchange::load_dir(dir.path()).unwrap_err();
        assert!(e.path.ends_with("001-x.request.http"), "{e}");
        assert_eq!(e.message, "line 1: expected `METHOD URL HTTP/1.1`");
        write(
            dir.path(),
            "001-x.request.http",
            "GET http://a.test/ HTTP/1.1\n\n",
        );
        write(dir.path(), "001-x.response.http", "HTTP/1.1 OK\n\n");
        let e = Exchange::load_dir(dir.path()).unwrap_err();
        assert!(e.path.ends_with("001-x.response.http"), "{e}");
    }

    #[test]
    fn matching_needs_method_url_listed_headers_and_a_recorded_body() {
        let e = Exchange {
            name: "001".into(),
            method: "POST".into(),
            url: "http://h.test/api/v1/workers".into(),
            headers: vec![("x-api-key".into(), "{{secret:api_key}}".into())],
            body: b"{\"a\": 1, \"b\": [2]}\n".to_vec(),
            status: 201,
            response_headers: vec![],
            response_body: vec![],
        };
        let key = [("X-Api-Key", "{{secret:api_key}}"), ("accept", "*/*")];
        // JSON bodies compare as values: key order and spacing do not matter.
        let ok = req(
            "post",
            "http://h.test/api/v1/workers",
            &key,
            r#"{"b":[2],"a":1}"#,
        );
        assert_eq!(e.mismatch(&ok), None);
        let other = req(
            "POST",
            "http://h.test/api/v1/workers",
            &key,
            r#"{"a":2,"b":[2]}"#,
        );
        assert!(e.mismatch(&other).unwrap().starts_with("body "));
        let no_key = req(
            "POST",
            "http://h.test/api/v1/workers",
            &[],
            r#"{"a":1,"b":[2]}"#,
        );
        assert_eq!(
            e.mismatch(&no_key).unwrap(),
            "header x-api-key: \"{{secret:api_key}}\" ≠ None"
        );
        let get = req("GET", "http://h.test/api/v1/workers", &key, "");
        assert_eq!(e.mismatch(&get).unwrap(), "method POST ≠ GET");
        // A recorded request without a body accepts any body; form bodies compare as bytes.
        assert!(same_body(b"", b"anything"));
        assert!(same_body(b"a=1&b=2\r\n", b"a=1&b=2"));
        assert!(!same_body(b"a=1&b=2", b"b=2&a=1"));
    }
}
