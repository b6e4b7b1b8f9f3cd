//! People's names as the bureaus' systems hold them.
//!
//! Legacy systems pad a two-character Han name to the width of three with a blank between the
//! characters (`王　五` with U+3000 IDEOGRAPHIC SPACE, or `王 五` with U+0020), so that names line
//! up in fixed-width screens and printouts. The blank is not part of the name: `王　五` and
//! `王五` are the same value, and a connector reads a person's name through
//! [`normalise_han_name`] so that a padded copy on one side and an unpadded one on the other are
//! not a difference.

/// True for a Han ideograph a name is written with: the code points of the CJK Unified
/// Ideographs blocks and the CJK Compatibility Ideographs blocks (Unicode 15.1, `Blocks.txt`),
/// and U+3005 々 and U+3007 〇, which `Scripts.txt` also gives the Han script:
///
/// | range | block |
/// |---|---|
/// | U+3400..U+4DBF | CJK Unified Ideographs Extension A |
/// | U+4E00..U+9FFF | CJK Unified Ideographs |
/// | U+F900..U+FAFF | CJK Compatibility Ideographs |
/// | U+20000..U+2A6DF | CJK Unified Ideographs Extension B |
/// | U+2A700..U+2EE5F | Extensions C, D, E, F and I (adjacent blocks) |
/// | U+2F800..U+2FA1F | CJK Compatibility Ideographs Supplement |
/// | U+30000..U+323AF | Extensions G and H (adjacent blocks) |
///
/// The radicals (U+2E80..U+2FDF) and the ideographic punctuation of U+3000..U+303F other than
/// 々 and 〇 are not counted: they are not written in names. A code point of these blocks not
/// yet assigned counts as Han (a later Unicode version can only assign an ideograph there).
pub fn is_han(c: char) -> bool {
    matches!(
        c,
        '\u{3005}'
            | '\u{3007}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{20000}'..='\u{2A6DF}'
            | '\u{2A700}'..='\u{2EE5F}'
            | '\u{2F800}'..='\u{2FA1F}'
            | '\u{30000}'..='\u{323AF}'
    )
}

/// A person's name without the padding legacy systems put into Han names: trimmed (Unicode
/// `White_Space` and U+FEFF at both ends, as [`hub_schemas::text::trim`]), and every run of
/// `White_Space` characters (U+3000, U+0020, tabs, no-break spaces, …: Rust's
/// [`char::is_whitespace`], which is Unicode's `White_Space` property) that stands between two
/// Han characters ([`is_han`]) removed.
///
/// Blanks anywhere else are kept as written, so names in Latin letters or transliterations
/// (`Ali Hassan`, `Ehmet Qadir`), Uyghur in Arabic script, and a Han name beside Latin letters
/// keep their spaces; nothing else in the name is changed (no case folding, no width folding).
///
/// ```
/// use hub_sdk::names::normalise_han_name;
/// assert_eq!(normalise_han_name("王　五"), "王五");
/// assert_eq!(normalise_han_name(" 王 五 "), "王五");
/// assert_eq!(normalise_han_name("Ali Hassan"), "Ali Hassan");
/// ```
pub fn normalise_han_name(name: &str) -> String {
    let name = hub_schemas::text::trim(name);
    let mut out = String::with_capacity(name.len());
    // A run of white space not yet written, and whether the character before it is Han.
    let mut blanks = String::new();
    let mut after_han = false;
    for c in name.chars() {
        if c.is_whitespace() {
            blanks.push(c);
            continue;
        }
        if !(after_han && is_han(c)) {
            out.push_str(&blanks);
        }
        blanks.clear();
        out.push(c);
        after_han = is_han(c);
    }
    // The name is trimmed, so it does not end in a run of white space.
    debug_assert!(blanks.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_padded_two_character_name_is_the_name_without_the_blank() {
        assert_eq!(normalise_han_name("王　五"), "王五"); // U+3000
        assert_eq!(normalise_han_name("王 五"), "王五"); // U+0020
        assert_eq!(normalise_han_name("王\u{00A0}五"), "王五"); // no-break space
        assert_eq!(normalise_han_name("王\t五"), "王五");
        // Two blanks, mixed, and padding at the ends as fixed-width exports write it.
        assert_eq!(normalise_han_name("王 　五"), "王五");
        assert_eq!(normalise_han_name("　王　五　"), "王五");
        // Unpadded names are unchanged; a padded and an unpadded copy are one value.
        assert_eq!(normalise_han_name("王五"), "王五");
        assert_eq!(normalise_han_name("王　五"), normalise_han_name("王五"));
    }

    #[test]
    fn blanks_between_han_characters_go_in_longer_names_and_in_every_block() {
        assert_eq!(normalise_han_name("欧阳 娜娜"), "欧阳娜娜");
        assert_eq!(normalise_han_name("李 小 龙"), "李小龙");
        // U+3400 (Extension A), U+20000 (Extension B), U+2A700 (Extension C), U+30000
        // (Extension G), U+F900 (compatibility), 〇 U+3007.
        assert_eq!(normalise_han_name("\u{3400} 五"), "\u{3400}五");
        assert_eq!(
            normalise_han_name("\u{20000}　\u{2A700}"),
            "\u{20000}\u{2A700}"
        );
        assert_eq!(
            normalise_han_name("\u{30000} \u{F900}"),
            "\u{30000}\u{F900}"
        );
        assert_eq!(normalise_han_name("王 〇"), "王〇");
    }

    #[test]
    fn names_that_are_not_han_keep_their_spaces() {
        assert_eq!(normalise_han_name("Ali Hassan"), "Ali Hassan");
        assert_eq!(normalise_han_name(" Ali  Hassan "), "Ali  Hassan");
        assert_eq!(normalise_han_name("Ehmet Qadir"), "Ehmet Qadir");
        // Uyghur in Arabic script (U+0626 …): not Han.
        assert_eq!(normalise_han_name("ئەخمەت قادىر"), "ئەخمەت قادىر");
        // Han beside Latin letters or the middle dot of transliterated names: the blank does not
        // stand between two Han characters.
        assert_eq!(normalise_han_name("王 Li"), "王 Li");
        assert_eq!(normalise_han_name("Li 王"), "Li 王");
        assert_eq!(normalise_han_name("买买提 · 艾力"), "买买提 · 艾力");
        assert_eq!(normalise_han_name("买买提·艾力"), "买买提·艾力");
        // Ideographic punctuation and radicals are not Han characters of a name: U+3001 、 and
        // U+2F00 ⼀ (Kangxi radical one).
        assert_eq!(normalise_han_name("王 、五"), "王 、五");
        assert_eq!(normalise_han_name("\u{2F00} 五"), "\u{2F00} 五");
        assert_eq!(normalise_han_name(""), "");
        assert_eq!(normalise_han_name(" 　"), "");
    }

    #[test]
    fn han_is_the_unified_and_compatibility_ideograph_blocks() {
        for c in [
            '\u{3005}',
            '\u{3007}',
            '\u{3400}',
            '\u{4DBF}',
            '\u{4E00}',
            '王',
            '\u{9FFF}',
            '\u{FAFF}',
            '\u{20000}',
            '\u{2EE5F}',
            '\u{2F800}',
            '\u{323AF}',
        ] {
            assert!(is_han(c), "{c:?}");
        }
        for c in [
            '\u{3000}',
            '\u{3001}',
            '\u{3006}',
            '\u{33FF}',
            '\u{4DC0}',
            '\u{A000}',
            '\u{2A6E0}',
            '\u{2EE60}',
            '\u{2FA20}',
            '\u{323B0}',
            'A',
            '·',
        ] {
            assert!(!is_han(c), "{c:?}");
        }
    }
}
