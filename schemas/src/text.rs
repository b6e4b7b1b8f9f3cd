//! Text as the bureaus' systems send it: full-width ASCII variants (`１３８`, `Ａ`), the
//! ideographic space U+3000, and leading or trailing blanks.

/// Maps the full-width forms of ASCII (U+FF01..=U+FF5E, Unicode block "Halfwidth and Fullwidth
/// Forms") to ASCII and the ideographic space U+3000 to an ASCII space; other characters are kept.
///
/// ```
/// assert_eq!(hub_schemas::text::to_half_width("１３８　００１３"), "138 0013");
/// ```
pub fn to_half_width(s: &str) -> String {
    s.chars().map(half_width_char).collect()
}

fn half_width_char(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

/// True for the blanks real exports carry around values: Unicode white space (which includes
/// U+3000 IDEOGRAPHIC SPACE) and the zero-width no-break space U+FEFF (a stray byte-order mark).
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

/// Trims blanks (see [`is_blank`]) at both ends; the text inside is kept as written, so a name
/// keeps its Chinese characters and any inner spacing.
///
/// ```
/// assert_eq!(hub_schemas::text::trim("　王芳 　"), "王芳");
/// ```
pub fn trim(s: &str) -> &str {
    s.trim_matches(is_blank)
}

/// Trims a free-text value and returns `None` when nothing is left, the way an empty CSV cell or
/// a blank form field means "no value".
pub fn non_empty(s: &str) -> Option<String> {
    let t = trim(s);
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_letters_and_ideographic_space_become_ascii() {
        assert_eq!(to_half_width("１３８－００１３"), "138-0013");
        assert_eq!(to_half_width("ＺＦ２０２１"), "ZF2021");
        assert_eq!(to_half_width("ｘ"), "x");
        assert_eq!(to_half_width("张　三"), "张 三");
        assert_eq!(to_half_width("（惠州）"), "(惠州)");
    }

    #[test]
    fn trim_removes_ideographic_spaces_and_bom_but_keeps_inner_text() {
        assert_eq!(trim("\u{FEFF} 李四\u{3000}\u{3000} "), "李四");
        assert_eq!(trim("张 三 "), "张 三");
        assert_eq!(non_empty(" \u{3000} "), None);
        assert_eq!(non_empty(" 长田镇 ").as_deref(), Some("长田镇"));
    }
}
