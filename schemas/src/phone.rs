//! Mainland China mobile numbers (E.164 country code +86, 11-digit national significant number
//! starting with `1`), in the canonical form the hub's records use: the 11 digits alone.

use crate::text;

/// Checks the canonical form: 11 ASCII digits, `1` then `3`–`9`.
///
/// ```
/// assert!(hub_schemas::phone::is_canonical("13800138000"));
/// assert!(!hub_schemas::phone::is_canonical("+8613800138000"));
/// ```
pub fn is_canonical(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

/// Normalises what systems send: full-width digits to ASCII; blanks, dashes (ASCII `-`, the
/// full-width `－`, and U+2010..=U+2015 `‐ ‑ ‒ – — ―`), dots and parentheses removed; and a `+86`, `0086` or `86` country prefix dropped when 11 digits remain. Empty input
/// gives `None`; anything that does not become canonical is returned cleaned, for validation to
/// reject.
///
/// ```
/// use hub_schemas::phone::normalise;
/// assert_eq!(normalise("+86 138-0013-8000").as_deref(), Some("13800138000"));
/// assert_eq!(normalise("１３８ ００１３ ８０００").as_deref(), Some("13800138000"));
/// ```
pub fn normalise(raw: &str) -> Option<String> {
    let s: String = text::to_half_width(raw)
        .chars()
        .filter(|c| {
            !(text::is_blank(*c) || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '.' | '(' | ')'))
        })
        .collect();
    if s.is_empty() {
        return None;
    }
    for prefix in ["+86", "0086", "86"] {
        if let Some(rest) = s.strip_prefix(prefix)
            && is_canonical(rest)
        {
            return Some(rest.to_string());
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_separators_are_removed() {
        for raw in [
            "13800138000",
            "+8613800138000",
            "+86 138 0013 8000",
            "0086-138-0013-8000",
            "86 13800138000",
            "(138)00138000",
            "１３８００１３８０００　",
            "＋８６－１３８－００１３－８０００",
            "138—0013—8000",
            "+86 138–0013–8000 ",
            "(+86) 13800138000",
        ] {
            assert_eq!(normalise(raw).as_deref(), Some("13800138000"), "{raw}");
        }
    }

    /// The canonical form: the 11-digit national significant number of ITU-T E.164 country code
    /// 86, whose mobile numbers begin 13-19 (China's numbering plan).
    #[test]
    fn canonical_form_cases() {
        for ok in [
            "13800138000",
            "13012345678",
            "14700000000",
            "15912345678",
            "16612345678",
            "17712345678",
            "18811112222",
            "19912345678",
        ] {
            assert!(is_canonical(ok), "{ok}");
        }
        for bad in [
            "8613800138000",          // country code kept
            "+8613800138000",         // idem
            "138-0013-8000",          // separators
            "138 0013 8000",          // blanks
            "1380013800",             // 10 digits
            "138001380000",           // 12 digits
            "10012345678",            // 10x is not a mobile prefix
            "12012345678",            // nor 12x
            "23800138000",            // does not start with 1
            "１３８００１３８０００", // full-width digits
            "",
        ] {
            assert!(!is_canonical(bad), "{bad}");
        }
    }

    #[test]
    fn non_mobile_numbers_stay_as_cleaned_text() {
        assert_eq!(normalise("0859-6612345").as_deref(), Some("08596612345"));
        assert!(!is_canonical("08596612345"));
        assert!(!is_canonical("12800138000"));
        assert!(!is_canonical("1380013800"));
        assert_eq!(normalise(" "), None);
    }
}
