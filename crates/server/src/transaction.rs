//! Exactly-once processing (`processing.guarantee = 'exactly_once_v2'`), as Kafka Streams does
//! it: each processed batch's output records, its changelog records and the input offsets it
//! consumed are written in one Kafka transaction, so a `read_committed` reader sees all of a
//! batch or none of it, and the consumer group's position moves only with them.
//!
//! One transactional producer per query task, with a `transactional.id` derived from the service
//! and query id: a second instance of the task (after a restart, or on another server) fences
//! the first one when it initializes, so a zombie can never commit.
//!
//! The librdkafka transaction calls block on the transaction coordinator; they run on tokio's
//! blocking pool.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::producer::Producer;
use sluice_kafka::{SluiceConsumer, SluiceProducer};
use tracing::{debug, warn};

use crate::error::{EngineError, Result};

/// How long a transaction call may wait for the coordinator.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `processing.guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Guarantee {
    /// Outputs may repeat after a crash; state and positions never count an input twice.
    #[default]
    AtLeastOnce,
    /// Outputs, changelog writes and input offsets commit together in a Kafka transaction.
    ExactlyOnceV2,
}

impl Guarantee {
    /// Parses the property value (`exactly_once` and `exactly_once_beta`, which Kafka Streams
    /// deprecated in favour of `exactly_once_v2`, mean `exactly_once_v2`).
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "at_least_once" => Ok(Guarantee::AtLeastOnce),
            "exactly_once_v2" | "exactly_once" | "exactly_once_beta" => {
                Ok(Guarantee::ExactlyOnceV2)
            }
            other => Err(EngineError::Invalid(format!(
                "Invalid value {other} for configuration processing.guarantee: String must be one of: at_least_once, exactly_once, exactly_once_beta, exactly_once_v2"
            ))),
        }
    }
}

/// The transactional producer of one query task.
pub struct Transactions {
    producer: SluiceProducer,
}

impl Transactions {
    /// Initializes transactions for `producer` (created with a `transactional.id`): waits for
    /// the coordinator, aborts what a previous instance left open, and fences it.
    pub async fn init(producer: SluiceProducer) -> Result<Self> {
        let p = producer.clone();
        blocking(move || p.init_transactions(TIMEOUT), "init_transactions").await?;
        debug!("transactions initialized");
        Ok(Transactions { producer })
    }

    /// The producer that writes inside the transactions.
    pub fn producer(&self) -> &SluiceProducer {
        &self.producer
    }

    /// Starts the transaction of the next batch.
    pub fn begin(&self) -> Result<()> {
        self.producer
            .begin_transaction()
            .map_err(|e| EngineError::Kafka(format!("begin_transaction failed: {e}")))
    }

    /// Adds the input `positions` (next offset per topic and partition) to the transaction as
    /// the consumer group's offsets, and commits it.
    pub async fn commit(
        &self,
        positions: &HashMap<(String, i32), i64>,
        consumer: &SluiceConsumer,
    ) -> Result<()> {
        let tpl = crate::io::positions_tpl(positions)?;
        let group = consumer.group_metadata().ok_or_else(|| {
            EngineError::Kafka("the consumer has no group metadata to commit with".into())
        })?;
        let p = self.producer.clone();
        blocking(
            move || {
                p.send_offsets_to_transaction(&tpl, &group, TIMEOUT)?;
                p.commit_transaction(TIMEOUT)
            },
            "commit_transaction",
        )
        .await
    }

    /// Aborts the open transaction (after a failure in the batch).
    pub async fn abort(&self) {
        let p = self.producer.clone();
        if let Err(e) = blocking(move || p.abort_transaction(TIMEOUT), "abort_transaction").await {
            warn!(error = %e, "could not abort the transaction");
        }
    }
}

async fn blocking<F>(f: F, what: &'static str) -> Result<()>
where
    F: FnOnce() -> rdkafka::error::KafkaResult<()> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Internal(format!("{what}: {e}")))?
        .map_err(|e| EngineError::Kafka(format!("{what} failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarantee_values() {
        assert_eq!(
            Guarantee::parse("exactly_once_v2").unwrap(),
            Guarantee::ExactlyOnceV2
        );
        assert_eq!(
            Guarantee::parse("EXACTLY_ONCE").unwrap(),
            Guarantee::ExactlyOnceV2
        );
        assert_eq!(
            Guarantee::parse("at_least_once").unwrap(),
            Guarantee::AtLeastOnce
        );
        assert!(Guarantee::parse("twice")
            .unwrap_err()
            .to_string()
            .contains("processing.guarantee"));
    }
}
