//! EARLIEST_BY_OFFSET and LATEST_BY_OFFSET (ksqlDB's `EarliestByOffset` / `LatestByOffset`):
//! the first / last value to arrive, any input type.
//!
//! Forms: `f(col)` and `f(col, ignoreNulls)` return the column's type; `f(col, N)` and
//! `f(col, N, ignoreNulls)` return an ARRAY of the earliest / latest N values, oldest first.
//! `ignoreNulls` defaults to true (null values are skipped); N and ignoreNulls must be literals,
//! N at least 1.
//!
//! Values carry a sequence number from a process-wide counter, as ksqlDB's do, so that states
//! can be merged (session windows): the single forms keep the entry with the smaller
//! (earliest) or larger (latest; a non-null value wins when nulls are ignored) sequence; the N
//! forms sort both states by sequence and keep the first N (for LATEST that is ksqlDB's
//! behaviour too: a merge keeps the oldest N). Merging a state into a fresh accumulator
//! restores it exactly; the counter is raised past every restored sequence so later values
//! stay newer. Not retractable.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::Accumulator;

use super::args::{constant_bool, constant_int};
use super::types::{is_integer, ksql_type_name, list_of, no_matching_signature, normalize};
use super::udaf::{arg_types, AggregateSpec};

static SEQUENCE: AtomicI64 = AtomicI64::new(0);

fn next_sequence() -> i64 {
    SEQUENCE.fetch_add(1, AtomicOrdering::Relaxed)
}

/// Makes sure sequences handed out from now on are above `seen`.
fn observe_sequence(seen: i64) {
    SEQUENCE.fetch_max(seen.saturating_add(1), AtomicOrdering::Relaxed);
}

/// `EARLIEST_BY_OFFSET` (`latest: false`) or `LATEST_BY_OFFSET` (`latest: true`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ByOffset {
    pub(crate) latest: bool,
}

impl ByOffset {
    fn ksql_name(&self) -> &'static str {
        if self.latest {
            "LATEST_BY_OFFSET"
        } else {
            "EARLIEST_BY_OFFSET"
        }
    }

    /// Whether a call with these argument types is the N form.
    fn is_n_form(args: &[DataType]) -> bool {
        args.len() >= 2 && is_integer(&args[1])
    }
}

impl AggregateSpec for ByOffset {
    fn name(&self) -> &'static str {
        if self.latest {
            "latest_by_offset"
        } else {
            "earliest_by_offset"
        }
    }

    fn coerce(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let ok = match args {
            [_] => true,
            [_, b] => *b == DataType::Boolean || is_integer(b),
            [_, n, b] => is_integer(n) && *b == DataType::Boolean,
            _ => false,
        };
        if !ok {
            let n = self.ksql_name();
            let alts = [
                format!("{n}(T val)"),
                format!("{n}(T val, BOOLEAN ignoreNulls)"),
                format!("{n}(T val, INT earliestN)"),
                format!("{n}(T val, INT earliestN, BOOLEAN ignoreNulls)"),
            ];
            return Err(no_matching_signature(n, args, &alts));
        }
        let mut out = args.to_vec();
        out[0] = normalize(&args[0]);
        Ok(out)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if Self::is_n_form(args) {
            Ok(list_of(args[0].clone()))
        } else {
            Ok(args[0].clone())
        }
    }

    fn state(&self, args: &[DataType], _ret: &DataType) -> Result<Vec<(&'static str, DataType)>> {
        if Self::is_n_form(args) {
            Ok(vec![
                ("seqs", list_of(DataType::Int64)),
                ("vals", list_of(args[0].clone())),
            ])
        } else {
            Ok(vec![("seq", DataType::Int64), ("val", args[0].clone())])
        }
    }

    fn accumulator(&self, args: &AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types = arg_types(args);
        let name = self.ksql_name();
        let item = types[0].clone();
        if Self::is_n_form(&types) {
            let n = constant_int(name, args.exprs, 1)?;
            let ignore_nulls = if types.len() == 3 {
                constant_bool(name, args.exprs, 2)?
            } else {
                true
            };
            if n <= 0 {
                let which = if self.latest { "latestN" } else { "earliestN" };
                return exec_err!("{which} must be 1 or greater");
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            Ok(Box::new(ByOffsetN {
                item,
                latest: self.latest,
                ignore_nulls,
                n,
                entries: VecDeque::new(),
            }))
        } else {
            let ignore_nulls = if types.len() == 2 {
                constant_bool(name, args.exprs, 1)?
            } else {
                true
            };
            if types.len() == 2 && types[1] != DataType::Boolean {
                return exec_err!(
                    "{name}: second argument must be BOOLEAN or INT, got {}",
                    ksql_type_name(&types[1])
                );
            }
            Ok(Box::new(ByOffsetOne {
                item,
                latest: self.latest,
                ignore_nulls,
                entry: None,
            }))
        }
    }

    fn order_sensitive(&self) -> bool {
        true
    }
}

/// The single forms: one (sequence, value) entry.
#[derive(Debug)]
pub(crate) struct ByOffsetOne {
    item: DataType,
    latest: bool,
    ignore_nulls: bool,
    entry: Option<(i64, ScalarValue)>,
}

impl ByOffsetOne {
    /// Whether `other` replaces the current entry in a merge (ksqlDB's comparators).
    fn other_wins(&self, other: &(i64, ScalarValue)) -> bool {
        let Some(mine) = &self.entry else {
            return true;
        };
        if !self.latest {
            // Earliest: the current entry stays only if strictly older.
            return mine.0 >= other.0;
        }
        if self.ignore_nulls {
            match (mine.1.is_null(), other.1.is_null()) {
                (true, true) => return false,
                (true, false) => return true,
                (false, true) => return false,
                (false, false) => {}
            }
        }
        mine.0 < other.0
    }
}

impl Accumulator for ByOffsetOne {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = values[0].as_ref();
        if self.latest {
            let pick = (0..array.len())
                .rev()
                .find(|i| !self.ignore_nulls || array.is_valid(*i));
            if let Some(i) = pick {
                self.entry = Some((next_sequence(), ScalarValue::try_from_array(array, i)?));
            }
        } else if self.entry.is_none() {
            let pick = (0..array.len()).find(|i| !self.ignore_nulls || array.is_valid(*i));
            if let Some(i) = pick {
                self.entry = Some((next_sequence(), ScalarValue::try_from_array(array, i)?));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.entry {
            Some((_, v)) => Ok(v.clone()),
            None => ScalarValue::try_from(&self.item),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.entry.as_ref().map_or(0, |(_, v)| v.size())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match &self.entry {
            Some((seq, v)) => vec![ScalarValue::Int64(Some(*seq)), v.clone()],
            None => vec![ScalarValue::Int64(None), ScalarValue::try_from(&self.item)?],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let seqs = states[0].as_primitive::<Int64Type>();
        for i in 0..seqs.len() {
            if seqs.is_null(i) {
                continue;
            }
            let seq = seqs.value(i);
            observe_sequence(seq);
            let other = (seq, ScalarValue::try_from_array(states[1].as_ref(), i)?);
            if self.other_wins(&other) {
                self.entry = Some(other);
            }
        }
        Ok(())
    }
}

/// The N forms: up to N (sequence, value) entries, oldest first.
#[derive(Debug)]
pub(crate) struct ByOffsetN {
    item: DataType,
    latest: bool,
    ignore_nulls: bool,
    n: usize,
    entries: VecDeque<(i64, ScalarValue)>,
}

impl ByOffsetN {
    fn values(&self) -> ScalarValue {
        let vals: Vec<ScalarValue> = self.entries.iter().map(|(_, v)| v.clone()).collect();
        ScalarValue::List(ScalarValue::new_list_nullable(&vals, &self.item))
    }
}

impl Accumulator for ByOffsetN {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = values[0].as_ref();
        for i in 0..array.len() {
            if self.ignore_nulls && array.is_null(i) {
                continue;
            }
            if !self.latest && self.entries.len() >= self.n {
                break;
            }
            self.entries
                .push_back((next_sequence(), ScalarValue::try_from_array(array, i)?));
            if self.entries.len() > self.n {
                self.entries.pop_front();
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.values())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .entries
                .iter()
                .map(|(_, v)| v.size() + 8)
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let seqs: Vec<ScalarValue> = self
            .entries
            .iter()
            .map(|(s, _)| ScalarValue::Int64(Some(*s)))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&seqs, &DataType::Int64)),
            self.values(),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let seq_lists = states[0].as_list::<i32>();
        let val_lists = states[1].as_list::<i32>();
        for row in 0..seq_lists.len() {
            if seq_lists.is_null(row) || val_lists.is_null(row) {
                continue;
            }
            let seqs = seq_lists.value(row);
            let seqs = seqs.as_primitive::<Int64Type>();
            let vals = val_lists.value(row);
            let mut merged: Vec<(i64, ScalarValue)> = self.entries.drain(..).collect();
            for i in 0..seqs.len() {
                let seq = seqs.value(i);
                observe_sequence(seq);
                merged.push((seq, ScalarValue::try_from_array(vals.as_ref(), i)?));
            }
            merged.sort_by_key(|(s, _)| *s);
            merged.truncate(self.n);
            self.entries = merged.into();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::*;
    use datafusion::logical_expr::AggregateUDF;

    use crate::aggregate::udaf::KsqlUdaf;

    fn udf(latest: bool) -> AggregateUDF {
        AggregateUDF::new_from_impl(KsqlUdaf::new(ByOffset { latest }))
    }

    fn int(x: i32) -> ScalarValue {
        ScalarValue::Int32(Some(x))
    }

    fn ints(v: &[Option<i32>]) -> ScalarValue {
        let vals: Vec<_> = v.iter().map(|x| ScalarValue::Int32(*x)).collect();
        ScalarValue::List(ScalarValue::new_list_nullable(&vals, &DataType::Int32))
    }

    fn call(latest: bool, extra: Vec<ScalarValue>) -> Box<dyn Accumulator> {
        let mut args = vec![Arg::Col(DataType::Int32)];
        args.extend(extra.into_iter().map(Arg::Lit));
        make(&udf(latest), &args).unwrap()
    }

    fn input() -> ArrayRef {
        i32s(&[Some(12), None, Some(13)])
    }

    #[test]
    fn latest_single_forms() {
        let out = eval_each(call(true, vec![]).as_mut(), &[input()]);
        assert_eq!(out, vec![int(12), int(12), int(13)]);
        let out = eval_each(
            call(true, vec![ScalarValue::Boolean(Some(false))]).as_mut(),
            &[input()],
        );
        assert_eq!(out, vec![int(12), ScalarValue::Int32(None), int(13)]);
        let out = eval_each(call(true, vec![]).as_mut(), &[i32s(&[None, None])]);
        assert_eq!(
            out,
            vec![ScalarValue::Int32(None), ScalarValue::Int32(None)]
        );
    }

    #[test]
    fn latest_n_forms() {
        let two = ScalarValue::Int64(Some(2));
        let out = eval_each(
            call(true, vec![two.clone(), ScalarValue::Boolean(Some(true))]).as_mut(),
            &[input()],
        );
        assert_eq!(
            out,
            vec![
                ints(&[Some(12)]),
                ints(&[Some(12)]),
                ints(&[Some(12), Some(13)])
            ]
        );
        let out = eval_each(
            call(true, vec![two.clone(), ScalarValue::Boolean(Some(false))]).as_mut(),
            &[input()],
        );
        assert_eq!(
            out,
            vec![
                ints(&[Some(12)]),
                ints(&[Some(12), None]),
                ints(&[None, Some(13)])
            ]
        );
        let out = eval_each(call(true, vec![two]).as_mut(), &[i32s(&[None, None])]);
        assert_eq!(out, vec![ints(&[]), ints(&[])]);
    }

    #[test]
    fn earliest_forms() {
        let out = eval_each(
            call(false, vec![]).as_mut(),
            &[i32s(&[None, Some(1), Some(2)])],
        );
        assert_eq!(out, vec![ScalarValue::Int32(None), int(1), int(1)]);
        let out = eval_each(
            call(false, vec![ScalarValue::Boolean(Some(false))]).as_mut(),
            &[i32s(&[None, Some(1)])],
        );
        assert_eq!(
            out,
            vec![ScalarValue::Int32(None), ScalarValue::Int32(None)]
        );
        let out = eval_each(
            call(
                false,
                vec![
                    ScalarValue::Int64(Some(2)),
                    ScalarValue::Boolean(Some(true)),
                ],
            )
            .as_mut(),
            &[i32s(&[Some(1), None, Some(2), Some(3)])],
        );
        assert_eq!(out[3], ints(&[Some(1), Some(2)]));
    }

    #[test]
    fn return_types_depend_on_the_form() {
        let s = ByOffset { latest: false };
        assert_eq!(s.return_type(&[DataType::Utf8]).unwrap(), DataType::Utf8);
        assert_eq!(
            s.return_type(&[DataType::Utf8, DataType::Boolean]).unwrap(),
            DataType::Utf8
        );
        assert_eq!(
            s.return_type(&[DataType::Utf8, DataType::Int64]).unwrap(),
            list_of(DataType::Utf8)
        );
        assert!(s
            .coerce(&[DataType::Int32, DataType::Utf8])
            .unwrap_err()
            .to_string()
            .contains(
                "Function 'EARLIEST_BY_OFFSET' does not accept parameters (INTEGER, STRING)."
            ));
    }

    #[test]
    fn n_must_be_a_positive_literal() {
        let err = make(
            &udf(false),
            &[Arg::Col(DataType::Int32), Arg::Col(DataType::Int32)],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains(
                "Parameter 2 passed to function EARLIEST_BY_OFFSET must be a literal constant, \
                 but was expression: 'c1'"
            ),
            "{err}"
        );
        let err = make(
            &udf(true),
            &[
                Arg::Col(DataType::Int32),
                Arg::Lit(ScalarValue::Int64(Some(0))),
            ],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("latestN must be 1 or greater"));
    }

    #[test]
    fn merging_sessions_follows_ksql() {
        // Two sessions [1] and [null] (nulls not ignored) merge, then 2 arrives: [null, 2].
        let n2 = ScalarValue::Int64(Some(2));
        let f = ScalarValue::Boolean(Some(false));
        let mut a = call(true, vec![n2.clone(), f.clone()]);
        a.update_batch(&[i32s(&[Some(1)])]).unwrap();
        let mut b = call(true, vec![n2.clone(), f.clone()]);
        b.update_batch(&[i32s(&[None])]).unwrap();
        let mut merged = call(true, vec![n2, f]);
        restore(a.as_mut(), merged.as_mut()).unwrap();
        restore(b.as_mut(), merged.as_mut()).unwrap();
        merged.update_batch(&[i32s(&[Some(2)])]).unwrap();
        assert_eq!(merged.evaluate().unwrap(), ints(&[None, Some(2)]));

        // Single form, nulls ignored: a session holding 1 merged with an all-null one keeps 1.
        let mut a = call(true, vec![]);
        a.update_batch(&[i32s(&[Some(1)])]).unwrap();
        let mut merged = call(true, vec![]);
        restore(a.as_mut(), merged.as_mut()).unwrap();
        merged.update_batch(&[i32s(&[None])]).unwrap();
        assert_eq!(merged.evaluate().unwrap(), int(1));

        // Earliest keeps the older of two sessions whatever the merge order.
        let mut old = call(false, vec![]);
        old.update_batch(&[i32s(&[Some(7)])]).unwrap();
        let mut new = call(false, vec![]);
        new.update_batch(&[i32s(&[Some(8)])]).unwrap();
        let mut merged = call(false, vec![]);
        restore(new.as_mut(), merged.as_mut()).unwrap();
        restore(old.as_mut(), merged.as_mut()).unwrap();
        assert_eq!(merged.evaluate().unwrap(), int(7));
    }

    #[test]
    fn state_round_trips() {
        for latest in [false, true] {
            check_round_trip(&|| call(latest, vec![]), &[input()]);
            check_round_trip(
                &|| call(latest, vec![ScalarValue::Boolean(Some(false))]),
                &[input()],
            );
            check_round_trip(
                &|| {
                    call(
                        latest,
                        vec![
                            ScalarValue::Int64(Some(2)),
                            ScalarValue::Boolean(Some(false)),
                        ],
                    )
                },
                &[i32s(&[Some(1), None, Some(2), Some(3)])],
            );
        }
    }
}
