//! The operator contract and a chain of operators.

use crate::{Batch, DataflowError};

/// One step of a continuous query.
///
/// Contract:
/// - `process_batch` is called with every batch in arrival order and returns the batches it
///   produces (possibly none). It must not block on I/O.
/// - An error means the batch could not be processed at all (a bug or a broken plan), not that a
///   row was bad; per-row problems are handled where they arise.
/// - `on_watermark` is called when event time advances (stream time: the largest ROWTIME seen),
///   so windowed operators can close windows; `on_checkpoint` before the query commits its input
///   positions, so stateful operators can flush state. Stateless operators keep the defaults.
pub trait Operator: Send {
    /// Short name for EXPLAIN and logs.
    fn name(&self) -> String;

    /// Process one batch.
    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError>;

    /// Event time advanced to `watermark_ms`.
    fn on_watermark(&mut self, _watermark_ms: i64) -> Result<Vec<Batch>, DataflowError> {
        Ok(Vec::new())
    }

    /// The query is about to commit its input positions.
    fn on_checkpoint(&mut self) -> Result<(), DataflowError> {
        Ok(())
    }
}

/// A linear chain of operators.
pub struct Pipeline {
    ops: Vec<Box<dyn Operator>>,
}

impl Pipeline {
    /// A chain of operators, applied in order.
    pub fn new(ops: Vec<Box<dyn Operator>>) -> Self {
        Self { ops }
    }

    /// Operator names, in order (for EXPLAIN).
    pub fn describe(&self) -> Vec<String> {
        self.ops.iter().map(|o| o.name()).collect()
    }

    /// Push one batch through every operator; empty batches are dropped on the way.
    pub fn process(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let mut current = vec![batch];
        for op in &mut self.ops {
            let mut next = Vec::with_capacity(current.len());
            for b in current {
                if b.num_rows() == 0 {
                    continue;
                }
                next.extend(op.process_batch(b)?);
            }
            current = next;
        }
        current.retain(|b| b.num_rows() > 0);
        Ok(current)
    }

    /// Tell every operator that the query is about to commit.
    pub fn checkpoint(&mut self) -> Result<(), DataflowError> {
        for op in &mut self.ops {
            op.on_checkpoint()?;
        }
        Ok(())
    }
}
