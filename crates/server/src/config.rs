//! How the server is started.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where Kafka is.
#[derive(Debug, Clone)]
pub enum KafkaMode {
    /// The zero-config playground: an in-process Kafka-protocol broker (librdkafka's mock
    /// cluster). Nothing survives exit.
    Embedded,
    /// A real cluster at these bootstrap servers.
    External(String),
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub kafka: KafkaMode,
    /// Where state lives. `None` means a temporary directory removed at exit.
    pub data_dir: Option<PathBuf>,
    /// The PostgreSQL-protocol address.
    pub listen: SocketAddr,
    /// `ksql.service.id`: names the command topic and the query consumer groups.
    pub service_id: String,
    /// An external Confluent-compatible Schema Registry (`--schema-registry URL`). Without
    /// one, Sluice keeps its own registry in the data directory.
    pub schema_registry: Option<String>,
    /// Where Sluice's own registry serves Confluent's REST API (`None`: not served). Ignored
    /// with an external registry.
    pub schema_registry_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            kafka: KafkaMode::Embedded,
            data_dir: None,
            listen: "127.0.0.1:6875".parse().expect("valid address"),
            service_id: "default_".into(),
            schema_registry: None,
            schema_registry_listen: None,
        }
    }
}

impl ServerConfig {
    /// ksqlDB's command topic name for this service.
    pub fn command_topic(&self) -> String {
        format!("_confluent-ksql-{}_command_topic", self.service_id)
    }

    /// Consumer group of a persistent query (ksqlDB's naming).
    pub fn query_group(&self, query_id: &str) -> String {
        format!("_confluent-ksql-{}query_{query_id}", self.service_id)
    }

    /// Consumer group of a transient (push) query.
    pub fn transient_group(&self) -> String {
        format!(
            "_confluent-ksql-{}transient_{}",
            self.service_id,
            uuid::Uuid::new_v4().simple()
        )
    }
}
