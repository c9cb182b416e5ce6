//! Operators: stateless (filter, project) and stateful (window assignment, aggregation, table
//! materialization).

mod aggregate;
mod filter;
mod project;
mod table;
mod window;

pub use aggregate::{Aggregate, AggregateSpec, WindowPolicy};
pub use filter::Filter;
pub use project::Project;
pub use table::TableUpsert;
pub use window::WindowAssign;
