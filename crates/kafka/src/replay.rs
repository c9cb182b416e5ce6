//! Reading a topic from the beginning to its current end, without joining a consumer group:
//! replaying the command topic at start-up, `PRINT topic FROM BEGINNING`.
//!
//! [`TopicReader::open`] snapshots every partition's high watermark, assigns all partitions at
//! their beginning, and [`TopicReader::next_batch`] returns `None` once every partition has been
//! read up to its snapshot (detected through partition-EOF events and record offsets, so
//! transaction markers and aborted records at the end of a partition do not make it hang).
//! Records produced after the snapshot may be included in the last batches. To keep following
//! the topic after the end, take the consumer with [`TopicReader::into_consumer`] and continue
//! with [`recv_batch`](crate::recv_batch).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use tracing::debug;

use crate::admin::describe_blocking;
use crate::config::{KafkaConfig, SluiceConsumer};
use crate::error::KafkaError;
use crate::reader::{recv_batch_with_eof, BatchOptions, EofAction};
use crate::record::KafkaRecord;

/// If no record and no end-of-partition event arrives for this long, reading fails.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads one topic from its beginning to the end it had when opened.
pub struct TopicReader {
    consumer: SluiceConsumer,
    topic: Arc<str>,
    /// Snapshot of (low, high) watermarks per partition.
    watermarks: BTreeMap<i32, (i64, i64)>,
    /// Partitions not yet read up to their snapshot high watermark.
    remaining: BTreeSet<i32>,
    opts: BatchOptions,
}

impl TopicReader {
    /// Opens `topic` for reading from the beginning. Fails with [`KafkaError::UnknownTopic`]
    /// when it does not exist.
    pub async fn open(config: &KafkaConfig, topic: &str) -> Result<Self, KafkaError> {
        let consumer = config.assign_only_consumer("reader")?;
        let name = topic.to_string();
        let (consumer, watermarks) = tokio::task::spawn_blocking(move || {
            let w = snapshot_watermarks(&consumer, &name);
            (consumer, w)
        })
        .await
        .map_err(|e| KafkaError::Embedded(format!("watermark task failed: {e}")))?;
        let watermarks = watermarks?;

        let mut tpl = TopicPartitionList::with_capacity(watermarks.len());
        for p in watermarks.keys() {
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .map_err(|e| KafkaError::topic("assign", topic, e))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| KafkaError::topic("assign", topic, e))?;
        let remaining = watermarks
            .iter()
            .filter(|(_, (low, high))| high > low)
            .map(|(p, _)| *p)
            .collect();
        debug!(topic, ?watermarks, "topic reader opened");
        Ok(TopicReader {
            consumer,
            topic: topic.into(),
            watermarks,
            remaining,
            opts: BatchOptions::default(),
        })
    }

    /// Batch size and linger for [`next_batch`](Self::next_batch) (`max_wait` is ignored).
    pub fn with_batch_options(mut self, opts: BatchOptions) -> Self {
        self.opts = opts;
        self
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The (low, high) watermarks per partition at open time. `high` is the offset the reader
    /// reads up to (exclusive).
    pub fn watermarks(&self) -> &BTreeMap<i32, (i64, i64)> {
        &self.watermarks
    }

    /// Whether every partition has been read up to its snapshot end.
    pub fn at_end(&self) -> bool {
        self.remaining.is_empty()
    }

    /// The next batch of records, or `None` once the end is reached.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<KafkaRecord>>, KafkaError> {
        if self.remaining.is_empty() {
            return Ok(None);
        }
        let opts = BatchOptions {
            max_wait: Some(STALL_TIMEOUT),
            ..self.opts
        };
        let remaining = &mut self.remaining;
        let batch = recv_batch_with_eof(&self.consumer, &opts, |p| {
            // EOF: the partition was read up to its end at some point after the snapshot,
            // hence past the snapshot end.
            remaining.remove(&p);
            if remaining.is_empty() {
                EofAction::Stop
            } else {
                EofAction::Continue
            }
        })
        .await?;
        for r in &batch {
            if let Some((_, high)) = self.watermarks.get(&r.partition) {
                if r.offset + 1 >= *high {
                    self.remaining.remove(&r.partition);
                }
            }
        }
        if batch.is_empty() {
            if self.remaining.is_empty() {
                return Ok(None);
            }
            return Err(KafkaError::Timeout {
                what: format!(
                    "records or end of partitions {:?} of topic '{}'",
                    self.remaining, self.topic
                ),
                timeout: STALL_TIMEOUT,
            });
        }
        Ok(Some(batch))
    }

    /// Reads everything up to the end.
    pub async fn read_to_end(&mut self) -> Result<Vec<KafkaRecord>, KafkaError> {
        let mut all = Vec::new();
        while let Some(batch) = self.next_batch().await? {
            all.extend(batch);
        }
        Ok(all)
    }

    /// The underlying consumer (assigned to all partitions, positioned after what was read), to
    /// keep following the topic. It never commits and emits partition-EOF events, which
    /// [`recv_batch`](crate::recv_batch) skips.
    pub fn into_consumer(self) -> SluiceConsumer {
        self.consumer
    }
}

/// Reads all of `topic` from the beginning to its current end.
pub async fn read_topic_to_end(
    config: &KafkaConfig,
    topic: &str,
) -> Result<Vec<KafkaRecord>, KafkaError> {
    TopicReader::open(config, topic).await?.read_to_end().await
}

/// Blocking: partition list from metadata, then each partition's watermarks.
/// The (low, high) watermarks of every partition of `topic`, without joining a group (input lag
/// in SHOW QUERIES). [`KafkaError::UnknownTopic`] when the topic does not exist.
pub async fn topic_watermarks(
    config: &KafkaConfig,
    topic: &str,
) -> Result<BTreeMap<i32, (i64, i64)>, KafkaError> {
    let consumer = config.assign_only_consumer("watermarks")?;
    let name = topic.to_string();
    tokio::task::spawn_blocking(move || snapshot_watermarks(&consumer, &name))
        .await
        .map_err(|e| KafkaError::Embedded(format!("watermark task failed: {e}")))?
}

fn snapshot_watermarks(
    consumer: &SluiceConsumer,
    topic: &str,
) -> Result<BTreeMap<i32, (i64, i64)>, KafkaError> {
    let info =
        describe_blocking(consumer.client(), topic)?.ok_or_else(|| KafkaError::UnknownTopic {
            topic: topic.to_string(),
        })?;
    let mut out = BTreeMap::new();
    for p in 0..info.partitions {
        let w = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(|e| KafkaError::topic("fetch watermarks", topic, e))?;
        out.insert(p, w);
    }
    Ok(out)
}
