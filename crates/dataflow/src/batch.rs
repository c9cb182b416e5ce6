//! The unit of work between operators.

use datafusion::arrow::array::{Array, Int64Array, Int8Array};
use datafusion::arrow::record_batch::RecordBatch;

use sluice_catalog::ROWTIME;

/// What a row of a batch means for the relation it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum ChangeKind {
    /// A new event (streams) or a new/updated row (tables: upsert).
    Insert = 0,
    /// The previous version of a row that is being updated (for retraction-aware operators).
    UpdateBefore = 1,
    /// The new version of a row that is being updated.
    UpdateAfter = 2,
    /// The row with this key is gone (a tombstone).
    Delete = 3,
}

/// Rows flowing between operators. `data` holds the columns plus the pseudo-columns (ROWTIME,
/// ROWPARTITION, ROWOFFSET, WINDOWSTART/WINDOWEND when windowed) by name. `changes` is `None`
/// for a batch of plain inserts (every stream batch), else one [`ChangeKind`] per row.
#[derive(Debug, Clone)]
pub struct Batch {
    pub data: RecordBatch,
    pub changes: Option<Int8Array>,
}

impl Batch {
    /// A batch of inserts.
    pub fn inserts(data: RecordBatch) -> Self {
        Self {
            data,
            changes: None,
        }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    /// The ROWTIME column, if the batch carries one.
    pub fn rowtime(&self) -> Option<&Int64Array> {
        self.data
            .column_by_name(ROWTIME)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
    }

    /// The change kind of row `i`.
    pub fn change(&self, i: usize) -> ChangeKind {
        match &self.changes {
            None => ChangeKind::Insert,
            Some(c) if c.is_null(i) => ChangeKind::Insert,
            Some(c) => match c.value(i) {
                1 => ChangeKind::UpdateBefore,
                2 => ChangeKind::UpdateAfter,
                3 => ChangeKind::Delete,
                _ => ChangeKind::Insert,
            },
        }
    }
}
