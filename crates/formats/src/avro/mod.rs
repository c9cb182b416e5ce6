//! AVRO: Confluent's wire format (magic byte 0, 4-byte big-endian schema id, Avro binary datum)
//! with ksqlDB's mapping between Avro schemas and KSQL columns.
//!
//! - [`schema`]: Avro schema → columns (inference for `CREATE` without columns) and columns →
//!   the Avro schema ksqlDB registers for a sink.
//! - [`read`]: a record's datum, read with its writer schema straight into Arrow builders.
//! - [`write`]: Arrow columns straight into datums of a registered schema.
//!
//! Schemas come from a [`sluice_registry::SchemaRegistry`]; the decoder caches the compiled
//! reading plan per writer schema id.

pub(crate) mod read;
pub use read::twos_complement;

pub use write::decimal_bytes;
pub mod schema;
pub(crate) mod write;

/// Confluent's magic byte in front of every schema-registry-framed record.
pub const MAGIC_BYTE: u8 = 0;

/// Split a Confluent-framed record into its schema id and payload.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    match bytes {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [] => Err("Unknown magic byte!: empty record".to_string()),
        [m, ..] if *m != MAGIC_BYTE => Err(format!("Unknown magic byte!: {m}")),
        _ => Err("record too short for the schema registry header".to_string()),
    }
}

/// Start a Confluent-framed record for schema `id`.
pub fn frame(id: u32, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity + 5);
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Parse an Avro schema text, with the error ksqlDB's users see.
pub fn parse(text: &str) -> Result<apache_avro::Schema, String> {
    apache_avro::Schema::parse_str(text).map_err(|e| format!("Invalid Avro schema: {e}"))
}

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::Fields;
use sluice_registry::SchemaRegistry;

use crate::builder::ColumnBuilder;
use crate::view::View;
use read::{Node, Reader};
use schema::Names;
use write::WNode;

/// How a writer schema's datum fills the columns.
#[derive(Debug)]
enum ReadPlan {
    /// A record whose fields fill columns.
    Row(Vec<(Option<usize>, Node)>),
    /// The whole datum is the one column.
    Single(Node),
}

/// Decodes AVRO records, compiling a plan per writer schema id the first time it is seen.
#[derive(Debug)]
pub(crate) struct AvroDecoder {
    registry: Arc<dyn SchemaRegistry>,
    fields: Fields,
    unwrapped: bool,
    plans: HashMap<u32, Arc<ReadPlan>>,
}

impl AvroDecoder {
    pub(crate) fn new(registry: Arc<dyn SchemaRegistry>, fields: Fields, unwrapped: bool) -> Self {
        AvroDecoder {
            registry,
            fields,
            unwrapped,
            plans: HashMap::new(),
        }
    }

    fn plan(&mut self, id: u32) -> Result<Arc<ReadPlan>, String> {
        if let Some(p) = self.plans.get(&id) {
            return Ok(p.clone());
        }
        let registered = self
            .registry
            .by_id(id)
            .map_err(|e| format!("Failed to fetch the writer schema {id}: {e}"))?;
        let schema = parse(&registered.schema.text)?;
        let names = Names::new(&schema)?;
        let plan = if self.unwrapped {
            ReadPlan::Single(read::compile(
                &names,
                &schema,
                Some(self.fields[0].data_type()),
                0,
            )?)
        } else {
            match names.resolve(&schema)? {
                apache_avro::Schema::Record(r) => ReadPlan::Row(read::record_fields(
                    &names,
                    r.fields.iter().map(|f| (f.name.as_str(), &f.schema)),
                    Some(&self.fields),
                    0,
                )?),
                other => {
                    return Err(format!(
                        "Expected an Avro record for the columns {}, got {}",
                        self.fields
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        other.canonical_form()
                    ))
                }
            }
        };
        tracing::debug!(schema_id = id, "compiled an Avro reading plan");
        let plan = Arc::new(plan);
        self.plans.insert(id, plan.clone());
        Ok(plan)
    }

    pub(crate) fn decode(
        &mut self,
        bytes: &[u8],
        columns: &mut [ColumnBuilder],
    ) -> Result<(), String> {
        let (id, payload) = unframe(bytes)?;
        let plan = self.plan(id)?;
        let mut r = Reader { buf: payload };
        match plan.as_ref() {
            ReadPlan::Single(node) => read::read(node, &mut r, Some(&mut columns[0])),
            ReadPlan::Row(fields) => read::read_fields(fields, &mut r, columns),
        }
    }
}

/// Encodes rows as AVRO datums of one registered schema.
#[derive(Debug)]
pub(crate) struct AvroEncoder {
    id: u32,
    plan: WritePlan,
}

#[derive(Debug)]
enum WritePlan {
    Row(Vec<(Option<usize>, WNode)>),
    Single(WNode),
}

impl AvroEncoder {
    pub(crate) fn new(
        registry: &dyn SchemaRegistry,
        id: u32,
        fields: &Fields,
        unwrapped: bool,
    ) -> Result<Self, String> {
        let registered = registry
            .by_id(id)
            .map_err(|e| format!("Failed to fetch the schema {id}: {e}"))?;
        let schema = parse(&registered.schema.text)?;
        let names = Names::new(&schema)?;
        let plan = if unwrapped {
            WritePlan::Single(write::compile(&names, &schema, fields[0].data_type(), 0)?)
        } else {
            match names.resolve(&schema)? {
                apache_avro::Schema::Record(r) => WritePlan::Row(write::record_fields(
                    &names,
                    r.fields
                        .iter()
                        .map(|f| (f.name.as_str(), &f.schema, f.default.as_ref())),
                    fields,
                    0,
                )?),
                other => {
                    return Err(format!(
                        "The schema {id} is not an Avro record but {}",
                        other.canonical_form()
                    ))
                }
            }
        };
        Ok(AvroEncoder { id, plan })
    }

    /// Row `i` of `views` as a framed record; `None` for a null single unwrapped value.
    pub(crate) fn encode(
        &self,
        views: &[View<'_>],
        i: usize,
        size_hint: usize,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut out = frame(self.id, size_hint);
        match &self.plan {
            WritePlan::Single(node) => {
                if views[0].is_null(i) {
                    return Ok(None);
                }
                write::write(node, &views[0], i, &mut out)?;
            }
            WritePlan::Row(fields) => write::write_fields(fields, views, i, &mut out)?,
        }
        Ok(Some(out))
    }
}
