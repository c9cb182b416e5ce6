//! HISTOGRAM (ksqlDB's `HistogramUdaf`): MAP<STRING, BIGINT> from each distinct string to how
//! many times it occurred. At most 1000 distinct keys: once full, only keys already present
//! are counted. Retractable (a count that drops below 1 removes its key).
//!
//! Entries are kept in first-seen order (ksqlDB's Java `HashMap` has no defined order). Null
//! values are not counted: a MAP key cannot be null in Sluice's types (ksqlDB would count a
//! null key).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, MapArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::types::{coerce_single, Kind};
use super::udaf::AggregateSpec;

/// The most distinct keys a histogram holds.
pub const HISTOGRAM_LIMIT: usize = 1000;

/// `HISTOGRAM(col)`.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Histogram;

/// MAP<STRING, BIGINT> the Sluice way: entries{key (non-null), value}, unsorted.
pub(crate) fn histogram_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new("entries", entries_type(), false)),
        false,
    )
}

fn entries_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Int64, true),
    ])
}

fn entries_type() -> DataType {
    DataType::Struct(entries_fields())
}

impl AggregateSpec for Histogram {
    fn name(&self) -> &'static str {
        "histogram"
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_single("histogram", args, &[Kind::String])
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(histogram_type())
    }

    fn state(&self, _args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("counts", histogram_type())])
    }

    fn accumulator(&self, _args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(HistogramAccumulator::default()))
    }
}

/// Counts per key, in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct HistogramAccumulator {
    keys: Vec<String>,
    counts: Vec<i64>,
    index: HashMap<String, usize>,
}

impl HistogramAccumulator {
    fn add(&mut self, key: &str, n: i64) {
        if let Some(&i) = self.index.get(key) {
            self.counts[i] += n;
        } else if self.keys.len() < HISTOGRAM_LIMIT {
            self.index.insert(key.to_string(), self.keys.len());
            self.keys.push(key.to_string());
            self.counts.push(n);
        }
    }

    fn remove_one(&mut self, key: &str) {
        let Some(&i) = self.index.get(key) else {
            return;
        };
        self.counts[i] -= 1;
        if self.counts[i] < 1 {
            self.keys.remove(i);
            self.counts.remove(i);
            self.index.remove(key);
            for v in self.index.values_mut() {
                if *v > i {
                    *v -= 1;
                }
            }
        }
    }

    fn map(&self) -> ScalarValue {
        let keys: ArrayRef = Arc::new(StringArray::from_iter_values(self.keys.iter()));
        let values: ArrayRef = Arc::new(Int64Array::from(self.counts.clone()));
        let entries = StructArray::new(entries_fields(), vec![keys, values], None);
        let field = Arc::new(Field::new("entries", entries_type(), false));
        let map = MapArray::new(
            field,
            OffsetBuffer::from_lengths([self.keys.len()]),
            entries,
            None,
            false,
        );
        ScalarValue::Map(Arc::new(map))
    }
}

impl Accumulator for HistogramAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_string::<i32>().iter().flatten() {
            self.add(v, 1);
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_string::<i32>().iter().flatten() {
            self.remove_one(v);
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.map())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .keys
                .iter()
                .map(|k| 2 * k.capacity() + 32)
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.map()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let maps = states[0].as_map();
        for row in 0..maps.len() {
            if maps.is_null(row) {
                continue;
            }
            let entries = maps.value(row);
            let keys = entries.column(0).as_string::<i32>();
            let counts = entries.column(1).as_primitive::<Int64Type>();
            for i in 0..keys.len() {
                if counts.is_valid(i) {
                    self.add(keys.value(i), counts.value(i));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;

    fn pairs(v: &ScalarValue) -> Vec<(String, i64)> {
        let ScalarValue::Map(m) = v else {
            panic!("not a map: {v:?}")
        };
        let e = m.value(0);
        let k = e.column(0).as_string::<i32>();
        let c = e.column(1).as_primitive::<Int64Type>();
        (0..k.len())
            .map(|i| (k.value(i).to_string(), c.value(i)))
            .collect()
    }

    #[test]
    fn counts_each_string() {
        let mut acc = HistogramAccumulator::default();
        let out = eval_each(&mut acc, &[strs(&[Some("a"), Some("b"), Some("a"), None])]);
        assert_eq!(pairs(&out[2]), vec![("a".into(), 2), ("b".into(), 1)]);
        assert_eq!(out[3], out[2]);
        assert_eq!(out[0].data_type(), histogram_type());
    }

    #[test]
    fn retraction_removes_keys_at_zero() {
        let mut acc = HistogramAccumulator::default();
        acc.update_batch(&[strs(&[Some("a"), Some("b"), Some("a")])])
            .unwrap();
        acc.retract_batch(&[strs(&[Some("a"), Some("b"), Some("zzz")])])
            .unwrap();
        assert_eq!(pairs(&acc.evaluate().unwrap()), vec![("a".into(), 1)]);
        acc.retract_batch(&[strs(&[Some("a")])]).unwrap();
        assert!(pairs(&acc.evaluate().unwrap()).is_empty());
    }

    #[test]
    fn holds_at_most_1000_keys() {
        let mut acc = HistogramAccumulator::default();
        let keys: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
        let arr: ArrayRef = Arc::new(StringArray::from_iter_values(keys.iter()));
        acc.update_batch(&[arr]).unwrap();
        acc.update_batch(&[strs(&[Some("k0"), Some("k1000")])])
            .unwrap();
        let p = pairs(&acc.evaluate().unwrap());
        assert_eq!(p.len(), HISTOGRAM_LIMIT);
        assert_eq!(p[0], ("k0".into(), 2));
        assert!(!p.iter().any(|(k, _)| k == "k1000"));
    }

    #[test]
    fn only_strings_are_accepted() {
        assert!(Histogram
            .coerce(&[DataType::Int32])
            .unwrap_err()
            .to_string()
            .contains("Function 'histogram' does not accept parameters (INTEGER)."));
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::new(HistogramAccumulator::default()),
            &[strs(&[Some("x"), Some("y"), None, Some("x"), Some("z")])],
        );
    }
}
