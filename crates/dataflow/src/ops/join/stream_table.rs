//! Stream–table joins: each stream row meets the table's current row for its join key.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int64Array};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use sluice_catalog::ROWTIME;
use sluice_state::WriteBatch;

use super::{
    decode_row, encode_row, join_keys, key_converter, row_values, JoinSpec, JoinType, Side,
};
use crate::state::{KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError};

/// Sub-prefix of the table's rows in the join's store.
const ROWS: u8 = b'r';

/// A stream–table join (ksqlDB's semantics, Kafka Streams' KStream–KTable join): table changes
/// update the join's copy of the table and emit nothing; each stream row is joined with the
/// table row its join key finds at that moment. A stream row whose key is null, or (INNER JOIN)
/// finds no row, is dropped. The result has the stream row's time.
///
/// State: the table's rows by key (in Arrow's row format), cached in memory over the task's
/// store like every keyed state.
pub struct StreamTableJoin {
    spec: JoinSpec,
    converter: RowConverter,
    rows: KeyedState<Vec<ScalarValue>>,
}

impl StreamTableJoin {
    pub fn new(spec: JoinSpec) -> Result<Self, DataflowError> {
        Ok(Self {
            converter: key_converter(&spec)?,
            spec,
            rows: KeyedState::new(ROWS),
        })
    }

    /// Short description for EXPLAIN.
    pub fn name(&self) -> String {
        self.spec.describe("StreamTableJoin")
    }

    /// Keep the table's rows in `state` from now on (restoring what it holds).
    pub fn open(&mut self, state: OperatorState) {
        self.rows.open(state);
    }

    /// Adds the table rows changed since the last checkpoint to `batch`.
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        self.rows.checkpoint(batch, encode_row)
    }

    /// The table changed: upserts and tombstones (`Delete`) of its topic, as decoded.
    pub fn process_right(&mut self, batch: &Batch) -> Result<(), DataflowError> {
        let (key_col, keys) = join_keys(&self.spec, Side::Right, &self.converter, &batch.data)?;
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key = keys.row(i).as_ref().to_vec();
            if batch.change(i) == ChangeKind::Delete {
                self.rows.remove(&key);
                continue;
            }
            self.rows.insert(key, row_values(&batch.data, i)?);
        }
        Ok(())
    }

    /// Joins stream rows with the table as it is now.
    pub fn process_left(&mut self, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let n = batch.num_rows();
        let (keys, rows) = join_keys(&self.spec, Side::Left, &self.converter, &batch.data)?;
        let left_outer = self.spec.join_type == JoinType::Left;
        let right_schema = self.spec.right_schema.clone();
        let width = right_schema.fields().len();
        let mut keep = Vec::with_capacity(n);
        let mut right: Vec<Vec<ScalarValue>> = vec![Vec::new(); width];
        for i in 0..n {
            let found = if keys.is_null(i) {
                None
            } else {
                self.rows
                    .get_or_load(rows.row(i).as_ref(), decode_row)?
                    .map(|r| r.clone())
            };
            let kept = match found {
                Some(values) => {
                    for (c, v) in right.iter_mut().zip(values) {
                        c.push(v);
                    }
                    true
                }
                None if left_outer && !keys.is_null(i) => {
                    for (c, f) in right.iter_mut().zip(right_schema.fields()) {
                        c.push(ScalarValue::try_from(f.data_type())?);
                    }
                    true
                }
                None => false,
            };
            keep.push(kept);
        }
        let kept = keep.iter().filter(|k| **k).count();
        if kept == 0 {
            return Ok(None);
        }
        let keep = BooleanArray::from(keep);
        let left = filter_record_batch(&batch.data, &keep)?;
        let mut columns: Vec<ArrayRef> = left.columns().to_vec();
        for values in right {
            let i = columns.len();
            let f = self.spec.output.field(i);
            let a = if values.is_empty() {
                datafusion::arrow::array::new_empty_array(f.data_type())
            } else {
                ScalarValue::iter_to_array(values)?
            };
            columns.push(if a.data_type() != f.data_type() {
                cast(&a, f.data_type())?
            } else {
                a
            });
        }
        // The result has the stream row's time.
        let time: ArrayRef = match left.column_by_name(ROWTIME) {
            Some(t) => t.clone(),
            None => std::sync::Arc::new(Int64Array::from(vec![0i64; kept])),
        };
        columns.push(time);
        let data = RecordBatch::try_new(self.spec.output.clone(), columns)?;
        let origin = match &batch.origin {
            Some(o) => Some(o.filter(&keep)?),
            None => None,
        };
        Ok(Some(Batch {
            data,
            changes: None,
            origin,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;

    #[test]
    fn inner_join_sees_the_table_as_of_each_stream_row() {
        let spec = spec(JoinKind::StreamTable, JoinType::Inner);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        assert!(j
            .process(
                Side::Right,
                &rows(&r, &[(1, Some("gold"), 0), (2, Some("silver"), 0)])
            )
            .unwrap()
            .is_none());
        let out = j
            .process(
                Side::Left,
                &rows(
                    &l,
                    &[(1, Some("a"), 5), (3, Some("c"), 6), (2, Some("b"), 7)],
                ),
            )
            .unwrap();
        assert_eq!(
            show(&out),
            vec![
                (Some("a".into()), Some("gold".into()), 5, false),
                (Some("b".into()), Some("silver".into()), 7, false)
            ]
        );
        // An update is seen by later rows; a tombstone removes the row.
        j.process(
            Side::Right,
            &rows(&r, &[(1, Some("platinum"), 8), (2, None, 8)]),
        )
        .unwrap();
        let out = j
            .process(
                Side::Left,
                &rows(&l, &[(1, Some("d"), 9), (2, Some("e"), 9)]),
            )
            .unwrap();
        assert_eq!(
            show(&out),
            vec![(Some("d".into()), Some("platinum".into()), 9, false)]
        );
    }

    #[test]
    fn left_join_keeps_unmatched_rows_with_nulls() {
        let spec = spec(JoinKind::StreamTable, JoinType::Left);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        j.process(Side::Right, &rows(&r, &[(1, Some("gold"), 0)]))
            .unwrap();
        let out = j
            .process(
                Side::Left,
                &rows(&l, &[(1, Some("a"), 1), (9, Some("z"), 2)]),
            )
            .unwrap();
        assert_eq!(
            show(&out),
            vec![
                (Some("a".into()), Some("gold".into()), 1, false),
                (Some("z".into()), None, 2, false)
            ]
        );
    }
}
