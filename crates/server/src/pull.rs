//! Pull queries: a query without `EMIT CHANGES` over materialized tables, answered from their
//! current rows by DataFusion, so any SQL it runs works (filters, ORDER BY, aggregates, joins
//! across materialized tables).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use sluice_catalog::types;

use sluice_parser::sql::ast::{visit_expressions_mut, Expr, ObjectNamePart, SetExpr};
use sluice_parser::KsqlQuery;

use crate::error::{EngineError, Result};
use crate::materialized::Materialized;
use crate::result::StatementResult;

/// The names of the sources in a query's FROM clause (joins included); empty when the query is
/// not a plain SELECT over named sources.
pub fn from_names(q: &KsqlQuery) -> Vec<String> {
    let SetExpr::Select(select) = q.query.body.as_ref() else {
        return Vec::new();
    };
    sluice_planner::rewrite::from_sources(select)
        .map(|sources| sources.into_iter().map(|s| s.source).collect())
        .unwrap_or_default()
}

/// Runs `q` over the current rows of `tables`.
pub async fn pull_query(
    q: &KsqlQuery,
    tables: &[(String, Arc<Materialized>)],
) -> Result<StatementResult> {
    let mut config = SessionConfig::new();
    config.options_mut().sql_parser.enable_ident_normalization = false;
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    let ctx = SessionContext::new_with_config(config);
    {
        let state_ref = ctx.state_ref();
        let mut state = state_ref.write();
        sluice_functions::register_all(&mut state)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
    }
    for (name, table) in tables {
        let batch = table.snapshot()?;
        let provider = MemTable::try_new(table.schema().clone(), vec![vec![batch]])
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        ctx.register_table(
            datafusion::common::TableReference::bare(name.as_str()),
            Arc::new(provider),
        )
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    }
    // KSQL names functions case-insensitively; DataFusion (with identifier normalization off,
    // so that KSQL's upper-cased column names resolve) registers them in lower case.
    let mut query = q.query.clone();
    let _ = visit_expressions_mut(&mut query, |e| {
        if let Expr::Function(f) = e {
            if let Some(part) = f.name.0.last_mut() {
                if let ObjectNamePart::Identifier(id) = part {
                    id.value = id.value.to_lowercase();
                    id.quote_style = None;
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    let sql = query.to_string();
    let mut df = ctx.sql(&sql).await.map_err(plan_error)?;
    if let Some(limit) = q.limit {
        df = df.limit(0, Some(limit as usize)).map_err(plan_error)?;
    }
    let source_schema: Schema = df.schema().as_arrow().clone();
    let batches = df.collect().await.map_err(plan_error)?;
    // Clients see KSQL's types: DataFusion's own (Utf8View, Int8, ...) are widened.
    let mut fields = Vec::new();
    for f in source_schema.fields() {
        let ty =
            types::canonical(f.data_type()).map_err(|e| EngineError::Invalid(e.to_string()))?;
        fields.push(Field::new(f.name(), ty, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let batches = batches
        .into_iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        Ok(c.clone())
                    } else {
                        cast(c, f.data_type())
                    }
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let tag = format!(
        "SELECT {}",
        batches.iter().map(|b| b.num_rows()).sum::<usize>()
    );
    Ok(StatementResult::Rows {
        schema,
        batches,
        tag: Some(tag),
    })
}

fn plan_error(e: datafusion::error::DataFusionError) -> EngineError {
    EngineError::from(sluice_planner::PlanError::from(e))
}
