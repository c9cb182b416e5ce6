//! Offset bookkeeping and synchronous commits.
//!
//! Kafka commits the offset of the *next* record to read. [`OffsetTracker`] turns processed
//! records into that form; [`commit_offsets`] sends it (synchronously, so a returned `Ok` means
//! the group coordinator stored it).
//!
//! A commit can fail after a rebalance moved a partition away (the generation changed): that is
//! harmless for at-least-once processing (the new owner re-reads from the last committed
//! offset), so callers typically log and carry on.

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::SluiceConsumer;
use crate::error::KafkaError;
use crate::record::KafkaRecord;

/// Next offset to read per (topic, partition), built from processed records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetTracker {
    next: BTreeMap<(Arc<str>, i32), i64>,
}

impl OffsetTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `offset` of (topic, partition) was processed.
    pub fn observe_offset(&mut self, topic: &Arc<str>, partition: i32, offset: i64) {
        let next = offset + 1;
        match self.next.get_mut(&(topic.clone(), partition)) {
            Some(n) => *n = (*n).max(next),
            None => {
                self.next.insert((topic.clone(), partition), next);
            }
        }
    }

    /// Notes that `record` was processed.
    pub fn observe(&mut self, record: &KafkaRecord) {
        self.observe_offset(&record.topic, record.partition, record.offset);
    }

    /// Notes that all `records` were processed.
    pub fn observe_all<'a>(&mut self, records: impl IntoIterator<Item = &'a KafkaRecord>) {
        for r in records {
            self.observe(r);
        }
    }

    /// Takes over the other tracker's positions (max per partition).
    pub fn merge(&mut self, other: &OffsetTracker) {
        for ((t, p), n) in &other.next {
            self.observe_offset(t, *p, n - 1);
        }
    }

    /// The offset to commit for (topic, partition): last processed + 1.
    pub fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.next
            .iter()
            .find(|((t, p), _)| &**t == topic && *p == partition)
            .map(|(_, n)| *n)
    }

    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    pub fn clear(&mut self) {
        self.next.clear();
    }

    /// (topic, partition, next offset) triples, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.next.iter().map(|((t, p), n)| (&**t, *p, *n))
    }

    /// The list to pass to `Consumer::commit`.
    pub fn to_partition_list(&self) -> Result<TopicPartitionList, KafkaError> {
        let mut tpl = TopicPartitionList::with_capacity(self.next.len());
        for ((t, p), n) in &self.next {
            tpl.add_partition_offset(t, *p, Offset::Offset(*n))
                .map_err(|e| KafkaError::topic("build commit list", t, e))?;
        }
        Ok(tpl)
    }
}

/// Commits `offsets` synchronously. Blocks the calling thread for one round trip to the group
/// coordinator; from async code prefer [`commit_offsets_async`] (or accept the short block).
/// Committing an empty tracker is a no-op.
pub fn commit_offsets(
    consumer: &SluiceConsumer,
    offsets: &OffsetTracker,
) -> Result<(), KafkaError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let tpl = offsets.to_partition_list()?;
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| KafkaError::op("commit offsets", e))?;
    tracing::debug!(offsets = ?offsets.iter().collect::<Vec<_>>(), "offsets committed");
    Ok(())
}

/// [`commit_offsets`] on Tokio's blocking pool.
pub async fn commit_offsets_async(
    consumer: Arc<SluiceConsumer>,
    offsets: OffsetTracker,
) -> Result<(), KafkaError> {
    if offsets.is_empty() {
        return Ok(());
    }
    tokio::task::spawn_blocking(move || commit_offsets(&consumer, &offsets))
        .await
        .map_err(|e| KafkaError::Embedded(format!("commit task failed: {e}")))?
}

/// The committed offsets (next offset to read) of `consumer`'s group for the given partitions;
/// partitions without a committed offset are absent. Blocking (one coordinator round trip).
pub fn committed_offsets(
    consumer: &SluiceConsumer,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
) -> Result<BTreeMap<i32, i64>, KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, std::time::Duration::from_secs(10))
        .map_err(|e| KafkaError::topic("fetch committed offsets", topic, e))?;
    Ok(got
        .elements_for_topic(topic)
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(topic: &Arc<str>, partition: i32, offset: i64) -> KafkaRecord {
        KafkaRecord {
            topic: topic.clone(),
            partition,
            offset,
            timestamp: None,
            key: None,
            value: None,
            headers: vec![],
        }
    }

    #[test]
    fn tracks_next_offset_per_partition_monotonically() {
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        let mut t = OffsetTracker::new();
        assert!(t.is_empty());
        t.observe_all(&[rec(&a, 0, 5), rec(&a, 0, 3), rec(&a, 1, 0), rec(&b, 0, 9)]);
        assert_eq!(t.next_offset("a", 0), Some(6));
        assert_eq!(t.next_offset("a", 1), Some(1));
        assert_eq!(t.next_offset("b", 0), Some(10));
        assert_eq!(t.next_offset("b", 1), None);

        let mut u = OffsetTracker::new();
        u.observe(&rec(&a, 0, 2));
        u.observe(&rec(&a, 2, 7));
        u.merge(&t);
        assert_eq!(u.next_offset("a", 0), Some(6));
        assert_eq!(u.next_offset("a", 2), Some(8));

        let tpl = t.to_partition_list().unwrap();
        let map = tpl.to_topic_map();
        assert_eq!(map.len(), 3);
        assert_eq!(map[&("a".to_string(), 0)], Offset::Offset(6));
        assert_eq!(map[&("b".to_string(), 0)], Offset::Offset(10));
        t.clear();
        assert!(t.is_empty());
    }
}
