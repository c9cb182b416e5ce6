//! `PARTITION BY`: re-keying a stream. The PARTITION BY expressions become the record key of
//! the query's output (in PARTITION BY order); every other selected column goes to the value.
//! Rows are written to the sink with their new key, so the producer's partitioner places them
//! by it. `PARTITION BY NULL` writes rows without a key.
//!
//! ksqlDB's rules, as [`prepare`] and [`partitioning`] apply them:
//! - PARTITION BY applies to the input: its columns are source columns (or pseudo-columns);
//! - `SELECT *` means the PARTITION BY expressions that are not source columns (named like any
//!   unaliased expression), then the value columns, then the old key columns;
//! - otherwise each PARTITION BY expression must be selected exactly once (possibly aliased);
//! - NULL cannot be combined with other expressions; map-typed keys are refused (by the sink).

use datafusion::sql::sqlparser::ast::{Expr, Select, SelectItem};
use sluice_catalog::{SourceDef, PSEUDO_COLUMNS};

use crate::ksql_text::{expr_text, name_text};
use crate::PlanError;

/// How a query's output is keyed after PARTITION BY.
#[derive(Debug, Clone)]
pub struct Partitioning {
    /// The PARTITION BY expressions as ksqlDB prints them in errors (columns qualified with the
    /// source name); empty for `PARTITION BY NULL`.
    pub exprs: Vec<String>,
    /// The same, unqualified (for errors about the projection).
    pub names: Vec<String>,
    /// For each output column, the PARTITION BY expression it is, if it is one.
    pub output_keys: Vec<Option<usize>>,
}

fn is_null(e: &Expr) -> bool {
    sluice_parser::is_null_literal(e)
}

/// Checks the PARTITION BY clause and rewrites `SELECT *` for it (before the projection rules
/// name the columns). Returns the PARTITION BY expressions, empty for `PARTITION BY NULL`.
pub fn prepare(
    exprs: &[Expr],
    select: &mut Select,
    source: &SourceDef,
    grouped: bool,
    joined: bool,
) -> Result<Vec<Expr>, PlanError> {
    if exprs.is_empty() {
        return Err(PlanError::Invalid(
            "PARTITION BY requires at least one expression".into(),
        ));
    }
    if exprs.iter().any(is_null) {
        if exprs.len() > 1 {
            return Err(PlanError::Invalid(
                "Cannot PARTITION BY multiple columns including NULL".into(),
            ));
        }
        return Ok(Vec::new());
    }
    if grouped {
        return Err(PlanError::Unsupported(
            "PARTITION BY and GROUP BY in the same query are not supported".into(),
        ));
    }
    if source.kind == sluice_catalog::SourceKind::Table {
        return Err(PlanError::Unsupported(
            "PARTITION BY on a table is not supported yet".into(),
        ));
    }
    if joined {
        // Over a join, PARTITION BY re-keys the joined rows (columns of either side).
        if select
            .projection
            .iter()
            .any(|i| matches!(i, SelectItem::Wildcard(_)))
        {
            return Err(PlanError::Unsupported(
                "PARTITION BY over a join with SELECT * is not supported yet".into(),
            ));
        }
        return Ok(exprs.to_vec());
    }
    // Plain column references must be source columns: PARTITION BY applies to the input.
    for e in exprs {
        let name = match e {
            Expr::Identifier(i) => Some(i.value.clone()),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(parts[1].value.clone()),
            _ => None,
        };
        if let Some(n) = name {
            let known = source.column(&n).is_some()
                || PSEUDO_COLUMNS.iter().any(|p| p.eq_ignore_ascii_case(&n));
            if !known {
                return Err(PlanError::UnknownColumn(format!(
                    "PARTITION BY column '{n}' cannot be resolved. '{n}' must be a column in the source schema since PARTITION BY is applied on the input."
                )));
            }
        }
    }
    // `SELECT *`: the new key expressions, then the value columns, then the old key columns.
    let star_columns: Vec<&str> = source
        .columns
        .iter()
        .filter(|c| c.role != sluice_catalog::ColumnRole::Key)
        .chain(source.key_columns())
        .map(|c| c.name.as_str())
        .collect();
    let mut items = Vec::with_capacity(select.projection.len());
    for item in std::mem::take(&mut select.projection) {
        match item {
            SelectItem::Wildcard(_) => {
                for e in exprs {
                    let is_column = star_columns.iter().any(|c| expr_text(e) == name_text(c));
                    if !is_column {
                        items.push(SelectItem::UnnamedExpr(e.clone()));
                    }
                }
                for c in &star_columns {
                    items.push(SelectItem::UnnamedExpr(Expr::Identifier(
                        datafusion::sql::sqlparser::ast::Ident::with_quote('"', *c),
                    )));
                }
            }
            other => items.push(other),
        }
    }
    select.projection = items;
    Ok(exprs.to_vec())
}

/// Which output columns are the PARTITION BY expressions (`select` after the projection rules:
/// one item per output column, in order).
pub fn partitioning(
    exprs: &[Expr],
    select: &Select,
    source: &SourceDef,
    joined: bool,
) -> Result<Partitioning, PlanError> {
    // Over a join, columns are told apart by their source too.
    let text = |e: &Expr| {
        if joined {
            crate::ksql_text::expr_text_in(e, &source.name)
        } else {
            expr_text(e)
        }
    };
    let texts: Vec<String> = exprs.iter().map(text).collect();
    let output_keys = select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                let t = text(e);
                texts.iter().position(|x| *x == t)
            }
            _ => None,
        })
        .collect();
    Ok(Partitioning {
        exprs: exprs
            .iter()
            .map(|e| crate::ksql_text::expr_text_in(e, &source.name))
            .collect(),
        names: texts,
        output_keys,
    })
}
