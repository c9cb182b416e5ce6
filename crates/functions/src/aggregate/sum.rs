//! SUM and SUM_LIST (ksqlDB's `SumKudaf` family and `ListSumUdaf`).
//!
//! - SUM(INT) is INT, SUM(BIGINT) BIGINT (both wrap around on overflow, as Java's `+` does),
//!   SUM(DOUBLE) DOUBLE (added in arrival order), SUM(DECIMAL(p, s)) DECIMAL(p, s), which fails
//!   with ksqlDB's "Numeric field overflow" error once the sum no longer fits.
//! - The sum starts at zero: a group whose values are all null sums to 0, not null.
//! - SUM_LIST(ARRAY<INT|BIGINT|DOUBLE>) adds each list's non-null elements.
//! - Both are retractable.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int32Type, Int64Type};
use datafusion::common::{exec_err, internal_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::java::{decimal_plain_string, round_to_precision};
use super::types::{
    alternatives, coerce_single, list_item, list_of, no_matching_signature, resolve_kind, Kind,
    SUMMABLE,
};
use super::udaf::{arg_types, AggregateSpec};

/// `SUM(col)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Sum;

impl AggregateSpec for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_single("SUM", args, SUMMABLE)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn state(&self, args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("sum", args[0].clone())])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SumAccumulator::new(&arg_types(args)[0])?))
    }
}

/// `SUM_LIST(array)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct SumList;

const LIST_KINDS: &[Kind] = &[Kind::Int, Kind::BigInt, Kind::Double];

impl AggregateSpec for SumList {
    fn name(&self) -> &'static str {
        "sum_list"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if let [t] = args {
            if let Some(item) = list_item(t).and_then(|i| resolve_kind(i, LIST_KINDS)) {
                return Ok(vec![list_of(item)]);
            }
        }
        let alts = alternatives("sum_list", &[Kind::Int, Kind::BigInt, Kind::Double], "")
            .into_iter()
            .map(|a| a.replacen('(', "(ARRAY<", 1).replacen(" val", "> val", 1))
            .collect::<Vec<_>>();
        Err(no_matching_signature("sum_list", args, &alts))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match list_item(&args[0]) {
            Some(t) => Ok(t.clone()),
            None => internal_err!("sum_list of {}", args[0]),
        }
    }

    fn state(&self, args: &[DataType], ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        let _ = args;
        Ok(vec![("sum", ret.clone())])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let ret = args.return_field.data_type().clone();
        Ok(Box::new(SumListAccumulator(SumAccumulator::new(&ret)?)))
    }
}

/// A running sum with Java's arithmetic for its type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Total {
    Int(i32),
    BigInt(i64),
    Double(f64),
    Decimal {
        unscaled: i128,
        precision: u8,
        scale: i8,
    },
}

impl Total {
    pub(crate) fn zero(dt: &DataType) -> Result<Self> {
        Ok(match dt {
            DataType::Int32 => Total::Int(0),
            DataType::Int64 => Total::BigInt(0),
            DataType::Float64 => Total::Double(0.0),
            DataType::Decimal128(p, s) => Total::Decimal {
                unscaled: 0,
                precision: *p,
                scale: *s,
            },
            other => return internal_err!("no sum for {other}"),
        })
    }

    pub(crate) fn to_scalar(self) -> ScalarValue {
        match self {
            Total::Int(v) => ScalarValue::Int32(Some(v)),
            Total::BigInt(v) => ScalarValue::Int64(Some(v)),
            Total::Double(v) => ScalarValue::Float64(Some(v)),
            Total::Decimal {
                unscaled,
                precision,
                scale,
            } => ScalarValue::Decimal128(Some(unscaled), precision, scale),
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Total::Int(v) => v as f64,
            Total::BigInt(v) => v as f64,
            Total::Double(v) => v,
            Total::Decimal {
                unscaled, scale, ..
            } => unscaled as f64 / 10f64.powi(scale as i32),
        }
    }

    /// Adds every non-null value of `array` in order; `sign` -1 subtracts (retraction).
    /// Decimal additions check for overflow; subtractions and merges do not (as in ksqlDB).
    pub(crate) fn add_array(&mut self, array: &dyn Array, sign: i8, check: bool) -> Result<()> {
        match self {
            Total::Int(t) => {
                let a = array.as_primitive::<Int32Type>();
                for v in a.iter().flatten() {
                    *t = if sign > 0 {
                        t.wrapping_add(v)
                    } else {
                        t.wrapping_sub(v)
                    };
                }
            }
            Total::BigInt(t) => {
                let a = array.as_primitive::<Int64Type>();
                for v in a.iter().flatten() {
                    *t = if sign > 0 {
                        t.wrapping_add(v)
                    } else {
                        t.wrapping_sub(v)
                    };
                }
            }
            Total::Double(t) => {
                let a = array.as_primitive::<Float64Type>();
                for v in a.iter().flatten() {
                    *t = if sign > 0 { *t + v } else { *t - v };
                }
            }
            Total::Decimal {
                unscaled,
                precision,
                scale,
            } => {
                let a = array.as_primitive::<Decimal128Type>();
                for v in a.iter().flatten() {
                    let next = if sign > 0 {
                        unscaled.checked_add(v)
                    } else {
                        unscaled.checked_sub(v)
                    };
                    *unscaled = match next {
                        Some(n) if !check || fits(n, *precision) => n,
                        other => {
                            let exact = other.unwrap_or(if v > 0 { i128::MAX } else { i128::MIN });
                            return overflow(exact, *precision, *scale);
                        }
                    };
                }
            }
        }
        Ok(())
    }
}

/// Whether an unscaled value has at most `precision` digits.
fn fits(unscaled: i128, precision: u8) -> bool {
    precision >= 39 || unscaled.unsigned_abs() < 10u128.pow(precision as u32)
}

/// ksqlDB's `DecimalSumKudaf` error, with the sum rounded to the precision as Java's
/// `MathContext` does before the check.
fn overflow<T>(exact: i128, precision: u8, scale: i8) -> Result<T> {
    let (rounded, rscale) = round_to_precision(exact, scale as i32, precision as u32);
    exec_err!(
        "Numeric field overflow: A field with precision {} and scale {} must round to an \
         absolute value less than 10^{}. Got {}",
        precision,
        scale,
        precision as i32 - scale as i32,
        decimal_plain_string(rounded, rscale)
    )
}

/// SUM's accumulator.
#[derive(Debug)]
pub(crate) struct SumAccumulator {
    total: Total,
}

impl SumAccumulator {
    pub(crate) fn new(dt: &DataType) -> Result<Self> {
        Ok(Self {
            total: Total::zero(dt)?,
        })
    }
}

impl Accumulator for SumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.total.add_array(values[0].as_ref(), 1, true)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.total.add_array(values[0].as_ref(), -1, false)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.total.to_scalar())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.total.to_scalar()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.total.add_array(states[0].as_ref(), 1, false)
    }
}

/// SUM_LIST's accumulator: each list is summed on its own (from zero) and then added.
#[derive(Debug)]
pub(crate) struct SumListAccumulator(SumAccumulator);

impl SumListAccumulator {
    fn apply(&mut self, values: &[ArrayRef], sign: i8) -> Result<()> {
        let lists = values[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_null(i) {
                continue;
            }
            let mut row = Total::zero(&self.0.total.to_scalar().data_type())?;
            row.add_array(lists.value(i).as_ref(), 1, false)?;
            let one = row.to_scalar().to_array()?;
            self.0.total.add_array(one.as_ref(), sign, false)?;
        }
        Ok(())
    }
}

impl Accumulator for SumListAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, -1)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.evaluate()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;
    use datafusion::arrow::array::ListArray;
    use datafusion::arrow::datatypes::Int32Type as I32;
    use std::sync::Arc;

    #[test]
    fn types_follow_the_input() {
        for t in [
            DataType::Int32,
            DataType::Int64,
            DataType::Float64,
            DataType::Decimal128(4, 1),
        ] {
            assert_eq!(
                Sum.coerce(std::slice::from_ref(&t)).unwrap(),
                vec![t.clone()]
            );
            assert_eq!(Sum.return_type(std::slice::from_ref(&t)).unwrap(), t);
        }
        let err = Sum.coerce(&[DataType::Utf8]).unwrap_err().to_string();
        assert!(err.contains("Function 'SUM' does not accept parameters (STRING)."));
        assert!(Sum.coerce(&[DataType::Boolean]).is_err());
    }

    #[test]
    fn int_sum_stays_int_and_wraps_like_java() {
        let mut acc = SumAccumulator::new(&DataType::Int32).unwrap();
        let out = eval_each(&mut acc, &[i32s(&[Some(0), Some(100), None])]);
        assert_eq!(
            out,
            vec![
                ScalarValue::Int32(Some(0)),
                ScalarValue::Int32(Some(100)),
                ScalarValue::Int32(Some(100))
            ]
        );
        acc.update_batch(&[i32s(&[Some(i32::MAX)])]).unwrap();
        assert_eq!(
            acc.evaluate().unwrap(),
            ScalarValue::Int32(Some(i32::MAX.wrapping_add(100)))
        );
    }

    #[test]
    fn all_null_group_sums_to_zero() {
        let mut acc = SumAccumulator::new(&DataType::Int64).unwrap();
        acc.update_batch(&[i64s(&[None, None])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(0)));
    }

    #[test]
    fn long_and_double_sums() {
        let mut acc = SumAccumulator::new(&DataType::Int64).unwrap();
        let out = eval_each(&mut acc, &[i64s(&[Some(2147483648), Some(100)])]);
        assert_eq!(out[1], ScalarValue::Int64(Some(2147483748)));
        let mut acc = SumAccumulator::new(&DataType::Float64).unwrap();
        let out = eval_each(&mut acc, &[f64s(&[Some(500.9), Some(300.8)])]);
        assert_eq!(out[1], ScalarValue::Float64(Some(500.9 + 300.8)));
        assert_eq!(f64_of(&out[1]), 801.7);
    }

    #[test]
    fn decimal_sum_keeps_precision_and_overflows_with_ksqls_error() {
        let t = DataType::Decimal128(4, 1);
        let mut acc = SumAccumulator::new(&t).unwrap();
        let out = eval_each(&mut acc, &[decs(&[Some(5009), Some(3008)], 4, 1)]);
        assert_eq!(out[1], ScalarValue::Decimal128(Some(8017), 4, 1));
        let err = acc
            .update_batch(&[decs(&[Some(4008)], 4, 1)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "Numeric field overflow: A field with precision 4 and scale 1 must round to an \
                 absolute value less than 10^3. Got 1203"
            ),
            "{err}"
        );
        let mut acc = SumAccumulator::new(&DataType::Decimal128(3, 1)).unwrap();
        let err = acc
            .update_batch(&[decs(&[Some(509), Some(508)], 3, 1)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("must round to an absolute value less than 10^2. Got 102"));
    }

    #[test]
    fn retraction_subtracts() {
        let mut acc = SumAccumulator::new(&DataType::Int32).unwrap();
        acc.update_batch(&[i32s(&[Some(5), Some(20)])]).unwrap();
        acc.retract_batch(&[i32s(&[Some(20), None])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int32(Some(5)));
        acc.retract_batch(&[i32s(&[Some(5)])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int32(Some(0)));
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::new(SumAccumulator::new(&DataType::Float64).unwrap()),
            &[f64s(&[Some(0.1), None, Some(0.2), Some(1e16), Some(-3.5)])],
        );
        check_round_trip(
            &|| Box::new(SumAccumulator::new(&DataType::Decimal128(6, 2)).unwrap()),
            &[decs(&[Some(540), Some(10010), None], 6, 2)],
        );
    }

    #[test]
    fn sum_list_sums_elements() {
        let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<I32, _, _>(vec![
            Some(vec![Some(1), Some(1)]),
            Some(vec![Some(2), Some(2)]),
            None,
            Some(vec![Some(100), Some(100), None]),
        ]));
        let t = list_of(DataType::Int32);
        assert_eq!(
            SumList.coerce(std::slice::from_ref(&t)).unwrap(),
            vec![t.clone()]
        );
        assert_eq!(SumList.return_type(&[t]).unwrap(), DataType::Int32);
        let mut acc = SumListAccumulator(SumAccumulator::new(&DataType::Int32).unwrap());
        let out = eval_each(&mut acc, &[lists]);
        let ints: Vec<_> = out
            .iter()
            .map(|v| match v {
                ScalarValue::Int32(Some(x)) => *x,
                _ => panic!(),
            })
            .collect();
        assert_eq!(ints, vec![2, 6, 6, 206]);
        assert!(SumList.coerce(&[DataType::Int32]).is_err());
    }
}
