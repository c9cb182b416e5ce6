//! The catalog's durable history: every statement that changes the catalog or starts a
//! persistent query is appended to the service's command topic (ksqlDB's design), and a server
//! that starts replays the topic to rebuild its catalog and restart its queries. Several servers
//! with the same service id share one history.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::producer::FutureRecord;
use serde::{Deserialize, Serialize};
use sluice_kafka::{KafkaConfig, SluiceProducer};

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
    producer: SluiceProducer,
}

impl CommandLog {
    /// A log on `topic` (which must exist, with one partition).
    pub fn new(topic: String, producer: SluiceProducer) -> Self {
        Self { topic, producer }
    }

    /// Append a command; returns its sequence number (the record's offset).
    pub async fn append(&self, cmd: &Command) -> Result<i64> {
        let payload = serde_json::to_vec(cmd).map_err(|e| EngineError::Internal(e.to_string()))?;
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .payload(payload.as_slice())
            .partition(0);
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| EngineError::Kafka(format!("command topic write failed: {e}")))?;
        Ok(delivery.offset)
    }

    /// Read every command from the beginning to the current end, with its sequence number.
    pub async fn replay(&self, kafka: &KafkaConfig) -> Result<Vec<(i64, Command)>> {
        let records = sluice_kafka::read_topic_to_end(kafka, &self.topic).await?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let Some(payload) = &r.value else { continue };
            match serde_json::from_slice::<Command>(payload) {
                Ok(cmd) => out.push((r.offset, cmd)),
                Err(e) => {
                    tracing::warn!(offset = r.offset, error = %e, "skipping unreadable command")
                }
            }
        }
        Ok(out)
    }
}
