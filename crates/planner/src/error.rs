//! Planning errors.

use datafusion::error::DataFusionError;
use sluice_catalog::CatalogError;

/// Why a statement could not be planned. Mapped to SQLSTATE at the pgwire edge.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `42P01`.
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    /// `42703`: a column that is not there.
    #[error("{0}")]
    UnknownColumn(String),
    /// `42883`: a function that is not there.
    #[error("{0}")]
    UnknownFunction(String),
    /// `42804`: types that do not fit.
    #[error("{0}")]
    Type(String),
    /// `0A000`: valid KSQL that Sluice does not run yet.
    #[error("{0}")]
    Unsupported(String),
    /// `42000`: a query that breaks KSQL's rules (key columns, reserved names, ...).
    #[error("{0}")]
    Invalid(String),
    /// `42803`: aggregate functions in a query without GROUP BY (ksqlDB aggregates only by
    /// groups). Holds the aggregate calls as ksqlDB prints them (`COUNT(ROWTIME)`); the text
    /// names the kind of statement, so callers that know it use [`PlanError::in_statement`].
    #[error(
        "SELECT statement does not support aggregate function [{0}] without a GROUP BY clause."
    )]
    AggregateWithoutGroupBy(String),
    /// `XX000`: DataFusion failed in a way we did not classify.
    #[error("{0}")]
    DataFusion(DataFusionError),
}

impl PlanError {
    /// The error as reported for a statement of kind `statement` (`CREATE TABLE AS SELECT`).
    pub fn in_statement(self, statement: &str) -> PlanError {
        match self {
            PlanError::AggregateWithoutGroupBy(f) => PlanError::Invalid(format!(
                "{statement} statement does not support aggregate function [{f}] without a GROUP BY clause."
            )),
            other => other,
        }
    }
}

impl From<DataFusionError> for PlanError {
    fn from(e: DataFusionError) -> Self {
        classify(e)
    }
}

/// Sort DataFusion's errors into the kinds a user can act on.
fn classify(e: DataFusionError) -> PlanError {
    let root = e.find_root();
    match root {
        DataFusionError::SchemaError(inner, _) => {
            let msg = inner.to_string();
            if msg.contains("No field named") {
                PlanError::UnknownColumn(ksql_column_message(&msg))
            } else {
                PlanError::Invalid(msg)
            }
        }
        DataFusionError::Plan(msg) => {
            if msg.contains("Invalid function")
                || msg.contains("function") && msg.contains("not found")
            {
                PlanError::UnknownFunction(ksql_function_message(msg))
            } else if msg.contains("type") || msg.contains("coerc") || msg.contains("Cannot") {
                PlanError::Type(msg.clone())
            } else if msg.contains("table") && msg.contains("not found") {
                PlanError::Catalog(CatalogError::UnknownSource(msg.clone()))
            } else {
                PlanError::Invalid(msg.clone())
            }
        }
        DataFusionError::NotImplemented(msg) => PlanError::Unsupported(msg.clone()),
        DataFusionError::ArrowError(inner, _) => PlanError::Type(inner.to_string()),
        _ => PlanError::DataFusion(e),
    }
}

/// DataFusion says `Invalid function 'foo'. Did you mean 'bar'?`; ksqlDB says
/// `Can't find any functions with the name 'FOO'`.
fn ksql_function_message(msg: &str) -> String {
    match msg
        .split("Invalid function '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
    {
        Some(name) if !name.is_empty() => format!(
            "Can't find any functions with the name '{}'",
            name.to_uppercase()
        ),
        _ => msg.to_string(),
    }
}

/// DataFusion says `No field named "X". Valid fields are ...`; ksqlDB says
/// `Column 'X' cannot be resolved.`
fn ksql_column_message(msg: &str) -> String {
    // `No field named x. Valid fields are ...`, `No field named p."ID". Did you mean ...`: the
    // name ends before either (or at the message's end), and a qualified one keeps its
    // qualifier.
    let name = msg.split("No field named ").nth(1).map(|rest| {
        let end = [". Valid", ". Did you mean", "\n"]
            .iter()
            .filter_map(|m| rest.find(m))
            .min()
            .unwrap_or(rest.len());
        rest[..end]
            .trim_end_matches('.')
            .split('.')
            .map(|part| part.trim_matches('"'))
            .collect::<Vec<_>>()
            .join(".")
    });
    match name {
        Some(n) if !n.is_empty() => format!("Column '{n}' cannot be resolved."),
        _ => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_functions_get_ksqldb_text() {
        let e = PlanError::from(DataFusionError::Plan(
            "Invalid function 'wont_find_me'. Did you mean 'find_in_set'?".into(),
        ));
        assert!(matches!(&e, PlanError::UnknownFunction(_)));
        assert_eq!(
            e.to_string(),
            "Can't find any functions with the name 'WONT_FIND_ME'"
        );
    }

    #[test]
    fn unknown_columns_keep_their_qualifier() {
        assert_eq!(
            ksql_column_message(
                "No field named r.o_id. Did you mean 'R.ID'?. Valid fields are \"R.ID\"."
            ),
            "Column 'r.o_id' cannot be resolved."
        );
        assert_eq!(
            ksql_column_message("Schema error: No field named X. Valid fields are t.\"A\"."),
            "Column 'X' cannot be resolved."
        );
        assert_eq!(
            ksql_column_message(
                "Schema error: No field named p.\"ID\". Valid fields are p.\"U_ID\", q.\"ID\"."
            ),
            "Column 'p.ID' cannot be resolved."
        );
        assert_eq!(
            ksql_column_message("No field named \"Y\""),
            "Column 'Y' cannot be resolved."
        );
    }
}
