//! Small text codecs shared by the formats, written to match the Java behaviour ksqlDB inherits:
//! `Double.toString`, `Double.parseDouble`, base64, JSON string escaping, integer writing.

use std::fmt::Write as _;

/// A fixed buffer to format into without allocating.
struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Write `v` as Java's `Double.toString` does: `2.0`, `0.001`, `1234567.0`, `1.0E7`, `1.5E-4`,
/// `NaN`, `-Infinity`. Digits are the shortest that read back to the same double.
pub(crate) fn write_java_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    let a = v.abs();
    if a.is_infinite() {
        out.extend_from_slice(b"Infinity");
        return;
    }
    if a == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    let mut sb = StackBuf {
        buf: [0; 48],
        len: 0,
    };
    // `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-5" or "1e10".
    let _ = write!(sb, "{a:e}");
    let s = &sb.buf[..sb.len];
    let e_at = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let mantissa = &s[..e_at];
    let exp: i32 = std::str::from_utf8(&s[(e_at + 1).min(s.len())..])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &c in mantissa {
        if c.is_ascii_digit() && n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    let digits = &digits[..n.max(1)];
    if (1e-3..1e7).contains(&a) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for k in 0..int_len {
                out.push(*digits.get(k).unwrap_or(&b'0'));
            }
            out.push(b'.');
            if digits.len() > int_len {
                out.extend_from_slice(&digits[int_len..]);
            } else {
                out.push(b'0');
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        write_i64(out, i64::from(exp));
    }
}

/// Java's `Double.parseDouble`: surrounding blanks allowed, an optional `d`/`f` suffix, `NaN` and
/// `Infinity` spelled Java's way.
pub(crate) fn parse_java_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    match t {
        "NaN" | "+NaN" | "-NaN" => return Some(f64::NAN),
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let t = match t.as_bytes().last() {
        Some(b'd' | b'D' | b'f' | b'F') => &t[..t.len() - 1],
        _ => t,
    };
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Write an integer in decimal.
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding (what Java's `Base64.getEncoder()` and Jackson write).
pub(crate) fn base64_encode(out: &mut Vec<u8>, data: &[u8]) {
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[
            B64[(n >> 18) as usize & 63],
            B64[(n >> 12) as usize & 63],
            B64[(n >> 6) as usize & 63],
            B64[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[B64[(n >> 18) as usize & 63], B64[(n >> 12) as usize & 63]]);
            out.extend_from_slice(b"==");
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                B64[(n >> 18) as usize & 63],
                B64[(n >> 12) as usize & 63],
                B64[(n >> 6) as usize & 63],
            ]);
            out.push(b'=');
        }
        _ => {}
    }
}

fn b64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decode standard base64, appending to `out`. Padding may be left out (Java's decoder allows
/// that) but must be right when present; blanks are skipped (Jackson allows them). The error is
/// ksqlDB's text.
pub(crate) fn base64_decode(out: &mut Vec<u8>, text: &str) -> Result<(), String> {
    let invalid = || format!("Value is not a valid Base64 encoded string: {text}");
    let start = out.len();
    let mut acc: u32 = 0;
    let mut n = 0u32;
    let mut pad = 0u32;
    for &c in text.as_bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            pad += 1;
            continue;
        }
        if pad > 0 {
            out.truncate(start);
            return Err(invalid());
        }
        let v = b64_value(c).ok_or_else(|| {
            out.truncate(start);
            invalid()
        })?;
        acc = acc << 6 | v;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    let ok = match n {
        0 => pad == 0,
        2 => {
            out.push((acc >> 4) as u8);
            pad == 0 || pad == 2
        }
        3 => {
            out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]);
            pad == 0 || pad == 1
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        out.truncate(start);
        Err(invalid())
    }
}

/// Write `s` as a JSON string literal, escaping as Jackson does: `\"`, `\\`, the short escapes
/// `\b \t \n \f \r`, other control characters as `\u00XX`; everything else as UTF-8.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jd(v: f64) -> String {
        let mut out = Vec::new();
        write_java_double(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(jd(2.0), "2.0");
        assert_eq!(jd(-2.5), "-2.5");
        assert_eq!(jd(0.0), "0.0");
        assert_eq!(jd(-0.0), "-0.0");
        assert_eq!(jd(100.0), "100.0");
        assert_eq!(jd(0.001), "0.001");
        assert_eq!(jd(0.0001), "1.0E-4");
        assert_eq!(jd(1234567.0), "1234567.0");
        assert_eq!(jd(1.0e7), "1.0E7");
        assert_eq!(jd(1.5e10), "1.5E10");
        assert_eq!(jd(654.321), "654.321");
        assert_eq!(jd(1.2345e-5), "1.2345E-5");
        assert_eq!(jd(f64::MAX), "1.7976931348623157E308");
        assert_eq!(jd(f64::NAN), "NaN");
        assert_eq!(jd(f64::NEG_INFINITY), "-Infinity");
        // Every printed value reads back to the same double.
        for v in [0.1, 1.0 / 3.0, 123.456e-300, 9007199254740993.0, 5e-324] {
            assert_eq!(parse_java_double(&jd(v)), Some(v), "{v}");
        }
    }

    #[test]
    fn doubles_parse_like_java() {
        assert_eq!(parse_java_double(" 1.5 "), Some(1.5));
        assert_eq!(parse_java_double("1.5d"), Some(1.5));
        assert_eq!(parse_java_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_java_double("NaN").unwrap().is_nan());
        assert_eq!(parse_java_double(".5"), Some(0.5));
        assert_eq!(parse_java_double("1e3"), Some(1000.0));
        for bad in ["", "abc", "inf", "nan", "1,5", "0x10"] {
            assert_eq!(parse_java_double(bad), None, "{bad}");
        }
    }

    #[test]
    fn integers_print() {
        let mut out = Vec::new();
        for v in [0, 7, -7, i64::MAX, i64::MIN] {
            out.clear();
            write_i64(&mut out, v);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), v.to_string());
        }
    }

    #[test]
    fn base64_round_trips_and_refuses_garbage() {
        for data in [
            &b""[..],
            b"!",
            b"#!",
            b"abc",
            b"\x00\xff\x10\x80",
            b"hello world",
        ] {
            let mut enc = Vec::new();
            base64_encode(&mut enc, data);
            let mut dec = Vec::new();
            base64_decode(&mut dec, std::str::from_utf8(&enc).unwrap()).unwrap();
            assert_eq!(dec, data);
        }
        let mut enc = Vec::new();
        base64_encode(&mut enc, b"!");
        assert_eq!(enc, b"IQ==");
        let mut out = Vec::new();
        base64_decode(&mut out, "IQ").unwrap();
        assert_eq!(out, b"!");
        for bad in ["I", "IQ=", "IQ===", "I*==", "IQ==IQ==", "abcde"] {
            let mut out = vec![1];
            let e = base64_decode(&mut out, bad).unwrap_err();
            assert!(
                e.starts_with("Value is not a valid Base64 encoded string"),
                "{bad}"
            );
            assert_eq!(out, vec![1], "failed decode must not leave bytes behind");
        }
    }

    #[test]
    fn json_strings_escape_like_jackson() {
        let mut out = Vec::new();
        write_json_string(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é/""#);
    }
}
