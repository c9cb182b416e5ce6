//! MIN and MAX (ksqlDB's `MinKudaf` / `MaxKudaf`): the least / greatest non-null value in
//! Java's `compareTo` order, of the input's type; null while every value was null.
//! INT, BIGINT, DOUBLE, DECIMAL, DATE, TIME, TIMESTAMP, STRING and BYTES. Not retractable:
//! ksqlDB cannot apply them to tables.

use std::cmp::Ordering;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, Time32MillisecondType,
    TimeUnit, TimestampMillisecondType,
};
use datafusion::common::{internal_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::java::{cmp_bytes, cmp_f64, cmp_str};
use super::types::{coerce_single, COMPARABLE};
use super::udaf::{arg_types, AggregateSpec};

/// `MIN(col)` or `MAX(col)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct MinMax {
    pub(crate) max: bool,
}

impl MinMax {
    fn ksql_name(&self) -> &'static str {
        if self.max {
            "MAX"
        } else {
            "MIN"
        }
    }
}

impl AggregateSpec for MinMax {
    fn name(&self) -> &'static str {
        if self.max {
            "max"
        } else {
            "min"
        }
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_single(self.ksql_name(), args, COMPARABLE)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn state(&self, args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![(
            if self.max { "max" } else { "min" },
            args[0].clone(),
        )])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(MinMaxAccumulator::new(
            &arg_types(args)[0],
            self.max,
        )?))
    }
}

/// The best value so far, by representation.
#[derive(Debug, Clone, PartialEq)]
enum Best {
    I32(Option<i32>),
    I64(Option<i64>),
    F64(Option<f64>),
    I128(Option<i128>),
    Str(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// MIN's or MAX's accumulator.
#[derive(Debug)]
pub(crate) struct MinMaxAccumulator {
    data_type: DataType,
    max: bool,
    best: Best,
}

impl MinMaxAccumulator {
    pub(crate) fn new(dt: &DataType, max: bool) -> Result<Self> {
        let best = match dt {
            DataType::Int32 | DataType::Date32 | DataType::Time32(TimeUnit::Millisecond) => {
                Best::I32(None)
            }
            DataType::Int64 | DataType::Timestamp(TimeUnit::Millisecond, _) => Best::I64(None),
            DataType::Float64 => Best::F64(None),
            DataType::Decimal128(_, _) => Best::I128(None),
            DataType::Utf8 => Best::Str(None),
            DataType::Binary => Best::Bytes(None),
            other => return internal_err!("MIN/MAX of {other}"),
        };
        Ok(Self {
            data_type: dt.clone(),
            max,
            best,
        })
    }

    fn fold(&mut self, array: &dyn Array) -> Result<()> {
        let max = self.max;
        let wins = |o: Ordering| {
            if max {
                o == Ordering::Greater
            } else {
                o == Ordering::Less
            }
        };
        match &mut self.best {
            Best::I32(best) => {
                let (values, nulls) = match array.data_type() {
                    DataType::Date32 => {
                        let a = array.as_primitive::<Date32Type>();
                        (a.values().as_ref(), a.nulls())
                    }
                    DataType::Time32(_) => {
                        let a = array.as_primitive::<Time32MillisecondType>();
                        (a.values().as_ref(), a.nulls())
                    }
                    _ => {
                        let a = array.as_primitive::<Int32Type>();
                        (a.values().as_ref(), a.nulls())
                    }
                };
                fold_ord(values, nulls, best, max);
            }
            Best::I64(best) => {
                let (values, nulls) = match array.data_type() {
                    DataType::Timestamp(_, _) => {
                        let a = array.as_primitive::<TimestampMillisecondType>();
                        (a.values().as_ref(), a.nulls())
                    }
                    _ => {
                        let a = array.as_primitive::<Int64Type>();
                        (a.values().as_ref(), a.nulls())
                    }
                };
                fold_ord(values, nulls, best, max);
            }
            Best::I128(best) => {
                let a = array.as_primitive::<Decimal128Type>();
                fold_ord(a.values().as_ref(), a.nulls(), best, max);
            }
            Best::F64(best) => {
                for v in array.as_primitive::<Float64Type>().iter().flatten() {
                    if best.is_none_or(|b| wins(cmp_f64(v, b))) {
                        *best = Some(v);
                    }
                }
            }
            Best::Str(best) => {
                let mut pick: Option<&str> = None;
                for v in array.as_string::<i32>().iter().flatten() {
                    let better = match (pick, best.as_deref()) {
                        (Some(p), _) => wins(cmp_str(v, p)),
                        (None, Some(b)) => wins(cmp_str(v, b)),
                        (None, None) => true,
                    };
                    if better {
                        pick = Some(v);
                    }
                }
                if let Some(p) = pick {
                    *best = Some(p.to_string());
                }
            }
            Best::Bytes(best) => {
                let mut pick: Option<&[u8]> = None;
                for v in array.as_binary::<i32>().iter().flatten() {
                    let better = match (pick, best.as_deref()) {
                        (Some(p), _) => wins(cmp_bytes(v, p)),
                        (None, Some(b)) => wins(cmp_bytes(v, b)),
                        (None, None) => true,
                    };
                    if better {
                        pick = Some(v);
                    }
                }
                if let Some(p) = pick {
                    *best = Some(p.to_vec());
                }
            }
        }
        Ok(())
    }

    fn value(&self) -> ScalarValue {
        match (&self.best, &self.data_type) {
            (Best::I32(v), DataType::Date32) => ScalarValue::Date32(*v),
            (Best::I32(v), DataType::Time32(_)) => ScalarValue::Time32Millisecond(*v),
            (Best::I32(v), _) => ScalarValue::Int32(*v),
            (Best::I64(v), DataType::Timestamp(_, tz)) => {
                ScalarValue::TimestampMillisecond(*v, tz.clone())
            }
            (Best::I64(v), _) => ScalarValue::Int64(*v),
            (Best::F64(v), _) => ScalarValue::Float64(*v),
            (Best::I128(v), DataType::Decimal128(p, s)) => ScalarValue::Decimal128(*v, *p, *s),
            (Best::I128(v), _) => ScalarValue::Decimal128(*v, 38, 0),
            (Best::Str(v), _) => ScalarValue::Utf8(v.clone()),
            (Best::Bytes(v), _) => ScalarValue::Binary(v.clone()),
        }
    }
}

/// Folds totally ordered native values (ties keep the current value, as ksqlDB does; for these
/// types equal values are identical anyway).
fn fold_ord<T: Ord + Copy>(
    values: &[T],
    nulls: Option<&datafusion::arrow::buffer::NullBuffer>,
    best: &mut Option<T>,
    max: bool,
) {
    let pick = match nulls.filter(|n| n.null_count() > 0) {
        None => {
            if max {
                values.iter().max()
            } else {
                values.iter().min()
            }
        }
        Some(n) => {
            let valid = values
                .iter()
                .enumerate()
                .filter(|(i, _)| n.is_valid(*i))
                .map(|(_, v)| v);
            if max {
                valid.max()
            } else {
                valid.min()
            }
        }
    };
    if let Some(p) = pick.copied() {
        *best = Some(match *best {
            None => p,
            Some(b) if max => b.max(p),
            Some(b) => b.min(p),
        });
    }
}

impl Accumulator for MinMaxAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.fold(values[0].as_ref())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + match &self.best {
                Best::Str(Some(s)) => s.capacity(),
                Best::Bytes(Some(b)) => b.capacity(),
                _ => 0,
            }
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.fold(states[0].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;
    use std::sync::Arc;

    #[test]
    fn min_of_ints_ignores_nulls() {
        let mut acc = MinMaxAccumulator::new(&DataType::Int32, false).unwrap();
        let out = eval_each(
            &mut acc,
            &[i32s(&[None, Some(-2147483647), Some(5), None, Some(2000)])],
        );
        assert_eq!(out[0], ScalarValue::Int32(None));
        assert!(out[1..]
            .iter()
            .all(|v| *v == ScalarValue::Int32(Some(-2147483647))));
    }

    #[test]
    fn max_of_strings_and_bytes() {
        let mut acc = MinMaxAccumulator::new(&DataType::Utf8, true).unwrap();
        let out = eval_each(&mut acc, &[strs(&[None, Some("B"), Some("A"), Some("F")])]);
        assert_eq!(
            out,
            vec![
                ScalarValue::Utf8(None),
                ScalarValue::Utf8(Some("B".into())),
                ScalarValue::Utf8(Some("B".into())),
                ScalarValue::Utf8(Some("F".into())),
            ]
        );
        // Java compares bytes signed: 0x80 is less than 0x41.
        let mut acc = MinMaxAccumulator::new(&DataType::Binary, true).unwrap();
        acc.update_batch(&[bins(&[Some(&[0x80][..]), Some(b"A")])])
            .unwrap();
        assert_eq!(
            acc.evaluate().unwrap(),
            ScalarValue::Binary(Some(b"A".to_vec()))
        );
        let mut acc = MinMaxAccumulator::new(&DataType::Binary, false).unwrap();
        acc.update_batch(&[bins(&[Some(b"B"), Some(b"A"), None])])
            .unwrap();
        assert_eq!(
            acc.evaluate().unwrap(),
            ScalarValue::Binary(Some(b"A".to_vec()))
        );
    }

    #[test]
    fn doubles_decimals_and_temporal_types_keep_their_type() {
        let mut acc = MinMaxAccumulator::new(&DataType::Float64, false).unwrap();
        acc.update_batch(&[f64s(&[Some(f64::MAX), Some(5.1), Some(f64::MIN)])])
            .unwrap();
        assert_eq!(
            acc.evaluate().unwrap(),
            ScalarValue::Float64(Some(f64::MIN))
        );
        let mut acc = MinMaxAccumulator::new(&DataType::Float64, true).unwrap();
        acc.update_batch(&[f64s(&[Some(0.0), Some(-0.0), Some(f64::NAN)])])
            .unwrap();
        assert!(matches!(acc.evaluate().unwrap(), ScalarValue::Float64(Some(x)) if x.is_nan()));

        let mut acc = MinMaxAccumulator::new(&DataType::Decimal128(4, 2), true).unwrap();
        acc.update_batch(&[decs(&[Some(-1012), Some(510), None], 4, 2)])
            .unwrap();
        assert_eq!(
            acc.evaluate().unwrap(),
            ScalarValue::Decimal128(Some(510), 4, 2)
        );

        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        let mut acc = MinMaxAccumulator::new(&ts, true).unwrap();
        let arr: ArrayRef = Arc::new(datafusion::arrow::array::TimestampMillisecondArray::from(
            vec![Some(-1), Some(50)],
        ));
        acc.update_batch(&[arr]).unwrap();
        assert_eq!(
            acc.evaluate().unwrap(),
            ScalarValue::TimestampMillisecond(Some(50), None)
        );

        let mut acc = MinMaxAccumulator::new(&DataType::Date32, false).unwrap();
        let arr: ArrayRef = Arc::new(datafusion::arrow::array::Date32Array::from(vec![
            Some(100),
            Some(6),
            None,
        ]));
        acc.update_batch(&[arr]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Date32(Some(6)));
    }

    #[test]
    fn booleans_and_structs_are_rejected() {
        let e = MinMax { max: false }
            .coerce(&[DataType::Boolean])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Function 'MIN' does not accept parameters (BOOLEAN)."),
            "{e}"
        );
    }

    #[test]
    fn state_round_trips() {
        check_round_trip(
            &|| Box::new(MinMaxAccumulator::new(&DataType::Utf8, false).unwrap()),
            &[strs(&[Some("E"), None, Some("C"), Some("G")])],
        );
        check_round_trip(
            &|| Box::new(MinMaxAccumulator::new(&DataType::Int64, true).unwrap()),
            &[i64s(&[None, Some(3), Some(-9), Some(30)])],
        );
    }
}
