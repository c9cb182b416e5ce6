//! Sluice's dataflow: the operators a continuous query is made of, and the batches they exchange.
//!
//! A query is a chain: records from Kafka → [`source::SourceDecoder`] (bytes to a [`Batch`]) →
//! [`Operator`]s (filter, project, and later aggregate, window, join) → [`sink::SinkEncoder`]
//! (a [`Batch`] back to key/value bytes). Every operator works on whole Arrow `RecordBatch`es;
//! expressions are DataFusion physical expressions evaluated over arrays, never row by row.
//!
//! Entry points: [`Batch`], the [`Operator`] trait (one `process_batch` with default hooks for
//! watermarks and checkpoints, in the style of Arroyo), [`Pipeline`], [`source::SourceDecoder`],
//! [`sink::SinkEncoder`], [`state::OperatorState`] / [`state::KeyedState`] (operator state over
//! the task's state store), [`repartition`] (the internal topic between the two tasks of a
//! query whose stateful step is keyed differently from its source).
//!
//! Not for: talking to Kafka or clients (the server drives pipelines from consumers and to
//! producers), nor planning (the planner builds the operators).

pub mod batch;
pub mod error;
pub mod ops;
pub mod pipeline;
pub mod repartition;
pub mod sink;
pub mod source;
pub mod state;

pub use batch::{Batch, ChangeKind, Origins};
pub use error::DataflowError;
pub use pipeline::{Operator, Pipeline};
