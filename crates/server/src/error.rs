//! The engine's error type and its SQLSTATE mapping (the pgwire edge).

use sluice_catalog::CatalogError;
use sluice_parser::ParseError;
use sluice_pgwire::backend::BackendError;
use sluice_planner::PlanError;

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    /// Kafka failed (topic admin, produce, consume).
    #[error("{0}")]
    Kafka(String),
    /// A statement that is well-formed but not allowed (`42000`-class), with a ksqlDB-style text.
    #[error("{0}")]
    Invalid(String),
    /// A value of the wrong type (`42804`).
    #[error("{0}")]
    Type(String),
    /// Duplicate object (`42710`).
    #[error("{0}")]
    Duplicate(String),
    /// Unknown object that is not a source, e.g. a query id (`42704`).
    #[error("{0}")]
    UnknownObject(String),
    /// Not supported (yet) (`0A000`).
    #[error("{0}")]
    Unsupported(String),
    /// Something broke inside (`XX000`).
    #[error("{0}")]
    Internal(String),
}

impl EngineError {
    /// The PostgreSQL SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            EngineError::Parse(_) => "42601",
            EngineError::Plan(p) => match p {
                PlanError::Catalog(c) => catalog_state(c),
                PlanError::UnknownColumn(_) => "42703",
                PlanError::UnknownFunction(_) => "42883",
                PlanError::Type(_) => "42804",
                PlanError::Unsupported(_) => "0A000",
                PlanError::Invalid(_) => "42000",
                PlanError::AggregateWithoutGroupBy(_) => "42803",
                PlanError::DataFusion(_) => "XX000",
            },
            EngineError::Catalog(c) => catalog_state(c),
            EngineError::Kafka(_) => "58000",
            EngineError::Invalid(_) => "42000",
            EngineError::Type(_) => "42804",
            EngineError::Duplicate(_) => "42710",
            EngineError::UnknownObject(_) => "42704",
            EngineError::Unsupported(_) => "0A000",
            EngineError::Internal(_) => "XX000",
        }
    }

    /// 1-based character position in the statement, when the error is about one place.
    pub fn position(&self) -> Option<usize> {
        match self {
            EngineError::Parse(p) => Some(p.position),
            _ => None,
        }
    }
}

fn catalog_state(c: &CatalogError) -> &'static str {
    match c {
        CatalogError::UnknownSource(_) => "42P01",
        CatalogError::AlreadyExists { .. } => "42710",
        CatalogError::UnknownType(_) => "42704",
        CatalogError::UnsupportedType(_) => "42804",
        CatalogError::InUse(_) => "2BP01",
    }
}

impl From<EngineError> for BackendError {
    fn from(e: EngineError) -> Self {
        BackendError {
            sqlstate: e.sqlstate().to_string(),
            message: e.to_string(),
            position: e.position(),
            detail: None,
            hint: None,
        }
    }
}

impl From<sluice_kafka::KafkaError> for EngineError {
    fn from(e: sluice_kafka::KafkaError) -> Self {
        EngineError::Kafka(e.to_string())
    }
}

impl From<sluice_dataflow::DataflowError> for EngineError {
    fn from(e: sluice_dataflow::DataflowError) -> Self {
        EngineError::Internal(e.to_string())
    }
}

impl From<sluice_formats::FormatError> for EngineError {
    fn from(e: sluice_formats::FormatError) -> Self {
        EngineError::Invalid(e.to_string())
    }
}

/// Result alias for the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
