//! Schema registries: where AVRO, PROTOBUF and JSON_SR schemas live, by subject and by id, with
//! the data model of Confluent's Schema Registry (subjects `<topic>-key` / `<topic>-value`,
//! versions per subject, globally unique ids, one id per distinct schema).
//!
//! # Entry points
//! - [`SchemaRegistry`]: the contract the formats and the engine use — look a schema up by id,
//!   find a subject's latest version, register a schema under a subject.
//! - [`LocalRegistry`]: Sluice's own registry, in memory and optionally persisted in a sled tree;
//!   the zero-config playground serves it over Confluent's REST API.
//! - [`Schema`], [`SchemaType`], [`Registered`]: what is stored.
//!
//! # Not here
//! Parsing or checking the schemas' contents (the formats crate does that), and
//! compatibility checks beyond "the same schema gets the same id".

mod error;
mod local;
mod schema;

pub use error::RegistryError;
pub use local::LocalRegistry;
pub use schema::{Registered, Schema, SchemaType};

use std::fmt::Debug;

/// A schema registry, as the formats and the engine see it.
///
/// Contract:
/// - ids are global and never reused; [`SchemaRegistry::by_id`] of an id that
///   [`SchemaRegistry::register`] returned always answers the same schema;
/// - registering a schema equal to one already under the subject (equal after normalizing the
///   text, see [`Schema::normalized`]) returns the existing id and adds no version;
/// - registering a schema known under another subject reuses its id (as Confluent does);
/// - calls are synchronous and may block (an external registry is asked over HTTP); callers
///   cache what they look up by id, which never changes.
pub trait SchemaRegistry: Send + Sync + Debug {
    /// The schema with this id.
    fn by_id(&self, id: u32) -> Result<Registered, RegistryError>;
    /// The latest version registered under `subject`, or `None` when there is none.
    fn latest(&self, subject: &str) -> Result<Option<Registered>, RegistryError>;
    /// Register `schema` under `subject`; answers its id (new or existing).
    fn register(&self, subject: &str, schema: &Schema) -> Result<u32, RegistryError>;
    /// The subjects that have at least one version, sorted.
    fn subjects(&self) -> Result<Vec<String>, RegistryError>;
    /// The versions of `subject`, ascending (empty when the subject is unknown).
    fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError>;
    /// One version of `subject`.
    fn version(&self, subject: &str, version: u32) -> Result<Option<Registered>, RegistryError>;
    /// Delete `subject` with all its versions; answers the versions deleted. Ids stay valid.
    fn delete_subject(&self, subject: &str) -> Result<Vec<u32>, RegistryError>;
}

/// The subject of a topic's key or value schema (Confluent's `TopicNameStrategy`).
pub fn subject_name(topic: &str, key: bool) -> String {
    format!("{topic}-{}", if key { "key" } else { "value" })
}
