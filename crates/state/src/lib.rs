//! Byte-oriented state stores for Sluice's stateful operators.
//!
//! Aggregations, windows and joins keep their state as ordered key-value
//! pairs in a [`StateStore`], and commit it together with the Kafka source
//! positions (`(topic, partition) -> next offset`) that the state reflects,
//! in one atomic [`WriteBatch`]. On restart an operator reopens its store,
//! reads [`StateStore::positions`] and resumes consuming from there, so each
//! input record is reflected in the state exactly once.
//!
//! Entry points:
//! * [`StateStore`] — the contract (ordering, atomicity, durability); read
//!   its docs before writing an operator against it.
//! * [`WriteBatch`] — puts, deletes and positions applied all-or-nothing.
//! * [`SledDb`] / [`SledStore`] — the durable backend: one sled database per
//!   data directory, one store per name (`SledDb::open(dir)?.store(name)?`).
//! * [`MemoryStore`] — an in-memory backend for operator unit tests.
//! * [`StateError`] — in particular [`StateError::Corrupt`], on which the
//!   caller deletes the directory and rebuilds the state.
//!
//! * [`changelog`] — how committed batches are written to a changelog topic
//!   and folded back into batches when a store is rebuilt from it (the Kafka
//!   I/O itself is the server's).
//!
//! Not here: key/value serialisation (operators encode
//! their own bytes, choosing encodings whose byte order is the order they
//! scan in), and compaction or TTL of old windows (operators delete what
//! they no longer need).

mod batch;
pub mod changelog;
#[cfg(test)]
mod contract;
mod error;
mod flush_epoch;
mod memory;
mod positions_codec;
mod sled_store;
mod store;

pub use batch::{Positions, SourcePartition, WriteBatch};
pub use error::{Result, StateError};
pub use memory::MemoryStore;
pub use sled_store::{SledDb, SledStore};
pub use store::{KeyValue, StateIter, StateStore};
