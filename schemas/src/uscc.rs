//! Unified social credit codes (统一社会信用代码), GB 32100-2015 "The coding rule of the unified
//! social credit identifier for legal entities and other organizations".
//!
//! Eighteen characters over the 31-character alphabet `0-9 A-H J-N P-R T-U W-Y` (no I, O, Z, S,
//! V): registration authority, entity type, a 6-digit GB/T 2260 division code, the 9-character
//! organisation code, and a check character computed modulo 31 over the first 17.

/// The code alphabet in value order (value of a character = its index).
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights for positions 1..=17 (3^(i-1) mod 31).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

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

/// Value of each ASCII byte in the alphabet, 255 for bytes outside it.
const VALUES: [u8; 128] = {
    let mut t = [255u8; 128];
    let a = ALPHABET.as_bytes();
    let mut i = 0;
    while i < a.len() {
        t[a[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn value(c: char) -> Option<u32> {
    let v = *VALUES.get(c as usize)?;
    (v != 255).then_some(u32::from(v))
}

/// The check character for the first 17 characters, or `None` if they are not 17 characters of
/// the alphabet.
///
/// ```
/// assert_eq!(hub_schemas::uscc::check_character("91350100M000100Y4"), Some('3'));
/// ```
pub fn check_character(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in b.iter().zip(WEIGHTS) {
        sum += value(char::from(*c))? * w;
    }
    let c = (31 - sum % 31) % 31;
    Some(char::from(ALPHABET.as_bytes()[c as usize]))
}

/// Checks an 18-character code: alphabet and check character.
pub fn validate(s: &str) -> Result<(), UsccError> {
    // Fast path, without allocating, for 18 characters of the alphabet.
    let b = s.as_bytes();
    if b.len() == 18 && b.iter().all(|c| value(char::from(*c)).is_some()) {
        let expected = check_character(&s[..17]).expect("17 alphabet characters");
        let found = char::from(b[17]);
        return if expected == found {
            Ok(())
        } else {
            Err(UsccError::CheckCharacter { expected, found })
        };
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 {
        return Err(UsccError::Length(chars.len()));
    }
    if let Some(p) = chars.iter().position(|c| value(*c).is_none()) {
        return Err(UsccError::Character(p + 1));
    }
    let expected = check_character(&s[..17]).expect("17 alphabet characters");
    if expected != chars[17] {
        return Err(UsccError::CheckCharacter {
            expected,
            found: chars[17],
        });
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
            Err(UsccError::CheckCharacter {
                expected: '3',
                found: '4'
            })
        );
        assert_eq!(
            validate("91350100M000100I43"),
            Err(UsccError::Character(16))
        );
        assert_eq!(validate("9135"), Err(UsccError::Length(4)));
    }

    /// Codes whose check characters were worked out by hand with GB 32100-2015 §5: character
    /// values 0-9 → 0-9, A-H → 10-17, J-N → 18-22, P-R → 23-25, T-U → 26-27, W-Y → 28-30;
    /// weights Wi = 3^(i-1) mod 31: 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28;
    /// C18 = 31 − (Σ Ci·Wi mod 31), where 31 is written 0.
    #[test]
    fn check_characters_worked_out_by_hand() {
        let valid = [
            // 9·1+1·3+4·9+4·27+1·19+3·26+0·16+3·17+21·20+10·29+4·25+27·13+17·8+1·24+2·10+3·30
            // +4·28 = 1847; 1847 mod 31 = 18; 31 − 18 = 13 → D.
            "91441303MA4UH1234D",
            // 9·1+1·3+4·9+4·27+1·19+3·26+0·16+3·17+21·20+10·29+5·25+1·13+29·8+0·24+25·10+26·30
            // +2·28 = 2470; 2470 mod 31 = 21; 31 − 21 = 10 → A.
            "91441303MA51X0RT2A",
            // A public institution (1 机构编制, 2 事业单位) in Zhenfeng: 1·1+2·3+5·9+2·27+2·19
            // +3·26+2·16+5·17+4·20+2·29+9·25+2·13+7·8+0·24+5·10+6·30+7·28 = 1210;
            // 1210 mod 31 = 1; 31 − 1 = 30 → Y.
            "12522325429270567Y",
            // 9·1+1·3+5·9+2·27+2·19+3·26+2·16+5·17+21·20+10·29+6·25+13·13+19·8+20·24+8·10
            // +24·30+1·28 = 2833; 2833 mod 31 = 12; 31 − 12 = 19 → K.
            "91522325MA6DKL8Q1K",
            // A social organisation (5 民政, 2 民办非企业单位): 5·1+2·3+4·9+4·27+1·19+3·26+0·16
            // +3·17+21·20+18·29+20·25+0·13+0·8+0·24+0·10+1·30+2·28 = 1831; 1831 mod 31 = 2;
            // 31 − 2 = 29 → X.
            "52441303MJL000012X",
            // 9·1+1·3+4·9+4·27+1·19+3·26+0·16+0·17+6·20+1·29+7·25+9·13+1·8+3·24+8·10+6·30
            // +7·28 = 1230; 1230 mod 31 = 21; 31 − 21 = 10 → A.
            "91441300617913867A",
            // 9·1+1·3+4·9+4·27+0·19+3·26+0·16+0·17+21·20+10·29+5·25+16·13+2·8+28·24+8·10
            // +29·30+1·28 = 2943; 2943 mod 31 = 29; 31 − 29 = 2 → 2.
            "91440300MA5G2W8X12",
            // 9·1+3·3+5·9+2·27+2·19+3·26+2·16+5·17+21·20+10·29+6·25+17·13+0·8+23·24+7·10
            // +16·30+3·28 = 2617; 2617 mod 31 = 13; 31 − 13 = 18 → J.
            "93522325MA6H0P7G3J",
        ];
        for c in valid {
            assert_eq!(validate(c), Ok(()), "{c}");
            assert_eq!(check_character(&c[..17]), c.chars().last(), "{c}");
        }
        let invalid = [
            // S = 1847 gives D, not 0.
            (
                "91441303MA4UH12340",
                UsccError::CheckCharacter {
                    expected: 'D',
                    found: '0',
                },
            ),
            // Two characters swapped (…RT2 → …TR2): 9·1+1·3+4·9+4·27+1·19+3·26+0·16+3·17+21·20
            // +10·29+5·25+1·13+29·8+0·24+26·10+25·30+2·28 = 2450; 2450 mod 31 = 1;
            // 31 − 1 = 30 → Y, not A.
            (
                "91441303MA51X0TR2A",
                UsccError::CheckCharacter {
                    expected: 'Y',
                    found: 'A',
                },
            ),
            // I, O, Z, S and V are outside the alphabet, in any position.
            ("91441303MA4UH1234I", UsccError::Character(18)),
            ("91441303MO4UH1234D", UsccError::Character(10)),
            ("9144130SMA4UH1234D", UsccError::Character(8)),
            ("Z1441303MA4UH1234D", UsccError::Character(1)),
            ("91441303MA4UH123VD", UsccError::Character(17)),
            // Lower case is not canonical (normalise upper-cases it).
            ("91441303ma4uh1234d", UsccError::Character(9)),
            // The 15-character business registration number that preceded the code.
            ("441303000012345", UsccError::Length(15)),
        ];
        for (c, e) in invalid {
            assert_eq!(validate(c), Err(e), "{c}");
        }
    }

    #[test]
    fn normalise_upper_cases_and_drops_blanks() {
        assert_eq!(
            normalise(" 91350100m000100y43 ").as_deref(),
            Some("91350100M000100Y43")
        );
        assert_eq!(normalise("　"), None);
    }
}
