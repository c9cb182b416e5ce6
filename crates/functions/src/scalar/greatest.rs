//! `GREATEST` and `LEAST` with ksqlDB's overload resolution; the comparison itself is
//! DataFusion's (nulls skipped, null when every argument is null).
//!
//! ksqlDB has one overload per type (`T greatest(T, T...)` for INT, BIGINT, DOUBLE, DECIMAL,
//! STRING, BYTES, DATE, TIME, TIMESTAMP) and picks one by implicit widening:
//! - untyped `NULL` arguments fit any overload; only `NULL`s is ambiguous;
//! - numbers: any DOUBLE makes it DOUBLE; otherwise INTEGER together with BIGINT is ambiguous
//!   (both widen to several overloads); decimals widen to a decimal holding every argument;
//! - a string (a literal such as `'2022-06-14'`) is read as the DATE, TIME or TIMESTAMP of the
//!   other arguments;
//! - anything else mixed (a STRING and an INTEGER) has no overload.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::ksql_type::ksql_type_name;

/// `GREATEST` or `LEAST`, resolving argument types as ksqlDB does and then running DataFusion's
/// function of the same name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Extreme {
    name: &'static str,
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl Extreme {
    pub(crate) fn greatest() -> Self {
        Self::new("greatest", datafusion::functions::core::greatest())
    }

    pub(crate) fn least() -> Self {
        Self::new("least", datafusion::functions::core::least())
    }

    fn new(name: &'static str, inner: Arc<ScalarUDF>) -> Self {
        Extreme {
            name,
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn not_accepted(&self, args: &[DataType]) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::Plan(format!(
            "Function '{}' does not accept parameters ({}).",
            self.name,
            names(args)
        ))
    }

    fn ambiguous(&self, args: &[DataType]) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::Plan(format!(
            "Function '{}' cannot be resolved due to ambiguous method parameters ({}).",
            self.name,
            names(args)
        ))
    }

    /// The one type every argument is cast to.
    fn resolve(&self, args: &[DataType]) -> Result<DataType> {
        if args.is_empty() {
            return Err(self.not_accepted(args));
        }
        let typed: Vec<&DataType> = args.iter().filter(|t| **t != DataType::Null).collect();
        let Some(first) = typed.first() else {
            return Err(self.ambiguous(args));
        };
        let family = |t: &DataType| Family::of(t);
        let temporal = typed
            .iter()
            .find(|t| matches!(family(t), Some(Family::Temporal)));
        if let Some(target) = temporal {
            // Strings are read as the temporal type; other temporal types must be the same.
            return if typed
                .iter()
                .all(|t| t == target || matches!(family(t), Some(Family::Text)))
            {
                Ok((*target).clone())
            } else {
                Err(self.not_accepted(args))
            };
        }
        match family(first) {
            Some(Family::Number) => {
                if !typed.iter().all(|t| family(t) == Some(Family::Number)) {
                    return Err(self.not_accepted(args));
                }
                if typed
                    .iter()
                    .any(|t| matches!(t, DataType::Float32 | DataType::Float64))
                {
                    return Ok(DataType::Float64);
                }
                let int = typed.iter().any(|t| is_int32(t));
                let bigint = typed.iter().any(|t| is_int64(t));
                let decimals: Vec<(u8, i8)> = typed
                    .iter()
                    .filter_map(|t| match t {
                        DataType::Decimal128(p, s) => Some((*p, *s)),
                        _ => None,
                    })
                    .collect();
                if int && bigint {
                    return Err(self.ambiguous(args));
                }
                if decimals.is_empty() {
                    return Ok(if bigint {
                        DataType::Int64
                    } else {
                        DataType::Int32
                    });
                }
                // A decimal that holds every argument: the largest scale and the most integer
                // digits (INT needs 10, BIGINT 19).
                let scale = decimals.iter().map(|(_, s)| *s).max().unwrap_or(0).max(0);
                let mut digits = decimals
                    .iter()
                    .map(|(p, s)| *p as i16 - *s as i16)
                    .max()
                    .unwrap_or(0);
                if int {
                    digits = digits.max(10);
                }
                if bigint {
                    digits = digits.max(19);
                }
                let precision = (digits + scale as i16).clamp(1, 38) as u8;
                Ok(DataType::Decimal128(precision, scale))
            }
            Some(Family::Text) | Some(Family::Bytes) => {
                if typed.iter().all(|t| family(t) == family(first)) {
                    Ok(match family(first) {
                        Some(Family::Bytes) => DataType::Binary,
                        _ => DataType::Utf8,
                    })
                } else {
                    Err(self.not_accepted(args))
                }
            }
            _ => Err(self.not_accepted(args)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Number,
    Text,
    Bytes,
    Temporal,
}

impl Family {
    fn of(t: &DataType) -> Option<Family> {
        use DataType::*;
        match t {
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float32 | Float64
            | Decimal128(..) => Some(Family::Number),
            Utf8 | LargeUtf8 | Utf8View => Some(Family::Text),
            Binary | LargeBinary | BinaryView => Some(Family::Bytes),
            Date32 | Date64 | Time32(_) | Time64(_) | Timestamp(..) => Some(Family::Temporal),
            _ => None,
        }
    }
}

fn is_int32(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16
    )
}

fn is_int64(t: &DataType) -> bool {
    matches!(t, DataType::Int64 | DataType::UInt32 | DataType::UInt64)
}

/// ksqlDB's argument list: `INTEGER, BIGINT`, `null` for an untyped NULL.
fn names(args: &[DataType]) -> String {
    args.iter()
        .map(|t| match t {
            DataType::Null => "null".to_string(),
            t => ksql_type_name(t),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl ScalarUDFImpl for Extreme {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let target = self.resolve(arg_types)?;
        Ok(vec![target; arg_types.len()])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(t) => Ok(t.clone()),
            None => plan_err!("Function '{}' does not accept parameters ().", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.is_empty() {
            return exec_err!("Function '{}' does not accept parameters ().", self.name);
        }
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    fn resolve(args: &[DataType]) -> std::result::Result<DataType, String> {
        Extreme::greatest().resolve(args).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_widen_as_ksqldb_resolves_them() {
        assert_eq!(resolve(&[Int32, Int32, Null]), Ok(Int32));
        assert_eq!(resolve(&[Int64, Null]), Ok(Int64));
        assert_eq!(
            resolve(&[Int32, Int64, Decimal128(30, 18), Float64, Null]),
            Ok(Float64)
        );
        assert_eq!(
            resolve(&[Decimal128(9, 2), Decimal128(7, 6)]),
            Ok(Decimal128(13, 6))
        );
        let e = resolve(&[Int32, Int64]).unwrap_err();
        assert!(
            e.contains(
                "Function 'greatest' cannot be resolved due to ambiguous method parameters \
                 (INTEGER, BIGINT)."
            ),
            "{e}"
        );
    }

    #[test]
    fn strings_are_read_as_the_temporal_type() {
        assert_eq!(resolve(&[Date32, Utf8, Null]), Ok(Date32));
        assert!(resolve(&[Utf8, Int32])
            .unwrap_err()
            .contains("Function 'greatest' does not accept parameters (STRING, INTEGER)."));
    }

    #[test]
    fn nulls_only_and_no_arguments_are_refused() {
        assert!(resolve(&[Null, Null])
            .unwrap_err()
            .contains("ambiguous method parameters (null, null)."));
        assert!(resolve(&[])
            .unwrap_err()
            .contains("Function 'greatest' does not accept parameters ()."));
    }
}
