//! Time windows: assign each row to the tumbling or hopping windows its event time falls in.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use sluice_catalog::{ROWTIME, WINDOWEND, WINDOWSTART};

use crate::{Batch, DataflowError, Operator};

/// Appends `WINDOWSTART` and `WINDOWEND` (BIGINT epoch millis) to every row, once per window
/// the row's event time (ROWTIME) falls in: one window for tumbling windows (`advance ==
/// size`), `size / advance` for hopping ones. Windows are aligned to the epoch, as Kafka
/// Streams aligns them, and a row's windows come out in ascending start order. Rows keep their
/// change kinds.
pub struct WindowAssign {
    size_ms: i64,
    advance_ms: i64,
    schema: SchemaRef,
}

impl WindowAssign {
    /// Windows of `size_ms` starting every `advance_ms` (both > 0, `advance_ms <= size_ms`) over
    /// batches with schema `input`.
    pub fn new(size_ms: i64, advance_ms: i64, input: &Schema) -> Self {
        Self {
            size_ms: size_ms.max(0),
            advance_ms: advance_ms.max(1),
            schema: Self::output_schema(input),
        }
    }

    /// `input` with the window bounds appended.
    pub fn output_schema(input: &Schema) -> SchemaRef {
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(WINDOWSTART, DataType::Int64, true));
        fields.push(Field::new(WINDOWEND, DataType::Int64, true));
        Arc::new(Schema::new(fields))
    }

    /// Session windows: every row gets the one-instant window `[ROWTIME, ROWTIME]`; the
    /// aggregation merges them into sessions.
    pub fn session(input: &Schema) -> Self {
        Self {
            size_ms: 0,
            advance_ms: 1,
            schema: Self::output_schema(input),
        }
    }

    /// The starts of the windows containing `ts`, ascending.
    pub fn window_starts(&self, ts: i64) -> Box<dyn Iterator<Item = i64> + '_> {
        if self.size_ms == 0 {
            return Box::new(std::iter::once(ts));
        }
        let first =
            ((ts - self.size_ms + self.advance_ms).max(0) / self.advance_ms) * self.advance_ms;
        Box::new(
            (0..)
                .map(move |k| first + k * self.advance_ms)
                .take_while(move |s| *s <= ts),
        )
    }
}

impl Operator for WindowAssign {
    fn name(&self) -> String {
        if self.size_ms == 0 {
            "WindowAssign: SESSION".to_string()
        } else if self.size_ms == self.advance_ms {
            format!("WindowAssign: TUMBLING size={}ms", self.size_ms)
        } else {
            format!(
                "WindowAssign: HOPPING size={}ms advance={}ms",
                self.size_ms, self.advance_ms
            )
        }
    }

    fn process_batch(&mut self, batch: Batch) -> Result<Vec<Batch>, DataflowError> {
        let times = batch
            .rowtime()
            .ok_or_else(|| DataflowError::Plan(format!("window input has no {ROWTIME}")))?
            .clone();
        let mut indices = Vec::with_capacity(batch.num_rows());
        let mut starts = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            if times.is_null(i) {
                continue;
            }
            for s in self.window_starts(times.value(i)) {
                indices.push(i as u32);
                starts.push(s);
            }
        }
        let indices = UInt32Array::from(indices);
        let mut columns: Vec<ArrayRef> = batch
            .data
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<Result<_, _>>()?;
        let ends: Int64Array = starts.iter().map(|s| Some(s + self.size_ms)).collect();
        columns.push(Arc::new(Int64Array::from(starts)));
        columns.push(Arc::new(ends));
        let changes = match &batch.changes {
            Some(c) => Some(
                take(c, &indices, None)?
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::Int8Array>()
                    .cloned()
                    .ok_or_else(|| DataflowError::Plan("bad change column".into()))?,
            ),
            None => None,
        };
        let origin = match &batch.origin {
            Some(o) => Some(o.take(&indices)?),
            None => None,
        };
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(vec![Batch {
            data,
            changes,
            origin,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(size: i64, advance: i64) -> WindowAssign {
        let input = Schema::new(vec![Field::new(ROWTIME, DataType::Int64, true)]);
        WindowAssign::new(size, advance, &input)
    }

    #[test]
    fn tumbling_windows_are_epoch_aligned() {
        let w = assign(1000, 1000);
        assert_eq!(w.window_starts(0).collect::<Vec<_>>(), vec![0]);
        assert_eq!(w.window_starts(1999).collect::<Vec<_>>(), vec![1000]);
        assert_eq!(w.window_starts(2000).collect::<Vec<_>>(), vec![2000]);
    }

    #[test]
    fn hopping_windows_cover_every_start_up_to_the_row() {
        let w = assign(1000, 300);
        // Windows [s, s+1000) with s a multiple of 300 and s <= 1250 < s+1000.
        assert_eq!(
            w.window_starts(1250).collect::<Vec<_>>(),
            vec![300, 600, 900, 1200]
        );
        assert_eq!(w.window_starts(10).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn rows_are_replicated_per_window() {
        let mut w = assign(1000, 500);
        let schema = Arc::new(Schema::new(vec![Field::new(
            ROWTIME,
            DataType::Int64,
            true,
        )]));
        let data = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![100, 1600]))])
            .unwrap();
        let out = w.process_batch(Batch::inserts(data)).unwrap();
        let b = &out[0].data;
        let col = |n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        assert_eq!(col(ROWTIME), vec![100, 1600, 1600]);
        assert_eq!(col(WINDOWSTART), vec![0, 1000, 1500]);
        assert_eq!(col(WINDOWEND), vec![1000, 2000, 2500]);
    }
}
