//! The crate's error type and its mapping to PostgreSQL SQLSTATE codes.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::TokenizerError;
use sluice_pgwire::backend::BackendError;

/// Why a catalog or session statement failed. Every variant maps to a SQLSTATE via
/// [`PgCatalogError::sqlstate`]; [`BackendError::from`] turns it into what the wire layer sends.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PgCatalogError {
    /// The text does not parse (`42601`).
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A relation the statement names does not exist (`42P01`).
    #[error("{0}")]
    UndefinedTable(String),
    /// A column the statement names does not exist (`42703`).
    #[error("{0}")]
    UndefinedColumn(String),
    /// A function the statement calls does not exist (`42883`).
    #[error("{0}")]
    UndefinedFunction(String),
    /// `SHOW`/`RESET` of a configuration parameter nobody has heard of (`42704`).
    #[error("unrecognized configuration parameter \"{0}\"")]
    UnknownParameter(String),
    /// `SET` of a read-only parameter such as `server_version` (`55P02`).
    #[error("parameter \"{0}\" cannot be changed")]
    ReadOnlyParameter(String),
    /// A `$n` placeholder without a value (`42P02`).
    #[error("{0}")]
    MissingParameter(String),
    /// Valid PostgreSQL this layer does not do: DDL/DML against the catalog, several statements
    /// in one call, ... (`0A000`).
    #[error("{0}")]
    Unsupported(String),
    /// Anything else, DataFusion execution failures included (`XX000`).
    #[error("{0}")]
    Internal(String),
}

impl PgCatalogError {
    /// The five-character SQLSTATE a client sees for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            PgCatalogError::Syntax(_) => "42601",
            PgCatalogError::UndefinedTable(_) => "42P01",
            PgCatalogError::UndefinedColumn(_) => "42703",
            PgCatalogError::UndefinedFunction(_) => "42883",
            PgCatalogError::UnknownParameter(_) => "42704",
            PgCatalogError::ReadOnlyParameter(_) => "55P02",
            PgCatalogError::MissingParameter(_) => "42P02",
            PgCatalogError::Unsupported(_) => "0A000",
            PgCatalogError::Internal(_) => "XX000",
        }
    }
}

impl From<ParserError> for PgCatalogError {
    fn from(e: ParserError) -> Self {
        PgCatalogError::Syntax(parser_message(&e))
    }
}

impl From<TokenizerError> for PgCatalogError {
    fn from(e: TokenizerError) -> Self {
        PgCatalogError::Syntax(e.to_string())
    }
}

fn parser_message(e: &ParserError) -> String {
    match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "statement is nested too deeply".to_string(),
    }
}

impl From<ArrowError> for PgCatalogError {
    fn from(e: ArrowError) -> Self {
        PgCatalogError::Internal(e.to_string())
    }
}

impl From<DataFusionError> for PgCatalogError {
    fn from(e: DataFusionError) -> Self {
        classify(e)
    }
}

/// Sort a DataFusion error into the SQLSTATE classes clients care about. DataFusion reports most
/// planning failures as `Plan(String)`, so the unknown-table and unknown-function cases are
/// recognised by their (stable) message shapes.
fn classify(e: DataFusionError) -> PgCatalogError {
    // Our own functions report typed errors through `DataFusionError::External`.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<PgCatalogError>() {
            return ours.clone();
        }
        source = s.source();
    }
    let root = e.find_root();
    match root {
        DataFusionError::SQL(pe, _) => PgCatalogError::Syntax(parser_message(pe)),
        DataFusionError::SchemaError(se, _)
            if matches!(**se, SchemaError::FieldNotFound { .. }) =>
        {
            PgCatalogError::UndefinedColumn(strip_prefix(&root.to_string()))
        }
        DataFusionError::NotImplemented(m) => PgCatalogError::Unsupported(m.clone()),
        DataFusionError::Plan(m) => {
            if m.starts_with("Invalid function") {
                PgCatalogError::UndefinedFunction(first_line(m))
            } else if m.starts_with("table '") && m.contains("not found") {
                PgCatalogError::UndefinedTable(m.clone())
            } else if m.contains("No value found for placeholder") {
                PgCatalogError::MissingParameter(m.clone())
            } else {
                PgCatalogError::Internal(m.clone())
            }
        }
        other => PgCatalogError::Internal(strip_prefix(&other.to_string())),
    }
}

fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or_default().to_string()
}

/// DataFusion prefixes messages with the error kind (`Schema error: ...`); drop it.
fn strip_prefix(m: &str) -> String {
    for prefix in [
        "Schema error: ",
        "Execution error: ",
        "Error during planning: ",
        "Internal error: ",
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    m.to_string()
}

impl From<PgCatalogError> for BackendError {
    fn from(e: PgCatalogError) -> Self {
        BackendError::new(e.sqlstate(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::Column;

    #[test]
    fn plan_errors_are_classified_by_shape() {
        let e: PgCatalogError =
            DataFusionError::Plan("table 'db.public.nope' not found".into()).into();
        assert_eq!(e.sqlstate(), "42P01");

        let e: PgCatalogError =
            DataFusionError::Plan("Invalid function 'nope'.\nDid you mean 'now'?".into()).into();
        assert_eq!(e.sqlstate(), "42883");
        assert_eq!(e.to_string(), "Invalid function 'nope'.");

        let e: PgCatalogError = DataFusionError::NotImplemented("x".into()).into();
        assert_eq!(e.sqlstate(), "0A000");

        let e: PgCatalogError = DataFusionError::Execution("boom".into()).into();
        assert_eq!(e.sqlstate(), "XX000");
        assert_eq!(e.to_string(), "boom");
    }

    #[test]
    fn missing_field_is_undefined_column_even_when_wrapped() {
        let inner = DataFusionError::SchemaError(
            Box::new(SchemaError::FieldNotFound {
                field: Box::new(Column::from_name("nope")),
                valid_fields: vec![],
            }),
            Box::new(None),
        );
        let wrapped = inner.context("while planning");
        let e: PgCatalogError = wrapped.into();
        assert_eq!(e.sqlstate(), "42703");
    }

    #[test]
    fn our_errors_pass_through_datafusion_unchanged() {
        let e = DataFusionError::External(Box::new(PgCatalogError::UnknownParameter("x".into())))
            .context("evaluating current_setting");
        let e: PgCatalogError = e.into();
        assert_eq!(e.sqlstate(), "42704");
    }

    #[test]
    fn converts_to_backend_error_with_code() {
        let b: BackendError = PgCatalogError::UnknownParameter("foo".into()).into();
        assert_eq!(b.sqlstate, "42704");
        assert_eq!(b.message, "unrecognized configuration parameter \"foo\"");
    }
}
