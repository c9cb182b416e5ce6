//! WHERE: keep the rows for which a predicate is true.

use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, Int8Array};
use datafusion::arrow::compute::{filter_record_batch, prep_null_mask_filter};
use datafusion::arrow::datatypes::DataType;
use datafusion::physical_expr::PhysicalExpr;

use crate::{Batch, ChangeKind, DataflowError, Operator};

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
        // A row the predicate fails on counts as not matching (reported).
        let mask =
            super::eval::evaluate_or_null(&self.predicate, &batch, &DataType::Boolean, "WHERE")?;
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
        let origin = match &batch.origin {
            Some(o) => Some(o.filter(&mask)?),
            None => None,
        };
        if batch.changes.is_none() {
            // A stream: rows that do not match are gone.
            return Ok(vec![Batch {
                data: filter_record_batch(&batch.data, &mask)?,
                changes: None,
                origin,
            }]);
        }
        // A table changelog (see `ChangeKind`): a new row version that does not match deletes
        // the key downstream (a tombstone) when its previous version (the `UpdateBefore` just
        // before it) matched, and is dropped otherwise, as Kafka Streams' table filters do with
        // old values; an old version that does not match was never counted downstream, so its
        // retraction is dropped; deletes pass unchanged.
        let n = batch.num_rows();
        let mut keep = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        for i in 0..n {
            let matches = mask.value(i);
            let kind = batch.change(i);
            match kind {
                ChangeKind::Insert | ChangeKind::UpdateAfter if matches => {
                    keep.push(true);
                    kinds.push(kind as i8);
                }
                ChangeKind::Insert => keep.push(false),
                ChangeKind::UpdateAfter => {
                    // The key leaves the result only if its previous version was in it.
                    let was_in = i > 0
                        && batch.change(i - 1) == ChangeKind::UpdateBefore
                        && mask.value(i - 1);
                    keep.push(was_in);
                    if was_in {
                        kinds.push(ChangeKind::Delete as i8);
                    }
                }
                ChangeKind::UpdateBefore => {
                    keep.push(matches);
                    if matches {
                        kinds.push(kind as i8);
                    }
                }
                ChangeKind::Delete => {
                    // Known not to be in the result when its old version did not match.
                    let was_out = i > 0
                        && batch.change(i - 1) == ChangeKind::UpdateBefore
                        && !mask.value(i - 1);
                    keep.push(!was_out);
                    if !was_out {
                        kinds.push(kind as i8);
                    }
                }
            }
        }
        let keep = BooleanArray::from(keep);
        let data = filter_record_batch(&batch.data, &keep)?;
        let origin = match &batch.origin {
            Some(o) => Some(o.filter(&keep)?),
            None => None,
        };
        Ok(vec![Batch {
            data,
            changes: Some(Int8Array::from(kinds)),
            origin,
        }])
    }
}
