//! Logging: `tracing` to stderr, human-readable or JSON, with every line passing one masking
//! step that hides identity numbers and mobile numbers (personal data, never logged in clear),
//! then one that makes its control characters visible (a message cannot forge a line).
//!
//! Masking works on the formatted text, so it also covers messages from plugins and libraries.
//! A number is a run of decimal digits of any script (Unicode Nd: ASCII, full-width,
//! Arabic-Indic, Devanagari, mathematical bold, …), possibly split by up to three separators
//! between two digits (spaces of any kind, dots, dashes, zero-width and other invisible
//! characters, control characters, or these as JSON or Rust escapes such as `\n` and
//! `\u200b`), possibly after `+`. A number of 15 to 18 digits (the 17-digit one followed by
//! the check character `X`) is masked as an identity number (GB 11643-1999: first and last four
//! kept); 11 digits starting `1[3-9]`, possibly after `86`, as a mobile number (first three and
//! last four kept); the mask is written in ASCII digits and replaces the separators too. When
//! separators join a number to its neighbours, the longest span of whole digit groups that is
//! one is masked. Runs glued to letters are masked as well (a code or a hash may lose a few
//! digits in a log line; an identity number never slips through). Names cannot be recognised
//! in free text, so code must not log them; as a second line of defence, a name in Han
//! characters given as the value of a name field (`name`, `fullName`, `realName`, `xm`, `姓名`,
//! in `k=v`, `k: v` or JSON form) keeps its first character (the surname) and the rest becomes
//! `*`, the display de-identification of GB/T 35273-2020.

use std::borrow::Cow;
use std::io::Write;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// The code points of the digit zero of every decimal digit set (Unicode general category Nd):
/// each set is ten consecutive code points, zero to nine. Generated with Python 3.13.0, whose
/// `unicodedata` is Unicode 15.1.0:
///
/// ```text
/// [c for c in range(0x110000) if unicodedata.category(chr(c)) == 'Nd'
///  and unicodedata.decimal(chr(c)) == 0]
/// ```
///
/// (every Nd character is one of these plus 0 to 9, and the ten after each are Nd of values 0 to 9:
/// checked by the script that generated it and by a test here).
#[rustfmt::skip]
const DIGIT_ZEROS: [char; 68] = [
    '\u{30}', '\u{660}', '\u{6f0}', '\u{7c0}', '\u{966}', '\u{9e6}', '\u{a66}', '\u{ae6}',
    '\u{b66}', '\u{be6}', '\u{c66}', '\u{ce6}', '\u{d66}', '\u{de6}', '\u{e50}', '\u{ed0}',
    '\u{f20}', '\u{1040}', '\u{1090}', '\u{17e0}', '\u{1810}', '\u{1946}', '\u{19d0}',
    '\u{1a80}', '\u{1a90}', '\u{1b50}', '\u{1bb0}', '\u{1c40}', '\u{1c50}', '\u{a620}',
    '\u{a8d0}', '\u{a900}', '\u{a9d0}', '\u{a9f0}', '\u{aa50}', '\u{abf0}', '\u{ff10}',
    '\u{104a0}', '\u{10d30}', '\u{11066}', '\u{110f0}', '\u{11136}', '\u{111d0}',
    '\u{112f0}', '\u{11450}', '\u{114d0}', '\u{11650}', '\u{116c0}', '\u{11730}',
    '\u{118e0}', '\u{11950}', '\u{11c50}', '\u{11d50}', '\u{11da0}', '\u{11f50}',
    '\u{16a60}', '\u{16ac0}', '\u{16b50}', '\u{1d7ce}', '\u{1d7d8}', '\u{1d7e2}',
    '\u{1d7ec}', '\u{1d7f6}', '\u{1e140}', '\u{1e2f0}', '\u{1e4f0}', '\u{1e950}',
    '\u{1fbf0}',
];

/// The ASCII digit of `c` if `c` is a decimal digit of any script (Unicode Nd: ASCII,
/// full-width, Arabic-Indic, Devanagari, mathematical bold, …; see [`DIGIT_ZEROS`]).
fn digit_value(c: char) -> Option<char> {
    if c.is_ascii_digit() {
        return Some(c);
    }
    let at = DIGIT_ZEROS.partition_point(|z| *z <= c).checked_sub(1)?;
    let value = c as u32 - DIGIT_ZEROS[at] as u32;
    (value < 10).then(|| char::from(b'0' + value as u8))
}

/// Whether `c` may stand between two digits of one number without ending it: a space (any
/// Unicode White_Space, ideographic space U+3000 and no-break spaces included), a dot or a
/// dash in any of their common forms, a control character, or an invisible character (the
/// zero-width ones U+200B–U+200D, word joiner U+2060, byte order mark U+FEFF, soft hyphen,
/// bidirectional marks, variation selectors, fillers) or a combining mark placed on a digit.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            // Dots.
            '.' | '\u{b7}' | '\u{2024}' | '\u{2027}' | '\u{2219}' | '\u{22c5}' | '\u{3002}'
                | '\u{30fb}' | '\u{ff0e}' | '\u{ff61}' | '\u{ff65}'
                // Dashes and minus signs.
                | '-' | '\u{2010}'..='\u{2015}' | '\u{2043}' | '\u{2212}' | '\u{2e3a}'
                | '\u{2e3b}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}'
                // Invisible: soft hyphen, combining grapheme joiner, Arabic letter mark,
                // fillers, Mongolian selectors, zero-width characters and bidirectional
                // marks, word joiner and invisible operators, variation selectors, byte order
                // mark, tags.
                | '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}'
                | '\u{17b5}' | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{e0000}'..='\u{e0fff}'
                // Combining marks (diacritics, marks for symbols such as the keycap U+20E3,
                // half marks).
                | '\u{300}'..='\u{36f}' | '\u{20d0}'..='\u{20ff}' | '\u{fe20}'..='\u{fe2f}'
        )
}

/// The length in characters of the separator at `chars[j..]`: one [`is_separator`] character,
/// or the escaped form of one as a formatter may have written it (JSON's `\n`, `\r`, `\t`,
/// `\b`, `\f` and `\uXXXX`, Rust's `\u{X}`), as the JSON log format and `{:?}` fields do;
/// 0 if there is none.
fn separator_len(chars: &[char], j: usize) -> usize {
    match chars.get(j) {
        Some('\\') => {}
        Some(c) if is_separator(*c) => return 1,
        _ => return 0,
    }
    match chars.get(j + 1) {
        Some('n' | 'r' | 't' | 'b' | 'f') => 2,
        Some('u') => {
            // The number of hex digits (at most `max`) from `from`.
            let hex = |from: usize, max: usize| {
                chars
                    .get(from..)
                    .unwrap_or_default()
                    .iter()
                    .take(max)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count()
            };
            let (from, n, len) = if chars.get(j + 2) == Some(&'{') {
                let n = hex(j + 3, 6);
                if n == 0 || chars.get(j + 3 + n) != Some(&'}') {
                    return 0;
                }
                (j + 3, n, n + 4)
            } else if hex(j + 2, 4) == 4 {
                (j + 2, 4, 6)
            } else {
                return 0;
            };
            let code = chars[from..from + n]
                .iter()
                .fold(0, |v, c| v * 16 + c.to_digit(16).expect("a hex digit"));
            if char::from_u32(code).is_some_and(is_separator) {
                len
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// Separators allowed between two digits of one number (`"1 - 3"` is three).
const MAX_SEPARATORS: usize = 3;

/// The index after a run of at most [`MAX_SEPARATORS`] separators starting at `j` (`j` if none).
fn skip_separators(chars: &[char], j: usize) -> usize {
    let mut k = j;
    for _ in 0..MAX_SEPARATORS {
        match separator_len(chars, k) {
            0 => break,
            n => k += n,
        }
    }
    k
}

fn is_check_x(c: Option<&char>) -> bool {
    c.is_some_and(|c| matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ'))
}

/// Masks identity numbers, mobile numbers and names given as name fields in `s` (see the
/// module docs).
pub fn mask_personal(s: &str) -> Cow<'_, str> {
    match mask_numbers(s) {
        Cow::Borrowed(b) => mask_names(b),
        Cow::Owned(o) => Cow::Owned(mask_names(&o).into_owned()),
    }
}

fn mask_names(s: &str) -> Cow<'_, str> {
    static NAME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?i)((?:\\?"|\b)(?:name|full_?name|real_?name|xm)(?:\\?")?\s*[:=]\s*(?:\\?")?|姓名(?:\\?")?\s*[:=：]?\s*(?:\\?")?)([\p{Han}·]{2,})"#)
            .expect("a valid pattern")
    });
    NAME.replace_all(s, |c: &regex::Captures<'_>| {
        let mut name = c[2].chars();
        let first = name.next().expect("two or more characters");
        format!("{}{first}{}", &c[1], "*".repeat(name.count()))
    })
}

/// The mask of a number of these ASCII `digits` (followed by the check character `X` if `x`):
/// an identity number (15 digits, or 17 and `X`, or 18) keeps its first and last four, a mobile
/// number (11 digits `1[3-9]…`, possibly after `86`) its first three and last four; `None`
/// for anything else.
fn mask_of(digits: &str, x: bool) -> Option<String> {
    let national = digits
        .strip_prefix("86")
        .filter(|r| r.len() == 11)
        .unwrap_or(digits);
    if (15..=18).contains(&digits.len()) && (!x || digits.len() == 17) {
        let id: String = digits.chars().chain(x.then_some('X')).collect();
        Some(hub_schemas::id_number::mask(&id))
    } else if national.len() == 11
        && national.starts_with('1')
        && matches!(national.as_bytes()[1], b'3'..=b'9')
        && !x
    {
        Some(format!("{}****{}", &national[..3], &national[7..]))
    } else {
        None
    }
}

fn mask_numbers(s: &str) -> Cow<'_, str> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut changed = false;
    let mut i = 0;
    let mut copied_to = 0;
    // Replaces chars[from..to] by `mask`.
    let mut replace =
        |out: &mut String, copied_to: &mut usize, from: usize, to: usize, mask: &str| {
            out.extend(&chars[*copied_to..from]);
            out.push_str(mask);
            *copied_to = to;
            changed = true;
        };
    while i < chars.len() {
        let starts_run = digit_value(chars[i]).is_some()
            || (matches!(chars[i], '+' | '＋')
                && chars.get(i + 1).and_then(|c| digit_value(*c)).is_some());
        if !starts_run {
            i += 1;
            continue;
        }
        // A run: groups of digits of any script, up to MAX_SEPARATORS separators between two
        // groups, a leading '+', a trailing X.
        let start = i;
        let mut j = if digit_value(chars[i]).is_some() {
            i
        } else {
            i + 1
        };
        // Each group's ASCII digits, and where it starts and ends in `chars`.
        let mut groups: Vec<(String, usize, usize)> = Vec::new();
        let mut digits = String::new();
        let mut group_start = j;
        while j < chars.len() {
            if let Some(d) = digit_value(chars[j]) {
                digits.push(d);
                j += 1;
                continue;
            }
            let k = skip_separators(&chars, j);
            if k > j && chars.get(k).and_then(|c| digit_value(*c)).is_some() {
                groups.push((std::mem::take(&mut digits), group_start, j));
                group_start = k;
                j = k;
            } else {
                break;
            }
        }
        groups.push((digits, group_start, j));
        let all: String = groups.iter().map(|(d, _, _)| d.as_str()).collect();
        // The check character: right after the digits, or after separators when there are the
        // 17 digits it follows ("… 002 X").
        let x_at = if is_check_x(chars.get(j)) {
            Some(j)
        } else if all.len() == 17 {
            let k = skip_separators(&chars, j);
            is_check_x(chars.get(k)).then_some(k)
        } else {
            None
        };
        // Runs glued to letters are masked too: over-masking a code or a hash in a log line is
        // harmless, missing an identity number written as "id11010519491231002X" is not.
        if let Some(m) = mask_of(&all, x_at.is_some()) {
            let end = x_at.map_or(j, |k| k + 1);
            replace(&mut out, &mut copied_to, start, end, &m);
            i = end.max(i + 1);
            continue;
        }
        // The whole run is no number, but separators may have joined one to its neighbours
        // ("item 3. 13800138000", "13800138000 13900139000"): the longest span of whole groups
        // from each group on that is one is masked.
        let mut g = 0;
        while groups.len() > 1 && g < groups.len() {
            let mut span = String::new();
            let mut found = None;
            for (h, (d, _, _)) in groups.iter().enumerate().skip(g) {
                span.push_str(d);
                if span.len() > 18 {
                    break;
                }
                let x = x_at.is_some() && h + 1 == groups.len();
                if let Some(m) = mask_of(&span, x) {
                    found = Some((h, m, x));
                }
            }
            match found {
                Some((h, m, x)) => {
                    let from = if g == 0 { start } else { groups[g].1 };
                    let to = match x_at {
                        Some(k) if x => k + 1,
                        _ => groups[h].2,
                    };
                    replace(&mut out, &mut copied_to, from, to, &m);
                    g = h + 1;
                }
                None => g += 1,
            }
        }
        i = j.max(i + 1);
    }
    if !changed {
        return Cow::Borrowed(s);
    }
    out.extend(&chars[copied_to..]);
    Cow::Owned(out)
}

/// One formatted log event as it is written: [`mask_personal`] applied, then every control
/// character in it ([`crate::control_chars::is_unsafe`]) but the final newline made visible, so
/// that a message can neither start a line of its own nor act on a terminal. In
/// [`LogFormat::Text`] they become [`crate::control_chars::escape`]'s escapes (`\n`, `\r`,
/// `\u{1b}`); in [`LogFormat::Json`], where serde_json has already escaped U+0000–U+001F
/// inside strings, the rest (DEL, the C1 controls, U+2028, U+2029, the bidirectional
/// formatting characters, all in the BMP and only ever inside strings) become JSON's `\uXXXX`,
/// which leaves every value as it was.
fn clean_line(line: &str, format: LogFormat) -> Cow<'_, str> {
    let masked = mask_personal(line);
    let (body, newline) = match masked.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (&*masked, ""),
    };
    let escaped = match format {
        LogFormat::Text => crate::control_chars::escape(body),
        LogFormat::Json if body.contains(crate::control_chars::is_unsafe) => Cow::Owned(
            body.chars()
                .map(|c| match c {
                    c if crate::control_chars::is_unsafe(c) => format!("\\u{:04x}", c as u32),
                    c => c.to_string(),
                })
                .collect(),
        ),
        LogFormat::Json => Cow::Borrowed(body),
    };
    match escaped {
        Cow::Borrowed(_) => masked,
        Cow::Owned(e) => Cow::Owned(e + newline),
    }
}

/// A writer that takes one log event, cleans it ([`clean_line`]: masked, control characters
/// escaped) and writes it to `W` whole when flushed or dropped.
pub struct MaskingWriter<W: Write> {
    buf: Vec<u8>,
    format: LogFormat,
    out: W,
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = clean_line(&text, self.format);
        let r = self.out.write_all(clean.as_bytes());
        self.buf.clear();
        r.and_then(|()| self.out.flush())
    }
}

impl<W: Write> Drop for MaskingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Makes a [`MaskingWriter`] per event around the writer `M` makes (`std::io::stderr` in
/// [`init`]), for lines of the given format.
#[derive(Debug, Clone, Copy)]
pub struct Masking<M> {
    format: LogFormat,
    inner: M,
}

impl<M> Masking<M> {
    /// Masking lines of `format` before they reach `inner`'s writers.
    pub fn new(format: LogFormat, inner: M) -> Masking<M> {
        Masking { format, inner }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masking<M> {
    type Writer = MaskingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter {
            buf: Vec::with_capacity(256),
            format: self.format,
            out: self.inner.make_writer(),
        }
    }
}

/// A layer of the registry itself, as [`export_spans`] takes it.
pub type SpanExporterLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The span exporter, once [`export_spans`] set it ([`crate::telemetry`]).
static SPAN_EXPORTER: std::sync::OnceLock<SpanExporterLayer> = std::sync::OnceLock::new();

/// Sends the `hub` crate's spans (never events) to `layer` from now on: the OpenTelemetry
/// bridge of [`crate::telemetry`]. Errors if a layer was set already.
pub fn export_spans(layer: SpanExporterLayer) -> anyhow::Result<()> {
    SPAN_EXPORTER
        .set(layer)
        .map_err(|_| anyhow::anyhow!("spans are already being exported"))?;
    // Callsites asked before had no exporter to interest; ask them again.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Which callsites reach the span exporter: the `hub` crate's spans at any level, once one is
/// set. Log events never do (their text is masked only when a line is written).
fn exported(meta: &tracing::Metadata<'_>) -> bool {
    SPAN_EXPORTER.get().is_some() && meta.is_span() && meta.target().starts_with("hub")
}

/// The registry's first layer: forwards span life cycles to the exporter once one is set.
struct SpanExport;

impl tracing_subscriber::Layer<tracing_subscriber::Registry> for SpanExport {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, tracing_subscriber::Registry>,
    ) {
        if let Some(l) = SPAN_EXPORTER.get() {
            l.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, tracing_subscriber::Registry>,
    ) {
        if let Some(l) = SPAN_EXPORTER.get() {
            l.on_record(id, values, ctx);
        }
    }

    fn on_follows_from(
        &self,
        id: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, tracing_subscriber::Registry>,
    ) {
        if let Some(l) = SPAN_EXPORTER.get() {
            l.on_follows_from(id, follows, ctx);
        }
    }

    fn on_enter(
        &self,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, tracing_subscriber::Registry>,
    ) {
        if let Some(l) = SPAN_EXPORTER.get() {
            l.on_enter(id, ctx);
        }
    }

    fn on_exit(
        &self,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, tracing_subscriber::Registry>,
    ) {
        if let Some(l) = SPAN_EXPORTER.get() {
            l.on_exit(id, ctx);
        }
    }

    fn on_close(
        &self,
        id: tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, tracing_subscriber::Registry>,
    ) {
        if let Some(l) = SPAN_EXPORTER.get() {
            l.on_close(id, ctx);
        }
    }
}

/// The subscriber [`init`] installs, writing through `make` (which [`Masking`] wraps): the
/// registry, the span exporter's slot ([`export_spans`]), and the log lines filtered by
/// `filter`.
fn subscriber<M>(
    format: LogFormat,
    filter: EnvFilter,
    make: M,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let base = tracing_subscriber::registry()
        .with(SpanExport.with_filter(tracing_subscriber::filter::filter_fn(exported)));
    let lines = tracing_subscriber::fmt::layer().with_writer(Masking::new(format, make));
    match format {
        // No ANSI colours, even on a terminal: the formatter would write ESC (U+001B) itself,
        // and the writer could then no longer tell a line's ESC from one a plugin put in its
        // message (a cursor move, a cleared screen, a retitled window, concealed text).
        // tracing-subscriber (0.3.20 on) writes ESC in the values it formats as `\x1b`, but
        // this is the safety net for every line, so every ESC that is left is escaped here,
        // like every other control character ([`clean_line`]); colours are worth less.
        LogFormat::Text => Box::new(base.with(lines.with_ansi(false).with_filter(filter))),
        LogFormat::Json => {
            Box::new(base.with(lines.json().with_current_span(true).with_filter(filter)))
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter
/// (`info`, with wasmtime, cranelift and sqlx at `warn`) of the log lines.
pub fn init(format: LogFormat) {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,wasmtime=warn,cranelift_codegen=warn,hub_sims=warn")
    });
    let _ = subscriber(format, filter, std::io::stderr).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_in_every_form_are_masked() {
        assert_eq!(
            mask_personal("id 11010519491231002X done"),
            "id 1101**********002X done"
        );
        assert_eq!(
            mask_personal("id 11010519491231002x"),
            "id 1101**********002X"
        );
        assert_eq!(
            mask_personal("legacy 522325680312123."),
            "legacy 5223*******2123."
        );
        assert_eq!(
            mask_personal("\"idNumber\":\"440304198001010017\""),
            "\"idNumber\":\"4403**********0017\""
        );
        assert_eq!(
            mask_personal("全角 １１０１０５１９４９１２３１００２Ｘ"),
            "全角 1101**********002X"
        );
    }

    #[test]
    fn names_given_as_name_fields_keep_only_the_surname() {
        assert_eq!(
            mask_personal(r#"{"name":"张三丰","phone":"13800138000"}"#),
            r#"{"name":"张**","phone":"138****8000"}"#
        );
        assert_eq!(mask_personal("姓名=欧阳娜娜 ok"), "姓名=欧*** ok");
        assert_eq!(mask_personal("record name: 李四"), "record name: 李*");
        assert_eq!(
            mask_personal("{\\\"姓名\\\":\\\"王五\\\"}"),
            "{\\\"姓名\\\":\\\"王*\\\"}"
        );
        assert_eq!(mask_personal("姓名：赵六"), "姓名：赵*");
        // Not a name field, or not Han characters: left alone.
        assert_eq!(
            mask_personal("plugin=huiyang-esms name=workers 务工单位=惠阳工厂"),
            "plugin=huiyang-esms name=workers 务工单位=惠阳工厂"
        );
    }

    #[test]
    fn mobile_numbers_with_prefixes_and_separators_are_masked() {
        assert_eq!(mask_personal("phone 13800138000"), "phone 138****8000");
        assert_eq!(
            mask_personal("phone +86 138-0013-8000!"),
            "phone 138****8000!"
        );
        assert_eq!(mask_personal("tel:8613800138000"), "tel:138****8000");
    }

    #[test]
    fn every_short_string_of_tricky_characters_is_masked_in_finite_time() {
        // All strings of length 0..=6 over characters that start, join or end runs: the scan
        // must always move forward (a '+' after a letter once made it spin forever).
        let alphabet = [
            'a', '+', '1', '3', ' ', '-', 'X', '１', '中', '.', '\u{200b}',
        ];
        let mut stack = vec![String::new()];
        let mut seen = 0;
        while let Some(s) = stack.pop() {
            let m = mask_personal(&s);
            assert!(m.chars().count() <= s.chars().count() + 4, "{s:?} → {m:?}");
            seen += 1;
            if s.chars().count() < 6 {
                for c in alphabet {
                    stack.push(format!("{s}{c}"));
                }
            }
        }
        assert_eq!(seen, (0..=6).map(|n| alphabet.len().pow(n)).sum::<usize>());
        assert_eq!(
            mask_personal("Service unavailable (UTC+8)"),
            "Service unavailable (UTC+8)"
        );
        assert_eq!(mask_personal("UTC+8613800138000"), "UTC138****8000");
        assert_eq!(
            mask_personal("id11010519491231002Xok"),
            "id1101**********002Xok"
        );
    }

    #[test]
    fn every_short_string_of_escape_pieces_is_masked_without_panicking() {
        // Escaped separators (`\n`, `\u000b`, `\u{b}`) are parsed by looking ahead: every
        // string of length 0..=7 over their pieces, cut anywhere.
        let alphabet = ['1', '\\', 'u', '{', '}', 'b', 'n', '0'];
        let mut stack = vec![String::new()];
        let mut seen = 0;
        while let Some(s) = stack.pop() {
            let m = mask_personal(&s);
            assert!(m.chars().count() <= s.chars().count(), "{s:?} → {m:?}");
            seen += 1;
            if s.chars().count() < 7 {
                for c in alphabet {
                    stack.push(format!("{s}{c}"));
                }
            }
        }
        assert_eq!(seen, (0..=7).map(|n| 8usize.pow(n)).sum::<usize>());
    }

    #[test]
    fn ordinary_numbers_times_and_codes_are_left_alone() {
        for s in [
            "read 3000 records in 1322 ms",
            "2021-09-02T10:00:00+08:00",
            "registry ZF2021000123 updated",
            "uscc 91441303MAL643GTXQ",
            "run 12 status ok, cursor 2021-09-02 10:00:00",
            "port 127.0.0.1:18101",
            "12800138000 is not a mobile",
        ] {
            assert_eq!(mask_personal(s), s);
        }
    }
    #[test]
    fn identity_numbers_split_by_separators_are_masked() {
        let id = "1101**********002X";
        for s in [
            "1101.0519.4912.3100.2X",
            "110105\u{3000}19491231\u{3000}002X",
            "110105 19491231 002X",
            "110105\u{a0}19491231\u{2009}002X",
            "110105-19491231-002X",
            "110105 - 19491231 - 002X",
            "110105\u{2014}19491231\u{2212}002X",
            "1101０５１９４９１２３１００２ｘ",
            "110105 19491231 002 X",
        ] {
            assert_eq!(
                mask_personal(&format!("id {s} ok")),
                format!("id {id} ok"),
                "{s:?}"
            );
        }
        // A zero-width space (or joiner, word joiner, byte order mark) between every digit.
        for zw in ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}'] {
            let s: String = "11010519491231002X".chars().flat_map(|c| [c, zw]).collect();
            assert_eq!(mask_personal(&format!("id {s}")), format!("id {id}{zw}"));
        }
        // The legacy 15-digit form, and the 18-digit one ending in a digit.
        assert_eq!(mask_personal("522325.680312.123"), "5223*******2123");
        assert_eq!(
            mask_personal("4403 0419 8001 0100 17"),
            "4403**********0017"
        );
    }

    #[test]
    fn identity_numbers_and_phones_in_digits_of_other_scripts_are_masked() {
        // Arabic-Indic, Extended Arabic-Indic (Persian), Devanagari, Bengali, Thai,
        // mathematical bold and monospace.
        for s in [
            "١٣٨٠٠١٣٨٠٠٠",
            "۱۳۸۰۰۱۳۸۰۰۰",
            "१३८००१३८०००",
            "১৩৮০০১৩৮০০০",
            "๑๓๘๐๐๑๓๘๐๐๐",
            "𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎",
            "𝟷𝟹𝟾𝟶𝟶𝟷𝟹𝟾𝟶𝟶𝟶",
            "१३८-००१३-८०००",
            "13८0013८000",
        ] {
            assert_eq!(
                mask_personal(&format!("tel {s}.")),
                "tel 138****8000.",
                "{s:?}"
            );
        }
        assert_eq!(
            mask_personal("id ١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"),
            "id 1101**********002X"
        );
        assert_eq!(
            mask_personal("id ११०१०५१९४९१२३१००२x"),
            "id 1101**********002X"
        );
    }

    #[test]
    fn phones_split_by_separators_are_masked() {
        for s in [
            "138.0013.8000",
            "138 0013 8000",
            "138\u{3000}0013\u{3000}8000",
            "1\u{200b}3\u{200b}8\u{200b}0\u{200b}0\u{200b}1\u{200b}3\u{200b}8\u{200b}0\u{200b}0\u{200b}0",
            "138 . 0013 . 8000",
            "+86.138.0013.8000",
            "＋86 138 0013 8000",
            "138\u{ff0d}0013\u{ff0d}8000",
            "1\u{20e3}3\u{20e3}8\u{20e3}0013 8000",
        ] {
            assert_eq!(
                mask_personal(&format!("tel {s};")),
                "tel 138****8000;",
                "{s:?}"
            );
        }
        // As the JSON log format and `{:?}` fields write a line break or a zero-width space.
        assert_eq!(mask_personal(r"tel 138\n0013\n8000"), "tel 138****8000");
        assert_eq!(
            mask_personal(r"tel 138\u200b0013\u200b8000"),
            "tel 138****8000"
        );
        assert_eq!(
            mask_personal(r"tel 138\u{200b}0013\u{200b}8000"),
            "tel 138****8000"
        );
        // A number that separators join to its neighbours is still found.
        assert_eq!(mask_personal("item 3. 13800138000"), "item 3. 138****8000");
        assert_eq!(
            mask_personal("13800138000 13900139000"),
            "138****8000 139****9000"
        );
        assert_eq!(
            mask_personal("2. 11010519491231002X"),
            "2. 1101**********002X"
        );
        // Too many separators between two digits end the number.
        assert_eq!(mask_personal("138    0013    8000"), "138    0013    8000");
    }

    #[test]
    fn dotted_and_spaced_ordinary_numbers_are_left_alone() {
        for s in [
            "127.0.0.1:18101",
            "listening on 127.0.0.1:18101",
            "version 0.13.5",
            "2026-12-04 02:26:10",
            "2026-12-04T02:26:10.123456Z",
            "run 12 of 3000",
            "read 3000 records in 1.322 s",
            "pages 1 2 3 4 5",
            r"C:\data\2021\09",
            r"a\u0041 1\u00412",
        ] {
            assert_eq!(mask_personal(s), s);
        }
    }

    #[test]
    fn the_digit_table_holds_every_decimal_digit_set() {
        assert!(DIGIT_ZEROS.is_sorted());
        for z in DIGIT_ZEROS {
            for v in 0..10u8 {
                let c = char::from_u32(z as u32 + u32::from(v)).unwrap();
                assert!(c.is_numeric(), "{c:?}");
                assert_eq!(digit_value(c), Some(char::from(b'0' + v)), "{c:?}");
            }
        }
        for c in [
            'a', '/', ':', '①', '¹', '一', 'Ⅻ', '\u{65f}', '\u{66a}', '\u{ff1a}',
        ] {
            assert_eq!(digit_value(c), None, "{c:?}");
        }
    }

    /// A subscriber as [`init`] installs it, writing into a buffer.
    fn log_into(format: LogFormat, event: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let sub = subscriber(format, EnvFilter::new("info"), move || sink.clone());
        tracing::subscriber::with_default(sub, event);
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    const FORGED: &str =
        "ok\n2026-12-04T00:00:00.000000Z  INFO hub::daemon: forged\r\u{1b}[2J\u{85}\u{2028}";

    #[test]
    fn a_message_with_line_breaks_is_one_text_line() {
        let out = log_into(LogFormat::Text, || {
            tracing::info!(plugin = "p\nq", remote_id = %"r\rs", "{FORGED}");
        });
        assert_eq!(out.matches('\n').count(), 1, "{out:?}");
        assert!(out.ends_with('\n'));
        assert!(
            !out.contains(['\r', '\u{1b}', '\u{85}', '\u{2028}']),
            "{out:?}"
        );
        // (ESC and C1 controls tracing-subscriber already writes as `\x1b`, `\u{85}`.)
        assert!(
            out.contains(r"ok\n2026-12-04T00:00:00.000000Z  INFO hub::daemon: forged\r"),
            "{out:?}"
        );
        assert!(out.contains(r"[2J\u{85}\u{2028} "), "{out:?}");
        assert!(out.contains(r#"plugin="p\nq""#), "{out:?}");
        assert!(out.contains(r"remote_id=r\rs"), "{out:?}");
        assert!(out.contains(" INFO "), "{out:?}");
    }

    #[test]
    fn a_message_with_line_breaks_is_one_json_line_and_keeps_its_text() {
        let out = log_into(LogFormat::Json, || {
            tracing::info!(remote_id = %"r\rs", "{FORGED}");
        });
        assert_eq!(out.matches('\n').count(), 1, "{out:?}");
        assert!(out.ends_with('\n'));
        assert!(
            !out.contains(['\r', '\u{1b}', '\u{85}', '\u{2028}']),
            "{out:?}"
        );
        assert!(out.contains(r"\u0085\u2028"), "{out:?}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["fields"]["message"], FORGED);
        assert_eq!(v["fields"]["remote_id"], "r\rs");
    }

    #[test]
    fn lines_are_masked_before_their_controls_are_escaped() {
        assert_eq!(
            clean_line("tel 138\n0013\u{0}8000\n", LogFormat::Text),
            "tel 138****8000\n"
        );
        assert_eq!(
            clean_line("{\"m\":\"tel 138\\n0013\\u00008000\"}\n", LogFormat::Json),
            "{\"m\":\"tel 138****8000\"}\n"
        );
        let plain = "2026-12-04T02:26:10Z  INFO hub: run 12 of 3000\n";
        assert!(matches!(clean_line(plain, LogFormat::Text), Cow::Borrowed(b) if b == plain));
    }
}
