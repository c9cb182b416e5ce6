//! Stream–stream joins: rows of either stream meet the other stream's rows of the same key
//! within the join window.

use std::collections::BTreeSet;

use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use sluice_state::WriteBatch;

use super::{decode_row, encode_row, join_keys, key_converter, JoinSpec, JoinWindow, Side};
use crate::ops::chunks::{finish_input, Chunks, Output, RowRef};
use crate::state::{from_sortable_i64, sortable_i64, KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError};

/// Sub-prefixes in the join's store: each side's buffered rows, the outer rows waiting for
/// their window to close, and the stream times.
const LEFT_ROWS: u8 = b'l';
const RIGHT_ROWS: u8 = b'r';
const PENDING: u8 = b'o';
const TIMES: u8 = b't';

/// Rows buffered at most this many input rows before expired ones are swept from memory.
const SWEEP_EVERY: usize = 10_000;

/// One side's rows of a key: (time, where the row is), in time order.
type Buffered = Vec<(i64, RowRef)>;

/// A stream–stream join, as Kafka Streams' KStream–KStream join that ksqlDB uses:
///
/// * each row is buffered in its side's windowed state, unless it is older than that side's
///   newest row minus the retention (window plus grace): such late rows are not kept;
/// * a left row at `t` joins the right rows of its key in `[t - before, t + after]` (a right
///   row at `t`, the left rows in `[t - after, t + before]`) that are still retained, in time
///   order; the result's time is the later of the two;
/// * a row of an outer side (LEFT: left, RIGHT: right, FULL: both) that finds no partner is
///   emitted null-padded with its own time: at once without a GRACE PERIOD (ksqlDB's legacy
///   join windows); with one, only once its window has closed — the join's stream time (the
///   newest time of both inputs) has passed `t + after + grace` (`t + before + grace` for a
///   right row) — and only if no partner arrived meanwhile. Late rows whose window has already
///   closed are emitted at once. Waiting rows are emitted when a row at the stream time
///   arrives, in (time, right before left, key) order, before that row is joined.
/// * rows with a null key are dropped.
///
/// Vectorized: each side's rows stay in the Arrow batches they arrived in ([`Chunks`]); the
/// windowed state maps a join key (Arrow row format) to its rows' times and places; the output
/// of a whole input batch is gathered with one `interleave` per column. In the store a key's
/// rows are one entry (each row's time and values), written at checkpoints.
pub struct StreamStreamJoin {
    spec: JoinSpec,
    window: JoinWindow,
    converter: RowConverter,
    chunks: [Chunks; 2],
    buffers: [KeyedState<Buffered>; 2],
    /// Outer rows without a partner yet (GRACE PERIOD only), keyed by (time, side, join key)
    /// as Kafka Streams keys them (so a second row of the same side, key and time replaces the
    /// first), with an ordered index in memory.
    pending: KeyedState<(Side, RowRef)>,
    pending_index: BTreeSet<Vec<u8>>,
    /// Newest time seen on the left, on the right, and on both (the join's stream time).
    times: [i64; 3],
    times_state: KeyedState<Vec<ScalarValue>>,
    since_sweep: usize,
}

fn encode_buffered(chunks: &Chunks, rows: &Buffered) -> Result<Vec<u8>, DataflowError> {
    let mut out = Vec::new();
    out.extend_from_slice(&(rows.len() as u32).to_be_bytes());
    for (t, row) in rows.iter() {
        out.extend_from_slice(&t.to_be_bytes());
        let bytes = chunks.encode(*row)?;
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// A key's rows read back from the store, kept as one new chunk.
fn decode_buffered(chunks: &mut Chunks, bytes: &[u8]) -> Result<Buffered, DataflowError> {
    let bad = || DataflowError::StateFormat("truncated stream-stream join buffer".into());
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], DataflowError> {
        let s = bytes.get(at..at + n).ok_or_else(bad)?;
        at += n;
        Ok(s)
    };
    let count = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
    let mut rows = Vec::with_capacity(count);
    for _ in 0..count {
        let t = i64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?);
        let len = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
        rows.push((t, decode_row(take(len)?)?));
    }
    let c = chunks.push_rows(rows.iter().map(|(_, r)| r.as_slice()))?;
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (*t, (c, i as u32)))
        .collect())
}

/// Kafka Streams orders waiting rows by time, then the right side before the left.
fn pending_key(time: i64, side: Side, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.extend_from_slice(&sortable_i64(time));
    k.push(match side {
        Side::Right => 0,
        Side::Left => 1,
    });
    k.extend_from_slice(key);
    k
}

fn pending_side(key: &[u8]) -> Side {
    if key.get(8) == Some(&1) {
        Side::Left
    } else {
        Side::Right
    }
}

impl StreamStreamJoin {
    pub fn new(spec: JoinSpec, window: JoinWindow) -> Result<Self, DataflowError> {
        Ok(Self {
            converter: key_converter(&spec)?,
            chunks: [
                Chunks::new(spec.left_schema.clone()),
                Chunks::new(spec.right_schema.clone()),
            ],
            spec,
            window,
            buffers: [KeyedState::new(LEFT_ROWS), KeyedState::new(RIGHT_ROWS)],
            pending: KeyedState::new(PENDING),
            pending_index: BTreeSet::new(),
            times: [i64::MIN; 3],
            times_state: KeyedState::new(TIMES),
            since_sweep: 0,
        })
    }

    /// Short description for EXPLAIN.
    pub fn name(&self) -> String {
        let w = &self.window;
        let grace = match w.grace_ms {
            Some(g) => format!(", grace {g} ms"),
            None => String::new(),
        };
        format!(
            "{} within ({} ms before, {} ms after{grace})",
            self.spec.describe("StreamStreamJoin"),
            w.before_ms,
            w.after_ms
        )
    }

    /// Keep the join's state in `state` from now on (restoring what it holds).
    pub fn open(&mut self, state: OperatorState) -> Result<(), DataflowError> {
        for b in &mut self.buffers {
            b.open(state.clone());
        }
        self.pending.open(state.clone());
        self.times_state.open(state);
        self.pending_index = self
            .pending
            .keys_in_range(&[], &[0xff; 10])?
            .into_iter()
            .collect();
        if let Some(t) = self.times_state.get_or_load(b"t", decode_row)? {
            for (i, v) in t.iter().enumerate().take(3) {
                if let ScalarValue::Int64(Some(v)) = v {
                    self.times[i] = *v;
                }
            }
        }
        Ok(())
    }

    /// Adds the state changed since the last checkpoint to `batch`.
    pub fn checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        self.times_state.insert(
            b"t".to_vec(),
            self.times
                .iter()
                .map(|t| ScalarValue::Int64(Some(*t)))
                .collect(),
        );
        self.times_state.checkpoint(batch, encode_row)?;
        let chunks = &self.chunks;
        self.pending
            .checkpoint(batch, |(side, r)| chunks[side.index()].encode(*r))?;
        for (s, b) in self.buffers.iter_mut().enumerate() {
            b.checkpoint(batch, |rows| encode_buffered(&chunks[s], rows))?;
        }
        // Evicted entries leave their rows behind in the chunks.
        self.compact()
    }

    /// The other side's rows of `key` in `[from, to]` that are newer than `horizon`.
    fn partners(
        &mut self,
        side: Side,
        key: &[u8],
        (from, to): (i64, i64),
        horizon: i64,
    ) -> Result<Vec<(i64, RowRef)>, DataflowError> {
        let chunks = &mut self.chunks[side.index()];
        Ok(
            match self.buffers[side.index()]
                .peek_or_load(key, |bytes| decode_buffered(chunks, bytes))?
            {
                Some(b) => b
                    .iter()
                    .filter(|(t, _)| *t >= from && *t <= to && *t > horizon)
                    .copied()
                    .collect(),
                None => Vec::new(),
            },
        )
    }

    /// Rows of one stream; returns the joined (and null-padded) rows they release.
    pub fn process(&mut self, side: Side, batch: &Batch) -> Result<Option<Batch>, DataflowError> {
        let (key_col, keys) = join_keys(&self.spec, side, &self.converter, &batch.data)?;
        let times = batch
            .rowtime()
            .cloned()
            .ok_or_else(|| DataflowError::Plan("a joined stream has no ROWTIME".into()))?;
        let (s, o) = (side.index(), side.other().index());
        let retention = self.window.retention();
        let (before, after) = match side {
            Side::Left => (self.window.before_ms, self.window.after_ms),
            Side::Right => (self.window.after_ms, self.window.before_ms),
        };
        let keeps = self.spec.join_type.keeps(side);
        let deferred = self.window.grace_ms.is_some();
        let chunk = self.chunks[s].push(batch.data.clone());
        let mut kept = false;
        let mut out = Output::default();
        let emit = |out: &mut Output, mine: RowRef, other: Option<RowRef>, time: i64, i: usize| {
            let (l, r) = match side {
                Side::Left => (Some(mine), other),
                Side::Right => (other, Some(mine)),
            };
            out.push(l, r, time, ChangeKind::Insert, i);
        };
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key_row = keys.row(i);
            let key = key_row.as_ref();
            let ts = times.value(i);
            let row = (chunk, i as u32);
            // The row's own side keeps it while it is within that side's retention.
            self.times[s] = self.times[s].max(ts);
            let horizon = self.times[s].saturating_sub(retention);
            if ts > horizon {
                let chunks = &mut self.chunks[s];
                let buf = self.buffers[s].get_or_insert_with(
                    key,
                    |bytes| decode_buffered(chunks, bytes),
                    Vec::new,
                )?;
                buf.retain(|(t, _)| *t > horizon);
                let at = buf.partition_point(|(t, _)| *t <= ts);
                buf.insert(at, (ts, row));
                kept = true;
            }
            self.times[2] = self.times[2].max(ts);
            if deferred && ts == self.times[2] {
                self.emit_closed(&mut out, i)?;
            }
            let from = ts.saturating_sub(before).max(0);
            let to = ts.saturating_add(after).max(0);
            let other_horizon = self.times[o].saturating_sub(retention);
            let matches = self.partners(side.other(), key, (from, to), other_horizon)?;
            if matches.is_empty() {
                if keeps {
                    if !deferred || to < self.times[2] {
                        emit(&mut out, row, None, ts, i);
                    } else {
                        let k = pending_key(ts, side, key);
                        self.pending.insert(k.clone(), (side, row));
                        self.pending_index.insert(k);
                        kept = true;
                    }
                }
                continue;
            }
            for (t, other) in matches {
                if deferred {
                    let k = pending_key(t, side.other(), key);
                    if self.pending_index.remove(&k) {
                        self.pending.remove(&k);
                    }
                }
                emit(&mut out, row, Some(other), ts.max(t), i);
            }
        }
        self.since_sweep += batch.num_rows();
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.sweep();
        }
        let result = finish_input(out, &self.spec, &mut self.chunks, (s, chunk, kept), batch)?;
        self.compact()?;
        Ok(result)
    }

    /// Emits the waiting outer rows whose window has closed.
    fn emit_closed(&mut self, out: &mut Output, input_row: usize) -> Result<(), DataflowError> {
        let grace = self.window.grace();
        let now = self.times[2];
        let mut closed = Vec::new();
        for k in &self.pending_index {
            let Some(t) = from_sortable_i64(k) else {
                continue;
            };
            if t.saturating_add(self.window.after_ms.min(self.window.before_ms)) + grace >= now {
                break; // every later row's window is open too
            }
            let side = pending_side(k);
            let lookback = match side {
                Side::Left => self.window.after_ms,
                Side::Right => self.window.before_ms,
            };
            if t.saturating_add(lookback) + grace < now {
                closed.push((k.clone(), side, t));
            }
        }
        for (k, side, t) in closed {
            self.pending_index.remove(&k);
            let chunks = &mut self.chunks[side.index()];
            let found = self.pending.peek_or_load(&k, |bytes| {
                let row = decode_row(bytes)?;
                Ok((
                    side,
                    (chunks.push_rows(std::iter::once(row.as_slice()))?, 0),
                ))
            })?;
            if let Some((_, row)) = found.copied() {
                match side {
                    Side::Left => out.push(Some(row), None, t, ChangeKind::Insert, input_row),
                    Side::Right => out.push(None, Some(row), t, ChangeKind::Insert, input_row),
                }
            }
            self.pending.remove(&k);
        }
        Ok(())
    }

    /// Drops expired rows from the buffers held in memory.
    fn sweep(&mut self) {
        let retention = self.window.retention();
        for s in 0..2 {
            let horizon = self.times[s].saturating_sub(retention);
            self.buffers[s].retain(|_, rows| {
                rows.retain(|(t, _)| *t > horizon);
                !rows.is_empty()
            });
        }
    }

    /// Compacts each side's chunks once most of their rows are no longer referenced.
    fn compact(&mut self) -> Result<(), DataflowError> {
        let Self {
            chunks,
            buffers,
            pending,
            ..
        } = self;
        for (s, (chunks, buffers)) in chunks.iter_mut().zip(buffers.iter_mut()).enumerate() {
            chunks.compact(|f| {
                buffers.retain(|_, rows| {
                    rows.iter_mut().for_each(|(_, r)| f(r));
                    true
                });
                pending.retain(|_, (side, r)| {
                    if side.index() == s {
                        f(r);
                    }
                    true
                });
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;

    fn window(ms: i64, grace: Option<i64>) -> JoinKind {
        JoinKind::StreamStream(JoinWindow {
            before_ms: ms,
            after_ms: ms,
            grace_ms: grace,
        })
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn inner_join_matches_within_the_window_at_the_later_time() {
        let spec = spec(window(10, None), JoinType::Inner);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        assert!(j
            .process(Side::Left, &rows(&l, &[(1, Some("a"), 0)]))
            .unwrap()
            .is_none());
        let out = j
            .process(
                Side::Right,
                &rows(
                    &r,
                    &[(1, Some("x"), 10), (1, Some("y"), 11), (2, Some("z"), 5)],
                ),
            )
            .unwrap();
        // 11 is outside the window of the left row at 0; key 2 has no partner.
        assert_eq!(show(&out), vec![(s("a"), s("x"), 10, false)]);
        // A late left row still meets the retained right rows.
        let out = j
            .process(Side::Left, &rows(&l, &[(1, Some("b"), 3)]))
            .unwrap();
        assert_eq!(
            show(&out),
            vec![(s("b"), s("x"), 10, false), (s("b"), s("y"), 11, false)]
        );
    }

    #[test]
    fn outer_rows_without_grace_are_emitted_at_once() {
        let spec = spec(window(10, None), JoinType::Full);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        let out = j
            .process(Side::Right, &rows(&r, &[(1, Some("x"), 9)]))
            .unwrap();
        assert_eq!(show(&out), vec![(None, s("x"), 9, false)]);
        let out = j
            .process(Side::Left, &rows(&l, &[(1, Some("a"), 10)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("a"), s("x"), 10, false)]);
    }

    #[test]
    fn outer_rows_with_grace_wait_for_the_window_to_close() {
        let spec = spec(window(10, Some(5)), JoinType::Left);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        // a@0 finds no partner: it waits; b@2 gets one before its window closes.
        assert!(j
            .process(
                Side::Left,
                &rows(&l, &[(1, Some("a"), 0), (2, Some("b"), 2)])
            )
            .unwrap()
            .is_none());
        let out = j
            .process(Side::Right, &rows(&r, &[(2, Some("y"), 4)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("b"), s("y"), 4, false)]);
        // Stream time 15 does not close a@0 (0 + 10 + 5 >= 15); 16 does, before c is joined.
        assert!(j
            .process(Side::Right, &rows(&r, &[(9, Some("q"), 15)]))
            .unwrap()
            .is_none());
        let out = j
            .process(Side::Left, &rows(&l, &[(3, Some("c"), 16)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("a"), None, 0, false)]);
        // A row whose window closed already is emitted at once.
        let out = j
            .process(Side::Left, &rows(&l, &[(4, Some("late"), 1)]))
            .unwrap();
        assert_eq!(show(&out), vec![(s("late"), None, 1, false)]);
    }

    #[test]
    fn rows_older_than_the_retention_are_not_kept() {
        let spec = spec(window(10, Some(0)), JoinType::Inner);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec).unwrap();
        j.process(
            Side::Left,
            &rows(&l, &[(5, Some("new"), 100), (1, Some("old"), 50)]),
        )
        .unwrap();
        // Left retention is 20: the row at 50 was not kept, so a right row at 50 finds nothing.
        assert!(j
            .process(Side::Right, &rows(&r, &[(1, Some("x"), 50)]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn buffered_rows_survive_eviction_compaction_and_a_restart() {
        use crate::state::OperatorState;
        use sluice_state::{MemoryStore, StateStore};
        use std::sync::Arc;

        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let spec = spec(window(100_000, Some(0)), JoinType::Inner);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let open = |capacity: usize| {
            let mut j = StreamStreamJoin::new(
                spec.clone(),
                match spec.kind {
                    JoinKind::StreamStream(w) => w,
                    _ => unreachable!(),
                },
            )
            .unwrap();
            j.open(OperatorState::new(store.clone(), vec![0xe0]))
                .unwrap();
            for b in &mut j.buffers {
                b.set_capacity(capacity);
            }
            j
        };
        let commit = |j: &mut StreamStreamJoin| {
            let mut b = sluice_state::WriteBatch::new();
            j.checkpoint(&mut b).unwrap();
            store.commit(b).unwrap();
        };
        let mut j = open(50);
        // 3000 left rows in batches of 100, 3 per key; only 50 keys stay in memory.
        let names: Vec<String> = (0..3000).map(|i| format!("l{i}")).collect();
        for batch in 0..30 {
            let rows_: Vec<(i64, Option<&str>, i64)> = (batch * 100..batch * 100 + 100)
                .map(|i| ((i % 1000) as i64, Some(names[i].as_str()), i as i64))
                .collect();
            assert!(j.process(Side::Left, &rows(&l, &rows_)).unwrap().is_none());
            commit(&mut j);
        }
        // Evicted keys' rows were unreferenced and compacted away.
        assert!(
            j.chunks[0].rows() < 2 * 50 * 3 + crate::ops::chunks::MIN_COMPACTION,
            "{}",
            j.chunks[0].rows()
        );
        let probe = rows(&r, &[(7, Some("x"), 3000), (999, Some("y"), 3001)]);
        let expected = vec![
            (s("l7"), s("x"), 3000, false),
            (s("l1007"), s("x"), 3000, false),
            (s("l2007"), s("x"), 3000, false),
            (s("l999"), s("y"), 3001, false),
            (s("l1999"), s("y"), 3001, false),
            (s("l2999"), s("y"), 3001, false),
        ];
        assert_eq!(show(&j.process(Side::Right, &probe).unwrap()), expected);
        commit(&mut j);
        // A fresh operator over the same store finds the rows there.
        let mut again = open(50);
        let mut out = show(&again.process(Side::Right, &probe).unwrap());
        out.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(out, expected);
    }

    #[test]
    fn waiting_outer_rows_survive_a_restart() {
        use crate::state::OperatorState;
        use sluice_state::{MemoryStore, StateStore};
        use std::sync::Arc;

        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let spec = spec(window(10, Some(5)), JoinType::Full);
        let (l, r) = (spec.left_schema.clone(), spec.right_schema.clone());
        let mut j = JoinOp::new(spec.clone()).unwrap();
        j.open(OperatorState::new(store.clone(), vec![0xe0]))
            .unwrap();
        assert!(j
            .process(Side::Left, &rows(&l, &[(1, Some("a"), 0)]))
            .unwrap()
            .is_none());
        assert!(j
            .process(Side::Right, &rows(&r, &[(2, Some("b"), 1)]))
            .unwrap()
            .is_none());
        let mut b = sluice_state::WriteBatch::new();
        j.checkpoint(&mut b).unwrap();
        store.commit(b).unwrap();
        let mut again = JoinOp::new(spec).unwrap();
        again.open(OperatorState::new(store, vec![0xe0])).unwrap();
        // Stream time 20 closes both windows: right before left at different times, by time.
        let out = again
            .process(Side::Left, &rows(&l, &[(3, Some("c"), 20)]))
            .unwrap();
        assert_eq!(
            show(&out),
            vec![(s("a"), None, 0, false), (None, s("b"), 1, false)]
        );
    }

    #[test]
    fn windowed_sources_meet_on_the_window_start_unless_session_windows() {
        use datafusion::arrow::array::{Int64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        use sluice_catalog::{ROWTIME, WINDOWEND, WINDOWSTART};
        use std::sync::Arc;

        let side = |v: &str| {
            Arc::new(Schema::new(vec![
                Field::new("K", DataType::Int64, true),
                Field::new(v, DataType::Utf8, true),
                Field::new(ROWTIME, DataType::Int64, true),
                Field::new(WINDOWSTART, DataType::Int64, true),
                Field::new(WINDOWEND, DataType::Int64, true),
            ]))
        };
        // (value, window start, window end), key 1 at time 0.
        let rows = |schema: &SchemaRef, rows: &[(&str, i64, i64)]| Batch {
            data: RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(vec![1i64; rows.len()])),
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(Int64Array::from(vec![0i64; rows.len()])),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                ],
            )
            .unwrap(),
            changes: None,
            origin: None,
        };
        // (left value, right value) of each joined row.
        let show = |b: &Option<Batch>| -> Vec<(String, String)> {
            let Some(b) = b else { return Vec::new() };
            let text = |c: usize, i: usize| {
                let a = b
                    .data
                    .column(c)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap();
                a.value(i).to_string()
            };
            (0..b.num_rows())
                .map(|i| (text(1, i), text(6, i)))
                .collect()
        };
        let pair = vec![("a".to_string(), "x".to_string())];
        for (end_keyed, expected) in [(false, pair), (true, vec![])] {
            let (l, r) = (side("LV"), side("RV"));
            let mut spec = spec(window(60_000, None), JoinType::Inner);
            spec.left_schema = l.clone();
            spec.right_schema = r.clone();
            spec.output = join_output_schema(&l, &r);
            spec.windowed = true;
            spec.window_end_keyed = end_keyed;
            let mut j = JoinOp::new(spec).unwrap();
            // A 5-second hopping window [0, 5000) and a 2-second tumbling one [0, 2000) start
            // together; [1000, 6000) starts elsewhere.
            j.process(Side::Left, &rows(&l, &[("a", 0, 5000), ("b", 1000, 6000)]))
                .unwrap();
            let out = j
                .process(Side::Right, &rows(&r, &[("x", 0, 2000)]))
                .unwrap();
            assert_eq!(show(&out), expected, "window end keyed: {end_keyed}");
        }
    }
}
