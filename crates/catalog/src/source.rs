//! Streams and tables: their columns, topics, formats, and the registry that holds them.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use sluice_formats::Format;
use sluice_parser::SqlType;

use crate::{types, CatalogError};

/// Pseudo-column: the record's event time in epoch milliseconds (BIGINT).
pub const ROWTIME: &str = "ROWTIME";
/// Pseudo-column: the Kafka partition the record came from (INT).
pub const ROWPARTITION: &str = "ROWPARTITION";
/// Pseudo-column: the record's Kafka offset (BIGINT).
pub const ROWOFFSET: &str = "ROWOFFSET";
/// Window bound of a windowed source (BIGINT epoch millis).
pub const WINDOWSTART: &str = "WINDOWSTART";
/// Window bound of a windowed source (BIGINT epoch millis).
pub const WINDOWEND: &str = "WINDOWEND";
/// Column that carries each output row's event time next to a query's visible columns (sinks
/// write it as the record timestamp; clients never see it).
pub const EVENT_TIME: &str = "__sluice_rowtime";
/// Hidden output columns of windowed queries: the window bounds that go into the record key.
pub const WINDOW_START_KEY: &str = "__sluice_windowstart";
pub const WINDOW_END_KEY: &str = "__sluice_windowend";
/// The pseudo-columns every source has, in batch order.
pub const PSEUDO_COLUMNS: [&str; 3] = [ROWTIME, ROWPARTITION, ROWOFFSET];

/// Stream (append-only events) or table (changelog with upserts per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Stream,
    Table,
}

impl SourceKind {
    /// `STREAM` / `TABLE`, as ksqlDB prints it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        }
    }
    /// `stream` / `table`, for messages.
    pub fn lower(&self) -> &'static str {
        match self {
            SourceKind::Stream => "stream",
            SourceKind::Table => "table",
        }
    }
}

/// Where a column lives in a Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRole {
    /// Part of the record key (`KEY` / `PRIMARY KEY`).
    Key,
    /// Part of the record value.
    Value,
    /// All headers (`HEADERS`) or one header (`HEADER('k')`).
    Header(Option<String>),
}

/// One declared column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub role: ColumnRole,
}

/// Which column gives event time instead of the record timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampSpec {
    pub column: String,
    /// Java `DateTimeFormatter` pattern for STRING columns.
    pub format: Option<String>,
}

/// A windowed key (`WINDOW_TYPE`, `WINDOW_SIZE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInfo {
    /// `TUMBLING`, `HOPPING` or `SESSION`.
    pub kind: String,
    /// Window size in milliseconds (not for session windows).
    pub size_ms: Option<i64>,
}

impl WindowInfo {
    /// Whether these are session windows (their keys carry the end and the start).
    pub fn is_session(&self) -> bool {
        self.kind.eq_ignore_ascii_case("SESSION")
    }
}

/// A stream or table.
#[derive(Debug, Clone)]
pub struct SourceDef {
    pub name: String,
    pub kind: SourceKind,
    /// Declared columns, key columns first (ksqlDB's logical order).
    pub columns: Vec<ColumnDef>,
    pub topic: String,
    pub key_format: Format,
    pub value_format: Format,
    pub timestamp: Option<TimestampSpec>,
    pub window: Option<WindowInfo>,
    /// `CREATE SOURCE STREAM|TABLE`: read-only, materialized for pull queries.
    pub is_source: bool,
    /// Partition count of the topic when the source was created.
    pub partitions: i32,
    /// The statement that created it, as the user wrote it.
    pub statement: String,
    /// Id of the persistent query that writes it (CSAS/CTAS), if any.
    pub written_by: Option<String>,
}

impl SourceDef {
    /// Key columns, in order.
    pub fn key_columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.columns.iter().filter(|c| c.role == ColumnRole::Key)
    }

    /// Value columns, in order.
    pub fn value_columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.columns.iter().filter(|c| c.role == ColumnRole::Value)
    }

    /// Header columns (`HEADERS`, `HEADER('k')`), in order.
    pub fn header_columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.columns
            .iter()
            .filter(|c| matches!(c.role, ColumnRole::Header(_)))
    }

    /// The columns `SELECT *` means: key columns, then the others in declared order.
    pub fn star_columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.key_columns()
            .chain(self.columns.iter().filter(|c| c.role != ColumnRole::Key))
    }

    /// A declared column by canonical name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Arrow fields of the key columns.
    pub fn key_fields(&self) -> Result<Fields, CatalogError> {
        fields(self.key_columns())
    }

    /// Arrow fields of the value columns.
    pub fn value_fields(&self) -> Result<Fields, CatalogError> {
        fields(self.value_columns())
    }

    /// The schema of batches read from this source: key columns, value columns, header
    /// columns, then the pseudo-columns (ROWTIME, ROWPARTITION, ROWOFFSET, and
    /// WINDOWSTART/WINDOWEND when windowed).
    pub fn batch_schema(&self) -> Result<SchemaRef, CatalogError> {
        let mut out: Vec<Field> = Vec::with_capacity(self.columns.len() + 5);
        for c in self
            .key_columns()
            .chain(self.value_columns())
            .chain(self.header_columns())
        {
            out.push(Field::new(&c.name, types::to_arrow(&c.ty)?, true));
        }
        out.extend(pseudo_fields(self.window.is_some()));
        Ok(Arc::new(Schema::new(out)))
    }
}

/// The pseudo-column fields, in batch order.
pub fn pseudo_fields(windowed: bool) -> Vec<Field> {
    let mut out = vec![
        Field::new(ROWTIME, DataType::Int64, false),
        Field::new(ROWPARTITION, DataType::Int32, true),
        Field::new(ROWOFFSET, DataType::Int64, true),
    ];
    if windowed {
        out.push(Field::new(WINDOWSTART, DataType::Int64, true));
        out.push(Field::new(WINDOWEND, DataType::Int64, true));
    }
    out
}

fn fields<'a>(cols: impl Iterator<Item = &'a ColumnDef>) -> Result<Fields, CatalogError> {
    cols.map(|c| Ok(Field::new(&c.name, types::to_arrow(&c.ty)?, true)))
        .collect()
}

/// The registry of sources and named types. Cheap to clone: statements work on a copy and the
/// engine swaps it in only when the statement succeeded.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    sources: BTreeMap<String, Arc<SourceDef>>,
    types: BTreeMap<String, SqlType>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// A source by canonical name.
    pub fn source(&self, name: &str) -> Option<&Arc<SourceDef>> {
        self.sources.get(name)
    }

    /// A source by canonical name, or `UnknownSource`.
    pub fn require(&self, name: &str) -> Result<&Arc<SourceDef>, CatalogError> {
        self.sources
            .get(name)
            .ok_or_else(|| CatalogError::UnknownSource(name.to_string()))
    }

    /// All sources, by name.
    pub fn sources(&self) -> impl Iterator<Item = &Arc<SourceDef>> {
        self.sources.values()
    }

    /// Add a source; `replace` allows an existing source of the same kind to be replaced.
    pub fn add_source(&mut self, def: SourceDef, replace: bool) -> Result<(), CatalogError> {
        if let Some(existing) = self.sources.get(&def.name) {
            if !replace || existing.kind != def.kind {
                return Err(CatalogError::AlreadyExists {
                    kind: def.kind.lower().to_string(),
                    name: def.name.clone(),
                    existing: existing.kind.lower().to_string(),
                });
            }
        }
        self.sources.insert(def.name.clone(), Arc::new(def));
        Ok(())
    }

    /// Remove a source.
    pub fn drop_source(&mut self, name: &str) -> Result<Arc<SourceDef>, CatalogError> {
        self.sources
            .remove(name)
            .ok_or_else(|| CatalogError::UnknownSource(name.to_string()))
    }

    /// Set which query writes a source.
    pub fn set_writer(&mut self, name: &str, query_id: Option<String>) {
        if let Some(s) = self.sources.get_mut(name) {
            Arc::make_mut(s).written_by = query_id;
        }
    }

    /// Register a named type (`CREATE TYPE`).
    pub fn add_type(
        &mut self,
        name: &str,
        ty: SqlType,
        if_not_exists: bool,
    ) -> Result<bool, CatalogError> {
        if self.types.contains_key(name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(CatalogError::AlreadyExists {
                kind: "type".into(),
                name: name.into(),
                existing: "type".into(),
            });
        }
        self.types.insert(name.to_string(), ty);
        Ok(true)
    }

    /// Remove a named type.
    pub fn drop_type(&mut self, name: &str) -> Option<SqlType> {
        self.types.remove(name)
    }

    /// Named types.
    pub fn types(&self) -> impl Iterator<Item = (&String, &SqlType)> {
        self.types.iter()
    }

    /// Replace custom type names inside `ty` by their definitions.
    pub fn resolve_type(&self, ty: &SqlType) -> Result<SqlType, CatalogError> {
        Ok(match ty {
            SqlType::Custom(name) => self
                .types
                .get(name)
                .cloned()
                .ok_or_else(|| CatalogError::UnknownType(name.clone()))?,
            SqlType::Array(t) => SqlType::Array(Box::new(self.resolve_type(t)?)),
            SqlType::Map(k, v) => SqlType::Map(
                Box::new(self.resolve_type(k)?),
                Box::new(self.resolve_type(v)?),
            ),
            SqlType::Struct(fields) => SqlType::Struct(
                fields
                    .iter()
                    .map(|(n, t)| Ok((n.clone(), self.resolve_type(t)?)))
                    .collect::<Result<_, CatalogError>>()?,
            ),
            other => other.clone(),
        })
    }
}
