//! Table–table joins on the primary key: a change on either side emits the joined row.

use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use sluice_state::WriteBatch;

use super::{
    assemble_owned, decode_row, encode_row, join_keys, key_converter, row_time, row_values,
    JoinSpec, JoinType, OwnedJoined, Side,
};
use crate::state::{KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError};

const LEFT_ROWS: u8 = b'l';
const RIGHT_ROWS: u8 = b'r';

/// A table–table join, as Kafka Streams' KTable–KTable joins that ksqlDB uses. Each side's
/// current rows are kept by key. A change (upsert or tombstone) of a row on one side looks up
/// the other side's row of the same key and emits, with the later of the two rows' times:
///
/// * INNER: nothing when the other side has no row; else the joined row, or a tombstone when
///   the change deleted the row;
/// * LEFT / RIGHT / FULL: when the changed side is kept by the join (the left of a LEFT JOIN,
///   either of a FULL one), the joined row (the other side null-padded), or a tombstone when
///   the row was deleted and the other side has none (FULL) or always (LEFT); when the changed
///   side is the optional one, nothing if the kept side has no row, else the kept row joined
///   with the new row (null-padded when deleted).
///
/// Tombstones carry the key's last values so that the result's key can be computed.
pub struct TableTableJoin {
    spec: JoinSpec,
    converter: RowConverter,
    rows: [KeyedState<Vec<ScalarValue>>; 2],
    rowtime: [Option<usize>; 2],
}

impl TableTableJoin {
    pub fn new(spec: JoinSpec) -> Result<Self, DataflowError> {
        Ok(Self {
            converter: key_converter(&spec)?,
            rowtime: [
                crate::batch::event_time_index(&spec.left_schema),
                crate::batch::event_time_index(&spec.right_schema),
            ],
            spec,
            rows: [KeyedState::new(LEFT_ROWS), KeyedState::new(RIGHT_ROWS)],
        })
    }

    /// Short description for EXPLAIN.
    pub fn name(&self) -> String {
        self.spec.describe("TableTableJoin")
    }

    /// Keep both tables' rows in `state` from now on (restoring what it holds).
    pub fn open(&mut self, state: OperatorState) {
        for r in &mut self.rows {
            r.open(state.clone());
        }
    }

    /// Adds the rows changed since the last checkpoint to `batch`.
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        for r in &mut self.rows {
            r.checkpoint(batch, encode_row)?;
        }
        Ok(())
    }

    /// Changes of one table (upserts, and `Delete` tombstones).
    pub fn process(&mut self, side: Side, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let (key_col, keys) = join_keys(&self.spec, side, &self.converter, &batch.data)?;
        let (s, o) = (side.index(), side.other().index());
        let other_kept = self.spec.join_type.keeps(side.other());
        let mut out: Vec<OwnedJoined> = Vec::new();
        let record_times = batch.rowtime().cloned();
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key = keys.row(i).as_ref().to_vec();
            let ts = record_times.as_ref().map(|t| t.value(i)).unwrap_or(0);
            let old = self.rows[s].peek_or_load(&key, decode_row)?.cloned();
            let new = if batch.change(i) == ChangeKind::Delete {
                self.rows[s].remove(&key);
                None
            } else {
                let row = row_values(&batch.data, i)?;
                self.rows[s].insert(key.clone(), row.clone());
                Some(row)
            };
            let other = self.rows[o].peek_or_load(&key, decode_row)?.cloned();
            let time = match &other {
                Some(r) => ts.max(row_time(r, self.rowtime[o])),
                None => ts,
            };
            let emit = match (&other, self.spec.join_type) {
                // The other side is required and missing.
                (None, JoinType::Inner) => None,
                (None, _) if other_kept && !self.spec.join_type.keeps(side) => None,
                (None, _) if new.is_none() && old.is_none() => None,
                (None, _) => Some(match &new {
                    Some(_) => (new.clone(), None, ChangeKind::Insert),
                    None => (old.clone(), None, ChangeKind::Delete),
                }),
                (Some(_), _) => Some(match &new {
                    Some(_) => (new.clone(), other.clone(), ChangeKind::Insert),
                    // The other side is kept alone: it stays, null-padded.
                    None if other_kept => (None, other.clone(), ChangeKind::Insert),
                    None => (old.clone(), other.clone(), ChangeKind::Delete),
                }),
            };
            if let Some((mine, theirs, change)) = emit {
                let (left, right) = match side {
                    Side::Left => (mine, theirs),
                    Side::Right => (theirs, mine),
                };
                out.push((left, right, time, change, i));
            }
        }
        assemble_owned(&self.spec, &out, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn inner_join_emits_when_both_sides_have_the_key() {
        let spec = spec(JoinKind::TableTable, JoinType::Inner);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        assert!(j
            .process(Side::Left, &rows(&l, &[(1, Some("a"), 1)]))
            .unwrap()
            .is_none());
        let out = j
            .process(Side::Right, &rows(&r, &[(1, Some("x"), 3)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("a"), s("x"), 3, false)]);
        let out = j
            .process(Side::Left, &rows(&l, &[(1, Some("b"), 2)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("b"), s("x"), 3, false)]);
        // Deleting the right row deletes the result (the tombstone keeps the last values).
        let out = j.process(Side::Right, &rows(&r, &[(1, None, 4)])).unwrap();
        assert_eq!(show(&out), vec![(s("b"), s("x"), 4, true)]);
        assert!(j
            .process(Side::Left, &rows(&l, &[(1, Some("c"), 5)]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn left_join_keeps_left_rows_and_ignores_right_rows_alone() {
        let spec = spec(JoinKind::TableTable, JoinType::Left);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        assert!(j
            .process(Side::Right, &rows(&r, &[(2, Some("y"), 1)]))
            .unwrap()
            .is_none());
        let out = j
            .process(Side::Left, &rows(&l, &[(1, Some("a"), 2)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("a"), None, 2, false)]);
        let out = j
            .process(Side::Right, &rows(&r, &[(1, Some("x"), 3), (1, None, 4)]))
            .unwrap();
        assert_eq!(
            show(&out),
            vec![(s("a"), s("x"), 3, false), (s("a"), None, 4, false)]
        );
        let out = j.process(Side::Left, &rows(&l, &[(1, None, 5)])).unwrap();
        assert_eq!(show(&out), vec![(s("a"), None, 5, true)]);
    }

    #[test]
    fn full_join_deletes_when_both_sides_are_gone() {
        let spec = spec(JoinKind::TableTable, JoinType::Full);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        let out = j
            .process(Side::Right, &rows(&r, &[(1, Some("x"), 1)]))
            .unwrap();
        assert_eq!(show(&out), vec![(None, s("x"), 1, false)]);
        let out = j
            .process(Side::Left, &rows(&l, &[(1, Some("a"), 2), (1, None, 3)]))
            .unwrap();
        assert_eq!(
            show(&out),
            vec![(s("a"), s("x"), 2, false), (None, s("x"), 3, false)]
        );
        let out = j.process(Side::Right, &rows(&r, &[(1, None, 4)])).unwrap();
        assert_eq!(show(&out), vec![(None, s("x"), 4, true)]);
    }
}
