//! TRANSFORM, FILTER and REDUCE through DataFusion's SQL planner (DuckDB's `->` lambda syntax
//! here; Sluice's parser writes ksqlDB's `=>` into the same AST).

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int32Array, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::test_util::{block_on, string_int_maps};

/// A table `t(id, xs ARRAY<INT>, m MAP<STRING, INT>, n INT)` of four rows: ordinary, with
/// nulls inside, null collections, empty collections.
fn context() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .set_str("datafusion.sql_parser.dialect", "duckdb");
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    crate::register_all(&mut state).unwrap();
    let ctx = SessionContext::new_with_state(state);
    let xs = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(3), Some(6), Some(2), Some(10)]),
        Some(vec![Some(5), None]),
        None,
        Some(vec![]),
    ]);
    let m = string_int_maps(vec![
        Some(vec![("a", Some(15)), ("abc", Some(7))]),
        Some(vec![("abcd", None), ("abcde", Some(25))]),
        None,
        Some(vec![]),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("xs", xs.data_type().clone(), true),
        Field::new("m", m.data_type().clone(), true),
        Field::new("n", DataType::Int32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
            Arc::new(xs),
            m,
            Arc::new(Int32Array::from(vec![
                Some(100),
                Some(200),
                Some(300),
                None,
            ])),
        ],
    )
    .unwrap();
    let mem = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    ctx.register_table("t", Arc::new(mem)).unwrap();
    ctx
}

/// The query's result as a pretty-printed table.
fn run(q: &str) -> String {
    let ctx = context();
    let batches = block_on(async { ctx.sql(q).await?.collect().await }).unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The cells of a pretty-printed table, row by row (borders and padding dropped).
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            let inner = &l[1..l.len() - 1];
            inner.split('|').map(|c| c.trim().to_string()).collect()
        })
        .collect()
}

fn assert_table(q: &str, expected: &[&str]) {
    let got = run(q);
    assert_eq!(cells(&got), cells(&expected.join("\n")), "{q}\n{got}");
}

#[test]
fn transform_array_per_element_with_capture() {
    assert_table(
        "SELECT id, transform(xs, x -> x * 2) AS d, transform(xs, x -> x + n) AS c FROM t \
         ORDER BY id",
        &[
            "+----+-----------------+-------------------------+",
            "| id | d               | c                       |",
            "+----+-----------------+-------------------------+",
            "| 1  | [6, 12, 4, 20]  | [103, 106, 102, 110]    |",
            "| 2  | [10, ]          | [205, ]                 |",
            "| 3  |                 |                         |",
            "| 4  | []              | []                      |",
            "+----+-----------------+-------------------------+",
        ],
    );
}

#[test]
fn transform_map_keys_and_values() {
    assert_table(
        "SELECT id, transform(m, (k, v) -> upper(k), (k, v) -> v + 1) AS r FROM t ORDER BY id",
        &[
            "+----+---------------------------+",
            "| id | r                         |",
            "+----+---------------------------+",
            "| 1  | {A: 16, ABC: 8}           |",
            "| 2  | {ABCD: , ABCDE: 26}       |",
            "| 3  |                           |",
            "| 4  | {}                        |",
            "+----+---------------------------+",
        ],
    );
}

#[test]
fn transform_map_with_colliding_keys_is_null() {
    // Row 1's keys both become 'x'; row 2's keys differ in length.
    assert_table(
        "SELECT id, transform(m, (k, v) -> CASE WHEN length(k) < 4 THEN 'x' ELSE k END, \
         (k, v) -> v) AS r FROM t ORDER BY id",
        &[
            "+----+---------------------+",
            "| id | r                   |",
            "+----+---------------------+",
            "| 1  |                     |",
            "| 2  | {abcd: , abcde: 25} |",
            "| 3  |                     |",
            "| 4  | {}                  |",
            "+----+---------------------+",
        ],
    );
}

#[test]
fn filter_arrays_and_maps() {
    assert_table(
        "SELECT id, filter(xs, x -> x > 5) AS a, filter(m, (k, v) -> v % 5 = 0) AS b \
         FROM t ORDER BY id",
        &[
            "+----+---------+--------------+",
            "| id | a       | b            |",
            "+----+---------+--------------+",
            "| 1  | [6, 10] | {a: 15}      |",
            "| 2  | []      | {abcde: 25}  |",
            "| 3  |         |              |",
            "| 4  | []      | {}           |",
            "+----+---------+--------------+",
        ],
    );
}

#[test]
fn reduce_arrays_and_maps() {
    // A null collection gives the initial state; a null element nulls the sum and the state
    // stays null (s + null); concat_ws skips the nulls.
    assert_table(
        "SELECT id, reduce(xs, 2, (s, x) -> s + x) AS a, \
         reduce(m, '', (s, k, v) -> concat(s, k)) AS b, \
         reduce(xs, n, (s, x) -> s + x) AS c FROM t ORDER BY id",
        &[
            "+----+----+------------+-----+",
            "| id | a  | b          | c   |",
            "+----+----+------------+-----+",
            "| 1  | 23 | aabc       | 121 |",
            "| 2  |    | abcdabcde  |     |",
            "| 3  | 2  |            | 300 |",
            "| 4  | 2  |            |     |",
            "+----+----+------------+-----+",
        ],
    );
}

#[test]
fn nested_lambdas() {
    assert_table(
        "SELECT id, reduce(transform(xs, x -> x * 10), 0, (s, x) -> s + x) AS a, \
         transform(m, (k, v) -> k, (k, v) -> reduce(filter(xs, x -> x > 2), 0, (s, x) -> s + x)) \
         AS b FROM t WHERE id = 1",
        &[
            "+----+-----+-------------------+",
            "| id | a   | b                 |",
            "+----+-----+-------------------+",
            "| 1  | 210 | {a: 19, abc: 19}  |",
            "+----+-----+-------------------+",
        ],
    );
}

#[test]
fn argument_errors_are_plan_errors() {
    let ctx = context();
    let err = |q: &str| {
        block_on(async { ctx.sql(q).await?.collect().await })
            .unwrap_err()
            .to_string()
    };
    assert!(
        err("SELECT transform(n, x -> x) FROM t").contains("expects an ARRAY or a MAP"),
        "{}",
        err("SELECT transform(n, x -> x) FROM t")
    );
    assert!(err("SELECT transform(m, (k, v) -> k) FROM t").contains("followed by 2 lambda"));
    assert!(err("SELECT filter(xs, x -> x + 1) FROM t").contains("returning BOOLEAN"));
}
