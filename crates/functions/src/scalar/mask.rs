//! ksqlDB's masking and regular-expression extraction functions.
//!
//! - `MASK(s [, upper, lower, digit, other])`: upper-case letters become `X`, lower-case `x`,
//!   digits `n`, anything else `-`; the optional one-character arguments replace those, and a
//!   NULL one leaves that class of characters as it is.
//! - `MASK_LEFT(s, n, ...)` / `MASK_RIGHT(s, n, ...)`: mask only the first / last `n` characters;
//!   `MASK_KEEP_LEFT(s, n, ...)` / `MASK_KEEP_RIGHT(s, n, ...)`: mask all but those. A negative `n`
//!   is an error, as in ksqlDB.
//! - `REGEXP_EXTRACT(pattern, s [, group])`: the first match (or its group); null when nothing
//!   matches or the group does not exist. `REGEXP_EXTRACT_ALL(...)`: every match, as an array.
//!   Patterns use Rust's `regex` syntax (no backreferences or look-around, unlike Java's); a
//!   constant pattern is compiled once per batch, and patterns are cached per distinct text.
//!
//! Letter classes follow Unicode properties (`char::is_uppercase`, `is_lowercase`,
//! `is_numeric`), close to Java's `Character.getType` categories Lu, Ll and Nd.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, StringArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

use crate::ksql_type::not_accepted;

pub(crate) fn functions() -> Vec<Arc<ScalarUDF>> {
    [
        Func::Mask,
        Func::MaskLeft,
        Func::MaskRight,
        Func::MaskKeepLeft,
        Func::MaskKeepRight,
        Func::RegexpExtract,
        Func::RegexpExtractAll,
    ]
    .into_iter()
    .map(|f| {
        Arc::new(ScalarUDF::new_from_impl(MaskUdf {
            func: f,
            signature: Signature::user_defined(Volatility::Immutable),
        }))
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Func {
    Mask,
    MaskLeft,
    MaskRight,
    MaskKeepLeft,
    MaskKeepRight,
    RegexpExtract,
    RegexpExtractAll,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MaskUdf {
    func: Func,
    signature: Signature,
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

fn is_int(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Null
    )
}

/// The replacement for each class of characters; `None` keeps the character.
#[derive(Debug, Clone, Copy)]
struct Masker {
    upper: Option<char>,
    lower: Option<char>,
    digit: Option<char>,
    other: Option<char>,
}

impl Default for Masker {
    fn default() -> Self {
        Masker {
            upper: Some('X'),
            lower: Some('x'),
            digit: Some('n'),
            other: Some('-'),
        }
    }
}

impl Masker {
    fn push_masked(&self, out: &mut String, s: &str) {
        for c in s.chars() {
            let m = if c.is_uppercase() {
                self.upper
            } else if c.is_lowercase() {
                self.lower
            } else if c.is_numeric() {
                self.digit
            } else {
                self.other
            };
            out.push(m.unwrap_or(c));
        }
    }
}

/// A mask argument: NULL keeps the class, else exactly one character.
fn mask_char(v: Option<&str>) -> Result<Option<char>> {
    match v {
        None => Ok(None),
        Some(s) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Some(c)),
                _ => exec_err!(
                    "Invalid mask character. Must be only single character, but was '{s}'"
                ),
            }
        }
    }
}

impl MaskUdf {
    fn ksql_name(&self) -> &'static str {
        match self.func {
            Func::Mask => "MASK",
            Func::MaskLeft => "MASK_LEFT",
            Func::MaskRight => "MASK_RIGHT",
            Func::MaskKeepLeft => "MASK_KEEP_LEFT",
            Func::MaskKeepRight => "MASK_KEEP_RIGHT",
            Func::RegexpExtract => "REGEXP_EXTRACT",
            Func::RegexpExtractAll => "REGEXP_EXTRACT_ALL",
        }
    }

    fn mask_rows(&self, a: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
        let input = a[0].as_string::<i32>();
        let (count, masks) = match self.func {
            Func::Mask => (None, &a[1..]),
            _ => (Some(a[1].as_primitive::<Int32Type>()), &a[2..]),
        };
        let masks: Vec<&StringArray> = masks.iter().map(|m| m.as_string::<i32>()).collect();
        let mut out = StringBuilder::with_capacity(rows, input.value_data().len());
        let mut buf = String::new();
        for r in 0..rows {
            if input.is_null(r) || count.is_some_and(|c| c.is_null(r)) {
                out.append_null();
                continue;
            }
            let masker = if masks.is_empty() {
                Masker::default()
            } else {
                let get = |i: usize| mask_char(masks[i].is_valid(r).then(|| masks[i].value(r)));
                Masker {
                    upper: get(0)?,
                    lower: get(1)?,
                    digit: get(2)?,
                    other: get(3)?,
                }
            };
            let s = input.value(r);
            buf.clear();
            match count.map(|c| c.value(r)) {
                None => masker.push_masked(&mut buf, s),
                Some(n) if n < 0 => {
                    return exec_err!(
                        "function {} requires a non-negative number of characters to mask or skip",
                        self.ksql_name().to_lowercase()
                    )
                }
                Some(n) => {
                    let chars = s.chars().count();
                    let n = (n as usize).min(chars);
                    // The char index where masking starts / stops.
                    let (from, to) = match self.func {
                        Func::MaskLeft => (0, n),
                        Func::MaskRight => (chars - n, chars),
                        Func::MaskKeepLeft => (n, chars),
                        Func::MaskKeepRight => (0, chars - n),
                        _ => (0, chars),
                    };
                    let byte = |i: usize| s.char_indices().nth(i).map_or(s.len(), |(b, _)| b);
                    let (bf, bt) = (byte(from), byte(to));
                    buf.push_str(&s[..bf]);
                    masker.push_masked(&mut buf, &s[bf..bt]);
                    buf.push_str(&s[bt..]);
                }
            }
            out.append_value(&buf);
        }
        Ok(Arc::new(out.finish()))
    }

    fn extract_rows(&self, a: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
        let pattern = a[0].as_string::<i32>();
        let input = a[1].as_string::<i32>();
        let group = a.get(2).map(|g| g.as_primitive::<Int32Type>());
        let mut cache: HashMap<&str, Regex> = HashMap::new();
        let mut one = StringBuilder::new();
        let mut all = ListBuilder::new(StringBuilder::new());
        for r in 0..rows {
            let null =
                pattern.is_null(r) || input.is_null(r) || group.is_some_and(|g| g.is_null(r));
            let g = group.map_or(0, |g| g.value(r));
            let re = if null {
                None
            } else {
                let p = pattern.value(r);
                if !cache.contains_key(p) {
                    let re = Regex::new(p).map_err(|e| {
                        datafusion::error::DataFusionError::Execution(format!(
                            "Invalid regular expression pattern: {p} ({e})"
                        ))
                    })?;
                    cache.insert(p, re);
                }
                cache.get(p)
            };
            let usable = re.filter(|re| g >= 0 && (g as usize) < re.captures_len());
            match (self.func, usable) {
                (Func::RegexpExtract, Some(re)) => match re.captures(input.value(r)) {
                    Some(c) => one.append_option(c.get(g as usize).map(|m| m.as_str())),
                    None => one.append_null(),
                },
                (Func::RegexpExtract, None) => one.append_null(),
                (_, Some(re)) => {
                    for c in re.captures_iter(input.value(r)) {
                        all.values()
                            .append_option(c.get(g as usize).map(|m| m.as_str()));
                    }
                    all.append(true);
                }
                (_, None) => all.append(false),
            }
        }
        Ok(match self.func {
            Func::RegexpExtract => Arc::new(one.finish()),
            _ => Arc::new(all.finish()),
        })
    }
}

impl ScalarUDFImpl for MaskUdf {
    fn name(&self) -> &str {
        match self.func {
            Func::Mask => "mask",
            Func::MaskLeft => "mask_left",
            Func::MaskRight => "mask_right",
            Func::MaskKeepLeft => "mask_keep_left",
            Func::MaskKeepRight => "mask_keep_right",
            Func::RegexpExtract => "regexp_extract",
            Func::RegexpExtractAll => "regexp_extract_all",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let ok = match self.func {
            Func::Mask => matches!(args.len(), 1 | 5) && args.iter().all(is_string),
            Func::RegexpExtract | Func::RegexpExtractAll => {
                matches!(args.len(), 2 | 3)
                    && is_string(&args[0])
                    && is_string(&args[1])
                    && args.get(2).is_none_or(is_int)
            }
            _ => {
                matches!(args.len(), 2 | 6)
                    && is_string(&args[0])
                    && is_int(&args[1])
                    && args[2..].iter().all(is_string)
            }
        };
        if !ok {
            return Err(not_accepted(self.ksql_name(), args));
        }
        // The one INT position: the character count of the MASK_* variants, the group of
        // REGEXP_EXTRACT*; every other argument is a STRING.
        let int_at = match self.func {
            Func::Mask => None,
            Func::RegexpExtract | Func::RegexpExtractAll => Some(2),
            _ => Some(1),
        };
        Ok((0..args.len())
            .map(|i| {
                if Some(i) == int_at {
                    DataType::Int32
                } else {
                    DataType::Utf8
                }
            })
            .collect())
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.func {
            Func::RegexpExtractAll => {
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
            }
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        // The arguments arrive as `coerce_types` typed them: STRING as Utf8, the count or
        // group as Int32.
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = match self.func {
            Func::RegexpExtract | Func::RegexpExtractAll => self.extract_rows(&arrays, rows)?,
            _ => self.mask_rows(&arrays, rows)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::compute::cast;

    fn call(func: Func, args: Vec<ArrayRef>) -> Result<Vec<Option<String>>> {
        let udf = MaskUdf {
            func,
            signature: Signature::user_defined(Volatility::Immutable),
        };
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let coerced = udf.coerce_types(&types)?;
        let args: Vec<ArrayRef> = args
            .iter()
            .zip(&coerced)
            .map(|(a, t)| cast(a, t).unwrap())
            .collect();
        let n = args[0].len();
        let out = udf
            .invoke_with_args(ScalarFunctionArgs {
                arg_fields: args
                    .iter()
                    .map(|a| Arc::new(Field::new("a", a.data_type().clone(), true)))
                    .collect(),
                args: args.into_iter().map(ColumnarValue::Array).collect(),
                number_rows: n,
                return_field: Arc::new(Field::new("r", udf.return_type(&coerced)?, true)),
                config_options: Arc::new(Default::default()),
            })?
            .into_array(n)?;
        Ok((0..n)
            .map(|i| {
                (!out.is_null(i)).then(|| {
                    datafusion::arrow::util::display::array_value_to_string(&out, i).unwrap()
                })
            })
            .collect())
    }

    fn s(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    fn n(v: &[Option<i32>]) -> ArrayRef {
        Arc::new(Int32Array::from(v.to_vec()))
    }

    #[test]
    fn mask_defaults_and_custom_characters() {
        let input = s(&[Some("AbCd#$123xy Z"), None]);
        assert_eq!(
            call(Func::Mask, vec![input.clone()]).unwrap(),
            [Some("XxXx--nnnxx-X".to_string()), None]
        );
        let custom = call(
            Func::Mask,
            vec![
                input,
                s(&[Some("Q"), Some("Q")]),
                s(&[None, None]),
                s(&[Some("9"), Some("9")]),
                s(&[Some("*"), Some("*")]),
            ],
        )
        .unwrap();
        assert_eq!(custom, [Some("QbQd**999xy*Q".to_string()), None]);
        let bad = call(
            Func::Mask,
            vec![
                s(&[Some("a")]),
                s(&[Some("QQ")]),
                s(&[None]),
                s(&[None]),
                s(&[None]),
            ],
        );
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("Invalid mask character"));
    }

    #[test]
    fn masks_on_either_side() {
        let input = s(&[Some("AbCd#$123xy"), Some("ab")]);
        let four = n(&[Some(4), Some(4)]);
        let run = |f| call(f, vec![input.clone(), four.clone()]).unwrap();
        assert_eq!(
            run(Func::MaskLeft),
            [Some("XxXx#$123xy".into()), Some("xx".into())]
        );
        assert_eq!(
            run(Func::MaskRight),
            [Some("AbCd#$1nnxx".into()), Some("xx".into())]
        );
        assert_eq!(
            run(Func::MaskKeepLeft),
            [Some("AbCd--nnnxx".into()), Some("ab".into())]
        );
        assert_eq!(
            run(Func::MaskKeepRight),
            [Some("XxXx--n23xy".into()), Some("ab".into())]
        );
        let negative = call(Func::MaskLeft, vec![input, n(&[Some(-1), Some(1)])]);
        assert!(negative.unwrap_err().to_string().contains("non-negative"));
    }

    #[test]
    fn regexp_extract_first_and_all() {
        let p = s(&[Some("(\\w+)@(\\w+)"), Some("x(\\d)"), Some("nomatch"), None]);
        let input = s(&[
            Some("a@b and c@d"),
            Some("x1 x2 x3"),
            Some("abc"),
            Some("abc"),
        ]);
        assert_eq!(
            call(Func::RegexpExtract, vec![p.clone(), input.clone()]).unwrap(),
            [Some("a@b".into()), Some("x1".into()), None, None]
        );
        assert_eq!(
            call(
                Func::RegexpExtract,
                vec![
                    p.clone(),
                    input.clone(),
                    n(&[Some(2), Some(5), Some(0), Some(0)])
                ]
            )
            .unwrap(),
            [Some("b".into()), None, None, None]
        );
        assert_eq!(
            call(
                Func::RegexpExtractAll,
                vec![p, input, n(&[Some(1), Some(1), Some(0), Some(0)])]
            )
            .unwrap(),
            [
                Some("[a, c]".into()),
                Some("[1, 2, 3]".into()),
                Some("[]".into()),
                None
            ]
        );
    }
}
