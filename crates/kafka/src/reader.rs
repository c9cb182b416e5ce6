//! Batch-oriented reading: [`recv_batch`] turns a consumer's message stream into owned
//! [`KafkaRecord`] batches, so the engine decodes many records at once.
//!
//! A batch is: wait for the first record (optionally at most [`BatchOptions::max_wait`]), then
//! keep taking records until [`BatchOptions::max_records`] or until [`BatchOptions::linger`]
//! has passed since the first one.
//!
//! # One task per input partition
//!
//! [`recv_batch`] works on any [`MessageSource`]: a whole [`SluiceConsumer`], or one partition's
//! [`StreamPartitionQueue`]. To run one task per partition:
//! 1. wrap the consumer in an `Arc` (`split_partition_queue` is defined on `&Arc<Self>`);
//! 2. after the partitions are known (explicit `assign`, or in a rebalance callback / after
//!    observing the assignment with `subscribe`), call
//!    `consumer.split_partition_queue(topic, partition)` for each partition, *before* messages
//!    for it are fetched into the main queue, and spawn a task per queue looping on
//!    `recv_batch(&queue, ..)`;
//! 3. keep one task awaiting `recv_batch(&*consumer, ..)` / `consumer.recv()` on the main
//!    queue: it serves rebalance, log and error events and should see no messages;
//! 4. after a revoke/re-assign, queues of revoked partitions go quiet; split the new ones.
//!    (`assign` deactivates all existing partition queues.)
//!
//! Offsets are then tracked per partition task ([`OffsetTracker`](crate::OffsetTracker)) and
//! committed through the shared consumer.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{MessageStream, StreamConsumer};
use rdkafka::error::KafkaError as RdKafkaError;
use tokio::time::Instant;
use tracing::warn;

use crate::config::SluiceConsumer;
use crate::context::SluiceContext;
use crate::error::KafkaError;
use crate::record::KafkaRecord;

/// Something that yields consumed messages: a consumer or a split-off partition queue.
pub trait MessageSource {
    fn message_stream(&self) -> MessageStream<'_, SluiceContext>;
}

impl MessageSource for SluiceConsumer {
    fn message_stream(&self) -> MessageStream<'_, SluiceContext> {
        StreamConsumer::stream(self)
    }
}

impl MessageSource for StreamPartitionQueue<SluiceContext> {
    fn message_stream(&self) -> MessageStream<'_, SluiceContext> {
        self.stream()
    }
}

impl<T: MessageSource + ?Sized> MessageSource for std::sync::Arc<T> {
    fn message_stream(&self) -> MessageStream<'_, SluiceContext> {
        (**self).message_stream()
    }
}

/// How batches are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// At most this many records per batch (>= 1).
    pub max_records: usize,
    /// After the first record, wait at most this long for more.
    pub linger: Duration,
    /// Wait at most this long for the first record, then return an empty batch. `None`: wait
    /// forever.
    pub max_wait: Option<Duration>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_records: 1000,
            linger: Duration::from_millis(10),
            max_wait: None,
        }
    }
}

impl BatchOptions {
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }
}

/// What the batch loop should do after a partition-EOF event.
pub(crate) enum EofAction {
    Continue,
    /// Return the batch now (e.g. the reader reached the end it was looking for).
    Stop,
}

/// Receives one batch (see the module docs).
///
/// Errors: a consumer error before the first record is returned as `Err` (they are mostly
/// transient and librdkafka keeps retrying; check [`KafkaError::is_retriable`]). An error after
/// some records were collected ends the batch early; it is logged and not returned.
/// Partition-EOF events are skipped.
///
/// Cancellation: cancelling while waiting for the first record loses nothing; cancelling during
/// the linger phase drops the records collected so far (they were not committed, so they will be
/// re-read after a restart, but the running consumer has moved past them). Prefer `max_wait`
/// over cancelling to poll for shutdown.
pub async fn recv_batch<S: MessageSource + ?Sized>(
    source: &S,
    opts: &BatchOptions,
) -> Result<Vec<KafkaRecord>, KafkaError> {
    recv_batch_with_eof(source, opts, |_| EofAction::Continue).await
}

pub(crate) async fn recv_batch_with_eof<S: MessageSource + ?Sized>(
    source: &S,
    opts: &BatchOptions,
    mut on_eof: impl FnMut(i32) -> EofAction,
) -> Result<Vec<KafkaRecord>, KafkaError> {
    let max = opts.max_records.max(1);
    let mut stream = source.message_stream();
    let mut out = Vec::new();
    let mut topic = None;

    // Phase 1: the first record.
    let first_deadline = opts.max_wait.map(|d| Instant::now() + d);
    loop {
        let next = match first_deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(out),
            },
            None => stream.next().await,
        };
        match next {
            Some(Ok(msg)) => {
                out.push(KafkaRecord::from_message(&msg, &mut topic));
                break;
            }
            Some(Err(RdKafkaError::PartitionEOF(p))) => {
                if let EofAction::Stop = on_eof(p) {
                    return Ok(out);
                }
            }
            Some(Err(e)) => return Err(KafkaError::op("consume", e)),
            None => return Ok(out),
        }
    }

    // Phase 2: linger for more.
    let linger = tokio::time::sleep(opts.linger);
    tokio::pin!(linger);
    while out.len() < max {
        tokio::select! {
            biased;
            next = stream.next() => match next {
                Some(Ok(msg)) => out.push(KafkaRecord::from_message(&msg, &mut topic)),
                Some(Err(RdKafkaError::PartitionEOF(p))) => {
                    if let EofAction::Stop = on_eof(p) {
                        break;
                    }
                }
                Some(Err(e)) => {
                    warn!(error = %e, records = out.len(), "consumer error ends batch early");
                    break;
                }
                None => break,
            },
            _ = &mut linger => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_small_latency_batches() {
        let o = BatchOptions::default();
        assert_eq!(o.max_records, 1000);
        assert!(o.linger <= Duration::from_millis(20));
        assert_eq!(o.max_wait, None);
        assert_eq!(
            o.with_max_wait(Duration::from_secs(1)).max_wait,
            Some(Duration::from_secs(1))
        );
    }
}
