//! GROUP BY: incremental aggregation of a stream or a table changelog.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, Int8Array, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::PhysicalExpr;
use sluice_functions::aggregate::state_codec;
use sluice_state::WriteBatch;
use tracing::debug;

use crate::state::{from_sortable_i64, sortable_i64, KeyedState, OperatorState};
use crate::{Batch, ChangeKind, DataflowError, Operator};

/// Sub-prefixes of the aggregate's keys in its store.
const GROUPS: u8 = b'g';
const SESSIONS: u8 = b's';
/// Index of each session key's last session end (for expiry): sortable end, then the key.
const SESSION_ENDS: u8 = b'e';
const PENDING: u8 = b'p';
const STREAM_TIME: &[u8] = b"m";

/// How windowed groups are kept and emitted. The window bounds are two of the group columns
/// (added by [`crate::ops::WindowAssign`]).
#[derive(Debug, Clone)]
pub struct WindowPolicy {
    /// Index of WINDOWSTART among the group expressions.
    pub start_group: usize,
    /// Index of WINDOWEND among the group expressions.
    pub end_group: usize,
    /// A row whose window ended at or before stream time minus `grace_ms` is late and dropped.
    pub grace_ms: i64,
    /// Windows are forgotten once stream time passes their end by this much (at least the grace).
    pub retention_ms: i64,
    /// Distance between window starts (the size for tumbling windows; 0 for sessions).
    pub advance_ms: i64,
    /// Window size (the gap for sessions).
    pub size_ms: i64,
    /// `EMIT FINAL`: a window's result is emitted once, when the window closes (end + grace).
    pub emit_final: bool,
    /// Session windows with this inactivity gap: a row's session is found by merging the
    /// sessions of its key within the gap (the window columns of the input are the row's time).
    pub session_gap_ms: Option<i64>,
}

/// One session of a key.
struct Session {
    start: i64,
    end: i64,
    accs: Vec<Box<dyn Accumulator>>,
    /// The latest event time folded in (the session's record timestamp).
    rowtime: i64,
    last: Vec<ScalarValue>,
}

/// What the aggregation needs to run: built by the planner once per query, instantiated once
/// per task.
#[derive(Debug, Clone)]
pub struct AggregateSpec {
    /// GROUP BY expressions over the input batch.
    pub group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// The aggregate calls, in output order.
    pub aggs: Vec<Arc<AggregateFunctionExpr>>,
    /// The output: the group columns, then one column per aggregate, then ROWTIME.
    pub schema: SchemaRef,
    pub window: Option<WindowPolicy>,
    /// Emit one change per key and batch instead of one per input row
    /// (`cache.max.bytes.buffering` > 0).
    pub coalesce: bool,
}

struct Group {
    accs: Vec<Box<dyn Accumulator>>,
    /// Window end, for expiry.
    window_end: Option<i64>,
    /// The result last emitted, retracted (`UpdateBefore`) when the next one is emitted.
    last: Option<Vec<ScalarValue>>,
}

/// A result waiting for its window to close (`EMIT FINAL`).
struct Pending {
    group_values: Vec<ScalarValue>,
    agg_values: Vec<ScalarValue>,
    rowtime: i64,
}

/// Keeps one set of accumulators per group (and window) and emits, for every input row, the
/// group's new result as a table change keyed by the group columns: `UpdateBefore` with the
/// result emitted last (so that HAVING can tell a key leaving the result), then `UpdateAfter`.
/// Rows with a null grouping key are dropped, as ksqlDB drops them. Input rows marked `UpdateBefore` are retracted, `Delete` markers are ignored (their
/// retraction came as `UpdateBefore`).
///
/// State: groups are cached in memory over the task's store ([`KeyedState`], tag `g`; keys are
/// the window end, when windowed, then the group columns in Arrow's row format, so expired
/// windows are one range delete), sessions per key (tag `s`), EMIT FINAL results waiting for
/// their window to close (tag `p`, all in memory), and stream time (`m`). Accumulators are
/// stored as their `state()` values ([`state_codec`]) and restored with `merge_batch`.
pub struct Aggregate {
    spec: AggregateSpec,
    converter: RowConverter,
    groups: KeyedState<Group>,
    /// Largest event time seen (Kafka Streams' stream time).
    stream_time: i64,
    stream_time_dirty: bool,
    /// EMIT FINAL: results by (window end, group key), emitted when the window closes.
    pending: BTreeMap<(i64, Vec<u8>), Pending>,
    pending_dirty: HashSet<(i64, Vec<u8>)>,
    pending_removed: HashSet<(i64, Vec<u8>)>,
    late_dropped: u64,
    /// Session windows: the sessions of each key (the group columns without the window).
    sessions: KeyedState<Vec<Session>>,
    session_ends: KeyedState<()>,
    session_converter: Option<RowConverter>,
    state: Option<OperatorState>,
    /// Windows ending before this were removed from the store already.
    expired_below: i64,
}

impl Aggregate {
    pub fn new(spec: AggregateSpec) -> Result<Self, DataflowError> {
        let fields: Vec<SortField> = spec
            .schema
            .fields()
            .iter()
            .take(spec.group_exprs.len())
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        let session_converter = match &spec.window {
            Some(w) if w.session_gap_ms.is_some() => {
                Some(RowConverter::new(fields[..w.start_group].to_vec())?)
            }
            _ => None,
        };
        Ok(Self {
            session_converter,
            sessions: KeyedState::new(SESSIONS),
            session_ends: KeyedState::new(SESSION_ENDS),
            converter: RowConverter::new(fields)?,
            spec,
            groups: KeyedState::new(GROUPS),
            stream_time: i64::MIN,
            stream_time_dirty: false,
            pending: BTreeMap::new(),
            pending_dirty: HashSet::new(),
            pending_removed: HashSet::new(),
            late_dropped: 0,
            state: None,
            expired_below: i64::MIN,
        })
    }

    /// EMIT FINAL: `values` become the pending result of `key`'s window ending at `end`,
    /// emitted when the window closes. The window's time is the newest of its rows' (Kafka
    /// Streams' window store timestamp).
    fn hold_until_close(
        &mut self,
        end: i64,
        key: Vec<u8>,
        group_values: Vec<ScalarValue>,
        agg_values: Vec<ScalarValue>,
        ts: i64,
    ) {
        let k = (end, key);
        if self.state.is_some() {
            self.pending_removed.remove(&k);
            self.pending_dirty.insert(k.clone());
        }
        let rowtime = self.pending.get(&k).map_or(ts, |p| p.rowtime.max(ts));
        self.pending.insert(
            k,
            Pending {
                group_values,
                agg_values,
                rowtime,
            },
        );
    }

    /// Whether row `i` counts, in arrival order: deletes never do (their retraction came as
    /// an update-before); a new row moves stream time on; a row of a closed window is late
    /// and dropped, as is a row whose grouping key (window bounds aside) is null. Returns the
    /// row's window end (`Some(None)` when not windowed).
    fn admit(
        &mut self,
        batch: &Batch,
        i: usize,
        group_cols: &[ArrayRef],
        times: Option<&Int64Array>,
        ends: Option<&Int64Array>,
    ) -> Option<Option<i64>> {
        let kind = batch.change(i);
        if kind == ChangeKind::Delete {
            return None;
        }
        if kind != ChangeKind::UpdateBefore {
            self.advance_stream_time(row_time(times, i));
        }
        let window = self.spec.window.as_ref();
        let window_end = match (window, ends) {
            (Some(w), Some(ends)) => {
                let end = ends.value(i);
                if end <= self.stream_time.saturating_sub(w.grace_ms) {
                    self.late_dropped += 1;
                    debug!(
                        target: "sluice::processing_log",
                        window_end = end,
                        stream_time = self.stream_time,
                        "dropped a record for a closed window"
                    );
                    return None;
                }
                Some(end)
            }
            _ => None,
        };
        if group_cols
            .iter()
            .enumerate()
            .any(|(g, c)| c.is_null(i) && window.is_none_or(|w| g < w.start_group))
        {
            // ksqlDB drops rows whose grouping key is null.
            debug!(
                target: "sluice::processing_log",
                row = i,
                "dropped a record with a null grouping key"
            );
            return None;
        }
        Some(window_end)
    }

    fn advance_stream_time(&mut self, ts: i64) {
        if ts > self.stream_time {
            self.stream_time = ts;
            self.stream_time_dirty = true;
        }
    }

    /// Rows dropped because their window had closed.
    pub fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    fn new_group(&self, window_end: Option<i64>) -> Result<Group, DataflowError> {
        let accs = self
            .spec
            .aggs
            .iter()
            .map(|a| a.create_accumulator())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Group {
            accs,
            window_end,
            last: None,
        })
    }

    fn output(
        &self,
        group_cols: &[ArrayRef],
        indices: Vec<u32>,
        agg_values: Vec<Vec<ScalarValue>>,
        rowtimes: Vec<i64>,
    ) -> Result<RecordBatch, DataflowError> {
        let indices = UInt32Array::from(indices);
        let mut columns: Vec<ArrayRef> = group_cols
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<Result<_, _>>()?;
        let n_groups = group_cols.len();
        for (a, values) in agg_values.into_iter().enumerate() {
            let field = self.spec.schema.field(n_groups + a);
            columns.push(scalars_to_array(values, field.data_type())?);
        }
        columns.push(Arc::new(Int64Array::from(rowtimes)));
        Ok(RecordBatch::try_new(self.spec.schema.clone(), columns)?)
    }

    /// Session windows (streams only): each row joins, and merges, the sessions of its key
    /// within the gap; merged-away sessions are deleted (tombstones) before the merged session's
    /// new result, as Kafka Streams emits them.
    fn process_sessions(&mut self, batch: &Batch) -> Result<Vec<Batch>, DataflowError> {
        let w = self.spec.window.clone().expect("session policy");
        let gap = w.session_gap_ms.unwrap_or(0);
        let n = batch.num_rows();
        let (group_cols, args) = self.evaluate_inputs(batch)?;
        let keys = self
            .session_converter
            .as_ref()
            .expect("session converter")
            .convert_columns(&group_cols[..w.start_group])?;
        let times = batch.rowtime().cloned();
        let mut out: Vec<(Vec<ScalarValue>, Vec<ScalarValue>, i64, ChangeKind)> = Vec::new();
        for i in 0..n {
            if batch.change(i) != ChangeKind::Insert {
                continue;
            }
            if group_cols[..w.start_group].iter().any(|c| c.is_null(i)) {
                continue;
            }
            let ts = row_time(times.as_ref(), i);
            self.advance_stream_time(ts);
            // Kafka Streams' session close time: a session ending before it cannot grow any
            // more (a record that could extend it would itself be late).
            let close = self
                .stream_time
                .saturating_sub(w.grace_ms)
                .saturating_sub(gap);
            let key = keys.row(i).as_ref().to_vec();
            let spec = &self.spec;
            let sessions =
                self.sessions
                    .get_or_insert_with(&key, |b| decode_sessions(spec, b), Vec::new)?;
            // Sessions past the store's retention are gone before they can merge (Kafka
            // Streams' session store: ends at or below stream time minus retention).
            let horizon = self
                .stream_time
                .saturating_sub(w.retention_ms.max(w.grace_ms));
            let old_last_end = sessions.iter().map(|s| s.end).max();
            sessions.retain(|s| s.end > horizon);
            let (merged, kept): (Vec<Session>, Vec<Session>) = std::mem::take(sessions)
                .into_iter()
                .partition(|s| s.end >= ts - gap && s.start <= ts + gap);
            *sessions = kept;
            let start = merged.iter().map(|s| s.start).fold(ts, i64::min);
            let end = merged.iter().map(|s| s.end).fold(ts, i64::max);
            if end < close {
                self.late_dropped += 1;
                sessions.extend(merged);
                let last_end = sessions.iter().map(|s| s.end).max();
                reindex(&mut self.session_ends, &key, old_last_end, last_end);
                if last_end.is_none() {
                    self.sessions.remove(&key);
                }
                continue;
            }
            let key_values = group_cols[..w.start_group]
                .iter()
                .map(|c| ScalarValue::try_from_array(c, i))
                .collect::<Result<Vec<_>, _>>()?;
            let with_window = |s: i64, e: i64| {
                let mut v = key_values.clone();
                v.push(ScalarValue::Int64(Some(s)));
                v.push(ScalarValue::Int64(Some(e)));
                v
            };
            let mut accs = self
                .spec
                .aggs
                .iter()
                .map(|a| a.create_accumulator())
                .collect::<Result<Vec<_>, _>>()?;
            let mut rowtime = ts;
            for mut old in merged {
                for (acc, old_acc) in accs.iter_mut().zip(old.accs.iter_mut()) {
                    let state = old_acc
                        .state()?
                        .into_iter()
                        .map(|v| v.to_array())
                        .collect::<Result<Vec<_>, _>>()?;
                    acc.merge_batch(&state)?;
                }
                rowtime = rowtime.max(old.rowtime);
                if w.emit_final {
                    // The merged-away session's pending result goes; nothing was emitted.
                    let k = (old.end, session_key(&key, old.start));
                    self.pending.remove(&k);
                    self.pending_dirty.remove(&k);
                    if self.state.is_some() {
                        self.pending_removed.insert(k);
                    }
                    continue;
                }
                out.push((
                    with_window(old.start, old.end),
                    old.last,
                    old.rowtime,
                    ChangeKind::Delete,
                ));
            }
            for (acc, cols) in accs.iter_mut().zip(&args) {
                let slice: Vec<ArrayRef> = cols.iter().map(|c| c.slice(i, 1)).collect();
                acc.update_batch(&slice)?;
            }
            let values = evaluate_all(&mut accs)?;
            if w.emit_final {
                // EMIT FINAL: the session's result waits for the session to close.
                let k = (end, session_key(&key, start));
                if self.state.is_some() {
                    self.pending_removed.remove(&k);
                    self.pending_dirty.insert(k.clone());
                }
                self.pending.insert(
                    k,
                    Pending {
                        group_values: with_window(start, end),
                        agg_values: values.clone(),
                        rowtime,
                    },
                );
            } else {
                out.push((
                    with_window(start, end),
                    values.clone(),
                    rowtime,
                    ChangeKind::UpdateAfter,
                ));
            }
            sessions.push(Session {
                start,
                end,
                accs,
                rowtime,
                last: values,
            });
            let last_end = sessions.iter().map(|s| s.end).max();
            reindex(&mut self.session_ends, &key, old_last_end, last_end);
        }
        // Keys whose sessions all ended at or before the retention horizon are forgotten,
        // found through the index of each key's last session end (whether or not they are in
        // memory). Older sessions of keys with a live one go when the key is next seen.
        let horizon = self
            .stream_time
            .saturating_sub(w.retention_ms.max(w.grace_ms));
        let expired = self.session_ends.keys_in_range(
            &sortable_i64(i64::MIN),
            &sortable_i64(horizon.saturating_add(1)),
        )?;
        for entry in expired {
            self.sessions.remove(&entry[8..]);
            self.session_ends.remove(&entry);
        }
        if out.is_empty() {
            return Ok(Vec::new());
        }
        let kinds = Int8Array::from_iter_values(out.iter().map(|o| o.3 as i8));
        let pending = out
            .into_iter()
            .map(|(group_values, agg_values, rowtime, _)| Pending {
                group_values,
                agg_values,
                rowtime,
            })
            .collect();
        Ok(vec![Batch {
            data: self.pending_output(pending)?,
            changes: Some(kinds),
            origin: None,
        }])
    }

    /// The GROUP BY columns and each aggregate's argument columns, evaluated over the batch.
    #[allow(clippy::type_complexity)]
    fn evaluate_inputs(
        &self,
        batch: &Batch,
    ) -> Result<(Vec<ArrayRef>, Vec<Vec<ArrayRef>>), DataflowError> {
        let n = batch.num_rows();
        let eval =
            |e: &Arc<dyn PhysicalExpr>| e.evaluate(&batch.data).and_then(|v| v.into_array(n));
        let group_cols = self
            .spec
            .group_exprs
            .iter()
            .map(eval)
            .collect::<Result<Vec<_>, _>>()?;
        let args = self
            .spec
            .aggs
            .iter()
            .map(|a| {
                a.expressions()
                    .iter()
                    .map(eval)
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((group_cols, args))
    }

    fn pending_output(&self, pending: Vec<Pending>) -> Result<RecordBatch, DataflowError> {
        let n_groups = self.spec.group_exprs.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.spec.schema.fields().len());
        for g in 0..n_groups {
            let values = pending.iter().map(|p| p.group_values[g].clone()).collect();
            columns.push(scalars_to_array(
                values,
                self.spec.schema.field(g).data_type(),
            )?);
        }
        for a in 0..self.spec.aggs.len() {
            let values = pending.iter().map(|p| p.agg_values[a].clone()).collect();
            columns.push(scalars_to_array(
                values,
                self.spec.schema.field(n_groups + a).data_type(),
            )?);
        }
        columns.push(Arc::new(Int64Array::from_iter_values(
            pending.iter().map(|p| p.rowtime),
        )));
        Ok(RecordBatch::try_new(self.spec.schema.clone(), columns)?)
    }

    /// Emits (EMIT FINAL) the windows that closed, and forgets expired windows.
    fn advance(&mut self) -> Result<Vec<Batch>, DataflowError> {
        let Some(w) = self.spec.window.clone() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if w.emit_final && !self.pending.is_empty() {
            // Time windows close when their end reaches stream time minus grace; sessions when
            // their end falls below stream time minus grace and gap (Kafka Streams' rules).
            let close = self.stream_time.saturating_sub(w.grace_ms);
            let close = match w.session_gap_ms {
                Some(gap) => close.saturating_sub(gap).saturating_sub(1),
                None => close,
            };
            // A time window that left the store's retention before it closed is never emitted
            // (Kafka Streams fetches closed windows from its store, which keeps the windows
            // starting no earlier than the newest window start minus the retention).
            let oldest_start = (w.session_gap_ms.is_none() && w.advance_ms > 0).then(|| {
                let newest_start = self.stream_time.div_euclid(w.advance_ms) * w.advance_ms;
                newest_start.saturating_sub(w.retention_ms)
            });
            let mut ready = Vec::new();
            while let Some(entry) = self.pending.first_entry() {
                if entry.key().0 > close {
                    break;
                }
                let (k, v) = entry.remove_entry();
                self.pending_dirty.remove(&k);
                if self.state.is_some() {
                    self.pending_removed.insert(k);
                }
                let expired = match (oldest_start, v.group_values.get(w.start_group)) {
                    (Some(oldest), Some(ScalarValue::Int64(Some(start)))) => *start < oldest,
                    _ => false,
                };
                if !expired {
                    ready.push(v);
                }
            }
            if !ready.is_empty() {
                out.push(Batch {
                    changes: Some(Int8Array::from(vec![ChangeKind::Insert as i8; ready.len()])),
                    data: self.pending_output(ready)?,
                    origin: None,
                });
            }
        }
        let horizon = self
            .stream_time
            .saturating_sub(w.retention_ms.max(w.grace_ms));
        // Windowed group keys start with the window end: windows ending at or before the
        // horizon are one range.
        if w.session_gap_ms.is_none() && horizon > self.expired_below {
            let expired = self.groups.remove_range(
                &sortable_i64(i64::MIN),
                &sortable_i64(horizon.saturating_add(1)),
            )?;
            self.expired_below = horizon;
            if expired > 0 {
                debug!(expired, "windows expired");
            }
        }
        Ok(out)
    }
}

impl Aggregate {
    /// `process_batch` when changes are coalesced per key (`cache.max.bytes.buffering` > 0):
    /// the batch's rows are grouped by key first, each group's rows are folded into its
    /// accumulators with one `update_batch` (or `retract_batch`) per run of rows of the same
    /// direction, and each group emits once, at the place of its first row, with its last
    /// row's time. Stream time and late rows are decided row by row, in arrival order, as in
    /// the per-row path.
    fn process_coalesced(
        &mut self,
        batch: &Batch,
        group_cols: &[ArrayRef],
        args: &[Vec<ArrayRef>],
        rows: &Rows,
        times: Option<&Int64Array>,
        ends: Option<&Int64Array>,
    ) -> Result<Vec<Batch>, DataflowError> {
        let window = self.spec.window.clone();
        // Phase 1, in row order: which rows count, and each group's rows.
        let mut slots: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut groups: Vec<(Vec<u8>, Option<i64>, Vec<u32>)> = Vec::new();
        for i in 0..batch.num_rows() {
            let Some(window_end) = self.admit(batch, i, group_cols, times, ends) else {
                continue;
            };
            let key = group_key(window_end, rows.row(i).as_ref());
            let slot = match slots.get(&key) {
                Some(s) => *s,
                None => {
                    slots.insert(key.clone(), groups.len());
                    groups.push((key, window_end, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[slot].2.push(i as u32);
        }

        // Phase 2, group by group: fold the rows in, then emit once.
        let mut out_indices: Vec<u32> = Vec::new();
        let mut out_values: Vec<Vec<ScalarValue>> = vec![Vec::new(); self.spec.aggs.len()];
        let mut out_times: Vec<i64> = Vec::new();
        for (key, window_end, indices) in groups {
            let spec = &self.spec;
            let mut exists = self
                .groups
                .get_or_load(&key, |b| decode_group(spec, b))?
                .is_some();
            let mut start = 0;
            while start < indices.len() {
                let retract = batch.change(indices[start] as usize) == ChangeKind::UpdateBefore;
                let mut end = start + 1;
                while end < indices.len()
                    && (batch.change(indices[end] as usize) == ChangeKind::UpdateBefore) == retract
                {
                    end += 1;
                }
                let run = &indices[start..end];
                start = end;
                if !exists {
                    if retract {
                        // Nothing was ever added to this group: nothing to retract.
                        continue;
                    }
                    let g = self.new_group(window_end)?;
                    self.groups.insert(key.clone(), g);
                    exists = true;
                }
                let spec = &self.spec;
                let group = self
                    .groups
                    .get_or_load(&key, |b| decode_group(spec, b))?
                    .ok_or_else(|| DataflowError::Plan("group vanished".into()))?;
                let taken_indices = (run.len() > 1).then(|| UInt32Array::from(run.to_vec()));
                for (acc, cols) in group.accs.iter_mut().zip(args) {
                    let input: Vec<ArrayRef> = match &taken_indices {
                        None => cols.iter().map(|c| c.slice(run[0] as usize, 1)).collect(),
                        Some(idx) => cols
                            .iter()
                            .map(|c| take(c.as_ref(), idx, None))
                            .collect::<Result<_, _>>()?,
                    };
                    if !retract {
                        acc.update_batch(&input)?;
                    } else if acc.supports_retract_batch() {
                        acc.retract_batch(&input)?;
                    }
                }
            }
            if !exists {
                continue;
            }
            let last = *indices.last().expect("a group has rows") as usize;
            let ts = row_time(times, last);
            let spec = &self.spec;
            let group = self
                .groups
                .get_or_load(&key, |b| decode_group(spec, b))?
                .ok_or_else(|| DataflowError::Plan("group vanished".into()))?;
            let values = evaluate_all(&mut group.accs)?;
            if let (Some(w), Some(end)) = (&window, window_end) {
                if w.emit_final {
                    let group_values = group_cols
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, last))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.hold_until_close(end, key, group_values, values, ts);
                    continue;
                }
            }
            group.last = Some(values.clone());
            out_indices.push(last as u32);
            for (a, v) in values.into_iter().enumerate() {
                out_values[a].push(v);
            }
            out_times.push(ts);
        }
        let mut out = Vec::new();
        if !out_indices.is_empty() {
            let kinds = Int8Array::from(vec![ChangeKind::UpdateAfter as i8; out_indices.len()]);
            out.push(Batch {
                data: self.output(group_cols, out_indices, out_values, out_times)?,
                changes: Some(kinds),
                origin: None,
            });
        }
        out.extend(self.advance()?);
        Ok(out)
    }
}

impl Aggregate {
    /// EMIT FINAL over time windows: the batch in pieces such that windows close, and leave the
    /// store's retention, between pieces exactly as they would record by record (a window's
    /// end, and the newest window start, move only at multiples of the advance). One piece
    /// otherwise.
    fn final_chunks(&self, batch: &Batch) -> Vec<(usize, usize)> {
        let n = batch.num_rows();
        let w = match &self.spec.window {
            Some(w) if w.emit_final && w.session_gap_ms.is_none() && w.advance_ms > 0 => w,
            _ => return vec![(0, n)],
        };
        let times = batch.rowtime();
        let epoch = |st: i64| {
            let close = st.saturating_sub(w.grace_ms);
            (
                close.saturating_sub(w.size_ms).div_euclid(w.advance_ms),
                st.div_euclid(w.advance_ms),
            )
        };
        let mut st = self.stream_time;
        let mut current = epoch(st);
        let mut chunks = Vec::new();
        let mut start = 0;
        for i in 0..n {
            if batch.change(i) == ChangeKind::UpdateBefore {
                continue;
            }
            st = st.max(row_time(times, i));
            let e = epoch(st);
            if e != current {
                // Row i moves time on: the rows before it form a piece, closed after them.
                if i > start {
                    chunks.push((start, i - start));
                    start = i;
                }
                current = e;
            }
        }
        chunks.push((start, n - start));
        chunks
    }

    fn process_rows(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let n = batch.num_rows();
        let (group_cols, args) = self.evaluate_inputs(&batch)?;
        let rows = self.converter.convert_columns(&group_cols)?;
        let times: Option<Int64Array> = batch.rowtime().cloned();
        let window = self.spec.window.clone();
        let window_cols = window.as_ref().map(|w| {
            (
                group_cols[w.start_group]
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .cloned(),
                group_cols[w.end_group]
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .cloned(),
            )
        });

        if self.spec.coalesce {
            let ends = window_cols.as_ref().and_then(|(_, e)| e.as_ref());
            return self.process_coalesced(&batch, &group_cols, &args, &rows, times.as_ref(), ends);
        }

        let mut out_indices: Vec<u32> = Vec::new();
        let mut out_values: Vec<Vec<ScalarValue>> = vec![Vec::new(); self.spec.aggs.len()];
        let mut out_times: Vec<i64> = Vec::new();
        let mut out_kinds: Vec<i8> = Vec::new();

        let ends = window_cols.as_ref().and_then(|(_, e)| e.clone());
        for i in 0..n {
            let kind = batch.change(i);
            let ts = row_time(times.as_ref(), i);
            let Some(window_end) =
                self.admit(&batch, i, &group_cols, times.as_ref(), ends.as_ref())
            else {
                continue;
            };
            let key = group_key(window_end, rows.row(i).as_ref());
            let spec = &self.spec;
            let group = match self.groups.get_or_load(&key, |b| decode_group(spec, b))? {
                Some(g) => g,
                None => {
                    if kind == ChangeKind::UpdateBefore {
                        // Nothing was ever added to this group: nothing to retract.
                        continue;
                    }
                    let g = self.new_group(window_end)?;
                    self.groups.insert(key.clone(), g)
                }
            };
            for (acc, cols) in group.accs.iter_mut().zip(&args) {
                let slice: Vec<ArrayRef> = cols.iter().map(|c| c.slice(i, 1)).collect();
                if kind == ChangeKind::UpdateBefore {
                    if acc.supports_retract_batch() {
                        acc.retract_batch(&slice)?;
                    }
                } else {
                    acc.update_batch(&slice)?;
                }
            }
            // A retraction immediately followed by the new version of a row in the same group
            // is one update: emit once, after both.
            if kind == ChangeKind::UpdateBefore
                && i + 1 < n
                && batch.change(i + 1) == ChangeKind::UpdateAfter
                && group_key(
                    window_cols
                        .as_ref()
                        .and_then(|(_, e)| e.as_ref())
                        .map(|e| e.value(i + 1)),
                    rows.row(i + 1).as_ref(),
                ) == key
            {
                continue;
            }
            let values = evaluate_all(&mut group.accs)?;
            if let (Some(w), Some(end)) = (&window, window_end) {
                if w.emit_final {
                    let group_values = group_cols
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.hold_until_close(end, key, group_values, values, ts);
                    continue;
                }
            }
            let previous = group.last.replace(values.clone());
            if let Some(previous) = previous {
                out_indices.push(i as u32);
                for (a, v) in previous.into_iter().enumerate() {
                    out_values[a].push(v);
                }
                out_times.push(ts);
                out_kinds.push(ChangeKind::UpdateBefore as i8);
            }
            out_kinds.push(ChangeKind::UpdateAfter as i8);
            out_indices.push(i as u32);
            for (a, v) in values.into_iter().enumerate() {
                out_values[a].push(v);
            }
            out_times.push(ts);
        }

        let mut out = Vec::new();
        if !out_indices.is_empty() {
            out.push(Batch {
                data: self.output(&group_cols, out_indices, out_values, out_times)?,
                changes: Some(Int8Array::from(out_kinds)),
                origin: None,
            });
        }
        out.extend(self.advance()?);
        Ok(out)
    }
}

/// An array of `data_type` from scalars (all nulls when there are none of that type).
fn scalars_to_array(
    values: Vec<ScalarValue>,
    data_type: &datafusion::arrow::datatypes::DataType,
) -> Result<ArrayRef, DataflowError> {
    if values.is_empty() {
        return Ok(datafusion::arrow::array::new_empty_array(data_type));
    }
    let array = ScalarValue::iter_to_array(values)?;
    if array.data_type() != data_type {
        return Ok(datafusion::arrow::compute::cast(&array, data_type)?);
    }
    Ok(array)
}

impl Operator for Aggregate {
    fn name(&self) -> String {
        let groups: Vec<String> = self
            .spec
            .group_exprs
            .iter()
            .map(|e| e.to_string())
            .collect();
        let aggs: Vec<String> = self
            .spec
            .aggs
            .iter()
            .map(|a| a.name().to_string())
            .collect();
        let mut s = format!(
            "Aggregate: group by [{}], aggregates [{}]",
            groups.join(", "),
            aggs.join(", ")
        );
        if let Some(w) = &self.spec.window {
            s.push_str(&format!(
                ", grace {}ms, retention {}ms{}",
                w.grace_ms,
                w.retention_ms,
                if w.emit_final { ", emit final" } else { "" }
            ));
        }
        s
    }

    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        if self.session_converter.is_some() {
            let mut out = self.process_sessions(&batch)?;
            out.extend(self.advance()?);
            return Ok(out);
        }
        let chunks = self.final_chunks(&batch);
        if chunks.len() > 1 {
            let mut out = Vec::new();
            for (offset, len) in chunks {
                out.extend(self.process_rows(batch.slice(offset, len))?);
            }
            return Ok(out);
        }
        self.process_rows(batch)
    }

    fn on_watermark(&mut self, watermark_ms: i64) -> Result<Vec<Batch>, DataflowError> {
        self.advance_stream_time(watermark_ms);
        self.advance()
    }

    fn open(&mut self, state: OperatorState) -> Result<(), DataflowError> {
        if let Some(b) = state.get(STREAM_TIME)? {
            self.stream_time = from_sortable_i64(&b)
                .ok_or_else(|| DataflowError::StateFormat("malformed stream time".into()))?;
            // Everything below the horizon was deleted by the checkpoints that moved past it.
            if let Some(w) = &self.spec.window {
                self.expired_below = self
                    .stream_time
                    .saturating_sub(w.retention_ms.max(w.grace_ms));
            }
        }
        let n = self.spec.group_exprs.len();
        for (k, v) in state.scan_prefix(&[PENDING])? {
            let end = from_sortable_i64(&k[1..])
                .ok_or_else(|| DataflowError::StateFormat("malformed pending key".into()))?;
            let mut values = decode_values(&v)?;
            let rowtime = match values.pop() {
                Some(ScalarValue::Int64(Some(t))) => t,
                _ => return Err(DataflowError::StateFormat("malformed pending row".into())),
            };
            if values.len() < n {
                return Err(DataflowError::StateFormat("malformed pending row".into()));
            }
            let agg_values = values.split_off(n);
            self.pending.insert(
                (end, k[9..].to_vec()),
                Pending {
                    group_values: values,
                    agg_values,
                    rowtime,
                },
            );
        }
        self.groups.open(state.clone());
        self.sessions.open(state.clone());
        self.session_ends.open(state.clone());
        self.state = Some(state);
        Ok(())
    }

    fn on_checkpoint(&mut self, batch: &mut WriteBatch) -> Result<(), DataflowError> {
        let Some(state) = self.state.clone() else {
            return Ok(());
        };
        if self.stream_time_dirty {
            state.put(batch, STREAM_TIME, sortable_i64(self.stream_time).to_vec());
            self.stream_time_dirty = false;
        }
        let pending_key = |(end, key): &(i64, Vec<u8>)| {
            let mut k = vec![PENDING];
            k.extend_from_slice(&sortable_i64(*end));
            k.extend_from_slice(key);
            k
        };
        for k in self.pending_removed.drain() {
            state.delete(batch, &pending_key(&k));
        }
        for k in self.pending_dirty.drain() {
            if let Some(p) = self.pending.get(&k) {
                let mut values = p.group_values.clone();
                values.extend(p.agg_values.iter().cloned());
                values.push(ScalarValue::Int64(Some(p.rowtime)));
                state.put(batch, &pending_key(&k), state_codec::encode(&values));
            }
        }
        self.groups.checkpoint(batch, encode_group)?;
        self.sessions.checkpoint(batch, encode_sessions)?;
        self.session_ends.checkpoint(batch, |_| Ok(Vec::new()))?;
        Ok(())
    }
}

/// A row's event time (0 when it has none).
fn row_time(times: Option<&Int64Array>, i: usize) -> i64 {
    times
        .filter(|t| !t.is_null(i))
        .map(|t| t.value(i))
        .unwrap_or(0)
}

/// A group's key in the store: the window end (sortable) when windowed, then the group row.
/// Every accumulator's current result.
fn evaluate_all(accs: &mut [Box<dyn Accumulator>]) -> Result<Vec<ScalarValue>, DataflowError> {
    Ok(accs
        .iter_mut()
        .map(|a| a.evaluate())
        .collect::<Result<_, _>>()?)
}

/// Moves `key`'s entry in the index of last session ends from `old` to `new`.
fn reindex(index: &mut KeyedState<()>, key: &[u8], old: Option<i64>, new: Option<i64>) {
    if old == new {
        return;
    }
    let entry = |end: i64| {
        let mut k = sortable_i64(end).to_vec();
        k.extend_from_slice(key);
        k
    };
    if let Some(old) = old {
        index.remove(&entry(old));
    }
    if let Some(new) = new {
        index.insert(entry(new), ());
    }
}

/// A session's key among the pending results: its group key, then its start.
fn session_key(key: &[u8], start: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 8);
    k.extend_from_slice(key);
    k.extend_from_slice(&sortable_i64(start));
    k
}

fn group_key(window_end: Option<i64>, row: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(row.len() + 8);
    if let Some(end) = window_end {
        k.extend_from_slice(&sortable_i64(end));
    }
    k.extend_from_slice(row);
    k
}

fn decode_values(bytes: &[u8]) -> Result<Vec<ScalarValue>, DataflowError> {
    state_codec::decode(bytes).map_err(|e| DataflowError::StateFormat(e.to_string()))
}

fn malformed(what: &str) -> DataflowError {
    DataflowError::StateFormat(format!("malformed {what}"))
}

/// Appends each accumulator's state, preceded by its length.
fn encode_accs(
    accs: &mut [Box<dyn Accumulator>],
    out: &mut Vec<ScalarValue>,
) -> Result<(), DataflowError> {
    for acc in accs {
        let state = acc.state()?;
        out.push(ScalarValue::UInt32(Some(state.len() as u32)));
        out.extend(state);
    }
    Ok(())
}

/// New accumulators with the states read from `values` merged in.
fn decode_accs(
    spec: &AggregateSpec,
    values: &mut std::vec::IntoIter<ScalarValue>,
) -> Result<Vec<Box<dyn Accumulator>>, DataflowError> {
    let mut accs = Vec::with_capacity(spec.aggs.len());
    for agg in &spec.aggs {
        let mut acc = agg.create_accumulator()?;
        let len = match values.next() {
            Some(ScalarValue::UInt32(Some(n))) => n as usize,
            _ => return Err(malformed("accumulator state")),
        };
        let state = values
            .by_ref()
            .take(len)
            .map(|v| v.to_array())
            .collect::<Result<Vec<_>, _>>()?;
        if state.len() != len {
            return Err(malformed("accumulator state"));
        }
        acc.merge_batch(&state)?;
        accs.push(acc);
    }
    Ok(accs)
}

fn encode_group(g: &mut Group) -> Result<Vec<u8>, DataflowError> {
    let mut values = vec![
        ScalarValue::Int64(g.window_end),
        ScalarValue::Boolean(Some(g.last.is_some())),
    ];
    if let Some(last) = &g.last {
        values.extend(last.iter().cloned());
    }
    encode_accs(&mut g.accs, &mut values)?;
    Ok(state_codec::encode(&values))
}

fn decode_group(spec: &AggregateSpec, bytes: &[u8]) -> Result<Group, DataflowError> {
    let mut values = decode_values(bytes)?.into_iter();
    let window_end = match values.next() {
        Some(ScalarValue::Int64(end)) => end,
        _ => return Err(malformed("group")),
    };
    let last = match values.next() {
        Some(ScalarValue::Boolean(Some(true))) => {
            let last: Vec<ScalarValue> = values.by_ref().take(spec.aggs.len()).collect();
            if last.len() != spec.aggs.len() {
                return Err(malformed("group"));
            }
            Some(last)
        }
        Some(ScalarValue::Boolean(Some(false))) => None,
        _ => return Err(malformed("group")),
    };
    let accs = decode_accs(spec, &mut values)?;
    Ok(Group {
        accs,
        window_end,
        last,
    })
}

fn encode_sessions(list: &mut Vec<Session>) -> Result<Vec<u8>, DataflowError> {
    let mut values = vec![ScalarValue::UInt32(Some(list.len() as u32))];
    for s in list.iter_mut() {
        values.push(ScalarValue::Int64(Some(s.start)));
        values.push(ScalarValue::Int64(Some(s.end)));
        values.push(ScalarValue::Int64(Some(s.rowtime)));
        values.extend(s.last.iter().cloned());
        encode_accs(&mut s.accs, &mut values)?;
    }
    Ok(state_codec::encode(&values))
}

fn decode_sessions(spec: &AggregateSpec, bytes: &[u8]) -> Result<Vec<Session>, DataflowError> {
    let mut values = decode_values(bytes)?.into_iter();
    let n = match values.next() {
        Some(ScalarValue::UInt32(Some(n))) => n as usize,
        _ => return Err(malformed("sessions")),
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut int = || match values.next() {
            Some(ScalarValue::Int64(Some(v))) => Ok(v),
            _ => Err(malformed("session")),
        };
        let (start, end, rowtime) = (int()?, int()?, int()?);
        let last: Vec<ScalarValue> = values.by_ref().take(spec.aggs.len()).collect();
        if last.len() != spec.aggs.len() {
            return Err(malformed("session"));
        }
        let accs = decode_accs(spec, &mut values)?;
        out.push(Session {
            start,
            end,
            accs,
            rowtime,
            last,
        });
    }
    Ok(out)
}
