//! The librdkafka client context used by every client this crate creates: routes librdkafka's
//! log lines and error callbacks into `tracing` (target `librdkafka`) at levels that keep a
//! normal `info` log readable, and logs consumer-group rebalances.

use std::sync::Arc;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::TopicPartitionList;
use tracing::{debug, error, info, trace, warn};

/// Client context shared by Sluice's producers, consumers and admin clients.
///
/// `client` names the client in every log line (it is the `client.id` we configured).
#[derive(Debug, Clone)]
pub struct SluiceContext {
    client: Arc<str>,
}

/// Where a librdkafka log line ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routed {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Facilities that are noisy without telling an operator anything actionable. The mock cluster
/// (`MOCK`) announces every listener and every topic it auto-creates at NOTICE level.
const QUIET_FACILITIES: &[&str] = &["MOCK", "CONFWARN", "GETPID", "CLUSTERID"];

pub(crate) fn route_log(level: RDKafkaLogLevel, facility: &str) -> Routed {
    let routed = match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => Routed::Error,
        RDKafkaLogLevel::Warning => Routed::Warn,
        RDKafkaLogLevel::Notice => Routed::Info,
        RDKafkaLogLevel::Info => Routed::Debug,
        RDKafkaLogLevel::Debug => Routed::Trace,
    };
    if QUIET_FACILITIES.contains(&facility) && matches!(routed, Routed::Info | Routed::Warn) {
        Routed::Debug
    } else {
        routed
    }
}

/// Transport-level trouble that librdkafka retries by itself: worth a warning, not an error.
pub(crate) fn is_transient(error: &RdKafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
        )
    )
}

/// The librdkafka log level matching what the current `tracing` subscriber wants from the
/// `librdkafka` target, so librdkafka does not format lines nobody will see.
pub(crate) fn librdkafka_log_level() -> RDKafkaLogLevel {
    if tracing::enabled!(target: "librdkafka", tracing::Level::TRACE) {
        RDKafkaLogLevel::Debug
    } else if tracing::enabled!(target: "librdkafka", tracing::Level::DEBUG) {
        RDKafkaLogLevel::Info
    } else if tracing::enabled!(target: "librdkafka", tracing::Level::INFO) {
        RDKafkaLogLevel::Notice
    } else {
        RDKafkaLogLevel::Warning
    }
}

impl SluiceContext {
    pub fn new(client: impl Into<Arc<str>>) -> Self {
        SluiceContext {
            client: client.into(),
        }
    }

    /// The client id this context logs as.
    pub fn client(&self) -> &str {
        &self.client
    }
}

impl ClientContext for SluiceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let client = &*self.client;
        match route_log(level, fac) {
            Routed::Error => error!(target: "librdkafka", client, facility = fac, "{log_message}"),
            Routed::Warn => warn!(target: "librdkafka", client, facility = fac, "{log_message}"),
            Routed::Info => info!(target: "librdkafka", client, facility = fac, "{log_message}"),
            Routed::Debug => debug!(target: "librdkafka", client, facility = fac, "{log_message}"),
            Routed::Trace => trace!(target: "librdkafka", client, facility = fac, "{log_message}"),
        }
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        let client = &*self.client;
        // rdkafka reports consumer errors here *and* returns them from the consumer; EOF is not
        // an error at all (readers ask for it).
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            trace!(target: "librdkafka", client, "{reason}");
        } else if is_transient(&error) {
            warn!(target: "librdkafka", client, %error, "{reason}");
        } else {
            error!(target: "librdkafka", client, %error, "{reason}");
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| format!("{}[{}]", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(",")
}

impl ConsumerContext for SluiceContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let client = &*self.client;
        match rebalance {
            Rebalance::Assign(tpl) => {
                info!(target: "sluice_kafka::rebalance", client, partitions = %describe(tpl), "partitions assigned")
            }
            Rebalance::Revoke(tpl) => {
                info!(target: "sluice_kafka::rebalance", client, partitions = %describe(tpl), "partitions revoked")
            }
            Rebalance::Error(e) => {
                warn!(target: "sluice_kafka::rebalance", client, error = %e, "rebalance error")
            }
        }
    }

    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        offsets: &TopicPartitionList,
    ) {
        if let Err(e) = result {
            // Synchronous commits also report through their return value; this catches the
            // asynchronous ones (and logs the synchronous failures once more at debug).
            debug!(target: "sluice_kafka::commit", client = &*self.client, error = %e, offsets = %describe(offsets), "offset commit failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_mapped_down_one_step_below_warning() {
        assert_eq!(route_log(RDKafkaLogLevel::Error, "FAIL"), Routed::Error);
        assert_eq!(route_log(RDKafkaLogLevel::Critical, "X"), Routed::Error);
        assert_eq!(
            route_log(RDKafkaLogLevel::Warning, "REQTMOUT"),
            Routed::Warn
        );
        assert_eq!(
            route_log(RDKafkaLogLevel::Notice, "REBALANCE"),
            Routed::Info
        );
        assert_eq!(route_log(RDKafkaLogLevel::Info, "X"), Routed::Debug);
        assert_eq!(route_log(RDKafkaLogLevel::Debug, "X"), Routed::Trace);
    }

    #[test]
    fn mock_cluster_chatter_is_demoted() {
        assert_eq!(route_log(RDKafkaLogLevel::Notice, "MOCK"), Routed::Debug);
        assert_eq!(route_log(RDKafkaLogLevel::Warning, "MOCK"), Routed::Debug);
        // Real errors from the mock stay errors.
        assert_eq!(route_log(RDKafkaLogLevel::Error, "MOCK"), Routed::Error);
    }

    #[test]
    fn transport_errors_are_transient() {
        assert!(is_transient(&RdKafkaError::Global(
            RDKafkaErrorCode::AllBrokersDown
        )));
        assert!(!is_transient(&RdKafkaError::Global(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
    }
}
