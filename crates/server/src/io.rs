//! Moving records between Kafka and the engine: batched reads, awaited writes, commits.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sluice_dataflow::sink::OutRecord;
use sluice_dataflow::source::RawRecord;
use sluice_kafka::{SluiceConsumer, SluiceProducer};

use crate::error::{EngineError, Result};

/// Waits for the next record, at most `wait` (`None`: for as long as it takes); `None` when
/// none came in time.
///
/// Cancel-safe (rdkafka's `recv` is): a `select!` or a timeout may drop this future without
/// losing a record. Take the rest of the batch with [`fill_batch`], which is not.
async fn next_record(
    consumer: &SluiceConsumer,
    wait: Option<Duration>,
) -> Result<Option<OwnedMessage>> {
    let recv = consumer.recv();
    let received = match wait {
        None => recv.await,
        Some(wait) => match tokio::time::timeout(wait, recv).await {
            Ok(r) => r,
            Err(_) => return Ok(None),
        },
    };
    received
        .map(|m| Some(m.detach()))
        .map_err(|e| EngineError::Kafka(format!("consume failed: {e}")))
}

/// `first`, then what else arrives within `linger`, up to `max` records.
///
/// Not cancel-safe: the records it has taken are past the consumer's position, so dropping
/// this future before it returns loses them (the task would go on and commit positions
/// beyond them). Always run it to completion; never race it against a timer.
async fn fill_batch(
    consumer: &SluiceConsumer,
    first: OwnedMessage,
    max: usize,
    linger: Duration,
) -> Result<Vec<OwnedMessage>> {
    let mut out = vec![first];
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

/// A task's next batch: a first record, waiting at most `wait` for it (`None`: for as long as
/// it takes; an empty batch when none came), then what else arrives within `linger`, up to
/// `max` records. `None` when `interrupted` resolved first.
///
/// Only the wait for the first record is cut short (by `wait` or `interrupted`); once the
/// batch has records it is read to its end. Records taken from the consumer are past its
/// position: a batch dropped half-read would be lost for good, since the positions committed
/// after later batches go beyond it.
pub async fn read_batch(
    consumer: &SluiceConsumer,
    max: usize,
    linger: Duration,
    wait: Option<Duration>,
    interrupted: impl std::future::Future<Output = ()>,
) -> Option<Result<Vec<OwnedMessage>>> {
    let first = tokio::select! {
        _ = interrupted => return None,
        m = next_record(consumer, wait) => m,
    };
    Some(match first {
        Ok(Some(first)) => fill_batch(consumer, first, max, linger).await,
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(e),
    })
}

/// Borrow owned messages as raw records for the decoder.
pub fn raw_records(messages: &[OwnedMessage], with_headers: bool) -> Vec<RawRecord<'_>> {
    messages
        .iter()
        .map(|m| RawRecord {
            partition: m.partition(),
            offset: m.offset(),
            timestamp: record_time(m),
            key: m.key(),
            value: m.payload(),
            headers: match m.headers() {
                Some(h) if with_headers => h
                    .iter()
                    .filter(|h| h.key != TIME_HEADER)
                    .map(|h| (h.key, h.value))
                    .collect(),
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
    let pending = enqueue_all(producer, topic, records).await?;
    await_deliveries(pending, topic).await.map(|_| ())
}

/// Hands `records` to the producer for `topic` without waiting for their delivery: await the
/// returned deliveries (with [`await_deliveries`]) before committing what they depend on.
pub async fn enqueue_all(
    producer: &SluiceProducer,
    topic: &str,
    records: &[OutRecord],
) -> Result<Vec<DeliveryFuture>> {
    let mut pending = Vec::with_capacity(records.len());
    for r in records {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).timestamp(r.timestamp);
        if let Some(k) = &r.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            rec = rec.payload(v.as_slice());
        }
        pending.push(enqueue(producer, rec, topic).await?);
    }
    Ok(pending)
}

/// Hands `rec` to the producer. While librdkafka's local queue is full (a large batch of
/// output outruns the broker), waits for earlier records to be delivered instead of failing:
/// the producer's own thread keeps delivering meanwhile.
pub async fn enqueue<'a>(
    producer: &SluiceProducer,
    mut rec: FutureRecord<'a, [u8], [u8]>,
    topic: &str,
) -> Result<DeliveryFuture> {
    loop {
        match producer.send_result(rec) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                rec = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((e, _)) => {
                return Err(EngineError::Kafka(format!(
                    "failed to produce to topic {topic}: {e}"
                )))
            }
        }
    }
}

/// A record for an explicit partition (repartition topics place rows themselves).
pub struct PartitionedRecord {
    pub partition: i32,
    pub timestamp: Option<i64>,
    pub value: Vec<u8>,
}

/// Hands every record to the producer for its partition of `topic`, without waiting: await
/// the returned deliveries with [`deliveries`] (where each landed, in order).
pub async fn enqueue_partitioned(
    producer: &SluiceProducer,
    topic: &str,
    records: &[PartitionedRecord],
) -> Result<Vec<DeliveryFuture>> {
    let mut pending = Vec::with_capacity(records.len());
    for r in records {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(r.partition)
            .payload(r.value.as_slice());
        if let Some(ts) = r.timestamp {
            rec = rec.timestamp(ts);
        }
        pending.push(enqueue(producer, rec, topic).await?);
    }
    Ok(pending)
}

/// The header that carries a re-keyed record's timestamp when it is 0 or less: librdkafka
/// stamps a record produced with timestamp 0 with the current time, so such a record would
/// otherwise cross a repartition topic with another time.
pub const TIME_HEADER: &str = "__sluice_time";

/// A record's timestamp (ms): [`TIME_HEADER`]'s when it has one, else Kafka's.
pub fn record_time(m: &OwnedMessage) -> Option<i64> {
    if let Some(h) = m.headers() {
        for h in h.iter() {
            if h.key == TIME_HEADER {
                if let Some(b) = h.value.and_then(|v| <[u8; 8]>::try_from(v).ok()) {
                    return Some(i64::from_be_bytes(b));
                }
            }
        }
    }
    m.timestamp().to_millis()
}

/// Produces each record as it was read (key, value, headers, timestamp) to the partition given
/// with it, and waits until all are acknowledged (a join input's repartition topic).
pub async fn republish(
    producer: &SluiceProducer,
    topic: &str,
    records: &[(i32, &OwnedMessage)],
) -> Result<Vec<(i32, i64)>> {
    let mut pending = Vec::with_capacity(records.len());
    for (partition, m) in records {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).partition(*partition);
        if let Some(k) = m.key() {
            rec = rec.key(k);
        }
        if let Some(v) = m.payload() {
            rec = rec.payload(v);
        }
        let time = record_time(m);
        if let Some(ts) = time {
            rec = rec.timestamp(ts);
        }
        let mut headers = m.headers().map(|h| h.as_borrowed().detach());
        if let Some(ts) = time.filter(|t| *t <= 0) {
            let bytes = ts.to_be_bytes();
            headers = Some(
                headers
                    .unwrap_or_default()
                    .insert(rdkafka::message::Header {
                        key: TIME_HEADER,
                        value: Some(&bytes[..]),
                    }),
            );
        }
        if let Some(h) = headers {
            rec = rec.headers(h);
        }
        pending.push(enqueue(producer, rec, topic).await?);
    }
    deliveries(pending, topic).await
}

/// Waits for every delivery of records sent to `topic`; returns the offset after the last one
/// (0 when there were none). Fails on the first record the broker did not take.
pub async fn await_deliveries(pending: Vec<DeliveryFuture>, topic: &str) -> Result<i64> {
    let landed = deliveries(pending, topic).await?;
    Ok(landed.iter().map(|&(_, o)| o).max().unwrap_or(-1) + 1)
}

/// Waits for every delivery; returns where each record landed (partition, offset), in order.
pub async fn deliveries(pending: Vec<DeliveryFuture>, topic: &str) -> Result<Vec<(i32, i64)>> {
    let mut landed = Vec::with_capacity(pending.len());
    for result in join_all(pending).await {
        match result {
            Ok(Ok(delivery)) => landed.push((delivery.partition, delivery.offset)),
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
    Ok(landed)
}

/// The offset after the last of `messages`, per partition.
pub fn next_positions<'a>(
    messages: impl IntoIterator<Item = &'a OwnedMessage>,
) -> HashMap<(String, i32), i64> {
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

/// Commits `positions` for the consumer's group, without waiting for the broker: the state
/// store's positions (committed before) are the ones a restart goes by, and it seeds the group
/// with them (so a commit lost in a crash costs nothing). A failed commit is logged by the
/// consumer's commit callback.
pub fn commit_positions(
    consumer: &SluiceConsumer,
    positions: &HashMap<(String, i32), i64>,
) -> Result<()> {
    consumer
        .commit(&positions_tpl(positions)?, CommitMode::Async)
        .map_err(|e| EngineError::Kafka(format!("offset commit failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_kafka::{EmbeddedBroker, OffsetReset};

    /// A join task whose inputs wait polls for records every few milliseconds, and a poll may
    /// end while a batch is being read. Every record must still come out, in order: a batch
    /// dropped half-read (as when the whole read was under the poll timeout) loses the records
    /// already taken from the consumer, and later commits skip them for good.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_cut_short_lose_no_record() {
        const N: i64 = 20_000;
        let broker = EmbeddedBroker::start(1).unwrap();
        broker.create_topic("t", 1, 1).await.unwrap();
        let producer = broker.kafka_config().producer().unwrap();
        let values: Vec<String> = (0..N).map(|i| i.to_string()).collect();
        let pending = values
            .iter()
            .map(|v| {
                producer
                    .send_result(FutureRecord::<[u8], [u8]>::to("t").payload(v.as_bytes()))
                    .map_err(|(e, _)| e)
                    .unwrap()
            })
            .collect();
        assert_eq!(await_deliveries(pending, "t").await.unwrap(), N);

        let consumer = broker
            .kafka_config()
            .consumer("g", OffsetReset::Earliest)
            .unwrap();
        consumer.subscribe(&["t"]).unwrap();
        let mut next = 0;
        let (mut batches, mut interrupted) = (0, 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while next < N && std::time::Instant::now() < deadline {
            let poll = Duration::from_millis(1);
            let Some(batch) = read_batch(
                &consumer,
                4096,
                LINGER,
                Some(poll),
                tokio::time::sleep(poll),
            )
            .await
            else {
                interrupted += 1;
                continue;
            };
            batches += 1;
            for m in batch.unwrap() {
                assert_eq!(
                    m.offset(),
                    next,
                    "records before offset {} were lost",
                    m.offset()
                );
                next += 1;
            }
        }
        assert_eq!(
            next, N,
            "{batches} batches, {interrupted} interrupted waits"
        );
    }

    const LINGER: Duration = Duration::from_millis(5);
}
