//! Materialized tables: the current rows of a persistent query's result table, kept up to date
//! by the query and read by pull queries through DataFusion.
//!
//! The rows live in the writing query's state store, under the prefix [`PREFIX`], keyed by the
//! key columns (and window bounds) in Arrow's order-preserving row format, each value the row's
//! columns ([`state_codec`]). The query adds its changes to the same atomic commit as its
//! operators' state and input positions, so a pull query reads exactly the rows that the
//! committed input positions produced, and the rows survive restarts and are rebuilt with the
//! rest of the store from its changelog.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use sluice_catalog::{
    SourceDef, EVENT_TIME, ROWTIME, WINDOWEND, WINDOWSTART, WINDOW_END_KEY, WINDOW_START_KEY,
};
use sluice_dataflow::{Batch, ChangeKind};
use sluice_functions::aggregate::state_codec;
use sluice_state::{SledStore, StateStore, WriteBatch};

use crate::error::{EngineError, Result};

/// Key prefix of materialized rows in the query's store (operators use `0x01..0xf0`).
pub const PREFIX: u8 = 0xf0;

/// The rows of one table, by key (and window).
#[derive(Debug)]
pub struct Materialized {
    /// Key columns, then WINDOWSTART / WINDOWEND when windowed, then value columns, then
    /// ROWTIME.
    schema: SchemaRef,
    /// For each schema column, the batch column it is read from.
    sources: Vec<String>,
    /// How many leading schema columns make the key.
    key_width: usize,
    /// How many of those are window bounds (2 for windowed tables, else 0).
    window_width: usize,
    converter: RowConverter,
    store: SledStore,
    /// Changes applied since the last checkpoint: key → encoded row, `None` to delete.
    pending: Mutex<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl Materialized {
    /// The materialization of the table `def`, kept in `store` (the writing query's).
    pub fn new(def: &SourceDef, store: SledStore) -> Result<Self> {
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
        let window_width = if def.window.is_some() { 2 } else { 0 };
        for f in def.value_fields()?.iter() {
            fields.push(f.as_ref().clone());
            sources.push(f.name().clone());
        }
        // The row's time (its output record's timestamp), for `SELECT ROWTIME` in pull queries;
        // `*` does not include it.
        fields.push(Field::new(ROWTIME, DataType::Int64, true));
        sources.push(EVENT_TIME.to_string());
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
            window_width,
            converter,
            store,
            pending: Mutex::new(BTreeMap::new()),
        })
    }

    /// Names of the key columns (with WINDOWSTART / WINDOWEND when windowed).
    pub fn key_names(&self) -> Vec<String> {
        self.schema.fields()[..self.key_width]
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The schema pull queries see.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The columns `SELECT *` means: all but ROWTIME.
    pub fn star_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != ROWTIME)
            .collect()
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
        let mut pending = self.pending.lock().expect("materialized lock");
        for i in 0..batch.num_rows() {
            let mut key = vec![PREFIX];
            key.extend_from_slice(keys.row(i).as_ref());
            match batch.change(i) {
                ChangeKind::UpdateBefore => {}
                ChangeKind::Delete => {
                    pending.insert(key, None);
                }
                ChangeKind::Insert | ChangeKind::UpdateAfter => {
                    let row = columns
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, i))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| EngineError::Internal(e.to_string()))?;
                    pending.insert(key, Some(state_codec::encode(&row)));
                }
            }
        }
        Ok(())
    }

    /// Moves the changes applied since the last checkpoint into the task's `batch`.
    pub fn checkpoint(&self, batch: &mut WriteBatch) {
        let pending = std::mem::take(&mut *self.pending.lock().expect("materialized lock"));
        for (k, v) in pending {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            };
        }
    }

    /// The committed rows whose key starts with `prefix` (encoded key bytes after [`PREFIX`]).
    fn rows(&self, prefix: &[u8]) -> Result<Vec<Vec<ScalarValue>>> {
        let internal = |e: String| EngineError::Internal(format!("materialized rows: {e}"));
        let mut full = Vec::with_capacity(prefix.len() + 1);
        full.push(PREFIX);
        full.extend_from_slice(prefix);
        self.store
            .scan_prefix(&full)
            .map_err(|e| internal(e.to_string()))?
            .map(|r| {
                let (_, v) = r.map_err(|e| internal(e.to_string()))?;
                state_codec::decode(&v).map_err(|e| internal(e.to_string()))
            })
            .collect()
    }

    /// How many leading key columns (in key order) can be looked up by value: the declared key
    /// columns, not the window bounds.
    pub fn lookup_width(&self) -> usize {
        self.key_width - self.window_width
    }

    /// The committed rows whose leading key columns equal `values` (one value per column, in key
    /// order, at most [`lookup_width`](Self::lookup_width)): a point lookup when `values` covers
    /// the whole key of an unwindowed table, a prefix scan otherwise. Values of another type
    /// than the column's are cast; a value that cannot be cast matches nothing.
    pub fn lookup(&self, values: &[ScalarValue]) -> Result<RecordBatch> {
        let fields = &self.schema.fields()[..values.len()];
        let mut columns = Vec::with_capacity(values.len());
        for (v, f) in values.iter().zip(fields) {
            match v.cast_to(f.data_type()).and_then(|v| v.to_array()) {
                Ok(a) => columns.push(a),
                Err(_) => return self.batch(Vec::new()),
            }
        }
        let converter = RowConverter::new(
            fields
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        let rows = converter
            .convert_columns(&columns)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let key = rows.row(0);
        if values.len() == self.key_width {
            // The whole key of an unwindowed table: a point read.
            return self.batch(self.row(key.as_ref())?.into_iter().collect());
        }
        let rows = self.rows(key.as_ref())?;
        self.batch(rows)
    }

    /// The committed row whose whole key is `key` (encoded key bytes after [`PREFIX`]).
    fn row(&self, key: &[u8]) -> Result<Option<Vec<ScalarValue>>> {
        let internal = |e: String| EngineError::Internal(format!("materialized row: {e}"));
        let mut full = Vec::with_capacity(key.len() + 1);
        full.push(PREFIX);
        full.extend_from_slice(key);
        match self.store.get(&full).map_err(|e| internal(e.to_string()))? {
            Some(v) => Ok(Some(
                state_codec::decode(&v).map_err(|e| internal(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    /// The committed rows, in key order.
    pub fn snapshot(&self) -> Result<RecordBatch> {
        let rows = self.rows(&[])?;
        self.batch(rows)
    }

    fn batch(&self, rows: Vec<Vec<ScalarValue>>) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (c, f) in self.schema.fields().iter().enumerate() {
            // Rows written before a column was added (ROWTIME) read it as null.
            let null = ScalarValue::try_from(f.data_type())
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            let values: Vec<ScalarValue> = rows
                .iter()
                .map(|r| r.get(c).cloned().unwrap_or_else(|| null.clone()))
                .collect();
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
}
