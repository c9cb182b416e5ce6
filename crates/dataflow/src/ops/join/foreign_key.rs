//! Foreign-key table–table joins: the left table's rows find the right table's row whose
//! primary key their join expression names.

use datafusion::arrow::array::Array;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use sluice_state::WriteBatch;

use super::{decode_row, join_keys, key_converter, JoinSpec, JoinType, Side};
use crate::ops::chunks::{compact_keyed, current_row, finish_input, Chunks, Output, RowRef};
use crate::state::{KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError};

const LEFT_ROWS: u8 = b'l';
const RIGHT_ROWS: u8 = b'r';
const INDEX: u8 = b'i';

/// A left row: the foreign key it had (Arrow row format; empty when null) and where it is.
type LeftRow = (Vec<u8>, RowRef);

fn encode_left(chunks: &Chunks, row: &LeftRow) -> Result<Vec<u8>, DataflowError> {
    let mut out = (row.0.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&row.0);
    out.extend_from_slice(&chunks.encode(row.1)?);
    Ok(out)
}

fn decode_left(chunks: &mut Chunks, bytes: &[u8]) -> Result<LeftRow, DataflowError> {
    let bad = || DataflowError::StateFormat("truncated foreign-key join row".into());
    let n = u32::from_be_bytes(
        bytes
            .get(..4)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    ) as usize;
    let fk = bytes.get(4..4 + n).ok_or_else(bad)?.to_vec();
    let row = decode_row(&bytes[4 + n..])?;
    Ok((fk, (chunks.push_rows(std::iter::once(row.as_slice()))?, 0)))
}

/// Index entry of a left row under its foreign key: the key's length, the key, the left key.
fn index_key(fk: &[u8], lk: &[u8]) -> Vec<u8> {
    let mut k = (fk.len() as u32).to_be_bytes().to_vec();
    k.extend_from_slice(fk);
    k.extend_from_slice(lk);
    k
}

/// A foreign-key table–table join (Kafka Streams' KTable–KTable foreign-key join, as ksqlDB
/// uses it; INNER and LEFT). The result is keyed by the left table's primary key:
///
/// * a left upsert emits its row joined with the right row its foreign key names (LEFT: with
///   nulls when there is none; INNER: nothing, or a tombstone when the previous version of the
///   row had a result); a left tombstone emits a tombstone;
/// * a right change emits, for every left row whose foreign key names it, the new joined row
///   (a right tombstone: a tombstone for INNER, the left row null-padded for LEFT);
/// * results carry the time of the change that caused them.
///
/// State: both tables' rows, kept in the Arrow batches they arrived in ([`Chunks`]) with the
/// keyed state pointing into them, and an index of left keys by foreign key. The output of a
/// whole input batch is gathered with one `interleave` per column.
pub struct ForeignKeyJoin {
    spec: JoinSpec,
    converter: RowConverter,
    left_key: RowConverter,
    left_pk: Vec<usize>,
    chunks: [Chunks; 2],
    left: KeyedState<LeftRow>,
    right: KeyedState<RowRef>,
    index: KeyedState<Vec<ScalarValue>>,
}

impl ForeignKeyJoin {
    /// `left_pk`: the left table's primary key columns.
    pub fn new(spec: JoinSpec, left_pk: Vec<usize>) -> Result<Self, DataflowError> {
        let left_key = RowConverter::new(
            left_pk
                .iter()
                .map(|i| SortField::new(spec.left_schema.field(*i).data_type().clone()))
                .collect(),
        )?;
        Ok(Self {
            converter: key_converter(&spec)?,
            left_key,
            left_pk,
            chunks: [
                Chunks::new(spec.left_schema.clone()),
                Chunks::new(spec.right_schema.clone()),
            ],
            spec,
            left: KeyedState::new(LEFT_ROWS),
            right: KeyedState::new(RIGHT_ROWS),
            index: KeyedState::new(INDEX),
        })
    }

    /// Short description for EXPLAIN.
    pub fn name(&self) -> String {
        self.spec.describe("ForeignKeyJoin")
    }

    pub fn open(&mut self, state: OperatorState) {
        self.left.open(state.clone());
        self.right.open(state.clone());
        self.index.open(state);
    }

    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        let [lc, rc] = &self.chunks;
        self.left.checkpoint(batch, |row| encode_left(lc, row))?;
        self.right.checkpoint(batch, |row| rc.encode(*row))?;
        self.index.checkpoint(batch, super::encode_row)?;
        // Evicted entries leave their rows behind in the chunks.
        self.compact()
    }

    fn left_row(&mut self, lk: &[u8]) -> Result<Option<LeftRow>, DataflowError> {
        let chunks = &mut self.chunks[0];
        Ok(self
            .left
            .peek_or_load(lk, |bytes| decode_left(chunks, bytes))?
            .cloned())
    }

    fn right_row(&mut self, fk: &[u8]) -> Result<Option<RowRef>, DataflowError> {
        current_row(&mut self.right, &mut self.chunks[1], fk)
    }

    /// Changes of one table (upserts, and `Delete` tombstones).
    pub fn process(&mut self, side: Side, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let mut out = Output::default();
        let times = batch.rowtime().cloned();
        let time = |i: usize| times.as_ref().map(|t| t.value(i)).unwrap_or(0);
        let chunk = self.chunks[side.index()].push(batch.data.clone());
        let mut kept = false;
        match side {
            Side::Left => {
                let (fk_col, fks) =
                    join_keys(&self.spec, Side::Left, &self.converter, &batch.data)?;
                let pk_cols: Vec<_> = self
                    .left_pk
                    .iter()
                    .map(|i| batch.data.column(*i).clone())
                    .collect();
                let lks = self.left_key.convert_columns(&pk_cols)?;
                for i in 0..batch.num_rows() {
                    if pk_cols.iter().any(|c| c.is_null(i)) {
                        continue;
                    }
                    let lk = lks.row(i).as_ref().to_vec();
                    let old = self.left_row(&lk)?;
                    let had_result = match &old {
                        Some((fk, _)) if !fk.is_empty() => {
                            self.index.remove(&index_key(fk, &lk));
                            self.right_row(fk)?.is_some()
                        }
                        _ => false,
                    };
                    if batch.change(i) == ChangeKind::Delete {
                        self.left.remove(&lk);
                        if let Some((_, row)) = old {
                            out.push(Some(row), None, time(i), ChangeKind::Delete, i);
                        }
                        continue;
                    }
                    let row = (chunk, i as u32);
                    let fk = if fk_col.is_null(i) {
                        Vec::new()
                    } else {
                        fks.row(i).as_ref().to_vec()
                    };
                    if !fk.is_empty() {
                        self.index.insert(index_key(&fk, &lk), Vec::new());
                    }
                    let right = if fk.is_empty() {
                        None
                    } else {
                        self.right_row(&fk)?
                    };
                    self.left.insert(lk, (fk, row));
                    kept = true;
                    match (right, self.spec.join_type) {
                        (Some(r), _) => {
                            out.push(Some(row), Some(r), time(i), ChangeKind::Insert, i)
                        }
                        (None, JoinType::Left) => {
                            out.push(Some(row), None, time(i), ChangeKind::Insert, i)
                        }
                        (None, _) if had_result => {
                            out.push(Some(row), None, time(i), ChangeKind::Delete, i)
                        }
                        (None, _) => {}
                    }
                }
            }
            Side::Right => {
                let (key_col, keys) =
                    join_keys(&self.spec, Side::Right, &self.converter, &batch.data)?;
                for i in 0..batch.num_rows() {
                    if key_col.is_null(i) {
                        continue;
                    }
                    let rk = keys.row(i).as_ref().to_vec();
                    let new = if batch.change(i) == ChangeKind::Delete {
                        self.right.remove(&rk);
                        None
                    } else {
                        let row = (chunk, i as u32);
                        self.right.insert(rk.clone(), row);
                        kept = true;
                        Some(row)
                    };
                    let start = index_key(&rk, &[]);
                    let mut end = start.clone();
                    end.extend_from_slice(&[0xff; 64]);
                    let mut lks: Vec<Vec<u8>> = self
                        .index
                        .keys_in_range(&start, &end)?
                        .into_iter()
                        .map(|k| k[start.len()..].to_vec())
                        .collect();
                    lks.sort();
                    for lk in lks {
                        let Some((_, left)) = self.left_row(&lk)? else {
                            continue;
                        };
                        let change = match (new, self.spec.join_type) {
                            (Some(_), _) | (None, JoinType::Left) => ChangeKind::Insert,
                            (None, _) => ChangeKind::Delete,
                        };
                        out.push(Some(left), new, time(i), change, i);
                    }
                }
            }
        }
        let input = (side.index(), chunk, kept);
        let result = finish_input(out, &self.spec, &mut self.chunks, input, batch)?;
        self.compact()?;
        Ok(result)
    }

    /// Compacts each side's chunks once most of their rows are no longer referenced.
    fn compact(&mut self) -> Result<(), DataflowError> {
        let [lc, rc] = &mut self.chunks;
        let (left, right) = (&mut self.left, &mut self.right);
        lc.compact(|f| {
            left.retain(|_, (_, r)| {
                f(r);
                true
            })
        })?;
        compact_keyed(rc, right)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use datafusion::physical_expr::expressions::Column;
    use std::sync::Arc;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    /// Left rows (K, LV = the foreign key as text, ROWTIME); right rows keyed by K.
    fn fk_join(join_type: JoinType) -> (JoinOp, Batch, Batch) {
        let mut spec = spec(JoinKind::ForeignKey { left_pk: vec![0] }, join_type);
        spec.left_keys = vec![Arc::new(
            datafusion::physical_expr::expressions::CastExpr::new(
                Arc::new(Column::new("LV", 1)),
                datafusion::arrow::datatypes::DataType::Int64,
                None,
            ),
        )];
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let j = JoinOp::new(spec).unwrap();
        (
            j,
            rows(
                &l,
                &[(1, Some("7"), 1), (2, Some("7"), 2), (3, Some("8"), 3)],
            ),
            rows(&r, &[(7, Some("seven"), 4)]),
        )
    }

    #[test]
    fn right_changes_reach_every_left_row_that_names_them() {
        let (mut j, left, right) = fk_join(JoinType::Inner);
        assert!(j.process(Side::Left, &left).unwrap().is_none());
        let out = j.process(Side::Right, &right).unwrap();
        assert_eq!(
            show(&out),
            vec![
                (s("7"), s("seven"), 4, false),
                (s("7"), s("seven"), 4, false)
            ]
        );
        // Row 1 moves to a key without a right row: its result is deleted.
        let l = rows(&left.data.schema(), &[(1, Some("8"), 5)]);
        assert_eq!(
            show(&j.process(Side::Left, &l).unwrap()),
            vec![(s("8"), None, 5, true)]
        );
        let r = rows(&right.data.schema(), &[(7, None, 6)]);
        assert_eq!(
            show(&j.process(Side::Right, &r).unwrap()),
            vec![(s("7"), None, 6, true)]
        );
    }

    #[test]
    fn left_join_keeps_left_rows_without_a_match() {
        let (mut j, left, right) = fk_join(JoinType::Left);
        assert_eq!(show(&j.process(Side::Left, &left).unwrap()).len(), 3);
        j.process(Side::Right, &right).unwrap();
        let r = rows(&right.data.schema(), &[(7, None, 6)]);
        assert_eq!(
            show(&j.process(Side::Right, &r).unwrap()),
            vec![(s("7"), None, 6, false), (s("7"), None, 6, false)]
        );
        let l = rows(&left.data.schema(), &[(3, None, 7)]);
        assert_eq!(
            show(&j.process(Side::Left, &l).unwrap()),
            vec![(s("8"), None, 7, true)]
        );
    }
}
