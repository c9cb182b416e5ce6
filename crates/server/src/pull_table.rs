//! A materialized table as a DataFusion [`TableProvider`], so pull queries run any SQL over it
//! while key lookups stay lookups.
//!
//! Key-predicate pushdown: a filter `k = literal` on a key column (either side) is accepted as
//! *inexact* (DataFusion still applies it above the scan). When such filters give values for a
//! leading run of the key columns, the scan reads only the rows with that key prefix from the
//! state store — one row for a full key of an unwindowed table — instead of the whole table.
//! Projection and the remaining filters are applied by DataFusion.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::materialized::Materialized;

/// See the module docs.
#[derive(Debug)]
pub struct MaterializedTable {
    table: Arc<Materialized>,
}

impl MaterializedTable {
    pub fn new(table: Arc<Materialized>) -> Self {
        MaterializedTable { table }
    }

    /// The key column index and literal of `k = literal` / `literal = k`, if `e` is one.
    fn key_equality(&self, e: &Expr) -> Option<(usize, ScalarValue)> {
        let Some(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) = sluice_planner::comparison(e)
        else {
            return None;
        };
        let (col, lit) = match (left.as_ref(), right.as_ref()) {
            (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c)) => {
                (c, v)
            }
            _ => return None,
        };
        let schema = self.table.schema();
        let idx = schema.index_of(&col.name).ok()?;
        (idx < self.table.lookup_width() && !lit.is_null()).then(|| (idx, lit.clone()))
    }

    /// Values for the longest leading run of key columns that `filters` pin down.
    fn key_prefix(&self, filters: &[Expr]) -> Vec<ScalarValue> {
        let mut pinned: Vec<Option<ScalarValue>> = vec![None; self.table.lookup_width()];
        for f in filters {
            if let Some((idx, v)) = self.key_equality(f) {
                pinned[idx] = Some(v);
            }
        }
        pinned.into_iter().map_while(|v| v).collect()
    }
}

#[async_trait]
impl TableProvider for MaterializedTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema().clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.key_equality(f).is_some() {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let prefix = self.key_prefix(filters);
        let table = self.table.clone();
        // The store read is blocking I/O.
        let batch = tokio::task::spawn_blocking(move || {
            if prefix.is_empty() {
                table.snapshot()
            } else {
                table.lookup(&prefix)
            }
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.table.schema().clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::execution::context::SessionContext;
    use datafusion::logical_expr::lit;

    /// A column reference as KSQL names it (upper case; `col()` would lower-case it).
    fn col(name: &str) -> Expr {
        Expr::Column(datafusion::common::Column::new_unqualified(name))
    }
    use sluice_catalog::{ColumnDef, ColumnRole, SourceDef, SourceKind, EVENT_TIME};
    use sluice_dataflow::Batch;
    use sluice_formats::{Format, FormatKind};
    use sluice_parser::SqlType;
    use sluice_state::{SledDb, WriteBatch};

    fn table(dir: &std::path::Path) -> Arc<Materialized> {
        let def = SourceDef {
            name: "T".into(),
            kind: SourceKind::Table,
            columns: vec![
                ColumnDef {
                    name: "ID".into(),
                    ty: SqlType::Int,
                    role: ColumnRole::Key,
                },
                ColumnDef {
                    name: "V".into(),
                    ty: SqlType::String,
                    role: ColumnRole::Value,
                },
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
        let db = SledDb::open(dir).unwrap();
        let store = db.store("q").unwrap();
        let m = Arc::new(Materialized::new(&def, store.clone()).unwrap());
        let schema = Arc::new(Schema::new(vec![
            Field::new("ID", DataType::Int32, true),
            Field::new("V", DataType::Utf8, true),
            Field::new(EVENT_TIME, DataType::Int64, true),
        ]));
        let ids: Vec<i32> = (0..1000).collect();
        let values: Vec<String> = ids.iter().map(|i| format!("v{i}")).collect();
        let data = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(ids.clone())),
                Arc::new(StringArray::from(values)),
                Arc::new(Int64Array::from(vec![7i64; ids.len()])),
            ],
        )
        .unwrap();
        m.apply(&Batch::inserts(data)).unwrap();
        let mut wb = WriteBatch::new();
        m.checkpoint(&mut wb);
        sluice_state::StateStore::commit(&store, wb).unwrap();
        m
    }

    fn rows_scanned(plan: &Arc<dyn ExecutionPlan>) -> usize {
        let ctx = SessionContext::new();
        let batches = futures::executor::block_on(datafusion::physical_plan::collect(
            plan.clone(),
            ctx.task_ctx(),
        ))
        .unwrap();
        batches.iter().map(|b| b.num_rows()).sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn key_equality_is_a_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let t = MaterializedTable::new(table(dir.path()));
        let ctx = SessionContext::new();
        let state = ctx.state();

        let by_key = col("ID").eq(lit(42i64));
        let other = col("V").eq(lit("v42"));
        assert_eq!(
            t.supports_filters_pushdown(&[&by_key, &other]).unwrap(),
            vec![
                TableProviderFilterPushDown::Inexact,
                TableProviderFilterPushDown::Unsupported
            ]
        );
        // A key equality reads one row; no key filter reads the table.
        let plan = t.scan(&state, None, &[by_key.clone()], None).await.unwrap();
        assert_eq!(rows_scanned(&plan), 1);
        let plan = t.scan(&state, None, &[other], None).await.unwrap();
        assert_eq!(rows_scanned(&plan), 1000);
        // A key that is not there, or whose literal does not fit the key type, reads nothing.
        let plan = t
            .scan(&state, None, &[lit(5000i32).eq(col("ID"))], None)
            .await
            .unwrap();
        assert_eq!(rows_scanned(&plan), 0);
        let plan = t
            .scan(&state, None, &[col("ID").eq(lit("x"))], None)
            .await
            .unwrap();
        assert_eq!(rows_scanned(&plan), 0);

        // Through SQL: the same answer as a full scan would give.
        ctx.register_table(datafusion::common::TableReference::bare("T"), Arc::new(t))
            .unwrap();
        let got = ctx
            .sql("SELECT \"V\", \"ROWTIME\" FROM \"T\" WHERE \"ID\" = 42")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let v = got[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(v.value(0), "v42");
        // ... and DataFusion pushed the key equality into the scan (one row read).
        let plan = ctx
            .sql("EXPLAIN SELECT \"V\" FROM \"T\" WHERE \"ID\" = CAST(42 AS INT)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
            .unwrap()
            .to_string();
        assert!(text.contains("partition_sizes=[1]"), "{text}");
    }
}
