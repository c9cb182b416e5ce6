//! Test helpers: arrays from literals, accumulators made the way DataFusion makes them, and
//! the operator contract checks (evaluate after every row; state → bytes → fresh accumulator
//! continues identically).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array,
    StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use datafusion::physical_expr::expressions::{lit, Column};
use datafusion::physical_expr::PhysicalExpr;

use super::state_codec;

pub(crate) fn i32s(v: &[Option<i32>]) -> ArrayRef {
    Arc::new(Int32Array::from(v.to_vec()))
}

pub(crate) fn i64s(v: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

pub(crate) fn f64s(v: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

pub(crate) fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

pub(crate) fn bools(v: &[Option<bool>]) -> ArrayRef {
    Arc::new(BooleanArray::from(v.to_vec()))
}

pub(crate) fn bins(v: &[Option<&[u8]>]) -> ArrayRef {
    Arc::new(BinaryArray::from(v.to_vec()))
}

pub(crate) fn decs(v: &[Option<i128>], p: u8, s: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(v.to_vec())
            .with_precision_and_scale(p, s)
            .unwrap(),
    )
}

/// An argument of a test call: a column of some type or a literal.
pub(crate) enum Arg {
    Col(DataType),
    Lit(ScalarValue),
}

/// The accumulator `udf` makes for a call with these arguments (types already coerced).
pub(crate) fn make(udf: &AggregateUDF, args: &[Arg]) -> Result<Box<dyn Accumulator>> {
    let fields: Vec<FieldRef> = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let dt = match a {
                Arg::Col(t) => t.clone(),
                Arg::Lit(v) => v.data_type(),
            };
            Arc::new(Field::new(format!("c{i}"), dt, true))
        })
        .collect();
    let exprs: Vec<Arc<dyn PhysicalExpr>> = args
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Arg::Col(_) => Arc::new(Column::new(&format!("c{i}"), i)) as Arc<dyn PhysicalExpr>,
            Arg::Lit(v) => lit(v.clone()),
        })
        .collect();
    let schema = Schema::new(fields.clone());
    let return_field = udf.return_field(&fields)?;
    udf.accumulator(AccumulatorArgs {
        return_field,
        schema: &schema,
        ignore_nulls: false,
        order_bys: &[],
        is_reversed: false,
        name: udf.name(),
        is_distinct: false,
        exprs: &exprs,
        expr_fields: &fields,
    })
}

/// The rows of `columns` (same length) one at a time, each as 1-row arrays.
pub(crate) fn rows(columns: &[ArrayRef]) -> Vec<Vec<ArrayRef>> {
    let n = columns.first().map(|c| c.len()).unwrap_or(0);
    (0..n)
        .map(|i| columns.iter().map(|c| c.slice(i, 1)).collect())
        .collect()
}

/// Feeds `columns` row by row and returns the value after each row (how the operator uses an
/// accumulator); evaluates twice each time to check evaluate does not change state.
pub(crate) fn eval_each(acc: &mut dyn Accumulator, columns: &[ArrayRef]) -> Vec<ScalarValue> {
    rows(columns)
        .into_iter()
        .map(|row| {
            acc.update_batch(&row).unwrap();
            let a = acc.evaluate().unwrap();
            let b = acc.evaluate().unwrap();
            assert_eq!(a, b, "evaluate changed the state");
            a
        })
        .collect()
}

/// A fresh accumulator that merges `acc`'s state after it went through the state codec.
pub(crate) fn restore(acc: &mut dyn Accumulator, fresh: &mut dyn Accumulator) -> Result<()> {
    let state = acc.state()?;
    let decoded = state_codec::decode(&state_codec::encode(&state)).unwrap();
    assert_eq!(state, decoded, "state codec round trip");
    let arrays = decoded
        .iter()
        .map(|v| v.to_array())
        .collect::<Result<Vec<_>>>()?;
    fresh.merge_batch(&arrays)
}

/// The contract of the operator: for every split point of `columns`, an accumulator restored
/// from the state after the first part evaluates like the original and continues identically.
pub(crate) fn check_round_trip(new: &dyn Fn() -> Box<dyn Accumulator>, columns: &[ArrayRef]) {
    let all = rows(columns);
    for split in 0..=all.len() {
        let mut original = new();
        for row in &all[..split] {
            original.update_batch(row).unwrap();
        }
        let mut restored = new();
        restore(original.as_mut(), restored.as_mut()).unwrap();
        assert_eq!(
            original.evaluate().unwrap(),
            restored.evaluate().unwrap(),
            "after restoring at row {split}"
        );
        for row in &all[split..] {
            original.update_batch(row).unwrap();
            restored.update_batch(row).unwrap();
            assert_eq!(
                original.evaluate().unwrap(),
                restored.evaluate().unwrap(),
                "continuing after restoring at row {split}"
            );
        }
    }
}

/// Float equality up to the last bits (ksqlDB's expected values print Java doubles).
pub(crate) fn f64_of(v: &ScalarValue) -> f64 {
    match v {
        ScalarValue::Float64(Some(x)) => *x,
        other => panic!("not a DOUBLE: {other:?}"),
    }
}
