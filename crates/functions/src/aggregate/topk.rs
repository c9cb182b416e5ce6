//! TOPK and TOPKDISTINCT (ksqlDB's `TopkKudaf` / `TopkDistinctKudaf`): the k greatest values,
//! greatest first, in Java's `compareTo` order; nulls are skipped; k must be a literal.
//!
//! - `TOPK(col, k)`: INT, BIGINT, DOUBLE or STRING; ARRAY of the column's type; duplicates
//!   count (a value equal to one already kept goes after it).
//! - `TOPK(col, other1, ..., k)`: ARRAY<STRUCT<sort_col T, col0 T1, col1 T2, ...>>, the other
//!   columns' values from the same rows.
//! - `TOPKDISTINCT(col, k)`: INT, BIGINT, DOUBLE, STRING, DECIMAL, DATE, TIME, TIMESTAMP or
//!   BYTES; each value at most once.
//!
//! Merging interleaves two states as ksqlDB's `merge` does (a fresh accumulator merging a state
//! restores it exactly). Not retractable.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::scalar::ScalarStructBuilder;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::args::constant_int;
use super::java::cmp_scalar;
use super::types::{
    is_integer, list_item, list_of, no_matching_signature, normalize, resolve_kind, Kind,
    COMPARABLE,
};
use super::udaf::{arg_types, AggregateSpec};

const TOPK_KINDS: &[Kind] = &[Kind::Int, Kind::BigInt, Kind::Double, Kind::String];

/// `TOPK` (`distinct: false`) or `TOPKDISTINCT` (`distinct: true`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TopK {
    pub(crate) distinct: bool,
}

impl TopK {
    fn ksql_name(&self) -> &'static str {
        if self.distinct {
            "TOPKDISTINCT"
        } else {
            "TOPK"
        }
    }

    fn kinds(&self) -> &'static [Kind] {
        if self.distinct {
            COMPARABLE
        } else {
            TOPK_KINDS
        }
    }

    /// The struct of TOPK's multi-column form.
    fn struct_type(args: &[DataType]) -> DataType {
        let mut fields = vec![Field::new("sort_col", args[0].clone(), true)];
        for (i, t) in args[1..args.len() - 1].iter().enumerate() {
            fields.push(Field::new(format!("col{i}"), t.clone(), true));
        }
        DataType::Struct(Fields::from(fields))
    }
}

impl AggregateSpec for TopK {
    fn name(&self) -> &'static str {
        if self.distinct {
            "topkdistinct"
        } else {
            "topk"
        }
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let arity_ok = if self.distinct {
            args.len() == 2
        } else {
            args.len() >= 2
        };
        if arity_ok && is_integer(&args[args.len() - 1]) {
            if let Some(t) = resolve_kind(&args[0], self.kinds()) {
                let mut out: Vec<DataType> = args.iter().map(normalize).collect();
                out[0] = t;
                // k stays as written: it is read as a constant, not cast.
                out[args.len() - 1] = args[args.len() - 1].clone();
                return Ok(out);
            }
        }
        let name = self.ksql_name();
        let alts: Vec<String> = self
            .kinds()
            .iter()
            .map(|k| {
                if self.distinct {
                    format!("{name}({} val, INT k)", k.ksql_name())
                } else {
                    format!("{name}({} val, ANY... otherCols, INT k)", k.ksql_name())
                }
            })
            .collect();
        Err(no_matching_signature(name, args, &alts))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() > 2 {
            Ok(list_of(Self::struct_type(args)))
        } else {
            Ok(list_of(args[0].clone()))
        }
    }

    fn state(&self, _args: &[DataType], ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        Ok(vec![("top", ret.clone())])
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types = arg_types(args);
        let k = constant_int(self.ksql_name(), args.exprs, types.len() - 1)?;
        if k <= 0 {
            return exec_err!("{}: k must be 1 or greater, got {k}", self.ksql_name());
        }
        let element = match list_item(args.return_field.data_type()) {
            Some(t) => t.clone(),
            None => types[0].clone(),
        };
        let other_fields = match &element {
            DataType::Struct(fields) if types.len() > 2 => fields.iter().skip(1).cloned().collect(),
            _ => Vec::new(),
        };
        Ok(Box::new(TopKAccumulator {
            k: usize::try_from(k).unwrap_or(usize::MAX),
            distinct: self.distinct,
            element,
            other_fields,
            top: Vec::new(),
        }))
    }

    fn order_sensitive(&self) -> bool {
        // Ties keep arrival order (TOPK with other columns).
        !self.distinct
    }
}

/// The kept values, greatest first: (sort value, element of the result).
#[derive(Debug)]
pub(crate) struct TopKAccumulator {
    k: usize,
    distinct: bool,
    /// The result's element type: the column's type, or the struct.
    element: DataType,
    /// The struct's fields after `sort_col`.
    other_fields: Vec<Arc<Field>>,
    top: Vec<(ScalarValue, ScalarValue)>,
}

fn cmp(a: &ScalarValue, b: &ScalarValue) -> Ordering {
    cmp_scalar(a, b).unwrap_or(Ordering::Equal)
}

impl TopKAccumulator {
    /// ksqlDB's `aggregate` for one non-null value.
    fn offer(
        &mut self,
        key: ScalarValue,
        element: impl FnOnce() -> Result<ScalarValue>,
    ) -> Result<()> {
        let full = self.top.len() == self.k;
        if full {
            if let Some((last, _)) = self.top.last() {
                if cmp(&key, last) != Ordering::Greater {
                    return Ok(());
                }
            }
        }
        if self.distinct && self.top.iter().any(|(v, _)| *v == key) {
            return Ok(());
        }
        if full {
            self.top.pop();
        }
        // Stable: after every kept value not less than the new one.
        let at = self
            .top
            .partition_point(|(v, _)| cmp(v, &key) != Ordering::Less);
        let element = element()?;
        self.top.insert(at, (key, element));
        Ok(())
    }

    fn key_of(&self, element: &ScalarValue) -> Result<ScalarValue> {
        match element {
            ScalarValue::Struct(s) if !self.other_fields.is_empty() => {
                ScalarValue::try_from_array(s.column(0).as_ref(), 0)
            }
            other => Ok(other.clone()),
        }
    }

    fn list(&self) -> ScalarValue {
        let elements: Vec<ScalarValue> = self.top.iter().map(|(_, e)| e.clone()).collect();
        ScalarValue::List(ScalarValue::new_list_nullable(&elements, &self.element))
    }
}

impl Accumulator for TopKAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let sort = values[0].as_ref();
        let others = &values[1..values.len() - 1];
        let fields = self.other_fields.clone();
        for i in 0..sort.len() {
            if sort.is_null(i) {
                continue;
            }
            let key = ScalarValue::try_from_array(sort, i)?;
            if self.other_fields.is_empty() {
                let element = key.clone();
                self.offer(key, || Ok(element))?;
            } else {
                let fields = &fields;
                let k2 = key.clone();
                self.offer(key, || {
                    let mut b = ScalarStructBuilder::new()
                        .with_scalar(Field::new("sort_col", k2.data_type(), true), k2);
                    for (f, col) in fields.iter().zip(others.iter()) {
                        let v = ScalarValue::try_from_array(col.as_ref(), i)?;
                        let v = if v.data_type() == *f.data_type() {
                            v
                        } else {
                            v.cast_to(f.data_type())?
                        };
                        b = b.with_scalar(f.clone(), v);
                    }
                    b.build()
                })?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.list())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .top
                .iter()
                .map(|(a, b)| a.size() + b.size())
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.list()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for row in 0..lists.len() {
            if lists.is_null(row) {
                continue;
            }
            let values = lists.value(row);
            let mut other = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                let element = ScalarValue::try_from_array(values.as_ref(), i)?;
                other.push((self.key_of(&element)?, element));
            }
            let mine = std::mem::take(&mut self.top);
            self.top = merge(mine, other, self.k, self.distinct);
        }
        Ok(())
    }
}

/// ksqlDB's two-way merge of two descending lists, up to k values.
fn merge(
    one: Vec<(ScalarValue, ScalarValue)>,
    two: Vec<(ScalarValue, ScalarValue)>,
    k: usize,
    distinct: bool,
) -> Vec<(ScalarValue, ScalarValue)> {
    let mut out = Vec::with_capacity(k.min(one.len() + two.len()));
    let mut a = one.into_iter().peekable();
    let mut b = two.into_iter().peekable();
    while out.len() < k {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (Some(x), Some(y)) => match cmp(&x.0, &y.0) {
                Ordering::Greater => a.next(),
                Ordering::Less => b.next(),
                Ordering::Equal if distinct => {
                    b.next();
                    a.next()
                }
                Ordering::Equal => a.next(),
            },
        };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;
    use crate::aggregate::udaf::KsqlUdaf;
    use datafusion::logical_expr::AggregateUDF;

    fn udf(distinct: bool) -> AggregateUDF {
        AggregateUDF::new_from_impl(KsqlUdaf::new(TopK { distinct }))
    }

    fn k(n: i64) -> Arg {
        Arg::Lit(ScalarValue::Int64(Some(n)))
    }

    fn list(vals: Vec<ScalarValue>, t: &DataType) -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list_nullable(&vals, t))
    }

    #[test]
    fn topk_keeps_duplicates_greatest_first() {
        let mut acc = make(&udf(false), &[Arg::Col(DataType::Int32), k(3)]).unwrap();
        let input = i32s(&[Some(0), Some(100), Some(99), Some(7), Some(100)]);
        let kk = ScalarValue::Int64(Some(3)).to_array_of_size(5).unwrap();
        let out = eval_each(acc.as_mut(), &[input, kk]);
        let i = |x| ScalarValue::Int32(Some(x));
        let t = DataType::Int32;
        assert_eq!(out[0], list(vec![i(0)], &t));
        assert_eq!(out[1], list(vec![i(100), i(0)], &t));
        assert_eq!(out[2], list(vec![i(100), i(99), i(0)], &t));
        assert_eq!(out[3], list(vec![i(100), i(99), i(7)], &t));
        assert_eq!(out[4], list(vec![i(100), i(100), i(99)], &t));
    }

    #[test]
    fn topk_strings() {
        let mut acc = make(&udf(false), &[Arg::Col(DataType::Utf8), k(3)]).unwrap();
        let input = strs(&[Some("a"), Some("b"), Some("c"), Some("b"), Some("d")]);
        let kk = ScalarValue::Int64(Some(3)).to_array_of_size(5).unwrap();
        let out = eval_each(acc.as_mut(), &[input, kk]);
        let s = |x: &str| ScalarValue::Utf8(Some(x.into()));
        assert_eq!(out[3], list(vec![s("c"), s("b"), s("b")], &DataType::Utf8));
        assert_eq!(out[4], list(vec![s("d"), s("c"), s("b")], &DataType::Utf8));
    }

    #[test]
    fn topk_with_other_columns_returns_structs() {
        let spec = TopK { distinct: false };
        let args = [DataType::Int32, DataType::Utf8, DataType::Int64];
        let ret = spec.return_type(&args).unwrap();
        assert_eq!(
            ret,
            list_of(DataType::Struct(Fields::from(vec![
                Field::new("sort_col", DataType::Int32, true),
                Field::new("col0", DataType::Utf8, true),
            ])))
        );
        let mut acc = make(
            &udf(false),
            &[Arg::Col(DataType::Int32), Arg::Col(DataType::Utf8), k(3)],
        )
        .unwrap();
        let sort = i32s(&[Some(0), Some(100), Some(99), None, Some(100)]);
        let names = strs(&[Some("zero"), Some("one"), Some("two"), Some("three"), None]);
        let kk = ScalarValue::Int64(Some(3)).to_array_of_size(5).unwrap();
        let out = eval_each(acc.as_mut(), &[sort, names, kk]);
        let last = out[4].to_array().unwrap();
        let items = last.as_list::<i32>().value(0);
        let st = items.as_struct();
        let sorts: Vec<_> = st
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int32Type>()
            .iter()
            .collect();
        let names: Vec<_> = st.column(1).as_string::<i32>().iter().collect();
        assert_eq!(sorts, vec![Some(100), Some(100), Some(99)]);
        assert_eq!(names, vec![Some("one"), None, Some("two")]);
        assert_eq!(out[3], out[2], "a null sort value is skipped");
        check_round_trip(
            &|| {
                make(
                    &udf(false),
                    &[Arg::Col(DataType::Int32), Arg::Col(DataType::Utf8), k(2)],
                )
                .unwrap()
            },
            &[
                i32s(&[Some(1), Some(5), Some(5), Some(2)]),
                strs(&[Some("a"), Some("b"), Some("c"), None]),
                ScalarValue::Int64(Some(2)).to_array_of_size(4).unwrap(),
            ],
        );
    }

    #[test]
    fn topkdistinct_skips_duplicates() {
        let mut acc = make(&udf(true), &[Arg::Col(DataType::Float64), k(2)]).unwrap();
        let kk = ScalarValue::Int64(Some(2)).to_array_of_size(4).unwrap();
        let out = eval_each(
            acc.as_mut(),
            &[f64s(&[Some(0.0), Some(100.0), Some(100.0), Some(50.0)]), kk],
        );
        let d = |x| ScalarValue::Float64(Some(x));
        assert_eq!(out[2], list(vec![d(100.0), d(0.0)], &DataType::Float64));
        assert_eq!(out[3], list(vec![d(100.0), d(50.0)], &DataType::Float64));
    }

    #[test]
    fn types_and_literals_are_checked() {
        let e = TopK { distinct: false }
            .coerce(&[DataType::Decimal128(4, 1), DataType::Int64])
            .unwrap();
        assert_eq!(e[0], DataType::Float64, "DECIMAL widens to DOUBLE for TOPK");
        assert!(TopK { distinct: true }
            .coerce(&[DataType::Decimal128(4, 1), DataType::Int64])
            .unwrap()[0]
            .eq(&DataType::Decimal128(4, 1)));
        let e = TopK { distinct: false }
            .coerce(&[DataType::Boolean, DataType::Int64])
            .unwrap_err()
            .to_string();
        assert!(e.contains("Function 'TOPK' does not accept parameters (BOOLEAN, BIGINT)."));
        let e = make(
            &udf(false),
            &[Arg::Col(DataType::Int32), Arg::Col(DataType::Int32)],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("Parameter 2 passed to function TOPK must be a literal constant"));
    }

    #[test]
    fn merge_interleaves_like_ksql() {
        let i = |x| (ScalarValue::Int32(Some(x)), ScalarValue::Int32(Some(x)));
        let merged = merge(vec![i(9), i(5), i(1)], vec![i(7), i(5)], 4, false);
        let keys: Vec<_> = merged.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![i(9).0, i(7).0, i(5).0, i(5).0]);
        let merged = merge(vec![i(9), i(5)], vec![i(7), i(5)], 4, true);
        assert_eq!(merged.len(), 3);
        check_round_trip(
            &|| make(&udf(true), &[Arg::Col(DataType::Int32), k(3)]).unwrap(),
            &[
                i32s(&[Some(3), Some(1), Some(3), None, Some(9), Some(4)]),
                ScalarValue::Int64(Some(3)).to_array_of_size(6).unwrap(),
            ],
        );
    }
}
