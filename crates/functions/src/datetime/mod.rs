//! Java `DateTimeFormatter` patterns and ksqlDB's date/time functions.
//!
//! - [`JavaPattern`]: a pattern compiled once, parsing and formatting timestamps (epoch
//!   millis), dates (epoch days) and times (millis of day) as ksqlDB does;
//! - [`Zone`]: Java's zone ids (`ZoneId.of`) and zone names;
//! - [`parse_timestamp_array`]: vectorized event-time extraction for `TIMESTAMP_FORMAT`;
//! - [`parse_partial_timestamp`]: ksqlDB's timestamp strings compared with ROWTIME (`'2018'`);
//! - [`scalar_functions`]: the date/time functions as DataFusion UDFs.

mod arithmetic;
mod compile;
mod conversion;
mod epoch;
mod extract;
mod format;
mod names;
mod parse;
mod partial;
mod pattern;
#[cfg(test)]
mod pattern_tests;
mod udf;
#[cfg(test)]
mod udf_tests;
mod zone;
mod zone_names;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

pub use extract::parse_timestamp_array;
pub use partial::{parse_partial_timestamp, DATE_TIME_PATTERN};
pub use pattern::JavaPattern;
pub use zone::Zone;

/// Every date/time scalar function, named in lower case: STRINGTOTIMESTAMP,
/// TIMESTAMPTOSTRING, PARSE_TIMESTAMP, FORMAT_TIMESTAMP, PARSE_DATE, FORMAT_DATE, STRINGTODATE,
/// DATETOSTRING, PARSE_TIME, FORMAT_TIME, DATEADD, DATESUB, TIMEADD, TIMESUB, TIMESTAMPADD,
/// TIMESTAMPSUB, UNIX_TIMESTAMP, UNIX_DATE, FROM_UNIXTIME, FROM_DAYS, CONVERT_TZ.
///
/// The first argument of the ...ADD/...SUB functions is the time-unit keyword as a string
/// (`'DAYS'`): the planner must turn ksqlDB's bare keyword into a string literal.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    conversion::definitions()
        .into_iter()
        .chain(arithmetic::definitions())
        .chain(epoch::definitions())
        .map(udf::DateTimeUdf::into_udf)
        .collect()
}
