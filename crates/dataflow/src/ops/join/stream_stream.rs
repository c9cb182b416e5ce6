//! Stream–stream joins: rows of either stream meet the other stream's rows of the same key
//! within the join window.

use std::collections::BTreeSet;

use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use sluice_state::WriteBatch;

use super::{
    assemble, decode_row, encode_row, join_keys, key_converter, row_values, JoinSpec, JoinWindow,
    Joined, Side,
};
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

/// A row to emit: the side of `row`, the other side's row, the time, the input row that
/// emitted it.
type Emitted = (Side, Vec<ScalarValue>, Option<Vec<ScalarValue>>, i64, usize);

/// One side's rows of a key: (time, row), in time order.
type Buffered = Vec<(i64, Vec<ScalarValue>)>;

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
pub struct StreamStreamJoin {
    spec: JoinSpec,
    window: JoinWindow,
    converter: RowConverter,
    buffers: [KeyedState<Buffered>; 2],
    /// Outer rows without a partner yet (GRACE PERIOD only), keyed by (time, side, join key)
    /// as Kafka Streams keys them (so a second row of the same side, key and time replaces the
    /// first), with an ordered index in memory.
    pending: KeyedState<Vec<ScalarValue>>,
    pending_index: BTreeSet<Vec<u8>>,
    /// Newest time seen on the left, on the right, and on both (the join's stream time).
    times: [i64; 3],
    times_state: KeyedState<Vec<ScalarValue>>,
    since_sweep: usize,
}

fn encode_buffered(rows: &mut Buffered) -> Result<Vec<u8>, DataflowError> {
    let mut out = Vec::new();
    out.extend_from_slice(&(rows.len() as u32).to_be_bytes());
    for (t, row) in rows.iter() {
        out.extend_from_slice(&t.to_be_bytes());
        let bytes = sluice_functions::aggregate::state_codec::encode(row);
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

fn decode_buffered(bytes: &[u8]) -> Result<Buffered, DataflowError> {
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
    Ok(rows)
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

impl StreamStreamJoin {
    pub fn new(spec: JoinSpec, window: JoinWindow) -> Result<Self, DataflowError> {
        Ok(Self {
            converter: key_converter(&spec)?,
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
        self.pending.checkpoint(batch, encode_row)?;
        for b in &mut self.buffers {
            b.checkpoint(batch, encode_buffered)?;
        }
        Ok(())
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
        let mut out: Vec<Emitted> = Vec::new();
        for i in 0..batch.num_rows() {
            if key_col.is_null(i) {
                continue;
            }
            let key = keys.row(i).as_ref().to_vec();
            let ts = times.value(i);
            let row = row_values(&batch.data, i)?;
            // The row's own side keeps it while it is within that side's retention.
            self.times[s] = self.times[s].max(ts);
            let horizon = self.times[s].saturating_sub(retention);
            if ts > horizon {
                let buf = self.buffers[s].get_or_insert_with(&key, decode_buffered, Vec::new)?;
                buf.retain(|(t, _)| *t > horizon);
                let at = buf.partition_point(|(t, _)| *t <= ts);
                buf.insert(at, (ts, row.clone()));
            }
            self.times[2] = self.times[2].max(ts);
            if deferred && ts == self.times[2] {
                self.emit_closed(&mut out, i)?;
            }
            let from = ts.saturating_sub(before).max(0);
            let to = ts.saturating_add(after).max(0);
            let other_horizon = self.times[o].saturating_sub(retention);
            let matches: Vec<(i64, Vec<ScalarValue>)> =
                match self.buffers[o].peek_or_load(&key, decode_buffered)? {
                    Some(b) => b
                        .iter()
                        .filter(|(t, _)| *t >= from && *t <= to && *t > other_horizon)
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                };
            if matches.is_empty() {
                if keeps {
                    if !deferred || to < self.times[2] {
                        out.push((side, row, None, ts, i));
                    } else {
                        let k = pending_key(ts, side, &key);
                        self.pending.insert(k.clone(), row);
                        self.pending_index.insert(k);
                    }
                }
                continue;
            }
            for (t, other) in matches {
                if deferred {
                    let k = pending_key(t, side.other(), &key);
                    if self.pending_index.remove(&k) {
                        self.pending.remove(&k);
                    }
                }
                out.push((side, row.clone(), Some(other), ts.max(t), i));
            }
        }
        self.since_sweep += batch.num_rows();
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.sweep();
        }
        let joined: Vec<Joined<'_>> = out
            .iter()
            .map(|(side, row, other, time, input_row)| {
                let (left, right) = match side {
                    Side::Left => (Some(row.as_slice()), other.as_deref()),
                    Side::Right => (other.as_deref(), Some(row.as_slice())),
                };
                Joined {
                    left,
                    right,
                    time: *time,
                    change: ChangeKind::Insert,
                    input_row: *input_row,
                }
            })
            .collect();
        assemble(&self.spec, &joined, batch)
    }

    /// Emits the waiting outer rows whose window has closed.
    fn emit_closed(
        &mut self,
        out: &mut Vec<Emitted>,
        input_row: usize,
    ) -> Result<(), DataflowError> {
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
            let side = if k.get(8) == Some(&1) {
                Side::Left
            } else {
                Side::Right
            };
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
            if let Some(row) = self.pending.peek_or_load(&k, decode_row)?.cloned() {
                out.push((side, row, None, t, input_row));
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
}
