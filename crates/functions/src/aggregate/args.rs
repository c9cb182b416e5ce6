//! Constant ("initial") arguments of the aggregate functions: TOPK's k, the N and ignoreNulls
//! of EARLIEST/LATEST_BY_OFFSET. ksqlDB requires them to be literals; they are read once, when
//! the accumulator is made, from the physical expressions DataFusion passes.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{plan_datafusion_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::PhysicalExpr;

/// The value of argument `index` (0-based) of `ksql_name`, which must be a constant: a literal,
/// or an expression without column references (such as a cast of a literal that the optimizer
/// has not folded yet). Otherwise ksqlDB's error: "Parameter 2 passed to function X must be a
/// literal constant, but was expression: 'F0'".
pub(crate) fn constant_arg(
    ksql_name: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
) -> Result<ScalarValue> {
    let expr = exprs
        .get(index)
        .ok_or_else(|| plan_datafusion_err!("{ksql_name}: missing argument {}", index + 1))?;
    if let Some(lit) = expr.downcast_ref::<Literal>() {
        return Ok(lit.value().clone());
    }
    if collect_columns(expr).is_empty() {
        let batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
        if let Ok(ColumnarValue::Scalar(v)) = expr.evaluate(&batch) {
            return Ok(v);
        }
    }
    let text = match expr.downcast_ref::<Column>() {
        Some(c) => c.name().to_string(),
        None => expr.to_string(),
    };
    Err(not_literal(ksql_name, index, &text))
}

/// ksqlDB's error for a non-literal initial argument.
pub(crate) fn not_literal(ksql_name: &str, index: usize, text: &str) -> DataFusionError {
    plan_datafusion_err!(
        "Parameter {} passed to function {} must be a literal constant, but was expression: '{}'",
        index + 1,
        ksql_name.to_uppercase(),
        text
    )
}

/// A constant integer argument (k, N) as i64; null or non-integer values are errors.
pub(crate) fn constant_int(
    ksql_name: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
) -> Result<i64> {
    let v = constant_arg(ksql_name, exprs, index)?;
    let n = match &v {
        ScalarValue::Int8(Some(x)) => Some(*x as i64),
        ScalarValue::Int16(Some(x)) => Some(*x as i64),
        ScalarValue::Int32(Some(x)) => Some(*x as i64),
        ScalarValue::Int64(Some(x)) => Some(*x),
        ScalarValue::UInt8(Some(x)) => Some(*x as i64),
        ScalarValue::UInt16(Some(x)) => Some(*x as i64),
        ScalarValue::UInt32(Some(x)) => Some(*x as i64),
        ScalarValue::UInt64(Some(x)) => i64::try_from(*x).ok(),
        _ => None,
    };
    n.ok_or_else(|| {
        plan_datafusion_err!(
            "Parameter {} passed to function {} must be an INTEGER literal, but was {v}",
            index + 1,
            ksql_name.to_uppercase()
        )
    })
}

/// A constant boolean argument (ignoreNulls).
pub(crate) fn constant_bool(
    ksql_name: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
) -> Result<bool> {
    match constant_arg(ksql_name, exprs, index)? {
        ScalarValue::Boolean(Some(b)) => Ok(b),
        v => Err(plan_datafusion_err!(
            "Parameter {} passed to function {} must be a BOOLEAN literal, but was {v}",
            index + 1,
            ksql_name.to_uppercase()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_expr::expressions::{lit, CastExpr};

    #[test]
    fn literal_and_folded_constants_are_read() {
        let exprs: Vec<Arc<dyn PhysicalExpr>> = vec![
            Arc::new(Column::new("F0", 0)),
            lit(ScalarValue::Int64(Some(3))),
            Arc::new(CastExpr::new(
                lit(ScalarValue::Int64(Some(2))),
                datafusion::arrow::datatypes::DataType::Int32,
                None,
            )),
            lit(ScalarValue::Boolean(Some(true))),
        ];
        assert_eq!(constant_int("TOPK", &exprs, 1).unwrap(), 3);
        assert_eq!(constant_int("TOPK", &exprs, 2).unwrap(), 2);
        assert!(constant_bool("X", &exprs, 3).unwrap());
        let err = constant_int("EARLIEST_BY_OFFSET", &exprs, 0).unwrap_err();
        assert!(err.to_string().contains(
            "Parameter 1 passed to function EARLIEST_BY_OFFSET must be a literal constant, \
             but was expression: 'F0'"
        ));
    }
}
