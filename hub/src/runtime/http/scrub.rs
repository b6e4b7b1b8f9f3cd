//! The [`Scrubber`]: every granted secret taken out of an answer's headers and body, in each
//! form a server may echo it in, before the plugin sees a byte.

use std::collections::BTreeMap;

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
/// [`HttpGrant::send_streaming`](super::HttpGrant::send_streaming)).
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
