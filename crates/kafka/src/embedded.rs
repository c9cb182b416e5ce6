//! [`EmbeddedBroker`]: librdkafka's in-process mock cluster, for the zero-config playground and
//! for tests.
//!
//! See [`EmbeddedBroker`] for what the mock cluster can and cannot do.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use tokio::sync::oneshot;
use tracing::{debug, info};

use crate::config::KafkaConfig;
use crate::context::{librdkafka_log_level, SluiceContext};
use crate::error::KafkaError;

/// `session.timeout.ms` used by [`EmbeddedBroker::kafka_config`] (see the module docs).
pub const EMBEDDED_SESSION_TIMEOUT_MS: u32 = 3000;
/// Group initial rebalance delay configured on the mock cluster.
pub const EMBEDDED_INITIAL_REBALANCE_DELAY_MS: i32 = 100;

/// Requests served by the thread that owns the mock cluster.
pub(crate) enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        replicas: i32,
        reply: oneshot::Sender<Result<(), RdKafkaError>>,
    },
    Shutdown,
}

/// A running embedded (mock) Kafka cluster. `Send + Sync`; stops the cluster when dropped —
/// clients still connected to it will then log connection errors and fail.
///
/// The mock cluster (`rdkafka::mocking::MockCluster`) is not `Send`, so it lives on a dedicated
/// thread that owns it; the handle talks to that thread over a channel. The mock serves real
/// Kafka protocol on loopback ports (produce, fetch, metadata, list-offsets, consumer groups
/// with offset commits, idempotent and transactional producers), so every ordinary client
/// ([`KafkaConfig`](crate::KafkaConfig) with [`EmbeddedBroker::bootstrap_servers`]) works
/// against it. Limits worth knowing:
/// - no CreateTopics/DeleteTopics/DescribeConfigs over the wire: topics are created through the
///   mock's own API ([`crate::embedded_admin`]) and cannot be deleted; topic configs are ignored;
/// - metadata requests that allow auto-creation DO auto-create (with 1 partition by default);
///   our clients set `allow.auto.create.topics=false`, so only foreign clients can trigger it;
/// - each partition keeps only the newest ~5 MiB / 100 000 records (older ones are dropped, the
///   low watermark advances), and nothing survives the process;
/// - consumer groups: when the last member of a group leaves, the mock keeps the group
///   "rebalancing" for `session.timeout.ms - 1 s`, so a consumer rejoining the same group waits
///   that long (44 s with librdkafka's default session timeout). Use
///   [`EmbeddedBroker::kafka_config`], which shortens the session timeout to
///   [`EMBEDDED_SESSION_TIMEOUT_MS`] (rejoin within ~2 s). The first join of a group waits
///   [`EMBEDDED_INITIAL_REBALANCE_DELAY_MS`] (the mock's default is 3 s).
#[derive(Debug)]
pub struct EmbeddedBroker {
    bootstrap: String,
    brokers: i32,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

/// Context of the hidden client that hosts the mock cluster: logs like our other clients (the
/// mock cluster logs through its host client), and ignores deliveries (it never produces).
struct MockHostContext(SluiceContext);

impl ClientContext for MockHostContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.0.log(level, fac, log_message)
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        self.0.error(error, reason)
    }
}

impl ProducerContext for MockHostContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

impl EmbeddedBroker {
    /// Starts a mock cluster with `brokers` brokers (1 is plenty for a playground) on random
    /// loopback ports. Returns once the cluster accepts connections.
    pub fn start(brokers: i32) -> Result<Self, KafkaError> {
        if !(1..=16).contains(&brokers) {
            return Err(KafkaError::InvalidArgument(format!(
                "embedded broker count must be 1..=16, got {brokers}"
            )));
        }
        let (commands, rx) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<String, KafkaError>>(1);
        let thread = std::thread::Builder::new()
            .name("sluice-mock-kafka".into())
            .spawn(move || run_mock_cluster(brokers, rx, ready_tx))
            .map_err(|e| KafkaError::Io {
                context: "spawning the embedded broker thread".into(),
                source: e,
            })?;
        let bootstrap = match ready_rx.recv() {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(KafkaError::Embedded(
                    "mock cluster thread exited during start-up".into(),
                ));
            }
        };
        info!(bootstrap = %bootstrap, brokers, "embedded Kafka mock cluster started");
        Ok(EmbeddedBroker {
            bootstrap,
            brokers,
            commands,
            thread: Some(thread),
        })
    }

    /// `bootstrap.servers` of the mock cluster: `127.0.0.1:PORT[,127.0.0.1:PORT...]`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// A [`KafkaConfig`] for this broker, with consumer-group timings suited to the mock
    /// cluster (short session timeout, see the module docs).
    pub fn kafka_config(&self) -> KafkaConfig {
        KafkaConfig::new(self.bootstrap.clone())
            .with(
                "session.timeout.ms",
                EMBEDDED_SESSION_TIMEOUT_MS.to_string(),
            )
            .with(
                "heartbeat.interval.ms",
                (EMBEDDED_SESSION_TIMEOUT_MS / 6).to_string(),
            )
    }

    /// Number of brokers in the mock cluster.
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    pub(crate) fn command_sender(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }

    /// Creates a topic through the mock cluster's own API. Fails with the broker's
    /// `TopicAlreadyExists` code (as `KafkaError::Topic`) when it exists; see
    /// [`crate::embedded_admin`] for the typed behaviour.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replicas: i32,
    ) -> Result<(), KafkaError> {
        create_topic_via(&self.commands, name, partitions, replicas).await
    }
}

/// Sends a create-topic request to the mock thread and waits for the answer.
pub(crate) async fn create_topic_via(
    commands: &mpsc::Sender<Command>,
    name: &str,
    partitions: i32,
    replicas: i32,
) -> Result<(), KafkaError> {
    let (reply, rx) = oneshot::channel();
    let gone = || KafkaError::Embedded("the embedded broker has been stopped".into());
    commands
        .send(Command::CreateTopic {
            name: name.to_string(),
            partitions,
            replicas,
            reply,
        })
        .map_err(|_| gone())?;
    rx.await
        .map_err(|_| gone())?
        .map_err(|source| KafkaError::topic("create topic", name, source))
}

fn run_mock_cluster(
    brokers: i32,
    commands: mpsc::Receiver<Command>,
    ready: mpsc::SyncSender<Result<String, KafkaError>>,
) {
    let mut config = ClientConfig::new();
    config
        .set("test.mock.num.brokers", brokers.to_string())
        .set("client.id", "sluice-mock-cluster")
        .set_log_level(librdkafka_log_level());
    let ctx = MockHostContext(SluiceContext::new("sluice-mock-cluster"));
    let host: BaseProducer<MockHostContext> =
        match BaseProducer::from_config_and_context(&config, ctx) {
            Ok(p) => p,
            Err(source) => {
                let _ = ready.send(Err(KafkaError::ClientCreation {
                    role: "mock cluster host",
                    source,
                }));
                return;
            }
        };
    let Some(cluster) = host.client().mock_cluster() else {
        let _ = ready.send(Err(KafkaError::Embedded(
            "librdkafka did not create a mock cluster".into(),
        )));
        return;
    };
    // SAFETY: the host client owns the mock cluster and outlives this call; the function only
    // posts a setting to the mock cluster's thread.
    unsafe {
        let mcluster = rdkafka::bindings::rd_kafka_handle_mock_cluster(host.client().native_ptr());
        if !mcluster.is_null() {
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(
                mcluster,
                EMBEDDED_INITIAL_REBALANCE_DELAY_MS,
            );
        }
    }
    if ready.send(Ok(cluster.bootstrap_servers())).is_err() {
        return;
    }
    loop {
        match commands.recv_timeout(Duration::from_millis(200)) {
            Ok(Command::CreateTopic {
                name,
                partitions,
                replicas,
                reply,
            }) => {
                let result = cluster.create_topic(&name, partitions, replicas);
                debug!(topic = %name, partitions, replicas, ok = result.is_ok(), "mock cluster create topic");
                let _ = reply.send(result);
            }
            Ok(Command::Shutdown) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        // Serve the host client's log queue (the mock cluster logs through it).
        host.poll(Duration::ZERO);
    }
    host.poll(Duration::ZERO);
    drop(cluster);
    drop(host);
    debug!("embedded Kafka mock cluster stopped");
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handle_is_send_and_sync() {
        assert_send_sync::<EmbeddedBroker>();
    }

    #[test]
    fn starts_with_loopback_bootstrap_and_stops() {
        let broker = EmbeddedBroker::start(2).expect("start mock cluster");
        let servers: Vec<&str> = broker.bootstrap_servers().split(',').collect();
        assert_eq!(servers.len(), 2, "{}", broker.bootstrap_servers());
        for s in &servers {
            let (host, port) = s.rsplit_once(':').expect("host:port");
            assert!(host == "127.0.0.1" || host == "localhost", "{s}");
            assert!(port.parse::<u16>().unwrap() > 0);
        }
        let first = servers[0].to_string();
        // A TCP connection to the listener must succeed while the broker runs ...
        std::net::TcpStream::connect(&first).expect("listener accepts connections");
        drop(broker);
        // ... and fail once it is dropped.
        assert!(std::net::TcpStream::connect(&first).is_err());
    }

    #[test]
    fn rejects_silly_broker_counts() {
        assert!(matches!(
            EmbeddedBroker::start(0),
            Err(KafkaError::InvalidArgument(_))
        ));
    }

    #[tokio::test]
    async fn create_topic_twice_reports_already_exists() {
        let broker = EmbeddedBroker::start(1).unwrap();
        broker.create_topic("t1", 3, 1).await.unwrap();
        let err = broker.create_topic("t1", 3, 1).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists),
            "{err}"
        );
    }
}
