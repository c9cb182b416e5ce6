//! WHERE: keep the rows for which a predicate is true.

use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::arrow::compute::{filter, filter_record_batch, prep_null_mask_filter};
use datafusion::physical_expr::PhysicalExpr;

use crate::{Batch, DataflowError, Operator};

/// Keeps rows where `predicate` evaluates to true (null counts as false, as in SQL).
pub struct Filter {
    predicate: Arc<dyn PhysicalExpr>,
}

impl Filter {
    /// A filter on a boolean physical expression over the input batch schema.
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> Self {
        Self { predicate }
    }
}

impl Operator for Filter {
    fn name(&self) -> String {
        format!("Filter: {}", self.predicate)
    }

    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let mask = self
            .predicate
            .evaluate(&batch.data)?
            .into_array(batch.num_rows())?;
        let mask = mask
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| DataflowError::Plan("WHERE clause is not boolean".into()))?;
        let mask = if mask.null_count() > 0 {
            prep_null_mask_filter(mask)
        } else {
            mask.clone()
        };
        if mask.true_count() == batch.num_rows() {
            return Ok(vec![batch]);
        }
        let data = filter_record_batch(&batch.data, &mask)?;
        let changes = match &batch.changes {
            Some(c) => Some(
                filter(c, &mask)?
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::Int8Array>()
                    .cloned()
                    .ok_or_else(|| DataflowError::Plan("bad change column".into()))?,
            ),
            None => None,
        };
        Ok(vec![Batch { data, changes }])
    }
}
