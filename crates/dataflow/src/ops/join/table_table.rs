//! Table–table joins on the primary key: a change on either side emits the joined row.

use datafusion::arrow::row::RowConverter;
use sluice_state::WriteBatch;

use super::{join_keys, key_converter, JoinSpec, JoinType, Side};
use crate::ops::chunks::{compact_keyed, current_row, finish_input, Chunks, Output, RowRef};
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
///
/// Vectorized: each side's rows stay in the Arrow batches they arrived in ([`Chunks`]), the
/// keyed state maps a key (Arrow row format) to its current row's place, and the output of a
/// whole input batch is gathered with one `interleave` per column. The store holds each key's
/// row, written at checkpoints.
pub struct TableTableJoin {
    spec: JoinSpec,
    converter: RowConverter,
    chunks: [Chunks; 2],
    rows: [KeyedState<RowRef>; 2],
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
            chunks: [
                Chunks::new(spec.left_schema.clone()),
                Chunks::new(spec.right_schema.clone()),
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
        for (r, chunks) in self.rows.iter_mut().zip(&self.chunks) {
            r.checkpoint(batch, |row| chunks.encode(*row))?;
        }
        // Evicted entries leave their rows behind in the chunks.
        self.compact()
    }

    /// Changes of one table (upserts, and `Delete` tombstones).
    pub fn process(&mut self, side: Side, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let (key_col, keys) = join_keys(&self.spec, side, &self.converter, &batch.data)?;
        let (s, o) = (side.index(), side.other().index());
        let other_kept = self.spec.join_type.keeps(side.other());
        let record_times = batch.rowtime().cloned();
        let chunk = self.chunks[s].push(batch.data.clone());
        let mut kept = false;
        let mut out = Output::default();
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key_row = keys.row(i);
            let key = key_row.as_ref();
            let ts = record_times.as_ref().map(|t| t.value(i)).unwrap_or(0);
            let old = current_row(&mut self.rows[s], &mut self.chunks[s], key)?;
            let new = if batch.change(i) == ChangeKind::Delete {
                self.rows[s].remove(key);
                None
            } else {
                let row = (chunk, i as u32);
                self.rows[s].insert(key.to_vec(), row);
                kept = true;
                Some(row)
            };
            let other = current_row(&mut self.rows[o], &mut self.chunks[o], key)?;
            let time = match other {
                Some(r) => ts.max(self.chunks[o].time(r, self.rowtime[o])),
                None => ts,
            };
            let emit = match (other, self.spec.join_type) {
                // The other side is required and missing.
                (None, JoinType::Inner) => None,
                (None, _) if other_kept && !self.spec.join_type.keeps(side) => None,
                (None, _) if new.is_none() && old.is_none() => None,
                (None, _) => Some(match new {
                    Some(_) => (new, None, ChangeKind::Insert),
                    None => (old, None, ChangeKind::Delete),
                }),
                (Some(_), _) => Some(match new {
                    Some(_) => (new, other, ChangeKind::Insert),
                    // The other side is kept alone: it stays, null-padded.
                    None if other_kept => (None, other, ChangeKind::Insert),
                    None => (old, other, ChangeKind::Delete),
                }),
            };
            if let Some((mine, theirs, change)) = emit {
                let (left, right) = match side {
                    Side::Left => (mine, theirs),
                    Side::Right => (theirs, mine),
                };
                out.push(left, right, time, change, i);
            }
        }
        let result = finish_input(out, &self.spec, &mut self.chunks, (s, chunk, kept), batch)?;
        self.compact()?;
        Ok(result)
    }

    /// Compacts each side's chunks once most of their rows are no longer referenced.
    fn compact(&mut self) -> Result<(), DataflowError> {
        for (chunks, rows) in self.chunks.iter_mut().zip(self.rows.iter_mut()) {
            compact_keyed(chunks, rows)?;
        }
        Ok(())
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

    #[test]
    fn rows_survive_eviction_compaction_and_a_restart() {
        use crate::state::OperatorState;
        use sluice_state::{MemoryStore, StateStore};
        use std::sync::Arc;

        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let spec = spec(JoinKind::TableTable, JoinType::Left);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let open = || {
            let mut j = TableTableJoin::new(spec.clone()).unwrap();
            j.open(OperatorState::new(store.clone(), vec![0xe0]));
            for rows in &mut j.rows {
                rows.set_capacity(100);
            }
            j
        };
        let mut j = open();
        let names: Vec<String> = (0..2000).map(|i| format!("v{i}")).collect();
        // 20 rounds of updates to keys 0..1000 (batches of 100), committed after each batch.
        for round in 0..20 {
            for batch in 0..10 {
                let side = if round % 2 == 0 { &l } else { &r };
                let rows_: Vec<(i64, Option<&str>, i64)> = (batch * 100..batch * 100 + 100)
                    .map(|k| {
                        (
                            k as i64,
                            Some(names[k + 1000 * (round % 2)].as_str()),
                            round as i64,
                        )
                    })
                    .collect();
                let which = if round % 2 == 0 {
                    Side::Left
                } else {
                    Side::Right
                };
                j.process(which, &rows(side, &rows_)).unwrap();
                let mut b = sluice_state::WriteBatch::new();
                j.checkpoint(&mut b).unwrap();
                store.commit(b).unwrap();
            }
        }
        for c in &j.chunks {
            assert!(
                c.rows() < 2 * 200 + crate::ops::chunks::MIN_COMPACTION,
                "{}",
                c.rows()
            );
        }
        // A right tombstone finds the left row (from the store) and pads it with nulls.
        let mut again = open();
        let out = again
            .process(Side::Right, &rows(&r, &[(5, None, 99)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("v5"), None, 99, false)]);
        let out = again
            .process(Side::Left, &rows(&l, &[(6, None, 100)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("v6"), s("v1006"), 100, true)]);
    }
}
