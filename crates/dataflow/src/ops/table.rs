//! A source table: upserts per primary key, tombstones delete.

use datafusion::arrow::array::{Array, ArrayRef, Int8Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use sluice_functions::aggregate::state_codec;
use sluice_state::WriteBatch;
use tracing::debug;

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
pub struct TableUpsert {
    key_columns: Vec<usize>,
    schema: SchemaRef,
    converter: RowConverter,
    rows: KeyedState<Vec<ScalarValue>>,
    rowtime: Option<usize>,
}

fn decode_row(bytes: &[u8]) -> Result<Vec<ScalarValue>, DataflowError> {
    state_codec::decode(bytes).map_err(|e| DataflowError::StateFormat(e.to_string()))
}

fn encode_row(row: &mut Vec<ScalarValue>) -> Result<Vec<u8>, DataflowError> {
    Ok(state_codec::encode(row))
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
        let width = self.schema.fields().len();
        let mut columns: Vec<Vec<ScalarValue>> = vec![Vec::new(); width];
        let mut kinds: Vec<i8> = Vec::new();
        // The input row each output row derives from (for `Batch::origin`).
        let mut from: Vec<u32> = Vec::new();
        let mut push = |row: &[ScalarValue], kind: ChangeKind, i: usize| {
            for (c, v) in columns.iter_mut().zip(row) {
                c.push(v.clone());
            }
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
            let key = keys.row(i).as_ref().to_vec();
            let row = || -> Result<Vec<ScalarValue>, DataflowError> {
                batch
                    .data
                    .columns()
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, i).map_err(Into::into))
                    .collect()
            };
            match batch.change(i) {
                ChangeKind::Delete => {
                    let old = self.rows.get_or_load(&key, decode_row)?.cloned();
                    if let Some(mut old) = old {
                        self.rows.remove(&key);
                        push(&old, ChangeKind::UpdateBefore, i);
                        if let Some(rt) = self.rowtime {
                            old[rt] = ScalarValue::try_from_array(batch.data.column(rt), i)?;
                        }
                        push(&old, ChangeKind::Delete, i);
                    }
                }
                _ => {
                    let new = row()?;
                    let old = match self.rows.get_or_load(&key, decode_row)? {
                        Some(slot) => Some(std::mem::replace(slot, new.clone())),
                        None => {
                            self.rows.insert(key, new.clone());
                            None
                        }
                    };
                    match old {
                        Some(old) => {
                            push(&old, ChangeKind::UpdateBefore, i);
                            push(&new, ChangeKind::UpdateAfter, i);
                        }
                        None => push(&new, ChangeKind::Insert, i),
                    }
                }
            }
        }
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let arrays: Vec<ArrayRef> = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(values, f)| {
                let a = ScalarValue::iter_to_array(values)?;
                if a.data_type() != f.data_type() {
                    Ok(datafusion::arrow::compute::cast(&a, f.data_type())?)
                } else {
                    Ok(a)
                }
            })
            .collect::<Result<_, DataflowError>>()?;
        let origin = match &batch.origin {
            Some(o) => Some(o.take(&datafusion::arrow::array::UInt32Array::from(from))?),
            None => None,
        };
        Ok(vec![Batch {
            data: RecordBatch::try_new(self.schema.clone(), arrays)?,
            changes: Some(Int8Array::from(kinds)),
            origin,
        }])
    }

    fn open(&mut self, state: OperatorState) -> Result<(), DataflowError> {
        self.rows.open(state);
        Ok(())
    }

    fn on_checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        self.rows.checkpoint(batch, encode_row)
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
}
