//! Stateless operators.

mod filter;
mod project;

pub use filter::Filter;
pub use project::Project;
