//! Decimal numbers as text, read the way `java.math.BigDecimal` reads them, because ksqlDB's
//! coercions go through BigDecimal: DECIMAL columns (`ensureFit`), JSON floats shown as STRING
//! (`BigDecimal.toString`), JSON floats read as INT/BIGINT (`longValue`, truncating, low bits).

use std::io::Write;

/// A number in `BigDecimal(String)` syntax: `[+-]? (digits [. digits?] | . digits) ([eE][+-]?digits)?`.
/// JSON numbers are a subset. Its value is `(int ++ frac) * 10^(exp - frac.len())`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecimalText<'a> {
    neg: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: i64,
}

impl<'a> DecimalText<'a> {
    /// Parse `s`, or `None` where Java would throw `NumberFormatException`.
    pub(crate) fn parse(s: &'a str) -> Option<Self> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut neg = false;
        if let Some(&c) = b.first() {
            if c == b'-' || c == b'+' {
                neg = c == b'-';
                i = 1;
            }
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int = &b[int_start..i];
        let mut frac: &[u8] = &[];
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            frac = &b[frac_start..i];
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut exp: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut exp_neg = false;
            if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
                exp_neg = b[i] == b'-';
                i += 1;
            }
            let exp_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exp = exp.checked_mul(10)?.checked_add(i64::from(b[i] - b'0'))?;
                if exp > i64::from(i32::MAX) {
                    return None;
                }
                i += 1;
            }
            if i == exp_start {
                return None;
            }
            if exp_neg {
                exp = -exp;
            }
        }
        if i != b.len() {
            return None;
        }
        Some(DecimalText {
            neg,
            int,
            frac,
            exp,
        })
    }

    fn total(&self) -> usize {
        self.int.len() + self.frac.len()
    }

    fn digit(&self, k: usize) -> u8 {
        if k < self.int.len() {
            self.int[k] - b'0'
        } else {
            self.frac[k - self.int.len()] - b'0'
        }
    }

    /// Index of the first significant digit, and how many there are (0 for zero).
    fn significant(&self) -> (usize, usize) {
        let total = self.total();
        let mut skip = 0;
        while skip < total && self.digit(skip) == 0 {
            skip += 1;
        }
        (skip, total - skip)
    }

    /// BigDecimal's scale: digits after the point, less the exponent.
    pub(crate) fn scale(&self) -> i64 {
        self.frac.len() as i64 - self.exp
    }

    /// BigDecimal's precision: the number of digits of the unscaled value.
    pub(crate) fn precision(&self) -> usize {
        self.significant().1.max(1)
    }

    fn is_negative(&self) -> bool {
        self.neg && self.significant().1 > 0
    }

    /// The unscaled value's digits, as text (`"0"` for zero).
    fn unscaled_digits(&self) -> String {
        let (skip, n) = self.significant();
        if n == 0 {
            return "0".to_string();
        }
        (skip..self.total())
            .map(|k| char::from(b'0' + self.digit(k)))
            .collect()
    }

    /// `BigDecimal.toString()`: plain unless the scale is negative or the number is tiny, then
    /// scientific (`1E+3`, `1.5E-7`).
    pub(crate) fn to_java_string(self) -> String {
        let digits = self.unscaled_digits();
        let scale = self.scale();
        let n = digits.len() as i64;
        let adjusted = n - 1 - scale;
        let mut out = String::with_capacity(digits.len() + 8);
        if self.is_negative() {
            out.push('-');
        }
        if scale == 0 {
            out.push_str(&digits);
        } else if scale > 0 && adjusted >= -6 {
            push_with_point(&mut out, &digits, scale as usize);
        } else {
            out.push_str(&digits[..1]);
            if digits.len() > 1 {
                out.push('.');
                out.push_str(&digits[1..]);
            }
            out.push('E');
            if adjusted >= 0 {
                out.push('+');
            }
            out.push_str(&adjusted.to_string());
        }
        out
    }

    /// `BigDecimal.toPlainString()`.
    pub(crate) fn to_plain_string(self) -> String {
        let digits = self.unscaled_digits();
        let scale = self.scale();
        let mut out = String::with_capacity(digits.len() + 8);
        if self.is_negative() {
            out.push('-');
        }
        if scale <= 0 {
            out.push_str(&digits);
            if digits != "0" {
                for _ in 0..(-scale).min(1_000_000) {
                    out.push('0');
                }
            }
        } else {
            push_with_point(&mut out, &digits, scale as usize);
        }
        out
    }

    /// ksqlDB's `DecimalUtil.ensureFit`: the unscaled `i128` of this value in DECIMAL(precision,
    /// scale), refusing values too large for the type and values that would need rounding.
    pub(crate) fn fit(&self, precision: u8, scale: i8) -> Result<i128, String> {
        let (skip, n) = self.significant();
        if n == 0 {
            return Ok(0);
        }
        let own_scale = self.scale();
        let int_digits = i64::from(precision) - i64::from(scale);
        let overflow = || {
            format!(
                "Numeric field overflow: A field with precision {precision} and scale {scale} \
                 must round to an absolute value less than 10^{int_digits}. Got {}",
                self.to_plain_string()
            )
        };
        let adjusted = n as i64 - 1 - own_scale;
        if adjusted >= int_digits {
            return Err(overflow());
        }
        let cannot_fit = || {
            format!(
                "Cannot fit decimal '{}' into DECIMAL({precision}, {scale}) without rounding. \
                 (Requires {},{})",
                self.to_plain_string(),
                self.precision(),
                own_scale
            )
        };
        let drop = own_scale - i64::from(scale);
        let keep = if drop > 0 {
            if drop >= n as i64 {
                return Err(cannot_fit());
            }
            let keep = n - drop as usize;
            if (skip + keep..self.total()).any(|k| self.digit(k) != 0) {
                return Err(cannot_fit());
            }
            keep
        } else {
            n
        };
        let mut v: i128 = 0;
        for k in skip..skip + keep {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(self.digit(k))))
                .ok_or_else(overflow)?;
        }
        for _ in 0..(-drop).max(0) {
            v = v.checked_mul(10).ok_or_else(overflow)?;
        }
        Ok(if self.neg { -v } else { v })
    }

    /// `BigDecimal.longValue()`: the integer part (truncated towards zero), keeping only the low
    /// 64 bits as Java does for values that do not fit.
    pub(crate) fn wrapping_i64(&self) -> i64 {
        let (skip, n) = self.significant();
        if n == 0 {
            return 0;
        }
        let scale = self.scale();
        let mut acc: u64 = 0;
        let int_len = if scale <= 0 {
            n
        } else if (n as i64) > scale {
            n - scale as usize
        } else {
            0
        };
        for k in skip..skip + int_len {
            acc = acc.wrapping_mul(10).wrapping_add(u64::from(self.digit(k)));
        }
        if scale < 0 && int_len > 0 {
            // 10^64 is a multiple of 2^64: more zeros than that leave the low bits at 0.
            for _ in 0..(-scale).min(64) {
                acc = acc.wrapping_mul(10);
            }
        }
        if self.neg {
            acc = acc.wrapping_neg();
        }
        acc as i64
    }
}

fn push_with_point(out: &mut String, digits: &str, scale: usize) {
    if digits.len() > scale {
        let split = digits.len() - scale;
        out.push_str(&digits[..split]);
        out.push('.');
        out.push_str(&digits[split..]);
    } else {
        out.push_str("0.");
        for _ in 0..scale - digits.len() {
            out.push('0');
        }
        out.push_str(digits);
    }
}

/// The unscaled `value` with `scale` as plain decimal text (`toPlainString`): `10.30`, `-0.05`.
pub fn decimal_text(value: i128, scale: i8) -> String {
    let mut out = Vec::new();
    write_decimal(&mut out, value, scale);
    String::from_utf8(out).expect("digits, sign and point are ASCII")
}

/// Write the unscaled `value` with `scale` as plain decimal text (`toPlainString`): `12.3650`,
/// `-0.05`, `100` for scale 0.
pub(crate) fn write_decimal(out: &mut Vec<u8>, value: i128, scale: i8) {
    if value < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; 40];
    let digits = {
        let mut w = &mut buf[..];
        // u128 display of at most 39 digits always fits.
        let _ = write!(w, "{}", value.unsigned_abs());
        let len = 40 - w.len();
        &buf[..len]
    };
    if scale <= 0 {
        out.extend_from_slice(digits);
        if value != 0 {
            out.extend(std::iter::repeat_n(b'0', usize::from(scale.unsigned_abs())));
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let split = digits.len() - scale;
        out.extend_from_slice(&digits[..split]);
        out.push(b'.');
        out.extend_from_slice(&digits[split..]);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> DecimalText<'_> {
        DecimalText::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    fn plain(v: i128, scale: i8) -> String {
        let mut out = Vec::new();
        write_decimal(&mut out, v, scale);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_java_syntax() {
        for ok in [
            "1", "-1", "+1", ".5", "5.", "1e3", "1E+3", "1.5e-7", "0.000", "00.5",
        ] {
            assert!(DecimalText::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "-",
            ".",
            "e3",
            "1e",
            "1.2.3",
            " 1",
            "1 ",
            "0x10",
            "1e99999999999",
        ] {
            assert!(DecimalText::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn to_string_matches_big_decimal() {
        assert_eq!(d("1.50").to_java_string(), "1.50");
        assert_eq!(d("1e3").to_java_string(), "1E+3");
        assert_eq!(d("1.5e2").to_java_string(), "1.5E+2");
        assert_eq!(d("0.0000001").to_java_string(), "1E-7");
        assert_eq!(d("0.000001").to_java_string(), "0.000001");
        assert_eq!(d("-0.0").to_java_string(), "0.0");
        assert_eq!(d("123.456").to_java_string(), "123.456");
        assert_eq!(d("-12.5e-1").to_java_string(), "-1.25");
        assert_eq!(d("1e3").to_plain_string(), "1000");
        assert_eq!(d("1.5e-7").to_plain_string(), "0.00000015");
        assert_eq!(d("00.5").precision(), 1);
        assert_eq!(d("12.3650").scale(), 4);
    }

    #[test]
    fn fit_pads_and_checks_like_ensure_fit() {
        assert_eq!(d("12.365").fit(6, 4), Ok(123650));
        assert_eq!(d("12.0").fit(6, 4), Ok(120000));
        assert_eq!(d("-12345.12").fit(33, 16), Ok(-123451200000000000000));
        assert_eq!(d(".12").fit(33, 16), Ok(1200000000000000));
        assert_eq!(d("10").fit(4, 2), Ok(1000));
        assert_eq!(d("1.2300").fit(4, 2), Ok(123));
        assert_eq!(d("0").fit(2, 2), Ok(0));
        assert_eq!(d("0.99").fit(2, 2), Ok(99));
        assert_eq!(d("1.5e1").fit(4, 1), Ok(150));
        let e = d("100").fit(4, 2).unwrap_err();
        assert_eq!(
            e,
            "Numeric field overflow: A field with precision 4 and scale 2 must round to an \
             absolute value less than 10^2. Got 100"
        );
        assert!(d("1")
            .fit(2, 2)
            .unwrap_err()
            .starts_with("Numeric field overflow"));
        let e = d("1.234").fit(4, 2).unwrap_err();
        assert_eq!(
            e,
            "Cannot fit decimal '1.234' into DECIMAL(4, 2) without rounding. (Requires 4,3)"
        );
        assert!(d("0.001").fit(4, 2).is_err());
        // 38 digits still fit an i128.
        let big = "9".repeat(38);
        assert_eq!(d(&big).fit(38, 0), Ok(big.parse::<i128>().unwrap()));
    }

    #[test]
    fn wrapping_i64_truncates_and_keeps_low_bits() {
        assert_eq!(d("1.9").wrapping_i64(), 1);
        assert_eq!(d("-1.9").wrapping_i64(), -1);
        assert_eq!(d("1.5e3").wrapping_i64(), 1500);
        assert_eq!(d("0.5").wrapping_i64(), 0);
        assert_eq!(d("9223372036854775807").wrapping_i64(), i64::MAX);
        assert_eq!(d("9223372036854775808").wrapping_i64(), i64::MIN);
        assert_eq!(d("18446744073709551617").wrapping_i64(), 1);
        assert_eq!(d("1e100").wrapping_i64(), 0);
        assert_eq!(d("4294967296").wrapping_i64() as i32, 0);
        assert_eq!(d("2147483648").wrapping_i64() as i32, i32::MIN);
    }

    #[test]
    fn writes_plain_decimals() {
        assert_eq!(plain(123650, 4), "12.3650");
        assert_eq!(plain(-5, 2), "-0.05");
        assert_eq!(plain(0, 3), "0.000");
        assert_eq!(plain(42, 0), "42");
        assert_eq!(plain(42, -2), "4200");
        assert_eq!(plain(-123451200000000000000, 16), "-12345.1200000000000000");
        assert_eq!(plain(i128::MIN, 0), i128::MIN.to_string());
    }
}
