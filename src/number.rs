//! Phone numbers as people write them, and as WhatsApp identifies them.
//!
//! Files hold numbers the way people type them (`+86 133-0000 0002`); the
//! provider APIs speak digits with the country code and no `+`. Everything
//! inside the tool uses that canonical digits-only form. Which phones are
//! the same user (the `wa_id` variants) is decided in [`crate::user`].

use std::fmt;

/// E.164 allows at most 15 digits; fewer than 8 is never a full international number.
pub(crate) const MIN_DIGITS: usize = 8;
pub(crate) const MAX_DIGITS: usize = 15;

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
}
