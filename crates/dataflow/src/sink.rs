//! A [`Batch`] out, Kafka records' bytes back.

use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::datatypes::Fields;
use sluice_catalog::ROWTIME;
use sluice_formats::{Encoder, Format, Part};

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
}

impl SinkEncoder {
    /// An encoder writing `key_fields` with `key_format` and `value_fields` with `value_format`.
    /// Batches given to [`SinkEncoder::encode`] must contain these columns by name, plus ROWTIME.
    pub fn new(
        key_format: &Format,
        key_fields: Fields,
        value_format: &Format,
        value_fields: Fields,
    ) -> Result<Self, DataflowError> {
        Ok(Self {
            key_columns: key_fields.iter().map(|f| f.name().clone()).collect(),
            value_columns: value_fields.iter().map(|f| f.name().clone()).collect(),
            key: Encoder::new(key_format, key_fields, Part::Key)?,
            value: Encoder::new(value_format, value_fields, Part::Value)?,
        })
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
        let times = batch
            .data
            .column_by_name(ROWTIME)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
        let mut out = Vec::with_capacity(n);
        for (i, (key, value)) in keys.into_iter().zip(values).enumerate() {
            let value = if batch.change(i) == ChangeKind::Delete {
                None
            } else {
                value
            };
            let timestamp = match &times {
                Some(t) if !t.is_null(i) => t.value(i),
                _ => 0,
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
