//! Escaping of control characters in text that plugins and the systems behind them supply
//! (remote ids, error messages, log messages, rejection reasons), before it reaches a log
//! line, a terminal or a page.
//!
//! A control character in such text could start a forged log line (`\n`, `\r`), move the
//! cursor or recolour a terminal (ANSI escapes, ESC U+001B), cut a C string (NUL), or reorder
//! what a person reads (the bidirectional overrides of Unicode's UAX #9). Each is written out
//! as a visible escape instead: `\n`, `\r`, `\t`, and `\u{1b}` for the rest (Rust's
//! `char::escape_unicode` form), so nothing is lost and nothing acts.
//!
//! The command line prints such text with [`say!`], [`say_err!`] and [`say_to!`]: `println!`,
//! `eprintln!` and `writeln!` of one line, escaped whole.

use std::borrow::Cow;

/// Whether `c` must not reach a log line, terminal or page as itself: the C0 and C1 controls
/// and DEL (Unicode general category Cc), the line and paragraph separators U+2028 and U+2029
/// (a line break to many viewers), and the bidirectional formatting characters U+061C,
/// U+200E–U+200F, U+202A–U+202E and U+2066–U+2069 (UAX #9).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every character [`is_unsafe`] escapes written as a visible escape (`\n`, `\r`,
/// `\t`, otherwise `\u{hex}`); borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether the format string `s` is one line with no ASCII control character (tab, line
/// break, ESC, …): [`say!`], [`say_err!`] and [`say_to!`] check theirs at compile time, since
/// they escape whatever the line holds.
#[doc(hidden)]
pub const fn is_one_line(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] < 0x20 || b[i] == 0x7f {
            return false;
        }
        i += 1;
    }
    true
}

/// `println!` for one line of command output that may hold text from plugins, the systems
/// behind them or the state store: the formatted line, every control character in it written
/// as [`escape`] does (text without any is printed as it is). The format string must be one
/// line (a compile-time error otherwise); print a multi-line text one line at a time.
#[macro_export]
macro_rules! say {
    ($fmt:literal $($args:tt)*) => {{
        const _: () = ::std::assert!(
            $crate::control_chars::is_one_line($fmt),
            "say!: the format string must be one line without control characters"
        );
        ::std::println!(
            "{}",
            $crate::control_chars::escape(&::std::format!($fmt $($args)*))
        )
    }};
}

/// [`say!`] to stderr (`eprintln!`).
#[macro_export]
macro_rules! say_err {
    ($fmt:literal $($args:tt)*) => {{
        const _: () = ::std::assert!(
            $crate::control_chars::is_one_line($fmt),
            "say_err!: the format string must be one line without control characters"
        );
        ::std::eprintln!(
            "{}",
            $crate::control_chars::escape(&::std::format!($fmt $($args)*))
        )
    }};
}

/// [`say!`] to an `io::Write` (`writeln!`; an `io::Result<()>`).
#[macro_export]
macro_rules! say_to {
    ($out:expr, $fmt:literal $($args:tt)*) => {{
        const _: () = ::std::assert!(
            $crate::control_chars::is_one_line($fmt),
            "say_to!: the format string must be one line without control characters"
        );
        ::std::writeln!(
            $out,
            "{}",
            $crate::control_chars::escape(&::std::format!($fmt $($args)*))
        )
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_terminal_escapes_nul_and_bidi_overrides_become_visible() {
        assert_eq!(
            escape("ok\n2026-12-04T00:00:00Z  INFO hub: forged\r"),
            "ok\\n2026-12-04T00:00:00Z  INFO hub: forged\\r"
        );
        assert_eq!(escape("\u{1b}[2J\u{0}id"), "\\u{1b}[2J\\u{0}id");
        assert_eq!(escape("a\tb\u{7f}\u{85}"), "a\\tb\\u{7f}\\u{85}");
        assert_eq!(escape("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        assert_eq!(escape("x\u{2028}y"), "x\\u{2028}y");
    }

    #[test]
    fn say_to_escapes_the_formatted_line_and_nothing_else() {
        use std::io::Write as _;
        let mut out = Vec::new();
        let id = "\u{1b}[2J\u{0}evil\nline";
        crate::say_to!(out, "{:>7}  {id} — 贞丰 {}", 12, "ok").unwrap();
        crate::say_to!(&mut out, "plain {}", 3).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "     12  \\u{1b}[2J\\u{0}evil\\nline — 贞丰 ok\nplain 3\n"
        );
        assert!(is_one_line("a {x} — b"));
        assert!(!is_one_line("a\n") && !is_one_line("\ta") && !is_one_line("\u{1b}"));
    }

    #[test]
    fn text_without_controls_is_borrowed_unchanged() {
        let s = "贞丰县 工人12 — ok ① Ｘ";
        assert!(matches!(escape(s), Cow::Borrowed(b) if b == s));
    }
}
