//! Comparing an expected value of the corpus with what Sluice produced, with the rules of
//! ksqlDB's test driver (`ExpectedRecordComparator`):
//!
//! - objects: the same number of members, each expected member present under its name or its
//!   upper-cased name, values matching recursively; arrays element by element;
//! - numbers: an integer written without a fraction matches an integer, or a decimal value
//!   whose plain text has no fraction digits; two plain decimals must agree in value and in
//!   scale (`1.50` is not `1.5`, as with `BigDecimal.equals`); numbers in exponent notation
//!   compare by value; a binary double (KAFKA DOUBLE) compares by `f64` value;
//! - strings match strings, or a decimal number with the same text value and scale;
//! - `null` matches only an absent value.
//!
//! Unlike ksqlDB's driver, a decimal never matches an integer by truncation (`1.5` vs `1`), and
//! an expected member that is `null` must be present (ksqlDB's driver accepts it missing).

use crate::json::Json;

/// A decoded key or value of a record Sluice wrote, typed by its format.
#[derive(Debug, Clone, PartialEq)]
pub enum Actual {
    /// No bytes, or a format that carries nothing.
    Null,
    /// A JSON document (JSON format), compared structurally.
    Json(Json),
    /// KAFKA INT / BIGINT.
    Int(i64),
    /// KAFKA DOUBLE.
    Double(f64),
    /// KAFKA STRING, or a whole DELIMITED record.
    Text(String),
    /// KAFKA BYTES.
    Bytes(Vec<u8>),
    /// Bytes that could not be decoded with the topic's format (shown in reports).
    Invalid(String),
}

impl std::fmt::Display for Actual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actual::Null => f.write_str("null"),
            Actual::Json(j) => write!(f, "{j}"),
            Actual::Int(i) => write!(f, "{i}"),
            Actual::Double(d) => write!(f, "{d:?}"),
            Actual::Text(s) => write!(f, "{}", Json::String(s.clone())),
            Actual::Bytes(b) => write!(f, "bytes:{}", crate::base64::encode(b)),
            Actual::Invalid(why) => write!(f, "<undecodable: {why}>"),
        }
    }
}

/// Whether `actual` matches `expected`.
pub fn matches_actual(expected: &Json, actual: &Actual) -> bool {
    match actual {
        Actual::Null => expected.is_null(),
        Actual::Json(j) => matches(expected, j),
        Actual::Int(i) => match expected {
            Json::Number(n) => Decimal::parse(n)
                .zip(Decimal::parse(&i.to_string()))
                .is_some_and(|(e, a)| e.same_value(&a)),
            _ => false,
        },
        Actual::Double(d) => match expected {
            Json::Number(n) => n.parse::<f64>().is_ok_and(|e| e == *d),
            _ => false,
        },
        Actual::Text(s) => expected.as_str() == Some(s.as_str()),
        Actual::Bytes(b) => expected.as_str() == Some(crate::base64::encode(b).as_str()),
        Actual::Invalid(_) => false,
    }
}

/// Structural match of two JSON values (see the module docs).
pub fn matches(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Null, a) => a.is_null(),
        (Json::Bool(e), Json::Bool(a)) => e == a,
        (Json::Number(e), Json::Number(a)) => numbers_match(e, a),
        (Json::String(e), Json::String(a)) => e == a,
        (Json::String(e), Json::Number(a)) => match (Decimal::parse(e), Decimal::parse(a)) {
            (Some(de), Some(da)) => de.same_value(&da) && de.scale == da.scale,
            _ => false,
        },
        (Json::Array(e), Json::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y))
        }
        (Json::Object(e), Json::Object(a)) => {
            e.len() == a.len()
                && e.iter().all(|(k, ev)| {
                    let upper = k.to_uppercase();
                    a.iter()
                        .find(|(ak, _)| ak == k)
                        .or_else(|| a.iter().find(|(ak, _)| *ak == upper))
                        .is_some_and(|(_, av)| matches(ev, av))
                })
        }
        _ => false,
    }
}

fn numbers_match(expected: &str, actual: &str) -> bool {
    let (Some(e), Some(a)) = (Decimal::parse(expected), Decimal::parse(actual)) else {
        return expected == actual;
    };
    if !e.same_value(&a) {
        return false;
    }
    match (e.scale, a.scale) {
        // Integer expected: the actual may not show fraction digits.
        (Some(0), Some(s)) => s == 0,
        // Both plain decimals: same scale.
        (Some(se), Some(sa)) if se > 0 && sa > 0 => se == sa,
        // Decimal expected, integer actual; or exponent notation: by value.
        _ => true,
    }
}

/// An exact decimal number: `digits × 10^exp`, digits without leading or trailing zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exp: i64,
    /// Fraction digits as written in plain notation (`None` for exponent notation).
    scale: Option<usize>,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (mantissa, exp, scientific) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i64>().ok()?, true),
            None => (t, 0, false),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let all = format!("{int}{frac}");
        let mut exp = exp - frac.len() as i64;
        let trimmed = all.trim_start_matches('0');
        let without_trailing = trimmed.trim_end_matches('0');
        exp += (trimmed.len() - without_trailing.len()) as i64;
        let digits = without_trailing.to_string();
        Some(Decimal {
            negative: negative && !digits.is_empty(),
            exp: if digits.is_empty() { 0 } else { exp },
            digits,
            scale: if scientific { None } else { Some(frac.len()) },
        })
    }

    fn same_value(&self, other: &Decimal) -> bool {
        self.negative == other.negative && self.digits == other.digits && self.exp == other.exp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_lenient;

    fn j(s: &str) -> Json {
        parse_lenient(s).unwrap()
    }

    #[test]
    fn numbers_follow_ksqldb_scale_rules() {
        assert!(matches(&j("1"), &j("1")));
        assert!(!matches(&j("1"), &j("1.0")));
        assert!(matches(&j("1.0"), &j("1")));
        assert!(!matches(&j("1.5"), &j("1")));
        assert!(matches(&j("1.50"), &j("1.50")));
        assert!(!matches(&j("1.50"), &j("1.5")));
        assert!(matches(&j("1.0E10"), &j("10000000000.0")));
        assert!(matches(&j("-0.0"), &j("0.0")));
        assert!(!matches(&j("2"), &j("3")));
        assert!(matches(&j("\"1.50\""), &j("1.50")));
        assert!(!matches(&j("1"), &j("\"1\"")));
    }

    #[test]
    fn objects_match_by_name_or_upper_case_name() {
        assert!(matches(
            &j(r#"{"a": 1, "B": [true]}"#),
            &j(r#"{"B": [true], "A": 1}"#)
        ));
        assert!(!matches(&j(r#"{"a": 1}"#), &j(r#"{"A": 1, "C": null}"#)));
        assert!(!matches(&j(r#"{"a": null}"#), &j(r#"{"X": 2}"#)));
        assert!(matches(&j(r#"{"c": null}"#), &j(r#"{"C": null}"#)));
        assert!(!matches(&j("[1, 2]"), &j("[1]")));
        assert!(!matches(&j("null"), &j("0")));
    }

    #[test]
    fn typed_actuals() {
        assert!(matches_actual(&j("10"), &Actual::Int(10)));
        assert!(!matches_actual(&j("\"10\""), &Actual::Int(10)));
        assert!(matches_actual(&j("1"), &Actual::Double(1.0)));
        assert!(matches_actual(&j("0.1"), &Actual::Double(0.1)));
        assert!(!matches_actual(&j("0.2"), &Actual::Double(0.1)));
        assert!(matches_actual(&j("\"a,b\""), &Actual::Text("a,b".into())));
        assert!(!matches_actual(&j("1"), &Actual::Text("1".into())));
        assert!(matches_actual(&j("null"), &Actual::Null));
        assert!(!matches_actual(&j("null"), &Actual::Invalid("x".into())));
        assert!(matches_actual(&j("\"IQ==\""), &Actual::Bytes(vec![0x21])));
    }
}
