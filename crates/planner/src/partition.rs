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

use datafusion::sql::sqlparser::ast::{Expr, Ident, Select, SelectItem};
use sluice_catalog::{Catalog, SourceDef, PSEUDO_COLUMNS, ROWOFFSET, ROWPARTITION, ROWTIME};

use crate::rewrite::FromSource;

use crate::ksql_text::{expr_text, name_text};
use crate::PlanError;

/// `SELECT *` over a join with PARTITION BY, as ksqlDB expands it: the PARTITION BY
/// expressions first (a column named `<source>_<column>`, any other expression named as
/// unaliased expressions are), then for each source in FROM order its value columns, its
/// ROWTIME, ROWPARTITION and ROWOFFSET, and its key columns, each named
/// `<source>_<column>`, leaving out the columns PARTITION BY names.
fn join_star(
    exprs: &[Expr],
    select: &mut Select,
    sources: &[FromSource],
    catalog: &Catalog,
) -> Result<(), PlanError> {
    if !select
        .projection
        .iter()
        .any(|i| matches!(i, SelectItem::Wildcard(_)))
    {
        return Ok(());
    }
    let defs = sources
        .iter()
        .map(|s| catalog.require(&s.source))
        .collect::<Result<Vec<_>, _>>()?;
    let qualifier = |i: usize| {
        sources[i]
            .alias
            .clone()
            .unwrap_or_else(|| sources[i].source.clone())
    };
    // The source and column a PARTITION BY expression names, if it is a plain column.
    let owner = |e: &Expr| -> Option<(usize, String)> {
        match e {
            Expr::Identifier(c) => defs
                .iter()
                .position(|d| d.column(&c.value).is_some())
                .map(|i| (i, c.value.clone())),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => (0..sources.len())
                .find(|&i| qualifier(i) == parts[0].value || sources[i].source == parts[0].value)
                .filter(|&i| defs[i].column(&parts[1].value).is_some())
                .map(|i| (i, parts[1].value.clone())),
            _ => None,
        }
    };
    let owners: Vec<Option<(usize, String)>> = exprs.iter().map(owner).collect();
    let named = |q: &str, c: &str| SelectItem::ExprWithAlias {
        expr: Expr::CompoundIdentifier(vec![Ident::new(q), Ident::new(c)]),
        alias: Ident::with_quote('"', format!("{q}_{c}")),
    };
    let mut star = Vec::new();
    for (e, o) in exprs.iter().zip(&owners) {
        star.push(match o {
            Some((i, c)) => SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: Ident::with_quote('"', format!("{}_{c}", qualifier(*i))),
            },
            None => SelectItem::UnnamedExpr(e.clone()),
        });
    }
    for (i, def) in defs.iter().enumerate() {
        let q = qualifier(i);
        let kept = |c: &str| !owners.iter().flatten().any(|(j, k)| *j == i && k == c);
        let values = def.value_columns().map(|c| c.name.as_str());
        let keys = def.key_columns().map(|c| c.name.as_str());
        let pseudo = [ROWTIME, ROWPARTITION, ROWOFFSET].into_iter();
        for c in values.chain(pseudo).chain(keys).filter(|c| kept(c)) {
            star.push(named(&q, c));
        }
    }
    let mut items = Vec::with_capacity(select.projection.len() + star.len());
    for item in std::mem::take(&mut select.projection) {
        match item {
            SelectItem::Wildcard(_) => items.extend(star.iter().cloned()),
            other => items.push(other),
        }
    }
    select.projection = items;
    Ok(())
}

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
    join: Option<(&[FromSource], &Catalog)>,
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
    if let Some((sources, catalog)) = join {
        // Over a join, PARTITION BY re-keys the joined rows (columns of either side).
        join_star(exprs, select, sources, catalog)?;
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
