//! Operator state: a handle on the task's state store under the operator's own key prefix,
//! and [`KeyedState`], an in-memory cache of keyed entries over that store.
//!
//! A task owns one [`StateStore`]; [`crate::Pipeline::open`] gives each operator an
//! [`OperatorState`] with a distinct one-byte prefix. Operators never commit themselves: at
//! [`crate::Operator::on_checkpoint`] they add their changes to the task's [`WriteBatch`], which
//! the task commits atomically with the input positions (and writes to the changelog first).
//! An operator that was never opened (a transient push query) keeps everything in memory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sluice_state::{StateStore, WriteBatch};

use crate::DataflowError;

/// A stateful operator's view of the task's store: every key it reads or writes is prefixed.
#[derive(Clone)]
pub struct OperatorState {
    store: Arc<dyn StateStore>,
    prefix: Vec<u8>,
    cache_entries: usize,
}

impl OperatorState {
    /// The view of `store` under `prefix`.
    pub fn new(store: Arc<dyn StateStore>, prefix: Vec<u8>) -> Self {
        Self {
            store,
            prefix,
            cache_entries: DEFAULT_CACHE_ENTRIES,
        }
    }

    /// How many entries each [`KeyedState`] opened over this view keeps in memory (a query
    /// that runs several tasks shares [`DEFAULT_CACHE_ENTRIES`] between them).
    pub fn with_cache_entries(mut self, entries: usize) -> Self {
        self.cache_entries = entries.max(1);
        self
    }

    fn full_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + key.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(key);
        k
    }

    /// The committed value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DataflowError> {
        Ok(self.store.get(&self.full_key(key))?)
    }

    /// Committed pairs whose key starts with `prefix`, keys without the operator's prefix.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, DataflowError> {
        let n = self.prefix.len();
        self.store
            .scan_prefix(&self.full_key(prefix))?
            .map(|r| r.map(|(k, v)| (k[n..].to_vec(), v)).map_err(Into::into))
            .collect()
    }

    /// Committed keys in `[start, end)` (without the operator's prefix).
    pub fn keys_in_range(&self, start: &[u8], end: &[u8]) -> Result<Vec<Vec<u8>>, DataflowError> {
        let n = self.prefix.len();
        let (s, e) = (self.full_key(start), self.full_key(end));
        self.store
            .scan_range(s.as_slice()..e.as_slice())?
            .map(|r| r.map(|(k, _)| k[n..].to_vec()).map_err(Into::into))
            .collect()
    }

    /// Add a put of `key` to `batch`.
    pub fn put(&self, batch: &mut WriteBatch, key: &[u8], value: Vec<u8>) {
        batch.put(self.full_key(key), value);
    }

    /// Add a delete of `key` to `batch`.
    pub fn delete(&self, batch: &mut WriteBatch, key: &[u8]) {
        batch.delete(self.full_key(key));
    }
}

/// How many entries a [`KeyedState`] keeps in memory by default before evicting the least
/// recently used clean ones (they stay in the store and are read back when needed).
pub const DEFAULT_CACHE_ENTRIES: usize = 200_000;

struct Entry<V> {
    value: V,
    used: u64,
    dirty: bool,
}

/// Keyed entries (groups, table rows, ...) cached in memory over an operator's store.
///
/// * Reads go to memory, then to the store (`decode` turns stored bytes back into a value).
/// * Every entry touched through [`get_or_load`](Self::get_or_load) or set through
///   [`insert`](Self::insert) is written at the next [`checkpoint`](Self::checkpoint);
///   [`remove`](Self::remove) deletes.
/// * After a checkpoint, when more than `capacity` entries are in memory, the least recently
///   used ones (all clean by then) are dropped from memory. So memory is bounded by the
///   capacity plus what one batch touches, whatever the number of keys.
/// * Without a store (never opened) nothing is evicted and nothing is written.
pub struct KeyedState<V> {
    state: Option<OperatorState>,
    /// Sub-prefix under the operator's prefix (one operator may keep several kinds of entry).
    tag: u8,
    entries: HashMap<Vec<u8>, Entry<V>>,
    removed: HashSet<Vec<u8>>,
    tick: u64,
    capacity: usize,
    /// Set by [`KeyedState::set_capacity`]; otherwise the store's view decides.
    capacity_set: bool,
}

impl<V> KeyedState<V> {
    /// An empty, memory-only cache; `tag` separates it from the operator's other state.
    pub fn new(tag: u8) -> Self {
        Self {
            state: None,
            tag,
            entries: HashMap::new(),
            removed: HashSet::new(),
            tick: 0,
            capacity: DEFAULT_CACHE_ENTRIES,
            capacity_set: false,
        }
    }

    /// Back the cache with `state` (which also sets its capacity, unless set already).
    pub fn open(&mut self, state: OperatorState) {
        if !self.capacity_set {
            self.capacity = state.cache_entries;
        }
        self.state = Some(state);
    }

    /// Keep at most about `capacity` entries in memory.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        self.capacity_set = true;
    }

    fn store_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(self.tag);
        k.extend_from_slice(key);
        k
    }

    /// Entries in memory.
    pub fn cached(&self) -> usize {
        self.entries.len()
    }

    fn load(
        &mut self,
        key: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<V, DataflowError>,
    ) -> Result<Option<&mut Entry<V>>, DataflowError> {
        if !self.entries.contains_key(key) {
            if self.removed.contains(key) {
                return Ok(None);
            }
            let Some(state) = &self.state else {
                return Ok(None);
            };
            let Some(bytes) = state.get(&self.store_key(key))? else {
                return Ok(None);
            };
            let value = decode(&bytes)?;
            self.entries.insert(
                key.to_vec(),
                Entry {
                    value,
                    used: 0,
                    dirty: false,
                },
            );
        }
        Ok(self.entries.get_mut(key))
    }

    /// The entry for `key`, read from the store if it is not in memory; marked to be written
    /// at the next checkpoint (callers change what they get).
    pub fn get_or_load(
        &mut self,
        key: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<V, DataflowError>,
    ) -> Result<Option<&mut V>, DataflowError> {
        self.tick += 1;
        let tick = self.tick;
        Ok(self.load(key, decode)?.map(|e| {
            e.used = tick;
            e.dirty = true;
            &mut e.value
        }))
    }

    /// The entry for `key`, read from the store if it is not in memory, for reading only: it
    /// is not marked to be written again.
    pub fn peek_or_load(
        &mut self,
        key: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<V, DataflowError>,
    ) -> Result<Option<&V>, DataflowError> {
        self.tick += 1;
        let tick = self.tick;
        Ok(self.load(key, decode)?.map(|e| {
            e.used = tick;
            &e.value
        }))
    }

    /// Like [`get_or_load`](Self::get_or_load), but a key found nowhere is set to `make()`.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<V, DataflowError>,
        make: impl FnOnce() -> V,
    ) -> Result<&mut V, DataflowError> {
        if self.get_or_load(key, decode)?.is_none() {
            self.insert(key.to_vec(), make());
        }
        let entry = self.entries.get_mut(key).expect("entry just ensured");
        Ok(&mut entry.value)
    }

    /// Set `key` to `value`.
    pub fn insert(&mut self, key: Vec<u8>, value: V) -> &mut V {
        self.tick += 1;
        self.removed.remove(&key);
        let entry = match self.entries.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => {
                let e = o.into_mut();
                e.value = value;
                e
            }
            std::collections::hash_map::Entry::Vacant(v) => v.insert(Entry {
                value,
                used: 0,
                dirty: true,
            }),
        };
        entry.used = self.tick;
        entry.dirty = true;
        &mut entry.value
    }

    /// Delete `key`.
    pub fn remove(&mut self, key: &[u8]) {
        self.entries.remove(key);
        if self.state.is_some() {
            self.removed.insert(key.to_vec());
        }
    }

    /// Delete every key in `[start, end)`, in memory now and in the store at the next
    /// checkpoint (reading which keys the store holds in the range).
    pub fn remove_range(&mut self, start: &[u8], end: &[u8]) -> Result<usize, DataflowError> {
        let before = self.entries.len();
        self.entries
            .retain(|k, _| k.as_slice() < start || k.as_slice() >= end);
        let mut n = before - self.entries.len();
        if let Some(state) = &self.state {
            let (s, e) = (self.store_key(start), self.store_key(end));
            for k in state.keys_in_range(&s, &e)? {
                if self.removed.insert(k[1..].to_vec()) {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Keys in `start..end`, in memory or in the store (not removed), in no particular order.
    pub fn keys_in_range(&self, start: &[u8], end: &[u8]) -> Result<Vec<Vec<u8>>, DataflowError> {
        let mut keys: Vec<Vec<u8>> = self
            .entries
            .keys()
            .filter(|k| k.as_slice() >= start && k.as_slice() < end)
            .cloned()
            .collect();
        if let Some(state) = &self.state {
            let (s, e) = (self.store_key(start), self.store_key(end));
            for k in state.keys_in_range(&s, &e)? {
                let k = &k[1..];
                if !self.removed.contains(k) && !self.entries.contains_key(k) {
                    keys.push(k.to_vec());
                }
            }
        }
        Ok(keys)
    }

    /// Memory-only: visit every entry (tests, and operators that keep all state in memory).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &mut V) -> bool) {
        let mut gone = Vec::new();
        self.entries.retain(|k, e| {
            let kept = keep(k, &mut e.value);
            if !kept {
                gone.push(k.clone());
            }
            kept
        });
        if self.state.is_some() {
            self.removed.extend(gone);
        }
    }

    /// Add every changed entry (encoded) and every removal to `batch`, then evict least recently
    /// used entries beyond the capacity.
    pub fn checkpoint(
        &mut self,
        batch: &mut WriteBatch,
        mut encode: impl FnMut(&mut V) -> Result<Vec<u8>, DataflowError>,
    ) -> Result<(), DataflowError> {
        let Some(state) = self.state.clone() else {
            return Ok(());
        };
        for k in self.removed.drain() {
            let mut key = vec![self.tag];
            key.extend_from_slice(&k);
            state.delete(batch, &key);
        }
        for (k, e) in self.entries.iter_mut() {
            if e.dirty {
                let mut key = vec![self.tag];
                key.extend_from_slice(k);
                state.put(batch, &key, encode(&mut e.value)?);
                e.dirty = false;
            }
        }
        if self.entries.len() > self.capacity {
            // Drop the least recently used down to 3/4 of the capacity, so that eviction runs
            // once every many batches rather than on every one.
            let keep = self.capacity * 3 / 4;
            if keep == 0 {
                self.entries.clear();
            } else {
                let mut ticks: Vec<u64> = self.entries.values().map(|e| e.used).collect();
                let first_kept = ticks.len() - keep;
                let (_, threshold, _) = ticks.select_nth_unstable(first_kept);
                let threshold = *threshold;
                self.entries.retain(|_, e| e.used >= threshold);
            }
        }
        Ok(())
    }
}

/// An `i64` as 8 bytes whose unsigned byte order is the numeric order.
pub fn sortable_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`sortable_i64`].
pub fn from_sortable_i64(bytes: &[u8]) -> Option<i64> {
    let b: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_state::MemoryStore;

    fn decode(b: &[u8]) -> Result<u64, DataflowError> {
        Ok(u64::from_be_bytes(b.try_into().unwrap()))
    }

    fn encode(v: &mut u64) -> Result<Vec<u8>, DataflowError> {
        Ok(v.to_be_bytes().to_vec())
    }

    #[test]
    fn entries_survive_eviction_through_the_store() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let mut cache: KeyedState<u64> = KeyedState::new(b'g');
        cache.open(OperatorState::new(store.clone(), vec![1]));
        cache.set_capacity(100);
        for round in 0..3u64 {
            for k in 0..1000u32 {
                let key = k.to_be_bytes();
                match cache.get_or_load(&key, decode).unwrap() {
                    Some(v) => *v += 1,
                    None => {
                        cache.insert(key.to_vec(), 1);
                    }
                }
                if k % 50 == 49 {
                    let mut b = WriteBatch::new();
                    cache.checkpoint(&mut b, encode).unwrap();
                    store.commit(b).unwrap();
                    assert!(
                        cache.cached() <= 100 + 50,
                        "round {round}: {}",
                        cache.cached()
                    );
                }
            }
        }
        for k in 0..1000u32 {
            let v = cache.get_or_load(&k.to_be_bytes(), decode).unwrap();
            assert_eq!(v.copied(), Some(3), "key {k}");
        }
    }

    /// A query's tasks share the cache: the view they are opened over sizes it, unless the
    /// operator sized it itself.
    #[test]
    fn the_view_sets_the_capacity_unless_the_operator_did() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let fill = |cache: &mut KeyedState<u64>| {
            for k in 0..100u32 {
                cache.insert(k.to_be_bytes().to_vec(), 1);
            }
            let mut b = WriteBatch::new();
            cache.checkpoint(&mut b, encode).unwrap();
            store.commit(b).unwrap();
        };
        let mut shared: KeyedState<u64> = KeyedState::new(b'g');
        shared.open(OperatorState::new(store.clone(), vec![1]).with_cache_entries(10));
        fill(&mut shared);
        assert!(shared.cached() <= 10, "{}", shared.cached());
        let mut own: KeyedState<u64> = KeyedState::new(b'h');
        own.set_capacity(50);
        own.open(OperatorState::new(store.clone(), vec![2]).with_cache_entries(10));
        fill(&mut own);
        assert!((11..=50).contains(&own.cached()), "{}", own.cached());
    }

    #[test]
    fn removed_ranges_leave_the_store() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let mut cache: KeyedState<u64> = KeyedState::new(b'w');
        cache.open(OperatorState::new(store.clone(), vec![2]));
        cache.set_capacity(1);
        for t in [10i64, 20, 30] {
            cache.insert(sortable_i64(t).to_vec(), t as u64);
        }
        let mut b = WriteBatch::new();
        cache.checkpoint(&mut b, encode).unwrap();
        store.commit(b).unwrap();
        let removed = cache
            .remove_range(&sortable_i64(i64::MIN), &sortable_i64(25))
            .unwrap();
        assert_eq!(removed, 2);
        let mut b = WriteBatch::new();
        cache.checkpoint(&mut b, encode).unwrap();
        store.commit(b).unwrap();
        assert!(cache
            .get_or_load(&sortable_i64(10), decode)
            .unwrap()
            .is_none());
        assert_eq!(
            cache
                .get_or_load(&sortable_i64(30), decode)
                .unwrap()
                .copied(),
            Some(30)
        );
    }

    #[test]
    fn sortable_i64_orders_negative_numbers_first() {
        assert!(sortable_i64(-5) < sortable_i64(3));
        assert_eq!(from_sortable_i64(&sortable_i64(-5)), Some(-5));
    }
}
