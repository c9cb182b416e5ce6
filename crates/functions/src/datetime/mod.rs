//! Java `DateTimeFormatter` patterns and ksqlDB's date/time functions.
//!
//! - [`JavaPattern`]: a pattern compiled once, parsing and formatting timestamps (epoch
//!   millis), dates (epoch days) and times (millis of day) as ksqlDB does;
//! - [`Zone`]: Java's zone ids (`ZoneId.of`) and zone names;
//! - [`parse_timestamp_array`]: vectorized event-time extraction for `TIMESTAMP_FORMAT`;
//! - [`scalar_functions`]: the date/time functions as DataFusion UDFs.

mod extract;
mod format;
mod names;
mod parse;
mod pattern;
#[cfg(test)]
mod pattern_tests;
mod zone;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

pub use extract::parse_timestamp_array;
pub use pattern::JavaPattern;
pub use zone::Zone;

/// Every date/time scalar function.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}
