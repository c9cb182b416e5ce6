//! Stream–table joins: each stream row meets the table's current row for its join key.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use datafusion::physical_expr::PhysicalExpr;
use sluice_functions::aggregate::state_codec;
use sluice_state::WriteBatch;

use crate::state::{KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError};

/// Sub-prefix of the table's rows in the join's store.
const ROWS: u8 = b'r';

/// What a stream–table join needs, built by the planner once per query.
#[derive(Debug, Clone)]
pub struct StreamTableJoinSpec {
    /// The join expression over the stream's rows.
    pub left_key: Arc<dyn PhysicalExpr>,
    /// The table's rows as decoded (its batch schema) and the index of its key column.
    pub right_schema: SchemaRef,
    pub right_key: usize,
    /// LEFT JOIN: stream rows without a table row are kept, with nulls for the table's columns.
    pub left_outer: bool,
    /// The joined rows: the stream's columns, then the table's.
    pub output: SchemaRef,
}

/// A stream–table join (ksqlDB's semantics, Kafka Streams' KStream–KTable join): table changes
/// update the join's copy of the table and emit nothing; each stream row is joined with the
/// table row its join key finds at that moment. A stream row whose key is null, or (INNER JOIN)
/// finds no row, is dropped.
///
/// State: the table's rows by key (in Arrow's row format), cached in memory over the task's
/// store like every keyed state.
pub struct StreamTableJoin {
    spec: StreamTableJoinSpec,
    converter: RowConverter,
    rows: KeyedState<Vec<ScalarValue>>,
}

fn decode_row(bytes: &[u8]) -> Result<Vec<ScalarValue>, DataflowError> {
    state_codec::decode(bytes).map_err(|e| DataflowError::StateFormat(e.to_string()))
}

impl StreamTableJoin {
    pub fn new(spec: StreamTableJoinSpec) -> Result<Self, DataflowError> {
        let key_type = spec.right_schema.field(spec.right_key).data_type().clone();
        Ok(Self {
            converter: RowConverter::new(vec![SortField::new(key_type)])?,
            spec,
            rows: KeyedState::new(ROWS),
        })
    }

    /// Short description for EXPLAIN.
    pub fn name(&self) -> String {
        format!(
            "StreamTableJoin: {} JOIN on {} = {}",
            if self.spec.left_outer {
                "LEFT"
            } else {
                "INNER"
            },
            self.spec.left_key,
            self.spec.right_schema.field(self.spec.right_key).name()
        )
    }

    /// Keep the table's rows in `state` from now on (restoring what it holds).
    pub fn open(&mut self, state: OperatorState) {
        self.rows.open(state);
    }

    /// Adds the table rows changed since the last checkpoint to `batch`.
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        self.rows
            .checkpoint(batch, |row| Ok(state_codec::encode(row)))
    }

    /// The table changed: upserts and tombstones (`Delete`) of its topic, as decoded.
    pub fn process_right(&mut self, batch: &Batch) -> Result<(), DataflowError> {
        let keys = self
            .converter
            .convert_columns(&[batch.data.column(self.spec.right_key).clone()])?;
        let key_col = batch.data.column(self.spec.right_key);
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key = keys.row(i).as_ref().to_vec();
            if batch.change(i) == ChangeKind::Delete {
                self.rows.remove(&key);
                continue;
            }
            let row = batch
                .data
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, i))
                .collect::<Result<Vec<_>, _>>()?;
            self.rows.insert(key, row);
        }
        Ok(())
    }

    /// Joins stream rows with the table as it is now.
    pub fn process_left(&mut self, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let n = batch.num_rows();
        let key_type = self
            .spec
            .right_schema
            .field(self.spec.right_key)
            .data_type()
            .clone();
        let mut keys = self.spec.left_key.evaluate(&batch.data)?.into_array(n)?;
        if keys.data_type() != &key_type {
            keys = cast(&keys, &key_type)?;
        }
        let rows = self.converter.convert_columns(&[keys.clone()])?;
        let width = self.spec.right_schema.fields().len();
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
                None if self.spec.left_outer && !keys.is_null(i) => {
                    for (c, f) in right.iter_mut().zip(self.spec.right_schema.fields()) {
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
        for (values, f) in right.into_iter().zip(self.spec.right_schema.fields()) {
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
    use super::*;
    use datafusion::arrow::array::Int8Array;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::Column;

    fn left_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("CUSTOMER", DataType::Utf8, true),
            Field::new("AMOUNT", DataType::Int64, true),
        ]))
    }

    fn right_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("ID", DataType::Utf8, true),
            Field::new("TIER", DataType::Utf8, true),
        ]))
    }

    fn join(left_outer: bool) -> StreamTableJoin {
        let mut fields: Vec<Field> = left_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(right_schema().fields().iter().map(|f| f.as_ref().clone()));
        StreamTableJoin::new(StreamTableJoinSpec {
            left_key: Arc::new(Column::new("CUSTOMER", 0)),
            right_schema: right_schema(),
            right_key: 0,
            left_outer,
            output: Arc::new(Schema::new(fields)),
        })
        .unwrap()
    }

    fn orders(customers: &[Option<&str>]) -> Batch {
        let n = customers.len() as i64;
        Batch::inserts(
            RecordBatch::try_new(
                left_schema(),
                vec![
                    Arc::new(StringArray::from(customers.to_vec())),
                    Arc::new(Int64Array::from_iter_values(0..n)),
                ],
            )
            .unwrap(),
        )
    }

    fn customers(rows: &[(&str, Option<&str>)]) -> Batch {
        let ids: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let tiers: Vec<Option<&str>> = rows.iter().map(|r| r.1).collect();
        let kinds: Vec<i8> = rows
            .iter()
            .map(|r| {
                if r.1.is_none() {
                    ChangeKind::Delete as i8
                } else {
                    ChangeKind::Insert as i8
                }
            })
            .collect();
        Batch {
            data: RecordBatch::try_new(
                right_schema(),
                vec![
                    Arc::new(StringArray::from(ids)),
                    Arc::new(StringArray::from(tiers)),
                ],
            )
            .unwrap(),
            changes: Some(Int8Array::from(kinds)),
            origin: None,
        }
    }

    fn tiers(b: &Batch) -> Vec<Option<String>> {
        let t = b
            .data
            .column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        t.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn inner_join_sees_the_table_as_of_each_stream_row() {
        let mut j = join(false);
        j.process_right(&customers(&[("a", Some("gold")), ("b", Some("silver"))]))
            .unwrap();
        let out = j
            .process_left(&orders(&[Some("a"), Some("c"), None, Some("b")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            tiers(&out),
            vec![Some("gold".into()), Some("silver".into())]
        );
        // An update is seen by later rows; a tombstone removes the row.
        j.process_right(&customers(&[("a", Some("platinum")), ("b", None)]))
            .unwrap();
        let out = j
            .process_left(&orders(&[Some("a"), Some("b")]))
            .unwrap()
            .unwrap();
        assert_eq!(tiers(&out), vec![Some("platinum".into())]);
    }

    #[test]
    fn left_join_keeps_unmatched_rows_with_nulls() {
        let mut j = join(true);
        j.process_right(&customers(&[("a", Some("gold"))])).unwrap();
        let out = j
            .process_left(&orders(&[Some("a"), Some("z")]))
            .unwrap()
            .unwrap();
        assert_eq!(tiers(&out), vec![Some("gold".into()), None]);
        assert_eq!(out.data.num_columns(), 4);
    }
}
