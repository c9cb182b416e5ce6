//! A source table: upserts per primary key, tombstones delete.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int8Array, UInt32Array};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use sluice_state::WriteBatch;
use tracing::debug;

use crate::ops::chunks::{compact_keyed, current_row, Chunks, Gather, RowRef};
use crate::state::{KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError, Operator};

/// Sub-prefix of the rows in the operator's store.
const ROWS: u8 = b'r';

/// Turns a table's topic (records as decoded: inserts, and `Delete` for tombstones) into a
/// changelog: the first row of a key is an `Insert`; a later row for the key is an
/// `UpdateBefore` (the previous row) followed by an `UpdateAfter`; a tombstone for a key that
/// exists is an `UpdateBefore` followed by a `Delete` carrying the old row (with the tombstone's
/// ROWTIME). Tombstones for unknown keys and rows with a null key are dropped, as ksqlDB drops
/// them. Keeps the current row of every key (cached in memory over the task's store, keyed by
/// the key columns in Arrow's row format).
///
/// Vectorized: the rows stay in the Arrow batches they arrived in ([`Chunks`]), the keyed state
/// holds each key's (batch, row), and a batch's changes are gathered with one `interleave` per
/// column. Rows become `ScalarValue`s only on their way to and from the store.
pub struct TableUpsert {
    key_columns: Vec<usize>,
    schema: SchemaRef,
    converter: RowConverter,
    chunks: Chunks,
    rows: KeyedState<RowRef>,
    rowtime: Option<usize>,
}

impl TableUpsert {
    /// A table keyed by the columns at `key_columns` of batches with `schema`.
    pub fn new(schema: SchemaRef, key_columns: Vec<usize>) -> Result<Self, DataflowError> {
        let converter = RowConverter::new(
            key_columns
                .iter()
                .map(|i| SortField::new(schema.field(*i).data_type().clone()))
                .collect(),
        )?;
        Ok(Self {
            rowtime: crate::batch::event_time_index(&schema),
            key_columns,
            chunks: Chunks::new(schema.clone()),
            schema,
            converter,
            rows: KeyedState::new(ROWS),
        })
    }

    /// Number of keys currently held in memory.
    pub fn cached(&self) -> usize {
        self.rows.cached()
    }
}

impl Operator for TableUpsert {
    fn name(&self) -> String {
        let keys: Vec<&str> = self
            .key_columns
            .iter()
            .map(|i| self.schema.field(*i).name().as_str())
            .collect();
        format!("TableUpsert: key [{}]", keys.join(", "))
    }

    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let n = batch.num_rows();
        let key_cols: Vec<ArrayRef> = self
            .key_columns
            .iter()
            .map(|i| batch.data.column(*i).clone())
            .collect();
        let keys = self.converter.convert_columns(&key_cols)?;
        let chunk = self.chunks.push(batch.data.clone());
        let mut kept = false;
        let mut rows = Gather::default();
        let mut kinds: Vec<i8> = Vec::new();
        // The input row each output row derives from (for `Batch::origin`).
        let mut from: Vec<u32> = Vec::new();
        let mut push = |r: RowRef, kind: ChangeKind, i: usize| {
            rows.push(Some(r));
            kinds.push(kind as i8);
            from.push(i as u32);
        };
        for i in 0..n {
            // A null key is a record without key bytes: every key column null. A multi-column
            // key with some null columns is a key like any other.
            if key_cols.iter().all(|c| c.is_null(i)) {
                debug!(row = i, "table row with a null key dropped");
                continue;
            }
            let key_row = keys.row(i);
            let key = key_row.as_ref();
            let old = current_row(&mut self.rows, &mut self.chunks, key)?;
            if batch.change(i) == ChangeKind::Delete {
                if let Some(old) = old {
                    self.rows.remove(key);
                    push(old, ChangeKind::UpdateBefore, i);
                    push(old, ChangeKind::Delete, i);
                }
                continue;
            }
            let new = (chunk, i as u32);
            self.rows.insert(key.to_vec(), new);
            kept = true;
            match old {
                Some(old) => {
                    push(old, ChangeKind::UpdateBefore, i);
                    push(new, ChangeKind::UpdateAfter, i);
                }
                None => push(new, ChangeKind::Insert, i),
            }
        }
        let mut out = Vec::new();
        if !kinds.is_empty() {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
            rows.columns(&self.chunks, &self.schema, 0, &mut columns)?;
            let from = UInt32Array::from(from);
            // A tombstone's `Delete` carries the old row with the tombstone's time.
            let deletes: BooleanArray = kinds
                .iter()
                .map(|k| Some(*k == ChangeKind::Delete as i8))
                .collect();
            if let Some(rt) = self.rowtime.filter(|_| deletes.true_count() > 0) {
                let tombstone_times = take(batch.data.column(rt), &from, None)?;
                columns[rt] = zip(&deletes, &tombstone_times, &columns[rt])?;
            }
            let origin = match &batch.origin {
                Some(o) => Some(o.take(&from)?),
                None => None,
            };
            out.push(Batch {
                data: RecordBatch::try_new(self.schema.clone(), columns)?,
                changes: Some(Int8Array::from(kinds)),
                origin,
            });
        }
        if !kept {
            self.chunks.pop_unused(chunk);
        }
        compact_keyed(&mut self.chunks, &mut self.rows)?;
        Ok(out)
    }

    fn open(&mut self, state: OperatorState) -> Result<(), DataflowError> {
        self.rows.open(state);
        Ok(())
    }

    fn on_checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        let chunks = &self.chunks;
        self.rows.checkpoint(batch, |r| chunks.encode(*r))?;
        // Evicted entries leave their rows behind in the chunks.
        compact_keyed(&mut self.chunks, &mut self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use sluice_catalog::ROWTIME;
    use std::sync::Arc;

    fn batch(keys: &[&str], values: &[Option<i64>], deletes: &[bool]) -> Batch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("K", DataType::Utf8, true),
            Field::new("V", DataType::Int64, true),
            Field::new(ROWTIME, DataType::Int64, true),
        ]));
        let n = keys.len();
        let data = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(keys.to_vec())),
                Arc::new(Int64Array::from(values.to_vec())),
                Arc::new(Int64Array::from_iter_values((0..n as i64).map(|t| t * 10))),
            ],
        )
        .unwrap();
        let kinds: Vec<i8> = deletes
            .iter()
            .map(|d| if *d { ChangeKind::Delete } else { ChangeKind::Insert } as i8)
            .collect();
        Batch {
            data,
            changes: Some(Int8Array::from(kinds)),
            origin: None,
        }
    }

    #[test]
    fn upserts_and_tombstones_become_changes() {
        let b = batch(
            &["a", "a", "b", "a", "c"],
            &[Some(1), Some(2), Some(3), None, None],
            &[false, false, false, true, true],
        );
        let mut t = TableUpsert::new(b.data.schema(), vec![0]).unwrap();
        let out = t.process_batch(b).unwrap();
        let o = &out[0];
        let kinds: Vec<ChangeKind> = (0..o.num_rows()).map(|i| o.change(i)).collect();
        assert_eq!(
            kinds,
            vec![
                ChangeKind::Insert,
                ChangeKind::UpdateBefore,
                ChangeKind::UpdateAfter,
                ChangeKind::Insert,
                ChangeKind::UpdateBefore,
                ChangeKind::Delete,
            ]
        );
        let v = o
            .data
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(v.value(4), 2, "the retraction carries the old row");
        assert_eq!(v.value(5), 2, "the delete carries the old row");
        assert_eq!(
            o.rowtime().unwrap().value(5),
            30,
            "with the tombstone's time"
        );
        assert_eq!(t.cached(), 1);
    }

    #[test]
    fn rows_come_back_from_the_store() {
        use sluice_state::{MemoryStore, StateStore};
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let b = batch(&["a", "b"], &[Some(1), Some(2)], &[false, false]);
        let schema = b.data.schema();
        let mut t = TableUpsert::new(schema.clone(), vec![0]).unwrap();
        t.open(OperatorState::new(store.clone(), vec![1])).unwrap();
        t.process_batch(b).unwrap();
        let mut wb = WriteBatch::new();
        t.on_checkpoint(&mut wb).unwrap();
        store.commit(wb).unwrap();
        // A new instance over the same store (a restart) knows the rows.
        let mut t = TableUpsert::new(schema, vec![0]).unwrap();
        t.open(OperatorState::new(store, vec![1])).unwrap();
        let out = t
            .process_batch(batch(&["a", "b"], &[Some(5), None], &[false, true]))
            .unwrap();
        let kinds: Vec<ChangeKind> = (0..out[0].num_rows()).map(|i| out[0].change(i)).collect();
        assert_eq!(
            kinds,
            vec![
                ChangeKind::UpdateBefore,
                ChangeKind::UpdateAfter,
                ChangeKind::UpdateBefore,
                ChangeKind::Delete
            ]
        );
    }

    /// The V column's first two values.
    fn first_two_values(b: &Batch) -> (i64, i64) {
        let v = b
            .data
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        (v.value(0), v.value(1))
    }

    #[test]
    fn many_updates_keep_few_rows_and_survive_eviction() {
        use sluice_state::{MemoryStore, StateStore};
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let keys: Vec<String> = (0..500).map(|k| format!("k{k}")).collect();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let first = batch(&key_refs, &vec![Some(0); 500], &vec![false; 500]);
        let schema = first.data.schema();
        let open = || {
            let mut t = TableUpsert::new(schema.clone(), vec![0]).unwrap();
            t.open(OperatorState::new(store.clone(), vec![1])).unwrap();
            t.rows.set_capacity(50);
            t
        };
        let mut t = open();
        t.process_batch(first).unwrap();
        // 40 rounds of updates of every key, committed after each: values end at 40.
        for round in 1..=40i64 {
            let b = batch(&key_refs, &vec![Some(round); 500], &vec![false; 500]);
            let out = t.process_batch(b).unwrap();
            // Each key: the retraction of the previous value, then the new one.
            assert_eq!(first_two_values(&out[0]), (round - 1, round));
            let mut wb = WriteBatch::new();
            t.on_checkpoint(&mut wb).unwrap();
            store.commit(wb).unwrap();
        }
        assert!(
            t.chunks.rows() < 2 * 500 + crate::ops::chunks::MIN_COMPACTION,
            "{}",
            t.chunks.rows()
        );
        // After a restart, a tombstone retracts the last value.
        let mut t = open();
        let out = t.process_batch(batch(&["k7"], &[None], &[true])).unwrap();
        assert_eq!(first_two_values(&out[0]), (40, 40));
        assert_eq!(out[0].change(1), ChangeKind::Delete);
    }
}
