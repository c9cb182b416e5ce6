//! Kafka records in, a [`Batch`] out.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Int32Array, Int64Array, Int8Array, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::compute::{filter, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use sluice_catalog::SourceDef;
use sluice_formats::{Decoder, Part};
use sluice_functions::datetime::{parse_timestamp_array, JavaPattern};
use sluice_registry::SchemaRegistry;

use crate::{Batch, ChangeKind, DataflowError};

/// One record as read from Kafka, borrowed from the consumer's buffers.
#[derive(Debug, Clone, Default)]
pub struct RawRecord<'a> {
    pub partition: i32,
    pub offset: i64,
    /// The record timestamp (ms), if the broker gave one.
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The record's headers in order (a key may repeat). Only read when the source declares
    /// header columns; callers may leave it empty otherwise.
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// A record that could not be turned into a row, and why. The record is skipped.
#[derive(Debug, Clone)]
pub struct RecordError {
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
}

/// Decodes batches of records of one source into [`Batch`]es with the source's batch schema.
pub struct SourceDecoder {
    topic: String,
    schema: SchemaRef,
    key: Decoder,
    value: Decoder,
    /// Position of the TIMESTAMP column in the batch, and its type, if event time comes from a column.
    timestamp_column: Option<(usize, DataType)>,
    /// TIMESTAMP_FORMAT: how a STRING timestamp column is parsed.
    timestamp_format: Option<JavaPattern>,
    /// Streams drop records without a value; tables treat them as deletes.
    is_table: bool,
    /// A stream's records without a value are kept (as `Delete` rows with null value columns):
    /// ksqlDB's PARTITION BY forwards them, re-keyed.
    stream_tombstones: bool,
    /// Windowed keys: `Some(None)` for session windows (key, end, start), `Some(Some(size))`
    /// for time windows (key, start).
    windowed: Option<Option<i64>>,
    /// Header columns in batch order: `None` for `HEADERS` (all of them), `Some(k)` for
    /// `HEADER('k')`.
    headers: Vec<Option<String>>,
}

impl SourceDecoder {
    /// A decoder for `source`'s records.
    ///
    /// `registry` answers the writer schemas of schema-registry formats (AVRO); sources in
    /// other formats do not need one.
    pub fn new(
        source: &SourceDef,
        registry: Option<&Arc<dyn SchemaRegistry>>,
    ) -> Result<Self, DataflowError> {
        let schema = source.batch_schema()?;
        let key = Decoder::with_registry(
            &source.key_format,
            source.key_fields()?,
            Part::Key,
            registry.cloned(),
        )?;
        let value = Decoder::with_registry(
            &source.value_format,
            source.value_fields()?,
            Part::Value,
            registry.cloned(),
        )?;
        let timestamp_column = match &source.timestamp {
            Some(ts) => {
                let idx = schema.index_of(&ts.column).map_err(|_| {
                    DataflowError::Plan(format!("timestamp column {} not found", ts.column))
                })?;
                Some((idx, schema.field(idx).data_type().clone()))
            }
            None => None,
        };
        let timestamp_format = match source.timestamp.as_ref().and_then(|t| t.format.as_ref()) {
            Some(f) => Some(
                JavaPattern::new(f)
                    .map_err(|e| DataflowError::Plan(format!("TIMESTAMP_FORMAT: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            timestamp_format,
            topic: source.topic.clone(),
            schema,
            key,
            value,
            timestamp_column,
            is_table: source.kind == sluice_catalog::SourceKind::Table,
            stream_tombstones: false,
            windowed: source
                .window
                .as_ref()
                .map(|w| (!w.is_session()).then(|| w.size_ms.unwrap_or(0))),
            headers: source
                .header_columns()
                .map(|c| match &c.role {
                    sluice_catalog::ColumnRole::Header(k) => k.clone(),
                    _ => None,
                })
                .collect(),
        })
    }

    /// Keep a stream's records without a value, as `Delete` rows whose value columns are null
    /// (PARTITION BY forwards them with their new key, as ksqlDB does).
    pub fn with_stream_tombstones(mut self) -> Self {
        self.stream_tombstones = true;
        self
    }

    /// Whether the source has header columns (records must carry their headers).
    pub fn needs_headers(&self) -> bool {
        !self.headers.is_empty()
    }

    /// The schema of the batches this decoder produces.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decode `records`. Records that fail are skipped and returned as errors, with the reason.
    pub fn decode(
        &mut self,
        records: &[RawRecord<'_>],
    ) -> Result<(Option<Batch>, Vec<RecordError>), DataflowError> {
        let mut errors = Vec::new();
        let mut keep = BooleanBuilder::with_capacity(records.len());
        let mut rowtime = Vec::with_capacity(records.len());
        let mut partition = Vec::with_capacity(records.len());
        let mut offset = Vec::with_capacity(records.len());
        let mut tombstone = Vec::with_capacity(records.len());
        let mut window_bounds: Vec<(Option<i64>, Option<i64>)> = Vec::new();
        for r in records {
            tombstone.push(r.value.is_none());
            partition.push(r.partition);
            offset.push(r.offset);
            rowtime.push(r.timestamp.unwrap_or(0));
            let mut fail = |reason: String| {
                errors.push(RecordError {
                    partition: r.partition,
                    offset: r.offset,
                    reason,
                })
            };
            let mut key = r.key;
            if let Some(size) = self.windowed {
                let suffix = if size.is_some() { 8 } else { 16 };
                match key {
                    Some(k) if k.len() >= suffix => {
                        let (inner, w) = k.split_at(k.len() - suffix);
                        let long = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("8 bytes"));
                        let (start, end) = match size {
                            Some(size) => (long(&w[..8]), long(&w[..8]) + size),
                            None => (long(&w[8..]), long(&w[..8])),
                        };
                        window_bounds.push((Some(start), Some(end)));
                        key = Some(inner);
                    }
                    _ => {
                        window_bounds.push((None, None));
                        self.key.append(None).ok();
                        self.value.append(None).ok();
                        fail(format!(
                            "Failed to deserialize key from topic: {}. The windowed key is shorter than its {suffix}-byte window",
                            self.topic
                        ));
                        keep.append_value(false);
                        continue;
                    }
                }
            }
            if let Err(e) = self.key.append(key) {
                self.key.append(None).ok();
                self.value.append(None).ok();
                fail(format!(
                    "Failed to deserialize key from topic: {}. {e}",
                    self.topic
                ));
                keep.append_value(false);
                continue;
            }
            if r.value.is_none() && !self.is_table && !self.stream_tombstones {
                // A stream has no use for a record without a value.
                self.value.append(None).ok();
                keep.append_value(false);
                continue;
            }
            if let Err(e) = self.value.append(r.value) {
                self.value.append(None).ok();
                fail(format!(
                    "Failed to deserialize value from topic: {}. {e}",
                    self.topic
                ));
                keep.append_value(false);
                continue;
            }
            keep.append_value(true);
        }
        let mut columns: Vec<ArrayRef> = self.key.finish();
        columns.extend(self.value.finish());
        for h in &self.headers {
            columns.push(header_column(records, h.as_deref()));
        }
        let mut keep = keep.finish();

        // Event time from a column, when declared: rows without a usable time are dropped.
        if let Some((idx, ty)) = &self.timestamp_column {
            let col = &columns[*idx];
            let times: Option<Vec<Option<i64>>> = match ty {
                DataType::Int64 => col
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.iter().collect()),
                DataType::Timestamp(TimeUnit::Millisecond, _) => col
                    .as_any()
                    .downcast_ref::<TimestampMillisecondArray>()
                    .map(|a| a.iter().collect()),
                DataType::Utf8 => match (
                    &self.timestamp_format,
                    col.as_any().downcast_ref::<StringArray>(),
                ) {
                    (Some(pattern), Some(strings)) => {
                        // Unparsable values are null here and reported below with the rest.
                        let (times, bad) = parse_timestamp_array(pattern, None, strings);
                        for (i, e) in bad {
                            tracing::debug!(row = i, error = %e, "TIMESTAMP_FORMAT parse failed");
                        }
                        Some(times.iter().collect())
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some(times) = times else {
                return Err(DataflowError::Plan(format!(
                    "unsupported TIMESTAMP column type {ty}"
                )));
            };
            let mut mask = BooleanBuilder::with_capacity(records.len());
            for (i, t) in times.into_iter().enumerate() {
                match t {
                    Some(t) if t >= 0 => {
                        rowtime[i] = t;
                        mask.append_value(keep.value(i));
                    }
                    _ => {
                        if keep.value(i) {
                            errors.push(RecordError {
                                partition: partition[i],
                                offset: offset[i],
                                reason: format!(
                                    "Failed to extract timestamp from row: {} is null or negative",
                                    self.schema.field(*idx).name()
                                ),
                            });
                        }
                        mask.append_value(false);
                    }
                }
            }
            keep = mask.finish();
        }

        columns.push(Arc::new(Int64Array::from(rowtime)));
        columns.push(Arc::new(Int32Array::from(partition)));
        columns.push(Arc::new(Int64Array::from(offset)));
        if self.windowed.is_some() {
            let starts: Int64Array = window_bounds.iter().map(|w| w.0).collect();
            let ends: Int64Array = window_bounds.iter().map(|w| w.1).collect();
            columns.push(Arc::new(starts));
            columns.push(Arc::new(ends));
        }
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        let keeps_tombstones = self.stream_tombstones && tombstone.iter().any(|t| *t);
        let changes = (self.is_table || keeps_tombstones).then(|| {
            // A table's tombstones are deletes of their key.
            Int8Array::from_iter_values(tombstone.iter().map(|t| {
                if *t {
                    ChangeKind::Delete as i8
                } else {
                    ChangeKind::Insert as i8
                }
            }))
        });
        let (data, changes) = if keep.true_count() == records.len() {
            (data, changes)
        } else {
            let changes = match changes {
                Some(c) => Some(
                    filter(&c, &keep)?
                        .as_any()
                        .downcast_ref::<Int8Array>()
                        .cloned()
                        .ok_or_else(|| DataflowError::Plan("bad change column".into()))?,
                ),
                None => None,
            };
            (filter_record_batch(&data, &keep)?, changes)
        };
        if data.num_rows() == 0 {
            return Ok((None, errors));
        }
        // Every row derives from the record it was decoded from.
        let origin = Some(crate::Origins {
            partition: data
                .column_by_name(sluice_catalog::ROWPARTITION)
                .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
                .cloned()
                .ok_or_else(|| DataflowError::Plan("bad ROWPARTITION column".into()))?,
            offset: data
                .column_by_name(sluice_catalog::ROWOFFSET)
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .cloned()
                .ok_or_else(|| DataflowError::Plan("bad ROWOFFSET column".into()))?,
        });
        Ok((
            Some(Batch {
                data,
                changes,
                origin,
            }),
            errors,
        ))
    }
}

/// A header column's array: `HEADERS` (`key` None) as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`,
/// empty for a record without headers; `HEADER('k')` as the BYTES value of the last header
/// with key `k`, null when there is none.
fn header_column(records: &[RawRecord<'_>], key: Option<&str>) -> ArrayRef {
    use datafusion::arrow::array::{BinaryBuilder, ListBuilder, StringBuilder, StructBuilder};
    use datafusion::arrow::datatypes::Field;
    match key {
        Some(k) => {
            let mut b = BinaryBuilder::with_capacity(records.len(), 0);
            for r in records {
                match r.headers.iter().rev().find(|(hk, _)| *hk == k) {
                    Some((_, Some(v))) => b.append_value(v),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        None => {
            let fields = vec![
                Field::new("KEY", DataType::Utf8, true),
                Field::new("VALUE", DataType::Binary, true),
            ];
            let entry = StructBuilder::new(
                fields.clone(),
                vec![
                    Box::new(StringBuilder::new()),
                    Box::new(BinaryBuilder::new()),
                ],
            );
            let mut b = ListBuilder::new(entry).with_field(Arc::new(Field::new(
                "item",
                DataType::Struct(fields.into()),
                true,
            )));
            for r in records {
                let s = b.values();
                for (k, v) in &r.headers {
                    s.field_builder::<StringBuilder>(0)
                        .expect("KEY builder")
                        .append_value(k);
                    let vb = s.field_builder::<BinaryBuilder>(1).expect("VALUE builder");
                    match v {
                        Some(v) => vb.append_value(v),
                        None => vb.append_null(),
                    }
                    s.append(true);
                }
                b.append(true);
            }
            Arc::new(b.finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, ListArray, StructArray};
    use sluice_catalog::{ColumnDef, ColumnRole, SourceKind};
    use sluice_formats::{Format, FormatKind};
    use sluice_parser::SqlType;

    fn source_with_headers() -> SourceDef {
        let col = |name: &str, ty: SqlType, role: ColumnRole| ColumnDef {
            name: name.into(),
            ty,
            role,
        };
        SourceDef {
            name: "S".into(),
            kind: SourceKind::Stream,
            columns: vec![
                col("K", SqlType::String, ColumnRole::Key),
                col("V", SqlType::Int, ColumnRole::Value),
                col(
                    "HS",
                    SqlType::Array(Box::new(SqlType::Struct(vec![
                        ("KEY".into(), SqlType::String),
                        ("VALUE".into(), SqlType::Bytes),
                    ]))),
                    ColumnRole::Header(None),
                ),
                col("H", SqlType::Bytes, ColumnRole::Header(Some("abc".into()))),
            ],
            topic: "t".into(),
            key_format: Format::new(FormatKind::Kafka),
            value_format: Format::new(FormatKind::Json),
            timestamp: None,
            window: None,
            is_source: false,
            partitions: 1,
            statement: String::new(),
            written_by: None,
        }
    }

    #[test]
    fn header_columns_are_decoded() {
        let source = source_with_headers();
        let mut d = SourceDecoder::new(&source, None).unwrap();
        assert!(d.needs_headers());
        let records = vec![
            RawRecord {
                key: Some(b"a"),
                value: Some(br#"{"V": 1}"#),
                headers: vec![("abc", Some(b"x")), ("other", None), ("abc", Some(b"y"))],
                ..RawRecord::default()
            },
            RawRecord {
                offset: 1,
                key: Some(b"b"),
                value: Some(br#"{"V": 2}"#),
                ..RawRecord::default()
            },
        ];
        let (batch, errors) = d.decode(&records).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let data = batch.unwrap().data;
        // HEADER('abc'): the last value with that key; null without one.
        let h = data
            .column_by_name("H")
            .unwrap()
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap();
        assert_eq!(h.value(0), b"y");
        assert!(h.is_null(1));
        // HEADERS: every header in order; an empty list without headers.
        let hs = data
            .column_by_name("HS")
            .unwrap()
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        assert_eq!(hs.value_length(0), 3);
        assert_eq!(hs.value_length(1), 0);
        assert!(!hs.is_null(1));
        let first = hs.value(0);
        let entries = first.as_any().downcast_ref::<StructArray>().unwrap();
        let keys = entries
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(keys.value(1), "other");
        assert!(entries.column(1).is_null(1));
    }
}
