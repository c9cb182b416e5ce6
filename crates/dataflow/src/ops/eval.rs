//! Evaluating an expression over a batch without letting one bad row stop the query.
//!
//! A batch is evaluated whole; only when that fails (a cast of a value that does not parse,
//! an overflow, a function refusing an argument) is it evaluated again row by row, and each row
//! that still fails gets null for this expression, reported on the processing log with the
//! row's source partition and offset when known — as ksqlDB gives a failing SELECT expression
//! null and logs the error, instead of failing the query.

use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, ArrayRef};
use datafusion::arrow::compute::{cast, concat};
use datafusion::arrow::datatypes::DataType;
use datafusion::physical_expr::PhysicalExpr;

use crate::{Batch, DataflowError};

/// `expr` over `batch`, as `ty` (cast when the result differs); rows whose evaluation fails
/// are null and reported. `what` names the expression's role in the report (e.g. a column).
pub(crate) fn evaluate_or_null(
    expr: &Arc<dyn PhysicalExpr>,
    batch: &Batch,
    ty: &DataType,
    what: &str,
) -> Result<ArrayRef, DataflowError> {
    let n = batch.num_rows();
    let whole = expr
        .evaluate(&batch.data)
        .and_then(|v| v.into_array(n))
        .map_err(DataflowError::from)
        .and_then(|col| fit(col, ty));
    let error = match whole {
        Ok(col) => return Ok(col),
        Err(e) => e,
    };
    tracing::debug!(%error, "batch evaluation failed; evaluating row by row");
    let mut pieces = Vec::with_capacity(n);
    for i in 0..n {
        let row = batch.data.slice(i, 1);
        let one = expr
            .evaluate(&row)
            .and_then(|v| v.into_array(1))
            .map_err(DataflowError::from)
            .and_then(|col| fit(col, ty));
        match one {
            Ok(col) => pieces.push(col),
            Err(e) => {
                let (partition, offset) = match &batch.origin {
                    Some(o) => (Some(o.partition.value(i)), Some(o.offset.value(i))),
                    None => (None, None),
                };
                tracing::warn!(
                    target: "sluice::processing_log",
                    expression = %expr,
                    what,
                    partition,
                    offset,
                    error = %e,
                    "expression failed for a row; its value is null"
                );
                pieces.push(new_null_array(ty, 1));
            }
        }
    }
    let refs: Vec<&dyn datafusion::arrow::array::Array> =
        pieces.iter().map(|p| p.as_ref()).collect();
    if refs.is_empty() {
        return Ok(new_null_array(ty, 0));
    }
    Ok(concat(&refs)?)
}

fn fit(col: ArrayRef, ty: &DataType) -> Result<ArrayRef, DataflowError> {
    if col.data_type() == ty {
        Ok(col)
    } else {
        Ok(cast(&col, ty)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion::physical_expr::expressions::{col, CastExpr};

    #[test]
    fn a_failing_row_is_null_and_the_others_are_kept() {
        let schema = Arc::new(Schema::new(vec![Field::new("S", DataType::Utf8, true)]));
        let data = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![
                Some("1"),
                Some("x"),
                None,
                Some("3"),
            ]))],
        )
        .unwrap();
        // DataFusion's CAST fails the whole batch on 'x'.
        let expr: Arc<dyn PhysicalExpr> = Arc::new(CastExpr::new(
            col("S", &schema).unwrap(),
            DataType::Int32,
            None,
        ));
        let batch = Batch::inserts(data);
        assert!(expr.evaluate(&batch.data).is_err());
        let out = evaluate_or_null(&expr, &batch, &DataType::Int32, "N").unwrap();
        let out = out.as_primitive::<Int32Type>();
        assert_eq!(out.len(), 4);
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(1), None, None, Some(3)]
        );
    }
}
