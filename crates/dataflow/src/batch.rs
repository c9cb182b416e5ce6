//! The unit of work between operators.

use datafusion::arrow::array::{
    Array, BooleanArray, Int32Array, Int64Array, Int8Array, UInt32Array,
};
use datafusion::arrow::compute::{filter, take};
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
/// `origin`, when set, names the input record each row derives from (see [`Origins`]).
#[derive(Debug, Clone)]
pub struct Batch {
    pub data: RecordBatch,
    pub changes: Option<Int8Array>,
    pub origin: Option<Origins>,
}

/// For each row of a batch, the input record (partition and offset of the query's source
/// topic) it derives from. Unlike the ROWPARTITION/ROWOFFSET columns, which a table's
/// retraction rows take from the old row, this is the record whose arrival produced the row.
/// A query split at a repartition topic uses it to apply every input record exactly once
/// (see `sluice_dataflow::repartition`). Operators that keep rows one-to-one (filters, window
/// assignment, table upserts) carry it along; aggregations drop it.
#[derive(Debug, Clone)]
pub struct Origins {
    pub partition: Int32Array,
    pub offset: Int64Array,
}

impl Origins {
    /// The origins of the rows at `indices`.
    pub fn take(&self, indices: &UInt32Array) -> Result<Self, crate::DataflowError> {
        Ok(Self {
            partition: downcast(take(&self.partition, indices, None)?)?,
            offset: downcast(take(&self.offset, indices, None)?)?,
        })
    }

    /// The origins of the rows `mask` keeps.
    pub fn filter(&self, mask: &BooleanArray) -> Result<Self, crate::DataflowError> {
        Ok(Self {
            partition: downcast(filter(&self.partition, mask)?)?,
            offset: downcast(filter(&self.offset, mask)?)?,
        })
    }
}

fn downcast<T: Array + Clone + 'static>(
    a: datafusion::arrow::array::ArrayRef,
) -> Result<T, crate::DataflowError> {
    a.as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| crate::DataflowError::Plan("unexpected origin array type".into()))
}

impl Batch {
    /// A batch of inserts.
    pub fn inserts(data: RecordBatch) -> Self {
        Self {
            data,
            changes: None,
            origin: None,
        }
    }

    /// Rows `offset..offset + len` (zero-copy).
    pub fn slice(&self, offset: usize, len: usize) -> Self {
        Self {
            data: self.data.slice(offset, len),
            changes: self.changes.as_ref().map(|c| c.slice(offset, len)),
            origin: self.origin.as_ref().map(|o| Origins {
                partition: o.partition.slice(offset, len),
                offset: o.offset.slice(offset, len),
            }),
        }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    /// The rows' event time, if the batch carries one: see [`event_time_index`].
    pub fn rowtime(&self) -> Option<&Int64Array> {
        event_time_index(self.data.schema_ref())
            .and_then(|i| self.data.column(i).as_any().downcast_ref::<Int64Array>())
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

/// Where a row's event time is in `schema`: in rows a join produced, the last join's result
/// time ([`JOIN_ROWTIME`](crate::ops::JOIN_ROWTIME): the later of the joined rows' times, as
/// ksqlDB stamps a join's result), else the ROWTIME column. The ROWTIME columns of joined rows
/// keep their own side's time (`l.ROWTIME`).
pub fn event_time_index(schema: &datafusion::arrow::datatypes::Schema) -> Option<usize> {
    schema
        .fields()
        .iter()
        .rposition(|f| f.name() == crate::ops::JOIN_ROWTIME)
        .or_else(|| schema.index_of(ROWTIME).ok())
}
