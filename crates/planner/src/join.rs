//! Joins: which shapes are supported and how their operator is planned.
//!
//! Supported today: a stream joined with a table (`INNER JOIN` / `JOIN`, `LEFT [OUTER] JOIN`)
//! on one equality between an expression of the stream and the table's primary key, as
//! ksqlDB's stream–table join. The result is a stream keyed by the join key. Other shapes
//! (stream–stream, table–table, foreign-key, n-way joins) are refused with a clear error.
//!
//! Naming (ksqlDB's): in a join, `SELECT *` and unaliased qualified columns (`o.id`) are
//! named `<source or alias>_<column>` (`O_ID`); unqualified columns keep their name.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{Expr as LExpr, JoinType, LogicalPlan, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::sql::sqlparser::ast::{JoinConstraint, JoinOperator, Select};
use sluice_catalog::{Catalog, SourceDef, SourceKind};
use sluice_dataflow::ops::StreamTableJoinSpec;

use crate::rewrite::FromSource;
use crate::PlanError;

/// A planned stream–table join.
#[derive(Debug, Clone)]
pub struct PlannedJoin {
    /// The table joined to the query's stream (the plan's source).
    pub right: Arc<SourceDef>,
    pub spec: StreamTableJoinSpec,
    /// The stream column the join key comes from, as `RELATION.COLUMN`, when the join
    /// expression is a plain column (the result's key column is the output column that selects
    /// it).
    pub left_key_column: Option<String>,
}

/// Checks that the FROM clause is a join Sluice runs (see the module docs).
pub fn check(select: &Select, sources: &[FromSource], catalog: &Catalog) -> Result<(), PlanError> {
    if sources.len() > 2 || select.from.len() != 1 || select.from[0].joins.len() != 1 {
        return Err(PlanError::Unsupported(
            "joins of more than two sources are not supported yet".into(),
        ));
    }
    let join = &select.from[0].joins[0];
    let (left, right) = (
        catalog.require(&sources[0].source)?,
        catalog.require(&sources[1].source)?,
    );
    let kind = |d: &SourceDef| match d.kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    };
    if left.kind != SourceKind::Stream || right.kind != SourceKind::Table {
        return Err(PlanError::Unsupported(format!(
            "{}-{} joins are not supported yet (only stream-table joins)",
            kind(left),
            kind(right)
        )));
    }
    let constraint = match &join.join_operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => c,
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => c,
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => {
            return Err(PlanError::Invalid(
                "Invalid join type: RIGHT OUTER JOIN is not supported for stream-table joins.".into(),
            ))
        }
        JoinOperator::FullOuter(_) => {
            return Err(PlanError::Invalid(
                "Invalid join type: full-outer join not supported for Stream-Table join. Got STREAM [FULL] OUTER JOIN TABLE.".into(),
            ))
        }
        other => {
            return Err(PlanError::Unsupported(format!(
                "unsupported join: {other:?}"
            )))
        }
    };
    // The ON condition's shape is checked on the planned join (`equality`).
    if !matches!(constraint, JoinConstraint::On(_)) {
        return Err(PlanError::Invalid("a join needs an ON clause".into()));
    }
    if right.key_columns().count() != 1 {
        return Err(PlanError::Unsupported(
            "joins with a multi-column table key are not supported yet".into(),
        ));
    }
    Ok(())
}

/// The source a side of a join scans (through aliases).
fn scanned(plan: &LogicalPlan) -> Option<String> {
    match plan {
        LogicalPlan::TableScan(s) => Some(s.table_name.table().to_string()),
        LogicalPlan::SubqueryAlias(a) => scanned(&a.input),
        _ => None,
    }
}

/// The join's one equality, as (expression over the left side, expression over the right).
/// The SQL planner leaves `ON a = b` as the join's filter (only the optimizer, which Sluice does
/// not run on continuous queries, moves it to `on`).
fn equality(join: &datafusion::logical_expr::Join) -> Result<(LExpr, LExpr), PlanError> {
    let unsupported = || {
        PlanError::Unsupported(
            "join conditions other than one equality are not supported yet".into(),
        )
    };
    let (a, b) = match (join.on.as_slice(), &join.filter) {
        ([(a, b)], None) => (a.clone(), b.clone()),
        ([], Some(LExpr::BinaryExpr(e))) if e.op == Operator::Eq => {
            (e.left.as_ref().clone(), e.right.as_ref().clone())
        }
        _ => return Err(unsupported()),
    };
    let on = |e: &LExpr, side: &LogicalPlan| {
        let refs = e.column_refs();
        !refs.is_empty() && refs.iter().all(|c| side.schema().has_column(c))
    };
    if on(&a, &join.left) && on(&b, &join.right) {
        Ok((a, b))
    } else if on(&b, &join.left) && on(&a, &join.right) {
        Ok((b, a))
    } else {
        Err(PlanError::Invalid(format!(
            "Invalid join condition: {a} = {b}: each side must refer to one source."
        )))
    }
}

/// Plans a DataFusion join node as a stream–table join.
pub fn plan(
    join: &datafusion::logical_expr::Join,
    catalog: &Catalog,
    physical: &dyn Fn(
        &LExpr,
        &datafusion::common::DFSchema,
    ) -> Result<Arc<dyn PhysicalExpr>, PlanError>,
) -> Result<PlannedJoin, PlanError> {
    let left_outer = match join.join_type {
        JoinType::Inner => false,
        JoinType::Left => true,
        other => {
            return Err(PlanError::Unsupported(format!(
                "{other} joins are not supported yet"
            )))
        }
    };
    let (l, r) = equality(join)?;
    let (Some(_left_name), Some(right_name)) = (scanned(&join.left), scanned(&join.right)) else {
        return Err(PlanError::Unsupported(
            "joins of joins are not supported yet".into(),
        ));
    };
    let right = catalog.require(&right_name)?.clone();
    let key = right
        .key_columns()
        .next()
        .map(|c| c.name.clone())
        .ok_or_else(|| PlanError::Invalid(format!("table {} has no key", right.name)))?;
    let right_col = match &r {
        LExpr::Column(c) => c.name.clone(),
        _ => String::new(),
    };
    if right_col != key {
        return Err(PlanError::Unsupported(format!(
            "a stream-table join must be on the table's primary key ({}): foreign-key and expression joins on the table side are not supported yet",
            right.name
        )));
    }
    let right_schema: SchemaRef = Arc::new(join.right.schema().as_arrow().clone());
    let right_key = right_schema
        .index_of(&key)
        .map_err(|e| PlanError::Invalid(e.to_string()))?;
    let left_key = physical(&l, join.left.schema())?;
    let left_key_column = match &l {
        LExpr::Column(c) => Some(match &c.relation {
            Some(r) => format!("{}.{}", r.table(), c.name),
            None => c.name.clone(),
        }),
        _ => None,
    };
    Ok(PlannedJoin {
        right,
        spec: StreamTableJoinSpec {
            left_key,
            right_schema,
            right_key,
            left_outer,
            output: Arc::new(join.schema.as_arrow().clone()),
        },
        left_key_column,
    })
}
