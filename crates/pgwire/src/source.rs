//! Where result rows come from: the batches of a finite result, or a push query's stream.
//! Rows are handed out in slices so a client can take them `max_rows` at a time; the rest of a
//! partially consumed batch stays here for the next Execute or FETCH.

use std::collections::VecDeque;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::backend::BatchStream;

pub(crate) struct RowSource {
    pub schema: SchemaRef,
    /// Batches (or the rest of one) already received and not yet sent.
    ready: VecDeque<RecordBatch>,
    /// The push query's stream, until it ends. `None` for finite results.
    pub stream: Option<BatchStream>,
    /// Whether this is a push query (rows may arrive later).
    pub push: bool,
}

impl RowSource {
    /// A finite result.
    pub fn finite(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        RowSource {
            schema,
            ready: batches.into_iter().filter(|b| b.num_rows() > 0).collect(),
            stream: None,
            push: false,
        }
    }

    /// A push query's result.
    pub fn push(schema: SchemaRef, stream: BatchStream) -> Self {
        RowSource {
            schema,
            ready: VecDeque::new(),
            stream: Some(stream),
            push: true,
        }
    }

    /// Queue a batch received from the stream.
    pub fn push_ready(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.ready.push_back(batch);
        }
    }

    /// Up to `max` rows (all of the next batch when `None`) from what is ready.
    pub fn take_ready(&mut self, max: Option<usize>) -> Option<RecordBatch> {
        let batch = self.ready.pop_front()?;
        match max {
            Some(max) if max < batch.num_rows() => {
                let head = batch.slice(0, max);
                self.ready
                    .push_front(batch.slice(max, batch.num_rows() - max));
                Some(head)
            }
            _ => Some(batch),
        }
    }

    /// Nothing is ready and nothing more can come.
    pub fn exhausted(&self) -> bool {
        self.ready.is_empty() && self.stream.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int32Array};

    fn batch(values: Vec<i32>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![("x", Arc::new(Int32Array::from(values)) as ArrayRef)])
            .unwrap()
    }

    #[test]
    fn slices_batches_by_row_limit() {
        let b = batch(vec![1, 2, 3]);
        let mut s = RowSource::finite(b.schema(), vec![b, batch(vec![]), batch(vec![4])]);
        assert_eq!(s.take_ready(Some(2)).unwrap().num_rows(), 2);
        assert!(!s.exhausted());
        let rest = s.take_ready(Some(5)).unwrap();
        assert_eq!(rest.num_rows(), 1);
        let col = rest
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        assert_eq!(col.value(0), 3);
        assert_eq!(s.take_ready(None).unwrap().num_rows(), 1);
        assert!(s.take_ready(None).is_none());
        assert!(s.exhausted());
    }
}
