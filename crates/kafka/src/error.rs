//! The crate's error type: rdkafka errors wrapped with what we were doing and on which topic.

use std::time::Duration;

use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};

/// Everything that can go wrong talking to Kafka (or to the embedded mock cluster).
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused to create a client (usually a bad configuration property).
    #[error("cannot create kafka {role} client: {source}")]
    ClientCreation {
        role: &'static str,
        #[source]
        source: RdKafkaError,
    },

    /// `create_topic` found the topic already there. `partitions` is its current partition
    /// count when it could be read, so callers can decide whether that is acceptable.
    #[error("topic '{topic}' already exists{}", partitions.map(|p| format!(" with {p} partitions")).unwrap_or_default())]
    TopicAlreadyExists {
        topic: String,
        partitions: Option<i32>,
    },

    /// The topic does not exist (metadata says so).
    #[error("topic '{topic}' does not exist")]
    UnknownTopic { topic: String },

    /// The backend cannot do this at all (e.g. deleting a topic on the embedded mock cluster).
    #[error("{operation} is not supported by {backend}")]
    Unsupported {
        operation: &'static str,
        backend: &'static str,
    },

    /// An operation on one topic failed.
    #[error("{operation} on topic '{topic}' failed: {source}")]
    Topic {
        operation: &'static str,
        topic: String,
        #[source]
        source: RdKafkaError,
    },

    /// An operation not tied to a single topic failed (commit, metadata for all topics, ...).
    #[error("{operation} failed: {source}")]
    Operation {
        operation: &'static str,
        #[source]
        source: RdKafkaError,
    },

    /// A produced record was not acknowledged by the broker.
    #[error("delivery to topic '{topic}' failed: {source}")]
    Delivery {
        topic: String,
        #[source]
        source: RdKafkaError,
    },

    /// The embedded broker thread failed to start or is gone.
    #[error("embedded broker: {0}")]
    Embedded(String),

    /// Waited too long for something (a topic to appear, a broker to answer, ...).
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout { what: String, timeout: Duration },

    /// A caller passed something that cannot work (e.g. zero partitions).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// An I/O error outside of librdkafka (e.g. starting a test broker process).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl KafkaError {
    pub(crate) fn op(operation: &'static str, source: RdKafkaError) -> Self {
        KafkaError::Operation { operation, source }
    }

    pub(crate) fn topic(operation: &'static str, topic: &str, source: RdKafkaError) -> Self {
        KafkaError::Topic {
            operation,
            topic: topic.to_string(),
            source,
        }
    }

    /// The underlying rdkafka error, if this error wraps one.
    pub fn rdkafka(&self) -> Option<&RdKafkaError> {
        match self {
            KafkaError::ClientCreation { source, .. }
            | KafkaError::Topic { source, .. }
            | KafkaError::Operation { source, .. }
            | KafkaError::Delivery { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The librdkafka / broker error code, if there is one.
    pub fn code(&self) -> Option<RDKafkaErrorCode> {
        self.rdkafka().and_then(|e| e.rdkafka_error_code())
    }

    /// Whether retrying the same operation later may succeed (broker unavailable, timeouts,
    /// leader changes, queue full). Conservative: unknown errors are not retriable.
    pub fn is_retriable(&self) -> bool {
        if matches!(self, KafkaError::Timeout { .. }) {
            return true;
        }
        match self.code() {
            Some(code) => is_retriable_code(code),
            None => false,
        }
    }
}

pub(crate) fn is_retriable_code(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        code,
        BrokerTransportFailure
            | AllBrokersDown
            | OperationTimedOut
            | RequestTimedOut
            | MessageTimedOut
            | TimedOutQueue
            | QueueFull
            | LeaderNotAvailable
            | NotLeaderForPartition
            | NotEnoughReplicas
            | NotEnoughReplicasAfterAppend
            | NotCoordinator
            | CoordinatorNotAvailable
            | CoordinatorLoadInProgress
            | NetworkException
            | WaitingForCoordinator
            | UnknownTopicOrPartition
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_message_mentions_partitions() {
        let e = KafkaError::TopicAlreadyExists {
            topic: "t".into(),
            partitions: Some(3),
        };
        assert_eq!(e.to_string(), "topic 't' already exists with 3 partitions");
        let e = KafkaError::TopicAlreadyExists {
            topic: "t".into(),
            partitions: None,
        };
        assert_eq!(e.to_string(), "topic 't' already exists");
    }

    #[test]
    fn codes_and_retriability() {
        let e = KafkaError::Delivery {
            topic: "t".into(),
            source: RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
        };
        assert_eq!(e.code(), Some(RDKafkaErrorCode::QueueFull));
        assert!(e.is_retriable());
        let e = KafkaError::topic(
            "create topic",
            "t",
            RdKafkaError::AdminOp(RDKafkaErrorCode::InvalidPartitions),
        );
        assert!(!e.is_retriable());
        assert!(e.to_string().contains("create topic on topic 't'"));
        assert!(!KafkaError::InvalidArgument("x".into()).is_retriable());
    }
}
