//! Logging: `tracing` to stderr, human-readable or JSON, with every line passing one masking
//! step that hides identity numbers and mobile numbers (personal data, never logged in clear).
//!
//! Masking works on the formatted text, so it also covers messages from plugins and libraries.
//! A run of 15 to 18 digits (ASCII or full-width, optionally ending in `X`) is masked as an
//! identity number (GB 11643: first and last four kept); 11 digits starting `1[3-9]`, possibly
//! with `+86`, spaces or dashes, are masked as a mobile number (first three and last four kept).
//! Runs glued to letters are masked as well (a code or a hash may lose a few digits in a log
//! line; an identity number never slips through). Names cannot be recognised in free text: code
//! must not log them.

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

fn digit_value(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        _ => None,
    }
}

/// Masks identity numbers and mobile numbers in `s` (see the module docs).
pub fn mask_personal(s: &str) -> Cow<'_, str> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut changed = false;
    let mut i = 0;
    let mut copied_to = 0;
    while i < chars.len() {
        let starts_run = digit_value(chars[i]).is_some()
            || (chars[i] == '+' && chars.get(i + 1).and_then(|c| digit_value(*c)).is_some());
        if !starts_run {
            i += 1;
            continue;
        }
        // A run: digits, single '-' or ' ' between digits, a leading '+', a trailing X.
        let start = i;
        let mut j = if chars[i] == '+' { i + 1 } else { i };
        let mut digits = String::new();
        while j < chars.len() {
            if let Some(d) = digit_value(chars[j]) {
                digits.push(d);
                j += 1;
            } else if matches!(chars[j], '-' | ' ')
                && chars.get(j + 1).and_then(|c| digit_value(*c)).is_some()
                && !digits.is_empty()
            {
                j += 1;
            } else {
                break;
            }
        }
        let x = chars
            .get(j)
            .is_some_and(|c| matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ'));
        let national = digits
            .strip_prefix("86")
            .filter(|r| r.len() == 11)
            .unwrap_or(&digits);
        // Runs glued to letters are masked too: over-masking a code or a hash in a log line is
        // harmless, missing an identity number written as "id11010519491231002X" is not.
        let masked = if (15..=18).contains(&digits.len()) && (!x || digits.len() == 17) {
            let id: String = digits.chars().chain(x.then_some('X')).collect();
            j += usize::from(x);
            Some(hub_schemas::id_number::mask(&id))
        } else if national.len() == 11
            && national.starts_with('1')
            && matches!(national.as_bytes()[1], b'3'..=b'9')
            && !x
        {
            Some(format!("{}****{}", &national[..3], &national[7..]))
        } else {
            None
        };
        if let Some(m) = masked {
            out.extend(&chars[copied_to..start]);
            out.push_str(&m);
            copied_to = j;
            changed = true;
        }
        i = j.max(i + 1);
    }
    if !changed {
        return Cow::Borrowed(s);
    }
    out.extend(&chars[copied_to..]);
    Cow::Owned(out)
}

/// A writer that masks each log event before it reaches stderr.
pub struct MaskingWriter {
    buf: Vec<u8>,
}

impl Write for MaskingWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let masked = mask_personal(&text);
        let r = std::io::stderr().lock().write_all(masked.as_bytes());
        self.buf.clear();
        r
    }
}

impl Drop for MaskingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Makes a [`MaskingWriter`] per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskingStderr;

impl<'a> MakeWriter<'a> for MaskingStderr {
    type Writer = MaskingWriter;

    fn make_writer(&'a self) -> MaskingWriter {
        MaskingWriter {
            buf: Vec::with_capacity(256),
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter
/// (`info`, with wasmtime, cranelift and sqlx at `warn`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,wasmtime=warn,cranelift_codegen=warn,hub_sims=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskingStderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
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
        let alphabet = ['a', '+', '1', '3', ' ', '-', 'X', '１', '中'];
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
        assert_eq!(seen, (0..=6).map(|n| 9usize.pow(n)).sum::<usize>());
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
}
