//! The fast path of the commonest pull query, a lookup by primary key:
//!
//! ```sql
//! SELECT * | col [AS name], ... FROM t WHERE k = <literal>
//! ```
//!
//! over one materialized table whose key is the single, unwindowed column `k`, with nothing
//! else (no other predicate, ORDER BY, LIMIT, DISTINCT, GROUP BY, expressions, aliases of the
//! table). Such a query is answered with one point read of the state store
//! ([`Materialized::lookup`]), without building a DataFusion context and planning, optimizing
//! and executing a plan, which costs about a millisecond of CPU per query, many times the read
//! itself. The answer is exactly the general path's: the same rows (DataFusion's plan reads them
//! with the same lookup and filters by the same equality) and the same columns, types and key
//! tags ([`super::result_schema`]). Every other query returns `None` and goes through
//! DataFusion, which also gives the errors (unknown columns, duplicate names).
//!
//! The literal must have the key's kind: an integer for an integer key, a string for a STRING
//! key. Other comparisons (`id = '42'`, `id = 4.2`) follow DataFusion's coercion rules on the
//! general path.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use sluice_parser::sql::ast::{BinaryOperator, Expr, SelectItem, SetExpr, UnaryOperator, Value};
use sluice_parser::KsqlQuery;

use crate::error::{EngineError, Result};
use crate::materialized::Materialized;
use crate::result::StatementResult;

/// A plain key lookup, as parsed: every clause of a candidate other than its projection, FROM
/// table name and WHERE must equal this one's (sqlparser's equality ignores source spans).
fn template() -> &'static sluice_parser::sql::ast::Query {
    static TEMPLATE: OnceLock<sluice_parser::sql::ast::Query> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let parsed = sluice_parser::parse_one("SELECT * FROM T WHERE K = 1")
            .expect("the lookup template parses");
        match parsed.statement {
            sluice_parser::Statement::Query(q) => q.query,
            other => unreachable!("the lookup template is a query: {other:?}"),
        }
    })
}

/// What a plain key lookup reads: the output columns (table column index, output name) and
/// the key value.
struct Lookup {
    columns: Vec<(usize, String)>,
    key: ScalarValue,
}

/// `q` answered by a point read of `tables`' only table, when `q` is a plain key lookup (see
/// the module docs); `None` otherwise.
pub(super) fn point_lookup(
    q: &KsqlQuery,
    tables: &[(String, Arc<Materialized>)],
) -> Option<Result<StatementResult>> {
    let [(_, table)] = tables else {
        return None;
    };
    let lookup = plan(q, table)?;
    Some(run(table, &lookup))
}

fn plan(q: &KsqlQuery, table: &Materialized) -> Option<Lookup> {
    if q.window.is_some()
        || q.partition_by.is_some()
        || !q.joins_within.is_empty()
        || q.emit.is_some()
        || q.limit.is_some()
        || table.lookup_width() != 1
        || table.key_names().len() != 1
    {
        return None;
    }
    let template = template();
    let (SetExpr::Select(select), SetExpr::Select(plain)) =
        (q.query.body.as_ref(), template.body.as_ref())
    else {
        return None;
    };
    // One table, as a bare name: the template's FROM with the name replaced.
    let [from] = select.from.as_slice() else {
        return None;
    };
    let sluice_parser::sql::ast::TableFactor::Table { name, .. } = &from.relation else {
        return None;
    };
    let mut expected_from = plain.from.clone();
    if let sluice_parser::sql::ast::TableFactor::Table { name: n, .. } =
        &mut expected_from[0].relation
    {
        *n = name.clone();
    }
    if select.from != expected_from {
        return None;
    }
    // Every other clause: as in the template.
    let mut expected = template.clone();
    if let SetExpr::Select(e) = expected.body.as_mut() {
        e.projection = select.projection.clone();
        e.from = expected_from;
        e.selection = select.selection.clone();
    }
    if expected != q.query {
        return None;
    }
    let schema = table.schema();
    let key_name = schema.field(0).name();
    let key = key_value(
        select.selection.as_ref()?,
        key_name,
        schema.field(0).data_type(),
    )?;
    let mut columns = Vec::new();
    for item in &select.projection {
        match item {
            item if *item == plain.projection[0] => {
                for name in table.star_names() {
                    columns.push((schema.index_of(&name).ok()?, name));
                }
            }
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => {
                columns.push((schema.index_of(&id.value).ok()?, id.value.clone()));
            }
            SelectItem::ExprWithAlias {
                expr: Expr::Identifier(id),
                alias,
            } => columns.push((schema.index_of(&id.value).ok()?, alias.value.clone())),
            _ => return None,
        }
    }
    let names: BTreeSet<&str> = columns.iter().map(|(_, n)| n.as_str()).collect();
    (names.len() == columns.len()).then_some(Lookup { columns, key })
}

/// The value of `key = literal` (either way round), if the literal has the key's kind.
fn key_value(selection: &Expr, key: &str, key_type: &DataType) -> Option<ScalarValue> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = selection
    else {
        return None;
    };
    let literal = match (left.as_ref(), right.as_ref()) {
        (Expr::Identifier(id), other) | (other, Expr::Identifier(id)) if id.value == key => other,
        _ => return None,
    };
    let (negative, value) = match literal {
        Expr::Value(v) => (false, &v.value),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => (true, &v.value),
            _ => return None,
        },
        _ => return None,
    };
    match (value, key_type) {
        (Value::Number(digits, _), t) if t.is_integer() => {
            let n: i64 = if negative {
                format!("-{digits}").parse().ok()?
            } else {
                digits.parse().ok()?
            };
            Some(ScalarValue::Int64(Some(n)))
        }
        (Value::SingleQuotedString(s), DataType::Utf8) if !negative => {
            Some(ScalarValue::Utf8(Some(s.clone())))
        }
        _ => None,
    }
}

fn run(table: &Materialized, lookup: &Lookup) -> Result<StatementResult> {
    let internal = |e: datafusion::arrow::error::ArrowError| EngineError::Internal(e.to_string());
    // One point read of the store: short enough to do on the async worker.
    let rows = table.lookup(std::slice::from_ref(&lookup.key))?;
    let source = table.schema();
    let fields: Vec<Field> = lookup
        .columns
        .iter()
        .map(|(i, name)| Field::new(name, source.field(*i).data_type().clone(), true))
        .collect();
    let keys: BTreeSet<String> = table.key_names().into_iter().collect();
    let schema = super::result_schema(&Schema::new(fields), &keys)?;
    let columns = lookup
        .columns
        .iter()
        .zip(schema.fields())
        .map(|((i, _), f)| {
            let c = rows.column(*i);
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                cast(c, f.data_type()).map_err(internal)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(internal)?;
    let tag = format!("SELECT {}", batch.num_rows());
    Ok(StatementResult::Rows {
        schema,
        batches: vec![batch],
        tag: Some(tag),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use sluice_catalog::{ColumnDef, ColumnRole, SourceDef, SourceKind, EVENT_TIME};
    use sluice_dataflow::Batch;
    use sluice_formats::{Format, FormatKind};
    use sluice_parser::SqlType;
    use sluice_state::WriteBatch;

    fn table(dir: &std::path::Path, key: SqlType) -> Arc<Materialized> {
        let column = |name: &str, ty, role| ColumnDef {
            name: name.into(),
            ty,
            role,
        };
        let string_key = key == SqlType::String;
        let def = SourceDef {
            name: "T".into(),
            kind: SourceKind::Table,
            columns: vec![
                column("ID", key, ColumnRole::Key),
                column("V", SqlType::String, ColumnRole::Value),
                column("N", SqlType::Int, ColumnRole::Value),
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
        let db = sluice_state::SledDb::open(dir).unwrap();
        let store = db.store("q").unwrap();
        let m = Arc::new(Materialized::new(&def, store.clone()).unwrap());
        let ids: Vec<i64> = (-5..100).collect();
        let id_column: Arc<dyn datafusion::arrow::array::Array> = if string_key {
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("k{i}")),
            ))
        } else {
            Arc::new(Int64Array::from(ids.clone()))
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("ID", id_column.data_type().clone(), true),
            Field::new("V", DataType::Utf8, true),
            Field::new("N", DataType::Int32, true),
            Field::new(EVENT_TIME, DataType::Int64, true),
        ]));
        let data = RecordBatch::try_new(
            schema,
            vec![
                id_column,
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("v{i}")),
                )),
                Arc::new(datafusion::arrow::array::Int32Array::from_iter_values(
                    ids.iter().map(|i| (*i as i32) * 2),
                )),
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

    fn query(sql: &str) -> KsqlQuery {
        match sluice_parser::parse_one(sql).unwrap().statement {
            sluice_parser::Statement::Query(q) => *q,
            other => panic!("not a query: {other:?}"),
        }
    }

    fn rows_of(r: StatementResult) -> (Schema, Vec<RecordBatch>) {
        match r {
            StatementResult::Rows {
                schema, batches, ..
            } => (schema.as_ref().clone(), batches),
            other => panic!("not rows: {other:?}"),
        }
    }

    /// Runs `sql` on both paths: the fast one must be taken and agree with DataFusion.
    async fn agrees(tables: &[(String, Arc<Materialized>)], sql: &str) -> usize {
        let q = query(sql);
        let fast = point_lookup(&q, tables)
            .unwrap_or_else(|| panic!("{sql}: not a plain key lookup"))
            .unwrap();
        let general = super::super::pull_query_datafusion(&q, tables)
            .await
            .unwrap();
        let (fast_schema, fast_rows) = rows_of(fast);
        let (schema, rows) = rows_of(general);
        assert_eq!(fast_schema, schema, "{sql}");
        let fast_rows =
            datafusion::arrow::compute::concat_batches(&Arc::new(schema.clone()), &fast_rows)
                .unwrap();
        let rows = datafusion::arrow::compute::concat_batches(&Arc::new(schema), &rows).unwrap();
        assert_eq!(fast_rows, rows, "{sql}");
        rows.num_rows()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn key_lookups_take_the_fast_path_and_answer_as_datafusion_does() {
        let dir = tempfile::tempdir().unwrap();
        let tables = vec![("T".to_string(), table(dir.path(), SqlType::Bigint))];
        for (sql, found) in [
            ("SELECT * FROM t WHERE id = 42", 1),
            ("SELECT v, id FROM t WHERE 42 = id", 1),
            ("SELECT id AS k, n, ROWTIME FROM t WHERE id = -3", 1),
            ("SELECT v FROM t WHERE id = 5000", 0),
        ] {
            assert_eq!(agrees(&tables, sql).await, found, "{sql}");
        }
        // Anything else goes through DataFusion.
        for sql in [
            "SELECT * FROM t WHERE id = 42 AND v = 'v42'",
            "SELECT * FROM t WHERE id = '42'",
            "SELECT * FROM t WHERE id = 4.2",
            "SELECT * FROM t WHERE id = 99999999999999999999",
            "SELECT * FROM t WHERE id > 42",
            "SELECT * FROM t WHERE id = 42 ORDER BY v",
            "SELECT * FROM t WHERE id = 42 LIMIT 1",
            "SELECT v, v FROM t WHERE id = 42",
            "SELECT UCASE(v) FROM t WHERE id = 42",
            "SELECT x.v FROM t x WHERE x.id = 42",
            "SELECT nope FROM t WHERE id = 42",
            "SELECT COUNT(*) FROM t WHERE id = 42",
            "SELECT * FROM t",
        ] {
            assert!(point_lookup(&query(sql), &tables).is_none(), "{sql}");
        }
        let dir = tempfile::tempdir().unwrap();
        let tables = vec![("T".to_string(), table(dir.path(), SqlType::String))];
        assert_eq!(agrees(&tables, "SELECT * FROM t WHERE id = 'k7'").await, 1);
        assert_eq!(
            agrees(&tables, "SELECT n FROM t WHERE id = 'nope'").await,
            0
        );
        assert!(point_lookup(&query("SELECT * FROM t WHERE id = 7"), &tables).is_none());
    }
}
