//! [`WriteBatch`]: the unit of atomic change to a state store.

use std::collections::BTreeMap;

/// A source partition: `(topic, partition)`.
pub type SourcePartition = (String, i32);

/// Source positions: for each source partition, the offset of the next record
/// to read (Kafka's "committed offset" convention).
pub type Positions = BTreeMap<SourcePartition, i64>;

/// A set of puts, deletes and source positions that a [`StateStore`] applies
/// all together or not at all.
///
/// Writes to the same key collapse: the last `put`/`delete` of a key in the
/// batch wins. Positions in the batch overwrite the stored positions of the
/// same partitions; positions of partitions not named in the batch are left
/// as they are.
///
/// [`StateStore`]: crate::StateStore
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    positions: Positions,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `key` to `value`.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.writes.insert(key.into(), Some(value.into()));
        self
    }

    /// Remove `key` (a no-op at commit time if the key does not exist).
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.writes.insert(key.into(), None);
        self
    }

    /// Record that `topic`/`partition` has been consumed up to, but not
    /// including, `next_offset`.
    pub fn set_position(
        &mut self,
        topic: impl Into<String>,
        partition: i32,
        next_offset: i64,
    ) -> &mut Self {
        self.positions
            .insert((topic.into(), partition), next_offset);
        self
    }

    /// Adds `other`'s writes and positions to this batch; where both name a key or a
    /// partition, `other`'s wins (as if its puts, deletes and positions came after these).
    pub fn absorb(&mut self, other: WriteBatch) -> &mut Self {
        self.writes.extend(other.writes);
        self.positions.extend(other.positions);
        self
    }

    /// The key writes in key order; `None` means delete.
    pub fn writes(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.writes
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
    }

    /// The positions carried by the batch.
    pub fn positions(&self) -> &Positions {
        &self.positions
    }

    /// Number of distinct keys written (puts plus deletes).
    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// True when the batch carries neither writes nor positions.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.positions.is_empty()
    }

    /// Split into raw parts (used by backends).
    pub(crate) fn into_parts(self) -> (BTreeMap<Vec<u8>, Option<Vec<u8>>>, Positions) {
        (self.writes, self.positions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_write_to_a_key_wins() {
        let mut b = WriteBatch::new();
        b.put("k", "v1")
            .delete("k")
            .put("j", "x")
            .delete("j")
            .put("j", "y");
        let writes: Vec<_> = b.writes().collect();
        assert_eq!(
            writes,
            vec![(&b"j"[..], Some(&b"y"[..])), (&b"k"[..], None)]
        );
        assert_eq!(b.write_count(), 2);
    }

    #[test]
    fn an_absorbed_batch_comes_after() {
        let mut a = WriteBatch::new();
        a.put("k", "a").put("x", "a").set_position("t", 0, 5);
        let mut b = WriteBatch::new();
        b.delete("k")
            .put("y", "b")
            .set_position("t", 0, 9)
            .set_position("t", 1, 2);
        a.absorb(b);
        let writes: Vec<_> = a.writes().collect();
        assert_eq!(
            writes,
            vec![
                (&b"k"[..], None),
                (&b"x"[..], Some(&b"a"[..])),
                (&b"y"[..], Some(&b"b"[..]))
            ]
        );
        assert_eq!(a.positions().get(&("t".to_string(), 0)), Some(&9));
        assert_eq!(a.positions().get(&("t".to_string(), 1)), Some(&2));
    }

    #[test]
    fn positions_overwrite_per_partition() {
        let mut b = WriteBatch::new();
        assert!(b.is_empty());
        b.set_position("t", 0, 5)
            .set_position("t", 1, 7)
            .set_position("t", 0, 9);
        assert!(!b.is_empty());
        assert_eq!(b.positions().get(&("t".to_string(), 0)), Some(&9));
        assert_eq!(b.positions().get(&("t".to_string(), 1)), Some(&7));
        assert_eq!(b.write_count(), 0);
    }
}
