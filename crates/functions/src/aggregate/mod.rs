//! ksqlDB's aggregate functions as DataFusion `AggregateUDF`s: COUNT, SUM, AVG, MIN, MAX,
//! COUNT_DISTINCT, COLLECT_LIST, COLLECT_SET, EARLIEST_BY_OFFSET, LATEST_BY_OFFSET, TOPK,
//! TOPKDISTINCT, HISTOGRAM, STDDEV_SAMP, STDDEV_SAMPLE, CORRELATION, SUM_LIST and ATTR.
//!
//! They are registered under lower-case names and replace DataFusion's functions of the same
//! name, so pull queries (ordinary DataFusion plans) and the streaming GROUP BY operator run
//! the same code with ksqlDB's semantics: its return types (SUM(INT) is INT, AVG is DOUBLE,
//! COUNT is BIGINT, ...), null handling (SUM of only nulls is 0, COLLECT_LIST keeps nulls, ...),
//! accepted types (others are rejected at planning time with ksqlDB's "Function 'X' does not
//! accept parameters (...)" text) and orderings (Java's `compareTo`). Each function's module
//! documents its rules.
//!
//! # Contract for the streaming operator
//!
//! 1. [`AggregateUDF::accumulator`] gives a fresh
//!    [`Accumulator`](datafusion::logical_expr::Accumulator). `update_batch` takes the
//!    evaluated arguments (every argument, including literal ones such as TOPK's k, as arrays
//!    of equal length, often 1) and adds the rows in array order, which is taken as arrival
//!    order. `evaluate()` returns the current value in the function's return type; it does not
//!    change the state and is cheap enough to call after every row (at worst it copies the
//!    collected values of COLLECT_LIST / COLLECT_SET / TOPK / HISTOGRAM / the N forms).
//!    Constant arguments (TOPK's k, the N and ignoreNulls of EARLIEST/LATEST_BY_OFFSET) are
//!    read from the physical expressions when the accumulator is made; a non-constant one is
//!    ksqlDB's "Parameter 2 passed to function X must be a literal constant" error then.
//! 2. `state()` / `merge_batch()` round-trip: a fresh accumulator that merges the state (each
//!    state value as a 1-row array) evaluates to the same value and continues identically,
//!    including the arrival-order functions (EARLIEST/LATEST_BY_OFFSET, COLLECT_LIST). Merging
//!    two non-empty states follows ksqlDB's `merge`. For session windows do what Kafka Streams
//!    does: a fresh accumulator, `merge_batch` of each merged session's state oldest first,
//!    then `update_batch` of the new row.
//! 3. Retraction: ksqlDB aggregates tables only with functions that implement its `TableUdaf`
//!    (an `undo`): COUNT, SUM, SUM_LIST, AVG, COLLECT_LIST, HISTOGRAM, STDDEV_SAMP,
//!    STDDEV_SAMPLE, CORRELATION and ATTR. Their accumulators implement `retract_batch` and
//!    answer `supports_retract_batch() == true`; the others answer false. [`supports_tables`] tells
//!    by name, and [`table_aggregation_error`] gives ksqlDB's error text for the others.
//! 4. [`state_codec`] turns `state()` into self-describing, versioned bytes and back.
//! 5. Updates work on whole arrays: COUNT, SUM, AVG, MIN and MAX of primitive types never build
//!    a `ScalarValue` per row. Floating-point sums add in arrival order, as ksqlDB does, so
//!    results match to the last bit.
//!
//! `COUNT(*)` and `COUNT()` reach "count" as `count(Int64(1))` through DataFusion's
//! `AggregateFunctionPlanner` (part of the default session features); a non-null literal counts
//! every row.
//!
//! Configuration (ksqlDB's `ksql.functions.collect_list.limit` and
//! `ksql.functions.collect_set.limit`) comes through [`AggregateConfig`] and [`all_with`];
//! [`all`] uses the defaults (unlimited).

mod args;
mod attr;
mod avg;
mod collect;
mod correlation;
mod count;
mod count_distinct;
mod histogram;
pub(crate) mod java;
mod min_max;
mod offset;
pub mod state_codec;
mod stddev;
mod sum;
#[cfg(test)]
mod testing;
mod topk;
mod types;
mod udaf;

use std::sync::Arc;

use datafusion::logical_expr::AggregateUDF;

pub use histogram::HISTOGRAM_LIMIT;

use udaf::KsqlUdaf;

/// The session property limiting COLLECT_LIST's size.
pub const COLLECT_LIST_LIMIT_CONFIG: &str = "ksql.functions.collect_list.limit";
/// The session property limiting COLLECT_SET's size.
pub const COLLECT_SET_LIMIT_CONFIG: &str = "ksql.functions.collect_set.limit";

/// ksqlDB's error when a function's intermediate (state) type cannot be written in the query's
/// value format (DELIMITED has no ARRAY, MAP or STRUCT); see
/// [`has_structured_intermediate`].
pub const INTERMEDIATE_TYPE_FORMAT_ERROR: &str = "One of the functions used in the statement has \
     an intermediate type that the value format can not handle. Please remove the function or \
     change the format.";

/// Settings of the aggregate functions that ksqlDB takes from session properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateConfig {
    /// `ksql.functions.collect_list.limit`: the most values COLLECT_LIST keeps (`None`:
    /// unlimited).
    pub collect_list_limit: Option<usize>,
    /// `ksql.functions.collect_set.limit`: the most values COLLECT_SET keeps.
    pub collect_set_limit: Option<usize>,
}

impl AggregateConfig {
    /// Reads the limits from (property, value) pairs as ksqlDB does: an integer; a negative
    /// one means unlimited. Unknown properties and unparsable values are ignored.
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut config = Self::default();
        for (k, v) in props {
            let limit = match v.trim().parse::<i64>() {
                Ok(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                Ok(_) => None,
                Err(_) => continue,
            };
            if k.eq_ignore_ascii_case(COLLECT_LIST_LIMIT_CONFIG) {
                config.collect_list_limit = limit;
            } else if k.eq_ignore_ascii_case(COLLECT_SET_LIMIT_CONFIG) {
                config.collect_set_limit = limit;
            }
        }
        config
    }
}

/// Every ksqlDB aggregate function, with the default configuration.
pub fn all() -> Vec<Arc<AggregateUDF>> {
    all_with(&AggregateConfig::default())
}

/// Every ksqlDB aggregate function, with `config`'s limits.
pub fn all_with(config: &AggregateConfig) -> Vec<Arc<AggregateUDF>> {
    fn udf<S: udaf::AggregateSpec>(spec: S) -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(KsqlUdaf::new(spec)))
    }
    vec![
        udf(count::Count),
        udf(count_distinct::CountDistinct),
        udf(sum::Sum),
        udf(sum::SumList),
        udf(avg::Avg),
        udf(min_max::MinMax { max: false }),
        udf(min_max::MinMax { max: true }),
        udf(collect::Collect {
            set: false,
            limit: config.collect_list_limit,
        }),
        udf(collect::Collect {
            set: true,
            limit: config.collect_set_limit,
        }),
        udf(offset::ByOffset { latest: false }),
        udf(offset::ByOffset { latest: true }),
        udf(topk::TopK { distinct: false }),
        udf(topk::TopK { distinct: true }),
        udf(histogram::Histogram),
        udf(stddev::StdDev { sqrt: false }),
        udf(stddev::StdDev { sqrt: true }),
        udf(correlation::Correlation),
        udf(attr::Attr),
    ]
}

/// The functions, by registered name: ksqlDB's name (as its messages print it), whether it can
/// aggregate a table, whether its intermediate type is structured.
const FUNCTIONS: &[(&str, &str, bool, bool)] = &[
    ("count", "COUNT", true, false),
    ("count_distinct", "COUNT_DISTINCT", false, true),
    ("sum", "SUM", true, false),
    ("sum_list", "sum_list", true, false),
    ("avg", "avg", true, true),
    ("min", "MIN", false, false),
    ("max", "MAX", false, false),
    ("collect_list", "collect_list", true, true),
    ("collect_set", "collect_set", false, true),
    ("earliest_by_offset", "EARLIEST_BY_OFFSET", false, true),
    ("latest_by_offset", "LATEST_BY_OFFSET", false, true),
    ("topk", "TOPK", false, true),
    ("topkdistinct", "TOPKDISTINCT", false, true),
    ("histogram", "histogram", true, true),
    ("stddev_samp", "STDDEV_SAMP", true, true),
    ("stddev_sample", "STDDEV_SAMPLE", true, true),
    ("correlation", "correlation", true, true),
    ("attr", "ATTR", true, true),
];

fn lookup(name: &str) -> Option<&'static (&'static str, &'static str, bool, bool)> {
    FUNCTIONS.iter().find(|f| f.0.eq_ignore_ascii_case(name))
}

/// Whether ksqlDB can apply the aggregate function `name` (any case) to a table source (it
/// implements `TableUdaf`, so its accumulator supports retraction). False for unknown names.
pub fn supports_tables(name: &str) -> bool {
    lookup(name).is_some_and(|f| f.2)
}

/// ksqlDB's name of an aggregate function as its error messages print it (`MIN`, `avg`,
/// `collect_list`, `LATEST_BY_OFFSET`, ...), if `name` is one of these functions.
pub fn ksql_name(name: &str) -> Option<&'static str> {
    lookup(name).map(|f| f.1)
}

/// ksqlDB's error for aggregating a table with functions that cannot undo, or `None` when
/// every function in `names` (the query's aggregate calls in order; repeats allowed) can:
/// "The aggregation functions LATEST_BY_OFFSET, MIN and MAX cannot be applied to a table
/// source, only to a stream source."
pub fn table_aggregation_error<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut bad: Vec<String> = Vec::new();
    for n in names {
        if supports_tables(n) {
            continue;
        }
        let shown = ksql_name(n)
            .map(str::to_string)
            .unwrap_or_else(|| n.to_uppercase());
        if !bad.contains(&shown) {
            bad.push(shown);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let postfix = if bad.len() == 1 { "" } else { "s" };
    let joined = match bad.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => bad[0].clone(),
    };
    Some(format!(
        "The aggregation function{postfix} {joined} cannot be applied to a table source, only \
         to a stream source."
    ))
}

/// Whether the function's intermediate (state) type in ksqlDB is an ARRAY, MAP or STRUCT, which
/// the DELIMITED format cannot hold (then ksqlDB rejects the query with
/// [`INTERMEDIATE_TYPE_FORMAT_ERROR`]). False for unknown names.
pub fn has_structured_intermediate(name: &str) -> bool {
    lookup(name).is_some_and(|f| f.3)
}

#[cfg(test)]
mod tests;
