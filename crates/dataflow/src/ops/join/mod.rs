//! Joins, with ksqlDB's semantics (Kafka Streams' join processors):
//!
//! * [`StreamTableJoin`]: each stream row meets the table's current row for its key; table
//!   changes update the join's copy of the table and emit nothing.
//! * [`StreamStreamJoin`]: rows of either stream meet the other stream's rows of the same key
//!   within a time window (`WITHIN`); both sides are buffered in windowed state; outer joins
//!   emit null-padded rows (at once without a `GRACE PERIOD`, once the window has closed with
//!   one).
//! * [`TableTableJoin`]: a change on either table emits the joined row for its key (or a
//!   tombstone).
//! * [`ForeignKeyJoin`]: left table rows join the right table's row their foreign key names;
//!   the result is keyed by the left table's key.
//!
//! Every join is built from one [`JoinSpec`] and driven through [`JoinOp`]: rows of the left
//! input go to `process(Side::Left, ..)`, rows of the right input to `process(Side::Right, ..)`,
//! in the order the task releases them (event time). Rows meet when all of the spec's key
//! expression pairs are equal (the ON clause's equalities). Output rows have the left input's columns,
//! then the right's, then [`JOIN_ROWTIME`], the result's timestamp as ksqlDB gives it.
//!
//! State: each join keeps its rows in [`KeyedState`](crate::state::KeyedState) caches over the
//! task's store (one operator prefix), written at checkpoints like aggregation state. The
//! caches hold references into the Arrow batches the rows arrived in (`chunks.rs`): a batch is
//! probed key by key against the hash table of the other side (the cache, keyed by the join key
//! in Arrow's row format), and its output columns are gathered with one `interleave` per
//! column. Rows are turned into `ScalarValue`s only to be written to the store at checkpoints,
//! or read back from it.

mod foreign_key;
mod stream_stream;
mod stream_table;
mod table_table;

use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::physical_expr::PhysicalExpr;
use sluice_functions::aggregate::state_codec;
use sluice_state::WriteBatch;

use crate::state::OperatorState;
use crate::{Batch, DataflowError};

pub use foreign_key::ForeignKeyJoin;
pub use stream_stream::StreamStreamJoin;
pub use stream_table::StreamTableJoin;
pub use table_table::TableTableJoin;

/// Name of the column joins append to their rows: the joined row's timestamp.
pub const JOIN_ROWTIME: &str = "__SLUICE_JOIN_ROWTIME";

/// Which input of a join a batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }
}

/// INNER, LEFT, RIGHT or FULL OUTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    Inner,
    Left,
    Right,
    Full,
}

impl JoinType {
    /// Whether rows of `side` are kept (null-padded) when they find no partner.
    pub fn keeps(self, side: Side) -> bool {
        matches!(
            (self, side),
            (JoinType::Left, Side::Left) | (JoinType::Right, Side::Right) | (JoinType::Full, _)
        )
    }

    pub fn sql(self) -> &'static str {
        match self {
            JoinType::Inner => "INNER",
            JoinType::Left => "LEFT",
            JoinType::Right => "RIGHT",
            JoinType::Full => "FULL OUTER",
        }
    }
}

/// The time window of a stream–stream join (`WITHIN`), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindow {
    /// A left row at `t` meets right rows in `[t - before, t + after]`.
    pub before_ms: i64,
    pub after_ms: i64,
    /// `GRACE PERIOD`: when set, outer-join rows without a partner wait until their window has
    /// closed (Kafka Streams' join without spurious results); when not, they are emitted at
    /// once and the grace is ksqlDB's legacy default of 24 hours.
    pub grace_ms: Option<i64>,
}

/// ksqlDB's (Kafka Streams' legacy) default grace of a join window without GRACE PERIOD.
pub const LEGACY_JOIN_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

impl JoinWindow {
    pub fn grace(&self) -> i64 {
        self.grace_ms.unwrap_or(LEGACY_JOIN_GRACE_MS)
    }

    /// How long each side's rows are kept: the window and its grace.
    pub fn retention(&self) -> i64 {
        self.before_ms + self.after_ms + self.grace()
    }
}

/// What kind of join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinKind {
    StreamTable,
    StreamStream(JoinWindow),
    /// On both tables' primary keys.
    TableTable,
    /// From an expression of the left table to the right table's primary key; `left_pk` are
    /// the left table's key columns (the result's key).
    ForeignKey {
        left_pk: Vec<usize>,
    },
}

/// What a join needs, built by the planner once per query.
#[derive(Debug, Clone)]
pub struct JoinSpec {
    pub kind: JoinKind,
    pub join_type: JoinType,
    /// The join expressions over each side's rows (as decoded, with pseudo-columns): one per
    /// equality of the ON clause (`ON a.x = b.x AND a.y = b.y` has two), in the same order on
    /// both sides. Rows meet when every pair is equal; a null in any of them meets nothing.
    pub left_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub right_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// The types each pair of keys is compared as.
    pub key_types: Vec<DataType>,
    /// Both sides are windowed sources: rows meet only within the same window (the window
    /// start is part of the join key, as in ksqlDB's windowed keys).
    pub windowed: bool,
    /// Session windows: their end is part of the key too (Kafka Streams' session keys carry
    /// both bounds, time-window keys only the start, so time windows of different sizes that
    /// start together meet).
    pub window_end_keyed: bool,
    pub left_schema: SchemaRef,
    pub right_schema: SchemaRef,
    /// The joined rows: the left side's columns, the right side's, then [`JOIN_ROWTIME`].
    pub output: SchemaRef,
}

impl JoinSpec {
    fn key_exprs(&self, side: Side) -> &[Arc<dyn PhysicalExpr>] {
        match side {
            Side::Left => &self.left_keys,
            Side::Right => &self.right_keys,
        }
    }

    fn describe(&self, what: &str) -> String {
        let on: Vec<String> = self
            .left_keys
            .iter()
            .zip(&self.right_keys)
            .map(|(l, r)| format!("{l} = {r}"))
            .collect();
        format!(
            "{what}: {} JOIN on {}",
            self.join_type.sql(),
            on.join(" AND ")
        )
    }
}

/// A join operator of any kind.
pub enum JoinOp {
    StreamTable(StreamTableJoin),
    StreamStream(StreamStreamJoin),
    TableTable(TableTableJoin),
    ForeignKey(ForeignKeyJoin),
}

impl JoinOp {
    pub fn new(spec: JoinSpec) -> Result<Self, DataflowError> {
        Ok(match spec.kind.clone() {
            JoinKind::StreamTable => JoinOp::StreamTable(StreamTableJoin::new(spec)?),
            JoinKind::StreamStream(w) => JoinOp::StreamStream(StreamStreamJoin::new(spec, w)?),
            JoinKind::TableTable => JoinOp::TableTable(TableTableJoin::new(spec)?),
            JoinKind::ForeignKey { left_pk } => {
                JoinOp::ForeignKey(ForeignKeyJoin::new(spec, left_pk)?)
            }
        })
    }

    /// Short description for EXPLAIN.
    pub fn name(&self) -> String {
        match self {
            JoinOp::StreamTable(j) => j.name(),
            JoinOp::StreamStream(j) => j.name(),
            JoinOp::TableTable(j) => j.name(),
            JoinOp::ForeignKey(j) => j.name(),
        }
    }

    /// Keep the join's state in `state` from now on (restoring what it holds).
    pub fn open(&mut self, state: OperatorState) -> Result<(), DataflowError> {
        match self {
            JoinOp::StreamTable(j) => {
                j.open(state);
                Ok(())
            }
            JoinOp::StreamStream(j) => j.open(state),
            JoinOp::TableTable(j) => {
                j.open(state);
                Ok(())
            }
            JoinOp::ForeignKey(j) => {
                j.open(state);
                Ok(())
            }
        }
    }

    /// Adds the state changed since the last checkpoint to `batch`.
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        match self {
            JoinOp::StreamTable(j) => j.checkpoint(batch),
            JoinOp::StreamStream(j) => j.checkpoint(batch),
            JoinOp::TableTable(j) => j.checkpoint(batch),
            JoinOp::ForeignKey(j) => j.checkpoint(batch),
        }
    }

    /// Rows of one input (tables: upserts and `Delete` tombstones, as decoded); returns the
    /// joined rows they produce.
    pub fn process(&mut self, side: Side, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        match self {
            JoinOp::StreamTable(j) => match side {
                Side::Left => j.process_left(batch),
                Side::Right => {
                    j.process_right(batch)?;
                    Ok(None)
                }
            },
            JoinOp::StreamStream(j) => j.process(side, batch),
            JoinOp::TableTable(j) => j.process(side, batch),
            JoinOp::ForeignKey(j) => j.process(side, batch),
        }
    }
}

/// Which rows of a batch have a null in one of their join keys (they meet no row).
pub(crate) struct KeyNulls(Option<NullBuffer>);

impl KeyNulls {
    pub(crate) fn is_null(&self, i: usize) -> bool {
        self.0.as_ref().is_some_and(|n| n.is_null(i))
    }
}

/// Join keys of a batch: the key expressions evaluated, each cast to its key type, in Arrow's
/// row format (one converter per join, so equal keys of both sides have equal bytes), and
/// which rows have a null key.
pub(crate) fn join_keys(
    spec: &JoinSpec,
    side: Side,
    converter: &RowConverter,
    batch: &RecordBatch,
) -> Result<(KeyNulls, Rows), DataflowError> {
    let n = batch.num_rows();
    let mut columns = Vec::with_capacity(spec.key_types.len() + 2);
    let mut nulls: Option<NullBuffer> = None;
    for (expr, ty) in spec.key_exprs(side).iter().zip(&spec.key_types) {
        let mut keys = expr.evaluate(batch)?.into_array(n)?;
        if keys.data_type() != ty {
            keys = cast(&keys, ty)?;
        }
        nulls = NullBuffer::union(nulls.as_ref(), keys.logical_nulls().as_ref());
        columns.push(keys);
    }
    if spec.windowed {
        let bounds = if spec.window_end_keyed {
            &[sluice_catalog::WINDOWSTART, sluice_catalog::WINDOWEND][..]
        } else {
            &[sluice_catalog::WINDOWSTART][..]
        };
        for bound in bounds {
            let c = batch.column_by_name(bound).ok_or_else(|| {
                DataflowError::Plan(format!("a windowed join input has no {bound}"))
            })?;
            columns.push(cast(c, &DataType::Int64)?);
        }
    }
    let rows = converter.convert_columns(&columns)?;
    Ok((KeyNulls(nulls), rows))
}

pub(crate) fn key_converter(spec: &JoinSpec) -> Result<RowConverter, DataflowError> {
    let mut fields: Vec<SortField> = spec.key_types.iter().cloned().map(SortField::new).collect();
    if spec.windowed {
        fields.push(SortField::new(DataType::Int64));
        if spec.window_end_keyed {
            fields.push(SortField::new(DataType::Int64));
        }
    }
    Ok(RowConverter::new(fields)?)
}

pub(crate) fn decode_row(bytes: &[u8]) -> Result<Vec<ScalarValue>, DataflowError> {
    state_codec::decode(bytes).map_err(|e| DataflowError::StateFormat(e.to_string()))
}

pub(crate) fn encode_row(row: &mut Vec<ScalarValue>) -> Result<Vec<u8>, DataflowError> {
    Ok(state_codec::encode(row))
}

/// The output schema of a join: `left` fields, `right` fields (all nullable), [`JOIN_ROWTIME`].
pub fn join_output_schema(left: &SchemaRef, right: &SchemaRef) -> SchemaRef {
    use datafusion::arrow::datatypes::{Field, Schema};
    let mut fields: Vec<Field> = left
        .fields()
        .iter()
        .chain(right.fields().iter())
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(JOIN_ROWTIME, DataType::Int64, true));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::ChangeKind;
    use datafusion::arrow::array::{Int64Array, Int8Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::physical_expr::expressions::Column;
    use sluice_catalog::ROWTIME;

    /// Sides with columns (K BIGINT, V STRING, ROWTIME).
    pub fn side_schema(value: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("K", DataType::Int64, true),
            Field::new(value, DataType::Utf8, true),
            Field::new(ROWTIME, DataType::Int64, true),
        ]))
    }

    pub fn spec(kind: JoinKind, join_type: JoinType) -> JoinSpec {
        let (l, r) = (side_schema("LV"), side_schema("RV"));
        JoinSpec {
            kind,
            join_type,
            left_keys: vec![Arc::new(Column::new("K", 0))],
            right_keys: vec![Arc::new(Column::new("K", 0))],
            key_types: vec![DataType::Int64],
            windowed: false,
            window_end_keyed: false,
            output: join_output_schema(&l, &r),
            left_schema: l,
            right_schema: r,
        }
    }

    /// A batch of one side: (key, value, time); `None` value = tombstone (Delete).
    pub fn rows(schema: &SchemaRef, rows: &[(i64, Option<&str>, i64)]) -> Batch {
        use datafusion::arrow::array::StringArray;
        let data = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap();
        let deletes = rows.iter().any(|r| r.1.is_none());
        Batch {
            data,
            changes: deletes.then(|| {
                Int8Array::from_iter_values(rows.iter().map(|r| {
                    if r.1.is_none() {
                        ChangeKind::Delete as i8
                    } else {
                        ChangeKind::Insert as i8
                    }
                }))
            }),
            origin: None,
        }
    }

    /// Output rows as (left value, right value, time, deleted).
    pub fn show(b: &Option<Batch>) -> Vec<(Option<String>, Option<String>, i64, bool)> {
        use datafusion::arrow::array::StringArray;
        let Some(b) = b else { return Vec::new() };
        let lv = b
            .data
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let rv = b
            .data
            .column(4)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let t = b
            .data
            .column(6)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        (0..b.num_rows())
            .map(|i| {
                (
                    lv.is_valid(i).then(|| lv.value(i).to_string()),
                    rv.is_valid(i).then(|| rv.value(i).to_string()),
                    t.value(i),
                    b.change(i) == ChangeKind::Delete,
                )
            })
            .collect()
    }
}
