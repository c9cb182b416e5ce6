//! SELECT list: compute the output columns.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;

use crate::{Batch, DataflowError, Operator};

/// Evaluates one expression per output column and casts each result to the output field's type
/// (the canonical Arrow type of its KSQL type), so that downstream code sees exactly `schema`.
/// A row an expression fails on gets null in that column and a processing-log report.
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
        let mut columns = Vec::with_capacity(self.exprs.len());
        for (expr, field) in self.exprs.iter().zip(self.schema.fields()) {
            // A row the expression fails on gets null (reported), not a failed query.
            columns.push(super::eval::evaluate_or_null(
                expr,
                &batch,
                field.data_type(),
                field.name(),
            )?);
        }
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(vec![Batch {
            data,
            changes: batch.changes,
            origin: batch.origin,
        }])
    }
}
