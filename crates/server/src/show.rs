//! SHOW, DESCRIBE and EXPLAIN: answers as small tables.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use sluice_catalog::{ColumnRole, SourceKind};
use sluice_parser::{DescribeTarget, ExplainTarget, ShowWhat, Statement};

use crate::engine::{Engine, QueryInfo};
use crate::error::{EngineError, Result};
use crate::result::StatementResult;
use crate::session::SessionProps;

/// A text table: column names and rows of strings.
fn text_table(columns: &[&str], rows: Vec<Vec<String>>, tag: &str) -> Result<StatementResult> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from(
                rows.iter().map(|r| r[i].clone()).collect::<Vec<_>>(),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(StatementResult::Rows {
        schema,
        batches: vec![batch],
        tag: Some(format!("{tag} {}", rows.len())),
    })
}

/// SHOW / LIST.
pub async fn show(
    engine: &Engine,
    props: &SessionProps,
    what: ShowWhat,
) -> Result<StatementResult> {
    let catalog = engine.catalog();
    match what {
        ShowWhat::Streams { .. } | ShowWhat::Tables { .. } => {
            let kind = if matches!(what, ShowWhat::Streams { .. }) {
                SourceKind::Stream
            } else {
                SourceKind::Table
            };
            let rows = catalog
                .sources()
                .filter(|s| s.kind == kind)
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.topic.clone(),
                        s.key_format.kind.to_string(),
                        s.value_format.kind.to_string(),
                        (s.window.is_some()).to_string(),
                    ]
                })
                .collect();
            let first = if kind == SourceKind::Stream {
                "Stream Name"
            } else {
                "Table Name"
            };
            text_table(
                &[
                    first,
                    "Kafka Topic",
                    "Key Format",
                    "Value Format",
                    "Windowed",
                ],
                rows,
                "SHOW",
            )
        }
        ShowWhat::Queries { .. } => {
            let mut rows = Vec::new();
            for q in engine.queries() {
                let rt = runtime(engine, &q).await;
                rows.push(vec![
                    q.id,
                    "PERSISTENT".into(),
                    if q.running { "RUNNING:1" } else { "ERROR:1" }.into(),
                    q.sink,
                    q.sink_topic,
                    q.statement,
                    rt.records_in.to_string(),
                    rt.records_out.to_string(),
                    rt.records_skipped.to_string(),
                    rt.lag_text(),
                    rt.state_entries_text(),
                    rt.state_bytes_text(),
                ]);
            }
            text_table(
                &[
                    "Query ID",
                    "Query Type",
                    "Status",
                    "Sink Name",
                    "Sink Kafka Topic",
                    "Query String",
                    "Records In",
                    "Records Out",
                    "Records Skipped",
                    "Input Lag",
                    "State Entries",
                    "State Bytes",
                ],
                rows,
                "SHOW",
            )
        }
        ShowWhat::Topics { all, .. } => {
            let topics = engine.admin().list_topics().await?;
            let schema = Arc::new(Schema::new(vec![
                Field::new("Kafka Topic", DataType::Utf8, false),
                Field::new("Partitions", DataType::Int32, false),
                Field::new("Partition Replicas", DataType::Int32, false),
            ]));
            let topics: Vec<_> = topics
                .into_iter()
                .filter(|t| all || !(t.name.starts_with('_')))
                .collect();
            let n = topics.len();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(
                        topics.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                    )),
                    Arc::new(Int32Array::from(
                        topics.iter().map(|t| t.partitions).collect::<Vec<_>>(),
                    )),
                    Arc::new(Int32Array::from(
                        topics.iter().map(|t| t.replicas).collect::<Vec<_>>(),
                    )),
                ],
            )
            .map_err(|e| EngineError::Internal(e.to_string()))?;
            Ok(StatementResult::Rows {
                schema,
                batches: vec![batch],
                tag: Some(format!("SHOW {n}")),
            })
        }
        ShowWhat::Properties => {
            let mut rows: Vec<Vec<String>> = vec![vec![
                "auto.offset.reset".into(),
                "SESSION".into(),
                props
                    .snapshot()
                    .get("auto.offset.reset")
                    .cloned()
                    .unwrap_or_else(|| "latest".into()),
            ]];
            for (k, v) in props.snapshot() {
                if k != "auto.offset.reset" {
                    rows.push(vec![k, "SESSION".into(), v]);
                }
            }
            text_table(&["Property", "Scope", "Value"], rows, "SHOW")
        }
        ShowWhat::Functions => {
            let rows = sluice_functions::catalog::functions()
                .iter()
                .filter(|f| engine.planner().supports_function(&f.name))
                .map(|f| vec![f.name.clone(), f.category.clone()])
                .collect();
            text_table(&["Function Name", "Category"], rows, "SHOW")
        }
        ShowWhat::Types => {
            let catalog = engine.catalog();
            let rows = catalog
                .types()
                .map(|(name, ty)| vec![name.clone(), ty.to_string()])
                .collect();
            text_table(&["Type Name", "Schema"], rows, "SHOW")
        }
        other => Err(EngineError::Unsupported(format!(
            "SHOW {other:?} is not supported yet"
        ))),
    }
}

/// A running query's statistics, as SHOW QUERIES and DESCRIBE EXTENDED print them.
struct Runtime {
    records_in: u64,
    records_out: u64,
    records_skipped: u64,
    /// Records of the input not processed yet; `None` when the watermarks could not be read.
    lag: Option<u64>,
    /// Entries and bytes in the query's state store; `None` for a stateless query.
    state: Option<(u64, u64)>,
}

impl Runtime {
    fn lag_text(&self) -> String {
        self.lag.map_or_else(|| "unknown".into(), |l| l.to_string())
    }

    fn state_entries_text(&self) -> String {
        self.state
            .map_or_else(|| "0".into(), |(n, _)| n.to_string())
    }

    fn state_bytes_text(&self) -> String {
        self.state
            .map_or_else(|| "0".into(), |(_, b)| b.to_string())
    }

    fn summary(&self) -> String {
        format!(
            "records-in: {}, records-out: {}, records-skipped: {}, input-lag: {}, state-entries: {}, state-bytes: {}",
            self.records_in,
            self.records_out,
            self.records_skipped,
            self.lag_text(),
            self.state_entries_text(),
            self.state_bytes_text()
        )
    }
}

/// Counters, input lag (against the source topic's high watermarks) and state size of a query.
/// The state size walks the query's store: O(entries), fine for an introspection command.
async fn runtime(engine: &Engine, q: &QueryInfo) -> Runtime {
    let m = &q.metrics;
    let lag = engine.input_lag(q).await;
    let state = match engine.query_state(&q.id) {
        Some(store) => tokio::task::spawn_blocking(move || store.footprint().ok())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    Runtime {
        records_in: m.records_in.load(Ordering::Relaxed),
        records_out: m.records_out.load(Ordering::Relaxed),
        records_skipped: m.records_skipped.load(Ordering::Relaxed),
        lag,
        state,
    }
}

/// DESCRIBE.
pub async fn describe(
    engine: &Engine,
    target: DescribeTarget,
    extended: bool,
) -> Result<StatementResult> {
    let catalog = engine.catalog();
    match target {
        DescribeTarget::Source(name) => {
            let s = catalog.require(&name.value)?;
            let mut rows = vec![vec![
                "ROWTIME".to_string(),
                "BIGINT".to_string(),
                "(system)".to_string(),
            ]];
            for c in s.star_columns() {
                let note = match (&c.role, s.kind) {
                    (ColumnRole::Key, SourceKind::Table) => "(primary key)".to_string(),
                    (ColumnRole::Key, SourceKind::Stream) => "(key)".to_string(),
                    (ColumnRole::Header(None), _) => "(headers)".to_string(),
                    (ColumnRole::Header(Some(k)), _) => format!("(header('{k}'))"),
                    _ => String::new(),
                };
                rows.push(vec![c.name.clone(), c.ty.to_string(), note]);
            }
            if extended {
                let info = [
                    ("Type", s.kind.as_str().to_string()),
                    ("Kafka topic", s.topic.clone()),
                    ("Key format", s.key_format.kind.to_string()),
                    ("Value format", s.value_format.kind.to_string()),
                    ("Partitions", s.partitions.to_string()),
                    (
                        "Timestamp field",
                        s.timestamp
                            .as_ref()
                            .map(|t| t.column.clone())
                            .unwrap_or_else(|| "Not set - using <ROWTIME>".into()),
                    ),
                    (
                        "Written by",
                        s.written_by.clone().unwrap_or_else(|| "-".into()),
                    ),
                    ("Statement", s.statement.clone()),
                ];
                for (k, v) in info {
                    rows.push(vec![format!("[{k}]"), v, String::new()]);
                }
                // The queries that write and read the source, with their runtime statistics.
                for q in engine.queries() {
                    let role = if q.sink == s.name {
                        "Written by query"
                    } else if q.source == s.name {
                        "Read by query"
                    } else {
                        continue;
                    };
                    let rt = runtime(engine, &q).await;
                    rows.push(vec![format!("[{role}]"), q.id.clone(), rt.summary()]);
                }
            }
            text_table(&["Field", "Type", "Note"], rows, "DESCRIBE")
        }
        DescribeTarget::Streams | DescribeTarget::Tables => {
            let kind = if matches!(target, DescribeTarget::Streams) {
                SourceKind::Stream
            } else {
                SourceKind::Table
            };
            let rows = catalog
                .sources()
                .filter(|s| s.kind == kind)
                .map(|s| {
                    let cols: Vec<String> = s
                        .star_columns()
                        .map(|c| format!("{} {}", c.name, c.ty))
                        .collect();
                    vec![s.name.clone(), s.topic.clone(), cols.join(", ")]
                })
                .collect();
            text_table(&["Name", "Kafka Topic", "Columns"], rows, "DESCRIBE")
        }
        DescribeTarget::Function(f) => {
            let doc = sluice_functions::catalog::describe(&f.value)
                .filter(|d| engine.planner().supports_function(&d.name))
                .ok_or_else(|| {
                    EngineError::Plan(sluice_planner::PlanError::UnknownFunction(format!(
                        "Can't find any functions with the name '{}'",
                        f.value.to_uppercase()
                    )))
                })?;
            let mut rows = vec![
                vec!["Name".to_string(), doc.name.clone()],
                vec!["Type".to_string(), doc.kind.clone()],
                vec!["Category".to_string(), doc.category.clone()],
                vec!["Overview".to_string(), doc.description.clone()],
            ];
            for (args, returns) in &doc.variations {
                rows.push(vec![
                    "Variation".to_string(),
                    format!("{}({args}) RETURNS {returns}", doc.name),
                ]);
            }
            text_table(&["Field", "Value"], rows, "DESCRIBE")
        }
    }
}

/// EXPLAIN: the operator graph of a statement or running query.
pub async fn explain(engine: &Engine, target: ExplainTarget) -> Result<StatementResult> {
    let catalog = engine.catalog();
    let query = match target {
        ExplainTarget::Statement(p) => match p.statement {
            Statement::Query(q) => *q,
            Statement::CreateAsSelect(c) => *c.query,
            Statement::InsertInto { query, .. } => *query,
            _ => {
                return Err(EngineError::Invalid(
                    "EXPLAIN works on queries, CREATE ... AS SELECT and INSERT INTO".into(),
                ))
            }
        },
        ExplainTarget::QueryId(id) => {
            let q = engine
                .queries()
                .into_iter()
                .find(|q| q.id.eq_ignore_ascii_case(&id))
                .ok_or_else(|| EngineError::UnknownObject(format!("Query with id:{id} does not exist, use SHOW QUERIES to view the full set of running queries.")))?;
            let parsed = sluice_parser::parse(&q.statement)?;
            match parsed.into_iter().next().map(|p| p.statement) {
                Some(Statement::CreateAsSelect(c)) => *c.query,
                Some(Statement::InsertInto { query, .. }) => *query,
                _ => return Err(EngineError::Internal("unexpected query statement".into())),
            }
        }
    };
    let plan = engine.planner().plan_query(&query, &catalog)?;
    let rows = plan.explain().into_iter().map(|l| vec![l]).collect();
    text_table(&["Plan"], rows, "EXPLAIN")
}
