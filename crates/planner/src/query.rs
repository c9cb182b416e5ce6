//! Lowering a KSQL query to dataflow operators.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr as LExpr, LogicalPlan};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
#[allow(deprecated)]
use datafusion::physical_planner::create_aggregate_expr_and_maybe_filter;
use datafusion::sql::planner::{ParserOptions, SqlToRel};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion::sql::sqlparser::ast::{Expr, GroupByExpr, Ident, JoinOperator};
use sluice_catalog::{types, Catalog, SourceDef, SourceKind, ROWTIME, WINDOWEND, WINDOWSTART};
use sluice_dataflow::ops::{
    Aggregate, AggregateSpec, Filter, Project, TableUpsert, WindowAssign, WindowPolicy,
};
use sluice_dataflow::{Operator, Pipeline};
use sluice_parser::{Emit, KsqlQuery, WindowKind, WindowSpec};

use crate::context::KsqlContext;
use crate::rewrite::{apply_projection_rules, from_sources, select_mut};
use crate::{PlanError, Planner};

pub use sluice_catalog::EVENT_TIME;

/// One operator of a planned query, ready to be instantiated once per task.
#[derive(Debug, Clone)]
pub enum OpSpec {
    /// A source table's upserts and tombstones into a changelog (key column indices).
    TableUpsert(SchemaRef, Vec<usize>),
    /// Tumbling/hopping window assignment (size, advance, input schema).
    WindowAssign(i64, i64, SchemaRef),
    Filter(Arc<dyn PhysicalExpr>),
    Project(Vec<Arc<dyn PhysicalExpr>>, SchemaRef),
    Aggregate(AggregateSpec),
    /// EXPLODE: list columns to explode, each output column's input column, output schema,
    /// where the input's hidden columns start.
    Explode(Vec<usize>, Vec<usize>, SchemaRef, usize),
}

impl OpSpec {
    /// A fresh operator for one task.
    pub fn instantiate(&self) -> Result<Box<dyn Operator>, PlanError> {
        Ok(match self {
            OpSpec::TableUpsert(schema, keys) => {
                Box::new(TableUpsert::new(schema.clone(), keys.clone()).map_err(dataflow_error)?)
            }
            OpSpec::WindowAssign(size, advance, input) => {
                Box::new(WindowAssign::new(*size, *advance, input))
            }
            OpSpec::Filter(p) => Box::new(Filter::new(p.clone())),
            OpSpec::Project(e, s) => Box::new(Project::new(e.clone(), s.clone())),
            OpSpec::Aggregate(spec) => {
                Box::new(Aggregate::new(spec.clone()).map_err(dataflow_error)?)
            }
            OpSpec::Explode(lists, dependency, output, hidden) => {
                Box::new(sluice_dataflow::ops::Explode::new(
                    lists.clone(),
                    dependency.clone(),
                    output.clone(),
                    *hidden,
                ))
            }
        })
    }
}

fn dataflow_error(e: sluice_dataflow::DataflowError) -> PlanError {
    PlanError::Invalid(e.to_string())
}

pub use sluice_catalog::{WINDOW_END_KEY, WINDOW_START_KEY};

/// What an aggregating query groups by, for the sink's key.
#[derive(Debug, Clone)]
pub struct Grouping {
    /// The GROUP BY expressions as written (for error messages), without the window bounds.
    pub exprs: Vec<String>,
    /// For each output column, the index of the GROUP BY expression it is, if it is one.
    pub output_groups: Vec<Option<usize>>,
    /// The window, when the aggregation is windowed.
    pub window: Option<WindowKind>,
}

/// Where a query's rows cross a repartition topic: its stateful step is keyed differently
/// from its source (GROUP BY anything but the source's key), so a persistent query runs as two
/// tasks, the operators before `at` in the first, the rest in the second (see
/// `sluice_dataflow::repartition`).
#[derive(Debug, Clone)]
pub struct Repartition {
    /// Index of the first operator of the second task (the aggregation, or the window
    /// assignment before it).
    pub at: usize,
    /// The new key, over the rows leaving the first task (the GROUP BY expressions without
    /// the window bounds: every window of a key is kept by the key's task).
    pub key_exprs: Vec<Arc<dyn PhysicalExpr>>,
    pub key_types: Vec<datafusion::arrow::datatypes::DataType>,
    /// The operator that needs the new key, for the topic's name (ksqlDB's
    /// `<query>-Aggregate-GroupBy-repartition`).
    pub name: &'static str,
}

/// The step name of an aggregation's repartition topic (`<query>-Aggregate-GroupBy-repartition`).
pub const GROUP_BY_REPARTITION: &str = "Aggregate-GroupBy";

/// Which operators of a plan a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanPart {
    /// All of them (one task per query).
    Whole,
    /// Those before the repartition topic.
    BeforeRepartition,
    /// Those after it.
    AfterRepartition,
    /// None: the re-keying of a join input (its records cross to a `-Join-*-repartition`
    /// topic as they are, placed by their join key; see [`crate::join::JoinRepartition`]).
    JoinFront,
    /// None after the joins of stage `s` of a query whose joined rows are re-keyed before a
    /// later join (see [`crate::join::JoinStage`]): the stage's rows cross to the next
    /// stage's `-Join-left-<k>-repartition` topic. The last stage runs as `Whole` or
    /// `BeforeRepartition`.
    JoinStage(usize),
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
    /// Set when the query aggregates (its result is a table keyed by the GROUP BY).
    pub grouping: Option<Grouping>,
    /// Set when the query re-keys its rows with PARTITION BY.
    pub partitioning: Option<crate::partition::Partitioning>,
    /// Set when a persistent run of the query moves its rows through a repartition topic.
    pub repartition: Option<Repartition>,
    /// The joins of the query's source with others, left to right (join `k` joins the result
    /// of the ones before it with its `right` source); `ops` apply to the joined rows.
    pub joins: Vec<crate::join::PlannedJoin>,
    /// For a join: which output column is the result's key (see [`crate::join::choose_key`]).
    pub join_key: Option<crate::join::JoinKey>,
    /// The name each FROM source is referred to by (its alias, else its name), in FROM order:
    /// the query's source, then each join's right source.
    pub from_names: Vec<String>,
}

impl QueryPlan {
    /// `cache.max.bytes.buffering` > 0: aggregations emit one change per key and batch instead
    /// of one per input row (same final state, fewer records).
    pub fn set_coalesce(&mut self, on: bool) {
        for op in &mut self.ops {
            if let OpSpec::Aggregate(spec) = op {
                spec.coalesce = on;
            }
        }
    }

    /// A pipeline of fresh operators.
    pub fn pipeline(&self) -> Result<Pipeline, PlanError> {
        self.pipeline_part(PlanPart::Whole)
    }

    /// A pipeline of fresh operators for one part of the plan (the whole plan when it has no
    /// repartition topic).
    pub fn pipeline_part(&self, part: PlanPart) -> Result<Pipeline, PlanError> {
        let at = self.repartition.as_ref().map(|r| r.at);
        let ops = match (part, at) {
            (PlanPart::JoinFront | PlanPart::JoinStage(_), _) => &[][..],
            (PlanPart::Whole, _) | (_, None) => &self.ops[..],
            (PlanPart::BeforeRepartition, Some(at)) => &self.ops[..at],
            (PlanPart::AfterRepartition, Some(at)) => &self.ops[at..],
        };
        Ok(Pipeline::new(
            ops.iter()
                .map(OpSpec::instantiate)
                .collect::<Result<_, _>>()?,
        ))
    }

    /// Whether `part` of the plan runs as one task per input partition (Kafka Streams'
    /// model: task `p` reads partition `p` of every input, with its own state and changelog
    /// partition). True unless the joins cannot be partitioned (see
    /// [`crate::join::partitioning`]); those run as one task over all partitions. The part
    /// after a repartition topic always reads it per partition. The re-keying of a join input
    /// is one task over its input's partitions: it has no state, and it writes their records
    /// in time order, so each partition of its repartition topic receives them in time order
    /// (the join orders its inputs by the records' times, partition by partition).
    pub fn per_partition(&self, part: PlanPart) -> bool {
        match part {
            PlanPart::JoinFront => return false,
            PlanPart::AfterRepartition => return true,
            PlanPart::Whole | PlanPart::BeforeRepartition | PlanPart::JoinStage(_) => {}
        }
        self.joins.is_empty() || crate::join::partitioning(&self.joins).is_some()
    }

    /// The joins `part` of a persistent query runs (by index into [`QueryPlan::joins`]): all
    /// of them unless they run in stages (see [`crate::join::JoinStage`]), then the stage's,
    /// the last stage's for `Whole` and `BeforeRepartition`; none after the repartition topic
    /// or for a re-keying task. (A push query runs all its joins in one task.)
    pub fn join_range(&self, part: PlanPart) -> std::ops::Range<usize> {
        let n = self.joins.len();
        let stages = crate::join::partitioning(&self.joins).map(|p| (p.stages.len(), p));
        match (part, stages) {
            (PlanPart::JoinFront | PlanPart::AfterRepartition, _) => 0..0,
            (PlanPart::JoinStage(s), Some((_, p))) => p.stage_range(s, n),
            (PlanPart::JoinStage(_), None) => 0..0,
            (PlanPart::Whole | PlanPart::BeforeRepartition, Some((last, p))) => {
                p.stage_range(last, n)
            }
            (PlanPart::Whole | PlanPart::BeforeRepartition, None) => 0..n,
        }
    }

    /// Whether the result is a table (an aggregation, or a query over a table).
    pub fn is_table(&self) -> bool {
        self.grouping.is_some() || self.source.kind == SourceKind::Table
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
        for j in &self.joins {
            lines.push(format!(
                "Joined {}: {} (topic {}, key {}, value {})",
                match j.right.kind {
                    SourceKind::Stream => "stream",
                    SourceKind::Table => "table",
                },
                j.right.name,
                j.right.topic,
                j.right.key_format.kind,
                j.right.value_format.kind
            ));
            if let Ok(op) = sluice_dataflow::ops::JoinOp::new(j.spec.clone()) {
                lines.push(op.name());
            }
        }
        match &self.repartition {
            None => {
                if let Ok(p) = self.pipeline() {
                    lines.extend(p.describe());
                }
            }
            Some(r) => {
                if let Ok(p) = self.pipeline_part(PlanPart::BeforeRepartition) {
                    lines.extend(p.describe());
                }
                let keys: Vec<String> = r.key_exprs.iter().map(|e| e.to_string()).collect();
                lines.push(format!(
                    "Repartition: by [{}] through topic <query>-{}-repartition (persistent queries)",
                    keys.join(", "),
                    r.name
                ));
                if let Ok(p) = self.pipeline_part(PlanPart::AfterRepartition) {
                    lines.extend(p.describe());
                }
            }
        }
        if let Some(n) = self.limit {
            lines.push(format!("Limit: {n}"));
        }
        let partitioning = crate::join::partitioning(&self.joins);
        for r in partitioning.iter().flat_map(|p| &p.repartitions) {
            lines.push(format!(
                "Repartition: input {} by {} through topic <query>-{}-repartition (persistent \
                 queries)",
                r.input, r.key, r.name
            ));
        }
        for st in partitioning.iter().flat_map(|p| &p.stages) {
            lines.push(format!(
                "Repartition: the rows joined before join {} by {} through topic \
                 <query>-{}-repartition (persistent queries)",
                st.at + 1,
                st.key,
                st.name
            ));
        }
        lines.push(
            if self.joins.is_empty() || partitioning.is_some() {
                "Tasks: one per input partition (persistent queries)"
            } else {
                "Tasks: one over all input partitions (the joins cannot be partitioned)"
            }
            .to_string(),
        );
        lines
    }
}

impl Planner {
    /// Plan a query over the catalog's sources.
    pub fn plan_query(&self, query: &KsqlQuery, catalog: &Catalog) -> Result<QueryPlan, PlanError> {
        let mut q = query.query.clone();
        let select = select_mut(&mut q)?;
        let sources = from_sources(select)?;
        if sources.is_empty() {
            return Err(PlanError::Invalid("a query needs a FROM clause".into()));
        }
        for s in &sources {
            catalog.require(&s.source)?;
        }
        let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
        if sources.len() > 1 {
            crate::join::check(select, &sources, &query.joins_within, catalog)?;
            if query.window.is_some() {
                // The window is assigned to the joined rows, at the join result's time.
                let defs = sources
                    .iter()
                    .map(|s| catalog.require(&s.source))
                    .collect::<Result<Vec<_>, _>>()?;
                if defs.iter().any(|d| d.window.is_some()) {
                    return Err(PlanError::Unsupported(
                        "WINDOW over a join of windowed sources is not supported".into(),
                    ));
                }
                if defs.iter().all(|d| d.kind == SourceKind::Table) {
                    return Err(PlanError::Unsupported(
                        "WINDOW over a join of tables is not supported".into(),
                    ));
                }
            }
        }
        // A GROUP BY over a join of tables aggregates the join's changelog, keyed by the first
        // table's key: that key is present in every result row of INNER and LEFT joins only.
        let all_tables = sources.len() > 1
            && sources.iter().all(|s| {
                catalog
                    .require(&s.source)
                    .is_ok_and(|d| d.kind == SourceKind::Table)
            });
        if grouped && all_tables {
            let outer = select.from[0].joins.iter().any(|j| {
                !matches!(
                    j.join_operator,
                    JoinOperator::Join(_)
                        | JoinOperator::Inner(_)
                        | JoinOperator::Left(_)
                        | JoinOperator::LeftOuter(_)
                )
            });
            if outer {
                return Err(PlanError::Unsupported(
                    "GROUP BY over a RIGHT or FULL OUTER join of tables is not supported yet"
                        .into(),
                ));
            }
        }
        let partition_by = match &query.partition_by {
            None => None,
            Some(exprs) => Some(crate::partition::prepare(
                exprs,
                select,
                catalog.require(&sources[0].source)?,
                grouped,
                (sources.len() > 1).then_some((sources.as_slice(), catalog)),
            )?),
        };
        let group_texts: Vec<String> = match &select.group_by {
            GroupByExpr::Expressions(e, _) => e.iter().map(crate::ksql_text::expr_text).collect(),
            GroupByExpr::All(_) => {
                return Err(PlanError::Unsupported("GROUP BY ALL is not KSQL".into()))
            }
        };
        if query.emit == Some(Emit::Final) && query.window.is_none() {
            return Err(PlanError::Invalid(
                "EMIT FINAL is only supported for windowed aggregations.".into(),
            ));
        }
        let window = match &query.window {
            None => None,
            Some(w) => {
                if !grouped {
                    // ksqlDB reports the SELECT's unaggregated columns first.
                    let mut probe = select.clone();
                    apply_projection_rules(&mut probe, catalog)?;
                    crate::aggregate_check::check(
                        &probe,
                        sources[0].alias.as_deref().unwrap_or(&sources[0].source),
                        false,
                        &|_| true,
                    )?;
                    return Err(PlanError::Invalid(
                        "WINDOW clause requires a GROUP BY clause.".into(),
                    ));
                }
                if catalog.require(&sources[0].source)?.window.is_none() {
                    check_window_bounds(select)?;
                }
                Some(w.clone())
            }
        };
        let star = select
            .projection
            .iter()
            .any(|i| matches!(i, datafusion::sql::sqlparser::ast::SelectItem::Wildcard(_)));
        apply_projection_rules(select, catalog)?;
        let join_key = if sources.len() > 1 {
            // The groups key an aggregation's result: its projection stays as written (a
            // grouped column of a null-padded side is not the join key).
            let mut probe;
            let target = if grouped {
                probe = select.clone();
                &mut probe
            } else {
                &mut *select
            };
            Some(crate::join::choose_key(target, &sources, catalog, star)?)
        } else {
            None
        };
        let partitioning = match &partition_by {
            Some(exprs) => Some(crate::partition::partitioning(
                exprs,
                select,
                catalog.require(&sources[0].source)?,
                sources.len() > 1,
            )?),
            None => None,
        };
        let mut grouped_by_key = false;
        if grouped {
            // GROUP BY anything but the source's key moves rows through a repartition topic
            // in the source's value format; ksqlDB cannot write KAFKA values with several
            // columns there.
            let def = catalog.require(&sources[0].source)?;
            let keys: Vec<String> = def.key_columns().map(|c| c.name.clone()).collect();
            let by_key = matches!(&select.group_by, GroupByExpr::Expressions(e, _)
                if e.iter().map(crate::ksql_text::expr_text).collect::<Vec<_>>()
                    == keys.iter().map(|k| crate::ksql_text::name_text(k)).collect::<Vec<_>>());
            grouped_by_key = by_key;
            if !by_key && def.value_format.kind == sluice_formats::FormatKind::Kafka {
                return Err(PlanError::Invalid(format!(
                    "Source(s) {} are using the 'KAFKA' value format. This format does not yet support GROUP BY.",
                    def.name
                )));
            }
        }
        {
            let ctx = KsqlContext::new(&self.state, catalog);
            crate::aggregate_check::check(
                select,
                sources[0].alias.as_deref().unwrap_or(&sources[0].source),
                window.is_some(),
                &|name| ctx.knows_function(name),
            )?;
        }
        if window.is_some() {
            // The window bounds are group columns: rows of different windows aggregate apart.
            if let GroupByExpr::Expressions(e, _) = &mut select.group_by {
                e.push(Expr::Identifier(Ident::new(WINDOWSTART)));
                e.push(Expr::Identifier(Ident::new(WINDOWEND)));
            }
        }
        crate::rewrite::time_unit_arguments(&mut q);
        crate::rewrite::int_literals(&mut q);
        crate::rewrite::field_accesses(&mut q);
        crate::rewrite::explode_to_unnest(&mut q);
        crate::rewrite::lambda_array_literals(&mut q);
        crate::rewrite::star_arguments(&mut q);
        let limit_from_query = query.limit;

        let mut ctx = KsqlContext::new(&self.state, catalog);
        if window.is_some() {
            ctx = if sources.len() > 1 {
                // Only the leftmost source's scan carries the bounds (so that they are not
                // ambiguous); the lowering moves them after the joins.
                ctx.with_window_columns_on(&sources[0].source)
            } else {
                ctx.with_window_columns()
            };
        }
        let options = ParserOptions {
            parse_float_as_decimal: true,
            enable_ident_normalization: false,
            ..ParserOptions::new()
        };
        let sql_to_rel = SqlToRel::new_with_options(&ctx, options);
        let plan = sql_to_rel.sql_statement_to_plan(SqlStatement::Query(Box::new(q)))?;

        let source_name = scanned_source(&plan)?;
        let source = catalog.require(&source_name)?.clone();
        let mut lowering = Lowering {
            planner: self,
            ops: Vec::new(),
            limit: None,
            output: None,
            groups: None,
            window: window.clone(),
            emit_final: query.emit == Some(Emit::Final),
            source_is_table: source.kind == SourceKind::Table,
            repartition: None,
            repartitions: grouped && !grouped_by_key,
            repartition_at: None,
            joins: Vec::new(),
            within: query.joins_within.clone(),
            left_kind: source.kind,
            changelog_after_joins: grouped && join_key.is_some() && all_tables,
            join_depth: 0,
            catalog,
        };
        // A joined table's changes go to the join as they are (it keeps the rows itself).
        if source.kind == SourceKind::Table && join_key.is_none() {
            let schema = source.batch_schema()?;
            // A windowed table's rows are keyed by key and window.
            let window_keys: &[&str] = if source.window.is_some() {
                &[WINDOWSTART, WINDOWEND]
            } else {
                &[]
            };
            let keys: Vec<usize> = source
                .key_columns()
                .map(|c| c.name.as_str())
                .chain(window_keys.iter().copied())
                .map(|name| schema.index_of(name))
                .collect::<Result<_, _>>()
                .map_err(|e| PlanError::Invalid(e.to_string()))?;
            lowering.ops.push(OpSpec::TableUpsert(schema, keys));
        }
        if let Some(w) = window.as_ref().filter(|_| join_key.is_none()) {
            let (size, advance) = window_size_advance(&w.kind);
            lowering
                .ops
                .push(OpSpec::WindowAssign(size, advance, source.batch_schema()?));
        }
        lowering.lower(&plan)?;
        let (output, origins) = lowering
            .output
            .ok_or_else(|| PlanError::Invalid("query has no projection".into()))?;
        let grouping = match lowering.groups {
            Some(output_groups) => Some(Grouping {
                exprs: group_texts,
                output_groups,
                window: window.map(|w| w.kind),
            }),
            None if grouped => {
                return Err(PlanError::Invalid("GROUP BY without aggregation".into()))
            }
            None => None,
        };
        if grouping.is_none() && query.emit == Some(Emit::Final) {
            return Err(PlanError::Invalid(
                "EMIT FINAL is only supported for windowed aggregations.".into(),
            ));
        }
        Ok(QueryPlan {
            source,
            ops: lowering.ops,
            output,
            origins,
            limit: limit_from_query.or(lowering.limit),
            emit: query.emit,
            grouping,
            partitioning,
            repartition: if grouped_by_key {
                None
            } else {
                lowering.repartition
            },
            joins: lowering.joins,
            join_key,
            from_names: sources
                .iter()
                .map(|s| s.alias.clone().unwrap_or_else(|| s.source.clone()))
                .collect(),
        })
    }
}

/// The size and advance of a window's assignment, in milliseconds (size 0 for sessions: each
/// row gets its own instant, merged into sessions by the aggregation).
fn window_size_advance(kind: &WindowKind) -> (i64, i64) {
    let (size, advance) = match kind {
        WindowKind::Tumbling { size } => (size.as_millis(), size.as_millis()),
        WindowKind::Hopping { size, advance } => (size.as_millis(), advance.as_millis()),
        WindowKind::Session { .. } => (0, 1),
    };
    (size as i64, advance as i64)
}

/// The first window bound (WINDOWSTART / WINDOWEND) `expr` mentions.
pub(crate) fn window_bound_in(expr: &Expr) -> Option<&'static str> {
    let mut found = None;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| {
        if let Expr::Identifier(id) = e {
            for bound in [WINDOWSTART, WINDOWEND] {
                if id.value.eq_ignore_ascii_case(bound) {
                    found = Some(bound);
                    return std::ops::ControlFlow::Break(());
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    });
    found
}

/// ksqlDB's rules for the window bounds of a windowed aggregation: only the SELECT clause may
/// use them (they do not exist before the window is applied).
fn check_window_bounds(select: &datafusion::sql::sqlparser::ast::Select) -> Result<(), PlanError> {
    if let Some(bound) = select.selection.as_ref().and_then(window_bound_in) {
        return Err(PlanError::UnknownColumn(format!(
            "Error in WHERE expression: Unknown column {bound}."
        )));
    }
    let mut clauses: Vec<&Expr> = Vec::new();
    if let GroupByExpr::Expressions(e, _) = &select.group_by {
        clauses.extend(e.iter());
    }
    clauses.extend(select.having.iter());
    if let Some(bound) = clauses.into_iter().find_map(window_bound_in) {
        return Err(PlanError::Invalid(format!(
            "Window bounds column {bound} can only be used in the SELECT clause of windowed aggregations"
        )));
    }
    Ok(())
}

/// The one source a logical plan scans.
fn scanned_source(plan: &LogicalPlan) -> Result<String, PlanError> {
    match plan {
        LogicalPlan::TableScan(scan) => Ok(scan.table_name.table().to_string()),
        // A join's stream is its left side (the table comes with the planned join).
        LogicalPlan::Join(j) => scanned_source(&j.left),
        other => match other.inputs().as_slice() {
            [one] => scanned_source(one),
            _ => Err(PlanError::Unsupported(format!(
                "unsupported query shape: {}",
                other.display()
            ))),
        },
    }
}

impl Lowering<'_> {
    /// A windowed aggregation over joins: assigns the joined rows their windows of `size` and
    /// `advance` ms (at the join result's time), then puts the window bounds where the planner's plan has them (after
    /// the leftmost source's columns, where its scan had them), keeping the join's time last.
    fn assign_window_after_joins(
        &mut self,
        (size, advance): (i64, i64),
        join: &datafusion::logical_expr::Join,
        planned: &crate::join::PlannedJoin,
    ) -> Result<(), PlanError> {
        let joined = &planned.spec.output;
        let n = joined.fields().len();
        self.ops
            .push(OpSpec::WindowAssign(size, advance, joined.clone()));
        let windowed = WindowAssign::output_schema(joined);
        // The joined rows' columns are the plan's without the bounds, in the same order.
        let mut exprs: Vec<Arc<dyn PhysicalExpr>> = Vec::with_capacity(n + 2);
        let mut fields: Vec<Field> = Vec::with_capacity(n + 2);
        let mut at = 0;
        for (_, f) in join.schema.iter() {
            let i = match f.name().as_str() {
                WINDOWSTART => n,
                WINDOWEND => n + 1,
                _ => {
                    at += 1;
                    at - 1
                }
            };
            exprs.push(Arc::new(Column::new(windowed.field(i).name(), i)));
            fields.push(windowed.field(i).clone());
        }
        // The join's time, last (the joined rows' event time).
        exprs.push(Arc::new(Column::new(joined.field(n - 1).name(), n - 1)));
        fields.push(joined.field(n - 1).clone());
        if at != n - 1 {
            return Err(PlanError::Invalid(format!(
                "a windowed join's rows have {} columns where the plan has {at}",
                n - 1
            )));
        }
        self.ops
            .push(OpSpec::Project(exprs, Arc::new(Schema::new(fields))));
        Ok(())
    }

    /// Before an aggregation whose rows cross a repartition topic: keeps only the columns the
    /// aggregation reads (those of its GROUP BY expressions and aggregate arguments, and
    /// ROWTIME), as ksqlDB's `Aggregate-Prepare` step does, so the topic carries no more than
    /// it must. For a windowed aggregation, window assignment moves after the topic: a row
    /// crosses once, not once per hopping window. Returns the schema the aggregation then
    /// sees (`None`: unchanged; joined or exploded rows carry hidden columns, and are left
    /// as they are).
    fn prune_before_repartition(
        &mut self,
        agg: &datafusion::logical_expr::Aggregate,
    ) -> Result<Option<datafusion::common::DFSchemaRef>, PlanError> {
        use datafusion::common::DFSchema;
        use std::collections::BTreeSet;
        if !self.joins.is_empty()
            || self
                .ops
                .iter()
                .any(|o| matches!(o, OpSpec::Explode(..) | OpSpec::Project(..)))
        {
            return Ok(None);
        }
        let input = agg.input.schema();
        let mut needed = BTreeSet::new();
        for e in agg.group_expr.iter().chain(&agg.aggr_expr) {
            for c in e.column_refs() {
                needed.insert(input.index_of_column(c)?);
            }
        }
        if let Some(i) = input.fields().iter().position(|f| f.name() == ROWTIME) {
            needed.insert(i);
        }
        // Window assignment moves after the topic when it comes first in the pipeline (it
        // appends the window bounds, the last two columns of its output).
        let window_at = self
            .ops
            .iter()
            .position(|o| matches!(o, OpSpec::WindowAssign(..)));
        let moved = match window_at {
            Some(at) if self.window.is_some() => Some(self.ops.remove(at)),
            _ => None,
        };
        let is_bound = |i: usize| {
            let name = input.field(i).name();
            moved.is_some() && (name == WINDOWSTART || name == WINDOWEND)
        };
        let kept: Vec<usize> = needed.iter().copied().filter(|&i| !is_bound(i)).collect();
        let qualified = |i: usize| {
            let (q, f) = input.qualified_field(i);
            (q.cloned(), Arc::clone(f))
        };
        let mut fields: Vec<_> = kept.iter().map(|&i| qualified(i)).collect();
        let exprs: Vec<Arc<dyn PhysicalExpr>> = kept
            .iter()
            .map(|&i| Arc::new(Column::new(input.field(i).name(), i)) as Arc<dyn PhysicalExpr>)
            .collect();
        let front = Arc::new(Schema::new(
            fields
                .iter()
                .map(|(_, f)| f.as_ref().clone())
                .collect::<Vec<_>>(),
        ));
        self.ops.push(OpSpec::Project(exprs, front.clone()));
        self.repartition_at = Some(self.ops.len());
        if let Some(OpSpec::WindowAssign(size, advance, _)) = moved {
            self.ops.push(OpSpec::WindowAssign(size, advance, front));
            for bound in [WINDOWSTART, WINDOWEND] {
                let i = input
                    .fields()
                    .iter()
                    .position(|f| f.name() == bound)
                    .ok_or_else(|| PlanError::Invalid(format!("window column {bound} lost")))?;
                fields.push(qualified(i));
            }
        }
        Ok(Some(Arc::new(DFSchema::new_with_metadata(
            fields,
            input.metadata().clone(),
        )?)))
    }
}

struct Lowering<'a> {
    planner: &'a Planner,
    ops: Vec<OpSpec>,
    limit: Option<u64>,
    output: Option<(SchemaRef, Vec<Option<String>>)>,
    /// After an aggregation: for each column of the current schema, the group it is.
    groups: Option<Vec<Option<usize>>>,
    window: Option<WindowSpec>,
    emit_final: bool,
    source_is_table: bool,
    /// Where the rows would cross a repartition topic (set by the aggregation).
    repartition: Option<Repartition>,
    /// Whether the aggregation's rows will cross a repartition topic (GROUP BY is not the
    /// source's key), so that only the columns it needs should.
    repartitions: bool,
    /// Where the pruned rows leave the first task (set by `prune_before_repartition`).
    repartition_at: Option<usize>,
    /// The joins at the bottom of the plan, left to right, and their WITHIN clauses.
    joins: Vec<crate::join::PlannedJoin>,
    within: Vec<Option<sluice_parser::ast::WithinSpec>>,
    /// What the next join's left input is.
    left_kind: SourceKind,
    /// A GROUP BY over a join of tables only: the join's updates and tombstones become a
    /// changelog (with retractions, as an aggregation over a table needs) right after the
    /// joins, keyed by the first table's primary key (the result's key).
    changelog_after_joins: bool,
    /// How deep in nested joins the lowering is (the outermost join is at 1).
    join_depth: usize,
    catalog: &'a Catalog,
}

impl Lowering<'_> {
    /// Lower `plan` bottom-up into `ops`.
    fn lower(&mut self, plan: &LogicalPlan) -> Result<(), PlanError> {
        let state = &self.planner.state;
        match plan {
            LogicalPlan::TableScan(scan) => {
                if !scan.filters.is_empty() {
                    return Err(PlanError::Unsupported("pushed-down scan filters".into()));
                }
                Ok(())
            }
            LogicalPlan::SubqueryAlias(a) => self.lower(&a.input),
            LogicalPlan::Filter(f) => {
                self.lower(&f.input)?;
                let predicate = crate::in_list::coerce(
                    f.predicate.clone(),
                    f.input.schema(),
                    Some("Invalid Predicate"),
                )?;
                let predicate = crate::simplify::complex_to_string(
                    predicate,
                    f.input.schema(),
                    state,
                    "Invalid Predicate",
                )?;
                let predicate = state.create_physical_expr(
                    crate::simplify::coalesce_to_case(predicate),
                    f.input.schema(),
                )?;
                self.ops.push(OpSpec::Filter(predicate));
                Ok(())
            }
            LogicalPlan::Aggregate(agg) => {
                self.lower(&agg.input)?;
                if self.groups.is_some() {
                    return Err(PlanError::Unsupported("nested aggregations".into()));
                }
                let pruned = if self.repartitions {
                    self.prune_before_repartition(agg)?
                } else {
                    None
                };
                let input_schema = pruned.as_ref().unwrap_or(agg.input.schema());
                let arrow_input = input_schema.as_arrow();
                let group_exprs = agg
                    .group_expr
                    .iter()
                    .map(|e| match e {
                        LExpr::GroupingSet(_) => Err(PlanError::Unsupported(
                            "GROUPING SETS, CUBE and ROLLUP are not KSQL".into(),
                        )),
                        e => Ok(state.create_physical_expr(
                            crate::simplify::coalesce_to_case(e.clone()),
                            input_schema,
                        )?),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if self.source_is_table {
                    let names: Vec<String> = agg
                        .aggr_expr
                        .iter()
                        .filter_map(|e| match e {
                            LExpr::AggregateFunction(f) => Some(f.func.name().to_string()),
                            LExpr::Alias(a) => match a.expr.as_ref() {
                                LExpr::AggregateFunction(f) => Some(f.func.name().to_string()),
                                _ => None,
                            },
                            _ => None,
                        })
                        .filter(|n| !sluice_functions::aggregate::supports_tables(n))
                        .collect();
                    if let Some(msg) = sluice_functions::aggregate::table_aggregation_error(
                        names.iter().map(String::as_str),
                    ) {
                        return Err(PlanError::Invalid(msg));
                    }
                }
                let mut aggs = Vec::with_capacity(agg.aggr_expr.len());
                for e in &agg.aggr_expr {
                    #[allow(deprecated)]
                    let (expr, filter, _order) = create_aggregate_expr_and_maybe_filter(
                        e,
                        input_schema,
                        arrow_input,
                        state.execution_props(),
                    )?;
                    if filter.is_some() {
                        return Err(PlanError::Unsupported(
                            "FILTER clauses on aggregates".into(),
                        ));
                    }
                    aggs.push(expr);
                }
                let mut fields: Vec<Field> = agg
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect();
                fields.push(Field::new(
                    ROWTIME,
                    datafusion::arrow::datatypes::DataType::Int64,
                    true,
                ));
                let n_groups = group_exprs.len();
                let window = match &self.window {
                    None => None,
                    Some(w) => {
                        let size = match &w.kind {
                            WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. } => {
                                size.as_millis() as i64
                            }
                            WindowKind::Session { gap } => gap.as_millis() as i64,
                        };
                        // EMIT FINAL without a grace period closes windows at their end.
                        let grace = w
                            .grace
                            .map(|g| g.as_millis() as i64)
                            .unwrap_or(if self.emit_final { 0 } else { DEFAULT_GRACE_MS });
                        // Kafka Streams' default store retention: size (or gap) plus grace.
                        let retention = w
                            .retention
                            .map(|r| r.as_millis() as i64)
                            .unwrap_or(size + grace)
                            .max(size + grace);
                        Some(WindowPolicy {
                            size_ms: size,
                            advance_ms: match &w.kind {
                                WindowKind::Tumbling { size } => size.as_millis() as i64,
                                WindowKind::Hopping { advance, .. } => advance.as_millis() as i64,
                                WindowKind::Session { .. } => 0,
                            },
                            start_group: n_groups - 2,
                            end_group: n_groups - 1,
                            grace_ms: grace,
                            retention_ms: retention,
                            emit_final: self.emit_final,
                            session_gap_ms: match &w.kind {
                                WindowKind::Session { gap } => Some(gap.as_millis() as i64),
                                _ => None,
                            },
                        })
                    }
                };
                let key_len = match &window {
                    Some(w) => w.start_group,
                    None => n_groups,
                };
                let key_exprs: Vec<Arc<dyn PhysicalExpr>> = group_exprs[..key_len].to_vec();
                let key_types = key_exprs
                    .iter()
                    .map(|e| e.data_type(arrow_input))
                    .collect::<Result<Vec<_>, _>>()?;
                self.repartition = Some(Repartition {
                    at: self.repartition_at.unwrap_or(self.ops.len()),
                    key_exprs,
                    key_types,
                    name: GROUP_BY_REPARTITION,
                });
                self.ops.push(OpSpec::Aggregate(AggregateSpec {
                    group_exprs,
                    aggs,
                    schema: Arc::new(Schema::new(fields)),
                    window,
                    coalesce: false,
                }));
                let mut groups: Vec<Option<usize>> = (0..n_groups).map(Some).collect();
                groups.extend(std::iter::repeat_n(None, agg.aggr_expr.len()));
                self.groups = Some(groups);
                Ok(())
            }
            LogicalPlan::Projection(p) => {
                self.lower(&p.input)?;
                let input_schema = p.input.schema();
                let arrow_input = input_schema.as_arrow();
                let mut exprs = Vec::with_capacity(p.expr.len() + 1);
                let mut fields = Vec::with_capacity(p.expr.len() + 1);
                let mut origins = Vec::with_capacity(p.expr.len());
                let mut output_groups = Vec::with_capacity(p.expr.len());
                for (expr, field) in p.expr.iter().zip(p.schema.fields()) {
                    let name = field.name().clone();
                    if name == EVENT_TIME {
                        return Err(PlanError::Invalid(format!("reserved column name {name}")));
                    }
                    let coerced = crate::in_list::coerce(expr.clone(), input_schema, None)?;
                    let coerced = crate::simplify::complex_to_string(
                        coerced,
                        input_schema,
                        state,
                        "Invalid Select",
                    )?;
                    let physical = state.create_physical_expr(
                        crate::simplify::coalesce_to_case(coerced),
                        input_schema,
                    )?;
                    let ty = physical.data_type(arrow_input)?;
                    let ty = types::canonical(&ty)
                        .map_err(|e| PlanError::Type(format!("column {name}: {e}")))?;
                    // In a join, origins name the side too (`REL.COL`): both sides may have a
                    // column of the same name.
                    origins.push(if self.joins.is_empty() {
                        column_origin(expr)
                    } else {
                        qualified_origin(expr)
                    });
                    output_groups.push(self.groups.as_ref().and_then(|g| {
                        column_index(expr, input_schema).and_then(|i| g.get(i).copied().flatten())
                    }));
                    exprs.push(physical);
                    fields.push(Field::new(name, ty, true));
                }
                let output = Arc::new(Schema::new(fields.clone()));
                // The event time, and for windowed results the window bounds, ride along. A
                // join's rows carry their time after the joined columns.
                let joined = !self.joins.is_empty();
                let hidden_index = |name: &str| -> usize {
                    if joined && name == ROWTIME {
                        return arrow_input.fields().len();
                    }
                    arrow_input
                        .index_of(name)
                        .unwrap_or(arrow_input.fields().len())
                };
                exprs.push(Arc::new(Column::new(ROWTIME, hidden_index(ROWTIME))));
                fields.push(Field::new(
                    EVENT_TIME,
                    datafusion::arrow::datatypes::DataType::Int64,
                    true,
                ));
                // The window goes into the record key: the window bounds of a windowed
                // aggregation's groups, or those of a windowed source's rows.
                let window_columns = match &self.groups {
                    None => arrow_input
                        .index_of(WINDOWSTART)
                        .ok()
                        .zip(arrow_input.index_of(WINDOWEND).ok()),
                    Some(groups) => match self.ops.iter().rev().find_map(|o| match o {
                        OpSpec::Aggregate(spec) => Some(spec.window.as_ref()),
                        _ => None,
                    }) {
                        Some(Some(w)) => {
                            let position = |group: usize| {
                                groups
                                    .iter()
                                    .position(|g| *g == Some(group))
                                    .ok_or_else(|| PlanError::Invalid("window bounds lost".into()))
                            };
                            Some((position(w.start_group)?, position(w.end_group)?))
                        }
                        _ => None,
                    },
                };
                if let Some((start, end)) = window_columns {
                    for (idx, name) in [(start, WINDOW_START_KEY), (end, WINDOW_END_KEY)] {
                        exprs.push(Arc::new(Column::new(name, idx)));
                        fields.push(Field::new(
                            name,
                            datafusion::arrow::datatypes::DataType::Int64,
                            true,
                        ));
                    }
                }
                if self.groups.is_some() {
                    self.groups = Some(output_groups);
                }
                self.ops
                    .push(OpSpec::Project(exprs, Arc::new(Schema::new(fields))));
                self.output = Some((output, origins));
                Ok(())
            }
            LogicalPlan::Limit(l) => {
                self.lower(&l.input)?;
                if let Some(fetch) = &l.fetch {
                    if let LExpr::Literal(ScalarValue::Int64(Some(n)), _) = fetch.as_ref() {
                        self.limit = Some(*n as u64);
                    }
                }
                Ok(())
            }
            LogicalPlan::Join(j) => {
                self.join_depth += 1;
                // The joins before this one (its left input) first.
                if matches!(strip_alias(&j.left), LogicalPlan::Join(_)) {
                    self.lower(&j.left)?;
                }
                let physical = |e: &LExpr, schema: &datafusion::common::DFSchema| {
                    Ok(state.create_physical_expr(
                        crate::simplify::coalesce_to_case(e.clone()),
                        schema,
                    )?)
                };
                let planned = crate::join::plan(
                    j,
                    self.catalog,
                    self.within.get(self.joins.len()).and_then(Option::as_ref),
                    self.left_kind,
                    self.window.is_some(),
                    &physical,
                )?;
                if planned.right.kind == SourceKind::Stream {
                    self.left_kind = SourceKind::Stream;
                }
                self.join_depth -= 1;
                if self.join_depth == 0 && self.changelog_after_joins {
                    // The first table's key columns lead the joined rows.
                    let first = self.joins.first().unwrap_or(&planned);
                    let keys = self
                        .catalog
                        .require(&first.left_source)?
                        .key_columns()
                        .map(|c| first.spec.left_schema.index_of(&c.name))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| PlanError::Invalid(e.to_string()))?;
                    self.ops
                        .push(OpSpec::TableUpsert(planned.spec.output.clone(), keys));
                }
                if self.join_depth == 0 {
                    if let Some(w) = self.window.as_ref().map(|w| window_size_advance(&w.kind)) {
                        self.assign_window_after_joins(w, j, &planned)?;
                    }
                }
                self.joins.push(planned);
                Ok(())
            }
            LogicalPlan::Unnest(u) => {
                self.lower(&u.input)?;
                if !u.struct_type_columns.is_empty() {
                    return Err(PlanError::Unsupported(
                        "EXPLODE of a struct is not supported".into(),
                    ));
                }
                let lists = u.list_type_columns.iter().map(|(i, _)| *i).collect();
                self.ops.push(OpSpec::Explode(
                    lists,
                    u.dependency_indices.clone(),
                    Arc::new(u.schema.as_arrow().clone()),
                    u.input.schema().fields().len(),
                ));
                Ok(())
            }
            LogicalPlan::Sort(_) => Err(PlanError::Unsupported(
                "ORDER BY is only supported in pull queries over materialized tables".into(),
            )),
            other => Err(PlanError::Unsupported(format!(
                "unsupported query shape: {}",
                other.display()
            ))),
        }
    }
}

fn strip_alias(plan: &LogicalPlan) -> &LogicalPlan {
    match plan {
        LogicalPlan::SubqueryAlias(a) => strip_alias(&a.input),
        other => other,
    }
}

/// ksqlDB's default grace period for windows (Kafka Streams' legacy default): 24 hours.
pub const DEFAULT_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

/// The index in `schema` of the column `expr` plainly refers to.
fn column_index(expr: &LExpr, schema: &datafusion::common::DFSchema) -> Option<usize> {
    match expr {
        LExpr::Column(c) => schema.index_of_column(c).ok(),
        LExpr::Alias(a) => column_index(&a.expr, schema),
        _ => None,
    }
}

/// The input column an output expression is a plain (possibly aliased) reference to.
/// Like [`column_origin`], as `RELATION.COLUMN` when the column names its relation.
fn qualified_origin(expr: &LExpr) -> Option<String> {
    match expr {
        LExpr::Column(c) => Some(match &c.relation {
            Some(r) => format!("{}.{}", r.table(), c.name),
            None => c.name.clone(),
        }),
        LExpr::Alias(a) => qualified_origin(&a.expr),
        _ => None,
    }
}

fn column_origin(expr: &LExpr) -> Option<String> {
    match expr {
        LExpr::Column(c) => Some(c.name.clone()),
        LExpr::Alias(a) => column_origin(&a.expr),
        _ => None,
    }
}
