//! The catalog's durable history: every statement that changes the catalog or starts a
//! persistent query is appended to the service's command topic (ksqlDB's design), and a server
//! that starts replays the topic to rebuild its catalog and restart its queries. Several servers
//! with the same service id share one history.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// One entry of the command topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Command {
    /// The statement text as the user wrote it.
    pub statement: String,
    /// The session properties in force when it ran.
    pub properties: BTreeMap<String, String>,
}

/// Appends to and replays the command topic.
pub struct CommandLog {
    topic: String,
    producer: FutureProducer,
}

impl CommandLog {
    /// A log on `topic` (which must exist, with one partition).
    pub fn new(topic: String, producer: FutureProducer) -> Self {
        Self { topic, producer }
    }

    /// Append a command; returns its sequence number (the record's offset).
    pub async fn append(&self, cmd: &Command) -> Result<i64> {
        let payload = serde_json::to_vec(cmd).map_err(|e| EngineError::Internal(e.to_string()))?;
        let record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).payload(payload.as_slice()).partition(0);
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| EngineError::Kafka(format!("command topic write failed: {e}")))?;
        Ok(delivery.offset)
    }

    /// Read every command from the beginning to the current end, with its sequence number.
    pub fn replay(&self, consumer: BaseConsumer) -> Result<Vec<(i64, Command)>> {
        let kafka = |e: rdkafka::error::KafkaError| {
            EngineError::Kafka(format!("command topic replay failed: {e}"))
        };
        let (low, high) = consumer
            .fetch_watermarks(&self.topic, 0, Duration::from_secs(10))
            .map_err(kafka)?;
        let mut out = Vec::new();
        if high <= low {
            return Ok(out);
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.topic, 0, Offset::Offset(low))
            .map_err(kafka)?;
        consumer.assign(&tpl).map_err(kafka)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut next = low;
        while next < high {
            if std::time::Instant::now() > deadline {
                return Err(EngineError::Kafka(format!(
                    "command topic replay timed out at offset {next} of {high}"
                )));
            }
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    next = m.offset() + 1;
                    let Some(payload) = m.payload() else { continue };
                    match serde_json::from_slice::<Command>(payload) {
                        Ok(cmd) => out.push((m.offset(), cmd)),
                        Err(e) => tracing::warn!(
                            offset = m.offset(),
                            error = %e,
                            "skipping unreadable command"
                        ),
                    }
                }
                Some(Err(e)) => return Err(kafka(e)),
                None => {}
            }
        }
        Ok(out)
    }
}
