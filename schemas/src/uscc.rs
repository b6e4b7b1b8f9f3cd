//! Unified social credit codes (统一社会信用代码), GB 32100-2015 "The coding rule of the unified
//! social credit identifier for legal entities and other organizations".
//!
//! Eighteen characters over the 31-character alphabet `0-9 A-H J-N P-R T-U W-Y` (no I, O, Z, S,
//! V): registration authority, entity type, a 6-digit GB/T 2260 division code, the 9-character
//! organisation code, and a check character computed modulo 31 over the first 17.

/// The code alphabet in value order (value of a character = its index).
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights for positions 1..=17 (3^(i-1) mod 31).
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a text is not a unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsccError {
    /// Not 18 characters.
    Length(usize),
    /// The character at this 1-based position is outside the GB 32100 alphabet.
    Character(usize),
    /// The check character does not match: `expected` is what the mod-31 rule gives.
    CheckCharacter { expected: char, found: char },
}

impl std::fmt::Display for UsccError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsccError::Length(n) => write!(f, "must be 18 characters, found {n}"),
            UsccError::Character(p) => write!(
                f,
                "character {p} is outside the GB 32100 alphabet 0-9 A-H J-N P-R T-U W-Y"
            ),
            UsccError::CheckCharacter { expected, found } => write!(
                f,
                "check character is {found:?} but GB 32100 gives {expected:?}"
            ),
        }
    }
}

impl std::error::Error for UsccError {}

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

/// The check character for the first 17 characters, or `None` if they are not 17 characters of
/// the alphabet.
///
/// ```
/// assert_eq!(hub_schemas::uscc::check_character("91350100M000100Y4"), Some('3'));
/// ```
pub fn check_character(first17: &str) -> Option<char> {
    let vals: Option<Vec<u32>> = first17.chars().map(value).collect();
    let vals = vals?;
    if vals.len() != 17 {
        return None;
    }
    let sum: u32 = vals.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let c = (31 - sum % 31) % 31;
    ALPHABET.chars().nth(c as usize)
}

/// Checks an 18-character code: alphabet and check character.
pub fn validate(s: &str) -> Result<(), UsccError> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 {
        return Err(UsccError::Length(chars.len()));
    }
    if let Some(p) = chars.iter().position(|c| value(*c).is_none()) {
        return Err(UsccError::Character(p + 1));
    }
    let expected = check_character(&s[..17]).expect("17 alphabet characters");
    if expected != chars[17] {
        return Err(UsccError::CheckCharacter { expected, found: chars[17] });
    }
    Ok(())
}

/// Normalises a code as systems send it: full-width forms to ASCII, blanks removed, letters
/// upper-cased. Empty input gives `None` (an empty 单位信用代码 means "not known").
pub fn normalise(raw: &str) -> Option<String> {
    let s: String = crate::text::to_half_width(raw)
        .chars()
        .filter(|c| !crate::text::is_blank(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_examples_check() {
        // Examples printed in GB 32100-2015 commentary and on licences.
        assert_eq!(validate("91350100M000100Y43"), Ok(()));
        assert_eq!(validate("91110000802100433B"), Ok(()));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(
            validate("91350100M000100Y44"),
            Err(UsccError::CheckCharacter { expected: '3', found: '4' })
        );
        assert_eq!(validate("91350100M000100I43"), Err(UsccError::Character(16)));
        assert_eq!(validate("9135"), Err(UsccError::Length(4)));
    }

    #[test]
    fn normalise_upper_cases_and_drops_blanks() {
        assert_eq!(normalise(" 91350100m000100y43 ").as_deref(), Some("91350100M000100Y43"));
        assert_eq!(normalise("　"), None);
    }
}
