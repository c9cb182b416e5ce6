//! ksqlDB's function library for Sluice, as DataFusion user-defined functions over Arrow arrays.
//!
//! Entry points:
//! - [`aggregate`]: ksqlDB's aggregate functions (COUNT, SUM, AVG, MIN, MAX, COLLECT_LIST, ...)
//!   as DataFusion `AggregateUDF`s whose accumulators follow ksqlDB's semantics (return types,
//!   null handling) and support retraction where ksqlDB can aggregate tables;
//! - [`datetime`]: Java `DateTimeFormatter` patterns (as ksqlDB's `TIMESTAMP_FORMAT` and date
//!   functions use them) and the date/time functions;
//! - [`scalar`]: other scalar functions (`AS_VALUE`);
//! - [`lambda`]: the lambda functions `TRANSFORM`, `FILTER` and `REDUCE` (higher-order
//!   functions whose lambda bodies are evaluated vectorized over all elements of a batch);
//! - [`register_all`]: every function, for a DataFusion `SessionState`;
//! - [`catalog`]: ksqlDB's function documentation (`SHOW FUNCTIONS`, `DESCRIBE FUNCTION`).
//!
//! Not for: planning or running queries (the planner and dataflow crates use these functions),
//! nor table functions' streaming execution.

pub mod aggregate;
pub mod catalog;
pub mod datetime;
pub mod error;
mod ksql_type;
pub mod lambda;
pub mod scalar;
#[cfg(test)]
mod test_util;

pub use error::FunctionError;

use datafusion::execution::session_state::SessionState;
use datafusion::execution::FunctionRegistry;

/// KSQL function names that are DataFusion functions under another name (KSQL name, DataFusion
/// name). [`register_all`] registers them as aliases.
pub const KSQL_ALIASES: &[(&str, &str)] = &[
    ("ucase", "upper"),
    ("lcase", "lower"),
    ("len", "character_length"),
    ("substring", "substr"),
    ("ifnull", "coalesce"),
];

/// Registers every Sluice function in `state`, replacing DataFusion's functions of the same
/// name where ksqlDB's semantics differ.
pub fn register_all(state: &mut SessionState) -> datafusion::error::Result<()> {
    for f in aggregate::all() {
        state.register_udaf(f)?;
    }
    for f in datetime::scalar_functions()
        .into_iter()
        .chain(scalar::scalar_functions())
    {
        state.register_udf(f)?;
    }
    for f in lambda::higher_order_functions() {
        state.register_higher_order_function(f)?;
    }
    for (alias, name) in KSQL_ALIASES {
        if let Some(f) = state.scalar_functions().get(*name).cloned() {
            state.register_udf(std::sync::Arc::new(
                f.as_ref().clone().with_aliases([*alias]),
            ))?;
        }
    }
    Ok(())
}
