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

use std::collections::BTreeMap;
use std::time::Duration;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest `Retry-After` honoured; longer ones are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

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

/// The retries left to one session (one plugin instance, which serves one sync run).
#[derive(Debug)]
pub struct RetryBudget {
    left: std::sync::atomic::AtomicU32,
    total: u32,
    warned: std::sync::atomic::AtomicBool,
}

impl RetryBudget {
    /// A budget of `total` retries.
    pub fn new(total: u32) -> RetryBudget {
        RetryBudget {
            left: std::sync::atomic::AtomicU32::new(total),
            total,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Takes one retry; false when none is left.
    pub fn take(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Retries taken so far.
    pub fn used(&self) -> u32 {
        self.total - self.left.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Replaces secret placeholders in `input`; `Err(name)` for a name not granted.
pub fn fill_secrets(input: &[u8], secrets: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    const OPEN: &[u8] = b"{{secret:";
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = find(rest, OPEN) {
        out.extend_from_slice(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(end) = find(after, b"}}") else {
            out.extend_from_slice(&rest[i..]);
            return Ok(out);
        };
        let spec = String::from_utf8_lossy(&after[..end]);
        let (name, form) = match spec.strip_suffix("|form") {
            Some(n) => (n, true),
            None => (spec.as_ref(), false),
        };
        let value = secrets.get(name).ok_or_else(|| name.to_string())?;
        if form {
            out.extend(form_urlencoded::byte_serialize(value.as_bytes()).flat_map(str::bytes));
        } else {
            out.extend_from_slice(value.as_bytes());
        }
        rest = &after[end + 2..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Retry-After` as delay-seconds, capped; one second when absent or an HTTP-date.
fn retry_after(resp: &reqwest::Response) -> Duration {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), |s| {
            Duration::from_secs(s).min(MAX_RETRY_AFTER)
        })
}

/// Replaces every granted secret in a response, in any encoding a server may echo it in, so
/// that a server echoing a request back cannot hand a secret to the plugin. Works across chunk
/// boundaries: it holds back the last bytes that could begin a secret until more arrive.
///
/// The kind closed is "the secret's characters, each written in any of the escapes a web
/// server or library produces", mixed freely within one occurrence:
/// - as itself (UTF-8);
/// - percent-encoded, `%2F` or `%2f` per byte (RFC 3986 §2.1), and a space as `+`
///   (`application/x-www-form-urlencoded`, which `{{secret:NAME|form}}` sends);
/// - JSON-escaped (RFC 8259 §7): `\/`, `\"`, `\\`, the short escapes of controls, and
///   `\uXXXX` in either case (a surrogate pair beyond U+FFFF);
/// - as an HTML character reference (`&#47;`, `&#x2f;`, `&amp;`, `&lt;`, `&gt;`, `&quot;`,
///   `&apos;`).
///
/// Besides, the whole value in Base64 (RFC 4648 §4, and the URL-safe alphabet of §5) at each
/// of the three byte alignments it can take inside a longer encoded text (as in an echoed
/// `Authorization: Basic` header), and in hexadecimal of either case; ASCII letters in either
/// case (a server that upper-cases what it echoes). Compressed bodies are never handed to a
/// plugin: the host asks for `identity` and refuses any other coding (see
/// [`HttpGrant::send_streaming`]).
///
/// What it cannot close: a granted server that echoes what the plugin sends lets the plugin
/// test a guess (an echoed guess equal to the secret comes back as the placeholder), or read a
/// part of the secret the server cuts or splits (across two headers, or header and body), or
/// a form outside the list (HTML references with leading zeros, UTF-16, nested escapes). The
/// defence there is the grant: give a plugin only the origins its system needs.
#[derive(Debug, Clone)]
pub struct Scrubber {
    secrets: Vec<Needle>,
    /// Bytes that can begin an occurrence of some secret (a fast skip of all others).
    first: [bool; 256],
    /// See [`Scrubber::window`].
    window: usize,
    carry: Vec<u8>,
}

/// One secret, as the forms it is matched in.
#[derive(Debug, Clone)]
struct Needle {
    placeholder: Vec<u8>,
    /// Per character of the value, the byte strings that may stand for it.
    chars: Vec<Vec<Form>>,
    /// Whole-value encodings (Base64 cores, hex), matched as they are.
    whole: Vec<Form>,
}

/// A byte string; `fold` compares ASCII letters without case (hex digits of an escape).
#[derive(Debug, Clone)]
struct Form {
    bytes: Vec<u8>,
    fold: bool,
}

impl Form {
    fn exact(bytes: impl Into<Vec<u8>>) -> Form {
        Form {
            bytes: bytes.into(),
            fold: false,
        }
    }

    fn folded(text: String) -> Form {
        Form {
            bytes: text.into_bytes(),
            fold: true,
        }
    }

    /// Whether `data` begins with this form.
    fn at(&self, data: &[u8]) -> bool {
        data.len() >= self.bytes.len()
            && if self.fold {
                self.bytes.eq_ignore_ascii_case(&data[..self.bytes.len()])
            } else {
                self.bytes[..] == data[..self.bytes.len()]
            }
    }
}

/// The ways one character is written (see [`Scrubber`]).
fn char_forms(c: char) -> Vec<Form> {
    let mut buf = [0u8; 4];
    let raw = c.encode_utf8(&mut buf).as_bytes().to_vec();
    // A server may change the case of what it echoes: an ASCII letter matches either case.
    let mut forms = vec![Form {
        bytes: raw.clone(),
        fold: c.is_ascii_alphabetic(),
    }];
    let percent: String = raw.iter().map(|b| format!("%{b:02X}")).collect();
    forms.push(Form::folded(percent));
    if c == ' ' {
        forms.push(Form::exact("+"));
    }
    match c {
        '"' => forms.push(Form::exact("\\\"")),
        '\\' => forms.push(Form::exact("\\\\")),
        '/' => forms.push(Form::exact("\\/")),
        '\u{8}' => forms.push(Form::exact("\\b")),
        '\u{c}' => forms.push(Form::exact("\\f")),
        '\n' => forms.push(Form::exact("\\n")),
        '\r' => forms.push(Form::exact("\\r")),
        '\t' => forms.push(Form::exact("\\t")),
        _ => {}
    }
    let mut units = [0u16; 2];
    let json: String = c
        .encode_utf16(&mut units)
        .iter()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    forms.push(Form::folded(json));
    forms.push(Form::exact(format!("&#{};", c as u32)));
    forms.push(Form::folded(format!("&#x{:x};", c as u32)));
    let named = match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&apos;",
        _ => "",
    };
    if !named.is_empty() {
        forms.push(Form::exact(named));
    }
    forms
}

/// The Base64 characters of `value` that do not depend on the bytes around it, when it is
/// encoded after 0, 1 or 2 other bytes (the three alignments), in both alphabets; only cores
/// of at least 6 characters (shorter ones would match ordinary text).
fn base64_cores(value: &[u8]) -> Vec<Form> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for lead in 0..3usize {
        let mut bytes = vec![0u8; lead];
        bytes.extend_from_slice(value);
        // Characters wholly made of the value's bits: from the first after the lead bytes'
        // bits, to the last that ends within the value.
        let skip = (lead * 8).div_ceil(6);
        let end = bytes.len() * 8 / 6;
        if end < skip + 6 {
            continue;
        }
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            let text = engine.encode(&bytes);
            out.push(Form::exact(&text.as_bytes()[skip..end]));
        }
    }
    out
}

/// Secrets shorter than this are not scrubbed from responses (they would match ordinary text);
/// the host warns about them at load.
pub const MIN_SCRUBBED_SECRET: usize = 4;

impl Needle {
    fn new(name: &str, value: &str) -> Needle {
        let mut whole = base64_cores(value.as_bytes());
        whole.push(Form::folded(hex::encode(value)));
        Needle {
            placeholder: format!("{{{{secret:{name}}}}}").into_bytes(),
            chars: value.chars().map(char_forms).collect(),
            whole,
        }
    }

    /// Every byte that can begin an occurrence.
    fn first_bytes(&self, set: &mut [bool; 256]) {
        let starts = self.chars[0].iter().chain(&self.whole);
        for f in starts {
            let b = f.bytes[0];
            set[b as usize] = true;
            if f.fold {
                set[b.to_ascii_lowercase() as usize] = true;
                set[b.to_ascii_uppercase() as usize] = true;
            }
        }
    }

    /// The most bytes an occurrence can span: every character in its longest form, or the
    /// longest whole-value form.
    fn longest(&self) -> usize {
        let chars: usize = self
            .chars
            .iter()
            .map(|forms| forms.iter().map(|f| f.bytes.len()).max().unwrap_or(0))
            .sum();
        let whole = self.whole.iter().map(|f| f.bytes.len()).max().unwrap_or(0);
        chars.max(whole)
    }

    /// The end of the longest occurrence beginning at `data[0]`, the characters' forms mixed
    /// freely (the ends reachable after each character are followed together, so ambiguous
    /// forms such as `%` and `%25` cost no backtracking).
    fn find(&self, data: &[u8]) -> Option<usize> {
        let best = self
            .whole
            .iter()
            .filter(|f| f.at(data))
            .map(|f| f.bytes.len())
            .max();
        // Most positions the first-byte table lets through begin no character's form.
        if !self.chars[0].iter().any(|f| f.at(data)) {
            return best;
        }
        let mut ends = vec![0usize];
        for forms in &self.chars {
            let mut next = Vec::new();
            for &at in &ends {
                for f in forms {
                    if f.at(&data[at..]) {
                        next.push(at + f.bytes.len());
                    }
                }
            }
            next.sort_unstable();
            next.dedup();
            ends = next;
            if ends.is_empty() {
                break;
            }
        }
        best.max(ends.last().copied())
    }
}

impl Scrubber {
    /// A scrubber for these secrets (values shorter than [`MIN_SCRUBBED_SECRET`] bytes are
    /// left out).
    pub fn new(secrets: &BTreeMap<String, String>) -> Scrubber {
        let secrets: Vec<Needle> = secrets
            .iter()
            .filter(|(_, v)| v.len() >= MIN_SCRUBBED_SECRET)
            .map(|(name, value)| Needle::new(name, value))
            .collect();
        let mut first = [false; 256];
        for n in &secrets {
            n.first_bytes(&mut first);
        }
        let longest = secrets.iter().map(Needle::longest).max().unwrap_or(0);
        Scrubber {
            secrets,
            first,
            window: longest.div_ceil(1024).max(1) * 1024,
            carry: Vec::new(),
        }
    }

    /// Scrubs the positions of `data` before `limit`, each occurrence found with the whole of
    /// `data` to look ahead in (the longest occurrence of any secret wins). Returns the scrubbed
    /// bytes and how much of `data` they cover (past `limit` when an occurrence starting
    /// before it ends after it).
    fn replace(&self, data: &[u8], limit: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(data.len());
        let mut i = 0;
        while i < limit {
            if !self.first[data[i] as usize] {
                out.push(data[i]);
                i += 1;
                continue;
            }
            let longest = self
                .secrets
                .iter()
                .filter_map(|n| n.find(&data[i..]).map(|end| (end, &n.placeholder)))
                .max_by_key(|(end, _)| *end);
            if let Some((end, placeholder)) = longest {
                out.extend_from_slice(placeholder);
                i += end;
                continue;
            }
            out.push(data[i]);
            i += 1;
        }
        (out, i)
    }

    /// Scrubs a complete value (a whole body or a header).
    pub fn all(&self, data: &[u8]) -> Vec<u8> {
        if self.secrets.is_empty() {
            return data.to_vec();
        }
        self.replace(data, data.len()).0
    }

    /// Scrubs the next chunk of a stream; returns what can be handed out now: everything but
    /// the last [`Scrubber::window`] bytes received, whatever they hold. Holding back a fixed
    /// amount (not "what could begin a secret") keeps what the plugin sees, and when, from
    /// telling it whether the data so far begins a secret.
    pub fn chunk(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.secrets.is_empty() {
            return chunk.to_vec();
        }
        self.carry.extend_from_slice(chunk);
        let limit = self.carry.len().saturating_sub(self.window);
        let (out, used) = self.replace(&self.carry, limit);
        self.carry.drain(..used);
        out
    }

    /// Scrubs what is left at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.carry);
        self.all(&rest)
    }

    /// Bytes a stream holds back: at least the longest any occurrence of a secret can span in
    /// any form, rounded up to whole KiB (so that it says nothing of a secret's length).
    pub fn window(&self) -> usize {
        self.window
    }
}

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
    /// Checks and performs a request (see the module docs for retries, taken from `budget`);
    /// reads the whole body.
    pub async fn send(&self, req: Request, budget: &RetryBudget) -> Result<Response, HttpError> {
        self.send_guarded(req, budget, None).await
    }

    /// [`HttpGrant::send`], asking `guard` (when given) again after each wait for the rate
    /// budget: a refusal ends the request as `Denied` with its reason, nothing sent.
    pub async fn send_guarded(
        &self,
        req: Request,
        budget: &RetryBudget,
        guard: Option<&super::SendGuard>,
    ) -> Result<Response, HttpError> {
        let place = req
            .url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string();
        let (head, mut body) = self.send_streaming_guarded(req, budget, guard).await?;
        let mut all = Vec::new();
        let whole = async {
            loop {
                let chunk = body.read(1 << 20).await?;
                if chunk.is_empty() {
                    return Ok::<(), HttpError>(());
                }
                all.extend_from_slice(&chunk);
            }
        };
        tokio::time::timeout(self.timeout, whole)
            .await
            .map_err(|_| {
                HttpError::Timeout(format!(
                    "{place}: body not received within {:?}",
                    self.timeout
                ))
            })??;
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body: all,
        })
    }

    /// Checks and performs a request, with retries taken from `budget`; answers when the
    /// headers arrive, the body to follow.
    pub async fn send_streaming(
        &self,
        req: Request,
        budget: &RetryBudget,
    ) -> Result<(Head, BodyStream), HttpError> {
        self.send_streaming_guarded(req, budget, None).await
    }

    /// [`HttpGrant::send_streaming`], asking `guard` (when given) again after each wait for
    /// the rate budget (a run's lease may have been lost while it waited): a refusal ends the
    /// request as `Denied` with its reason, nothing sent.
    pub async fn send_streaming_guarded(
        &self,
        req: Request,
        budget: &RetryBudget,
        guard: Option<&super::SendGuard>,
    ) -> Result<(Head, BodyStream), HttpError> {
        let method = self.allowed(&req)?;
        if let Some(tape) = &self.tape {
            return tape.send(self, req, budget).await;
        }
        let (url, origin) = self.granted_url(&req.url)?;
        let denied = |name: String| {
            HttpError::Denied(format!(
                "secret {name:?} is not granted to plugin {}",
                self.plugin
            ))
        };
        let body = fill_secrets(&req.body, &self.secrets).map_err(denied)?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &req.headers {
            let v = fill_secrets(v.as_bytes(), &self.secrets).map_err(denied)?;
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header name {k:?}")))?;
            let value = reqwest::header::HeaderValue::from_bytes(&v).map_err(|_| {
                HttpError::Invalid(format!("header {k} has a value that is not allowed"))
            })?;
            headers.append(name, value);
        }
        let idempotent = matches!(
            method,
            reqwest::Method::GET | reqwest::Method::PUT | reqwest::Method::DELETE
        );
        let place = format!("{origin}{}", url.path());
        let mut attempt = 1;
        loop {
            if let Some(b) = &self.budget {
                b.acquire().await;
                if let Some(why) = guard.and_then(|g| g().err()) {
                    return Err(HttpError::Denied(why));
                }
            }
            // The timeout covers the answer's head; its body then has `timeout` between two
            // chunks (see `BodyStream::read`), and, read whole by `send`, `timeout` in all. A
            // body a plugin streams is not limited in total: a registry's export of millions
            // of rows is read a batch at a time over a whole run.
            let sent = tokio::time::timeout(
                self.timeout,
                self.client
                    .request(method.clone(), url.clone())
                    .headers(headers.clone())
                    .header(reqwest::header::ACCEPT_ENCODING, "identity")
                    .body(body.clone())
                    .send(),
            )
            .await;
            let (timed_out, failed) = match sent {
                Ok(Ok(resp)) => {
                    if matches!(resp.status().as_u16(), 429 | 503)
                        && attempt < MAX_ATTEMPTS
                        && self.retry_allowed(budget)
                    {
                        let wait = retry_after(&resp);
                        tracing::debug!(plugin = %self.plugin, %method, %place, status = resp.status().as_u16(), ?wait, attempt, "retrying after the server asked to wait");
                        match &self.budget {
                            // Too many requests: none of this system's syncs sends before the
                            // delay ends (the retry waits for its slot after it).
                            Some(b) if resp.status().as_u16() == 429 => b.hold(wait),
                            _ => tokio::time::sleep(wait).await,
                        }
                        attempt += 1;
                        continue;
                    }
                    return self.stream(resp);
                }
                Ok(Err(e)) => (e.is_timeout(), Some(e)),
                Err(_) => (true, None),
            };
            let wait = match failed {
                e if idempotent
                    && (timed_out
                        || e.as_ref().is_some_and(|e| e.is_connect() || e.is_request()))
                    && attempt < MAX_ATTEMPTS
                    && self.retry_allowed(budget) =>
                {
                    let base = Duration::from_millis(250 << attempt);
                    let wait = base.mul_f64(1.0 + rand::random::<f64>() / 4.0);
                    let error = e.map_or_else(
                        || "no answer in time".to_string(),
                        |e| e.without_url().to_string(),
                    );
                    tracing::debug!(plugin = %self.plugin, %method, %place, %error, attempt, "retrying a failed request");
                    wait
                }
                Some(e) if !timed_out => {
                    return Err(HttpError::Connection(format!(
                        "{method} {place}: {}",
                        error_chain(&e.without_url())
                    )));
                }
                _ => {
                    return Err(HttpError::Timeout(format!(
                        "{method} {place}: no answer within {:?}",
                        self.timeout
                    )));
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The request's method, if the contract allows it ([`METHODS`], in any case), and no
    /// header the host keeps for itself ([`refused_header`]); a refusal is logged.
    fn allowed(&self, req: &Request) -> Result<reqwest::Method, HttpError> {
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
            tracing::warn!(plugin = %self.plugin, "request refused: {why}");
            return Err(HttpError::Invalid(why));
        }
        reqwest::Method::from_bytes(upper.as_bytes())
            .map_err(|_| HttpError::Invalid(format!("method {:?}", req.method)))
    }

    /// The URL of a request and its origin, if the origin is granted to this plugin.
    pub(super) fn granted_url(&self, url: &str) -> Result<(url::Url, Origin), HttpError> {
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

    /// Takes a retry from the budget; the first refusal is logged.
    fn retry_allowed(&self, budget: &RetryBudget) -> bool {
        let ok = budget.take();
        if !ok
            && !budget
                .warned
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(plugin = %self.plugin, retries = budget.total, "the retries of this run are spent (limits.retries_per_run): failures now go to the plugin as they come");
        }
        ok
    }

    pub(super) fn stream(&self, resp: reqwest::Response) -> Result<(Head, BodyStream), HttpError> {
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
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_default_port() {
        assert_eq!(
            Origin::parse("http://Example.org").unwrap(),
            Origin::parse("http://example.org:80/").unwrap()
        );
        assert_ne!(
            Origin::parse("http://example.org").unwrap(),
            Origin::parse("https://example.org").unwrap()
        );
        assert_eq!(
            Origin::parse("https://example.org").unwrap().to_string(),
            "https://example.org:443"
        );
        assert!(Origin::parse("http://example.org/api").is_err());
        assert!(Origin::parse("ftp://example.org").is_err());
        assert!(Origin::parse("example.org").is_err());
    }

    fn grant(origins: &[&str]) -> HttpGrant {
        let _ = rustls::crypto::ring::default_provider().install_default();
        HttpGrant {
            plugin: "p".into(),
            origins: origins.iter().map(|o| Origin::parse(o).unwrap()).collect(),
            secrets: BTreeMap::from([("k".to_string(), "v".to_string())]),
            client: reqwest::Client::new(),
            timeout: Duration::from_secs(2),
            max_response: 1024,
            tape: None,
            budget: None,
        }
    }

    fn budget() -> RetryBudget {
        RetryBudget::new(100)
    }

    #[test]
    fn a_retry_budget_gives_exactly_its_retries() {
        let b = RetryBudget::new(3);
        assert_eq!(
            [b.take(), b.take(), b.take(), b.take()],
            [true, true, true, false]
        );
        assert_eq!(b.used(), 3);
    }

    fn req(url: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[tokio::test]
    async fn requests_to_origins_not_granted_are_refused_before_any_connection() {
        // Port 9 (discard) on loopback: nothing is listening, so only the refusal can answer.
        let g = grant(&["http://127.0.0.1:9"]);
        let e = g
            .send(req("http://127.0.0.1:10/x", &[]), &budget())
            .await
            .unwrap_err();
        assert_eq!(
            e,
            HttpError::Denied("origin http://127.0.0.1:10 is not granted to plugin p".into())
        );
        let e = g
            .send(req("https://127.0.0.1:9/x", &[]), &budget())
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::Denied(_)), "{e:?}");
        let e = g
            .send(req("file:///etc/passwd", &[]), &budget())
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::Invalid(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_secret_not_granted_is_refused_and_never_sent() {
        let g = grant(&["http://127.0.0.1:9"]);
        let e = g
            .send(
                req(
                    "http://127.0.0.1:9/x",
                    &[("authorization", "Bearer {{secret:token}}")],
                ),
                &budget(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e,
            HttpError::Denied("secret \"token\" is not granted to plugin p".into())
        );
    }

    #[test]
    fn secrets_are_scrubbed_from_responses_even_across_chunks() {
        let secrets = BTreeMap::from([
            ("password".to_string(), "p&ss word".to_string()),
            ("k".to_string(), "abc".to_string()),
        ]);
        let s = Scrubber::new(&secrets);
        assert_eq!(
            s.all(b"echo: p&ss word and p%26ss+word, abc"),
            b"echo: {{secret:password}} and {{secret:password}}, abc".to_vec()
        );
        // Split at every position: the output joined is the same scrubbed text.
        let text = b"x=p&ss word;y=p&ss word.".to_vec();
        for cut in 0..=text.len() {
            let mut s = Scrubber::new(&secrets);
            let mut out = s.chunk(&text[..cut]);
            out.extend(s.chunk(&text[cut..]));
            out.extend(s.finish());
            assert_eq!(
                out,
                b"x={{secret:password}};y={{secret:password}}.".to_vec(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn secrets_are_scrubbed_in_every_escape_mixed_and_across_chunks() {
        // A secret with a slash, a percent sign, a space and Han characters (密 is U+5BC6,
        // UTF-8 E5 AF 86; 𝒳 is U+1D4B3, UTF-16 D835 DCB3).
        let secrets = BTreeMap::from([("k".to_string(), "a/%b 密𝒳".to_string())]);
        let p = "{{secret:k}}";
        for echoed in [
            "a/%b 密𝒳".to_string(),
            "a%2F%25b%20%E5%AF%86%F0%9D%92%B3".to_string(),
            "a%2f%25b+%e5%af%86%f0%9d%92%b3".to_string(),
            "a\\/%b \\u5bc6\\uD835\\uDCB3".to_string(),
            "&#97;&#x2F;&#37;b&#32;&#x5BC6;&#119987;".to_string(),
            "a\\/%25b+\\u5BC6&#x1d4b3;".to_string(),
            hex::encode("a/%b 密𝒳"),
            hex::encode_upper("a/%b 密𝒳"),
        ] {
            let text = format!("[{echoed}]");
            assert_eq!(
                Scrubber::new(&secrets).all(text.as_bytes()),
                format!("[{p}]").into_bytes(),
                "{echoed}"
            );
            for cut in 0..=text.len() {
                let mut s = Scrubber::new(&secrets);
                let mut out = s.chunk(&text.as_bytes()[..cut]);
                out.extend(s.chunk(&text.as_bytes()[cut..]));
                out.extend(s.finish());
                assert_eq!(out, format!("[{p}]").into_bytes(), "{echoed} cut at {cut}");
            }
        }
        // Text that only begins like the secret is handed on whole.
        assert_eq!(
            Scrubber::new(&secrets).all(b"a/%b and a%2F%25"),
            b"a/%b and a%2F%25".to_vec()
        );
    }

    #[test]
    fn a_secret_that_begins_another_never_lets_the_longer_ones_tail_out() {
        let secrets = BTreeMap::from([
            ("short".to_string(), "abcd1234".to_string()),
            ("long".to_string(), "abcd1234XYZW-tail".to_string()),
        ]);
        let text = b"[abcd1234XYZW-tail] [abcd1234]";
        for cut in 0..=text.len() {
            let mut s = Scrubber::new(&secrets);
            let mut out = s.chunk(&text[..cut]);
            out.extend(s.chunk(&text[cut..]));
            out.extend(s.finish());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "[{{secret:long}}] [{{secret:short}}]",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_stream_holds_back_the_same_bytes_whether_or_not_they_begin_a_secret() {
        // 20 bytes of secret: its longest form (each character as `\u00XX`) spans 120 bytes,
        // so the stream holds back 1 KiB.
        let secrets = BTreeMap::from([("k".to_string(), "abcdefghij0123456789".to_string())]);
        assert_eq!(Scrubber::new(&secrets).window(), 1024);
        let handed = |tail: &[u8]| {
            let mut s = Scrubber::new(&secrets);
            let mut data = vec![b'z'; 2000];
            data.extend_from_slice(tail);
            s.chunk(&data).len()
        };
        // "ab" and "%61b" begin the secret; "xy" and "%78y" do not: the same is handed out.
        assert_eq!(handed(b"ab"), 2002 - 1024);
        assert_eq!(handed(b"xy"), 2002 - 1024);
        assert_eq!(handed(b"%61b"), handed(b"%78y"));
    }

    #[test]
    fn a_secret_echoed_in_another_case_is_scrubbed() {
        let secrets = BTreeMap::from([("k".to_string(), "Zf/Pa+ss w0rd=!x".to_string())]);
        assert_eq!(
            Scrubber::new(&secrets).all(b"ZF/PA+SS W0RD=!X and zf%2fpa%2Bss+w0rd%3d!x"),
            b"{{secret:k}} and {{secret:k}}".to_vec()
        );
    }

    #[test]
    fn a_secret_in_base64_is_scrubbed_at_each_alignment_and_in_both_alphabets() {
        use base64::Engine as _;
        let secrets = BTreeMap::from([("pw".to_string(), "p?ss>w0rd~~".to_string())]);
        for lead in ["", "u", "us", "user:"] {
            let std =
                base64::engine::general_purpose::STANDARD.encode(format!("{lead}p?ss>w0rd~~"));
            let url =
                base64::engine::general_purpose::URL_SAFE.encode(format!("{lead}p?ss>w0rd~~"));
            for encoded in [std, url] {
                let out =
                    String::from_utf8(Scrubber::new(&secrets).all(encoded.as_bytes())).unwrap();
                // What is left: at most 3 characters of the lead's bits before the
                // placeholder, and the last character (mixed with the padding) and `=`s after.
                let (before, after) = out.split_once("{{secret:pw}}").expect(&out);
                assert!(before.len() <= 7 && after.len() <= 3, "{encoded} → {out}");
            }
        }
    }

    #[test]
    fn host_connection_framing_and_coding_headers_are_the_hosts() {
        for h in [
            "Host",
            "connection",
            "Keep-Alive",
            "upgrade",
            "TE",
            "trailer",
            "proxy-authorization",
            "Proxy-Connection",
            "content-length",
            "transfer-encoding",
            "expect",
            "accept-encoding",
            "range",
            "if-range",
            "content-encoding",
            "forwarded",
            "Via",
            "x-forwarded-host",
            "X-Forwarded-For",
            "x-http-method-override",
            "x-original-url",
        ] {
            assert!(refused_header(h), "{h}");
        }
        for h in [
            "authorization",
            "accept",
            "content-type",
            "if-match",
            "if-unmodified-since",
            "if-none-exist",
            "x-api-key",
            "hostname",
        ] {
            assert!(!refused_header(h), "{h}");
        }
    }

    #[test]
    fn secrets_are_filled_raw_or_form_encoded_and_unknown_ones_refused() {
        let secrets = BTreeMap::from([("password".to_string(), "p&ss word".to_string())]);
        assert_eq!(
            fill_secrets(b"pw={{secret:password}}", &secrets).unwrap(),
            b"pw=p&ss word"
        );
        assert_eq!(
            fill_secrets(b"a=1&pw={{secret:password|form}}&b=2", &secrets).unwrap(),
            b"a=1&pw=p%26ss+word&b=2"
        );
        assert_eq!(
            fill_secrets(b"{{secret:token}}", &secrets).unwrap_err(),
            "token"
        );
        assert_eq!(
            fill_secrets(b"no placeholders {{x}}", &secrets).unwrap(),
            b"no placeholders {{x}}"
        );
    }
}
