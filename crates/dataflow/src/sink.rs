//! A [`Batch`] out, Kafka records' bytes back.

use datafusion::arrow::array::StringArray;
use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::Fields;
use sluice_catalog::{TimestampSpec, EVENT_TIME, ROWTIME, WINDOW_END_KEY, WINDOW_START_KEY};
use std::sync::Arc;

use sluice_formats::{Encoder, Format, Part};
use sluice_functions::datetime::{parse_timestamp_array, JavaPattern};
use sluice_registry::SchemaRegistry;

use crate::{Batch, ChangeKind, DataflowError};

/// One record to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct OutRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: i64,
}

/// Encodes the key and value columns of batches with the sink's formats.
pub struct SinkEncoder {
    key_columns: Vec<String>,
    value_columns: Vec<String>,
    key: Encoder,
    value: Encoder,
    window: Option<WindowedKey>,
    /// `TIMESTAMP` of the sink: the column the record timestamp comes from (and its format).
    timestamp: Option<(String, Option<JavaPattern>)>,
}

/// How window bounds are appended to a windowed record key (Kafka Streams' formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowedKey {
    /// Tumbling and hopping windows: the key, then the window start (8 bytes, big-endian).
    Time,
    /// Session windows: the key, then the window end and the window start (8 bytes each).
    Session,
}

impl SinkEncoder {
    /// An encoder writing `key_fields` with `key_format` and `value_fields` with `value_format`.
    /// Batches given to [`SinkEncoder::encode`] must contain these columns by name, plus the event time (EVENT_TIME, else ROWTIME).
    pub fn new(
        key_format: &Format,
        key_fields: Fields,
        value_format: &Format,
        value_fields: Fields,
        registry: Option<&Arc<dyn SchemaRegistry>>,
    ) -> Result<Self, DataflowError> {
        Ok(Self {
            key_columns: key_fields.iter().map(|f| f.name().clone()).collect(),
            value_columns: value_fields.iter().map(|f| f.name().clone()).collect(),
            key: Encoder::with_registry(key_format, key_fields, Part::Key, registry.cloned())?,
            value: Encoder::with_registry(
                value_format,
                value_fields,
                Part::Value,
                registry.cloned(),
            )?,
            window: None,
            timestamp: None,
        })
    }

    /// Take record timestamps from the sink's `TIMESTAMP` column (BIGINT, TIMESTAMP, or STRING
    /// with its `TIMESTAMP_FORMAT`) instead of the event time.
    pub fn with_timestamp(mut self, spec: Option<&TimestampSpec>) -> Result<Self, DataflowError> {
        self.timestamp = match spec {
            None => None,
            Some(t) => Some((
                t.column.clone(),
                match &t.format {
                    Some(f) => Some(
                        JavaPattern::new(f)
                            .map_err(|e| DataflowError::Plan(format!("TIMESTAMP_FORMAT: {e}")))?,
                    ),
                    None => None,
                },
            )),
        };
        Ok(self)
    }

    /// Write windowed keys: batches must then carry the window bounds as
    /// [`WINDOW_START_KEY`] / [`WINDOW_END_KEY`].
    pub fn with_window(mut self, window: Option<WindowedKey>) -> Self {
        self.window = window;
        self
    }

    /// Encode every row. Deletes become tombstones (no value).
    pub fn encode(&mut self, batch: &Batch) -> Result<Vec<OutRecord>, DataflowError> {
        let pick = |names: &[String]| -> Result<Vec<ArrayRef>, DataflowError> {
            names
                .iter()
                .map(|n| {
                    batch.data.column_by_name(n).cloned().ok_or_else(|| {
                        DataflowError::Plan(format!("sink column {n} missing from batch"))
                    })
                })
                .collect()
        };
        let n = batch.num_rows();
        let keys = self.key.encode_rows(&pick(&self.key_columns)?, n)?;
        let values = self.value.encode_rows(&pick(&self.value_columns)?, n)?;
        let times = match &self.timestamp {
            Some((column, format)) => {
                let col = batch.data.column_by_name(column).ok_or_else(|| {
                    DataflowError::Plan(format!("sink timestamp column {column} missing"))
                })?;
                match (format, col.as_any().downcast_ref::<StringArray>()) {
                    (Some(pattern), Some(strings)) => {
                        Some(parse_timestamp_array(pattern, None, strings).0)
                    }
                    _ => cast(col, &DataType::Int64)
                        .ok()
                        .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned()),
                }
            }
            None => batch
                .data
                .column_by_name(EVENT_TIME)
                .or_else(|| batch.data.column_by_name(ROWTIME))
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned()),
        };
        let bounds = match self.window {
            None => None,
            Some(kind) => {
                let col = |name: &str| -> Result<Int64Array, DataflowError> {
                    batch
                        .data
                        .column_by_name(name)
                        .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
                        .ok_or_else(|| DataflowError::Plan(format!("window bound {name} missing")))
                };
                Some((kind, col(WINDOW_START_KEY)?, col(WINDOW_END_KEY)?))
            }
        };
        let mut out = Vec::with_capacity(n);
        for (i, (key, value)) in keys.into_iter().zip(values).enumerate() {
            let value = match batch.change(i) {
                // The old version of an updated row: the topic only gets the new one.
                ChangeKind::UpdateBefore => continue,
                ChangeKind::Delete => None,
                _ => value,
            };
            let timestamp = match &times {
                Some(t) if !t.is_null(i) => t.value(i),
                _ => 0,
            };
            if let Some((column, _)) = &self.timestamp {
                let usable = times
                    .as_ref()
                    .is_some_and(|t| !t.is_null(i) && t.value(i) >= 0);
                if !usable {
                    // As ksqlDB: a row whose TIMESTAMP column gives no valid time is not written.
                    tracing::warn!(
                        target: "sluice::processing_log",
                        column = %column,
                        "skipped an output row: its TIMESTAMP column is null, negative or unparsable"
                    );
                    continue;
                }
            }
            let key = match &bounds {
                None => key,
                Some((kind, starts, ends)) => {
                    let mut k = key.unwrap_or_default();
                    if *kind == WindowedKey::Session {
                        k.extend_from_slice(&ends.value(i).to_be_bytes());
                    }
                    k.extend_from_slice(&starts.value(i).to_be_bytes());
                    Some(k)
                }
            };
            out.push(OutRecord {
                key,
                value,
                timestamp,
            });
        }
        Ok(out)
    }
}
