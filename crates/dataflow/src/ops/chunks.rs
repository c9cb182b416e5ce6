//! Keyed rows kept in the Arrow batches they arrived in (join sides, a table's current rows),
//! and the gathering of output rows from them.
//!
//! A join side's (or a table's) rows are not copied out of their input batch: the batch is
//! kept whole as a *chunk* and the operator's keyed state holds [`RowRef`]s (chunk, row) into
//! it. Output columns are gathered from the chunks with Arrow's `interleave` kernel, one call
//! per column for a whole input batch ([`Gather`], [`Output`] for joins). Rows read back from the store (after a restart or an
//! eviction) become small chunks of their own. Once most rows in the chunks are no longer
//! referenced (replaced, deleted, expired or evicted), the live ones are copied into one chunk
//! and every reference is rewritten ([`Chunks::compact`]).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, Array, ArrayRef, Int64Array, Int8Array};
use datafusion::arrow::compute::{cast, interleave};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;

use crate::ops::join::JoinSpec;
use crate::state::KeyedState;
use crate::{Batch, ChangeKind, DataflowError};

/// Where a row is: (chunk, row in the chunk).
pub(crate) type RowRef = (u32, u32);

/// At least this many unreferenced rows before chunks are compacted.
pub(crate) const MIN_COMPACTION: usize = 4096;

/// Chunks are also merged when there are more than this many small ones: a side fed a few rows
/// at a time (interleaved with the other input in time order) would otherwise keep one tiny
/// batch per update.
pub(crate) const MAX_CHUNKS: usize = 1024;

/// Chunks averaging fewer rows than this count as small.
const SMALL_CHUNK: usize = 64;

/// One join side's (or a table's) rows, as Arrow batches.
pub(crate) struct Chunks {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    /// Rows held in `batches`, referenced or not.
    rows: usize,
    /// Referenced rows are only counted again once `rows` reaches this.
    next_check: usize,
}

impl Chunks {
    pub(crate) fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            batches: Vec::new(),
            rows: 0,
            next_check: MIN_COMPACTION,
        }
    }

    /// Keeps `batch` (as it is); returns its chunk number.
    pub(crate) fn push(&mut self, batch: RecordBatch) -> u32 {
        self.rows += batch.num_rows();
        self.batches.push(batch);
        (self.batches.len() - 1) as u32
    }

    /// Drops chunk `c` if it is the last one (a batch none of whose rows was kept).
    pub(crate) fn pop_unused(&mut self, c: u32) {
        if self.batches.len() == c as usize + 1 {
            let b = self.batches.pop().expect("chunk exists");
            self.rows -= b.num_rows();
        }
    }

    /// Keeps rows read back from the store as one new chunk; returns its number.
    pub(crate) fn push_rows<'a>(
        &mut self,
        rows: impl Iterator<Item = &'a [ScalarValue]> + Clone,
    ) -> Result<u32, DataflowError> {
        let columns = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(c, f)| {
                let values = rows.clone().map(|r| {
                    r.get(c)
                        .cloned()
                        .map_or_else(|| ScalarValue::try_from(f.data_type()), Ok)
                });
                let values = values.collect::<Result<Vec<_>, _>>()?;
                let a = if values.is_empty() {
                    new_null_array(f.data_type(), 0)
                } else {
                    ScalarValue::iter_to_array(values)?
                };
                Ok(if a.data_type() != f.data_type() {
                    cast(&a, f.data_type())?
                } else {
                    a
                })
            })
            .collect::<Result<Vec<ArrayRef>, DataflowError>>()?;
        Ok(self.push(RecordBatch::try_new(self.schema.clone(), columns)?))
    }

    /// The chunk `c`.
    pub(crate) fn batch(&self, c: u32) -> &RecordBatch {
        &self.batches[c as usize]
    }

    /// Number of chunks.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.batches.len()
    }

    /// Rows held, referenced or not.
    #[cfg(test)]
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The row's values (for the store).
    pub(crate) fn values(&self, r: RowRef) -> Result<Vec<ScalarValue>, DataflowError> {
        self.batch(r.0)
            .columns()
            .iter()
            .map(|c| Ok(ScalarValue::try_from_array(c, r.1 as usize)?))
            .collect()
    }

    /// The row encoded for the store (the same encoding as every row of join state).
    pub(crate) fn encode(&self, r: RowRef) -> Result<Vec<u8>, DataflowError> {
        Ok(sluice_functions::aggregate::state_codec::encode(
            &self.values(r)?,
        ))
    }

    /// The row's time: its column `time` (an `Int64` ROWTIME or join time), 0 without one.
    pub(crate) fn time(&self, r: RowRef, time: Option<usize>) -> i64 {
        time.and_then(|t| {
            self.batch(r.0)
                .column(t)
                .as_any()
                .downcast_ref::<Int64Array>()
                .filter(|a| a.is_valid(r.1 as usize))
                .map(|a| a.value(r.1 as usize))
        })
        .unwrap_or(0)
    }

    /// Copies the referenced rows into one chunk once most rows are unreferenced (or the
    /// chunks are many and small). `visit` must call its argument on every reference into
    /// these chunks that is still held; the references are rewritten in place.
    pub(crate) fn compact(
        &mut self,
        mut visit: impl FnMut(&mut dyn FnMut(&mut RowRef)),
    ) -> Result<(), DataflowError> {
        let many_small =
            self.batches.len() > MAX_CHUNKS && self.rows < SMALL_CHUNK * self.batches.len();
        if self.rows < self.next_check && !many_small {
            return Ok(());
        }
        let mut live = 0usize;
        visit(&mut |_| live += 1);
        if self.rows < 2 * live + MIN_COMPACTION && !many_small {
            self.next_check = 2 * live + MIN_COMPACTION;
            return Ok(());
        }
        let mut refs: Vec<(usize, usize)> = Vec::with_capacity(live);
        visit(&mut |r| {
            refs.push((r.0 as usize, r.1 as usize));
            *r = (0, (refs.len() - 1) as u32);
        });
        let compacted = if refs.is_empty() {
            RecordBatch::new_empty(self.schema.clone())
        } else {
            let columns = (0..self.schema.fields().len())
                .map(|c| {
                    let values: Vec<&dyn Array> =
                        self.batches.iter().map(|b| b.column(c).as_ref()).collect();
                    Ok(interleave(&values, &refs)?)
                })
                .collect::<Result<Vec<_>, DataflowError>>()?;
            RecordBatch::try_new(self.schema.clone(), columns)?
        };
        self.rows = compacted.num_rows();
        self.next_check = 2 * self.rows + MIN_COMPACTION;
        self.batches = vec![compacted];
        Ok(())
    }
}

/// The row `rows` holds for `key` (one current row per key, as a table keeps them), read back
/// from the store into a one-row chunk of `chunks` if it is not in memory.
pub(crate) fn current_row(
    rows: &mut KeyedState<RowRef>,
    chunks: &mut Chunks,
    key: &[u8],
) -> Result<Option<RowRef>, DataflowError> {
    Ok(rows
        .peek_or_load(key, |bytes| {
            let row = crate::ops::join::decode_row(bytes)?;
            Ok((chunks.push_rows(std::iter::once(row.as_slice()))?, 0))
        })?
        .copied())
}

/// Compacts `chunks` against the one reference per key that `rows` holds.
pub(crate) fn compact_keyed(
    chunks: &mut Chunks,
    rows: &mut KeyedState<RowRef>,
) -> Result<(), DataflowError> {
    chunks.compact(|f| {
        rows.retain(|_, r| {
            f(r);
            true
        })
    })
}

/// The rows of one side of an output batch: references into that side's chunks, or nulls.
#[derive(Default)]
pub(crate) struct Gather {
    /// The chunks referenced, in first-use order, and each one's place in that list.
    sources: Vec<u32>,
    position: HashMap<u32, usize>,
    refs: Vec<Option<(usize, usize)>>,
}

impl Gather {
    pub(crate) fn push(&mut self, r: Option<RowRef>) {
        let at = r.map(|(c, row)| {
            let next = self.sources.len();
            let p = *self.position.entry(c).or_insert_with(|| {
                self.sources.push(c);
                next
            });
            (p, row as usize)
        });
        self.refs.push(at);
    }

    /// The side's output columns, each cast to its type in `out` (starting at field `first`).
    pub(crate) fn columns(
        &self,
        chunks: &Chunks,
        out: &SchemaRef,
        first: usize,
        columns: &mut Vec<ArrayRef>,
    ) -> Result<(), DataflowError> {
        let nulls = self.sources.len();
        let refs: Vec<(usize, usize)> = self.refs.iter().map(|r| r.unwrap_or((nulls, 0))).collect();
        for (c, f) in chunks.schema.fields().iter().enumerate() {
            let null = new_null_array(f.data_type(), 1);
            let mut values: Vec<&dyn Array> = self
                .sources
                .iter()
                .map(|&s| chunks.batch(s).column(c).as_ref())
                .collect();
            values.push(null.as_ref());
            let a = interleave(&values, &refs)?;
            let ty = out.field(first + c).data_type();
            columns.push(if a.data_type() != ty {
                cast(&a, ty)?
            } else {
                a
            });
        }
        Ok(())
    }
}

/// The joined rows one input batch produces, gathered into an output [`Batch`] at the end.
#[derive(Default)]
pub(crate) struct Output {
    left: Gather,
    right: Gather,
    times: Vec<i64>,
    changes: Vec<i8>,
    input_rows: Vec<u32>,
}

impl Output {
    /// One joined row: its left and right rows (`None`: null-padded), its time and change, and
    /// the input row whose processing emitted it (the output row's origin).
    pub(crate) fn push(
        &mut self,
        left: Option<RowRef>,
        right: Option<RowRef>,
        time: i64,
        change: ChangeKind,
        input_row: usize,
    ) {
        self.left.push(left);
        self.right.push(right);
        self.times.push(time);
        self.changes.push(change as i8);
        self.input_rows.push(input_row as u32);
    }

    /// The output batch (left columns, right columns, the join time), or `None` when no row
    /// was pushed. The chunks must still hold every row pushed (compact only afterwards).
    pub(crate) fn finish(
        self,
        spec: &JoinSpec,
        left: &Chunks,
        right: &Chunks,
        input: &Batch,
    ) -> Result<Option<Batch>, DataflowError> {
        if self.times.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(spec.output.fields().len());
        self.left.columns(left, &spec.output, 0, &mut columns)?;
        let first = columns.len();
        self.right
            .columns(right, &spec.output, first, &mut columns)?;
        columns.push(Arc::new(Int64Array::from(self.times)));
        let data = RecordBatch::try_new(spec.output.clone(), columns)?;
        let changes = if self.changes.iter().all(|c| *c == ChangeKind::Insert as i8) {
            None
        } else {
            Some(Int8Array::from(self.changes))
        };
        let origin = match &input.origin {
            Some(o) => Some(o.take(&datafusion::arrow::array::UInt32Array::from(
                self.input_rows,
            ))?),
            None => None,
        };
        Ok(Some(Batch {
            data,
            changes,
            origin,
        }))
    }
}

/// The output of an input batch whose rows were kept as chunk `chunk` of side `side` (of
/// `chunks`, the left then the right side's): gathers `out`, then drops the chunk again when
/// none of its rows was `kept`.
pub(crate) fn finish_input(
    out: Output,
    spec: &JoinSpec,
    chunks: &mut [Chunks; 2],
    (side, chunk, kept): (usize, u32, bool),
    input: &Batch,
) -> Result<Option<Batch>, DataflowError> {
    let [left, right] = &*chunks;
    let result = out.finish(spec, left, right, input)?;
    if !kept {
        chunks[side].pop_unused(chunk);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::join::test_util::side_schema;
    use datafusion::arrow::array::StringArray;

    fn values(chunks: &Chunks, r: RowRef) -> Vec<ScalarValue> {
        chunks.values(r).unwrap()
    }

    #[test]
    fn compaction_keeps_referenced_rows_and_rewrites_their_references() {
        let schema = side_schema("V");
        let mut chunks = Chunks::new(schema.clone());
        let mut refs: Vec<RowRef> = Vec::new();
        for b in 0..10i64 {
            let n = 1000;
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values((0..n).map(|i| b * n + i))),
                    Arc::new(StringArray::from_iter_values(
                        (0..n).map(|i| format!("v{}", b * n + i)),
                    )),
                    Arc::new(Int64Array::from_iter_values((0..n).map(|_| b))),
                ],
            )
            .unwrap();
            let c = chunks.push(batch);
            // Keep one row in a hundred.
            refs.extend((0..n as u32).step_by(100).map(|i| (c, i)));
        }
        let before: Vec<Vec<ScalarValue>> = refs.iter().map(|r| values(&chunks, *r)).collect();
        chunks
            .compact(|f| refs.iter_mut().for_each(|r| f(r)))
            .unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks.rows, refs.len());
        let after: Vec<Vec<ScalarValue>> = refs.iter().map(|r| values(&chunks, *r)).collect();
        assert_eq!(before, after);
        assert_eq!(chunks.time(refs[15], Some(2)), 1);
    }

    #[test]
    fn rows_from_the_store_become_a_chunk() {
        let schema = side_schema("V");
        let mut chunks = Chunks::new(schema);
        let rows = [
            vec![
                ScalarValue::Int64(Some(1)),
                ScalarValue::Utf8(Some("a".into())),
                ScalarValue::Int64(Some(7)),
            ],
            vec![
                ScalarValue::Int64(Some(2)),
                ScalarValue::Utf8(None),
                ScalarValue::Int64(Some(8)),
            ],
        ];
        let c = chunks.push_rows(rows.iter().map(|r| r.as_slice())).unwrap();
        assert_eq!(values(&chunks, (c, 1)), rows[1]);
        assert_eq!(chunks.time((c, 0), Some(2)), 7);
        assert_eq!(
            chunks.encode((c, 0)).unwrap(),
            sluice_functions::aggregate::state_codec::encode(&rows[0])
        );
    }
}
