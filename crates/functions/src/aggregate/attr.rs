//! ATTR (ksqlDB's `Attr`): the value of the group when every value it holds is the same, null
//! otherwise. Any input type; the result has the input's type.
//!
//! - ksqlDB keeps a list of (VALUE, COUNT) entries, one per distinct value. Null is a value
//!   like any other: a group that saw "1" and null has two values and is null, and a group of
//!   only nulls is null because its one value is null.
//! - Values are equal as Java's `Objects.equals` says (doubles by bits, structured values by
//!   content), which is `ScalarValue`'s equality.
//! - Retractable (ksqlDB's `undo`), so ATTR can aggregate tables: undoing a value lowers its
//!   count, never below 0; undoing a value never seen does nothing. Entries whose count drops
//!   to 0 stay in the state (as in ksqlDB) but do not count as values.
//! - Counts are Java `int`s: an increment past `i32::MAX` wraps and is clamped to 0, as ksqlDB's
//!   `Math.max(0, count + n)` does.
//! - Merging adds the other state's counts entry by entry (entries with count 0 that are new
//!   are not added), so state → fresh accumulator continues identically.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::types::{list_of, normalize};
use super::udaf::{arg_types, AggregateSpec};

/// `ATTR(col)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Attr;

impl AggregateSpec for Attr {
    fn name(&self) -> &'static str {
        "attr"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] => Ok(vec![normalize(t)]),
            _ => plan_err!(
                "Function 'ATTR' does not accept parameters ({} arguments).",
                args.len()
            ),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn state(&self, args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![
            ("values", list_of(args[0].clone())),
            ("counts", list_of(DataType::Int32)),
        ])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(AttrAccumulator::new(arg_types(args)[0].clone())))
    }
}

/// The distinct values seen, in first-seen order, with their counts.
#[derive(Debug)]
pub(crate) struct AttrAccumulator {
    item: DataType,
    values: Vec<ScalarValue>,
    counts: Vec<i32>,
    /// Position of each value in `values`.
    index: HashMap<ScalarValue, usize>,
}

impl AttrAccumulator {
    pub(crate) fn new(item: DataType) -> Self {
        Self {
            item,
            values: Vec::new(),
            counts: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// ksqlDB's `update`: adds `n` (negative to undo) to the value's count, clamped at 0; a
    /// value not yet present is added only for a positive `n`.
    fn update(&mut self, value: ScalarValue, n: i32) {
        if let Some(&i) = self.index.get(&value) {
            self.counts[i] = self.counts[i].wrapping_add(n).max(0);
        } else if n > 0 {
            self.index.insert(value.clone(), self.values.len());
            self.values.push(value);
            self.counts.push(n);
        }
    }

    fn update_all(&mut self, array: &dyn Array, n: i32) -> Result<()> {
        for i in 0..array.len() {
            self.update(ScalarValue::try_from_array(array, i)?, n);
        }
        Ok(())
    }
}

impl Accumulator for AttrAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.update_all(values[0].as_ref(), 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.update_all(values[0].as_ref(), -1)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut present = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, _)| i);
        match (present.next(), present.next()) {
            (Some(i), None) => Ok(self.values[i].clone()),
            _ => ScalarValue::try_from(&self.item),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + 2 * ScalarValue::size_of_vec(&self.values)
            + self.counts.capacity() * std::mem::size_of::<i32>()
            + self.index.capacity() * std::mem::size_of::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let counts: Vec<ScalarValue> = self
            .counts
            .iter()
            .map(|c| ScalarValue::Int32(Some(*c)))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&self.values, &self.item)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::Int32)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let value_lists = states[0].as_list::<i32>();
        let count_lists = states[1].as_list::<i32>();
        for row in 0..value_lists.len() {
            if value_lists.is_null(row) || count_lists.is_null(row) {
                continue;
            }
            let values = value_lists.value(row);
            let counts = count_lists.value(row);
            let counts = counts.as_primitive::<Int32Type>();
            for i in 0..values.len().min(counts.len()) {
                if counts.is_valid(i) {
                    let v = ScalarValue::try_from_array(values.as_ref(), i)?;
                    self.update(v, counts.value(i));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aggregate::testing::*;
    use datafusion::arrow::array::{Int32Array, ListArray, StringArray, StructArray};
    use datafusion::arrow::datatypes::{Field, Fields};

    fn s(x: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(x.into()))
    }

    const NULL_STR: ScalarValue = ScalarValue::Utf8(None);

    #[test]
    fn same_values_give_the_value() {
        let mut acc = AttrAccumulator::new(DataType::Utf8);
        let out = eval_each(&mut acc, &[strs(&[Some("s"), Some("s"), Some("s")])]);
        assert_eq!(out, vec![s("s"), s("s"), s("s")]);

        let mut acc = AttrAccumulator::new(DataType::Float64);
        let out = eval_each(&mut acc, &[f64s(&[Some(1.0), Some(1.0)])]);
        assert_eq!(out[1], ScalarValue::Float64(Some(1.0)));

        let mut acc = AttrAccumulator::new(DataType::Boolean);
        let out = eval_each(&mut acc, &[bools(&[Some(true), Some(true)])]);
        assert_eq!(out[1], ScalarValue::Boolean(Some(true)));
    }

    #[test]
    fn different_values_give_null() {
        let mut acc = AttrAccumulator::new(DataType::Utf8);
        let out = eval_each(&mut acc, &[strs(&[Some("1"), Some("2"), Some("1")])]);
        assert_eq!(out, vec![s("1"), NULL_STR, NULL_STR]);

        let mut acc = AttrAccumulator::new(DataType::Int64);
        let out = eval_each(&mut acc, &[i64s(&[Some(1), Some(2)])]);
        assert_eq!(out[1], ScalarValue::Int64(None), "typed null");
    }

    #[test]
    fn null_is_a_value() {
        let mut acc = AttrAccumulator::new(DataType::Utf8);
        let out = eval_each(&mut acc, &[strs(&[None, None, None])]);
        assert_eq!(out, vec![NULL_STR, NULL_STR, NULL_STR]);

        let mut acc = AttrAccumulator::new(DataType::Utf8);
        let out = eval_each(&mut acc, &[strs(&[Some("1"), None, Some("1")])]);
        assert_eq!(out, vec![s("1"), NULL_STR, NULL_STR]);

        let mut acc = AttrAccumulator::new(DataType::Utf8);
        let out = eval_each(&mut acc, &[strs(&[None, Some("2"), Some("2")])]);
        assert_eq!(out, vec![NULL_STR, NULL_STR, NULL_STR]);
    }

    #[test]
    fn doubles_compare_by_bits() {
        let mut acc = AttrAccumulator::new(DataType::Float64);
        let out = eval_each(
            &mut acc,
            &[f64s(&[Some(f64::NAN), Some(f64::NAN), Some(-0.0)])],
        );
        assert!(matches!(out[1], ScalarValue::Float64(Some(x)) if x.is_nan()));
        assert_eq!(out[2], ScalarValue::Float64(None));

        let mut acc = AttrAccumulator::new(DataType::Float64);
        let out = eval_each(&mut acc, &[f64s(&[Some(0.0), Some(-0.0)])]);
        assert_eq!(
            out[1],
            ScalarValue::Float64(None),
            "Double.equals(0.0, -0.0) is false"
        );
    }

    #[test]
    fn retraction_follows_ksqls_undo() {
        // The table corpus case: (key, value) changes of a table grouped into one group.
        let mut acc = AttrAccumulator::new(DataType::Utf8);
        assert!(acc.supports_retract_batch());
        acc.update_batch(&[strs(&[Some("1")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("1"));
        acc.update_batch(&[strs(&[Some("1")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("1"));
        acc.retract_batch(&[strs(&[Some("1")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("1"));
        acc.retract_batch(&[strs(&[Some("1")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), NULL_STR);
        acc.update_batch(&[strs(&[Some("2")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("2"));
        acc.update_batch(&[strs(&[Some("3")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), NULL_STR);
        acc.retract_batch(&[strs(&[Some("3")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("2"));

        // Undoing what was never added, or below zero, changes nothing.
        acc.retract_batch(&[strs(&[Some("9"), Some("3"), Some("3")])])
            .unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("2"));
        acc.update_batch(&[strs(&[Some("3")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), NULL_STR);

        // Nulls are retracted like any value.
        let mut acc = AttrAccumulator::new(DataType::Utf8);
        acc.update_batch(&[strs(&[None, Some("x")])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), NULL_STR);
        acc.retract_batch(&[strs(&[None])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), s("x"));
    }

    #[test]
    fn counts_wrap_like_java_ints() {
        let mut acc = AttrAccumulator::new(DataType::Int32);
        acc.update(ScalarValue::Int32(Some(1)), i32::MAX);
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int32(Some(1)));
        acc.update(ScalarValue::Int32(Some(1)), 1);
        assert_eq!(acc.counts, vec![0]);
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int32(None));
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = AttrAccumulator::new(DataType::Utf8);
        a.update_batch(&[strs(&[Some("a"), Some("a")])]).unwrap();
        a.retract_batch(&[strs(&[Some("a"), Some("a")])]).unwrap();
        let mut b = AttrAccumulator::new(DataType::Utf8);
        b.update_batch(&[strs(&[Some("b")])]).unwrap();
        let state: Vec<ArrayRef> = a
            .state()
            .unwrap()
            .iter()
            .map(|v| v.to_array().unwrap())
            .collect();
        b.merge_batch(&state).unwrap();
        // a's entry has count 0: not added, b keeps its single value.
        assert_eq!(b.values, vec![s("b")]);
        assert_eq!(b.evaluate().unwrap(), s("b"));

        let mut c = AttrAccumulator::new(DataType::Utf8);
        c.update_batch(&[strs(&[Some("a")])]).unwrap();
        let state: Vec<ArrayRef> = c
            .state()
            .unwrap()
            .iter()
            .map(|v| v.to_array().unwrap())
            .collect();
        b.merge_batch(&state).unwrap();
        assert_eq!(b.evaluate().unwrap(), NULL_STR);
    }

    #[test]
    fn structured_values() {
        let fields = Fields::from(vec![
            Field::new("A", DataType::Utf8, true),
            Field::new("B", DataType::Int32, true),
        ]);
        let st = |a: &str, b: i32| -> ArrayRef {
            Arc::new(StructArray::new(
                fields.clone(),
                vec![
                    Arc::new(StringArray::from(vec![a])),
                    Arc::new(Int32Array::from(vec![b])),
                ],
                None,
            ))
        };
        let ty = DataType::Struct(fields.clone());
        let mut acc = AttrAccumulator::new(ty.clone());
        acc.update_batch(&[st("a", 1)]).unwrap();
        acc.update_batch(&[st("a", 1)]).unwrap();
        let v = acc.evaluate().unwrap();
        assert_eq!(
            v,
            ScalarValue::try_from_array(st("a", 1).as_ref(), 0).unwrap()
        );
        acc.update_batch(&[st("a", 2)]).unwrap();
        let v = acc.evaluate().unwrap();
        assert!(v.is_null());
        assert_eq!(v.data_type(), ty);

        let list = |xs: &[i32]| -> ArrayRef {
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(xs.iter().map(|x| Some(*x)).collect::<Vec<_>>()),
            ]))
        };
        let mut acc = AttrAccumulator::new(list_of(DataType::Int32));
        let out = eval_each(&mut acc, &[list(&[1, 2, 3])]);
        assert!(!out[0].is_null());
        acc.update_batch(&[list(&[1, 2, 3])]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), out[0]);
        acc.update_batch(&[list(&[1, 2])]).unwrap();
        assert!(acc.evaluate().unwrap().is_null());
        check_round_trip(
            &|| Box::new(AttrAccumulator::new(list_of(DataType::Int32))),
            &[list(&[1, 2, 3])],
        );
    }

    #[test]
    fn registered_for_tables() {
        let udfs = crate::aggregate::all();
        let udf = udfs.iter().find(|u| u.name() == "attr").unwrap();
        let acc = make(udf, &[Arg::Col(DataType::Int32)]).unwrap();
        assert!(acc.supports_retract_batch());
        assert!(crate::aggregate::supports_tables("ATTR"));
        assert!(crate::aggregate::has_structured_intermediate("attr"));
        assert_eq!(crate::aggregate::ksql_name("attr"), Some("ATTR"));
        assert_eq!(
            crate::aggregate::table_aggregation_error(["attr", "count"]),
            None
        );
    }

    #[test]
    fn any_type_is_accepted_and_returned() {
        assert_eq!(
            Attr.coerce(&[DataType::Utf8View]).unwrap(),
            vec![DataType::Utf8]
        );
        assert_eq!(
            Attr.return_type(&[DataType::Decimal128(4, 1)]).unwrap(),
            DataType::Decimal128(4, 1)
        );
        assert!(Attr.coerce(&[]).is_err());
        assert!(Attr.coerce(&[DataType::Int32, DataType::Int32]).is_err());
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::new(AttrAccumulator::new(DataType::Utf8)),
            &[strs(&[Some("a"), Some("a"), None, Some("a"), Some("b")])],
        );
        check_round_trip(
            &|| Box::new(AttrAccumulator::new(DataType::Int32)),
            &[i32s(&[Some(7), Some(7), Some(7)])],
        );
        // A state holding an entry retracted to 0 restores and continues identically.
        let mut original = AttrAccumulator::new(DataType::Utf8);
        original
            .update_batch(&[strs(&[Some("a"), Some("b")])])
            .unwrap();
        original.retract_batch(&[strs(&[Some("b")])]).unwrap();
        let mut restored = AttrAccumulator::new(DataType::Utf8);
        restore(&mut original, &mut restored).unwrap();
        assert_eq!(restored.evaluate().unwrap(), s("a"));
        for acc in [&mut original, &mut restored] {
            acc.update_batch(&[strs(&[Some("b")])]).unwrap();
            assert_eq!(acc.evaluate().unwrap(), NULL_STR);
            acc.retract_batch(&[strs(&[Some("a")])]).unwrap();
            assert_eq!(acc.evaluate().unwrap(), s("b"));
        }
    }
}
