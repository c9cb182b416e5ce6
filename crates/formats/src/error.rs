//! The crate's one error type.

/// Everything that can go wrong choosing, validating, decoding or encoding a format.
///
/// Messages follow ksqlDB's texts where ksqlDB has one, so that conformance tests which look for a
/// substring of ksqlDB's message find it. Decode and encode errors carry no topic, partition or
/// offset: the caller knows those and adds them (ksqlDB: `Failed to deserialize value from topic:
/// T. <message>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A format name that no format answers to.
    #[error("Unknown format: {0}")]
    UnknownFormat(String),
    /// A format ksqlDB has but Sluice does not implement yet (AVRO, PROTOBUF, JSON_SR, ...).
    #[error("The '{0}' format is not supported yet")]
    NotImplemented(String),
    /// A format option with a bad value, e.g. a delimiter of several characters.
    #[error("Configuration {option} is invalid: {reason}")]
    InvalidOption {
        /// The option as the user writes it, e.g. `VALUE_DELIMITER`.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The format cannot carry these columns in this part of the record, or an option does not
    /// apply to the format (checked at CREATE time, and again by `Decoder::new` / `Encoder::new`).
    #[error("{0}")]
    Unsupported(String),
    /// A record's bytes could not be turned into a row. The decoder appended nothing.
    #[error("{0}")]
    Decode(String),
    /// Rows that could not be encoded, e.g. columns that do not match the encoder's fields.
    #[error("{0}")]
    Encode(String),
}
