//! SELECT list: compute the output columns.

use std::sync::Arc;

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;

use crate::{Batch, DataflowError, Operator};

/// Evaluates one expression per output column and casts each result to the output field's type
/// (the canonical Arrow type of its KSQL type), so that downstream code sees exactly `schema`.
pub struct Project {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl Project {
    /// `exprs[i]` computes `schema.field(i)`.
    pub fn new(exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef) -> Self {
        assert_eq!(exprs.len(), schema.fields().len());
        Self { exprs, schema }
    }

    /// The output schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

impl Operator for Project {
    fn name(&self) -> String {
        let cols: Vec<String> = self
            .exprs
            .iter()
            .zip(self.schema.fields())
            .map(|(e, f)| format!("{e} AS {}", f.name()))
            .collect();
        format!("Project: {}", cols.join(", "))
    }

    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let n = batch.num_rows();
        let mut columns = Vec::with_capacity(self.exprs.len());
        for (expr, field) in self.exprs.iter().zip(self.schema.fields()) {
            let mut col = expr.evaluate(&batch.data)?.into_array(n)?;
            if col.data_type() != field.data_type() {
                col = cast(&col, field.data_type())?;
            }
            columns.push(col);
        }
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(vec![Batch {
            data,
            changes: batch.changes,
            origin: batch.origin,
        }])
    }
}
