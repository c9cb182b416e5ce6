//! [`MemoryStore`]: an in-memory backend for operator unit tests.

use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::batch::{Positions, WriteBatch};
use crate::error::Result;
use crate::store::{KeyValue, StateIter, StateStore};

/// A [`StateStore`] kept in a `BTreeMap` behind a lock. Nothing survives the
/// process; [`flush`](StateStore::flush) is a no-op. Scans return a
/// snapshot taken when the scan starts.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    positions: Positions,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys currently stored.
    pub fn len(&self) -> usize {
        self.read().data.len()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.read().data.is_empty()
    }

    // A panic while holding the lock cannot leave half a batch behind
    // (commit applies a batch with infallible map operations), so a
    // poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> StateIter<'_> {
        let pairs: Vec<KeyValue> = self
            .read()
            .data
            .range::<[u8], _>((lo, hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Box::new(pairs.into_iter().map(Ok))
    }
}

impl StateStore for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.read().data.get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<StateIter<'_>> {
        let hi = prefix_successor(prefix);
        let hi = match &hi {
            Some(h) => Bound::Excluded(h.as_slice()),
            None => Bound::Unbounded,
        };
        Ok(self.snapshot(Bound::Included(prefix), hi))
    }

    fn scan_range(&self, range: Range<&[u8]>) -> Result<StateIter<'_>> {
        if range.start >= range.end {
            return Ok(Box::new(std::iter::empty()));
        }
        Ok(self.snapshot(Bound::Included(range.start), Bound::Excluded(range.end)))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        let (writes, positions) = batch.into_parts();
        let mut inner = self.write();
        for (k, v) in writes {
            match v {
                Some(v) => {
                    inner.data.insert(k, v);
                }
                None => {
                    inner.data.remove(&k);
                }
            }
        }
        inner.positions.extend(positions);
        Ok(())
    }

    fn positions(&self) -> Result<Positions> {
        Ok(self.read().positions.clone())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// The smallest byte string greater than every string starting with
/// `prefix`, or `None` if there is none (prefix empty or all `0xff`).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut succ = prefix.to_vec();
    while let Some(last) = succ.pop() {
        if last < u8::MAX {
            succ.push(last + 1);
            return Some(succ);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::contract_tests;

    fn with_store(f: &dyn Fn(&dyn StateStore)) {
        f(&MemoryStore::new());
    }

    contract_tests!(with_store);

    #[test]
    fn prefix_successor_cases() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn len_tracks_keys() {
        let s = MemoryStore::new();
        assert!(s.is_empty());
        let mut b = WriteBatch::new();
        b.put("a", "1").put("b", "2");
        s.commit(b).unwrap();
        assert_eq!(s.len(), 2);
    }
}
