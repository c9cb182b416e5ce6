//! The JSON format: ksqlDB's `JSON` (not `JSON_SR`, which adds a schema-registry header).
//!
//! A single key column, or a single value column with `WRAP_SINGLE_VALUE=false`, is the bare JSON
//! value; otherwise a record is an object with one member per column.

mod decode;
mod encode;

pub(crate) use decode::{JsonDecoder, Shape};
pub(crate) use encode::{row_prefixes, write_json};

#[cfg(test)]
mod tests;
