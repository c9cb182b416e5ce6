//! ksqlDB's typing of `x IN (a, b, ...)`: every item is compared with `x`, so items must have a
//! type comparable with `x`'s. String literals are read as `x`'s type (`ID IN (10, '20')` for
//! an INT `ID`); other literals are written as text when `x` is a STRING (`S IN (true, 10.30)`
//! compares with `'true'` and `'10.30'`); anything else of another type is ksqlDB's
//! "operator does not exist" error. DataFusion would coerce everything to a common type or
//! fail with its own message, so the list is rewritten before planning.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{Expr, ExprSchemable};

use crate::PlanError;

fn type_name(t: &DataType) -> String {
    sluice_catalog::types::display_name(t)
}

/// The type's name without parameters (`DECIMAL`, not `DECIMAL(4, 2)`).
fn base_type_name(t: &DataType) -> String {
    let full = type_name(t);
    match full.split_once(['(', '<']) {
        Some((base, _)) => base.to_string(),
        None => full,
    }
}

fn numeric(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(..)
    )
}

fn stringy(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// Whether values of `a` and `b` compare without a cast ksqlDB would refuse.
fn comparable(a: &DataType, b: &DataType) -> bool {
    a == b || b == &DataType::Null || (numeric(a) && numeric(b)) || (stringy(a) && stringy(b))
}

/// A literal, also one the planner wrapped in a cast (KSQL's `10` is an INT).
fn as_literal(e: &Expr) -> Option<ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(c) => match c.expr.as_ref() {
            Expr::Literal(v, _) => v.cast_to(c.field.data_type()).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The text of an item in ksqlDB's error: column names bare, literals as written.
fn item_text(e: &Expr) -> String {
    if let Some(v) = as_literal(e) {
        return match &v {
            ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => format!("'{s}'"),
            other => literal_text(other).unwrap_or_else(|| other.to_string()),
        };
    }
    match e {
        Expr::Column(c) => c.name.clone(),
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
            format!("'{s}'")
        }
        Expr::Literal(v, _) => literal_text(v).unwrap_or_else(|| v.to_string()),
        Expr::Alias(a) => item_text(&a.expr),
        other => other.to_string(),
    }
}

/// A non-string literal as KSQL text (`true`, `10`, `10.30`).
fn literal_text(v: &ScalarValue) -> Option<String> {
    Some(match v {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(Some(x)) => x.to_string(),
        ScalarValue::Int16(Some(x)) => x.to_string(),
        ScalarValue::Int32(Some(x)) => x.to_string(),
        ScalarValue::Int64(Some(x)) => x.to_string(),
        ScalarValue::Float64(Some(x)) => x.to_string(),
        ScalarValue::Decimal128(Some(x), _, s) => sluice_formats::decimal_text(*x, *s),
        _ => return None,
    })
}

/// ksqlDB's reading of a string as a BOOLEAN: a prefix of `true` / `false`, or `yes` / `y`.
fn parse_bool(s: &str) -> Option<bool> {
    let l = s.trim().to_ascii_lowercase();
    if l.is_empty() {
        return None;
    }
    if "true".starts_with(&l) || l == "yes" || l == "y" {
        Some(true)
    } else if "false".starts_with(&l) {
        Some(false)
    } else {
        None
    }
}

/// A string literal read as a value of type `t`; `None` when it is not one.
fn parse_as(s: &str, t: &DataType) -> Option<ScalarValue> {
    let s = s.trim();
    Some(match t {
        DataType::Boolean => ScalarValue::Boolean(Some(parse_bool(s)?)),
        // Whole numbers, also written with a zero fraction (`4.000`).
        DataType::Int32 | DataType::Int64 => ScalarValue::Int64(Some(match s.parse() {
            Ok(v) => v,
            Err(_) => {
                let (int, frac) = s.split_once('.')?;
                if frac.is_empty() || !frac.bytes().all(|b| b == b'0') {
                    return None;
                }
                int.parse().ok()?
            }
        })),
        DataType::Float64 => ScalarValue::Float64(Some(s.parse().ok()?)),
        DataType::Decimal128(..) => {
            let f: f64 = s.parse().ok()?;
            if !f.is_finite() {
                return None;
            }
            let (int, frac) = s.split_once('.').unwrap_or((s, ""));
            let scale = frac.len().min(38);
            let unscaled: i128 = format!("{int}{frac}").parse().ok()?;
            ScalarValue::Decimal128(Some(unscaled), 38, scale as i8)
        }
        _ => return None,
    })
}

/// Rewrite every `IN` list in `expr` as ksqlDB types it (see the module docs). `context`
/// prefixes errors (`Invalid Predicate` for WHERE).
pub fn coerce(expr: Expr, schema: &DFSchema, context: Option<&str>) -> Result<Expr, PlanError> {
    let fail = |msg: String| {
        PlanError::Type(match context {
            Some(c) => format!("{c}: {msg}"),
            None => msg,
        })
    };
    let mut error = None;
    let out = expr
        .transform_up(|e| {
            let Expr::InList(InList {
                expr: value,
                list,
                negated,
            }) = e
            else {
                return Ok(Transformed::no(e));
            };
            let t = value.get_type(schema)?;
            let mut items = Vec::with_capacity(list.len());
            let mut changed = false;
            for item in list {
                let u = item.get_type(schema)?;
                if comparable(&t, &u) {
                    items.push(item);
                    continue;
                }
                let nested = |d: &DataType| {
                    matches!(d, DataType::List(_) | DataType::Struct(_) | DataType::Map(..))
                };
                let literal = as_literal(&item);
                match &literal {
                    Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)))
                        if !nested(&t) =>
                    {
                        match parse_as(s, &t) {
                            Some(v) => {
                                items.push(Expr::Literal(v, None));
                                changed = true;
                            }
                            None => {
                                error.get_or_insert_with(|| {
                                    fail(format!(
                                        "invalid input syntax for type {}: \"{s}\".",
                                        base_type_name(&t)
                                    ))
                                });
                                items.push(item);
                            }
                        }
                    }
                    Some(v) if stringy(&t) && literal_text(v).is_some() => {
                        items.push(Expr::Literal(
                            ScalarValue::Utf8(literal_text(v)),
                            None,
                        ));
                        changed = true;
                    }
                    // Nested values are left to DataFusion's own coercion for now.
                    _ if nested(&t) && nested(&u) => items.push(item),
                    _ => {
                        error.get_or_insert_with(|| {
                            fail(format!(
                                "operator does not exist: {} = {} ({})\nHint: You might need to add explicit type casts.",
                                type_name(&t),
                                type_name(&u),
                                item_text(&item)
                            ))
                        });
                        items.push(item);
                    }
                }
            }
            let e = Expr::InList(InList {
                expr: value,
                list: items,
                negated,
            });
            Ok(if changed {
                Transformed::yes(e)
            } else {
                Transformed::no(e)
            })
        })
        .map(|t| t.data)?;
    match error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_as_the_value_type() {
        assert_eq!(parse_bool("TrUe"), Some(true));
        assert_eq!(parse_bool("tr"), Some(true));
        assert_eq!(parse_bool("Y"), Some(true));
        assert_eq!(parse_bool("f"), Some(false));
        assert_eq!(parse_bool("Not a boolean"), None);
        assert_eq!(
            parse_as("2147483648", &DataType::Int32),
            Some(ScalarValue::Int64(Some(2_147_483_648)))
        );
        assert_eq!(parse_as("10 - not a number", &DataType::Int64), None);
        assert_eq!(
            parse_as("4.000", &DataType::Int32),
            Some(ScalarValue::Int64(Some(4)))
        );
        assert_eq!(parse_as("4.5", &DataType::Int32), None);
        assert_eq!(
            parse_as("10.50", &DataType::Decimal128(12, 2)),
            Some(ScalarValue::Decimal128(Some(1050), 38, 2))
        );
        assert_eq!(
            literal_text(&ScalarValue::Decimal128(Some(1030), 4, 2)).as_deref(),
            Some("10.30")
        );
    }
}
