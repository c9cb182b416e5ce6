//! Tests across the functions: registration, the table-support list against the
//! accumulators, ksqlDB's texts, and SQL through DataFusion's planner (how pull queries use
//! the functions).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::test_util::block_on;

use super::testing::{make, Arg};
use super::types::list_of;
use super::*;

fn context() -> SessionContext {
    let mut state = SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_target_partitions(1))
        .with_default_features()
        .build();
    crate::register_all(&mut state).unwrap();
    SessionContext::new_with_state(state)
}

fn table(ctx: &SessionContext) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("v", DataType::Int32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("b"),
                Some("a"),
                Some("a"),
                Some("b"),
            ])),
            Arc::new(Int32Array::from(vec![
                Some(5),
                None,
                Some(7),
                Some(1),
                None,
            ])),
        ],
    )
    .unwrap();
    let mem = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    ctx.register_table("t", Arc::new(mem)).unwrap();
}

fn sql(ctx: &SessionContext, q: &str) -> datafusion::common::Result<Vec<RecordBatch>> {
    block_on(async { ctx.sql(q).await?.collect().await })
}

#[test]
fn all_functions_are_registered_under_their_names() {
    let names: Vec<String> = all().iter().map(|f| f.name().to_string()).collect();
    for n in [
        "attr",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "count_distinct",
        "collect_list",
        "collect_set",
        "earliest_by_offset",
        "latest_by_offset",
        "topk",
        "topkdistinct",
        "histogram",
        "stddev_samp",
        "stddev_sample",
        "correlation",
        "sum_list",
    ] {
        assert!(names.contains(&n.to_string()), "{n} missing");
        assert!(ksql_name(n).is_some(), "{n} has no ksqlDB name");
    }
    assert_eq!(names.len(), FUNCTIONS.len());
}

/// `supports_tables` agrees with what each accumulator says about retraction.
#[test]
fn table_support_matches_the_accumulators() {
    let col = |t: DataType| Arg::Col(t);
    let calls: Vec<(&str, Vec<Arg>)> = vec![
        ("count", vec![col(DataType::Int32)]),
        ("count_distinct", vec![col(DataType::Int32)]),
        ("sum", vec![col(DataType::Int32)]),
        ("sum_list", vec![col(list_of(DataType::Int32))]),
        ("avg", vec![col(DataType::Int32)]),
        ("min", vec![col(DataType::Int32)]),
        ("max", vec![col(DataType::Int32)]),
        ("collect_list", vec![col(DataType::Int32)]),
        ("attr", vec![col(DataType::Int32)]),
        ("collect_set", vec![col(DataType::Int32)]),
        ("earliest_by_offset", vec![col(DataType::Int32)]),
        ("latest_by_offset", vec![col(DataType::Int32)]),
        (
            "topk",
            vec![col(DataType::Int32), Arg::Lit(ScalarValue::Int64(Some(2)))],
        ),
        (
            "topkdistinct",
            vec![col(DataType::Int32), Arg::Lit(ScalarValue::Int64(Some(2)))],
        ),
        ("histogram", vec![col(DataType::Utf8)]),
        ("stddev_samp", vec![col(DataType::Int32)]),
        ("stddev_sample", vec![col(DataType::Int32)]),
        (
            "correlation",
            vec![col(DataType::Int32), col(DataType::Int32)],
        ),
    ];
    assert_eq!(calls.len(), FUNCTIONS.len());
    let udfs = all();
    for (name, args) in calls {
        let udf = udfs.iter().find(|u| u.name() == name).unwrap();
        let acc = make(udf, &args).unwrap();
        assert_eq!(
            acc.supports_retract_batch(),
            supports_tables(name),
            "{name}"
        );
    }
    assert!(supports_tables("COUNT"));
    assert!(!supports_tables("no_such_function"));
}

#[test]
fn table_error_text_is_ksqls() {
    assert_eq!(
        table_aggregation_error(["latest_by_offset", "count", "min", "max", "min"]).unwrap(),
        "The aggregation functions LATEST_BY_OFFSET, MIN and MAX cannot be applied to a table \
         source, only to a stream source."
    );
    assert_eq!(
        table_aggregation_error(["collect_set"]).unwrap(),
        "The aggregation function collect_set cannot be applied to a table source, only to a \
         stream source."
    );
    assert_eq!(
        table_aggregation_error(["topk", "max"]).unwrap(),
        "The aggregation functions TOPK and MAX cannot be applied to a table source, only to a \
         stream source."
    );
    assert!(table_aggregation_error(["sum", "avg", "collect_list"]).is_none());
}

#[test]
fn structured_intermediates_are_known() {
    for n in [
        "avg",
        "collect_list",
        "topk",
        "stddev_samp",
        "correlation",
        "latest_by_offset",
    ] {
        assert!(has_structured_intermediate(n), "{n}");
    }
    for n in ["count", "sum", "min", "max"] {
        assert!(!has_structured_intermediate(n), "{n}");
    }
}

#[test]
fn collect_limits_come_from_properties() {
    let c = AggregateConfig::from_properties([
        (COLLECT_LIST_LIMIT_CONFIG, "1"),
        (COLLECT_SET_LIMIT_CONFIG, "-1"),
        ("ksql.other", "5"),
    ]);
    assert_eq!(c.collect_list_limit, Some(1));
    assert_eq!(c.collect_set_limit, None);
    let udf = all_with(&c)
        .into_iter()
        .find(|u| u.name() == "collect_list")
        .unwrap();
    let mut acc = make(&udf, &[Arg::Col(DataType::Int32)]).unwrap();
    acc.update_batch(&[super::testing::i32s(&[Some(0), Some(100)])])
        .unwrap();
    assert_eq!(
        acc.evaluate().unwrap(),
        ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Int32(Some(0))],
            &DataType::Int32
        ))
    );
}

fn list_i32(a: &dyn Array, row: usize) -> Vec<Option<i32>> {
    a.as_list::<i32>()
        .value(row)
        .as_primitive::<Int32Type>()
        .iter()
        .collect()
}

#[test]
fn sql_group_by_runs_ksql_functions() {
    let ctx = context();
    table(&ctx);
    let batches = sql(
        &ctx,
        "SELECT k, COUNT(*), SUM(v), COLLECT_LIST(v), TOPK(v, 2) FROM t GROUP BY k ORDER BY k",
    )
    .unwrap();
    let b = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let schema = b.schema();
    assert_eq!(
        schema.field(1).data_type(),
        &DataType::Int64,
        "COUNT is BIGINT"
    );
    assert_eq!(
        schema.field(2).data_type(),
        &DataType::Int32,
        "SUM(INT) is INT"
    );
    assert_eq!(schema.field(3).data_type(), &list_of(DataType::Int32));
    assert_eq!(schema.field(4).data_type(), &list_of(DataType::Int32));

    let keys: Vec<_> = b.column(0).as_string::<i32>().iter().collect();
    assert_eq!(keys, vec![Some("a"), Some("b")]);
    let counts: Vec<_> = b.column(1).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(
        counts,
        vec![Some(3), Some(2)],
        "COUNT(*) counts rows, nulls too"
    );
    let sums: Vec<_> = b.column(2).as_primitive::<Int32Type>().iter().collect();
    assert_eq!(sums, vec![Some(13), Some(0)], "a group of nulls sums to 0");
    assert_eq!(list_i32(b.column(3), 0), vec![Some(5), Some(7), Some(1)]);
    assert_eq!(
        list_i32(b.column(3), 1),
        vec![None, None],
        "nulls are collected"
    );
    assert_eq!(list_i32(b.column(4), 0), vec![Some(7), Some(5)]);
    assert_eq!(list_i32(b.column(4), 1), Vec::<Option<i32>>::new());
}

#[test]
fn sql_other_functions_plan_and_run() {
    let ctx = context();
    table(&ctx);
    let batches = sql(
        &ctx,
        "SELECT k, COUNT(v), AVG(v), MIN(v), MAX(v), COUNT_DISTINCT(v), \
         LATEST_BY_OFFSET(v), EARLIEST_BY_OFFSET(v, 2), STDDEV_SAMPLE(v), HISTOGRAM(k), \
         STDDEV_SAMP(v) \
         FROM t GROUP BY k ORDER BY k",
    )
    .unwrap();
    let b = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let row = |c: usize| -> Vec<ScalarValue> {
        (0..b.num_rows())
            .map(|r| ScalarValue::try_from_array(b.column(c).as_ref(), r).unwrap())
            .collect()
    };
    assert_eq!(
        row(1),
        vec![ScalarValue::Int64(Some(3)), ScalarValue::Int64(Some(0))]
    );
    assert_eq!(
        row(2),
        vec![
            ScalarValue::Float64(Some(13.0 / 3.0)),
            ScalarValue::Float64(Some(0.0))
        ]
    );
    assert_eq!(
        row(3),
        vec![ScalarValue::Int32(Some(1)), ScalarValue::Int32(None)]
    );
    assert_eq!(
        row(4),
        vec![ScalarValue::Int32(Some(7)), ScalarValue::Int32(None)]
    );
    assert_eq!(
        row(5),
        vec![ScalarValue::Int64(Some(3)), ScalarValue::Int64(Some(0))]
    );
    assert_eq!(
        row(6),
        vec![ScalarValue::Int32(Some(1)), ScalarValue::Int32(None)]
    );
    assert_eq!(list_i32(b.column(7), 0), vec![Some(5), Some(7)]);
    assert_eq!(b.schema().field(8).data_type(), &DataType::Float64);
    assert_eq!(
        b.schema().field(9).data_type(),
        &super::histogram::histogram_type()
    );
    // ksqlDB's STDDEV_SAMP (the variance), not DataFusion's stddev_samp alias.
    let variance = super::testing::f64_of(&row(10)[0]);
    assert!((variance - 28.0 / 3.0).abs() < 1e-9, "{variance}");
    let stddev = super::testing::f64_of(&row(8)[0]);
    assert!((stddev - (28.0f64 / 3.0).sqrt()).abs() < 1e-9, "{stddev}");
}

#[test]
fn sql_rejects_wrong_types_with_ksqls_text() {
    let ctx = context();
    table(&ctx);
    let err = sql(&ctx, "SELECT SUM(k) FROM t").unwrap_err().to_string();
    assert!(
        err.contains("Function 'SUM' does not accept parameters (STRING)."),
        "{err}"
    );
    let err = sql(&ctx, "SELECT TOPK(v, v) FROM t")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Parameter 2 passed to function TOPK must be a literal constant"),
        "{err}"
    );
}

#[test]
fn sql_without_group_by_uses_initial_values() {
    let ctx = context();
    table(&ctx);
    let batches = sql(&ctx, "SELECT COUNT(*), SUM(v) FROM t WHERE k = 'zzz'").unwrap();
    let b = &batches[0];
    let c: ArrayRef = b.column(0).clone();
    assert_eq!(c.as_primitive::<Int64Type>().value(0), 0);
    assert_eq!(b.column(1).as_primitive::<Int32Type>().value(0), 0);
}
