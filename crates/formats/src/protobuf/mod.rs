//! PROTOBUF and PROTOBUF_NOSR: Protobuf messages, in Confluent's schema-registry framing
//! (magic byte 0, 4-byte big-endian schema id, the message-index path, the message) or bare
//! (`PROTOBUF_NOSR`, whose schema is the one generated from the columns), with ksqlDB's mapping
//! between Protobuf schemas and KSQL columns.
//!
//! - [`schema`]: `.proto` text → descriptors (protox), descriptors → columns (inference), columns
//!   → the `.proto` text ksqlDB generates.
//! - `read` / `write`: the wire format straight into Arrow builders and out of Arrow arrays,
//!   with plans compiled once per message (prost-reflect supplies only the descriptors).
//!
//! Keys and values are always messages (Protobuf does not unwrap single values): a key's
//! columns are the fields of the key message.

pub(crate) mod read;
pub use read::{civil_from_days, days_from_civil};
pub mod schema;
pub(crate) mod write;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::Fields;
use sluice_registry::SchemaRegistry;

use crate::avro::{frame, unframe};
use crate::builder::ColumnBuilder;
use crate::format::NullableRepresentation;
use crate::view::View;
use crate::Part;
use read::{MsgPlan, Reader};
use schema::ProtoSchema;
use write::WMsg;

/// The column a message field named `name` fills: same name, else same name ignoring case.
pub(crate) fn find_column(columns: &Fields, name: &str) -> Option<usize> {
    columns.iter().position(|c| c.name() == name).or_else(|| {
        columns
            .iter()
            .position(|c| c.name().eq_ignore_ascii_case(name))
    })
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Read Confluent's message-index path from the front of a framed payload.
pub fn read_message_indexes(payload: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    let mut r = Reader { buf: payload };
    let count = zigzag(r.varint()?);
    if count == 0 {
        return Ok((vec![0], r.buf));
    }
    if !(1..=64).contains(&count) {
        return Err(format!("invalid Protobuf message index count {count}"));
    }
    let mut path = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let i = zigzag(r.varint()?);
        path.push(usize::try_from(i).map_err(|_| format!("invalid message index {i}"))?);
    }
    Ok((path, r.buf))
}

/// Append Confluent's message-index path (`[0]`, the first message, is the single byte 0).
pub fn write_message_indexes(out: &mut Vec<u8>, path: &[usize]) {
    fn zz(out: &mut Vec<u8>, v: i64) {
        let mut u = ((v << 1) ^ (v >> 63)) as u64;
        while u >= 0x80 {
            out.push((u as u8) | 0x80);
            u >>= 7;
        }
        out.push(u as u8);
    }
    if path == [0] {
        out.push(0);
        return;
    }
    zz(out, path.len() as i64);
    for &i in path {
        zz(out, i as i64);
    }
}

/// The schema PROTOBUF_NOSR uses for `fields`: the one generated from the columns.
fn generated(
    fields: &Fields,
    part: Part,
    nullable: NullableRepresentation,
) -> Result<prost_reflect::MessageDescriptor, String> {
    let text = schema::schema_for_columns(fields, part, None, nullable)?;
    ProtoSchema::compile(&text, &[])?.message(None)
}

#[derive(Debug)]
enum Plans {
    /// PROTOBUF: plans per writer schema id and message path.
    Registry {
        registry: Arc<dyn SchemaRegistry>,
        plans: HashMap<(u32, Vec<usize>), Arc<MsgPlan>>,
    },
    /// PROTOBUF_NOSR: the one plan of the generated schema.
    Fixed(MsgPlan),
}

/// Decodes PROTOBUF / PROTOBUF_NOSR records into columns.
#[derive(Debug)]
pub(crate) struct ProtobufDecoder {
    fields: Fields,
    plans: Plans,
}

impl ProtobufDecoder {
    pub(crate) fn with_registry(registry: Arc<dyn SchemaRegistry>, fields: Fields) -> Self {
        ProtobufDecoder {
            fields,
            plans: Plans::Registry {
                registry,
                plans: HashMap::new(),
            },
        }
    }

    pub(crate) fn without_registry(
        fields: Fields,
        part: Part,
        nullable: NullableRepresentation,
    ) -> Result<Self, String> {
        let m = generated(&fields, part, nullable)?;
        let plan = read::compile(&m, &fields, 0)?;
        Ok(ProtobufDecoder {
            fields,
            plans: Plans::Fixed(plan),
        })
    }

    pub(crate) fn decode(
        &mut self,
        bytes: &[u8],
        columns: &mut [ColumnBuilder],
    ) -> Result<(), String> {
        match &mut self.plans {
            Plans::Fixed(plan) => read::read_message(plan, bytes, columns),
            Plans::Registry { registry, plans } => {
                let (id, payload) = unframe(bytes)?;
                let (path, message) = read_message_indexes(payload)?;
                let key = (id, path);
                let plan = match plans.get(&key) {
                    Some(p) => p.clone(),
                    None => {
                        let registered = registry
                            .by_id(id)
                            .map_err(|e| format!("Failed to fetch the writer schema {id}: {e}"))?;
                        let schema =
                            ProtoSchema::from_registry(registry.as_ref(), &registered.schema)?;
                        let m = schema.message_at(&key.1)?;
                        let plan = Arc::new(read::compile(&m, &self.fields, 0)?);
                        tracing::debug!(
                            schema_id = id,
                            message = m.full_name(),
                            "compiled a Protobuf reading plan"
                        );
                        plans.insert(key, plan.clone());
                        plan
                    }
                };
                read::read_message(&plan, message, columns)
            }
        }
    }
}

/// Encodes rows as PROTOBUF (framed, registered schema) or PROTOBUF_NOSR (bare) messages.
#[derive(Debug)]
pub(crate) struct ProtobufEncoder {
    /// Schema id and message path for PROTOBUF; none for PROTOBUF_NOSR.
    frame: Option<(u32, Vec<usize>)>,
    plan: WMsg,
    /// Keys: a row whose columns are all null is a null key (no bytes), as ksqlDB writes it.
    null_if_all_null: bool,
}

impl ProtobufEncoder {
    pub(crate) fn with_registry(
        registry: &dyn SchemaRegistry,
        id: u32,
        full_name: Option<&str>,
        fields: &Fields,
        part: Part,
    ) -> Result<Self, String> {
        let registered = registry
            .by_id(id)
            .map_err(|e| format!("Failed to fetch the schema {id}: {e}"))?;
        let schema = ProtoSchema::from_registry(registry, &registered.schema)?;
        let m = schema.message(full_name)?;
        Ok(ProtobufEncoder {
            frame: Some((id, schema::message_path(&m))),
            plan: write::compile(&m, fields, 0)?,
            null_if_all_null: part == Part::Key,
        })
    }

    pub(crate) fn without_registry(
        fields: &Fields,
        part: Part,
        nullable: NullableRepresentation,
    ) -> Result<Self, String> {
        let m = generated(fields, part, nullable)?;
        Ok(ProtobufEncoder {
            frame: None,
            plan: write::compile(&m, fields, 0)?,
            null_if_all_null: part == Part::Key,
        })
    }

    /// Row `i` of `views` as one record (`None`: a null key).
    pub(crate) fn encode(
        &self,
        views: &[View<'_>],
        i: usize,
        size_hint: usize,
    ) -> Result<Option<Vec<u8>>, String> {
        if self.null_if_all_null && views.iter().all(|v| v.is_null(i)) {
            return Ok(None);
        }
        let mut out = match &self.frame {
            Some((id, path)) => {
                let mut out = frame(*id, size_hint);
                write_message_indexes(&mut out, path);
                out
            }
            None => Vec::with_capacity(size_hint),
        };
        write::write_message(&self.plan, views, i, &mut out)?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests;
