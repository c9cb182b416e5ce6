//! Producing a batch of records and awaiting every delivery report.
//!
//! For at-least-once processing the engine produces a batch's results with [`produce_batch`]
//! and only commits the batch's input offsets after it returned `Ok`.

use std::time::Duration;

use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use tracing::warn;

use crate::config::SluiceProducer;
use crate::error::KafkaError;
use crate::record::ProduceRecord;

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// How long to back off when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

fn to_headers(headers: &[(String, Option<bytes::Bytes>)]) -> Option<OwnedHeaders> {
    if headers.is_empty() {
        return None;
    }
    let mut out = OwnedHeaders::new_with_capacity(headers.len());
    for (k, v) in headers {
        out = out.insert(Header {
            key: k.as_str(),
            value: v.as_deref(),
        });
    }
    Some(out)
}

/// Enqueues one record, waiting while the local producer queue is full.
async fn enqueue(
    producer: &SluiceProducer,
    record: &ProduceRecord,
) -> Result<DeliveryFuture, KafkaError> {
    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic);
    if let Some(k) = &record.key {
        fr = fr.key(&k[..]);
    }
    if let Some(v) = &record.value {
        fr = fr.payload(&v[..]);
    }
    if let Some(p) = record.partition {
        fr = fr.partition(p);
    }
    if let Some(ts) = record.timestamp {
        fr = fr.timestamp(ts);
    }
    if let Some(h) = to_headers(&record.headers) {
        fr = fr.headers(h);
    }
    loop {
        match producer.send_result(fr) {
            Ok(delivery) => return Ok(delivery),
            Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                fr = back;
                tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
            }
            Err((e, _)) => {
                return Err(KafkaError::Delivery {
                    topic: record.topic.to_string(),
                    source: e,
                })
            }
        }
    }
}

/// Produces all `records` and waits for every delivery report. Returns where each record
/// landed, in input order, or the first failure (after all reports are in, so nothing of this
/// batch is still in flight when it returns — except after an enqueue error, where records
/// enqueued before it may still be delivered).
///
/// Records of one partition are delivered in input order (idempotent producer).
pub async fn produce_batch(
    producer: &SluiceProducer,
    records: &[ProduceRecord],
) -> Result<Vec<Delivered>, KafkaError> {
    let mut pending = Vec::with_capacity(records.len());
    for r in records {
        pending.push(enqueue(producer, r).await?);
    }
    let results = futures::future::join_all(pending).await;
    let mut out = Vec::with_capacity(results.len());
    let mut first_error = None;
    let mut failures = 0usize;
    for (record, result) in records.iter().zip(results) {
        match result {
            Ok(Ok(d)) => out.push(Delivered {
                partition: d.partition,
                offset: d.offset,
            }),
            Ok(Err((e, _msg))) => {
                failures += 1;
                first_error.get_or_insert(KafkaError::Delivery {
                    topic: record.topic.to_string(),
                    source: e,
                });
            }
            Err(_canceled) => {
                failures += 1;
                first_error.get_or_insert(KafkaError::Delivery {
                    topic: record.topic.to_string(),
                    source: RdKafkaError::Canceled,
                });
            }
        }
    }
    match first_error {
        None => Ok(out),
        Some(e) => {
            warn!(failures, records = records.len(), error = %e, "batch delivery failed");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rdkafka::message::Headers;

    #[test]
    fn headers_convert_in_order_with_nulls() {
        assert!(to_headers(&[]).is_none());
        let h = to_headers(&[
            ("a".into(), Some(Bytes::from_static(b"1"))),
            ("b".into(), None),
        ])
        .unwrap();
        assert_eq!(h.count(), 2);
        assert_eq!(h.get(0).key, "a");
        assert_eq!(h.get(0).value, Some(&b"1"[..]));
        assert_eq!(h.get(1).key, "b");
        assert_eq!(h.get(1).value, None);
    }
}
