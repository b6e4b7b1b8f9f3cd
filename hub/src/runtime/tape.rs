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
//! answers is a fixture mismatch: the plugin gets `connection` (`no recorded exchange answers
//! GET URL (fixture mismatch)`), and the tape keeps a report of it, naming the nearest exchange
//! and how it differs (see [`Tape::take_misses`]); exchanges never used are reported too.
//!
//! Recording writes the same files from a live run: requests as the plugin built them,
//! responses with secrets scrubbed and the [`VOLATILE_HEADERS`] left out (the plugin gets the
//! response without them too, as it will on replay); the live origin is written as the
//! fixture's origin.

use super::http::{BodyStream, Head, HttpError, HttpGrant, Request};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Response headers a recording leaves out: they describe one transfer, the server's software
/// or a path through proxies and caches, or they name one request; their values change from
/// one recording to the next and carry nothing a connector acts on. Headers that can mean
/// something to a connector are kept: `etag`, `last-modified`, `set-cookie`, `location`,
/// `retry-after`, `cache-control`, `content-type` and every other one.
pub const VOLATILE_HEADERS: &[&str] = &[
    // One transfer.
    "date",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    // The server's software and timing.
    "server",
    "x-powered-by",
    "x-runtime",
    "x-response-time",
    "server-timing",
    // Proxies and caches on the way.
    "via",
    "age",
    "alt-svc",
    "x-cache",
    "x-cache-hits",
    "x-served-by",
    "x-timer",
    "cf-ray",
    // One request's id.
    "x-request-id",
    "x-correlation-id",
];

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
        let d = self.differences(req);
        (!d.is_empty()).then(|| describe(&d))
    }

    /// Every way this exchange's request differs from `req` (empty if it answers it).
    fn differences(&self, req: &Request) -> Vec<Difference> {
        let mut out = Vec::new();
        if !self.method.eq_ignore_ascii_case(&req.method) {
            out.push(Difference::Method {
                recorded: self.method.clone(),
                sent: req.method.to_ascii_uppercase(),
            });
        }
        let url = url::Url::parse(&req.url).map_or_else(|_| req.url.clone(), |u| u.to_string());
        if self.url != url {
            out.push(url_difference(&self.url, &url));
        }
        for (k, v) in &self.headers {
            let sent = req
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str());
            if sent != Some(v.as_str()) {
                out.push(Difference::Header {
                    name: k.clone(),
                    recorded: v.clone(),
                    sent: sent.map(str::to_string),
                });
            }
        }
        if !same_body(&self.body, &req.body) {
            out.push(Difference::Body(body_difference(&self.body, &req.body)));
        }
        out
    }
}

/// One way a recorded request differs from the request sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Difference {
    Method {
        recorded: String,
        sent: String,
    },
    /// The same URL up to its query; each parameter that differs (name, recorded values, sent
    /// values), or none if only their order or encoding does.
    Query {
        params: Vec<(String, Option<String>, Option<String>)>,
        recorded: String,
        sent: String,
    },
    Url {
        recorded: String,
        sent: String,
    },
    Header {
        name: String,
        recorded: String,
        sent: Option<String>,
    },
    /// Where the bodies part, described.
    Body(String),
}

impl Difference {
    fn is_url(&self) -> bool {
        matches!(self, Difference::Query { .. } | Difference::Url { .. })
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_none = |v: &Option<String>| v.as_ref().map_or("none".into(), |v| format!("{v:?}"));
        match self {
            Difference::Method { recorded, sent } => {
                write!(f, "method: recorded {recorded}, sent {sent}")
            }
            Difference::Query {
                params,
                recorded,
                sent,
            } if params.is_empty() => write!(
                f,
                "query: recorded {recorded:?}, sent {sent:?} (the same parameters, in another \
                 order or encoding)"
            ),
            Difference::Query { params, .. } => {
                let each: Vec<String> = params
                    .iter()
                    .map(|(k, r, s)| {
                        format!("query {k}: recorded {}, sent {}", or_none(r), or_none(s))
                    })
                    .collect();
                f.write_str(&each.join("; "))
            }
            Difference::Url { recorded, sent } => {
                write!(f, "URL: recorded {recorded}, sent {sent}")
            }
            Difference::Header {
                name,
                recorded,
                sent,
            } => write!(
                f,
                "header {name}: recorded {recorded:?}, sent {}",
                or_none(sent)
            ),
            Difference::Body(d) => f.write_str(d),
        }
    }
}

fn describe(d: &[Difference]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How two URLs differ: only in their query parameters (named), or otherwise (both shown).
fn url_difference(recorded: &str, sent: &str) -> Difference {
    let whole = || Difference::Url {
        recorded: recorded.to_string(),
        sent: sent.to_string(),
    };
    let (Ok(r), Ok(s)) = (url::Url::parse(recorded), url::Url::parse(sent)) else {
        return whole();
    };
    let base = |u: &url::Url| {
        let mut u = u.clone();
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    if base(&r) != base(&s) || r.fragment() != s.fragment() {
        return whole();
    }
    let pairs = |u: &url::Url| -> Vec<(String, String)> { u.query_pairs().into_owned().collect() };
    let (rp, sp) = (pairs(&r), pairs(&s));
    let mut names: Vec<&String> = Vec::new();
    for (k, _) in rp.iter().chain(&sp) {
        if !names.contains(&k) {
            names.push(k);
        }
    }
    let values = |p: &[(String, String)], k: &str| -> Option<String> {
        let v: Vec<&str> = p
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect();
        (!v.is_empty()).then(|| v.join(","))
    };
    let params = names
        .into_iter()
        .map(|k| (k.clone(), values(&rp, k), values(&sp, k)))
        .filter(|(_, r, s)| r != s)
        .collect();
    Difference::Query {
        params,
        recorded: r.query().unwrap_or("").to_string(),
        sent: s.query().unwrap_or("").to_string(),
    }
}

/// Where a recorded body and the body sent part: the first JSON pointer whose values differ
/// when both are JSON, else the first character that differs (line and column).
fn body_difference(recorded: &[u8], sent: &[u8]) -> String {
    let (recorded, sent) = (trim(recorded), trim(sent));
    if let (Ok(r), Ok(s)) = (
        serde_json::from_slice::<serde_json::Value>(&recorded),
        serde_json::from_slice::<serde_json::Value>(&sent),
    ) && let Some((pointer, r, s)) = json_difference(&r, &s, String::new())
    {
        let show = |v: Option<&serde_json::Value>| {
            v.map_or("none".to_string(), |v| {
                let text = v.to_string();
                match text.char_indices().nth(80) {
                    Some((i, _)) => format!("{}…", &text[..i]),
                    None => text,
                }
            })
        };
        let at = if pointer.is_empty() {
            "the whole value".to_string()
        } else {
            pointer
        };
        return format!(
            "body (JSON) at {at}: recorded {}, sent {}",
            show(r),
            show(s)
        );
    }
    if sent.is_empty() {
        return "body: recorded one, sent none".into();
    }
    let (r, s) = (
        String::from_utf8_lossy(&recorded),
        String::from_utf8_lossy(&sent),
    );
    let at = r
        .char_indices()
        .zip(s.char_indices())
        .find(|((_, a), (_, b))| a != b)
        .map(|((i, _), (j, _))| (i, j))
        .unwrap_or_else(|| {
            let n = r.chars().count().min(s.chars().count());
            let byte = |t: &str| t.char_indices().nth(n).map_or(t.len(), |(i, _)| i);
            (byte(&r), byte(&s))
        });
    let line = r[..at.0].matches('\n').count() + 1;
    let column = r[..at.0]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    // From up to 10 characters before the difference.
    let side = |t: &str, i: usize| {
        if i >= t.len() {
            return "the end".to_string();
        }
        let from = t[..i].char_indices().rev().nth(9).map_or(0, |(b, _)| b);
        excerpt(t, from, 40)
    };
    format!(
        "body at line {line}, column {column}: recorded {}, sent {}",
        side(&r, at.0),
        side(&s, at.1)
    )
}

/// The first place two JSON values differ: its pointer, the recorded and the sent value there
/// (`None` for a member or item one side lacks).
fn json_difference<'a>(
    r: &'a serde_json::Value,
    s: &'a serde_json::Value,
    at: String,
) -> Option<(
    String,
    Option<&'a serde_json::Value>,
    Option<&'a serde_json::Value>,
)> {
    use serde_json::Value;
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match (r, s) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = format!("{at}/{}", escape(k));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => json_difference(x, y, p),
                    (x, y) => Some((p, x, y)),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) => (0..a.len().max(b.len())).find_map(|i| {
            let p = format!("{at}/{i}");
            match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => json_difference(x, y, p),
                (x, y) => Some((p, x, y)),
            }
        }),
        _ if r == s => None,
        _ => Some((at, Some(r), Some(s))),
    }
}

/// Up to `len` characters of `text` from byte `from` (a character boundary) on, quoted, with
/// `…` where cut.
fn excerpt(text: &str, from: usize, len: usize) -> String {
    let rest = &text[from..];
    let shown: String = rest.chars().take(len).collect();
    let more = if shown.len() < rest.len() { "…" } else { "" };
    let before = if from > 0 { "…" } else { "" };
    format!("{before}{shown:?}{more}")
}

/// `b` without the line ends it ends with (a fixture file's last line may have one or not).
fn trim(b: &[u8]) -> Vec<u8> {
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    b[..end].to_vec()
}

/// True if a recorded request body (empty for any) accepts the body sent.
fn same_body(recorded: &[u8], sent: &[u8]) -> bool {
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

    /// Requests that no exchange answered since the last call, described (each begins `no
    /// recorded exchange answers METHOD URL (fixture mismatch): `, then names the nearest
    /// exchange and how it differs); taken, so the next call returns only later ones.
    pub fn take_misses(&self) -> Vec<String> {
        std::mem::take(&mut *self.misses.lock().expect("not poisoned"))
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
            .filter(|(k, _)| !VOLATILE_HEADERS.contains(&k.as_str()))
            .collect();
        self.write_exchange(&req, head.status, &headers, &bytes)
            .map_err(|e| HttpError::Connection(format!("recording: {e}")))?;
        respond(grant, head.status, &headers, bytes)
    }

    /// Reports a request no exchange answers, and the error the plugin gets for it. The nearest
    /// exchange is ranked: the same method first, then the same URL, then one not used yet,
    /// then the fewest headers that differ, then the same body, then file-name order.
    fn miss(&self, req: &Request) -> HttpError {
        let nearest = match &*self.mode.lock().expect("not poisoned") {
            Mode::Replay { exchanges, used } => exchanges
                .iter()
                .zip(used)
                .map(|(e, u)| (e, *u, e.differences(req)))
                .min_by_key(|(_, used, d)| {
                    let headers = d
                        .iter()
                        .filter(|d| matches!(d, Difference::Header { .. }))
                        .count();
                    (
                        d.iter().any(|d| matches!(d, Difference::Method { .. })),
                        d.iter().any(Difference::is_url),
                        *used,
                        headers,
                        d.iter().any(|d| matches!(d, Difference::Body(_))),
                    )
                })
                .map(|(e, used, d)| match (used, d.is_empty()) {
                    (true, true) => format!(
                        "{} answers it, but it answered an earlier request already (the \
                         request is sent once more than when it was recorded)",
                        e.name
                    ),
                    (true, false) => format!(
                        "{} (which answered an earlier request already): {}",
                        e.name,
                        describe(&d)
                    ),
                    (false, _) => format!("{}: {}", e.name, describe(&d)),
                })
                .unwrap_or_else(|| "none (there are no recorded exchanges)".into()),
            Mode::Record { .. } => String::new(),
        };
        let what = format!(
            "no recorded exchange answers {} {} (fixture mismatch)",
            req.method.to_ascii_uppercase(),
            req.url
        );
        self.misses
            .lock()
            .expect("not poisoned")
            .push(format!("{what}: nearest {nearest}"));
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
            "header x-api-key: recorded \"{{secret:api_key}}\", sent none"
        );
        let get = req("GET", "http://h.test/api/v1/workers", &key, "");
        assert_eq!(
            e.mismatch(&get).unwrap(),
            "method: recorded POST, sent GET; body: recorded one, sent none"
        );
        // A recorded request without a body accepts any body; form bodies compare as bytes.
        assert!(same_body(b"", b"anything"));
        assert!(same_body(b"a=1&b=2\r\n", b"a=1&b=2"));
        assert!(!same_body(b"a=1&b=2", b"b=2&a=1"));
    }

    #[test]
    fn a_difference_names_the_query_parameter_header_or_body_position() {
        let e = |method: &str, url: &str, headers: &[(&str, &str)], body: &str| Exchange {
            name: "001".into(),
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            status: 200,
            response_headers: vec![],
            response_body: vec![],
        };
        let page = e("GET", "http://h.test/p?after=2&limit=2", &[], "");
        assert_eq!(
            page.mismatch(&req("GET", "http://h.test/p?after=0&limit=2", &[], ""))
                .unwrap(),
            "query after: recorded \"2\", sent \"0\""
        );
        assert_eq!(
            page.mismatch(&req("GET", "http://h.test/p?limit=2&after=2", &[], ""))
                .unwrap(),
            "query: recorded \"after=2&limit=2\", sent \"limit=2&after=2\" (the same \
             parameters, in another order or encoding)"
        );
        assert_eq!(
            page.mismatch(&req("GET", "http://h.test/q?after=2&limit=2", &[], ""))
                .unwrap(),
            "URL: recorded http://h.test/p?after=2&limit=2, sent http://h.test/q?after=2&limit=2"
        );
        let keyed = e("GET", "http://h.test/", &[("x-key", "{{secret:k}}")], "");
        assert_eq!(
            keyed
                .mismatch(&req("GET", "http://h.test/", &[("X-Key", "other")], ""))
                .unwrap(),
            "header x-key: recorded \"{{secret:k}}\", sent \"other\""
        );
        // A JSON body: the pointer of the first value that differs; a missing member is `none`.
        let json = e(
            "POST",
            "http://h.test/",
            &[],
            r#"{"name": "赵丽", "tags": [1, 2]}"#,
        );
        assert_eq!(
            json.mismatch(&req(
                "POST",
                "http://h.test/",
                &[],
                r#"{"tags":[1,3],"name":"赵丽"}"#
            ))
            .unwrap(),
            "body (JSON) at /tags/1: recorded 2, sent 3"
        );
        assert_eq!(
            json.mismatch(&req("POST", "http://h.test/", &[], r#"{"tags":[1,2]}"#))
                .unwrap(),
            "body (JSON) at /name: recorded \"赵丽\", sent none"
        );
        // Other bodies: the line and column of the first character that differs.
        let form = e("POST", "http://h.test/", &[], "a=1\nname=%E8%B5%B5&b=2");
        assert_eq!(
            form.mismatch(&req(
                "POST",
                "http://h.test/",
                &[],
                "a=1\nname=%E8%B5%B6&b=2"
            ))
            .unwrap(),
            "body at line 2, column 14: recorded …\"e=%E8%B5%B5&b=2\", sent …\"e=%E8%B5%B6&b=2\""
        );
        assert_eq!(
            form.mismatch(&req("POST", "http://h.test/", &[], "a=1\nname=%E8%B5%B5"))
                .unwrap(),
            "body at line 2, column 15: recorded …\"=%E8%B5%B5&b=2\", sent the end"
        );
    }

    #[test]
    fn a_miss_is_a_fixture_mismatch_naming_the_nearest_exchange() {
        let dir = tempfile::tempdir().unwrap();
        // An exchange with another URL comes first in file order; the nearest is the one with
        // the same method and URL whose header differs.
        write(
            dir.path(),
            "001-other.request.http",
            "GET http://h.test/other HTTP/1.1\nx-key: {{secret:k}}\n\n",
        );
        write(dir.path(), "001-other.response.http", "HTTP/1.1 200 OK\n\n");
        write(
            dir.path(),
            "002-list.request.http",
            "GET http://h.test/list HTTP/1.1\nx-key: stand-in\n\n",
        );
        write(dir.path(), "002-list.response.http", "HTTP/1.1 200 OK\n\n");
        let tape = Tape::replay(dir.path()).unwrap();
        let list = req(
            "GET",
            "http://h.test/list",
            &[("x-key", "{{secret:k}}")],
            "",
        );
        let HttpError::Connection(m) = tape.miss(&list) else {
            panic!("a connection error")
        };
        assert_eq!(
            m,
            "no recorded exchange answers GET http://h.test/list (fixture mismatch)"
        );
        assert_eq!(
            tape.take_misses(),
            [
                "no recorded exchange answers GET http://h.test/list (fixture mismatch): nearest \
              002-list: header x-key: recorded \"stand-in\", sent \"{{secret:k}}\""
            ]
        );
        assert!(tape.take_misses().is_empty());
        // A request sent once more than recorded: the exchange that answered it is named.
        if let Mode::Replay { used, .. } = &mut *tape.mode.lock().unwrap() {
            used[0] = true;
        }
        tape.miss(&req(
            "GET",
            "http://h.test/other",
            &[("x-key", "{{secret:k}}")],
            "",
        ));
        assert_eq!(
            tape.take_misses(),
            [
                "no recorded exchange answers GET http://h.test/other (fixture mismatch): nearest \
              001-other answers it, but it answered an earlier request already (the request is \
              sent once more than when it was recorded)"
            ]
        );
    }
}
