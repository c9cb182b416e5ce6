//! Operators: stateless (filter, project) and stateful (window assignment, aggregation, table
//! materialization, joins).

mod aggregate;
mod chunks;
mod eval;
mod explode;
mod filter;
mod join;
mod project;
mod table;
mod window;

pub use aggregate::{Aggregate, AggregateSpec, WindowPolicy};
pub use explode::Explode;
pub use filter::Filter;
pub use join::{
    join_output_schema, ForeignKeyJoin, JoinKind, JoinOp, JoinSpec, JoinType, JoinWindow,
    Side as JoinSide, StreamStreamJoin, StreamTableJoin, TableTableJoin, JOIN_ROWTIME,
    LEGACY_JOIN_GRACE_MS,
};
pub use project::Project;
pub use table::TableUpsert;
pub use window::WindowAssign;
