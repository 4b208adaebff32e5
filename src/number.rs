//! Phone numbers as people write them, and as WhatsApp identifies them.
//!
//! Files hold numbers the way people type them (`+86 133-0000 0002`); the
//! provider APIs speak digits with the country code and no `+`. Everything
//! inside the tool uses that canonical digits-only form.

use std::fmt;

/// E.164 allows at most 15 digits; fewer than 8 is never a full international number.
const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    /// A character that is neither a digit nor one of the separators people use.
    BadCharacter(char),
    /// Too few or too many digits once separators are dropped.
    Length(usize),
    /// A leading 0 means a national (trunk-prefixed) number without its country code.
    LeadingZero,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::BadCharacter(c) => write!(
                f,
                "is not a phone number (unexpected character {c:?}; only digits, '+', spaces, dashes, dots and parentheses are allowed)"
            ),
            NumberError::Length(n) => write!(
                f,
                "is not a phone number (needs {MIN_DIGITS} to {MAX_DIGITS} digits, has {n})"
            ),
            NumberError::LeadingZero => write!(
                f,
                "is not a phone number in international form (starts with 0; write the country code first)"
            ),
        }
    }
}

/// Reduce a number as written to its canonical form: digits only, country code first.
pub fn canonical(raw: &str) -> Result<String, NumberError> {
    let mut digits = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | ' ' | '-' | '.' | '(' | ')' => {}
            other => return Err(NumberError::BadCharacter(other)),
        }
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(NumberError::Length(digits.len()));
    }
    if digits.starts_with('0') {
        return Err(NumberError::LeadingZero);
    }
    Ok(digits)
}

/// The key under which two spellings of one WhatsApp user compare equal.
///
/// WhatsApp IDs are not always the dialled number (providers.md §2):
/// - Mexican mobiles are dialled `52…` but their `wa_id` is `521…`;
/// - older Brazilian mobiles may have a `wa_id` without the ninth digit
///   (`55` + area + 8 digits instead of `55` + area + `9` + 8 digits).
///
/// Comparing raw strings would show such users as "to block" forever, so the
/// plan compares these keys instead. The key is the shorter spelling.
pub fn user_key(canonical: &str) -> String {
    match variant_digit(canonical) {
        Some(drop_at) => {
            let mut key = String::with_capacity(canonical.len() - 1);
            key.push_str(&canonical[..drop_at]);
            key.push_str(&canonical[drop_at + 1..]);
            key
        }
        None => canonical.to_string(),
    }
}

/// Index of the digit to drop to reach the shorter spelling, if this is the
/// longer spelling of a known variant pair.
fn variant_digit(d: &str) -> Option<usize> {
    let b = d.as_bytes();
    if b.len() != 13 {
        return None;
    }
    // Mexico: 52 1 + 10 digits  ->  52 + 10 digits.
    if d.starts_with("521") {
        return Some(2);
    }
    // Brazil: 55 + area(2) + 9 + 8-digit mobile subscriber (first digit 6-9)
    //   ->  55 + area(2) + 8 digits.
    if d.starts_with("55") && b[4] == b'9' && (b'6'..=b'9').contains(&b[5]) {
        return Some(4);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_table() {
        let ok = [
            ("8613300000001", "8613300000001"),
            ("+86 133 0000 0002", "8613300000002"),
            ("+1 (415) 555-0100", "14155550100"),
            ("44.20.7946.0958", "442079460958"),
            ("  +52 1 55 1234 5678 ", "5215512345678"),
            ("12345678", "12345678"),
            ("123456789012345", "123456789012345"),
        ];
        for (raw, want) in ok {
            assert_eq!(canonical(raw).as_deref(), Ok(want), "{raw:?}");
        }
        let bad = [
            ("86133xx", NumberError::BadCharacter('x')),
            ("1234567", NumberError::Length(7)),
            ("1234567890123456", NumberError::Length(16)),
            ("", NumberError::Length(0)),
            ("+", NumberError::Length(0)),
            ("013300000001", NumberError::LeadingZero),
            ("8613300000001/2", NumberError::BadCharacter('/')),
        ];
        for (raw, want) in bad {
            assert_eq!(canonical(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn mexico_variants_share_a_key() {
        assert_eq!(user_key("5215512345678"), user_key("525512345678"));
        assert_eq!(user_key("5215512345678"), "525512345678");
    }

    #[test]
    fn brazil_ninth_digit_variants_share_a_key() {
        assert_eq!(user_key("5511987654321"), user_key("551187654321"));
        // A landline-looking remainder (first digit 2-5) is not a mobile variant.
        assert_eq!(user_key("5511923456789"), "5511923456789");
    }

    #[test]
    fn other_numbers_are_their_own_key() {
        for n in ["8613300000001", "14155550100", "5215512345"] {
            assert_eq!(user_key(n), n);
        }
    }
}
