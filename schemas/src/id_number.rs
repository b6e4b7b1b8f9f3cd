//! Citizen (resident) identity numbers, GB 11643-1999 "Citizen identification number".
//!
//! Eighteen characters: a 6-digit GB/T 2260 division code (of the place of first registration,
//! possibly retired since), an 8-digit birth date `YYYYMMDD`, a 3-digit sequence (odd for men,
//! even for women) and a check character computed by ISO 7064 MOD 11-2 over the first 17 digits:
//! `0`–`9` or `X`. The canonical form in the hub's records writes `X` upper-case.
//!
//! Numbers issued before 1999 have 15 digits: the same fields with a two-digit year (century
//! 19) and no check character. [`upgrade_15`] turns them into the 18-character form.

use crate::{date::Date, text};

/// ISO 7064 MOD 11-2 weights for positions 1..=17 (2^(18-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each value of (Σ digit·weight) mod 11.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Why a text is not a canonical GB 11643-1999 identity number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdNumberError {
    /// Not 18 characters.
    Length(usize),
    /// A character other than a digit in positions 1–17, or other than a digit or upper-case
    /// `X` in position 18 (1-based position).
    Character(usize),
    /// Positions 7–14 are not a real calendar date.
    BirthDate,
    /// The check character does not match: `expected` is what MOD 11-2 gives.
    CheckCharacter { expected: char, found: char },
}

impl std::fmt::Display for IdNumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdNumberError::Length(n) => write!(f, "must be 18 characters, found {n}"),
            IdNumberError::Character(p) => write!(
                f,
                "character {p} must be a digit{}",
                if *p == 18 { " or upper-case X" } else { "" }
            ),
            IdNumberError::BirthDate => {
                f.write_str("characters 7-14 are not a real birth date (YYYYMMDD)")
            }
            IdNumberError::CheckCharacter { expected, found } => write!(
                f,
                "check character is {found:?} but ISO 7064 MOD 11-2 gives {expected:?}"
            ),
        }
    }
}

impl std::error::Error for IdNumberError {}

/// The check character for 17 leading digits, or `None` if `first17` is not 17 ASCII digits.
///
/// ```
/// // The example of GB 11643-1999, annex A: 11010519491231002 → X.
/// assert_eq!(hub_schemas::id_number::check_character("11010519491231002"), Some('X'));
/// ```
pub fn check_character(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize])
}

/// Checks a canonical 18-character identity number: characters, birth date and check character.
/// The division code is not looked up here (see `divisions` in this crate).
pub fn validate(s: &str) -> Result<(), IdNumberError> {
    // Fast path, without allocating, for the usual case of 18 ASCII characters of the right kinds.
    let b = s.as_bytes();
    if b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
    {
        if birth_date(s).is_none() {
            return Err(IdNumberError::BirthDate);
        }
        let expected = check_character(&s[..17]).expect("17 ASCII digits");
        let found = char::from(b[17]);
        return if expected == found {
            Ok(())
        } else {
            Err(IdNumberError::CheckCharacter { expected, found })
        };
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 {
        return Err(IdNumberError::Length(chars.len()));
    }
    if let Some(p) = chars[..17].iter().position(|c| !c.is_ascii_digit()) {
        return Err(IdNumberError::Character(p + 1));
    }
    if !(chars[17].is_ascii_digit() || chars[17] == 'X') {
        return Err(IdNumberError::Character(18));
    }
    if birth_date(s).is_none() {
        return Err(IdNumberError::BirthDate);
    }
    let expected = check_character(&s[..17]).expect("17 ASCII digits");
    if expected != chars[17] {
        return Err(IdNumberError::CheckCharacter {
            expected,
            found: chars[17],
        });
    }
    Ok(())
}

/// The birth date in characters 7–14 of an 18-character number, if it is a real date.
pub fn birth_date(s: &str) -> Option<Date> {
    let d = s.get(6..14)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::new(
        d[..4].parse().ok()?,
        d[4..6].parse().ok()?,
        d[6..].parse().ok()?,
    )
}

/// The sex the sequence code records (GB 11643-1999 §4.3: odd for men, even for women):
/// `Some(true)` for male, `None` if character 17 is not a digit.
pub fn is_male(s: &str) -> Option<bool> {
    let c = s.as_bytes().get(16)?;
    c.is_ascii_digit().then(|| (c - b'0') % 2 == 1)
}

/// Upgrades a legacy 15-digit number to 18 characters: century `19` inserted before the
/// two-digit year, check character appended. `None` if `s` is not 15 ASCII digits.
///
/// ```
/// assert_eq!(
///     hub_schemas::id_number::upgrade_15("522325680312123").as_deref(),
///     Some("522325196803121231"),
/// );
/// ```
pub fn upgrade_15(s: &str) -> Option<String> {
    if s.len() != 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first17 = format!("{}19{}", &s[..6], &s[6..]);
    let check = check_character(&first17)?;
    Some(format!("{first17}{check}"))
}

/// Normalises what systems send into the canonical form: full-width digits to ASCII, blanks
/// removed, lower-case `x` to `X`, 15-digit legacy numbers upgraded. Text that is still not a
/// valid number comes back in that cleaned form, for [`validate`] to reject with a reason.
pub fn normalise(raw: &str) -> String {
    let cleaned: String = text::to_half_width(raw)
        .chars()
        .filter(|c| !text::is_blank(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    upgrade_15(&cleaned).unwrap_or(cleaned)
}

/// Masks an identity number for display to people (logs, dead-letter listings): the first four
/// and the last four characters are kept, the rest (which hold the birth date) become `*`.
/// Texts of 3 to 11 characters keep only their first and last character; shorter ones are
/// masked whole.
///
/// ```
/// assert_eq!(hub_schemas::id_number::mask("52232519680312123X"), "5223**********123X");
/// ```
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let keep = if chars.len() >= 12 {
        4
    } else if chars.len() >= 3 {
        1
    } else {
        0
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep || i + keep >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standards_own_example_checks() {
        // GB 11643-1999 annex A: 11010519491231002X.
        assert_eq!(validate("11010519491231002X"), Ok(()));
        // A second worked example: 44030419800101001 → Σ = 4·7+4·9+0·10+3·5+0·8+4·4+1·2+9·1+8·6
        // +0·3+0·7+1·9+0·10+1·5+0·8+0·4+1·2 = 170; 170 mod 11 = 5 → '7'.
        assert_eq!(check_character("44030419800101001"), Some('7'));
        assert_eq!(validate("440304198001010017"), Ok(()));
    }

    #[test]
    fn wrong_check_character_length_and_dates_are_named() {
        assert_eq!(
            validate("440304198001010018"),
            Err(IdNumberError::CheckCharacter {
                expected: '7',
                found: '8'
            })
        );
        assert_eq!(validate("4403041980010100"), Err(IdNumberError::Length(16)));
        assert_eq!(
            validate("11010519491231002x"),
            Err(IdNumberError::Character(18))
        );
        assert_eq!(
            validate("1101051949123100AX"),
            Err(IdNumberError::Character(17))
        );
        // 1987-02-30 does not exist; the check character is right for the digits given.
        let first17 = "52232519870230001";
        let bad_date = format!("{first17}{}", check_character(first17).unwrap());
        assert_eq!(validate(&bad_date), Err(IdNumberError::BirthDate));
    }

    #[test]
    fn legacy_numbers_gain_century_and_check_character() {
        // 522325 680312 123 → 522325 19680312 123 + check. By hand: 5·7+2·9+2·10+3·5+2·8+5·4+1·2
        // +9·1+6·6+8·3+0·7+3·9+1·10+2·5+1·8+2·4+3·2 = 264; 264 mod 11 = 0 → '1'.
        assert_eq!(check_character("52232519680312123"), Some('1'));
        assert_eq!(
            upgrade_15("522325680312123").as_deref(),
            Some("522325196803121231")
        );
        assert_eq!(upgrade_15("52232568031212"), None);
        assert_eq!(upgrade_15("52232568031212X"), None);
    }

    #[test]
    fn normalise_handles_lower_case_x_full_width_and_blanks() {
        assert_eq!(normalise(" 11010519491231002x "), "11010519491231002X");
        assert_eq!(
            normalise("１１０１０５１９４９１２３１００２Ｘ"),
            "11010519491231002X"
        );
        assert_eq!(normalise("522325 680312 123"), "522325196803121231");
        assert_eq!(normalise("abc"), "ABC");
    }

    #[test]
    fn sex_from_sequence_parity() {
        assert_eq!(is_male("11010519491231002X"), Some(false));
        assert_eq!(is_male("522325196803121231"), Some(true));
    }

    /// Identity numbers whose check characters were worked out by hand with the weights of
    /// GB 11643-1999 §7.3 (Wi = 2^(18-i) mod 11: 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) and the
    /// ISO 7064 MOD 11-2 table (S mod 11 = 0 1 2 3 4 5 6 7 8 9 10 → 1 0 X 9 8 7 6 5 4 3 2).
    #[test]
    fn check_characters_worked_out_by_hand() {
        let valid = [
            // 5·7+2·9+2·10+3·5+2·8+5·4+1·2+9·1+9·6+0·3+0·7+3·9+0·10+7·5+0·8+0·4+2·2 = 255;
            // 255 mod 11 = 2 → X (Zhenfeng, born 1990-03-07, sequence 002: female).
            "52232519900307002X",
            // 5·7+2·9+2·10+3·5+2·8+5·4+1·2+9·1+8·6+5·3+0·7+6·9+1·10+5·5+1·8+2·4+3·2 = 309;
            // 309 mod 11 = 1 → 0.
            "522325198506151230",
            // 4·7+4·9+1·10+3·5+0·8+3·4+1·2+9·1+9·6+2·3+1·7+1·9+2·10+0·5+0·8+0·4+4·2 = 216;
            // 216 mod 11 = 7 → 5 (Huiyang).
            "441303199211200045",
            // 4·7+4·9+1·10+3·5+8·8+1·4+1·2+9·1+7·6+5·3+1·7+2·9+3·10+1·5+0·8+0·4+7·2 = 299;
            // 299 mod 11 = 2 → X (441381, 惠阳市, retired in 2003: still a valid number).
            "44138119751231007X",
            // 5·7+2·9+2·10+3·5+2·8+5·4+2·2+0·1+0·6+0·3+0·7+2·9+2·10+9·5+0·8+0·4+4·2 = 219;
            // 219 mod 11 = 10 → 2 (born 2000-02-29: 2000 is a leap year).
            "522325200002290042",
            // 4·7+4·9+1·10+3·5+0·8+3·4+1·2+9·1+8·6+8·3+0·7+8·9+0·10+8·5+1·8+2·4+1·2 = 314;
            // 314 mod 11 = 6 → 6.
            "441303198808081216",
            // 5·7+2·9+2·10+3·5+2·8+5·4+1·2+9·1+7·6+0·3+0·7+1·9+0·10+1·5+0·8+1·4+0·2 = 195;
            // 195 mod 11 = 8 → 4.
            "522325197001010104",
            // 4·7+4·9+1·10+3·5+0·8+3·4+2·2+0·1+0·6+1·3+0·7+7·9+0·10+1·5+1·8+0·4+3·2 = 190;
            // 190 mod 11 = 3 → 9.
            "441303200107011039",
            // 5·7+2·9+2·10+3·5+2·8+5·4+1·2+9·1+8·6+3·3+0·7+4·9+1·10+2·5+0·8+0·4+5·2 = 258;
            // 258 mod 11 = 5 → 7.
            "522325198304120057",
        ];
        for n in valid {
            assert_eq!(validate(n), Ok(()), "{n}");
            assert_eq!(check_character(&n[..17]), n.chars().last(), "{n}");
        }
        let invalid = [
            // The first number with 0 instead of its X.
            (
                "522325199003070020",
                IdNumberError::CheckCharacter {
                    expected: 'X',
                    found: '0',
                },
            ),
            // S = 309 gives 0, not 1.
            (
                "522325198506151231",
                IdNumberError::CheckCharacter {
                    expected: '0',
                    found: '1',
                },
            ),
            // Two digits swapped (…1120 → …1102): 4·7+4·9+1·10+3·5+0·8+3·4+1·2+9·1+9·6+2·3+1·7
            // +1·9+0·10+2·5+0·8+0·4+4·2 = 206; 206 mod 11 = 8 → 4, not 5.
            (
                "441303199211020045",
                IdNumberError::CheckCharacter {
                    expected: '4',
                    found: '5',
                },
            ),
            // Lower-case x is not canonical (normalise upper-cases it).
            ("44138119751231007x", IdNumberError::Character(18)),
            // 1990-02-29 does not exist (1990 is not a leap year), whatever the check character:
            // 5·7+2·9+2·10+3·5+2·8+5·4+1·2+9·1+9·6+0·3+0·7+2·9+2·10+9·5+0·8+0·4+2·2 = 276;
            // 276 mod 11 = 1 → 0, the right one for these digits.
            ("522325199002290020", IdNumberError::BirthDate),
            // Month 13.
            ("522325199013070020", IdNumberError::BirthDate),
            // The 15-digit legacy form is not canonical (normalise upgrades it).
            ("522325680312123", IdNumberError::Length(15)),
            // A full-width digit is a character, not a digit.
            ("５22325198506151230", IdNumberError::Character(1)),
        ];
        for (n, e) in invalid {
            assert_eq!(validate(n), Err(e), "{n}");
        }
    }

    #[test]
    fn masks_hide_the_birth_date() {
        assert_eq!(mask("11010519491231002X"), "1101**********002X");
        assert_eq!(mask("522325680312123"), "5223*******2123");
        assert_eq!(mask("ab"), "**");
        assert_eq!(mask("abcdef"), "a****f");
    }
}
