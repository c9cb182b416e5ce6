//! Dataflow errors.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// A failure inside an operator. Per-record problems are not errors of this kind: they are
/// reported as [`crate::source::RecordError`]s and the record is skipped.
#[derive(Debug, thiserror::Error)]
pub enum DataflowError {
    #[error("expression evaluation failed: {0}")]
    Eval(#[from] DataFusionError),
    #[error("arrow error: {0}")]
    Arrow(#[from] ArrowError),
    #[error("serialization failed: {0}")]
    Format(#[from] sluice_formats::FormatError),
    #[error("{0}")]
    Catalog(#[from] sluice_catalog::CatalogError),
    #[error("{0}")]
    Plan(String),
    #[error("{0}")]
    State(#[from] sluice_state::StateError),
    #[error("stored state cannot be read: {0}")]
    StateFormat(String),
}
