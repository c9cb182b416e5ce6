//! COLLECT_LIST and COLLECT_SET (ksqlDB's `CollectListUdaf` / `CollectSetUdaf`): ARRAY of the
//! input type, any input type.
//!
//! - COLLECT_LIST keeps every value in arrival order, nulls included; retractable (removes the
//!   last equal element, as ksqlDB's `undo`).
//! - COLLECT_SET keeps the first occurrence of each distinct value (one null at most), in
//!   arrival order; not retractable.
//! - Both stop adding once they hold `limit` values (`ksql.functions.collect_list.limit` /
//!   `ksql.functions.collect_set.limit`, unlimited by default); later values are ignored.
//! - Merging appends the second state's values (up to the limit), so state → fresh accumulator
//!   continues identically.

use std::collections::HashSet;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::types::{list_of, normalize};
use super::udaf::{arg_types, AggregateSpec};

/// `COLLECT_LIST(col)` (`set: false`) or `COLLECT_SET(col)` (`set: true`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Collect {
    pub(crate) set: bool,
    /// The most values kept; `None` is unlimited.
    pub(crate) limit: Option<usize>,
}

impl AggregateSpec for Collect {
    fn name(&self) -> &'static str {
        if self.set {
            "collect_set"
        } else {
            "collect_list"
        }
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] => Ok(vec![normalize(t)]),
            _ => plan_err!(
                "Function '{}' does not accept parameters ({} arguments).",
                self.name(),
                args.len()
            ),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(list_of(args[0].clone()))
    }

    fn state(&self, _args: &[DataType], ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("values", ret.clone())])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CollectAccumulator::new(
            arg_types(args)[0].clone(),
            self.set,
            self.limit,
        )))
    }

    fn order_sensitive(&self) -> bool {
        true
    }
}

/// The collected values.
#[derive(Debug)]
pub(crate) struct CollectAccumulator {
    item: DataType,
    set: bool,
    limit: usize,
    values: Vec<ScalarValue>,
    /// COLLECT_SET's membership index.
    seen: HashSet<ScalarValue>,
}

impl CollectAccumulator {
    pub(crate) fn new(item: DataType, set: bool, limit: Option<usize>) -> Self {
        Self {
            item,
            set,
            limit: limit.unwrap_or(usize::MAX),
            values: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn push(&mut self, v: ScalarValue) {
        if self.values.len() >= self.limit {
            return;
        }
        if self.set {
            if self.seen.contains(&v) {
                return;
            }
            self.seen.insert(v.clone());
        }
        self.values.push(v);
    }

    fn add_all(&mut self, array: &dyn Array) -> Result<()> {
        for i in 0..array.len() {
            if self.values.len() >= self.limit {
                break;
            }
            self.push(ScalarValue::try_from_array(array, i)?);
        }
        Ok(())
    }

    fn list(&self) -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list_nullable(&self.values, &self.item))
    }
}

impl Accumulator for CollectAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add_all(values[0].as_ref())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = values[0].as_ref();
        for i in 0..array.len() {
            let v = ScalarValue::try_from_array(array, i)?;
            if let Some(pos) = self.values.iter().rposition(|x| *x == v) {
                let removed = self.values.remove(pos);
                if self.set {
                    self.seen.remove(&removed);
                }
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        !self.set
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.list())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + ScalarValue::size_of_vec(&self.values)
            + ScalarValue::size_of_hashset(&self.seen)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.list()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                self.add_all(lists.value(i).as_ref())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;

    fn list(values: &[ScalarValue], item: &DataType) -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list_nullable(values, item))
    }

    #[test]
    fn collect_list_keeps_order_and_nulls() {
        let mut acc = CollectAccumulator::new(DataType::Utf8, false, None);
        let out = eval_each(
            &mut acc,
            &[strs(&[Some("baz"), Some("baz"), Some("foo"), None])],
        );
        let s = |x: &str| ScalarValue::Utf8(Some(x.into()));
        assert_eq!(
            out[3],
            list(
                &[s("baz"), s("baz"), s("foo"), ScalarValue::Utf8(None)],
                &DataType::Utf8
            )
        );
        assert_eq!(out[0], list(&[s("baz")], &DataType::Utf8));
        assert_eq!(
            out[3].data_type(),
            list_of(DataType::Utf8),
            "ARRAY<STRING> with the Sluice item field"
        );
    }

    #[test]
    fn collect_list_limit_and_retraction() {
        let mut acc = CollectAccumulator::new(DataType::Int32, false, Some(1));
        let out = eval_each(&mut acc, &[i32s(&[Some(0), Some(100)])]);
        assert_eq!(
            out[1],
            list(&[ScalarValue::Int32(Some(0))], &DataType::Int32)
        );

        let mut acc = CollectAccumulator::new(DataType::Int32, false, None);
        acc.update_batch(&[i32s(&[Some(1), Some(2), Some(1), Some(3)])])
            .unwrap();
        acc.retract_batch(&[i32s(&[Some(1), Some(9)])]).unwrap();
        let i = |x| ScalarValue::Int32(Some(x));
        assert_eq!(
            acc.evaluate().unwrap(),
            list(&[i(1), i(2), i(3)], &DataType::Int32)
        );
        assert!(acc.supports_retract_batch());
    }

    #[test]
    fn collect_set_keeps_first_occurrences() {
        let mut acc = CollectAccumulator::new(DataType::Int64, true, None);
        acc.update_batch(&[i64s(&[Some(5), None, Some(5), Some(7), None])])
            .unwrap();
        let i = |x| ScalarValue::Int64(Some(x));
        assert_eq!(
            acc.evaluate().unwrap(),
            list(&[i(5), ScalarValue::Int64(None), i(7)], &DataType::Int64)
        );
        assert!(!acc.supports_retract_batch());
        let mut limited = CollectAccumulator::new(DataType::Int64, true, Some(2));
        limited
            .update_batch(&[i64s(&[Some(1), Some(1), Some(2), Some(3)])])
            .unwrap();
        assert_eq!(
            limited.evaluate().unwrap(),
            list(&[i(1), i(2)], &DataType::Int64)
        );
    }

    #[test]
    fn nested_values_are_collected() {
        let inner = list_of(DataType::Int32);
        let arr = ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Int32(Some(0)), ScalarValue::Int32(Some(-1))],
            &DataType::Int32,
        ))
        .to_array()
        .unwrap();
        let mut acc = CollectAccumulator::new(inner.clone(), false, None);
        acc.update_batch(std::slice::from_ref(&arr)).unwrap();
        acc.update_batch(&[arr]).unwrap();
        let v = acc.evaluate().unwrap();
        assert_eq!(v.data_type(), list_of(inner));
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::new(CollectAccumulator::new(DataType::Utf8, false, Some(4))),
            &[strs(&[
                Some("a"),
                None,
                Some("b"),
                Some("a"),
                Some("c"),
                Some("d"),
            ])],
        );
        check_round_trip(
            &|| Box::new(CollectAccumulator::new(DataType::Utf8, true, None)),
            &[strs(&[Some("a"), None, Some("b"), Some("a"), None])],
        );
    }
}
