//! The operator contract and a chain of operators.

use std::sync::Arc;

use sluice_state::{StateStore, WriteBatch};

use crate::state::OperatorState;
use crate::{Batch, DataflowError};

/// One step of a continuous query.
///
/// Contract:
/// - `process_batch` is called with every batch in arrival order and returns the batches it
///   produces (possibly none). It must not block on I/O.
/// - An error means the batch could not be processed at all (a bug or a broken plan), not that a
///   row was bad; per-row problems are handled where they arise.
/// - `on_watermark` is called when event time advances (stream time: the largest ROWTIME seen),
///   so windowed operators can close windows.
/// - `open` is called once, before the first batch, when the query keeps its state in a store:
///   the operator reads back what it needs (small state eagerly, keyed state lazily) and keeps
///   the handle. An operator that is never opened keeps its state in memory only.
/// - `on_checkpoint` is called after a batch's output was delivered and before the task commits
///   its input positions: the operator adds every state change since the last checkpoint to
///   `batch`, which the task commits atomically with the positions. After a crash the operator
///   is opened again over the last committed batch, so its state must be exactly what the
///   checkpoints wrote. Stateless operators keep the defaults.
pub trait Operator: Send {
    /// Short name for EXPLAIN and logs.
    fn name(&self) -> String;

    /// Process one batch.
    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError>;

    /// Event time advanced to `watermark_ms`.
    fn on_watermark(&mut self, _watermark_ms: i64) -> Result<Vec<Batch>, DataflowError> {
        Ok(Vec::new())
    }

    /// Restore from, and from now on keep state in, `state`.
    fn open(&mut self, _state: OperatorState) -> Result<(), DataflowError> {
        Ok(())
    }

    /// The query is about to commit its input positions: add state changes to `batch`.
    fn on_checkpoint(&mut self, _batch: &mut WriteBatch) -> Result<(), DataflowError> {
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

    /// Open every operator over `store`; operator `i` keeps its keys under the prefix byte
    /// `i + 1` (`0x00` and `0xe0..` are left to the task: its partition prefix, joins,
    /// materialized rows).
    pub fn open(&mut self, store: Arc<dyn StateStore>) -> Result<(), DataflowError> {
        self.open_under(store, &[], crate::state::DEFAULT_CACHE_ENTRIES)
    }

    /// [`Pipeline::open`] with every operator's prefix placed under `base` (a query runs one
    /// task per input partition over one store, each task under its own base), each keyed
    /// state keeping about `cache_entries` entries in memory.
    pub fn open_under(
        &mut self,
        store: Arc<dyn StateStore>,
        base: &[u8],
        cache_entries: usize,
    ) -> Result<(), DataflowError> {
        for (i, op) in self.ops.iter_mut().enumerate() {
            let prefix = u8::try_from(i + 1)
                .ok()
                .filter(|p| *p < 0xe0)
                .ok_or_else(|| DataflowError::Plan("too many operators in one query".into()))?;
            let mut full = base.to_vec();
            full.push(prefix);
            op.open(OperatorState::new(store.clone(), full).with_cache_entries(cache_entries))?;
        }
        Ok(())
    }

    /// Collect every operator's state changes into `batch` (the task commits it).
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        for op in &mut self.ops {
            op.on_checkpoint(batch)?;
        }
        Ok(())
    }
}
