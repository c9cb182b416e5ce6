//! Moving records between Kafka and the engine: batched reads, awaited writes, commits.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sluice_dataflow::sink::OutRecord;
use sluice_dataflow::source::RawRecord;
use sluice_kafka::{SluiceConsumer, SluiceProducer};

use crate::error::{EngineError, Result};

/// Wait for at least one record, then take what else arrives within `linger`, up to `max`.
pub async fn next_batch(
    consumer: &SluiceConsumer,
    max: usize,
    linger: Duration,
) -> Result<Vec<OwnedMessage>> {
    let first = consumer
        .recv()
        .await
        .map_err(|e| EngineError::Kafka(format!("consume failed: {e}")))?;
    let mut out = vec![first.detach()];
    let deadline = tokio::time::Instant::now() + linger;
    while out.len() < max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => out.push(m.detach()),
            Ok(Err(e)) => return Err(EngineError::Kafka(format!("consume failed: {e}"))),
            Err(_) => break,
        }
    }
    Ok(out)
}

/// Borrow owned messages as raw records for the decoder.
pub fn raw_records(messages: &[OwnedMessage], with_headers: bool) -> Vec<RawRecord<'_>> {
    messages
        .iter()
        .map(|m| RawRecord {
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis(),
            key: m.key(),
            value: m.payload(),
            headers: match m.headers() {
                Some(h) if with_headers => h.iter().map(|h| (h.key, h.value)).collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// Produce every record to `topic` and wait until all are acknowledged.
pub async fn produce_all(
    producer: &SluiceProducer,
    topic: &str,
    records: &[OutRecord],
) -> Result<()> {
    send_all(
        producer,
        topic,
        records.iter().map(|r| {
            let mut rec: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(topic).timestamp(r.timestamp);
            if let Some(k) = &r.key {
                rec = rec.key(k.as_slice());
            }
            if let Some(v) = &r.value {
                rec = rec.payload(v.as_slice());
            }
            rec
        }),
    )
    .await
}

/// Sends `records` to `topic` and waits until all are acknowledged.
async fn send_all<'a>(
    producer: &SluiceProducer,
    topic: &str,
    records: impl Iterator<Item = FutureRecord<'a, [u8], [u8]>>,
) -> Result<()> {
    let mut pending = Vec::new();
    for rec in records {
        match producer.send_result(rec) {
            Ok(f) => pending.push(f),
            Err((e, _)) => {
                return Err(EngineError::Kafka(format!(
                    "failed to produce to topic {topic}: {e}"
                )))
            }
        }
    }
    await_deliveries(pending, topic).await.map(|_| ())
}

/// A record for an explicit partition (repartition topics place rows themselves).
pub struct PartitionedRecord {
    pub partition: i32,
    pub timestamp: Option<i64>,
    pub value: Vec<u8>,
}

/// Produce every record to its partition of `topic` and wait until all are acknowledged.
pub async fn produce_partitioned(
    producer: &SluiceProducer,
    topic: &str,
    records: &[PartitionedRecord],
) -> Result<()> {
    send_all(
        producer,
        topic,
        records.iter().map(|r| {
            let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
                .partition(r.partition)
                .payload(r.value.as_slice());
            if let Some(ts) = r.timestamp {
                rec = rec.timestamp(ts);
            }
            rec
        }),
    )
    .await
}

/// Waits for every delivery of records sent to `topic`; returns the offset after the last one
/// (0 when there were none). Fails on the first record the broker did not take.
pub async fn await_deliveries(pending: Vec<DeliveryFuture>, topic: &str) -> Result<i64> {
    let mut last = -1;
    for result in join_all(pending).await {
        match result {
            Ok(Ok(delivery)) => last = last.max(delivery.offset),
            Ok(Err((e, _))) => {
                return Err(EngineError::Kafka(format!(
                    "failed to produce to topic {topic}: {e}"
                )))
            }
            Err(_) => {
                return Err(EngineError::Kafka(format!(
                    "producer closed while writing to topic {topic}"
                )))
            }
        }
    }
    Ok(last + 1)
}

/// The offset after the last of `messages`, per partition.
pub fn next_positions(messages: &[OwnedMessage]) -> HashMap<(String, i32), i64> {
    // Borrowed keys while scanning: one topic name allocated per partition, not per record.
    let mut next: HashMap<(&str, i32), i64> = HashMap::new();
    for m in messages {
        let e = next.entry((m.topic(), m.partition())).or_insert(0);
        *e = (*e).max(m.offset() + 1);
    }
    next.into_iter()
        .map(|((t, p), o)| ((t.to_string(), p), o))
        .collect()
}

/// `positions` (next offset per topic and partition) as a partition list to commit.
pub fn positions_tpl(positions: &HashMap<(String, i32), i64>) -> Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in positions {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))
            .map_err(|e| EngineError::Kafka(e.to_string()))?;
    }
    Ok(tpl)
}

/// Commits `positions` for the consumer's group.
pub fn commit_positions(
    consumer: &SluiceConsumer,
    positions: &HashMap<(String, i32), i64>,
) -> Result<()> {
    consumer
        .commit(&positions_tpl(positions)?, CommitMode::Sync)
        .map_err(|e| EngineError::Kafka(format!("offset commit failed: {e}")))
}
