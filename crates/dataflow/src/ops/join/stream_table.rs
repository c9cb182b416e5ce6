//! Stream–table joins: each stream row meets the table's current row for its join key.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::RowConverter;
use sluice_state::WriteBatch;

use super::{join_keys, key_converter, JoinSpec, JoinType, Side};
use crate::ops::chunks::{compact_keyed, current_row, Chunks, Gather, RowRef};
use crate::state::{KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError};

/// Sub-prefix of the table's rows in the join's store.
const ROWS: u8 = b'r';

/// A stream–table join (ksqlDB's semantics, Kafka Streams' KStream–KTable join): table changes
/// update the join's copy of the table and emit nothing; each stream row is joined with the
/// table row its join key finds at that moment. A stream row whose key is null, or (INNER JOIN)
/// finds no row, is dropped. The result has the stream row's time.
///
/// Vectorized: the table's rows stay in the Arrow batches they were decoded in ([`Chunks`]); a
/// hash table (the keyed state's in-memory cache, keyed by the join key in Arrow's row format)
/// gives each key's chunk and row; a stream batch is probed key by key and its output columns
/// are gathered with Arrow's `filter` (stream side) and `interleave` (table side) kernels. The
/// store holds each key's row (written at checkpoints); rows read back from it (after a
/// restart or an eviction) join as one-row chunks.
pub struct StreamTableJoin {
    spec: JoinSpec,
    converter: RowConverter,
    rows: KeyedState<RowRef>,
    chunks: Chunks,
}

impl StreamTableJoin {
    pub fn new(spec: JoinSpec) -> Result<Self, DataflowError> {
        Ok(Self {
            converter: key_converter(&spec)?,
            chunks: Chunks::new(spec.right_schema.clone()),
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
        let chunks = &self.chunks;
        self.rows.checkpoint(batch, |r| chunks.encode(*r))?;
        // Evicted entries leave their rows behind in the chunks.
        self.compact()
    }

    /// The table changed: upserts and tombstones (`Delete`) of its topic, as decoded.
    pub fn process_right(&mut self, batch: &Batch) -> Result<(), DataflowError> {
        let (key_col, keys) = join_keys(&self.spec, Side::Right, &self.converter, &batch.data)?;
        let chunk = self.chunks.push(batch.data.clone());
        let mut used = false;
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key = keys.row(i).as_ref().to_vec();
            if batch.change(i) == ChangeKind::Delete {
                self.rows.remove(&key);
                continue;
            }
            self.rows.insert(key, (chunk, i as u32));
            used = true;
        }
        if !used {
            self.chunks.pop_unused(chunk);
        }
        self.compact()
    }

    /// Rewrites the chunks to hold only the rows the cache points to, once most are stale.
    fn compact(&mut self) -> Result<(), DataflowError> {
        compact_keyed(&mut self.chunks, &mut self.rows)
    }

    /// Joins stream rows with the table as it is now.
    pub fn process_left(&mut self, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let n = batch.num_rows();
        let (keys, rows) = join_keys(&self.spec, Side::Left, &self.converter, &batch.data)?;
        let left_outer = self.spec.join_type == JoinType::Left;
        // Each kept stream row's table row; `None`: no row (LEFT JOIN: nulls).
        let mut keep = Vec::with_capacity(n);
        let mut found = Gather::default();
        let mut any = false;
        for i in 0..n {
            let hit = if keys.is_null(i) {
                None
            } else {
                current_row(&mut self.rows, &mut self.chunks, rows.row(i).as_ref())?
            };
            let kept = hit.is_some() || (left_outer && !keys.is_null(i));
            keep.push(kept);
            if kept {
                found.push(hit);
                any = true;
            }
        }
        if !any {
            return Ok(None);
        }
        let keep = BooleanArray::from(keep);
        let left = filter_record_batch(&batch.data, &keep)?;
        let mut columns: Vec<ArrayRef> = left.columns().to_vec();
        let first = columns.len();
        found.columns(&self.chunks, &self.spec.output, first, &mut columns)?;
        // The result has the stream row's time (an earlier join's result time in n-way joins).
        let time: ArrayRef = match crate::batch::event_time_index(left.schema_ref()) {
            Some(i) => left.column(i).clone(),
            None => Arc::new(Int64Array::from(vec![0i64; left.num_rows()])),
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
    use crate::ops::chunks::{MAX_CHUNKS, MIN_COMPACTION};
    use crate::state::OperatorState;
    use sluice_state::{MemoryStore, StateStore};

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

    #[test]
    fn rows_survive_compaction_and_a_restart_from_the_store() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let spec = spec(JoinKind::StreamTable, JoinType::Inner);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec.clone()).unwrap();
        j.open(OperatorState::new(store.clone(), vec![0xe0]))
            .unwrap();
        // Many updates of few keys: the chunks fill with stale rows and get compacted.
        for round in 0..50i64 {
            let batch: Vec<(i64, Option<&str>, i64)> = (0..200)
                .map(|k| (k, Some(if round % 2 == 0 { "even" } else { "odd" }), round))
                .collect();
            j.process(Side::Right, &rows(&r, &batch)).unwrap();
            let mut b = sluice_state::WriteBatch::new();
            j.checkpoint(&mut b).unwrap();
            store.commit(b).unwrap();
        }
        let probe = rows(&l, &[(7, Some("x"), 100), (199, Some("y"), 100)]);
        let odd = vec![
            (Some("x".into()), Some("odd".into()), 100, false),
            (Some("y".into()), Some("odd".into()), 100, false),
        ];
        assert_eq!(show(&j.process(Side::Left, &probe).unwrap()), odd);
        if let JoinOp::StreamTable(t) = &j {
            assert!(
                t.chunks.rows() < 3 * 200 + MIN_COMPACTION,
                "{}",
                t.chunks.rows()
            );
        }
        // A fresh operator over the same store finds the rows there.
        let mut again = JoinOp::new(spec).unwrap();
        again.open(OperatorState::new(store, vec![0xe0])).unwrap();
        assert_eq!(show(&again.process(Side::Left, &probe).unwrap()), odd);
    }
    #[test]
    fn a_table_updated_a_row_at_a_time_keeps_few_chunks() {
        let spec = spec(JoinKind::StreamTable, JoinType::Left);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        // New keys one at a time, each followed by a probe (a table and a stream interleaved
        // in time order): every row stays live, so no row is stale, yet the chunks are merged.
        let n = 3 * MAX_CHUNKS as i64;
        for k in 0..n {
            j.process(Side::Right, &rows(&r, &[(k, Some("v"), k)]))
                .unwrap();
            let out = j
                .process(
                    Side::Left,
                    &rows(&l, &[(k, Some("s"), k), (n + k, Some("t"), k)]),
                )
                .unwrap();
            assert_eq!(
                show(&out),
                vec![
                    (Some("s".into()), Some("v".into()), k, false),
                    (Some("t".into()), None, k, false)
                ]
            );
        }
        if let JoinOp::StreamTable(t) = &j {
            assert!(t.chunks.len() <= MAX_CHUNKS + 1, "{}", t.chunks.len());
        }
        // The first key is still found after the merges.
        let out = j
            .process(Side::Left, &rows(&l, &[(0, Some("again"), n)]))
            .unwrap();
        assert_eq!(
            show(&out),
            vec![(Some("again".into()), Some("v".into()), n, false)]
        );
    }
}
