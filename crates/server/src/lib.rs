//! The Sluice server: the engine that runs KSQL statements, and the process that serves it.
//!
//! Entry points: [`server::start`] (start a whole server: Kafka, engine, PostgreSQL-protocol
//! listener), [`engine::Engine::execute`] (run statements; the one entry point that pgwire and
//! the conformance runner share), and the `sluice` binary.
//!
//! How a statement travels: pgwire ([`backend`]) → [`engine::Engine`] → parser → planner →
//! dataflow operators run by [`queries::QueryTask`] between Kafka consumers and producers; the
//! catalog's history goes to the command topic ([`command_log`]); a persistent query's state is
//! in sled behind a changelog topic ([`task_state`]); a stream–table join task orders its two
//! inputs by event time ([`join_input`]); a GROUP BY on a non-key expression runs as two tasks
//! joined by a repartition topic (see [`queries::Input`]). See `docs/architecture.md` and
//! `docs/durability.md`.
//!
//! Not for: protocol details (the pgwire crate), SQL parsing (parser), operator internals
//! (dataflow).

pub mod backend;
pub mod command_log;
pub mod config;
pub mod engine;
pub mod error;
pub mod io;
pub mod join_input;
pub mod lead;
pub mod materialized;
pub mod offline;
pub mod print;
pub mod pull;
pub mod pull_table;
pub mod queries;
pub mod result;
pub mod server;
pub mod session;
pub mod show;
pub mod task_state;
pub mod transaction;

pub use config::{KafkaMode, ServerConfig};
pub use engine::{Engine, QueryInfo};
pub use error::EngineError;
pub use offline::OfflineQuery;
pub use result::StatementResult;
pub use server::{start, RunningServer};
pub use session::SessionProps;
