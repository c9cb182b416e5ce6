//! Topic administration: [`TopicAdmin`], implemented by [`KafkaAdmin`] (Kafka's Admin API, for
//! real clusters such as Apache Kafka, Redpanda or tansu) and by the embedded admin (the mock
//! cluster's own API, see [`embedded_admin`]).
//!
//! Both read topic existence and partition counts from metadata requests.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::metadata::MetadataTopic;
use tracing::{debug, info, warn};

use crate::config::KafkaConfig;
use crate::context::SluiceContext;
use crate::embedded::{create_topic_via, Command, EmbeddedBroker};
use crate::error::KafkaError;

/// How long metadata requests and admin operations may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `create_topic`/`delete_topic` wait for the change to show in metadata.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(10);

/// What metadata says about a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: i32,
    /// Replication factor (replicas of partition 0; 0 if the topic has no partitions).
    pub replicas: i32,
}

impl TopicInfo {
    /// Kafka-internal topics (`__consumer_offsets`, `__transaction_state`, ...).
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

/// Where topics are managed.
#[async_trait]
pub trait TopicAdmin: Send + Sync {
    /// Creates a topic. `partitions` must be >= 1; `replicas` may be -1 for the broker default.
    /// When the topic already exists this fails with [`KafkaError::TopicAlreadyExists`]
    /// (carrying the existing partition count when known) and the caller decides whether that
    /// is acceptable. On success the topic is visible in metadata (waits up to 10 s).
    async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replicas: i32,
        config: &[(String, String)],
    ) -> Result<(), KafkaError>;

    /// Deletes a topic. [`KafkaError::UnknownTopic`] when it does not exist;
    /// [`KafkaError::Unsupported`] on the embedded mock cluster (it cannot delete topics).
    async fn delete_topic(&self, name: &str) -> Result<(), KafkaError>;

    /// The topic's partition count and replication factor, `None` when it does not exist.
    async fn describe_topic(&self, name: &str) -> Result<Option<TopicInfo>, KafkaError>;

    /// All topics sorted by name; internal `__*` topics only when `include_internal`.
    async fn list_all_topics(&self, include_internal: bool) -> Result<Vec<TopicInfo>, KafkaError>;

    /// User topics (no `__*` internal topics), sorted by name.
    async fn list_topics(&self) -> Result<Vec<TopicInfo>, KafkaError> {
        self.list_all_topics(false).await
    }

    /// What one partition keeps when the broker drops its oldest records by size alone, not by
    /// time or by consumption: `(bytes, records)`. The embedded mock cluster keeps about 5 MiB
    /// or 100 000 records per partition; a real cluster keeps what the topic's retention says
    /// (`None`). A query whose stages meet at an internal topic keeps the writer's lead over
    /// the reader well inside this, so no record is dropped before it is read.
    fn bounded_retention(&self) -> Option<(u64, u64)> {
        None
    }
}

type Admin = AdminClient<SluiceContext>;

fn validate(name: &str, partitions: i32, replicas: i32) -> Result<(), KafkaError> {
    if name.is_empty() || name.len() > 249 {
        return Err(KafkaError::InvalidArgument(format!(
            "topic name must be 1..=249 characters: '{name}'"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(KafkaError::InvalidArgument(format!(
            "topic name '{name}' contains '{c}' (allowed: ASCII letters, digits, '.', '_', '-')"
        )));
    }
    if name == "." || name == ".." {
        return Err(KafkaError::InvalidArgument(format!(
            "'{name}' is not a valid topic name"
        )));
    }
    if partitions < 1 {
        return Err(KafkaError::InvalidArgument(format!(
            "topic '{name}' needs at least 1 partition, got {partitions}"
        )));
    }
    if replicas == 0 || replicas < -1 {
        return Err(KafkaError::InvalidArgument(format!(
            "topic '{name}' replication factor must be >= 1 or -1 (broker default), got {replicas}"
        )));
    }
    Ok(())
}

fn topic_info(t: &MetadataTopic) -> TopicInfo {
    TopicInfo {
        name: t.name().to_string(),
        partitions: t.partitions().len() as i32,
        replicas: t
            .partitions()
            .first()
            .map(|p| p.replicas().len() as i32)
            .unwrap_or(0),
    }
}

/// Blocking: metadata for one topic through `client`. Never auto-creates (our clients set
/// `allow.auto.create.topics=false`).
pub(crate) fn describe_blocking(
    client: &Client<SluiceContext>,
    name: &str,
) -> Result<Option<TopicInfo>, KafkaError> {
    let md = client
        .fetch_metadata(Some(name), REQUEST_TIMEOUT)
        .map_err(|e| KafkaError::topic("describe topic", name, e))?;
    let Some(t) = md.topics().iter().find(|t| t.name() == name) else {
        return Ok(None);
    };
    match t.error().map(RDKafkaErrorCode::from) {
        None => Ok(Some(topic_info(t))),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) | Some(RDKafkaErrorCode::UnknownTopic) => {
            Ok(None)
        }
        // Just created, leaders not elected yet: it exists, partitions may be listed already.
        Some(RDKafkaErrorCode::LeaderNotAvailable) if !t.partitions().is_empty() => {
            Ok(Some(topic_info(t)))
        }
        Some(code) => Err(KafkaError::topic(
            "describe topic",
            name,
            RdKafkaError::MetadataFetch(code),
        )),
    }
}

/// Blocking: all topics.
pub(crate) fn list_blocking(
    client: &Client<SluiceContext>,
    include_internal: bool,
) -> Result<Vec<TopicInfo>, KafkaError> {
    let md = client
        .fetch_metadata(None, REQUEST_TIMEOUT)
        .map_err(|e| KafkaError::op("list topics", e))?;
    let mut out: Vec<TopicInfo> = md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(topic_info)
        .filter(|t| include_internal || !t.is_internal())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Runs a blocking metadata call off the async threads.
async fn blocking<T, F>(admin: &Arc<Admin>, f: F) -> Result<T, KafkaError>
where
    T: Send + 'static,
    F: FnOnce(&Client<SluiceContext>) -> Result<T, KafkaError> + Send + 'static,
{
    let admin = admin.clone();
    tokio::task::spawn_blocking(move || f(admin.inner()))
        .await
        .map_err(|e| KafkaError::Embedded(format!("metadata task failed: {e}")))?
}

async fn describe(admin: &Arc<Admin>, name: &str) -> Result<Option<TopicInfo>, KafkaError> {
    let name = name.to_string();
    blocking(admin, move |c| describe_blocking(c, &name)).await
}

/// Polls metadata until `done(describe(name))` or the propagation timeout passes. Returns
/// whether it converged.
async fn wait_for_metadata(
    admin: &Arc<Admin>,
    name: &str,
    done: impl Fn(&Option<TopicInfo>) -> bool,
) -> Result<bool, KafkaError> {
    let deadline = Instant::now() + PROPAGATION_TIMEOUT;
    let mut pause = Duration::from_millis(20);
    loop {
        if done(&describe(admin, name).await?) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

fn create_admin_client(config: &KafkaConfig) -> Result<Arc<Admin>, KafkaError> {
    let c = config.admin_config();
    let ctx = SluiceContext::new(config.client_id("admin"));
    AdminClient::from_config_and_context(&c, ctx)
        .map(Arc::new)
        .map_err(|source| KafkaError::ClientCreation {
            role: "admin",
            source,
        })
}

/// [`TopicAdmin`] over Kafka's Admin API (CreateTopics/DeleteTopics) plus metadata requests.
pub struct KafkaAdmin {
    admin: Arc<Admin>,
}

impl KafkaAdmin {
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        Ok(KafkaAdmin {
            admin: create_admin_client(config)?,
        })
    }

    fn options() -> AdminOptions {
        AdminOptions::new()
            .operation_timeout(Some(REQUEST_TIMEOUT))
            .request_timeout(Some(REQUEST_TIMEOUT))
    }
}

#[async_trait]
impl TopicAdmin for KafkaAdmin {
    async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replicas: i32,
        config: &[(String, String)],
    ) -> Result<(), KafkaError> {
        validate(name, partitions, replicas)?;
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replicas));
        for (k, v) in config {
            topic = topic.set(k, v);
        }
        let results = self
            .admin
            .create_topics([&topic], &Self::options())
            .await
            .map_err(|e| KafkaError::topic("create topic", name, e))?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    let existing = describe(&self.admin, name).await.ok().flatten();
                    return Err(KafkaError::TopicAlreadyExists {
                        topic: name.to_string(),
                        partitions: existing.map(|t| t.partitions),
                    });
                }
                Err((_, code)) => {
                    return Err(KafkaError::topic(
                        "create topic",
                        name,
                        RdKafkaError::AdminOp(code),
                    ))
                }
            }
        }
        let visible = wait_for_metadata(&self.admin, name, |t| {
            t.as_ref().is_some_and(|t| t.partitions == partitions)
        })
        .await?;
        if visible {
            info!(topic = name, partitions, replicas, "topic created");
        } else {
            warn!(
                topic = name,
                partitions, "topic created but not yet visible in metadata"
            );
        }
        Ok(())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), KafkaError> {
        let results = self
            .admin
            .delete_topics(&[name], &Self::options())
            .await
            .map_err(|e| KafkaError::topic("delete topic", name, e))?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                    return Err(KafkaError::UnknownTopic {
                        topic: name.to_string(),
                    })
                }
                Err((_, code)) => {
                    return Err(KafkaError::topic(
                        "delete topic",
                        name,
                        RdKafkaError::AdminOp(code),
                    ))
                }
            }
        }
        if !wait_for_metadata(&self.admin, name, |t| t.is_none()).await? {
            warn!(topic = name, "topic deleted but still visible in metadata");
        } else {
            info!(topic = name, "topic deleted");
        }
        Ok(())
    }

    async fn describe_topic(&self, name: &str) -> Result<Option<TopicInfo>, KafkaError> {
        describe(&self.admin, name).await
    }

    async fn list_all_topics(&self, include_internal: bool) -> Result<Vec<TopicInfo>, KafkaError> {
        blocking(&self.admin, move |c| list_blocking(c, include_internal)).await
    }
}

/// [`TopicAdmin`] for an [`EmbeddedBroker`]: creates topics through the mock cluster's API,
/// reads metadata over the wire. Topic configs are accepted and ignored (the mock has none);
/// deletion is [`KafkaError::Unsupported`]. Fails with [`KafkaError::Embedded`] after the
/// broker was dropped.
pub struct EmbeddedAdmin {
    commands: mpsc::Sender<Command>,
    admin: Arc<Admin>,
}

/// The [`TopicAdmin`] to use with an [`EmbeddedBroker`].
pub fn embedded_admin(broker: &EmbeddedBroker) -> Result<Arc<dyn TopicAdmin>, KafkaError> {
    let config =
        KafkaConfig::new(broker.bootstrap_servers()).with_client_id_prefix("sluice-embedded");
    Ok(Arc::new(EmbeddedAdmin {
        commands: broker.command_sender(),
        admin: create_admin_client(&config)?,
    }))
}

#[async_trait]
impl TopicAdmin for EmbeddedAdmin {
    fn bounded_retention(&self) -> Option<(u64, u64)> {
        Some((5 << 20, 100_000))
    }

    async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replicas: i32,
        config: &[(String, String)],
    ) -> Result<(), KafkaError> {
        validate(name, partitions, replicas)?;
        if !config.is_empty() {
            debug!(
                topic = name,
                ?config,
                "embedded broker ignores topic configs"
            );
        }
        let replicas = if replicas == -1 { 1 } else { replicas };
        match create_topic_via(&self.commands, name, partitions, replicas).await {
            Ok(()) => {
                info!(topic = name, partitions, "topic created (embedded)");
                Ok(())
            }
            Err(e) if e.code() == Some(RDKafkaErrorCode::TopicAlreadyExists) => {
                let existing = describe(&self.admin, name).await.ok().flatten();
                Err(KafkaError::TopicAlreadyExists {
                    topic: name.to_string(),
                    partitions: existing.map(|t| t.partitions),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn delete_topic(&self, _name: &str) -> Result<(), KafkaError> {
        Err(KafkaError::Unsupported {
            operation: "deleting a topic",
            backend: "the embedded mock cluster",
        })
    }

    async fn describe_topic(&self, name: &str) -> Result<Option<TopicInfo>, KafkaError> {
        describe(&self.admin, name).await
    }

    async fn list_all_topics(&self, include_internal: bool) -> Result<Vec<TopicInfo>, KafkaError> {
        blocking(&self.admin, move |c| list_blocking(c, include_internal)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate("orders", 1, 1).is_ok());
        assert!(validate("a.b_c-D9", 12, -1).is_ok());
        assert!(validate("", 1, 1).is_err());
        assert!(validate("has space", 1, 1).is_err());
        assert!(validate("..", 1, 1).is_err());
        assert!(validate("t", 0, 1).is_err());
        assert!(validate("t", 1, 0).is_err());
        assert!(validate(&"x".repeat(250), 1, 1).is_err());
    }

    #[test]
    fn internal_topics() {
        let t = |n: &str| TopicInfo {
            name: n.into(),
            partitions: 1,
            replicas: 1,
        };
        assert!(t("__consumer_offsets").is_internal());
        assert!(!t("_sluice_commands").is_internal());
    }
}
