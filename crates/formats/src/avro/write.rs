//! Arrow columns → Avro binary datums of a registered (writer) schema.
//!
//! The plan ([`WNode`]) is compiled once per encoder from the schema and the column types:
//! record fields are matched to columns by name (exactly, else case-insensitively), fields
//! without a column are written as null (they must be optional), `["null", T]` unions take the
//! null branch for nulls.

use apache_avro::schema::Schema;
use datafusion::arrow::datatypes::{DataType, Fields};

use super::schema::Names;
use crate::types::{ksql_type_name, map_key_value};
use crate::view::View;

#[derive(Debug)]
pub(crate) enum WNode {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    Fixed(usize),
    Decimal {
        fixed: Option<usize>,
        scale: i8,
    },
    Enum(Vec<String>),
    Array(Box<WNode>),
    Map(Box<WNode>),
    /// Fields in schema order: the child that fills each (none: written as null).
    Record(Vec<(Option<usize>, WNode)>),
    /// A union: the null branch (if any) and the branch values are written as.
    Union {
        null: Option<usize>,
        index: usize,
        inner: Box<WNode>,
    },
    /// A field with no column: the null branch of its union.
    Null(Option<usize>),
    /// A field with no column and a default: the default's encoding.
    Default(Vec<u8>),
    /// A non-optional field with a default: nulls are written as the default.
    OrDefault {
        inner: Box<WNode>,
        default: Vec<u8>,
    },
}

const MAX_DEPTH: usize = 64;

fn nullable_index(schema: &Schema) -> Option<usize> {
    match schema {
        Schema::Union(u) => u.variants().iter().position(|s| matches!(s, Schema::Null)),
        Schema::Null => Some(0),
        _ => None,
    }
}

/// Compile how values of type `source` are written as `schema`.
pub(crate) fn compile(
    names: &Names<'_>,
    schema: &Schema,
    source: &DataType,
    depth: usize,
) -> Result<WNode, String> {
    if depth > MAX_DEPTH {
        return Err("Avro schema nests too deeply (recursive types are not supported)".into());
    }
    let schema = names.resolve(schema)?;
    let mismatch = || {
        format!(
            "Cannot write {} as Avro {}",
            ksql_type_name(source),
            schema.canonical_form()
        )
    };
    Ok(match (schema, source) {
        (Schema::Union(u), _) => {
            let null = u.variants().iter().position(|s| matches!(s, Schema::Null));
            let mut first_err = None;
            for (i, b) in u.variants().iter().enumerate() {
                if matches!(b, Schema::Null) {
                    continue;
                }
                match compile(names, b, source, depth + 1) {
                    Ok(inner) => {
                        return Ok(WNode::Union {
                            null,
                            index: i,
                            inner: Box::new(inner),
                        })
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            return Err(first_err.unwrap_or_else(mismatch));
        }
        (Schema::Boolean, DataType::Boolean) => WNode::Boolean,
        (
            Schema::Int | Schema::Date | Schema::TimeMillis,
            DataType::Int32 | DataType::Date32 | DataType::Time32(_),
        ) => WNode::Int,
        (
            Schema::Long | Schema::TimestampMillis,
            DataType::Int64 | DataType::Int32 | DataType::Timestamp(_, _),
        ) => WNode::Long,
        (Schema::Float, DataType::Float64) => WNode::Float,
        (Schema::Double, DataType::Float64 | DataType::Int32 | DataType::Int64) => WNode::Double,
        (Schema::String | Schema::Uuid, DataType::Utf8) => WNode::String,
        (Schema::Enum(e), DataType::Utf8) => WNode::Enum(e.symbols.clone()),
        (Schema::Bytes, DataType::Binary) => WNode::Bytes,
        (Schema::Fixed(f), DataType::Binary) => WNode::Fixed(f.size),
        (Schema::Decimal(d), DataType::Decimal128(_, _)) => WNode::Decimal {
            fixed: match names.resolve(&d.inner)? {
                Schema::Fixed(f) => Some(f.size),
                _ => None,
            },
            scale: i8::try_from(d.scale).map_err(|_| "decimal scale too large".to_string())?,
        },
        (Schema::Array(a), DataType::List(item)) => WNode::Array(Box::new(compile(
            names,
            &a.items,
            item.data_type(),
            depth + 1,
        )?)),
        (Schema::Map(m), DataType::Map(entries, _)) => {
            let (_, v) = map_key_value(entries).ok_or("malformed MAP type")?;
            WNode::Map(Box::new(compile(
                names,
                &m.types,
                v.data_type(),
                depth + 1,
            )?))
        }
        (Schema::Record(r), DataType::Struct(fs)) => WNode::Record(record_fields(
            names,
            r.fields
                .iter()
                .map(|f| (f.name.as_str(), &f.schema, f.default.as_ref())),
            fs,
            depth,
        )?),
        _ => return Err(mismatch()),
    })
}

/// Plans for a record's fields, each matched to a column of `columns` by name.
pub(crate) fn record_fields<'a>(
    names: &Names<'_>,
    fields: impl Iterator<Item = (&'a str, &'a Schema, Option<&'a serde_json::Value>)>,
    columns: &Fields,
    depth: usize,
) -> Result<Vec<(Option<usize>, WNode)>, String> {
    let fields: Vec<_> = fields.collect();
    let defaults: std::collections::HashMap<&str, Option<&serde_json::Value>> =
        fields.iter().map(|(n, _, d)| (*n, *d)).collect();
    fields
        .into_iter()
        .map(|(n, s, _)| (n, s))
        .map(|(name, schema)| {
            let slot = columns.iter().position(|c| c.name() == name).or_else(|| {
                columns
                    .iter()
                    .position(|c| c.name().eq_ignore_ascii_case(name))
            });
            match slot {
                Some(i) => {
                    let node = compile(names, schema, columns[i].data_type(), depth + 1)?;
                    let node = match defaults.get(name) {
                        Some(Some(d)) if nullable_index(names.resolve(schema)?).is_none() => {
                            match default_bytes(names, schema, d) {
                                Some(default) => WNode::OrDefault {
                                    inner: Box::new(node),
                                    default,
                                },
                                None => node,
                            }
                        }
                        _ => node,
                    };
                    Ok((Some(i), node))
                }
                None => match (nullable_index(names.resolve(schema)?), defaults.get(name)) {
                    (_, Some(Some(d))) => Ok((
                        None,
                        WNode::Default(default_bytes(names, schema, d).ok_or_else(|| {
                            format!("Avro field '{name}' has a default Sluice cannot write")
                        })?),
                    )),
                    (Some(n), _) => Ok((None, WNode::Null(Some(n)))),
                    (None, _) => Err(format!(
                        "Avro field '{name}' has no column to fill it and is not optional"
                    )),
                },
            }
        })
        .collect()
}

fn long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// The minimal big-endian two's complement bytes of `v`.
pub fn decimal_bytes(v: i128) -> Vec<u8> {
    let all = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (all[start], all[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    all[start..].to_vec()
}

/// The encoding of a field's default value (for a union: its first branch, as the Avro spec
/// says defaults are). `None` for defaults Sluice does not write.
fn default_bytes(names: &Names<'_>, schema: &Schema, d: &serde_json::Value) -> Option<Vec<u8>> {
    use serde_json::Value as J;
    let schema = names.resolve(schema).ok()?;
    let mut out = Vec::new();
    match (schema, d) {
        (Schema::Union(u), _) => {
            long(&mut out, 0);
            out.extend(default_bytes(names, u.variants().first()?, d)?);
        }
        (Schema::Null, J::Null) => {}
        (Schema::Boolean, J::Bool(b)) => out.push(u8::from(*b)),
        (
            Schema::Int
            | Schema::Long
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimestampMillis,
            J::Number(n),
        ) => long(&mut out, n.as_i64()?),
        (Schema::Float, J::Number(n)) => out.extend((n.as_f64()? as f32).to_le_bytes()),
        (Schema::Double, J::Number(n)) => out.extend(n.as_f64()?.to_le_bytes()),
        (Schema::String | Schema::Uuid, J::String(s)) => bytes(&mut out, s.as_bytes()),
        (Schema::Enum(e), J::String(s)) => {
            long(&mut out, e.symbols.iter().position(|x| x == s)? as i64)
        }
        (Schema::Array(_), J::Array(a)) if a.is_empty() => long(&mut out, 0),
        (Schema::Map(_), J::Object(m)) if m.is_empty() => long(&mut out, 0),
        (Schema::Record(r), J::Object(m)) => {
            for f in &r.fields {
                let v = m.get(&f.name).or(f.default.as_ref())?;
                out.extend(default_bytes(names, &f.schema, v)?);
            }
        }
        _ => return None,
    }
    Some(out)
}

/// Write row `i` of `view` as `node`.
pub(crate) fn write(
    node: &WNode,
    view: &View<'_>,
    i: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if let WNode::Union { null, index, inner } = node {
        if view.is_null(i) {
            let n = null.ok_or("null value for a non-optional Avro field")?;
            long(out, n as i64);
        } else {
            long(out, *index as i64);
            write(inner, view, i, out)?;
        }
        return Ok(());
    }
    if let WNode::OrDefault { inner, default } = node {
        if view.is_null(i) {
            out.extend_from_slice(default);
            return Ok(());
        }
        return write(inner, view, i, out);
    }
    if let WNode::Null(n) = node {
        long(
            out,
            n.ok_or("null value for a non-optional Avro field")? as i64,
        );
        return Ok(());
    }
    if view.is_null(i) {
        return Err("null value for a non-optional Avro field".into());
    }
    match (node, view) {
        (WNode::Boolean, View::Boolean(a)) => out.push(u8::from(a.value(i))),
        (WNode::Int, View::Int32(a)) => long(out, i64::from(a.value(i))),
        (WNode::Int, View::Date32(a)) => long(out, i64::from(a.value(i))),
        (WNode::Int, View::Time32(a)) => long(out, i64::from(a.value(i))),
        (WNode::Long, View::Int64(a)) => long(out, a.value(i)),
        (WNode::Long, View::Int32(a)) => long(out, i64::from(a.value(i))),
        (WNode::Long, View::Timestamp(a)) => long(out, a.value(i)),
        (WNode::Float, View::Float64(a)) => {
            out.extend_from_slice(&(a.value(i) as f32).to_le_bytes())
        }
        (WNode::Double, View::Float64(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
        (WNode::Double, View::Int32(a)) => {
            out.extend_from_slice(&f64::from(a.value(i)).to_le_bytes())
        }
        (WNode::Double, View::Int64(a)) => {
            out.extend_from_slice(&(a.value(i) as f64).to_le_bytes())
        }
        (WNode::String, View::Utf8(a)) => bytes(out, a.value(i).as_bytes()),
        (WNode::Enum(symbols), View::Utf8(a)) => {
            let s = a.value(i);
            let idx = symbols
                .iter()
                .position(|x| x == s)
                .ok_or_else(|| format!("'{s}' is not a symbol of the Avro enum"))?;
            long(out, idx as i64);
        }
        (WNode::Bytes, View::Binary(a)) => bytes(out, a.value(i)),
        (WNode::Fixed(n), View::Binary(a)) => {
            let v = a.value(i);
            if v.len() != *n {
                return Err(format!("{} bytes for an Avro fixed of {n}", v.len()));
            }
            out.extend_from_slice(v);
        }
        (WNode::Decimal { fixed, scale }, View::Decimal(a, from)) => {
            let v = a.value(i);
            let diff = i32::from(*scale) - i32::from(*from);
            let v = if diff >= 0 {
                v.checked_mul(10i128.pow(diff as u32))
                    .ok_or("decimal out of range")?
            } else {
                v / 10i128.pow((-diff) as u32)
            };
            let b = decimal_bytes(v);
            match fixed {
                None => bytes(out, &b),
                Some(n) => {
                    if b.len() > *n {
                        return Err("decimal too wide for its Avro fixed".into());
                    }
                    let pad = if v < 0 { 0xff } else { 0 };
                    out.extend(std::iter::repeat_n(pad, n - b.len()));
                    out.extend_from_slice(&b);
                }
            }
        }
        (WNode::Array(item), View::List(a, child)) => {
            let offsets = a.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            if end > start {
                long(out, (end - start) as i64);
                for j in start..end {
                    write(item, child, j, out)?;
                }
            }
            long(out, 0);
        }
        (WNode::Map(value), View::Map(a, keys, values)) => {
            let offsets = a.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            if end > start {
                long(out, (end - start) as i64);
                for j in start..end {
                    let View::Utf8(k) = &**keys else {
                        return Err("Avro only supports MAPs with STRING keys".into());
                    };
                    bytes(out, k.value(j).as_bytes());
                    write(value, values, j, out)?;
                }
            }
            long(out, 0);
        }
        (WNode::Record(fields), View::Struct(_, children, _)) => {
            write_fields(fields, children, i, out)?;
        }
        _ => return Err("internal error: Avro plan does not match the column".into()),
    }
    Ok(())
}

/// Write a record's fields from `columns` (row `i`).
pub(crate) fn write_fields(
    fields: &[(Option<usize>, WNode)],
    columns: &[View<'_>],
    i: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    for (slot, node) in fields {
        match slot {
            Some(c) => write(node, &columns[*c], i, out)?,
            None => match node {
                WNode::Null(n) => long(
                    out,
                    n.ok_or("null value for a non-optional Avro field")? as i64,
                ),
                WNode::Default(bytes) => out.extend_from_slice(bytes),
                _ => return Err("internal error: unfilled Avro field".into()),
            },
        }
    }
    Ok(())
}
