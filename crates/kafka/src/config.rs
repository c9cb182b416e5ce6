//! [`KafkaConfig`]: how Sluice reaches a cluster, and the tuned librdkafka clients built from it.

use std::sync::Arc;

use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;

use crate::admin::{KafkaAdmin, TopicAdmin};
use crate::context::{librdkafka_log_level, SluiceContext};
use crate::error::KafkaError;

/// A producer whose logs go to `tracing`.
pub type SluiceProducer = FutureProducer<SluiceContext>;
/// A consumer whose logs go to `tracing` and whose rebalances are logged.
pub type SluiceConsumer = StreamConsumer<SluiceContext>;

/// Where a consumer group starts when it has no committed offset (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// From the first retained record (ksqlDB `'auto.offset.reset'='earliest'`).
    Earliest,
    /// Only records produced from now on (ksqlDB's default).
    #[default]
    Latest,
}

impl OffsetReset {
    pub fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }

    /// Parses the ksqlDB property value (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" => Some(OffsetReset::Earliest),
            "latest" => Some(OffsetReset::Latest),
            _ => None,
        }
    }
}

/// How to reach a Kafka cluster, plus librdkafka properties that override ours.
///
/// All clients built here:
/// - never auto-create topics (`allow.auto.create.topics=false`): topics are created explicitly
///   through a [`TopicAdmin`];
/// - route librdkafka logs into `tracing` via [`SluiceContext`].
///
/// Client creation must happen inside a Tokio runtime (rdkafka's stream consumer spawns a task).
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    pub bootstrap: String,
    /// Prefix of every `client.id` (`{prefix}-producer`, `{prefix}-consumer-{group}`, ...).
    pub client_id_prefix: String,
    /// Raw librdkafka properties applied last (they win over the tuned defaults), e.g.
    /// `("enable.idempotence", "false")` or security settings.
    pub extra: Vec<(String, String)>,
}

impl KafkaConfig {
    pub fn new(bootstrap: impl Into<String>) -> Self {
        KafkaConfig {
            bootstrap: bootstrap.into(),
            client_id_prefix: "sluice".to_string(),
            extra: Vec::new(),
        }
    }

    pub fn with_client_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.client_id_prefix = prefix.into();
        self
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    pub(crate) fn client_id(&self, role: &str) -> String {
        if self.client_id_prefix.is_empty() {
            role.to_string()
        } else {
            format!("{}-{role}", self.client_id_prefix)
        }
    }

    /// Properties common to every client; `extra` is NOT applied yet.
    fn base(&self, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap)
            .set("client.id", client_id)
            .set("allow.auto.create.topics", "false")
            // Small records, latency matters.
            .set("socket.nagle.disable", "true")
            .set_log_level(librdkafka_log_level());
        c
    }

    fn apply_extra(&self, c: &mut ClientConfig) {
        for (k, v) in &self.extra {
            c.set(k, v);
        }
    }

    /// The producer's librdkafka configuration (exposed for inspection and tests).
    pub fn producer_config(&self) -> ClientConfig {
        let mut c = self.base(&self.client_id("producer"));
        c.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            // Java-client compatible key hashing, so Sluice and Kafka Streams/ksqlDB producers
            // put equal keys into the same partition (co-partitioning for joins).
            .set("partitioner", "murmur2_random")
            .set("message.timeout.ms", "60000");
        self.apply_extra(&mut c);
        c
    }

    /// A producer tuned for low latency with full acknowledgement: `linger.ms=5`, `acks=all`,
    /// idempotence on (no duplicates from internal retries), Java-compatible partitioner.
    pub fn producer(&self) -> Result<SluiceProducer, KafkaError> {
        let c = self.producer_config();
        let ctx = SluiceContext::new(self.client_id("producer"));
        FutureProducer::from_config_and_context(&c, ctx).map_err(|source| {
            KafkaError::ClientCreation {
                role: "producer",
                source,
            }
        })
    }

    /// A transactional producer (`transactional.id` = `id`) for exactly-once processing: what
    /// it writes between `begin_transaction` and `commit_transaction` (outputs, changelog
    /// records, consumer offsets) becomes visible to `read_committed` consumers atomically.
    /// `init_transactions` is not called here (it blocks on the coordinator and fences older
    /// producers with the same id): the caller does it.
    pub fn transactional_producer(&self, id: &str) -> Result<SluiceProducer, KafkaError> {
        let mut c = self.producer_config();
        c.set("transactional.id", id)
            .set("transaction.timeout.ms", "60000");
        let ctx = SluiceContext::new(self.client_id("producer-txn"));
        FutureProducer::from_config_and_context(&c, ctx).map_err(|source| {
            KafkaError::ClientCreation {
                role: "transactional producer",
                source,
            }
        })
    }

    /// The consumer's librdkafka configuration (exposed for inspection and tests).
    pub fn consumer_config(&self, group_id: &str, offset_reset: OffsetReset) -> ClientConfig {
        let mut c = self.base(&self.client_id(&format!("consumer-{group_id}")));
        c.set("group.id", group_id)
            .set("auto.offset.reset", offset_reset.as_str())
            // We commit explicitly, after the sink has delivered (at-least-once).
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Latency over batching: brokers answer a fetch within 10 ms even if nearly empty.
            .set("fetch.wait.max.ms", "10")
            .set("fetch.min.bytes", "1")
            .set("fetch.queue.backoff.ms", "50")
            .set("fetch.error.backoff.ms", "100")
            // 16 MiB of prefetched data for the whole consumer queue (per partition once
            // partition queues are split off), instead of librdkafka's 64 MiB.
            .set("queued.max.messages.kbytes", "16384")
            .set("queued.min.messages", "10000")
            // Cooperative-sticky spreads each topic's partitions on its own, so a member may
            // hold partition 1 of a join's stream and not of its table; the join tasks hold
            // their records until they have all their partitions (server's `join_input`).
            // The range assignor would keep them together, but tansu's coordinator answers a
            // new eager leader's SyncGroup with the stale generation's empty assignment after
            // a killed member's session expires, so a restarted server never gets partitions.
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", "45000")
            .set("heartbeat.interval.ms", "3000")
            .set("isolation.level", "read_committed");
        self.apply_extra(&mut c);
        c
    }

    /// A group consumer (use [`Consumer::subscribe`](rdkafka::consumer::Consumer::subscribe)),
    /// with auto-commit off: commit with [`commit_offsets`](crate::commit_offsets) after the
    /// records' results were delivered. Uses the cooperative-sticky assignor.
    pub fn consumer(
        &self,
        group_id: &str,
        offset_reset: OffsetReset,
    ) -> Result<SluiceConsumer, KafkaError> {
        if group_id.is_empty() {
            return Err(KafkaError::InvalidArgument(
                "consumer group id must not be empty".into(),
            ));
        }
        let c = self.consumer_config(group_id, offset_reset);
        let ctx = SluiceContext::new(self.client_id(&format!("consumer-{group_id}")));
        StreamConsumer::from_config_and_context(&c, ctx).map_err(|source| {
            KafkaError::ClientCreation {
                role: "consumer",
                source,
            }
        })
    }

    /// A consumer for reading by explicit assignment (replay, PRINT): it has a throwaway group
    /// id because librdkafka requires one for `assign`, but it never joins the group and never
    /// commits. Emits partition-EOF events.
    pub(crate) fn assign_only_consumer(&self, purpose: &str) -> Result<SluiceConsumer, KafkaError> {
        let group = unique_name(&format!("{}-{purpose}", self.client_id_prefix));
        let mut c = self.consumer_config(&group, OffsetReset::Earliest);
        c.set("client.id", self.client_id(purpose))
            .set("enable.partition.eof", "true");
        self.apply_extra(&mut c);
        let ctx = SluiceContext::new(self.client_id(purpose));
        StreamConsumer::from_config_and_context(&c, ctx).map_err(|source| {
            KafkaError::ClientCreation {
                role: "reader",
                source,
            }
        })
    }

    /// The admin/metadata client configuration.
    pub(crate) fn admin_config(&self) -> ClientConfig {
        let mut c = self.base(&self.client_id("admin"));
        self.apply_extra(&mut c);
        c
    }

    /// Topic administration through Kafka's Admin API (CreateTopics/DeleteTopics) and metadata
    /// requests. Not for the embedded mock cluster: use [`crate::embedded_admin`] there.
    pub fn admin(&self) -> Result<Arc<dyn TopicAdmin>, KafkaError> {
        Ok(Arc::new(KafkaAdmin::new(self)?))
    }
}

/// A name unlikely to collide with anything else: `{prefix}-{pid}-{nanos}-{counter}`.
pub(crate) fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_config_is_tuned_and_extra_wins() {
        let cfg = KafkaConfig::new("127.0.0.1:1")
            .with_client_id_prefix("q1")
            .with("fetch.wait.max.ms", "100");
        let c = cfg.consumer_config("g", OffsetReset::Earliest);
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(c.get("group.id"), Some("g"));
        assert_eq!(c.get("client.id"), Some("q1-consumer-g"));
        assert_eq!(c.get("fetch.wait.max.ms"), Some("100"));
        assert_eq!(
            c.get("partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
    }

    #[test]
    fn producer_config_acks_all() {
        let c = KafkaConfig::new("b:1").producer_config();
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("allow.auto.create.topics"), Some("false"));
        assert_eq!(c.get("bootstrap.servers"), Some("b:1"));
    }

    #[test]
    fn offset_reset_parse() {
        assert_eq!(OffsetReset::parse(" Earliest"), Some(OffsetReset::Earliest));
        assert_eq!(OffsetReset::parse("LATEST"), Some(OffsetReset::Latest));
        assert_eq!(OffsetReset::parse("none"), None);
        assert_eq!(OffsetReset::default(), OffsetReset::Latest);
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("x"), unique_name("x"));
        assert!(unique_name("abc").starts_with("abc-"));
    }

    #[tokio::test]
    async fn bad_property_is_a_client_creation_error() {
        let cfg = KafkaConfig::new("127.0.0.1:1").with("no.such.property", "1");
        match cfg.producer() {
            Err(KafkaError::ClientCreation { role, .. }) => assert_eq!(role, "producer"),
            other => panic!("expected ClientCreation, got {:?}", other.map(|_| ())),
        }
    }
}
