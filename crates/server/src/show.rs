//! SHOW, DESCRIBE and EXPLAIN: answers as small tables.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use sluice_catalog::{ColumnRole, SourceKind};
use sluice_parser::{DescribeTarget, ExplainTarget, ShowWhat, Statement};

use crate::engine::Engine;
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
            let rows = engine
                .queries()
                .into_iter()
                .map(|(id, stmt, sink, topic, m)| {
                    vec![
                        id,
                        "PERSISTENT".into(),
                        "RUNNING:1".into(),
                        sink,
                        topic,
                        stmt,
                        m.records_in.load(Ordering::Relaxed).to_string(),
                        m.records_out.load(Ordering::Relaxed).to_string(),
                        m.records_skipped.load(Ordering::Relaxed).to_string(),
                    ]
                })
                .collect();
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
        other => Err(EngineError::Unsupported(format!(
            "SHOW {other:?} is not supported yet"
        ))),
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
            for c in s.key_columns().chain(s.value_columns()) {
                let note = match (&c.role, s.kind) {
                    (ColumnRole::Key, SourceKind::Table) => "(primary key)",
                    (ColumnRole::Key, SourceKind::Stream) => "(key)",
                    _ => "",
                };
                rows.push(vec![c.name.clone(), c.ty.to_string(), note.to_string()]);
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
                        .key_columns()
                        .chain(s.value_columns())
                        .map(|c| format!("{} {}", c.name, c.ty))
                        .collect();
                    vec![s.name.clone(), s.topic.clone(), cols.join(", ")]
                })
                .collect();
            text_table(&["Name", "Kafka Topic", "Columns"], rows, "DESCRIBE")
        }
        DescribeTarget::Function(f) => Err(EngineError::Unsupported(format!(
            "DESCRIBE FUNCTION {} is not supported yet",
            f.value
        ))),
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
                .find(|q| q.0.eq_ignore_ascii_case(&id))
                .ok_or_else(|| EngineError::UnknownObject(format!("Query with id:{id} does not exist, use SHOW QUERIES to view the full set of running queries.")))?;
            let parsed = sluice_parser::parse(&q.1)?;
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
