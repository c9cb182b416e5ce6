//! Operators: stateless (filter, project) and stateful (window assignment, aggregation, table
//! materialization, stream–table joins).

mod aggregate;
mod filter;
mod join;
mod project;
mod table;
mod window;

pub use aggregate::{Aggregate, AggregateSpec, WindowPolicy};
pub use filter::Filter;
pub use join::{StreamTableJoin, StreamTableJoinSpec};
pub use project::Project;
pub use table::TableUpsert;
pub use window::WindowAssign;
