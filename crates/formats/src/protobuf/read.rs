//! Protobuf binary → Arrow builders, driven by a plan compiled once per message descriptor and
//! column types: fields are matched to columns by name (exactly, else case-insensitively) and
//! read straight from the wire into the column builders, in whatever order they arrive.
//!
//! proto3 semantics as Confluent's converter reads them: an absent scalar without presence is
//! its default (0, "", false, the first enum value); an absent scalar with presence (`optional`),
//! message, wrapper, timestamp, date, time or decimal is null; an absent repeated field is an
//! empty ARRAY, an absent map an empty MAP. A field seen twice keeps its last value.

use std::collections::HashMap;

use datafusion::arrow::datatypes::{DataType, Fields};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::schema::{decimal_params, special, Special};
use crate::builder::{ColumnBuilder, Values};
use crate::text::write_java_double;

/// A scalar's wire encoding.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    Bool,
    Int32,
    Sint32,
    Sfixed32,
    Int64,
    Sint64,
    Sfixed64,
    Uint32,
    Fixed32,
    Uint64,
    Fixed64,
    Float,
    Double,
    String,
    Bytes,
    /// Enum numbers and their names; the default is the first value.
    Enum(HashMap<i32, String>, String),
}

impl Scalar {
    pub(crate) fn of(kind: &Kind) -> Option<Scalar> {
        Some(match kind {
            Kind::Bool => Scalar::Bool,
            Kind::Int32 => Scalar::Int32,
            Kind::Sint32 => Scalar::Sint32,
            Kind::Sfixed32 => Scalar::Sfixed32,
            Kind::Int64 => Scalar::Int64,
            Kind::Sint64 => Scalar::Sint64,
            Kind::Sfixed64 => Scalar::Sfixed64,
            Kind::Uint32 => Scalar::Uint32,
            Kind::Fixed32 => Scalar::Fixed32,
            Kind::Uint64 => Scalar::Uint64,
            Kind::Fixed64 => Scalar::Fixed64,
            Kind::Float => Scalar::Float,
            Kind::Double => Scalar::Double,
            Kind::String => Scalar::String,
            Kind::Bytes => Scalar::Bytes,
            Kind::Enum(e) => Scalar::Enum(
                e.values()
                    .map(|v| (v.number(), v.name().to_string()))
                    .collect(),
                e.values()
                    .next()
                    .map(|v| v.name().to_string())
                    .unwrap_or_default(),
            ),
            Kind::Message(_) => return None,
        })
    }

    /// The wire type values of this scalar use (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            Scalar::Fixed64 | Scalar::Sfixed64 | Scalar::Double => 1,
            Scalar::Fixed32 | Scalar::Sfixed32 | Scalar::Float => 5,
            Scalar::String | Scalar::Bytes => 2,
            _ => 0,
        }
    }

    /// The proto3 default of an absent value: 0, false, "", empty bytes, the first enum value.
    fn default(&self) -> Prim<'_> {
        match self {
            Scalar::Bool => Prim::Bool(false),
            Scalar::Float => Prim::Float(0.0),
            Scalar::Double => Prim::Double(0.0),
            Scalar::String => Prim::Str(""),
            Scalar::Bytes => Prim::Bytes(&[]),
            Scalar::Enum(_, first) => Prim::Str(first),
            _ => Prim::Int(0),
        }
    }
}

/// How one value of a field is read.
#[derive(Debug)]
pub(crate) enum Node {
    Scalar(Scalar),
    Message(Box<MsgPlan>),
    /// `google.protobuf.*Value`: its field 1.
    Wrapper(Scalar),
    Timestamp,
    Date,
    TimeOfDay,
    Decimal(i8),
}

#[derive(Debug)]
pub(crate) enum Label {
    /// One value; `nullable`: absent means null rather than the default.
    Single {
        nullable: bool,
    },
    Repeated,
    Map {
        key: Scalar,
    },
}

#[derive(Debug)]
pub(crate) struct FieldPlan {
    /// The column (or struct child) the field fills; `None`: read and dropped.
    slot: Option<usize>,
    label: Label,
    node: Node,
}

/// The plan of one message: its fields by number, and how many columns it fills.
#[derive(Debug)]
pub(crate) struct MsgPlan {
    by_number: HashMap<u32, usize>,
    fields: Vec<FieldPlan>,
    /// For each column: whether a field fills it.
    filled: Vec<bool>,
}

const MAX_DEPTH: usize = 32;

/// Compile the plan that reads message `m` into columns `columns`.
pub(crate) fn compile(
    m: &MessageDescriptor,
    columns: &Fields,
    depth: usize,
) -> Result<MsgPlan, String> {
    if depth > MAX_DEPTH {
        return Err(
            "Protobuf schema nests too deeply (recursive messages are not supported)".into(),
        );
    }
    let mut by_number = HashMap::new();
    let mut fields = Vec::new();
    let mut filled = vec![false; columns.len()];
    for f in m.fields() {
        let slot = super::find_column(columns, f.name());
        let target = slot.map(|i| columns[i].data_type());
        let plan = field_plan(&f, target, depth)?;
        if let Some(i) = slot {
            filled[i] = true;
        }
        by_number.insert(f.number(), fields.len());
        fields.push(FieldPlan {
            slot,
            label: plan.0,
            node: plan.1,
        });
    }
    Ok(MsgPlan {
        by_number,
        fields,
        filled,
    })
}

fn field_plan(
    f: &FieldDescriptor,
    target: Option<&DataType>,
    depth: usize,
) -> Result<(Label, Node), String> {
    let mismatch = |want: &str| {
        format!(
            "Cannot read Protobuf field {} as {}",
            f.name(),
            target.map_or_else(|| want.to_string(), crate::types::ksql_type_name)
        )
    };
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return Err(mismatch("MAP"));
        };
        let (kf, vf) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let vt = match target {
            Some(DataType::Map(e, _)) => Some(
                crate::types::map_key_value(e)
                    .ok_or_else(|| mismatch("MAP"))?
                    .1
                    .data_type()
                    .clone(),
            ),
            Some(_) => return Err(mismatch("MAP")),
            None => None,
        };
        let key = Scalar::of(&kf.kind()).ok_or_else(|| mismatch("MAP"))?;
        return Ok((Label::Map { key }, node(&vf, vt.as_ref(), depth)?));
    }
    if f.is_list() {
        let item = match target {
            Some(DataType::List(item)) => Some(item.data_type().clone()),
            Some(_) => return Err(mismatch("ARRAY")),
            None => None,
        };
        return Ok((Label::Repeated, node(f, item.as_ref(), depth)?));
    }
    let n = node(f, target, depth)?;
    let nullable = f.supports_presence();
    Ok((Label::Single { nullable }, n))
}

fn node(f: &FieldDescriptor, target: Option<&DataType>, depth: usize) -> Result<Node, String> {
    Ok(match f.kind() {
        Kind::Message(m) => match special(&m) {
            Some(Special::Wrapper) => Node::Wrapper(
                m.get_field(1)
                    .and_then(|v| Scalar::of(&v.kind()))
                    .ok_or_else(|| format!("malformed wrapper {}", m.full_name()))?,
            ),
            Some(Special::Timestamp) => Node::Timestamp,
            Some(Special::Date) => Node::Date,
            Some(Special::TimeOfDay) => Node::TimeOfDay,
            Some(Special::Decimal) => Node::Decimal(decimal_params(f).1),
            None => {
                let cols = match target {
                    Some(DataType::Struct(fs)) => fs.clone(),
                    None => Fields::empty(),
                    Some(other) => {
                        return Err(format!(
                            "Cannot read Protobuf message {} as {}",
                            m.full_name(),
                            crate::types::ksql_type_name(other)
                        ))
                    }
                };
                Node::Message(Box::new(compile(&m, &cols, depth + 1)?))
            }
        },
        other => Node::Scalar(Scalar::of(&other).expect("not a message")),
    })
}

/// A protobuf wire reader over one message's bytes.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err("malformed Protobuf varint".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err("Protobuf message ends early".into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn fixed32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn fixed64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.varint()?).map_err(|_| "Protobuf length too large")?;
        self.take(n)
    }

    fn skip(&mut self, wire: u8) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8).map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => self.take(4).map(|_| ()),
            3 => {
                // A group: skip to its end tag.
                loop {
                    let tag = self.varint()?;
                    let w = (tag & 7) as u8;
                    if w == 4 {
                        return Ok(());
                    }
                    self.skip(w)?;
                }
            }
            w => Err(format!("unknown Protobuf wire type {w}")),
        }
    }

    fn tag(&mut self) -> Result<(u32, u8), String> {
        let tag = self.varint()?;
        let number = u32::try_from(tag >> 3).map_err(|_| "malformed Protobuf tag")?;
        Ok((number, (tag & 7) as u8))
    }
}

/// A decoded primitive, before conversion to its column's type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Prim<'a> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f32),
    Double(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Decimal(i128, i8),
    Date(i32),
    Time(i32),
    Timestamp(i64),
}

fn scalar<'a>(s: &'a Scalar, wire: u8, r: &mut Reader<'a>) -> Result<Prim<'a>, String> {
    if wire != s.wire_type() {
        return Err(format!(
            "Protobuf wire type {wire} does not match the schema's {s:?}"
        ));
    }
    Ok(match s {
        Scalar::Bool => Prim::Bool(r.varint()? != 0),
        Scalar::Int32 => Prim::Int(i64::from(r.varint()? as i32)),
        Scalar::Int64 => Prim::Int(r.varint()? as i64),
        Scalar::Uint32 => Prim::Int(i64::from(r.varint()? as u32)),
        Scalar::Uint64 => Prim::Uint(r.varint()?),
        Scalar::Sint32 | Scalar::Sint64 => {
            let v = r.varint()?;
            Prim::Int(((v >> 1) as i64) ^ -((v & 1) as i64))
        }
        Scalar::Fixed32 => Prim::Int(i64::from(r.fixed32()?)),
        Scalar::Sfixed32 => Prim::Int(i64::from(r.fixed32()? as i32)),
        Scalar::Fixed64 => Prim::Uint(r.fixed64()?),
        Scalar::Sfixed64 => Prim::Int(r.fixed64()? as i64),
        Scalar::Float => Prim::Float(f32::from_bits(r.fixed32()?)),
        Scalar::Double => Prim::Double(f64::from_bits(r.fixed64()?)),
        Scalar::String => {
            Prim::Str(std::str::from_utf8(r.bytes()?).map_err(|_| "Protobuf string is not UTF-8")?)
        }
        Scalar::Bytes => Prim::Bytes(r.bytes()?),
        Scalar::Enum(names, _) => {
            let n = r.varint()? as i32;
            match names.get(&n) {
                Some(name) => Prim::Str(name),
                None => return Err(format!("unknown Protobuf enum number {n}")),
            }
        }
    })
}

/// Read a message's bytes into `columns` (one row each).
pub(crate) fn read_message(
    plan: &MsgPlan,
    bytes: &[u8],
    columns: &mut [ColumnBuilder],
) -> Result<(), String> {
    let start = columns.first().map_or(0, ColumnBuilder::len);
    let mut seen = vec![false; plan.fields.len()];
    let mut r = Reader { buf: bytes };
    while !r.buf.is_empty() {
        let (number, wire) = r.tag()?;
        let Some(&fi) = plan.by_number.get(&number) else {
            r.skip(wire)?;
            continue;
        };
        let f = &plan.fields[fi];
        let Some(slot) = f.slot else {
            r.skip(wire)?;
            continue;
        };
        let col = &mut columns[slot];
        match &f.label {
            Label::Single { .. } => {
                if seen[fi] {
                    col.truncate(start);
                }
                read_value(&f.node, wire, &mut r, col)?;
            }
            Label::Repeated => {
                let Values::List { child, .. } = &mut col.values else {
                    return Err(format!(
                        "Cannot read a repeated field as {}",
                        col.ksql_type()
                    ));
                };
                match &f.node {
                    Node::Scalar(s) if wire == 2 && s.wire_type() != 2 => {
                        // Packed.
                        let mut packed = Reader { buf: r.bytes()? };
                        while !packed.buf.is_empty() {
                            let v = scalar(s, s.wire_type(), &mut packed)?;
                            put(child, v)?;
                        }
                    }
                    node => read_value(node, wire, &mut r, child)?,
                }
            }
            Label::Map { key } => {
                if wire != 2 {
                    return Err("malformed Protobuf map entry".into());
                }
                let Values::Map { keys, values, .. } = &mut col.values else {
                    return Err(format!("Cannot read a map field as {}", col.ksql_type()));
                };
                let mut entry = Reader { buf: r.bytes()? };
                let (k0, v0) = (keys.len(), values.len());
                while !entry.buf.is_empty() {
                    let (n, w) = entry.tag()?;
                    match n {
                        1 => {
                            keys.truncate(k0);
                            let k = scalar(key, w, &mut entry)?;
                            put(keys, k)?;
                        }
                        2 => {
                            values.truncate(v0);
                            read_value(&f.node, w, &mut entry, values)?;
                        }
                        _ => entry.skip(w)?,
                    }
                }
                if keys.len() == k0 {
                    put(keys, key.default())?;
                }
                if values.len() == v0 {
                    absent(&f.node, values)?;
                }
            }
        }
        seen[fi] = true;
    }
    for (fi, f) in plan.fields.iter().enumerate() {
        let Some(slot) = f.slot else { continue };
        let col = &mut columns[slot];
        match &f.label {
            Label::Single { nullable } => {
                if !seen[fi] {
                    if *nullable {
                        col.append_null()?;
                    } else {
                        absent(&f.node, col)?;
                    }
                }
            }
            Label::Repeated => {
                let Values::List { offsets, child } = &mut col.values else {
                    unreachable!("checked when read")
                };
                offsets.push(i32::try_from(child.len()).map_err(|_| "array too large")?);
                col.set_valid();
            }
            Label::Map { .. } => {
                let Values::Map { offsets, keys, .. } = &mut col.values else {
                    unreachable!("checked when read")
                };
                offsets.push(i32::try_from(keys.len()).map_err(|_| "map too large")?);
                col.set_valid();
            }
        }
    }
    for (i, c) in columns.iter_mut().enumerate() {
        if !plan.filled.get(i).copied().unwrap_or(false) {
            c.append_null_masked();
        }
    }
    Ok(())
}

/// Append the value of an absent field (or list element / map value) of kind `node`.
/// BYTES is the exception: Confluent's converter reads an absent `bytes` field as null.
fn absent(node: &Node, col: &mut ColumnBuilder) -> Result<(), String> {
    match node {
        Node::Scalar(Scalar::Bytes) => col.append_null(),
        Node::Scalar(s) => put(col, s.default()),
        _ => col.append_null(),
    }
}

fn read_value<'a>(
    node: &'a Node,
    wire: u8,
    r: &mut Reader<'a>,
    col: &mut ColumnBuilder,
) -> Result<(), String> {
    if let Node::Scalar(s) = node {
        let v = scalar(s, wire, r)?;
        return put(col, v);
    }
    if wire != 2 {
        return Err("Protobuf message field with a non length-delimited wire type".into());
    }
    let bytes = r.bytes()?;
    match node {
        Node::Scalar(_) => unreachable!("handled above"),
        Node::Message(plan) => {
            let Values::Struct { children, .. } = &mut col.values else {
                return Err(format!(
                    "Cannot read a Protobuf message as {}",
                    col.ksql_type()
                ));
            };
            read_message(plan, bytes, children)?;
            col.set_valid();
            Ok(())
        }
        Node::Wrapper(s) => {
            let mut m = Reader { buf: bytes };
            let mut v = None;
            while !m.buf.is_empty() {
                let (n, w) = m.tag()?;
                if n == 1 {
                    v = Some(scalar(s, w, &mut m)?);
                } else {
                    m.skip(w)?;
                }
            }
            put(col, v.unwrap_or_else(|| s.default()))
        }
        Node::Timestamp | Node::TimeOfDay | Node::Date | Node::Decimal(_) => {
            let mut m = Reader { buf: bytes };
            let mut ints = [0i64; 4];
            let mut value: &[u8] = &[];
            while !m.buf.is_empty() {
                let (n, w) = m.tag()?;
                match (node, n, w) {
                    (Node::Decimal(_), 1, 2) => value = m.bytes()?,
                    (_, 1..=4, 0) => ints[n as usize - 1] = m.varint()? as i64,
                    _ => m.skip(w)?,
                }
            }
            let v = match node {
                // seconds, nanos
                Node::Timestamp => Prim::Timestamp(
                    ints[0]
                        .saturating_mul(1000)
                        .saturating_add((ints[1] as i32 as i64).div_euclid(1_000_000)),
                ),
                // hours, minutes, seconds, nanos
                Node::TimeOfDay => Prim::Time(
                    ((ints[0] * 3600 + ints[1] * 60 + ints[2]) * 1000
                        + (ints[3] as i32 as i64) / 1_000_000) as i32,
                ),
                // year, month, day
                Node::Date => Prim::Date(days_from_civil(
                    ints[0] as i32 as i64,
                    ints[1] as i32 as i64,
                    ints[2] as i32 as i64,
                ) as i32),
                Node::Decimal(default_scale) => {
                    let scale = if ints[2] != 0 {
                        ints[2] as i32 as i8
                    } else {
                        *default_scale
                    };
                    Prim::Decimal(crate::avro::twos_complement(value)?, scale)
                }
                _ => unreachable!("matched above"),
            };
            put(col, v)
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year, month and day of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Append one primitive to `b`, converted to its type.
fn put(b: &mut ColumnBuilder, v: Prim<'_>) -> Result<(), String> {
    let bad = |b: &ColumnBuilder, v: &Prim<'_>| {
        format!("Cannot read Protobuf {v:?} as {}", b.ksql_type())
    };
    let int = |v: &Prim<'_>| match *v {
        Prim::Int(x) => Some(x),
        Prim::Uint(x) => Some(x as i64),
        _ => None,
    };
    match &mut b.values {
        Values::Boolean(vals) => match v {
            Prim::Bool(x) => vals.append(x),
            _ => return Err(bad(b, &v)),
        },
        Values::Int32(vals) => match int(&v) {
            Some(x) => {
                vals.push(i32::try_from(x).map_err(|_| format!("{x} is out of range for INT"))?)
            }
            None => return Err(bad(b, &v)),
        },
        Values::Int64(vals) => match int(&v) {
            Some(x) => vals.push(x),
            None => return Err(bad(b, &v)),
        },
        Values::Float64(vals) => match v {
            Prim::Float(x) => vals.push(f64::from(x)),
            Prim::Double(x) => vals.push(x),
            Prim::Decimal(x, s) => vals.push(x as f64 / 10f64.powi(i32::from(s))),
            _ => match int(&v) {
                Some(x) => vals.push(x as f64),
                None => return Err(bad(b, &v)),
            },
        },
        Values::Decimal128 {
            values,
            precision,
            scale,
        } => {
            let (x, from) = match v {
                Prim::Decimal(x, s) => (x, s),
                _ => match int(&v) {
                    Some(x) => (i128::from(x), 0),
                    None => return Err(bad(b, &v)),
                },
            };
            values.push(crate::avro::read::fit_decimal(x, from, *precision, *scale)?);
        }
        Values::Utf8(bytes) => {
            match v {
                Prim::Str(s) => bytes.data.extend_from_slice(s.as_bytes()),
                Prim::Bool(x) => bytes
                    .data
                    .extend_from_slice(if x { b"true" } else { b"false" }),
                Prim::Int(x) => bytes.data.extend_from_slice(x.to_string().as_bytes()),
                Prim::Uint(x) => bytes.data.extend_from_slice(x.to_string().as_bytes()),
                Prim::Float(x) => write_java_double(&mut bytes.data, f64::from(x)),
                Prim::Double(x) => write_java_double(&mut bytes.data, x),
                Prim::Decimal(x, s) => crate::decimal::write_decimal(&mut bytes.data, x, s),
                _ => return Err(bad(b, &v)),
            }
            bytes.close()?;
        }
        Values::Binary(bytes) => {
            match v {
                Prim::Bytes(x) => bytes.data.extend_from_slice(x),
                _ => return Err(bad(b, &v)),
            }
            bytes.close()?;
        }
        Values::Date32(vals) => match v {
            Prim::Date(x) => vals.push(x),
            Prim::Timestamp(x) => vals.push(x.div_euclid(86_400_000) as i32),
            _ => return Err(bad(b, &v)),
        },
        Values::Time32Ms(vals) => match v {
            Prim::Time(x) => vals.push(x),
            _ => return Err(bad(b, &v)),
        },
        Values::TimestampMs(vals) => match v {
            Prim::Timestamp(x) => vals.push(x),
            Prim::Int(x) => vals.push(x),
            _ => return Err(bad(b, &v)),
        },
        _ => return Err(bad(b, &v)),
    }
    b.set_valid();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for z in [-800_000, -1, 0, 1, 18_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
