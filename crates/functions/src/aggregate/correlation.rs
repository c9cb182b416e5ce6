//! CORRELATION (ksqlDB's `CorrelationUdaf`): the Pearson correlation coefficient of two
//! columns of the same numeric type (DOUBLE, INT or BIGINT; mixed types widen to the
//! narrowest common one), as DOUBLE, from running sums in doubles. Rows where either value
//! is null are skipped. NaN when undefined (fewer than two rows, or a constant column).
//! Retractable.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::types::{no_matching_signature, resolve_kind, Kind};
use super::udaf::AggregateSpec;

/// `CORRELATION(x, y)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Correlation;

impl AggregateSpec for Correlation {
    fn name(&self) -> &'static str {
        "correlation"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if let [x, y] = args {
            for kind in [Kind::Int, Kind::BigInt, Kind::Double] {
                if let (Some(a), Some(b)) = (resolve_kind(x, &[kind]), resolve_kind(y, &[kind])) {
                    return Ok(vec![a, b]);
                }
            }
        }
        let alts = ["DOUBLE", "INT", "BIGINT"]
            .iter()
            .map(|t| format!("correlation({t} x, {t} y)"))
            .collect::<Vec<_>>();
        Err(no_matching_signature("correlation", args, &alts))
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state(&self, _args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![
            ("x_sum", DataType::Float64),
            ("y_sum", DataType::Float64),
            ("x_squared_sum", DataType::Float64),
            ("y_squared_sum", DataType::Float64),
            ("xy_sum", DataType::Float64),
            ("count", DataType::Int64),
        ])
    }

    fn accumulator(&self, _args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<CorrelationAccumulator>::default())
    }
}

/// ksqlDB's sums.
#[derive(Debug, Default)]
pub(crate) struct CorrelationAccumulator {
    x: f64,
    y: f64,
    xx: f64,
    yy: f64,
    xy: f64,
    count: i64,
}

impl CorrelationAccumulator {
    fn apply(&mut self, values: &[ArrayRef], sign: f64) -> Result<()> {
        let xs = cast(&values[0], &DataType::Float64)?;
        let ys = cast(&values[1], &DataType::Float64)?;
        let xs = xs.as_primitive::<Float64Type>();
        let ys = ys.as_primitive::<Float64Type>();
        for i in 0..xs.len() {
            if xs.is_null(i) || ys.is_null(i) {
                continue;
            }
            let (x, y) = (xs.value(i), ys.value(i));
            if sign > 0.0 {
                self.x += x;
                self.y += y;
                self.xx += x * x;
                self.yy += y * y;
                self.xy += x * y;
                self.count += 1;
            } else {
                self.x -= x;
                self.y -= y;
                self.xx -= x * x;
                self.yy -= y * y;
                self.xy -= x * y;
                self.count -= 1;
            }
        }
        Ok(())
    }
}

impl Accumulator for CorrelationAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, 1.0)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, -1.0)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n = self.count as f64;
        let numerator = n * self.xy - self.x * self.y;
        let dx = n * self.xx - self.x * self.x;
        let dy = n * self.yy - self.y * self.y;
        Ok(ScalarValue::Float64(Some(numerator / (dx * dy).sqrt())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Float64(Some(self.x)),
            ScalarValue::Float64(Some(self.y)),
            ScalarValue::Float64(Some(self.xx)),
            ScalarValue::Float64(Some(self.yy)),
            ScalarValue::Float64(Some(self.xy)),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let f = |i: usize| states[i].as_primitive::<Float64Type>();
        let (x, y, xx, yy, xy) = (f(0), f(1), f(2), f(3), f(4));
        let count = states[5].as_primitive::<Int64Type>();
        for i in 0..count.len() {
            if count.is_null(i) {
                continue;
            }
            self.x += x.value(i);
            self.y += y.value(i);
            self.xx += xx.value(i);
            self.yy += yy.value(i);
            self.xy += xy.value(i);
            self.count += count.value(i);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;

    #[test]
    fn correlation_of_doubles() {
        let mut acc = CorrelationAccumulator::default();
        let out = eval_each(
            &mut acc,
            &[
                f64s(&[Some(1.5), Some(-1.0), Some(-4.5), None]),
                f64s(&[Some(8.0), Some(-2.0), Some(-1.0), Some(-6.0)]),
            ],
        );
        let v: Vec<f64> = out.iter().map(f64_of).collect();
        assert!(v[0].is_nan());
        assert_eq!(v[1], 1.0);
        assert_eq!(v[2], 0.7580764521133173);
        assert_eq!(v[3], 0.7580764521133173);
    }

    #[test]
    fn correlation_of_ints_and_retraction() {
        let mut acc = CorrelationAccumulator::default();
        let out = eval_each(
            &mut acc,
            &[
                i32s(&[Some(1), Some(-1), Some(-4)]),
                i32s(&[Some(8), Some(-2), Some(-1)]),
            ],
        );
        assert_eq!(f64_of(&out[2]), 0.7455284088780169);
        acc.retract_batch(&[i32s(&[Some(-4)]), i32s(&[Some(-1)])])
            .unwrap();
        assert_eq!(f64_of(&acc.evaluate().unwrap()), 1.0);
    }

    #[test]
    fn types_are_checked() {
        assert_eq!(
            Correlation
                .coerce(&[DataType::Int32, DataType::Int64])
                .unwrap(),
            vec![DataType::Int64, DataType::Int64]
        );
        assert!(Correlation
            .coerce(&[DataType::Utf8, DataType::Int64])
            .unwrap_err()
            .to_string()
            .contains("Function 'correlation' does not accept parameters (STRING, BIGINT)."));
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::<CorrelationAccumulator>::default(),
            &[
                f64s(&[Some(1.5), Some(-3.5), None, Some(3.0)]),
                f64s(&[Some(8.0), Some(-2.0), Some(11.0), Some(11.0)]),
            ],
        );
    }
}
