//! Materialized tables: the current rows of a persistent query's result table, kept up to date
//! by the query and read by pull queries through DataFusion.
//!
//! This version keeps the rows in memory, per server; they are rebuilt by the query when the
//! server restarts (the query re-reads its input from the committed positions, so rows whose
//! input was consumed before the restart are missing until their key changes again: see the
//! notes on issue 4 — the state store and changelog topics replace this).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use sluice_catalog::{SourceDef, WINDOWEND, WINDOWSTART, WINDOW_END_KEY, WINDOW_START_KEY};
use sluice_dataflow::{Batch, ChangeKind};

use crate::error::{EngineError, Result};

/// The rows of one table, by key (and window).
pub struct Materialized {
    /// Key columns, then WINDOWSTART / WINDOWEND when windowed, then value columns.
    schema: SchemaRef,
    /// For each schema column, the batch column it is read from.
    sources: Vec<String>,
    /// How many leading schema columns make the key.
    key_width: usize,
    converter: RowConverter,
    rows: Mutex<BTreeMap<Vec<u8>, Vec<ScalarValue>>>,
}

impl Materialized {
    /// An empty materialization of the table `def`.
    pub fn new(def: &SourceDef) -> Result<Self> {
        let mut fields: Vec<Field> = def
            .key_fields()?
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut sources: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        if def.window.is_some() {
            for (name, from) in [(WINDOWSTART, WINDOW_START_KEY), (WINDOWEND, WINDOW_END_KEY)] {
                fields.push(Field::new(name, DataType::Int64, true));
                sources.push(from.to_string());
            }
        }
        let key_width = fields.len();
        for f in def.value_fields()?.iter() {
            fields.push(f.as_ref().clone());
            sources.push(f.name().clone());
        }
        let converter = RowConverter::new(
            fields[..key_width]
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(Self {
            schema: Arc::new(Schema::new(fields)),
            sources,
            key_width,
            converter,
            rows: Mutex::new(BTreeMap::new()),
        })
    }

    /// The schema pull queries see.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Applies a batch of the query's output: upserts, and deletes for tombstones.
    pub fn apply(&self, batch: &Batch) -> Result<()> {
        let columns: Vec<ArrayRef> = self
            .sources
            .iter()
            .map(|n| {
                batch.data.column_by_name(n).cloned().ok_or_else(|| {
                    EngineError::Internal(format!("materialized column {n} missing"))
                })
            })
            .collect::<Result<_>>()?;
        let keys = self
            .converter
            .convert_columns(&columns[..self.key_width])
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut rows = self.rows.lock().expect("materialized rows lock");
        for i in 0..batch.num_rows() {
            let key = keys.row(i).as_ref().to_vec();
            match batch.change(i) {
                ChangeKind::UpdateBefore => {}
                ChangeKind::Delete => {
                    rows.remove(&key);
                }
                ChangeKind::Insert | ChangeKind::UpdateAfter => {
                    let row = columns
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, i))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| EngineError::Internal(e.to_string()))?;
                    rows.insert(key, row);
                }
            }
        }
        Ok(())
    }

    /// The current rows, in key order.
    pub fn snapshot(&self) -> Result<RecordBatch> {
        let rows = self.rows.lock().expect("materialized rows lock");
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (c, f) in self.schema.fields().iter().enumerate() {
            let values: Vec<ScalarValue> = rows.values().map(|r| r[c].clone()).collect();
            let array = if values.is_empty() {
                datafusion::arrow::array::new_empty_array(f.data_type())
            } else {
                ScalarValue::iter_to_array(values)
                    .map_err(|e| EngineError::Internal(e.to_string()))?
            };
            let array = if array.data_type() != f.data_type() {
                datafusion::arrow::compute::cast(&array, f.data_type())
                    .map_err(|e| EngineError::Internal(e.to_string()))?
            } else {
                array
            };
            columns.push(array);
        }
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| EngineError::Internal(e.to_string()))
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.lock().expect("materialized rows lock").len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
