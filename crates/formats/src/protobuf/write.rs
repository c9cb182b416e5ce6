//! Arrow columns → Protobuf binary of one message descriptor, compiled once per encoder: message
//! fields are matched to columns by name (exactly, else case-insensitively); fields without a
//! column are left out (their default), nulls are left out too (proto3 has no null: a reader
//! sees the default, or null for fields with presence), null list elements and map values are
//! written as their type's default.

use datafusion::arrow::datatypes::{DataType, Fields};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::read::{civil_from_days, Scalar};
use super::schema::{decimal_params, special, Special};
use crate::types::ksql_type_name;
use crate::view::View;

#[derive(Debug)]
pub(crate) enum WNode {
    Scalar(Scalar),
    Message(Box<WMsg>),
    Wrapper(Scalar),
    Timestamp,
    Date,
    TimeOfDay,
    Decimal { precision: u8, scale: i8 },
}

#[derive(Debug)]
pub(crate) enum WLabel {
    Single,
    Repeated,
    Map { key: Scalar },
}

#[derive(Debug)]
pub(crate) struct WField {
    number: u32,
    /// The column (or struct child) written into this field.
    source: usize,
    label: WLabel,
    node: WNode,
}

/// How the columns of a row (or the children of a struct) are written as one message.
#[derive(Debug)]
pub(crate) struct WMsg {
    fields: Vec<WField>,
}

const MAX_DEPTH: usize = 32;

/// Compile how columns `columns` are written as message `m`. Columns the message has no field
/// for are an error (they would be lost).
pub(crate) fn compile(
    m: &MessageDescriptor,
    columns: &Fields,
    depth: usize,
) -> Result<WMsg, String> {
    if depth > MAX_DEPTH {
        return Err(
            "Protobuf schema nests too deeply (recursive messages are not supported)".into(),
        );
    }
    let mut fields = Vec::new();
    let mut used = vec![false; columns.len()];
    for f in m.fields() {
        let Some(source) = super::find_column(columns, f.name()) else {
            continue;
        };
        used[source] = true;
        let (label, node) = field_plan(&f, columns[source].data_type(), depth)?;
        fields.push(WField {
            number: f.number(),
            source,
            label,
            node,
        });
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!(
            "The Protobuf message {} has no field for column `{}`",
            m.full_name(),
            columns[i].name()
        ));
    }
    Ok(WMsg { fields })
}

fn field_plan(
    f: &FieldDescriptor,
    source: &DataType,
    depth: usize,
) -> Result<(WLabel, WNode), String> {
    let mismatch = || {
        format!(
            "Cannot write {} as the Protobuf field {}",
            ksql_type_name(source),
            f.name()
        )
    };
    if f.is_map() {
        let (Kind::Message(entry), DataType::Map(e, _)) = (f.kind(), source) else {
            return Err(mismatch());
        };
        let (_, v) = crate::types::map_key_value(e).ok_or_else(mismatch)?;
        let key = Scalar::of(&entry.map_entry_key_field().kind()).ok_or_else(mismatch)?;
        if !matches!(key, Scalar::String) {
            return Err(mismatch());
        }
        let node = node(&entry.map_entry_value_field(), v.data_type(), depth)?;
        return Ok((WLabel::Map { key }, node));
    }
    if f.is_list() {
        let DataType::List(item) = source else {
            return Err(mismatch());
        };
        return Ok((WLabel::Repeated, node(f, item.data_type(), depth)?));
    }
    Ok((WLabel::Single, node(f, source, depth)?))
}

fn node(f: &FieldDescriptor, source: &DataType, depth: usize) -> Result<WNode, String> {
    let mismatch = || {
        format!(
            "Cannot write {} as the Protobuf field {}",
            ksql_type_name(source),
            f.name()
        )
    };
    let scalar_fits = |s: &Scalar| {
        matches!(
            (s, source),
            (Scalar::Bool, DataType::Boolean)
                | (
                    Scalar::Int32
                        | Scalar::Sint32
                        | Scalar::Sfixed32
                        | Scalar::Int64
                        | Scalar::Sint64
                        | Scalar::Sfixed64
                        | Scalar::Uint32
                        | Scalar::Fixed32
                        | Scalar::Uint64
                        | Scalar::Fixed64,
                    DataType::Int32 | DataType::Int64
                )
                | (Scalar::Float | Scalar::Double, DataType::Float64)
                | (Scalar::String | Scalar::Enum(..), DataType::Utf8)
                | (Scalar::Bytes, DataType::Binary)
        )
    };
    Ok(match f.kind() {
        Kind::Message(m) => match (special(&m), source) {
            (Some(Special::Wrapper), _) => {
                let s = m
                    .get_field(1)
                    .and_then(|v| Scalar::of(&v.kind()))
                    .ok_or_else(mismatch)?;
                if !scalar_fits(&s) {
                    return Err(mismatch());
                }
                WNode::Wrapper(s)
            }
            (Some(Special::Timestamp), DataType::Timestamp(..)) => WNode::Timestamp,
            (Some(Special::Date), DataType::Date32) => WNode::Date,
            (Some(Special::TimeOfDay), DataType::Time32(_)) => WNode::TimeOfDay,
            (Some(Special::Decimal), DataType::Decimal128(_, s)) => WNode::Decimal {
                precision: decimal_params(f).0,
                scale: *s,
            },
            (None, DataType::Struct(fs)) => WNode::Message(Box::new(compile(&m, fs, depth + 1)?)),
            _ => return Err(mismatch()),
        },
        other => {
            let s = Scalar::of(&other).expect("not a message");
            if !scalar_fits(&s) {
                return Err(mismatch());
            }
            WNode::Scalar(s)
        }
    })
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, number: u32, wire: u8) {
    varint(out, (u64::from(number) << 3) | u64::from(wire));
}

fn len_prefixed(out: &mut Vec<u8>, body: &[u8]) {
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// Write the row `i` of `views` (the message's columns) as the message's fields.
pub(crate) fn write_message(
    plan: &WMsg,
    views: &[View<'_>],
    i: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    for f in &plan.fields {
        let view = &views[f.source];
        if view.is_null(i) {
            continue;
        }
        match &f.label {
            WLabel::Single => {
                tag(out, f.number, wire_of(&f.node));
                write_value(&f.node, view, i, out)?;
            }
            WLabel::Repeated => {
                let View::List(list, item) = view else {
                    return Err("expected an ARRAY column".into());
                };
                let offsets = list.value_offsets();
                let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
                match &f.node {
                    WNode::Scalar(sc) if sc.wire_type() != 2 => {
                        if s == e {
                            continue;
                        }
                        // Packed, as proto3 writes repeated scalars.
                        let mut body = Vec::new();
                        for j in s..e {
                            write_scalar_or_default(sc, item, j, &mut body)?;
                        }
                        tag(out, f.number, 2);
                        len_prefixed(out, &body);
                    }
                    node => {
                        for j in s..e {
                            tag(out, f.number, wire_of(node));
                            if item.is_null(j) {
                                write_default(node, out);
                            } else {
                                write_value(node, item, j, out)?;
                            }
                        }
                    }
                }
            }
            WLabel::Map { key } => {
                let View::Map(map, keys, values) = view else {
                    return Err("expected a MAP column".into());
                };
                let offsets = map.value_offsets();
                for j in offsets[i] as usize..offsets[i + 1] as usize {
                    let mut entry = Vec::new();
                    if !keys.is_null(j) {
                        tag(&mut entry, 1, key.wire_type());
                        write_scalar(key, keys, j, &mut entry)?;
                    }
                    if !values.is_null(j) {
                        tag(&mut entry, 2, wire_of(&f.node));
                        write_value(&f.node, values, j, &mut entry)?;
                    }
                    tag(out, f.number, 2);
                    len_prefixed(out, &entry);
                }
            }
        }
    }
    Ok(())
}

fn wire_of(node: &WNode) -> u8 {
    match node {
        WNode::Scalar(s) => s.wire_type(),
        _ => 2,
    }
}

/// A null element of a list: the default of its type (an empty message for messages).
fn write_default(node: &WNode, out: &mut Vec<u8>) {
    match node {
        WNode::Scalar(s) => write_scalar_default(s, out),
        _ => out.push(0),
    }
}

/// A scalar's default value: zero of its wire width (an empty string or bytes for length-delimited).
fn write_scalar_default(s: &Scalar, out: &mut Vec<u8>) {
    match s.wire_type() {
        1 => out.extend_from_slice(&[0; 8]),
        5 => out.extend_from_slice(&[0; 4]),
        _ => out.push(0),
    }
}

fn write_scalar_or_default(
    s: &Scalar,
    view: &View<'_>,
    j: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if view.is_null(j) {
        write_scalar_default(s, out);
        Ok(())
    } else {
        write_scalar(s, view, j, out)
    }
}

fn int_of(view: &View<'_>, i: usize) -> Result<i64, String> {
    match view {
        View::Int32(a) => Ok(i64::from(a.value(i))),
        View::Int64(a) => Ok(a.value(i)),
        _ => Err("expected an integer column".into()),
    }
}

fn write_scalar(s: &Scalar, view: &View<'_>, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let range = |v: i64, what: &str| format!("{v} is out of range for Protobuf {what}");
    match s {
        Scalar::Bool => match view {
            View::Boolean(a) => out.push(u8::from(a.value(i))),
            _ => return Err("expected a BOOLEAN column".into()),
        },
        Scalar::Int32 => {
            let v = int_of(view, i)?;
            let v = i32::try_from(v).map_err(|_| range(v, "int32"))?;
            varint(out, v as i64 as u64);
        }
        Scalar::Int64 => varint(out, int_of(view, i)? as u64),
        Scalar::Uint32 => {
            let v = int_of(view, i)?;
            varint(
                out,
                u64::from(u32::try_from(v).map_err(|_| range(v, "uint32"))?),
            );
        }
        Scalar::Uint64 => {
            let v = int_of(view, i)?;
            varint(out, u64::try_from(v).map_err(|_| range(v, "uint64"))?);
        }
        Scalar::Sint32 => {
            let v = int_of(view, i)?;
            let v = i32::try_from(v).map_err(|_| range(v, "sint32"))?;
            varint(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
        }
        Scalar::Sint64 => {
            let v = int_of(view, i)?;
            varint(out, ((v << 1) ^ (v >> 63)) as u64);
        }
        Scalar::Fixed32 => {
            let v = int_of(view, i)?;
            out.extend_from_slice(
                &u32::try_from(v)
                    .map_err(|_| range(v, "fixed32"))?
                    .to_le_bytes(),
            );
        }
        Scalar::Sfixed32 => {
            let v = int_of(view, i)?;
            out.extend_from_slice(
                &i32::try_from(v)
                    .map_err(|_| range(v, "sfixed32"))?
                    .to_le_bytes(),
            );
        }
        Scalar::Fixed64 => {
            let v = int_of(view, i)?;
            out.extend_from_slice(
                &u64::try_from(v)
                    .map_err(|_| range(v, "fixed64"))?
                    .to_le_bytes(),
            );
        }
        Scalar::Sfixed64 => out.extend_from_slice(&int_of(view, i)?.to_le_bytes()),
        Scalar::Float => match view {
            View::Float64(a) => out.extend_from_slice(&(a.value(i) as f32).to_le_bytes()),
            _ => return Err("expected a DOUBLE column".into()),
        },
        Scalar::Double => match view {
            View::Float64(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            _ => return Err("expected a DOUBLE column".into()),
        },
        Scalar::String => match view {
            View::Utf8(a) => len_prefixed(out, a.value(i).as_bytes()),
            _ => return Err("expected a STRING column".into()),
        },
        Scalar::Bytes => match view {
            View::Binary(a) => len_prefixed(out, a.value(i)),
            _ => return Err("expected a BYTES column".into()),
        },
        Scalar::Enum(names, _) => match view {
            View::Utf8(a) => {
                let name = a.value(i);
                let n = names
                    .iter()
                    .find(|(_, v)| v.as_str() == name)
                    .map(|(n, _)| *n)
                    .ok_or_else(|| format!("'{name}' is not a symbol of the Protobuf enum"))?;
                varint(out, n as i64 as u64);
            }
            _ => return Err("expected a STRING column".into()),
        },
    }
    Ok(())
}

fn write_value(node: &WNode, view: &View<'_>, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
    if let WNode::Scalar(s) = node {
        return write_scalar(s, view, i, out);
    }
    let mut body = Vec::new();
    match (node, view) {
        (WNode::Message(plan), View::Struct(_, children, _)) => {
            write_message(plan, children, i, &mut body)?;
        }
        (WNode::Wrapper(s), _) => {
            tag(&mut body, 1, s.wire_type());
            write_scalar(s, view, i, &mut body)?;
        }
        (WNode::Timestamp, View::Timestamp(a)) => {
            let ms = a.value(i);
            let (secs, nanos) = (ms.div_euclid(1000), ms.rem_euclid(1000) * 1_000_000);
            if secs != 0 {
                tag(&mut body, 1, 0);
                varint(&mut body, secs as u64);
            }
            if nanos != 0 {
                tag(&mut body, 2, 0);
                varint(&mut body, nanos as u64);
            }
        }
        (WNode::Date, View::Date32(a)) => {
            let (y, m, d) = civil_from_days(i64::from(a.value(i)));
            for (n, v) in [(1, y), (2, m), (3, d)] {
                tag(&mut body, n, 0);
                varint(&mut body, v as u64);
            }
        }
        (WNode::TimeOfDay, View::Time32(a)) => {
            let ms = i64::from(a.value(i));
            let parts = [
                ms / 3_600_000,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000 * 1_000_000,
            ];
            for (n, v) in parts.into_iter().enumerate() {
                if v != 0 {
                    tag(&mut body, n as u32 + 1, 0);
                    varint(&mut body, v as u64);
                }
            }
        }
        (WNode::Decimal { precision, scale }, View::Decimal(a, _)) => {
            tag(&mut body, 1, 2);
            len_prefixed(&mut body, &crate::avro::decimal_bytes(a.value(i)));
            tag(&mut body, 2, 0);
            varint(&mut body, u64::from(*precision));
            tag(&mut body, 3, 0);
            varint(&mut body, *scale as i64 as u64);
        }
        _ => return Err("column does not match its Protobuf field".into()),
    }
    len_prefixed(out, &body);
    Ok(())
}
