//! The Sluice catalog: what streams, tables and types exist and what they look like.
//!
//! Entry points: [`Catalog`] (the registry of [`SourceDef`]s and named types),
//! [`types::to_arrow`] / [`types::from_arrow`] (the one mapping between KSQL types and Arrow types,
//! used by every other crate), and [`SourceDef::batch_schema`] (the Arrow schema of the batches a
//! source's records become inside the engine, pseudo-columns included).
//!
//! Not for: persistence (the server keeps the catalog in Kafka as a command log and rebuilds it
//! by replaying statements), nor for running anything. The catalog is plain data, cheap to clone
//! per statement so that a failed statement never leaves it half-changed.

pub mod error;
pub mod source;
pub mod types;

pub use error::CatalogError;
pub use source::{
    Catalog, ColumnDef, ColumnRole, SourceDef, SourceKind, TimestampSpec, WindowInfo, EVENT_TIME,
    PSEUDO_COLUMNS, ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART, WINDOW_END_KEY,
    WINDOW_START_KEY,
};
