//! The JSON format: ksqlDB's `JSON`, and `JSON_SR`, the same documents behind Confluent's
//! schema-registry header (the codec adds and checks the header; [`schema`] maps JSON Schema
//! documents to columns and back).
//!
//! A single key column, or a single value column with `WRAP_SINGLE_VALUE=false`, is the bare JSON
//! value; otherwise a record is an object with one member per column.

mod decode;
mod encode;
pub mod schema;

pub(crate) use decode::{JsonDecoder, Shape};
pub(crate) use encode::{row_prefixes, write_json};

#[cfg(test)]
mod tests;
