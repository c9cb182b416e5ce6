//! Schema registries: where AVRO, PROTOBUF and JSON_SR schemas live, by subject and by id, with
//! the data model of Confluent's Schema Registry (subjects `<topic>-key` / `<topic>-value`,
//! versions per subject, globally unique ids, one id per distinct schema).
//!
//! # Entry points
//! - [`SchemaRegistry`]: the contract the formats and the engine use — look a schema up by id,
//!   find a subject's latest version, register a schema under a subject.
//! - [`LocalRegistry`]: Sluice's own registry, in memory and optionally persisted in a sled tree;
//!   the zero-config playground serves it over Confluent's REST API.
//! - [`serve`] (also [`rest::serve`]): Confluent's REST API over any `Arc<dyn SchemaRegistry>`,
//!   for Kafka clients' serializers and tools.
//! - [`HttpRegistry`]: a [`SchemaRegistry`] that asks an external Confluent-compatible registry
//!   over HTTP (blocking, `http://` only, `by_id` cached).
//! - [`Schema`], [`SchemaType`], [`Registered`]: what is stored.
//!
//! # The REST API ([`serve`])
//! Answers are JSON with content type `application/vnd.schemaregistry.v1+json`; request content
//! types are not checked (`application/json` works). Subjects in paths are percent-decoded.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /` | `{}` |
//! | `GET /subjects` (`?subjectPrefix=`) | `["a-value", ...]` |
//! | `GET /subjects/{s}/versions` | `[1, 2]` |
//! | `POST /subjects/{s}/versions` `{"schema", "schemaType"?, "references"?}` | `{"id": N}`; 409/409 when incompatible with the subject's earlier versions at its level |
//! | `GET /subjects/{s}/versions/{v}` (`v` a number, `latest` or `-1`) | `{"subject", "version", "id", "schema", "schemaType"?}` |
//! | `GET /subjects/{s}/versions/{v}/schema` | the schema's text |
//! | `GET /subjects/{s}/versions/{v}/referencedby` | the ids of the schemas referencing it |
//! | `POST /compatibility/subjects/{s}/versions/{v}` (`?verbose=true`) | `{"is_compatible": true}` (with `messages`) |
//! | `POST /subjects/{s}` `{"schema", "schemaType"?}` | the version holding it: `{"subject", "id", "version", "schema", "schemaType"?}` |
//! | `DELETE /subjects/{s}` | the versions deleted, `[1, 2]` (ids stay valid) |
//! | `GET /schemas/ids/{id}` | `{"schema", "schemaType"?}` |
//! | `GET /schemas/ids/{id}/schema` | the schema's text |
//! | `GET /schemas/ids/{id}/subjects`, `.../versions` | `["s"]`, `[{"subject", "version"}]` |
//! | `GET /schemas/types` | `["JSON", "PROTOBUF", "AVRO"]` |
//! | `GET`, `PUT /config`; `GET`, `PUT`, `DELETE /config/{s}` (`?defaultToGlobal=true`) | `{"compatibilityLevel": "BACKWARD"}`; `PUT` takes and answers `{"compatibility": "FULL"}` |
//!
//! `schemaType` is left out for AVRO, as Confluent does. Errors are
//! `{"error_code": N, "message": "..."}`: 404/40401 subject not found, 404/40402 version not
//! found, 404/40403 schema not found, 404/40408 no subject-level compatibility, 422/42201 invalid
//! schema (AVRO and JSON schemas must parse as JSON; unknown `schemaType`; a reference to a
//! version that does not exist), 422/42202 invalid version, 422/42203 invalid compatibility level, 400/400 a body
//! that is not the JSON expected, 413/413 a body over 16 MiB, 404/404 unknown route, 405/405 known
//! route with another method, 500/50001 storage failure, 500/50003 the registry behind is
//! unavailable.
//!
//! Compatibility levels are kept in memory (global default BACKWARD) and enforced on
//! registrations through the REST API ([`compat`]: AVRO checked structurally, PROTOBUF and
//! JSON only for a change of type); the engine's own registrations (sink schemas) are not
//! checked. Not supported yet: deleting single versions, permanent (hard) deletes, modes,
//! contexts, HTTPS and authentication.
//!
//! # Not here
//! Parsing or checking the schemas' contents beyond "AVRO and JSON schemas are JSON" (the formats
//! crate does that).

pub mod compat;
mod error;
mod http;
mod local;
pub mod rest;
mod schema;

pub use error::RegistryError;
pub use http::HttpRegistry;
pub use local::LocalRegistry;
pub use rest::serve;
pub use schema::{Registered, Schema, SchemaReference, SchemaType};

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
