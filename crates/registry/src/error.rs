//! The crate's one error type.

/// What can go wrong asking a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No schema has this id (Confluent's error 40403).
    #[error("Schema {0} not found")]
    SchemaNotFound(u32),
    /// The subject has no versions (Confluent's error 40401).
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// The registry could not be reached or answered something unexpected.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
    /// The registry's storage failed.
    #[error("schema registry storage: {0}")]
    Storage(String),
    /// The schema text is not a valid document of its type.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
}
