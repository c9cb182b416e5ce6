//! ksqlDB's function library for Sluice, as DataFusion user-defined functions over Arrow arrays.
//!
//! Entry points:
//! - [`aggregate`]: ksqlDB's aggregate functions (COUNT, SUM, AVG, MIN, MAX, COLLECT_LIST, ...)
//!   as DataFusion `AggregateUDF`s whose accumulators follow ksqlDB's semantics (return types,
//!   null handling) and support retraction where ksqlDB can aggregate tables;
//! - [`datetime`]: Java `DateTimeFormatter` patterns (as ksqlDB's `TIMESTAMP_FORMAT` and date
//!   functions use them) and the date/time functions;
//! - [`scalar`]: other scalar functions (`AS_VALUE`);
//! - [`register_all`]: every function, for a DataFusion `SessionState`.
//!
//! Not for: planning or running queries (the planner and dataflow crates use these functions),
//! nor table functions' streaming execution.

pub mod aggregate;
pub mod datetime;
pub mod error;
mod ksql_type;
pub mod scalar;

pub use error::FunctionError;

use datafusion::execution::session_state::SessionState;
use datafusion::execution::FunctionRegistry;

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
    Ok(())
}
