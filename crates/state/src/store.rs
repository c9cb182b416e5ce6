//! The [`StateStore`] trait: the contract every backend implements.

use std::ops::Range;

use crate::batch::{Positions, WriteBatch};
use crate::error::Result;

/// One `(key, value)` pair read from a store.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An iterator over `(key, value)` pairs in ascending byte order of the key.
pub type StateIter<'a> = Box<dyn Iterator<Item = Result<KeyValue>> + Send + 'a>;

/// A byte-oriented, ordered key-value store that a stateful operator keeps
/// its state in, together with the source positions that state reflects.
///
/// # Contract
///
/// * **Ordering.** Keys compare as unsigned byte strings. Scans yield pairs
///   in ascending key order. Operators that need a different order encode
///   their keys so that byte order is the order they want.
/// * **Atomicity.** [`commit`](Self::commit) applies every put, delete and
///   position of a [`WriteBatch`] or none of them. Readers never observe a
///   partially applied batch through [`get`](Self::get) or
///   [`positions`](Self::positions), and after a crash the store holds
///   exactly the effects of some prefix of the committed batches.
/// * **Positions.** A batch's positions are committed with its state, so
///   on restart [`positions`](Self::positions) tells from which offset to
///   resume so that every record is reflected in the state exactly once.
///   Positions not named in a batch keep their stored value.
/// * **Durability.** Once `commit` has returned `Ok` *and* a later
///   [`flush`](Self::flush) has returned `Ok`, the batch survives a process
///   kill (and, on backends that fsync, an OS crash). Committed batches that
///   have not been flushed may or may not survive, but only as a whole and
///   only in commit order.
/// * **Scans** are not isolated from commits running concurrently on other
///   threads: a scan racing a commit may see some of its keys. Operators
///   own their store and commit from the task that scans, so this does not
///   arise in the dataflow.
/// * **Concurrency.** Stores are `Send + Sync`; concurrent commits are
///   serialised.
pub trait StateStore: Send + Sync {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// All pairs whose key starts with `prefix`, in key order. An empty
    /// prefix scans the whole store.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<StateIter<'_>>;

    /// All pairs with `range.start <= key < range.end`, in key order. An
    /// empty or inverted range yields nothing.
    fn scan_range(&self, range: Range<&[u8]>) -> Result<StateIter<'_>>;

    /// Atomically apply `batch` (writes and positions).
    fn commit(&self, batch: WriteBatch) -> Result<()>;

    /// The committed source positions (`(topic, partition) -> next offset`).
    fn positions(&self) -> Result<Positions>;

    /// Make every batch committed so far durable (fsync on disk backends).
    fn flush(&self) -> Result<()>;
}
