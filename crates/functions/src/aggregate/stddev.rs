//! STDDEV_SAMP and STDDEV_SAMPLE (ksqlDB's `StandardDeviationSampUdaf` /
//! `StandardDeviationSampleUdaf`): DOUBLE over INT, BIGINT or DOUBLE; retractable.
//!
//! Both keep ksqlDB's running state (sum in the input's type, count, M2) updated with the same
//! Java arithmetic (INT sums wrap as ints, BIGINT products as longs). They differ where ksqlDB's
//! two classes differ:
//! - STDDEV_SAMP returns M2 / (n - 1), the sample *variance* (no square root), and its merge
//!   divides INT/BIGINT sums by counts in integer arithmetic;
//! - STDDEV_SAMPLE returns the square root, and merges in floating point.
//!
//! Fewer than two values give 0.0.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion::common::{internal_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::types::{coerce_single, INT_BIGINT_DOUBLE};
use super::udaf::{arg_types, AggregateSpec};

/// `STDDEV_SAMP(col)` (`sqrt: false`) or `STDDEV_SAMPLE(col)` (`sqrt: true`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct StdDev {
    pub(crate) sqrt: bool,
}

impl StdDev {
    fn ksql_name(&self) -> &'static str {
        if self.sqrt {
            "STDDEV_SAMPLE"
        } else {
            "STDDEV_SAMP"
        }
    }
}

impl AggregateSpec for StdDev {
    fn name(&self) -> &'static str {
        if self.sqrt {
            "stddev_sample"
        } else {
            "stddev_samp"
        }
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_single(self.ksql_name(), args, INT_BIGINT_DOUBLE)
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state(&self, args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![
            ("sum", args[0].clone()),
            ("count", DataType::Int64),
            ("m2", DataType::Float64),
        ])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let sum = match &arg_types(args)[0] {
            DataType::Int32 => Sum::Int(0),
            DataType::Int64 => Sum::BigInt(0),
            DataType::Float64 => Sum::Double(0.0),
            other => return internal_err!("{} of {other}", self.ksql_name()),
        };
        Ok(Box::new(StdDevAccumulator {
            sqrt: self.sqrt,
            sum,
            count: 0,
            m2: 0.0,
        }))
    }
}

/// The running sum, in the input's Java type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sum {
    Int(i32),
    BigInt(i64),
    Double(f64),
}

/// One input value, in its Java type.
#[derive(Debug, Clone, Copy)]
enum Value {
    Int(i32),
    BigInt(i64),
    Double(f64),
}

#[derive(Debug)]
pub(crate) struct StdDevAccumulator {
    sqrt: bool,
    sum: Sum,
    count: i64,
    m2: f64,
}

impl StdDevAccumulator {
    /// ksqlDB's `createDelta`: `value * (count + 1) - (sum + value)` in the input's arithmetic.
    fn delta(&self, v: Value) -> f64 {
        match (self.sum, v) {
            (Sum::Int(s), Value::Int(x)) => {
                let product = (x as i64).wrapping_mul(self.count.wrapping_add(1));
                product.wrapping_sub(s.wrapping_add(x) as i64) as f64
            }
            (Sum::BigInt(s), Value::BigInt(x)) => {
                x.wrapping_mul(self.count.wrapping_add(1))
                    .wrapping_sub(s.wrapping_add(x)) as f64
            }
            (Sum::Double(s), Value::Double(x)) => x * (self.count + 1) as f64 - (s + x),
            _ => 0.0,
        }
    }

    fn add_to_sum(&mut self, v: Value, sign: i32) {
        self.sum = match (self.sum, v) {
            (Sum::Int(s), Value::Int(x)) => Sum::Int(if sign > 0 {
                s.wrapping_add(x)
            } else {
                s.wrapping_sub(x)
            }),
            (Sum::BigInt(s), Value::BigInt(x)) => Sum::BigInt(if sign > 0 {
                s.wrapping_add(x)
            } else {
                s.wrapping_sub(x)
            }),
            (Sum::Double(s), Value::Double(x)) => Sum::Double(if sign > 0 { s + x } else { s - x }),
            (s, _) => s,
        };
    }

    fn aggregate(&mut self, v: Value) {
        let new_count = self.count.wrapping_add(1);
        let new_m2 = if new_count - 1 > 0 {
            let delta = self.delta(v);
            delta * delta / (new_count.wrapping_mul(new_count - 1)) as f64
        } else {
            0.0
        };
        self.add_to_sum(v, 1);
        self.count = new_count;
        self.m2 += new_m2;
    }

    fn undo(&mut self, v: Value) {
        let new_count = self.count.wrapping_sub(1);
        let new_m2 = if new_count > 0 {
            let delta = self.delta(v);
            delta * delta / (new_count.wrapping_mul(new_count + 1)) as f64
        } else {
            0.0
        };
        self.add_to_sum(v, -1);
        self.count = new_count;
        self.m2 -= new_m2;
    }

    fn for_each(array: &dyn Array, mut f: impl FnMut(Value)) {
        match array.data_type() {
            DataType::Int32 => array
                .as_primitive::<Int32Type>()
                .iter()
                .flatten()
                .for_each(|x| f(Value::Int(x))),
            DataType::Int64 => array
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .for_each(|x| f(Value::BigInt(x))),
            _ => array
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .for_each(|x| f(Value::Double(x))),
        }
    }

    /// The mean difference term of ksqlDB's merge.
    fn merge_inner(&self, other_sum: Sum, other_count: i64) -> f64 {
        match (self.sum, other_sum) {
            (Sum::Int(a), Sum::Int(b)) if !self.sqrt => {
                (a as i64 / self.count).wrapping_sub(b as i64 / other_count) as f64
            }
            (Sum::BigInt(a), Sum::BigInt(b)) if !self.sqrt => {
                (a.wrapping_div(self.count)).wrapping_sub(b.wrapping_div(other_count)) as f64
            }
            (a, b) => as_f64(a) / self.count as f64 - as_f64(b) / other_count as f64,
        }
    }

    fn merge(&mut self, other_sum: Sum, other_count: i64, other_m2: f64) {
        let new_count = self.count + other_count;
        let new_m2 = if self.count == 0 || other_count == 0 {
            self.m2 + other_m2
        } else {
            let inner = self.merge_inner(other_sum, other_count);
            self.m2
                + other_m2
                + (self.count.wrapping_mul(other_count)) as f64 * inner * inner / new_count as f64
        };
        self.sum = match (self.sum, other_sum) {
            (Sum::Int(a), Sum::Int(b)) => Sum::Int(a.wrapping_add(b)),
            (Sum::BigInt(a), Sum::BigInt(b)) => Sum::BigInt(a.wrapping_add(b)),
            (a, b) => Sum::Double(as_f64(a) + as_f64(b)),
        };
        self.count = new_count;
        self.m2 = new_m2;
    }

    fn sum_scalar(&self) -> ScalarValue {
        match self.sum {
            Sum::Int(v) => ScalarValue::Int32(Some(v)),
            Sum::BigInt(v) => ScalarValue::Int64(Some(v)),
            Sum::Double(v) => ScalarValue::Float64(Some(v)),
        }
    }
}

fn as_f64(s: Sum) -> f64 {
    match s {
        Sum::Int(v) => v as f64,
        Sum::BigInt(v) => v as f64,
        Sum::Double(v) => v,
    }
}

impl Accumulator for StdDevAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        Self::for_each(values[0].as_ref(), |v| self.aggregate(v));
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        Self::for_each(values[0].as_ref(), |v| self.undo(v));
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.count < 2 {
            return Ok(ScalarValue::Float64(Some(0.0)));
        }
        let variance = self.m2 / (self.count - 1) as f64;
        Ok(ScalarValue::Float64(Some(if self.sqrt {
            variance.sqrt()
        } else {
            variance
        })))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.sum_scalar(),
            ScalarValue::Int64(Some(self.count)),
            ScalarValue::Float64(Some(self.m2)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[1].as_primitive::<Int64Type>();
        let m2s = states[2].as_primitive::<Float64Type>();
        for i in 0..counts.len() {
            if counts.is_null(i) || m2s.is_null(i) || states[0].is_null(i) {
                continue;
            }
            let sum = match states[0].data_type() {
                DataType::Int32 => Sum::Int(states[0].as_primitive::<Int32Type>().value(i)),
                DataType::Int64 => Sum::BigInt(states[0].as_primitive::<Int64Type>().value(i)),
                _ => Sum::Double(states[0].as_primitive::<Float64Type>().value(i)),
            };
            self.merge(sum, counts.value(i), m2s.value(i));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;

    fn acc(sqrt: bool, t: &DataType) -> StdDevAccumulator {
        StdDevAccumulator {
            sqrt,
            sum: match t {
                DataType::Int32 => Sum::Int(0),
                DataType::Int64 => Sum::BigInt(0),
                _ => Sum::Double(0.0),
            },
            count: 0,
            m2: 0.0,
        }
    }

    fn run(sqrt: bool, input: ArrayRef) -> Vec<f64> {
        let mut a = acc(sqrt, input.data_type());
        eval_each(&mut a, &[input]).iter().map(f64_of).collect()
    }

    #[test]
    fn stddev_sample_of_ints() {
        assert_eq!(
            run(true, i32s(&[Some(0), Some(10), Some(7), Some(6)])),
            vec![
                0.0,
                7.0710678118654755,
                5.131601439446884,
                4.193248541803041
            ]
        );
        assert_eq!(
            run(true, i32s(&[Some(50), Some(10), Some(3), None])),
            vec![
                0.0,
                28.284271247461902,
                25.357444666211933,
                25.357444666211933
            ]
        );
    }

    #[test]
    fn stddev_sample_of_longs_and_doubles() {
        assert_eq!(
            run(true, i64s(&[Some(2147483648), Some(100), Some(-2), None])),
            vec![
                0.0,
                1518500179.2773468,
                1239850233.9629574,
                1239850233.9629574
            ]
        );
        assert_eq!(
            run(true, f64s(&[Some(-1.8), Some(2.3), Some(100.2), None])),
            vec![0.0, 2.899137802864845, 57.74256084841869, 57.74256084841869]
        );
        assert_eq!(
            run(
                true,
                f64s(&[Some(10.0), Some(12.0), Some(13.0), Some(14.0), Some(16.0)])
            ),
            vec![
                0.0,
                std::f64::consts::SQRT_2,
                1.5275252316519465,
                1.707825127659933,
                2.23606797749979
            ]
        );
    }

    #[test]
    fn stddev_samp_is_the_variance() {
        assert_eq!(
            run(false, i32s(&[Some(0), Some(10), Some(7), Some(6)])),
            vec![0.0, 50.0, 26.333333333333332, 17.583333333333332]
        );
        assert_eq!(
            run(false, i64s(&[Some(500), Some(100), Some(0), Some(-6)])),
            vec![0.0, 80000.0, 70000.0, 57275.666666666664]
        );
        assert_eq!(
            run(false, f64s(&[Some(-1.8), Some(2.3), Some(100.2)])),
            vec![0.0, 8.405, 3334.2033333333347]
        );
    }

    #[test]
    fn retraction_undoes() {
        let mut a = acc(true, &DataType::Float64);
        a.update_batch(&[f64s(&[Some(10.0), Some(12.0), Some(13.0)])])
            .unwrap();
        a.retract_batch(&[f64s(&[Some(13.0)])]).unwrap();
        let v = f64_of(&a.evaluate().unwrap());
        assert!((v - std::f64::consts::SQRT_2).abs() < 1e-9, "{v}");
        assert!(a.supports_retract_batch());
    }

    #[test]
    fn state_round_trips() {
        for sqrt in [false, true] {
            check_round_trip(
                &|| Box::new(acc(sqrt, &DataType::Int32)),
                &[i32s(&[Some(0), Some(10), None, Some(7), Some(6)])],
            );
            check_round_trip(
                &|| Box::new(acc(sqrt, &DataType::Float64)),
                &[f64s(&[Some(-1.8), Some(2.3), Some(100.2)])],
            );
        }
    }

    #[test]
    fn strings_are_rejected() {
        assert!(StdDev { sqrt: false }
            .coerce(&[DataType::Utf8])
            .unwrap_err()
            .to_string()
            .contains("Function 'STDDEV_SAMP' does not accept parameters (STRING)."));
    }
}
