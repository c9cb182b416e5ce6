//! COUNT: the number of non-null values (ksqlDB's `CountKudaf`), BIGINT, never null.
//!
//! `COUNT(*)` and `COUNT()` reach a function named "count" as `count(Int64(1))` (DataFusion's
//! SQL planner rewrites them through its `AggregateFunctionPlanner`, which the default session
//! features register); a non-null literal counts every row. Retractable (ksqlDB's `undo`).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::udaf::AggregateSpec;

/// `COUNT(col)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Count;

impl AggregateSpec for Count {
    fn name(&self) -> &'static str {
        "count"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            // Any type; no cast needed to count nulls.
            [t] => Ok(vec![t.clone()]),
            _ => plan_err!(
                "Function 'COUNT' does not accept parameters ({} arguments).",
                args.len()
            ),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn state(&self, _args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("count", DataType::Int64)])
    }

    fn accumulator(&self, _args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CountAccumulator::default()))
    }

    fn nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _ret: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }
}

/// Counts non-null values.
#[derive(Debug, Default)]
pub(crate) struct CountAccumulator {
    count: i64,
}

fn non_null(values: &[ArrayRef]) -> i64 {
    values
        .first()
        .map(|a| (a.len() - a.logical_null_count()) as i64)
        .unwrap_or(0)
}

impl Accumulator for CountAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.count = self.count.wrapping_add(non_null(values));
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.count = self.count.wrapping_sub(non_null(values));
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.count)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.count))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[0].as_primitive::<Int64Type>();
        for c in counts.iter().flatten() {
            self.count = self.count.wrapping_add(c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::{i32s, strs};

    #[test]
    fn counts_non_null_values() {
        let mut acc = CountAccumulator::default();
        acc.update_batch(&[strs(&[Some("zero"), None, Some("100")])])
            .unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(2)));
        acc.update_batch(&[i32s(&[Some(1)])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(3)));
    }

    #[test]
    fn retraction_counts_back_to_zero() {
        let mut acc = CountAccumulator::default();
        acc.update_batch(&[i32s(&[Some(3)])]).unwrap();
        acc.update_batch(&[i32s(&[Some(3)])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(2)));
        acc.retract_batch(&[i32s(&[Some(3)])]).unwrap();
        acc.retract_batch(&[i32s(&[None])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(1)));
        acc.retract_batch(&[i32s(&[Some(3)])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(0)));
        assert!(acc.supports_retract_batch());
    }

    #[test]
    fn coerce_rejects_other_arities() {
        assert!(Count.coerce(&[]).is_err());
        assert!(Count.coerce(&[DataType::Int32, DataType::Int32]).is_err());
        assert_eq!(
            Count.coerce(&[DataType::Utf8View]).unwrap(),
            vec![DataType::Utf8View]
        );
    }
}
