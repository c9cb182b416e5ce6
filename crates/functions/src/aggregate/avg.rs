//! AVG (ksqlDB's `AverageUdaf`): DOUBLE, the sum (kept in the input's type: INT sums wrap like
//! Java ints) divided by the count of non-null values; 0.0 while nothing was counted (not
//! null). INT, BIGINT and DOUBLE; DECIMAL widens to DOUBLE. Retractable.

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::sum::Total;
use super::types::{coerce_single, INT_BIGINT_DOUBLE};
use super::udaf::{arg_types, AggregateSpec};

/// `AVG(col)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Avg;

impl AggregateSpec for Avg {
    fn name(&self) -> &'static str {
        "avg"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_single("avg", args, INT_BIGINT_DOUBLE)
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state(&self, args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("sum", args[0].clone()), ("count", DataType::Int64)])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(AvgAccumulator {
            sum: Total::zero(&arg_types(args)[0])?,
            count: 0,
        }))
    }
}

/// Sum and count.
#[derive(Debug)]
pub(crate) struct AvgAccumulator {
    sum: Total,
    count: i64,
}

impl Accumulator for AvgAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let a = values[0].as_ref();
        self.sum.add_array(a, 1, false)?;
        self.count += (a.len() - a.logical_null_count()) as i64;
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let a = values[0].as_ref();
        self.sum.add_array(a, -1, false)?;
        self.count -= (a.len() - a.logical_null_count()) as i64;
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.count == 0 {
            return Ok(ScalarValue::Float64(Some(0.0)));
        }
        Ok(ScalarValue::Float64(Some(
            self.sum.as_f64() / self.count as f64,
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.sum.to_scalar(),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.sum.add_array(states[0].as_ref(), 1, false)?;
        for c in states[1].as_primitive::<Int64Type>().iter().flatten() {
            self.count += c;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;

    fn acc(t: DataType) -> AvgAccumulator {
        AvgAccumulator {
            sum: Total::zero(&t).unwrap(),
            count: 0,
        }
    }

    fn doubles(v: Vec<ScalarValue>) -> Vec<f64> {
        v.iter().map(f64_of).collect()
    }

    #[test]
    fn averages_ints_as_double() {
        let mut a = acc(DataType::Int32);
        let out = eval_each(&mut a, &[i32s(&[Some(1), Some(2), Some(2), None])]);
        assert_eq!(
            doubles(out),
            vec![1.0, 1.5, 1.6666666666666667, 1.6666666666666667]
        );
    }

    #[test]
    fn long_sum_wraps_like_java() {
        let mut a = acc(DataType::Int64);
        let out = eval_each(&mut a, &[i64s(&[Some(-1), Some(i64::MAX), Some(1)])]);
        assert_eq!(
            doubles(out),
            vec![-1.0, 4.611686018427388e18, 3.0744573456182584e18]
        );
    }

    #[test]
    fn doubles_average_in_order() {
        let mut a = acc(DataType::Float64);
        let out = eval_each(&mut a, &[f64s(&[Some(2.3), Some(-200000.6), Some(0.0)])]);
        assert_eq!(doubles(out), vec![2.3, -99999.15000000001, -66666.1]);
    }

    #[test]
    fn empty_average_is_zero_and_retraction_works() {
        let mut a = acc(DataType::Int32);
        assert_eq!(a.evaluate().unwrap(), ScalarValue::Float64(Some(0.0)));
        a.update_batch(&[i32s(&[Some(1), Some(2)])]).unwrap();
        a.retract_batch(&[i32s(&[Some(1)])]).unwrap();
        a.update_batch(&[i32s(&[Some(4)])]).unwrap();
        assert_eq!(a.evaluate().unwrap(), ScalarValue::Float64(Some(3.0)));
    }

    #[test]
    fn table_updates_retract_the_old_value() {
        // A table row changes from 1 to null to 4 while another row holds 2.
        let mut a = acc(DataType::Int32);
        let mut out = eval_each(&mut a, &[i32s(&[Some(1), Some(2)])]);
        a.retract_batch(&[i32s(&[Some(1)])]).unwrap();
        out.extend(eval_each(&mut a, &[i32s(&[None])]));
        a.retract_batch(&[i32s(&[None])]).unwrap();
        out.extend(eval_each(&mut a, &[i32s(&[Some(4)])]));
        assert_eq!(doubles(out), vec![1.0, 1.5, 2.0, 3.0]);
    }

    #[test]
    fn decimal_widens_to_double_and_strings_are_rejected() {
        assert_eq!(
            Avg.coerce(&[DataType::Decimal128(4, 1)]).unwrap(),
            vec![DataType::Float64]
        );
        assert!(Avg
            .coerce(&[DataType::Utf8])
            .unwrap_err()
            .to_string()
            .contains("Function 'avg' does not accept parameters (STRING)."));
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::new(acc(DataType::Int32)),
            &[i32s(&[Some(1), None, Some(7), Some(-3)])],
        );
    }
}
