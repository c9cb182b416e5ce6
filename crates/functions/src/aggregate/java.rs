//! Java value semantics that ksqlDB's aggregates inherit from the JVM: `compareTo` orderings
//! (doubles, strings as UTF-16, byte buffers as signed bytes), equality, and `BigDecimal`
//! text.
//!
//! ksqlDB compares with `Comparable.compareTo`, so MIN/MAX/TOPK order values the Java way. Where
//! that differs from Rust's natural order (NaN and -0.0, strings with characters above U+E000,
//! bytes at or above 0x80) these helpers give Java's answer.

use std::cmp::Ordering;

use datafusion::common::ScalarValue;

/// `Double.compare`: -0.0 < 0.0, every NaN equal to every NaN and above +Infinity.
pub(crate) fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// `String.compareTo`: lexicographic over UTF-16 code units. Byte order of UTF-8 agrees with
/// code point order, which agrees with UTF-16 order except between characters U+E000..U+FFFF
/// and supplementary characters; only text with such characters takes the slow path.
pub(crate) fn cmp_str(a: &str, b: &str) -> Ordering {
    let fast = |s: &str| s.bytes().all(|b| b < 0xEE);
    if fast(a) || fast(b) {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `ByteBuffer.compareTo`: lexicographic over signed bytes, then by length.
pub(crate) fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let o = (*x as i8).cmp(&(*y as i8));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// `compareTo` between two non-null values of the same comparable ksqlDB type (INT, BIGINT,
/// DOUBLE, DECIMAL, STRING, BYTES, DATE, TIME, TIMESTAMP, BOOLEAN). `None` when either side
/// is null or the types are not comparable.
pub(crate) fn cmp_scalar(a: &ScalarValue, b: &ScalarValue) -> Option<Ordering> {
    use ScalarValue as S;
    Some(match (a, b) {
        (S::Int32(Some(x)), S::Int32(Some(y))) => x.cmp(y),
        (S::Int64(Some(x)), S::Int64(Some(y))) => x.cmp(y),
        (S::Float64(Some(x)), S::Float64(Some(y))) => cmp_f64(*x, *y),
        // Same precision and scale within one aggregate: unscaled values compare numerically.
        (S::Decimal128(Some(x), _, sx), S::Decimal128(Some(y), _, sy)) if sx == sy => x.cmp(y),
        (S::Utf8(Some(x)), S::Utf8(Some(y))) => cmp_str(x, y),
        (S::Binary(Some(x)), S::Binary(Some(y))) => cmp_bytes(x, y),
        (S::Date32(Some(x)), S::Date32(Some(y))) => x.cmp(y),
        (S::Time32Millisecond(Some(x)), S::Time32Millisecond(Some(y))) => x.cmp(y),
        (S::TimestampMillisecond(Some(x), _), S::TimestampMillisecond(Some(y), _)) => x.cmp(y),
        (S::Boolean(Some(x)), S::Boolean(Some(y))) => x.cmp(y),
        _ => return None,
    })
}

/// `BigDecimal.toPlainString()` of `unscaled × 10^-scale`.
pub(crate) fn decimal_plain_string(unscaled: i128, scale: i32) -> String {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        if digits != "0" || scale < 0 {
            out.extend(std::iter::repeat_n('0', (-scale) as usize));
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
    out
}

/// `BigDecimal.toString()`: plain notation unless the scale is negative or the adjusted
/// exponent is below -6, then scientific (`1.23E+5`).
pub(crate) fn decimal_to_string(unscaled: i128, scale: i32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = -(scale as i64) + (digits.len() as i64 - 1);
    if scale >= 0 && adjusted >= -6 {
        return decimal_plain_string(unscaled, scale);
    }
    let mut out = String::new();
    if unscaled < 0 {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    if adjusted != 0 {
        out.push('E');
        if adjusted > 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
    }
    out
}

/// Rounds `unscaled × 10^-scale` to `precision` significant digits, half up (Java's
/// `MathContext(precision)`), returning the new unscaled value and scale.
pub(crate) fn round_to_precision(unscaled: i128, scale: i32, precision: u32) -> (i128, i32) {
    let mut value = unscaled;
    let mut scale = scale;
    loop {
        let digits = value.unsigned_abs().to_string().len() as u32;
        if digits <= precision.max(1) {
            return (value, scale);
        }
        let drop = digits - precision.max(1);
        let divisor = 10i128.pow(drop);
        let quotient = value / divisor;
        let remainder = (value % divisor).abs();
        let half_up = remainder * 2 >= divisor;
        value = if half_up {
            quotient + value.signum()
        } else {
            quotient
        };
        scale -= drop as i32;
    }
}

/// Java's `String.hashCode`-independent text of a value as `Object.toString()` would render
/// it for ksqlDB's Java types (used to hash values for COUNT_DISTINCT).
pub(crate) fn java_to_string(value: &ScalarValue) -> String {
    use ScalarValue as S;
    match value {
        S::Boolean(Some(b)) => b.to_string(),
        S::Int32(Some(v)) => v.to_string(),
        S::Int64(Some(v)) => v.to_string(),
        S::Decimal128(Some(v), _, s) => decimal_to_string(*v, *s as i32),
        S::Utf8(Some(s)) => s.clone(),
        S::Date32(Some(d)) => chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| d.to_string()),
        S::Time32Millisecond(Some(t)) => {
            let secs = t.div_euclid(1000);
            format!(
                "{:02}:{:02}:{:02}",
                secs / 3600,
                (secs / 60) % 60,
                secs % 60
            )
        }
        S::TimestampMillisecond(Some(ms), _) => chrono::DateTime::from_timestamp_millis(*ms)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
            .unwrap_or_else(|| ms.to_string()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_order_like_java() {
        assert_eq!(cmp_f64(-0.0, 0.0), Ordering::Less);
        assert_eq!(cmp_f64(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(cmp_f64(-f64::NAN, f64::NAN), Ordering::Equal);
        assert_eq!(cmp_f64(1.5, 2.5), Ordering::Less);
    }

    #[test]
    fn strings_order_by_utf16() {
        // U+FF21 (fullwidth A) sorts after U+1F600 in UTF-8 order but before it in UTF-16.
        assert_eq!(cmp_str("\u{FF21}", "\u{1F600}"), Ordering::Greater);
        assert_eq!("\u{FF21}".cmp("\u{1F600}"), Ordering::Less);
        assert_eq!(cmp_str("A", "B"), Ordering::Less);
        assert_eq!(cmp_str("ab", "a"), Ordering::Greater);
    }

    #[test]
    fn bytes_compare_signed() {
        assert_eq!(cmp_bytes(&[0x80], &[0x01]), Ordering::Less);
        assert_eq!(cmp_bytes(b"A", b"B"), Ordering::Less);
        assert_eq!(cmp_bytes(b"AB", b"A"), Ordering::Greater);
    }

    #[test]
    fn decimal_text() {
        assert_eq!(decimal_plain_string(1017, 1), "101.7");
        assert_eq!(decimal_plain_string(-5, 2), "-0.05");
        assert_eq!(decimal_plain_string(1, -3), "1000");
        assert_eq!(decimal_to_string(1, -3), "1E+3");
        assert_eq!(decimal_to_string(123, 9), "1.23E-7");
        assert_eq!(decimal_to_string(540, 2), "5.40");
    }

    #[test]
    fn rounding_to_precision_is_half_up() {
        assert_eq!(round_to_precision(1017, 1, 3), (102, 0));
        assert_eq!(round_to_precision(9997, 1, 3), (100, -1));
        assert_eq!(round_to_precision(-1015, 1, 3), (-102, 0));
        assert_eq!(round_to_precision(54, 1, 4), (54, 1));
    }
}
