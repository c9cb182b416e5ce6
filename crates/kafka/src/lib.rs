//! Sluice's Kafka layer: brokers, topics and clients, on top of rdkafka (librdkafka).
//!
//! What it is for:
//! - reaching a cluster: [`KafkaConfig`] builds tuned clients — [`KafkaConfig::producer`]
//!   (acks=all, idempotent, 5 ms linger, Java-compatible partitioner) and
//!   [`KafkaConfig::consumer`] (group consumer, auto-commit off, low fetch latency,
//!   cooperative-sticky assignment);
//! - running without a cluster: [`EmbeddedBroker`] hosts librdkafka's in-process mock cluster
//!   (the zero-config playground) and [`embedded_admin`] manages its topics;
//! - topics: the [`TopicAdmin`] trait (create/delete/describe/list), from
//!   [`KafkaConfig::admin`] on real clusters;
//! - moving data in batches: [`recv_batch`] (owned [`KafkaRecord`]s, ready to decode as a
//!   whole), [`produce_batch`] (awaits every delivery), [`OffsetTracker`] + [`commit_offsets`]
//!   (commit input offsets only after the outputs were delivered: at-least-once);
//! - replay: [`TopicReader`] / [`read_topic_to_end`] read a topic from the beginning to its
//!   current end without a consumer group (command topic at start-up, `PRINT ... FROM
//!   BEGINNING`); [`topic_watermarks`] (input lag in SHOW QUERIES); [`caught_up`] tells,
//!   from librdkafka's cached watermarks and without a broker round trip, whether a consumer
//!   has read all of a topic (join tasks use it to order their inputs);
//! - logs: every client uses [`SluiceContext`], which routes librdkafka logs into `tracing`
//!   under target `librdkafka`;
//! - tests: with feature `test-support`, `tansu::TansuBroker` runs a tansu broker process.
//!
//! What it is not for: decoding record bytes (that is `sluice-formats`), query execution or
//! state (other crates), schema registries, transactions/exactly-once (not implemented here).
//!
//! All client constructors must be called inside a Tokio runtime.
//!
//! Broker quirks worth knowing:
//! - embedded mock cluster: no topic deletion, no topic configs, ~5 MiB retained per partition,
//!   slow group rejoin unless clients use [`EmbeddedBroker::kafka_config`] (see the docs of
//!   [`EmbeddedBroker`]);
//! - tansu: no transactions; and do not delete a topic while a consumer still fetches it —
//!   tansu answers such fetches in a way that makes librdkafka 2.12 crash (segfault in
//!   leader-discovery handling). Stop the readers of a topic before deleting it.

mod admin;
mod commit;
mod config;
mod context;
mod embedded;
mod error;
mod lag;
mod produce;
mod reader;
mod record;
mod replay;
#[cfg(feature = "test-support")]
pub mod tansu;

pub use admin::{embedded_admin, EmbeddedAdmin, KafkaAdmin, TopicAdmin, TopicInfo};
pub use commit::{commit_offsets, commit_offsets_async, committed_offsets, OffsetTracker};
pub use config::{KafkaConfig, OffsetReset, SluiceConsumer, SluiceProducer};
pub use context::SluiceContext;
pub use embedded::{
    EmbeddedBroker, EMBEDDED_INITIAL_REBALANCE_DELAY_MS, EMBEDDED_SESSION_TIMEOUT_MS,
};
pub use error::KafkaError;
pub use lag::{assigned_positions, assigned_progress, cached_watermarks, caught_up};
pub use produce::{produce_batch, Delivered};
pub use reader::{recv_batch, BatchOptions, MessageSource};
pub use record::{KafkaRecord, ProduceRecord};
pub use replay::{read_topic_to_end, topic_watermarks, TopicReader};

/// rdkafka itself, for the traits callers need (`Consumer::subscribe`, `Producer::flush`, ...).
pub use rdkafka;
