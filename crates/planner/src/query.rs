//! Lowering a KSQL query to dataflow operators.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr as LExpr, LogicalPlan};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::sql::planner::{ParserOptions, SqlToRel};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use sluice_catalog::{types, Catalog, SourceDef, ROWTIME};
use sluice_dataflow::ops::{Filter, Project};
use sluice_dataflow::{Operator, Pipeline};
use sluice_parser::{Emit, KsqlQuery};

use crate::context::KsqlContext;
use crate::rewrite::{apply_projection_rules, from_sources, select_mut};
use crate::{PlanError, Planner};

/// Name of the column that carries each output row's event time next to the visible columns
/// (the sink writes it as the record timestamp; clients never see it).
pub const EVENT_TIME: &str = "__sluice_rowtime";

/// One operator of a planned query, ready to be instantiated once per task.
#[derive(Debug, Clone)]
pub enum OpSpec {
    Filter(Arc<dyn PhysicalExpr>),
    Project(Vec<Arc<dyn PhysicalExpr>>, SchemaRef),
}

impl OpSpec {
    /// A fresh operator for one task.
    pub fn instantiate(&self) -> Box<dyn Operator> {
        match self {
            OpSpec::Filter(p) => Box::new(Filter::new(p.clone())),
            OpSpec::Project(e, s) => Box::new(Project::new(e.clone(), s.clone())),
        }
    }
}

/// A planned continuous query.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// The source it reads.
    pub source: Arc<SourceDef>,
    /// Its operators, in order.
    pub ops: Vec<OpSpec>,
    /// The columns clients and sinks see (canonical KSQL types), in order. Batches leaving the
    /// pipeline have these columns followed by [`EVENT_TIME`].
    pub output: SchemaRef,
    /// For each output column, the source column it is a plain reference to (possibly renamed).
    pub origins: Vec<Option<String>>,
    pub limit: Option<u64>,
    pub emit: Option<Emit>,
}

impl QueryPlan {
    /// A pipeline of fresh operators.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.ops.iter().map(OpSpec::instantiate).collect())
    }

    /// The operator graph as text, for EXPLAIN.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "Source: {} (topic {}, key {}, value {})",
            self.source.name,
            self.source.topic,
            self.source.key_format.kind,
            self.source.value_format.kind
        )];
        lines.extend(self.pipeline().describe());
        if let Some(n) = self.limit {
            lines.push(format!("Limit: {n}"));
        }
        lines
    }
}

impl Planner {
    /// Plan a query over the catalog's sources.
    pub fn plan_query(&self, query: &KsqlQuery, catalog: &Catalog) -> Result<QueryPlan, PlanError> {
        if query.window.is_some() {
            return Err(PlanError::Unsupported(
                "windowed aggregation is not supported yet".into(),
            ));
        }
        if query.partition_by.is_some() {
            return Err(PlanError::Unsupported(
                "PARTITION BY is not supported yet".into(),
            ));
        }
        let mut q = query.query.clone();
        let select = select_mut(&mut q)?;
        let sources = from_sources(select)?;
        if sources.is_empty() {
            return Err(PlanError::Invalid("a query needs a FROM clause".into()));
        }
        if sources.len() > 1 {
            return Err(PlanError::Unsupported("joins are not supported yet".into()));
        }
        for s in &sources {
            catalog.require(&s.source)?;
        }
        apply_projection_rules(select, catalog)?;
        let limit_from_query = query.limit;

        let ctx = KsqlContext::new(&self.state, catalog);
        let options = ParserOptions {
            parse_float_as_decimal: true,
            enable_ident_normalization: false,
            ..ParserOptions::new()
        };
        let sql_to_rel = SqlToRel::new_with_options(&ctx, options);
        let plan = sql_to_rel.sql_statement_to_plan(SqlStatement::Query(Box::new(q)))?;

        let mut lowering = Lowering {
            planner: self,
            ops: Vec::new(),
            limit: None,
            output: None,
        };
        let source_name = lowering.lower(&plan)?;
        let source = catalog.require(&source_name)?.clone();
        let (output, origins) = lowering
            .output
            .ok_or_else(|| PlanError::Invalid("query has no projection".into()))?;
        Ok(QueryPlan {
            source,
            ops: lowering.ops,
            output,
            origins,
            limit: limit_from_query.or(lowering.limit),
            emit: query.emit.clone(),
        })
    }
}

struct Lowering<'a> {
    planner: &'a Planner,
    ops: Vec<OpSpec>,
    limit: Option<u64>,
    output: Option<(SchemaRef, Vec<Option<String>>)>,
}

impl Lowering<'_> {
    /// Lower `plan` bottom-up; returns the name of the source scanned.
    fn lower(&mut self, plan: &LogicalPlan) -> Result<String, PlanError> {
        let state = &self.planner.state;
        match plan {
            LogicalPlan::TableScan(scan) => {
                if !scan.filters.is_empty() {
                    return Err(PlanError::Unsupported("pushed-down scan filters".into()));
                }
                Ok(scan.table_name.table().to_string())
            }
            LogicalPlan::SubqueryAlias(a) => self.lower(&a.input),
            LogicalPlan::Filter(f) => {
                let source = self.lower(&f.input)?;
                let predicate =
                    state.create_physical_expr(f.predicate.clone(), f.input.schema())?;
                self.ops.push(OpSpec::Filter(predicate));
                Ok(source)
            }
            LogicalPlan::Projection(p) => {
                let source = self.lower(&p.input)?;
                let input_schema = p.input.schema();
                let arrow_input = input_schema.as_arrow();
                let mut exprs = Vec::with_capacity(p.expr.len() + 1);
                let mut fields = Vec::with_capacity(p.expr.len() + 1);
                let mut origins = Vec::with_capacity(p.expr.len());
                for (expr, field) in p.expr.iter().zip(p.schema.fields()) {
                    let name = field.name().clone();
                    if name == EVENT_TIME {
                        return Err(PlanError::Invalid(format!("reserved column name {name}")));
                    }
                    let physical = state.create_physical_expr(expr.clone(), input_schema)?;
                    let ty = physical.data_type(arrow_input)?;
                    let ty = types::canonical(&ty)
                        .map_err(|e| PlanError::Type(format!("column {name}: {e}")))?;
                    origins.push(column_origin(expr));
                    exprs.push(physical);
                    fields.push(Field::new(name, ty, true));
                }
                let output = Arc::new(Schema::new(fields.clone()));
                let rowtime = Column::new_with_schema(ROWTIME, arrow_input)?;
                exprs.push(Arc::new(rowtime));
                fields.push(Field::new(
                    EVENT_TIME,
                    datafusion::arrow::datatypes::DataType::Int64,
                    true,
                ));
                self.ops
                    .push(OpSpec::Project(exprs, Arc::new(Schema::new(fields))));
                self.output = Some((output, origins));
                Ok(source)
            }
            LogicalPlan::Limit(l) => {
                let source = self.lower(&l.input)?;
                if let Some(fetch) = &l.fetch {
                    if let LExpr::Literal(ScalarValue::Int64(Some(n)), _) = fetch.as_ref() {
                        self.limit = Some(*n as u64);
                    }
                }
                Ok(source)
            }
            LogicalPlan::Aggregate(_) => Err(PlanError::Unsupported(
                "aggregation (GROUP BY) is not supported yet".into(),
            )),
            LogicalPlan::Join(_) => {
                Err(PlanError::Unsupported("joins are not supported yet".into()))
            }
            other => Err(PlanError::Unsupported(format!(
                "unsupported query shape: {}",
                other.display()
            ))),
        }
    }
}

/// The input column an output expression is a plain (possibly aliased) reference to.
fn column_origin(expr: &LExpr) -> Option<String> {
    match expr {
        LExpr::Column(c) => Some(c.name.clone()),
        LExpr::Alias(a) => column_origin(&a.expr),
        _ => None,
    }
}
