//! Pull queries: a query without `EMIT CHANGES`, answered by DataFusion so any SQL it runs works
//! (filters, ORDER BY, aggregates, joins across materialized tables).
//!
//! * Over tables written by persistent queries: their committed rows in the state store,
//!   through [`crate::pull_table::MaterializedTable`] (key equalities become key lookups)
//!   ([`pull_query`]); a plain lookup by primary key skips DataFusion altogether
//!   ([`lookup`]).
//! * Over a stream or a `CREATE [SOURCE] TABLE` (no persistent query maintains its rows): the
//!   topic is read from its beginning to its current end ([`pull_topic`]); a table keeps the
//!   newest row of each key (tombstones delete). This costs a read of the whole topic per query;
//!   materializing source tables in a state store is a planned improvement.

use std::ops::ControlFlow;
use std::sync::Arc;

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::compute::{cast, concat_batches, interleave};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::datasource::MemTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use sluice_catalog::{types, SourceDef, SourceKind};
use sluice_dataflow::source::{RawRecord, SourceDecoder};
use sluice_dataflow::ChangeKind;
use sluice_kafka::{KafkaConfig, KafkaError, TopicReader};
use tracing::warn;

use sluice_parser::sql::ast::{
    visit_expressions_mut, Expr, Ident, ObjectNamePart, SelectItem, SetExpr,
};
use sluice_parser::KsqlQuery;

/// Arrow field metadata naming a result column's role (`key`), shown as `KEY` in result headers.
pub const ROLE_METADATA: &str = "sluice.role";

use crate::error::{EngineError, Result};
use crate::materialized::Materialized;
use crate::result::StatementResult;

mod lookup;

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

/// Runs `q` over the current rows of `tables`: a plain lookup by primary key with one read of
/// the store ([`lookup`]), anything else with DataFusion.
pub async fn pull_query(
    q: &KsqlQuery,
    tables: &[(String, Arc<Materialized>)],
) -> Result<StatementResult> {
    if let Some(answer) = lookup::point_lookup(q, tables) {
        return answer;
    }
    pull_query_datafusion(q, tables).await
}

/// Runs `q` over the current rows of `tables` with DataFusion.
async fn pull_query_datafusion(
    q: &KsqlQuery,
    tables: &[(String, Arc<Materialized>)],
) -> Result<StatementResult> {
    let (ctx, query, keys) = over_tables(q, tables)?;
    run(&ctx, q, query, &keys).await
}

/// What a pull query over `tables` would answer, without running it: the types DataFusion
/// infers for its `$n` placeholders (in order; `None` where it cannot tell) and its result
/// columns. The extended protocol's Describe of a prepared pull query needs both before any
/// parameter is bound, and running the query to learn its columns would fail on the
/// placeholders.
pub async fn describe_pull_query(
    q: &KsqlQuery,
    tables: &[(String, Arc<Materialized>)],
) -> Result<PullDescription> {
    let (ctx, query, keys) = over_tables(q, tables)?;
    let plan = logical_plan(&ctx, query).await?;
    let found = plan.get_parameter_types().map_err(plan_error)?;
    let count = found
        .keys()
        .filter_map(|id| id.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()))
        .max()
        .unwrap_or(0);
    let params = (1..=count)
        .map(|i| {
            found
                .get(&format!("${i}"))
                .cloned()
                .flatten()
                .and_then(|t| types::canonical(&t).ok())
        })
        .collect();
    let columns = result_schema(plan.schema().as_arrow(), &keys)?;
    Ok(PullDescription { params, columns })
}

/// See [`describe_pull_query`].
#[derive(Debug, Clone)]
pub struct PullDescription {
    /// The type of each `$n` placeholder, in order; `None` where DataFusion cannot infer one.
    pub params: Vec<Option<DataType>>,
    /// The result columns, as [`pull_query`] returns them.
    pub columns: SchemaRef,
}

/// A DataFusion context with `tables` registered, `q`'s query with its stars expanded, and
/// the tables' key column names.
fn over_tables(
    q: &KsqlQuery,
    tables: &[(String, Arc<Materialized>)],
) -> Result<(
    SessionContext,
    sluice_parser::sql::ast::Query,
    BTreeSet<String>,
)> {
    let ctx = context()?;
    let mut keys = BTreeSet::new();
    for (name, table) in tables {
        keys.extend(table.key_names());
        ctx.register_table(
            datafusion::common::TableReference::bare(name.as_str()),
            Arc::new(crate::pull_table::MaterializedTable::new(table.clone())),
        )
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    }
    // `*` means the table's columns, not the ROWTIME the rows also carry.
    let mut query = q.query.clone();
    let stars: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|(name, t)| (name.clone(), t.star_names()))
        .collect();
    expand_stars(&mut query, &stars);
    Ok((ctx, query, keys))
}

/// Replaces `*` (and `t.*`) in `query`'s projection by the named columns of the FROM tables
/// (qualified when there are several).
fn expand_stars(query: &mut sluice_parser::sql::ast::Query, tables: &[(String, Vec<String>)]) {
    use sluice_parser::sql::ast::SelectItemQualifiedWildcardKind;
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let aliases: Vec<(String, String)> = sluice_planner::rewrite::from_sources(select)
        .map(|s| {
            s.into_iter()
                .map(|f| {
                    (
                        f.alias.clone().unwrap_or_else(|| f.source.clone()),
                        f.source,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let qualify = aliases.len() > 1;
    let columns_of = |qualifier: &str, source: &str| -> Vec<SelectItem> {
        let names = tables
            .iter()
            .find(|(n, _)| n == source)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        names
            .into_iter()
            .map(|c| {
                let col = Ident::with_quote('"', &c);
                SelectItem::UnnamedExpr(if qualify {
                    Expr::CompoundIdentifier(vec![Ident::with_quote('"', qualifier), col])
                } else {
                    Expr::Identifier(col)
                })
            })
            .collect()
    };
    select.projection = std::mem::take(&mut select.projection)
        .into_iter()
        .flat_map(|item| match item {
            SelectItem::Wildcard(_) => aliases.iter().flat_map(|(q, s)| columns_of(q, s)).collect(),
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _) => {
                let q = name.to_string().trim_matches('"').to_string();
                match aliases.iter().find(|(a, s)| *a == q || *s == q) {
                    Some((a, s)) => columns_of(a, s),
                    None => vec![SelectItem::QualifiedWildcard(
                        SelectItemQualifiedWildcardKind::ObjectName(name),
                        Default::default(),
                    )],
                }
            }
            other => vec![other],
        })
        .collect();
}

/// Runs `q` over the records of `source`'s topic, read from the beginning to the current end.
pub async fn pull_topic(
    q: &KsqlQuery,
    source: &SourceDef,
    kafka: &KafkaConfig,
    registry: Option<&std::sync::Arc<dyn sluice_registry::SchemaRegistry>>,
) -> Result<StatementResult> {
    let mut decoder = SourceDecoder::new(source, registry)?;
    let schema = source.batch_schema()?;
    let mut batches: Vec<sluice_dataflow::Batch> = Vec::new();
    match TopicReader::open(kafka, &source.topic).await {
        Ok(mut reader) => {
            while let Some(records) = reader.next_batch().await? {
                let raw: Vec<RawRecord<'_>> = records
                    .iter()
                    .map(|r| RawRecord {
                        partition: r.partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        key: r.key.as_deref(),
                        value: r.value.as_deref(),
                        headers: r
                            .headers
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_deref()))
                            .collect(),
                    })
                    .collect();
                let (batch, errors) = decoder.decode(&raw)?;
                for e in errors {
                    warn!(
                        target: "sluice::processing_log",
                        topic = %source.topic,
                        partition = e.partition,
                        offset = e.offset,
                        reason = %e.reason,
                        "pull query skipped a record that could not be processed"
                    );
                }
                batches.extend(batch);
            }
        }
        Err(KafkaError::UnknownTopic { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let data = if source.kind == SourceKind::Table {
        latest_by_key(source, &schema, &batches)?
    } else {
        let data: Vec<RecordBatch> = batches.into_iter().map(|b| b.data).collect();
        concat_batches(&schema, &data).map_err(|e| EngineError::Internal(e.to_string()))?
    };
    let ctx = context()?;
    register(&ctx, &source.name, schema, data)?;
    // `*` means the declared columns, not the pseudo-columns the batches also carry.
    let mut query = q.query.clone();
    let declared = source.columns.iter().map(|c| c.name.clone()).collect();
    expand_stars(&mut query, &[(source.name.clone(), declared)]);
    let keys: BTreeSet<String> = if source.kind == SourceKind::Table {
        source.key_columns().map(|c| c.name.clone()).collect()
    } else {
        BTreeSet::new()
    };
    run(&ctx, q, query, &keys).await
}

/// A table's current rows: for each key the newest row, unless its newest record is a
/// tombstone; in key order.
fn latest_by_key(
    source: &SourceDef,
    schema: &SchemaRef,
    batches: &[sluice_dataflow::Batch],
) -> Result<RecordBatch> {
    let internal = |e: datafusion::arrow::error::ArrowError| EngineError::Internal(e.to_string());
    let key_idx: Vec<usize> = source
        .key_columns()
        .filter_map(|c| schema.index_of(&c.name).ok())
        .collect();
    let converter = RowConverter::new(
        key_idx
            .iter()
            .map(|i| SortField::new(schema.field(*i).data_type().clone()))
            .collect(),
    )
    .map_err(internal)?;
    // In key order, as a table scan of ksqlDB's state store returns them.
    let mut latest: BTreeMap<Vec<u8>, Option<(usize, usize)>> = BTreeMap::new();
    for (b, batch) in batches.iter().enumerate() {
        let cols: Vec<ArrayRef> = key_idx
            .iter()
            .map(|i| batch.data.column(*i).clone())
            .collect();
        let rows = converter.convert_columns(&cols).map_err(internal)?;
        for i in 0..batch.num_rows() {
            if cols.iter().any(|c| c.is_null(i)) {
                continue;
            }
            let key = rows.row(i).as_ref().to_vec();
            let value = (batch.change(i) != ChangeKind::Delete).then_some((b, i));
            latest.insert(key, value);
        }
    }
    let indices: Vec<(usize, usize)> = latest.values().filter_map(|v| *v).collect();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for c in 0..schema.fields().len() {
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.data.column(c).as_ref()).collect();
        if arrays.is_empty() {
            columns.push(datafusion::arrow::array::new_empty_array(
                schema.field(c).data_type(),
            ));
        } else {
            columns.push(interleave(&arrays, &indices).map_err(internal)?);
        }
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(internal)
}

fn context() -> Result<SessionContext> {
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
    Ok(ctx)
}

fn register(ctx: &SessionContext, name: &str, schema: SchemaRef, batch: RecordBatch) -> Result<()> {
    let provider = MemTable::try_new(schema, vec![vec![batch]])
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    ctx.register_table(
        datafusion::common::TableReference::bare(name),
        Arc::new(provider),
    )
    .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(())
}

/// Plans and runs `query` (the pull query `q`'s SELECT, possibly rewritten); result columns
/// named in `keys` are tagged as key columns.
async fn run(
    ctx: &SessionContext,
    q: &KsqlQuery,
    query: sluice_parser::sql::ast::Query,
    keys: &BTreeSet<String>,
) -> Result<StatementResult> {
    let plan = logical_plan(ctx, query).await?;
    let mut df = ctx.execute_logical_plan(plan).await.map_err(plan_error)?;
    if let Some(limit) = q.limit {
        df = df.limit(0, Some(limit as usize)).map_err(plan_error)?;
    }
    let source_schema: Schema = df.schema().as_arrow().clone();
    let batches = df.collect().await.map_err(plan_error)?;
    let schema = result_schema(&source_schema, keys)?;
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

/// The result columns clients see: KSQL's types (DataFusion's own, Utf8View, Int8, ..., are
/// widened), columns named in `keys` tagged as key columns.
fn result_schema(source_schema: &Schema, keys: &BTreeSet<String>) -> Result<SchemaRef> {
    let mut fields = Vec::new();
    for f in source_schema.fields() {
        let ty =
            types::canonical(f.data_type()).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut field = Field::new(f.name(), ty, true);
        if keys.contains(f.name()) {
            field = field.with_metadata(
                [(ROLE_METADATA.to_string(), "key".to_string())]
                    .into_iter()
                    .collect(),
            );
        }
        fields.push(field);
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The logical plan of `query` (a pull query's SELECT, possibly rewritten), after KSQL's
/// rewrites.
async fn logical_plan(
    ctx: &SessionContext,
    mut query: sluice_parser::sql::ast::Query,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    // KSQL types integer literals that fit 32 bits as INT (ORDER BY positions stay as written).
    let order_by = query.order_by.take();
    sluice_planner::rewrite::int_literals(&mut query);
    sluice_planner::rewrite::time_unit_arguments(&mut query);
    sluice_planner::rewrite::field_accesses(&mut query);
    sluice_planner::rewrite::lambda_array_literals(&mut query);
    query.order_by = order_by;
    // KSQL names functions case-insensitively; DataFusion (with identifier normalization off,
    // so that KSQL's upper-cased column names resolve) registers them in lower case.
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
    // Planned from the AST, not from its text: KSQL's lambdas (`x => e`) and other forms
    // print as text DataFusion's default dialect does not parse.
    let statement = datafusion::sql::parser::Statement::Statement(Box::new(
        sluice_parser::sql::ast::Statement::Query(Box::new(query)),
    ));
    ctx.state()
        .statement_to_plan(statement)
        .await
        .map_err(plan_error)
}

/// ksqlDB refuses ROWPARTITION and ROWOFFSET in pull queries (they have no meaning for a
/// materialized row).
pub fn check_pseudo_columns(q: &KsqlQuery) -> Result<()> {
    let SetExpr::Select(select) = q.query.body.as_ref() else {
        return Ok(());
    };
    let found = |exprs: Vec<&Expr>| -> Option<String> {
        let mut hit = None;
        for e in exprs {
            let _ = sluice_parser::sql::ast::visit_expressions(e, |x| {
                let name = match x {
                    Expr::Identifier(id) => Some(id.value.to_uppercase()),
                    Expr::CompoundIdentifier(ids) => ids.last().map(|i| i.value.to_uppercase()),
                    _ => None,
                };
                if let Some(n) = name.filter(|n| n == "ROWPARTITION" || n == "ROWOFFSET") {
                    hit.get_or_insert(n);
                }
                ControlFlow::<()>::Continue(())
            });
        }
        hit
    };
    let projected = sluice_planner::rewrite::projected_exprs(select);
    for (clause, exprs) in [
        ("SELECT", projected),
        ("WHERE", select.selection.iter().collect()),
    ] {
        if let Some(col) = found(exprs) {
            return Err(EngineError::Invalid(format!(
                "Pull queries don't support the following columns in {clause} clauses: `{col}`"
            )));
        }
    }
    Ok(())
}

/// ksqlDB's refusal of a clause that pull queries do not support.
pub fn unsupported_clause(clause: &str) -> EngineError {
    EngineError::Invalid(format!(
        "Pull queries don't support {clause} clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
    ))
}

fn plan_error(e: datafusion::error::DataFusionError) -> EngineError {
    EngineError::from(sluice_planner::PlanError::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_catalog::{ColumnDef, ColumnRole};
    use sluice_formats::{Format, FormatKind};
    use sluice_parser::SqlType;

    fn table(dir: &std::path::Path) -> Arc<Materialized> {
        let column = |name: &str, ty, role| ColumnDef {
            name: name.into(),
            ty,
            role,
        };
        let def = SourceDef {
            name: "T".into(),
            kind: SourceKind::Table,
            columns: vec![
                column("ID", SqlType::Bigint, ColumnRole::Key),
                column("V", SqlType::String, ColumnRole::Value),
            ],
            topic: "T".into(),
            key_format: Format::new(FormatKind::Kafka),
            value_format: Format::new(FormatKind::Json),
            timestamp: None,
            window: None,
            is_source: false,
            partitions: 1,
            statement: String::new(),
            written_by: None,
        };
        let store = sluice_state::SledDb::open(dir).unwrap().store("q").unwrap();
        Arc::new(Materialized::new(&def, store).unwrap())
    }

    fn query(sql: &str) -> KsqlQuery {
        match sluice_parser::parse(sql).unwrap().remove(0).statement {
            sluice_parser::Statement::Query(q) => *q,
            other => panic!("not a query: {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_prepared_pull_query_is_described_without_running_it() {
        let dir = tempfile::tempdir().unwrap();
        let tables = vec![("T".to_string(), table(dir.path()))];
        // Parameters take the type of what they are compared with; results are KSQL's types,
        // key columns tagged.
        let PullDescription { params, columns } =
            describe_pull_query(&query("SELECT id, v FROM t WHERE id = $1"), &tables)
                .await
                .unwrap();
        assert_eq!(params, vec![Some(DataType::Int64)]);
        let names: Vec<&str> = columns.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["ID", "V"]);
        assert_eq!(columns.field(1).data_type(), &DataType::Utf8);
        assert_eq!(
            columns
                .field(0)
                .metadata()
                .get(ROLE_METADATA)
                .map(String::as_str),
            Some("key")
        );
        // Several, out of order; `*` expands to the table's columns.
        let PullDescription { params, columns } =
            describe_pull_query(&query("SELECT * FROM t WHERE v = $2 AND id > $1"), &tables)
                .await
                .unwrap();
        assert_eq!(params, vec![Some(DataType::Int64), Some(DataType::Utf8)]);
        assert_eq!(columns.fields().len(), 2);
        // Without placeholders: no parameters.
        let d = describe_pull_query(&query("SELECT COUNT(*) FROM t"), &tables)
            .await
            .unwrap();
        assert!(d.params.is_empty());
    }
}
