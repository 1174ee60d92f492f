//! Query-string parsing for `GET /generate_name`: the `starts_with` filter.
//!
//! Decoding is strict on purpose. A lenient decoder (like `form_urlencoded`) turns `%zz` or
//! invalid UTF-8 into replacement characters, and the caller would silently search for
//! something the client never sent. Here any such input is a `422` that names the rule.
//! `+` means space, as in HTML forms and FastAPI. Parameters other than `starts_with` are
//! ignored, as FastAPI does.

use crate::contract::{
    STARTS_WITH, STARTS_WITH_MAX_CHARS, STARTS_WITH_MIN_CHARS, STARTS_WITH_PUNCTUATION,
};
use crate::letters::is_letter;

/// Why a `starts_with` value was refused with `422`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Invalid percent-encoding, or bytes that are not UTF-8.
    Encoding,
    /// The parameter appeared more than once.
    Repeated,
    /// Empty.
    MinLength,
    /// Longer than the maximum.
    MaxLength,
    /// A character outside letters, space, apostrophe, hyphen, period.
    Pattern,
}

impl Rule {
    /// Every rule, for documentation and tests.
    pub const ALL: [Rule; 5] = [
        Rule::Encoding,
        Rule::Repeated,
        Rule::MinLength,
        Rule::MaxLength,
        Rule::Pattern,
    ];

    /// Stable machine-readable name, as it appears in `invalid_params[].rule`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Encoding => "encoding",
            Rule::Repeated => "repeated",
            Rule::MinLength => "min_length",
            Rule::MaxLength => "max_length",
            Rule::Pattern => "pattern",
        }
    }

    /// The rule in words.
    pub fn reason(self) -> &'static str {
        match self {
            Rule::Encoding => "must be valid percent-encoded UTF-8",
            Rule::Repeated => "must be given at most once",
            Rule::MinLength => "must not be empty",
            Rule::MaxLength => "must be at most 64 characters long",
            Rule::Pattern => {
                "may contain only letters of any script, spaces, apostrophes, hyphens and periods"
            }
        }
    }
}

/// A validated `starts_with` value, as the client sent it (after decoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartsWith(String);

impl StartsWith {
    /// The decoded value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Find and validate `starts_with` in a raw query string (the part after `?`).
///
/// `Ok(None)` when absent. Pairs whose key cannot be decoded are not `starts_with` and are
/// ignored with the other unknown parameters.
pub fn starts_with(raw_query: Option<&str>) -> Result<Option<StartsWith>, Rule> {
    let Some(raw_query) = raw_query else {
        return Ok(None);
    };
    let mut found: Option<Result<String, Rule>> = None;
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(raw_key).as_deref() != Ok(STARTS_WITH) {
            continue;
        }
        if found.is_some() {
            return Err(Rule::Repeated);
        }
        found = Some(decode(raw_value).map_err(|_| Rule::Encoding));
    }
    match found {
        None => Ok(None),
        Some(value) => validate(value?).map(Some),
    }
}

/// Check a decoded value against the length and character rules.
pub fn validate(value: String) -> Result<StartsWith, Rule> {
    let chars = value.chars().count();
    if chars < STARTS_WITH_MIN_CHARS {
        return Err(Rule::MinLength);
    }
    if chars > STARTS_WITH_MAX_CHARS {
        return Err(Rule::MaxLength);
    }
    if !value
        .chars()
        .all(|c| is_letter(c) || STARTS_WITH_PUNCTUATION.contains(&c))
    {
        return Err(Rule::Pattern);
    }
    Ok(StartsWith(value))
}

/// Why a query component could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError;

/// Strict `application/x-www-form-urlencoded` decoding of one key or value.
pub fn decode(raw: &str) -> Result<String, DecodeError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(DecodeError)?;
                let hi = hex_value(hex[0]).ok_or(DecodeError)?;
                let lo = hex_value(hex[1]).ok_or(DecodeError)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(raw: &str) -> Result<Option<String>, Rule> {
        starts_with(Some(raw)).map(|v| v.map(|v| v.as_str().to_owned()))
    }

    #[test]
    fn absent_or_other_parameters_mean_no_filter() {
        assert_eq!(starts_with(None), Ok(None));
        assert_eq!(value(""), Ok(None));
        assert_eq!(value("x=1&y"), Ok(None));
        assert_eq!(value("&&"), Ok(None));
        // A key that does not decode is some other (unknown) parameter.
        assert_eq!(value("%zz=1&starts_with=Ab"), Ok(Some("Ab".into())));
    }

    #[test]
    fn decodes_percent_plus_and_utf8() {
        assert_eq!(value("starts_with=N"), Ok(Some("N".into())));
        assert_eq!(value("starts_with=%C3%91o"), Ok(Some("Ño".into())));
        assert_eq!(value("starts_with=Anne-M"), Ok(Some("Anne-M".into())));
        assert_eq!(value("starts_with=D%27Ar"), Ok(Some("D'Ar".into())));
        assert_eq!(value("starts_with=Mary+J"), Ok(Some("Mary J".into())));
        assert_eq!(value("starts%5Fwith=Lu"), Ok(Some("Lu".into())));
        assert_eq!(value("a=b&starts_with=Lu&c"), Ok(Some("Lu".into())));
    }

    #[test]
    fn rejects_bad_encoding() {
        for raw in [
            "starts_with=%",
            "starts_with=%4",
            "starts_with=%zz",
            "starts_with=%C3",
            "starts_with=%FF",
            "starts_with=%C3%28",
        ] {
            assert_eq!(value(raw), Err(Rule::Encoding), "{raw}");
        }
    }

    #[test]
    fn rejects_repeats_even_when_both_are_valid() {
        assert_eq!(value("starts_with=A&starts_with=B"), Err(Rule::Repeated));
        assert_eq!(value("starts_with=A&starts%5fwith=A"), Err(Rule::Repeated));
        assert_eq!(value("starts_with&starts_with"), Err(Rule::Repeated));
    }

    #[test]
    fn enforces_length_in_characters_not_bytes() {
        assert_eq!(value("starts_with="), Err(Rule::MinLength));
        assert_eq!(value("starts_with"), Err(Rule::MinLength));
        let max = "é".repeat(STARTS_WITH_MAX_CHARS);
        assert!(
            validate(max.clone()).is_ok(),
            "64 two-byte letters are fine"
        );
        assert_eq!(validate(max + "a"), Err(Rule::MaxLength));
    }

    #[test]
    fn enforces_the_character_rule() {
        for ok in [
            "N", "n", "Ño", "ΔΗΜ", "Ан", "さ", "지", "D'A", "Anne-", "St. J", " ",
        ] {
            assert!(validate(ok.into()).is_ok(), "{ok:?} should be accepted");
        }
        for bad in [
            "a1", "a_b", "a\u{0}", "a\tb", "a\u{7f}", "a/b", "a%", "😀", "a\u{301}", "½",
        ] {
            assert_eq!(validate(bad.into()), Err(Rule::Pattern), "{bad:?}");
        }
        assert_eq!(value("starts_with=%00"), Err(Rule::Pattern));
        assert_eq!(value("starts_with=%0A"), Err(Rule::Pattern));
    }
}
