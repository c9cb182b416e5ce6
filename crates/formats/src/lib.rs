//! Sluice's serialization formats: Kafka record keys and values ⇄ Arrow columns, with ksqlDB's
//! semantics for the formats `JSON`, `DELIMITED`, `KAFKA` and `NONE`.
//!
//! # Entry points
//! - [`FormatKind`] (parsed case-insensitively from a `FORMAT` / `KEY_FORMAT` / `VALUE_FORMAT`
//!   name), [`FormatOptions`] (`KEY_DELIMITER` / `VALUE_DELIMITER`, `WRAP_SINGLE_VALUE`) and
//!   [`Format`] which pairs them.
//! - [`Format::validate`]: at CREATE time, whether a format can carry a set of columns in the key
//!   or the value ([`Part`]), with ksqlDB's error texts.
//! - [`Decoder`]: appends one record part at a time into Arrow columns, then
//!   [`Decoder::finish`] hands out one array per column. A record that fails leaves no partial
//!   row; `None` bytes (tombstones, missing keys) append a row of nulls.
//! - [`Encoder`]: turns columns back into one `Option<Vec<u8>>` per row.
//!
//! # Types
//! Columns are Arrow fields with the integrator's fixed mapping: BOOLEAN→Boolean, INT→Int32,
//! BIGINT→Int64, DOUBLE→Float64, DECIMAL(p,s)→Decimal128(p,s), STRING→Utf8, BYTES→Binary,
//! DATE→Date32, TIME→Time32(ms), TIMESTAMP→Timestamp(ms), ARRAY→List, MAP→Map (unsorted
//! `entries` with `key`/`value`), STRUCT→Struct. Field names are the canonical KSQL names.
//!
//! # Formats
//! - JSON: an object per record, members matched to columns exactly or upper-cased, missing
//!   members null, extra ones ignored; a single key column, or a single value column with
//!   `WRAP_SINGLE_VALUE=false`, is the bare value. Reading coerces as ksqlDB's
//!   `KsqlJsonDeserializer` does (numeric strings to numbers, any value to STRING, base64 to
//!   BYTES, ...); writing follows Kafka Connect's JsonConverter as ksqlDB configures it.
//! - DELIMITED: one line, `,` by default, CSV quoting as commons-csv 1.4 does it, empty = null.
//! - KAFKA: one INT (4 bytes big-endian), BIGINT (8), DOUBLE (8, IEEE), STRING or BYTES column.
//! - NONE: no columns; decoding ignores the bytes, encoding yields no bytes.
//! - AVRO ([`avro`]): Avro datums in Confluent's schema-registry framing.
//! - PROTOBUF / PROTOBUF_NOSR ([`protobuf`]): Protobuf messages, framed with the schema id and
//!   message indexes, or bare with the schema generated from the columns.
//! - JSON_SR: JSON as above behind Confluent's schema-registry header (magic byte 0, the schema
//!   id); [`json_schema`] infers columns from a registered JSON Schema and generates the schema
//!   registered for a sink's columns.
//!
//! Any part with no columns (a keyless stream) ignores its bytes whatever the format.
//!
//! # Not here
//! Kafka Streams' windowed keys are the dataflow's business. Naming the topic, partition and
//! offset of a failed record is the caller's job. The crate does no network I/O itself: schemas
//! come through the [`sluice_registry::SchemaRegistry`] the caller hands in.

pub mod avro;
mod builder;
mod codec;
mod decimal;
mod delimited;
mod error;
mod format;
mod json;
pub use json::schema as json_schema;
mod kafka;
pub mod protobuf;
mod text;
mod types;
mod view;

pub use codec::{Decoder, Encoder};
pub use decimal::decimal_text;
pub use error::FormatError;
pub use format::{
    parse_delimiter, Format, FormatKind, FormatOptions, NullableRepresentation, Part,
    DEFAULT_DELIMITER,
};

#[cfg(test)]
mod testutil;
