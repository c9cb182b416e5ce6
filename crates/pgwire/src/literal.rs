//! Extended-protocol parameters become SQL literals.
//!
//! The engine contract takes SQL text, so a Bind's values are substituted into the statement's
//! text before `Session::execute`: every `$n` outside literals and comments is replaced by a
//! literal for the n-th value. What the literal looks like depends on the parameter's type (the
//! type the client declared in Parse, else the one `Session::describe` reported, else text):
//!
//! * NULL → `NULL`
//! * integers, floats, numeric → the number itself, validated (negative ones in parentheses so
//!   `x-$1` cannot turn into a comment); non-finite floats → `'NaN'`, `'Infinity'`, `'-Infinity'`
//! * bool → `TRUE` / `FALSE`
//! * bytea → `X'hex'`
//! * date → `'2024-01-31'`, time → `'13:45:00.5'`, timestamp → `'2024-01-31T13:45:00.5'`,
//!   timestamptz → the same in UTC with `+00:00`
//! * everything else (text, varchar, json, uuid, unknown ...) → a string literal with `'`
//!   doubled (standard_conforming_strings is on, so backslashes are not special).
//!
//! Values may arrive in text or binary format; binary is decoded for the common scalar types.
//! Because the SQL text changes length, error positions are mapped back to the client's text.

use bytes::Buf;
use chrono::{NaiveDate, NaiveTime, TimeDelta};
use pgwire::api::Type;

use crate::backend::BackendError;
use crate::lexer::{tokenize, TokenKind};

/// `'...'` with embedded quotes doubled.
pub(crate) fn quote_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn invalid(type_name: &str, value: &str) -> BackendError {
    BackendError::new(
        "22P02",
        format!("invalid input syntax for type {type_name}: \"{value}\""),
    )
}

fn binary_error(ty: &Type) -> BackendError {
    BackendError::new(
        "22P03",
        format!(
            "incorrect binary data format in bind parameter of type {}",
            ty.name()
        ),
    )
}

/// A plain decimal number: `[+-]digits[.digits][e[+-]digits]` (or starting with `.`).
fn is_number_text(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// A validated number as SQL: no leading `+`, negatives parenthesised.
fn number_literal(s: &str) -> String {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s.to_owned()
    }
}

fn float_literal(v: f64) -> String {
    if v.is_nan() {
        "'NaN'".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 {
            "'Infinity'".to_owned()
        } else {
            "'-Infinity'".to_owned()
        }
    } else {
        number_literal(&v.to_string())
    }
}

fn hex_literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 3);
    out.push_str("X'");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out.push('\'');
    out
}

fn parse_bool_text(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn is_integer_type(ty: &Type) -> bool {
    *ty == Type::INT2 || *ty == Type::INT4 || *ty == Type::INT8 || *ty == Type::OID
}

fn is_float_type(ty: &Type) -> bool {
    *ty == Type::FLOAT4 || *ty == Type::FLOAT8
}

/// The SQL literal for one bound parameter value.
pub(crate) fn param_literal(
    value: Option<&[u8]>,
    binary: bool,
    ty: &Type,
) -> Result<String, BackendError> {
    let Some(value) = value else {
        return Ok("NULL".to_owned());
    };
    if binary {
        binary_literal(value, ty)
    } else {
        let text = std::str::from_utf8(value).map_err(|_| {
            BackendError::new("22021", "invalid byte sequence for encoding \"UTF8\"")
        })?;
        text_literal(text, ty)
    }
}

fn text_literal(text: &str, ty: &Type) -> Result<String, BackendError> {
    let trimmed = text.trim();
    if is_integer_type(ty) {
        return trimmed
            .parse::<i64>()
            .map(|v| number_literal(&v.to_string()))
            .map_err(|_| invalid(ty.name(), text));
    }
    if is_float_type(ty) || *ty == Type::NUMERIC {
        if is_number_text(trimmed) {
            return Ok(number_literal(trimmed));
        }
        return match trimmed.to_ascii_lowercase().as_str() {
            "nan" => Ok("'NaN'".to_owned()),
            "infinity" | "inf" | "+infinity" => Ok("'Infinity'".to_owned()),
            "-infinity" | "-inf" => Ok("'-Infinity'".to_owned()),
            _ => Err(invalid(ty.name(), text)),
        };
    }
    if *ty == Type::BOOL {
        return match parse_bool_text(text) {
            Some(true) => Ok("TRUE".to_owned()),
            Some(false) => Ok("FALSE".to_owned()),
            None => Err(invalid("boolean", text)),
        };
    }
    if *ty == Type::BYTEA {
        if let Some(hex) = text.strip_prefix("\\x") {
            let valid = hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(invalid("bytea", text));
            }
            return Ok(format!("X'{}'", hex.to_ascii_lowercase()));
        }
        return Ok(hex_literal(text.as_bytes()));
    }
    Ok(quote_string(text))
}

fn pg_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}

fn fixed<const N: usize>(value: &[u8], ty: &Type) -> Result<[u8; N], BackendError> {
    value.try_into().map_err(|_| binary_error(ty))
}

fn binary_literal(value: &[u8], ty: &Type) -> Result<String, BackendError> {
    let mut buf = value;
    let literal = if *ty == Type::BOOL {
        match fixed::<1>(value, ty)?[0] {
            0 => "FALSE".to_owned(),
            _ => "TRUE".to_owned(),
        }
    } else if *ty == Type::INT2 {
        number_literal(&i16::from_be_bytes(fixed(value, ty)?).to_string())
    } else if *ty == Type::INT4 {
        number_literal(&i32::from_be_bytes(fixed(value, ty)?).to_string())
    } else if *ty == Type::INT8 {
        number_literal(&i64::from_be_bytes(fixed(value, ty)?).to_string())
    } else if *ty == Type::OID {
        u32::from_be_bytes(fixed(value, ty)?).to_string()
    } else if *ty == Type::FLOAT4 {
        let v = f32::from_be_bytes(fixed(value, ty)?);
        if v.is_finite() {
            number_literal(&v.to_string())
        } else {
            float_literal(v as f64)
        }
    } else if *ty == Type::FLOAT8 {
        float_literal(f64::from_be_bytes(fixed(value, ty)?))
    } else if *ty == Type::NUMERIC {
        decode_numeric(&mut buf).ok_or_else(|| binary_error(ty))?
    } else if *ty == Type::BYTEA {
        hex_literal(value)
    } else if *ty == Type::DATE {
        let days = i32::from_be_bytes(fixed(value, ty)?);
        match days {
            i32::MAX => "'infinity'".to_owned(),
            i32::MIN => "'-infinity'".to_owned(),
            days => {
                let date = pg_epoch()
                    .checked_add_signed(TimeDelta::days(days as i64))
                    .ok_or_else(|| binary_error(ty))?;
                quote_string(&date.format("%Y-%m-%d").to_string())
            }
        }
    } else if *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ {
        let micros = i64::from_be_bytes(fixed(value, ty)?);
        match micros {
            i64::MAX => "'infinity'".to_owned(),
            i64::MIN => "'-infinity'".to_owned(),
            micros => {
                let ts = pg_epoch()
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .checked_add_signed(TimeDelta::microseconds(micros))
                    .ok_or_else(|| binary_error(ty))?;
                let mut text = ts.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
                if *ty == Type::TIMESTAMPTZ {
                    text.push_str("+00:00");
                }
                quote_string(&text)
            }
        }
    } else if *ty == Type::TIME {
        let micros = i64::from_be_bytes(fixed(value, ty)?);
        let time = NaiveTime::from_num_seconds_from_midnight_opt(
            (micros / 1_000_000) as u32,
            ((micros % 1_000_000) * 1000) as u32,
        )
        .ok_or_else(|| binary_error(ty))?;
        quote_string(&time.format("%H:%M:%S%.f").to_string())
    } else if *ty == Type::UUID {
        let b = fixed::<16>(value, ty)?;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        quote_string(&format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    } else if *ty == Type::JSONB {
        match value.split_first() {
            Some((1, rest)) => {
                quote_string(std::str::from_utf8(rest).map_err(|_| binary_error(ty))?)
            }
            _ => return Err(binary_error(ty)),
        }
    } else {
        // text, varchar, name, json, unknown ...: the binary form is the UTF-8 text.
        match std::str::from_utf8(value) {
            Ok(text) => quote_string(text),
            Err(_) => {
                return Err(BackendError::new(
                    "0A000",
                    format!(
                        "binary format for parameters of type {} is not supported",
                        ty.name()
                    ),
                ))
            }
        }
    };
    Ok(literal)
}

/// PostgreSQL's binary `numeric`: ndigits, weight, sign, dscale, then base-10000 digits.
fn decode_numeric(buf: &mut &[u8]) -> Option<String> {
    if buf.remaining() < 8 {
        return None;
    }
    let ndigits = buf.get_i16();
    let weight = buf.get_i16() as i32;
    let sign = buf.get_u16();
    let dscale = buf.get_u16() as usize;
    if ndigits < 0 || buf.remaining() != ndigits as usize * 2 {
        return None;
    }
    match sign {
        0xC000 => return Some("'NaN'".to_owned()),
        0xD000 => return Some("'Infinity'".to_owned()),
        0xF000 => return Some("'-Infinity'".to_owned()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let digits: Vec<i16> = (0..ndigits).map(|_| buf.get_i16()).collect();
    if digits.iter().any(|d| !(0..10000).contains(d)) {
        return None;
    }
    let digit = |i: i32| -> i16 {
        if i < 0 {
            0
        } else {
            digits.get(i as usize).copied().unwrap_or(0)
        }
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                text.push_str(&digit(i).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut k = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(k)));
            k += 1;
        }
        frac.truncate(dscale);
        text.push('.');
        text.push_str(&frac);
    }
    Some(number_literal(&text))
}

/// One replaced placeholder, in characters.
#[derive(Debug, Clone, Copy)]
struct Replacement {
    out_start: usize,
    out_len: usize,
    orig_start: usize,
    orig_len: usize,
}

/// SQL text with its placeholders replaced, and the way back to the client's positions.
#[derive(Debug, Clone)]
pub(crate) struct Substituted {
    pub sql: String,
    replacements: Vec<Replacement>,
}

impl Substituted {
    /// Text without placeholders, unchanged.
    pub fn unchanged(sql: &str) -> Self {
        Substituted {
            sql: sql.to_owned(),
            replacements: Vec::new(),
        }
    }

    /// Map a 1-based character position in the substituted text to the original text. A
    /// position inside a substituted literal points at its `$n`.
    pub fn original_position(&self, position: usize) -> usize {
        let p = position.saturating_sub(1);
        let mut shift: isize = 0;
        for r in &self.replacements {
            if p < r.out_start {
                break;
            }
            if p < r.out_start + r.out_len {
                return r.orig_start + 1;
            }
            shift += r.out_len as isize - r.orig_len as isize;
        }
        (p as isize - shift).max(0) as usize + 1
    }
}

/// Replace every `$n` in `sql` by `literals[n-1]`.
pub(crate) fn substitute(sql: &str, literals: &[String]) -> Result<Substituted, BackendError> {
    let mut out = String::with_capacity(sql.len());
    let mut replacements = Vec::new();
    let mut last = 0;
    let mut out_chars = 0;
    let mut orig_chars = 0;
    for token in tokenize(sql) {
        let TokenKind::Param(n) = token.kind else {
            continue;
        };
        let Some(literal) = n.checked_sub(1).and_then(|i| literals.get(i)) else {
            return Err(BackendError {
                position: Some(sql[..token.start].chars().count() + 1),
                ..BackendError::new("42P02", format!("there is no parameter ${n}"))
            });
        };
        let between = &sql[last..token.start];
        let between_chars = between.chars().count();
        out.push_str(between);
        out_chars += between_chars;
        orig_chars += between_chars;
        let lit_chars = literal.chars().count();
        let orig_len = sql[token.start..token.end].chars().count();
        replacements.push(Replacement {
            out_start: out_chars,
            out_len: lit_chars,
            orig_start: orig_chars,
            orig_len,
        });
        out.push_str(literal);
        out_chars += lit_chars;
        orig_chars += orig_len;
        last = token.end;
    }
    out.push_str(&sql[last..]);
    Ok(Substituted {
        sql: out,
        replacements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &str, ty: &Type) -> Result<String, BackendError> {
        param_literal(Some(v.as_bytes()), false, ty)
    }

    fn bin(v: &[u8], ty: &Type) -> String {
        param_literal(Some(v), true, ty).unwrap()
    }

    #[test]
    fn strings_are_quoted_with_doubled_quotes() {
        assert_eq!(quote_string("it's"), "'it''s'");
        assert_eq!(quote_string("back\\slash"), "'back\\slash'");
        assert_eq!(text("O'Brien", &Type::TEXT).unwrap(), "'O''Brien'");
        assert_eq!(
            text("'; DROP STREAM s; --", &Type::VARCHAR).unwrap(),
            "'''; DROP STREAM s; --'"
        );
        assert_eq!(param_literal(None, false, &Type::INT4).unwrap(), "NULL");
    }

    #[test]
    fn numbers_are_validated_and_unquoted() {
        assert_eq!(text("42", &Type::INT4).unwrap(), "42");
        assert_eq!(text(" -7 ", &Type::INT8).unwrap(), "(-7)");
        assert_eq!(text("1.5e3", &Type::FLOAT8).unwrap(), "1.5e3");
        assert_eq!(text("+0.25", &Type::NUMERIC).unwrap(), "0.25");
        assert_eq!(text("NaN", &Type::FLOAT8).unwrap(), "'NaN'");
        assert_eq!(text("1; DROP", &Type::INT4).unwrap_err().sqlstate, "22P02");
        assert_eq!(
            text("1 OR 1=1", &Type::NUMERIC).unwrap_err().sqlstate,
            "22P02"
        );
        assert_eq!(text("yes", &Type::BOOL).unwrap(), "TRUE");
        assert_eq!(text("f", &Type::BOOL).unwrap(), "FALSE");
        assert_eq!(text("maybe", &Type::BOOL).unwrap_err().sqlstate, "22P02");
    }

    #[test]
    fn binary_scalars() {
        assert_eq!(bin(&7i32.to_be_bytes(), &Type::INT4), "7");
        assert_eq!(bin(&(-3i64).to_be_bytes(), &Type::INT8), "(-3)");
        assert_eq!(bin(&5i16.to_be_bytes(), &Type::INT2), "5");
        assert_eq!(bin(&1.5f64.to_be_bytes(), &Type::FLOAT8), "1.5");
        assert_eq!(bin(&0.1f32.to_be_bytes(), &Type::FLOAT4), "0.1");
        assert_eq!(bin(&f64::NAN.to_be_bytes(), &Type::FLOAT8), "'NaN'");
        assert_eq!(bin(&[1], &Type::BOOL), "TRUE");
        assert_eq!(bin(b"hi 'x'", &Type::TEXT), "'hi ''x'''");
        assert_eq!(bin(&[0xde, 0xad], &Type::BYTEA), "X'dead'");
        assert!(param_literal(Some(&[1, 2]), true, &Type::INT4).is_err());
    }

    #[test]
    fn binary_temporal() {
        assert_eq!(bin(&0i32.to_be_bytes(), &Type::DATE), "'2000-01-01'");
        assert_eq!(bin(&(-1i32).to_be_bytes(), &Type::DATE), "'1999-12-31'");
        let micros: i64 = 86_400_000_000 + 3_600_000_000 + 500_000;
        assert_eq!(
            bin(&micros.to_be_bytes(), &Type::TIMESTAMP),
            "'2000-01-02T01:00:00.500'"
        );
        assert_eq!(
            bin(&0i64.to_be_bytes(), &Type::TIMESTAMPTZ),
            "'2000-01-01T00:00:00+00:00'"
        );
        assert_eq!(
            bin(&3_723_000_000i64.to_be_bytes(), &Type::TIME),
            "'01:02:03'"
        );
        let uuid: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            bin(&uuid, &Type::UUID),
            "'00010203-0405-0607-0809-0a0b0c0d0e0f'"
        );
    }

    fn numeric(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(ndigits.to_be_bytes());
        v.extend(weight.to_be_bytes());
        v.extend(sign.to_be_bytes());
        v.extend(dscale.to_be_bytes());
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn binary_numeric() {
        // 12345.678 = 1|2345|6780 with weight 1, dscale 3
        assert_eq!(
            bin(&numeric(3, 1, 0, 3, &[1, 2345, 6780]), &Type::NUMERIC),
            "12345.678"
        );
        // -0.0012 = weight -1, digit 12, dscale 4
        assert_eq!(
            bin(&numeric(1, -1, 0x4000, 4, &[12]), &Type::NUMERIC),
            "(-0.0012)"
        );
        // 0.00001 = weight -2, digit 1000, dscale 5
        assert_eq!(
            bin(&numeric(1, -2, 0, 5, &[1000]), &Type::NUMERIC),
            "0.00001"
        );
        // 20000 = weight 1, digits [2], dscale 0
        assert_eq!(bin(&numeric(1, 1, 0, 0, &[2]), &Type::NUMERIC), "20000");
        assert_eq!(bin(&numeric(0, 0, 0, 0, &[]), &Type::NUMERIC), "0");
        assert_eq!(bin(&numeric(0, 0, 0xC000, 0, &[]), &Type::NUMERIC), "'NaN'");
    }

    #[test]
    fn substitution_skips_literals_and_maps_positions() {
        let sql = "SELECT $1, '$1', $2 FROM t WHERE x = $1";
        let s = substitute(sql, &["'abc'".into(), "(-5)".into()]).unwrap();
        assert_eq!(s.sql, "SELECT 'abc', '$1', (-5) FROM t WHERE x = 'abc'");
        // "FROM" is at char 21 in the original and 24 in the substituted text.
        assert_eq!(sql.find("FROM").unwrap() + 1, 21);
        assert_eq!(s.sql.find("FROM").unwrap() + 1, 26);
        assert_eq!(s.original_position(26), 21);
        // Inside the first literal → the `$1`.
        assert_eq!(s.original_position(9), 8);
        // Before any placeholder: unchanged.
        assert_eq!(s.original_position(3), 3);
        let err = substitute("SELECT $3", &["1".into()]).unwrap_err();
        assert_eq!(err.sqlstate, "42P02");
        assert_eq!(err.position, Some(8));
    }
}
