//! Avro binary datums → Arrow builders, guided by a plan compiled once per writer schema.
//!
//! The plan ([`Node`]) mirrors the writer schema; record fields carry the index of the column
//! (or struct child) they fill, or none when the reader has no such column (the value is read
//! and dropped). Values are converted to the column's type as ksqlDB's Avro deserializer does:
//! numbers widen, any primitive reads as STRING, enums are their symbol, `["null", T]` unions
//! may be null.

use apache_avro::schema::Schema;
use datafusion::arrow::datatypes::{DataType, Fields};

use super::schema::{non_null, union_branch_name, Names};
use crate::builder::{ColumnBuilder, FieldIndex, Values};
use crate::text::write_java_double;
use crate::types::{ksql_type_name, map_key_value};

/// How to read one writer value.
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Boolean,
    Int(IntKind),
    Long(LongKind),
    Float,
    Double,
    Bytes,
    Fixed(usize),
    Decimal {
        fixed: Option<usize>,
        scale: i8,
    },
    String,
    Enum(Vec<String>),
    Array(Box<Node>),
    Map(Box<Node>),
    /// Branches; with `as_struct`, the value fills the child for its branch (Kafka Connect's
    /// struct for unions of several types).
    Union {
        branches: Vec<Node>,
        as_struct: Option<Vec<Option<usize>>>,
    },
    /// Fields in writer order, each with the child it fills.
    Record(Vec<(Option<usize>, Node)>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum IntKind {
    Plain,
    Date,
    TimeMillis,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum LongKind {
    Plain,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    TimestampNanos,
}

const MAX_DEPTH: usize = 64;

/// Compile the plan for reading `schema` into a column of type `target` (`None`: skip).
pub(crate) fn compile(
    names: &Names<'_>,
    schema: &Schema,
    target: Option<&DataType>,
    depth: usize,
) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err("Avro schema nests too deeply (recursive types are not supported)".into());
    }
    let schema = names.resolve(schema)?;
    let mismatch = |what: &str| -> String {
        format!(
            "Cannot read Avro {what} as {}",
            target.map(ksql_type_name).unwrap_or_default()
        )
    };
    Ok(match schema {
        Schema::Null => Node::Null,
        Schema::Boolean => Node::Boolean,
        Schema::Int => Node::Int(IntKind::Plain),
        Schema::Date => Node::Int(IntKind::Date),
        Schema::TimeMillis => Node::Int(IntKind::TimeMillis),
        Schema::Long
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Node::Long(LongKind::Plain),
        Schema::TimeMicros => Node::Long(LongKind::TimeMicros),
        Schema::TimestampMillis => Node::Long(LongKind::TimestampMillis),
        Schema::TimestampMicros => Node::Long(LongKind::TimestampMicros),
        Schema::TimestampNanos => Node::Long(LongKind::TimestampNanos),
        Schema::Float => Node::Float,
        Schema::Double => Node::Double,
        Schema::Bytes | Schema::BigDecimal => Node::Bytes,
        Schema::Fixed(f) => Node::Fixed(f.size),
        Schema::Duration => Node::Fixed(12),
        Schema::Decimal(d) => {
            let inner = names.resolve(&d.inner)?;
            Node::Decimal {
                fixed: match inner {
                    Schema::Fixed(f) => Some(f.size),
                    _ => None,
                },
                scale: i8::try_from(d.scale).map_err(|_| "decimal scale too large".to_string())?,
            }
        }
        Schema::String | Schema::Uuid => Node::String,
        Schema::Enum(e) => Node::Enum(e.symbols.clone()),
        Schema::Array(a) => {
            let item = match target {
                None => None,
                Some(DataType::List(item)) => Some(item.data_type()),
                Some(_) => return Err(mismatch("array")),
            };
            Node::Array(Box::new(compile(names, &a.items, item, depth + 1)?))
        }
        Schema::Map(m) => {
            let value = match target {
                None => None,
                Some(DataType::Map(entries, _)) => {
                    let (k, v) = map_key_value(entries).ok_or("malformed MAP type")?;
                    if k.data_type() != &DataType::Utf8 {
                        return Err("Avro only supports MAPs with STRING keys".into());
                    }
                    Some(v.data_type())
                }
                Some(_) => return Err(mismatch("map")),
            };
            Node::Map(Box::new(compile(names, &m.types, value, depth + 1)?))
        }
        Schema::Record(r) => {
            let children = match target {
                None => None,
                Some(DataType::Struct(fs)) => Some(fs),
                Some(_) => return Err(mismatch("record")),
            };
            Node::Record(record_fields(
                names,
                r.fields.iter().map(|f| (f.name.as_str(), &f.schema)),
                children,
                depth,
            )?)
        }
        Schema::Union(u) => {
            let (branches, _) = non_null(schema);
            if branches.len() > 1 {
                if let Some(DataType::Struct(fs)) = target {
                    // Kafka Connect's struct of one field per branch.
                    let index = FieldIndex::new(fs);
                    let mut upper = String::new();
                    let mut slots = Vec::new();
                    let mut nodes = Vec::new();
                    for b in u.variants() {
                        if matches!(b, Schema::Null) {
                            slots.push(None);
                            nodes.push(Node::Null);
                            continue;
                        }
                        let name = union_branch_name(names, b)?;
                        let slot = index.lookup(&name, 0, &mut upper).map(|(i, _)| i);
                        nodes.push(compile(
                            names,
                            b,
                            slot.map(|i| fs[i].data_type()),
                            depth + 1,
                        )?);
                        slots.push(slot);
                    }
                    return Ok(Node::Union {
                        branches: nodes,
                        as_struct: Some(slots),
                    });
                }
            }
            Node::Union {
                branches: u
                    .variants()
                    .iter()
                    .map(|b| compile(names, b, target, depth + 1))
                    .collect::<Result<_, _>>()?,
                as_struct: None,
            }
        }
        Schema::Ref { .. } => unreachable!("resolved above"),
    })
}

/// Plans for a record's fields, each matched to a child of `children` by name (exactly, else
/// upper-cased).
pub(crate) fn record_fields<'a>(
    names: &Names<'_>,
    fields: impl Iterator<Item = (&'a str, &'a Schema)>,
    children: Option<&Fields>,
    depth: usize,
) -> Result<Vec<(Option<usize>, Node)>, String> {
    let index = children.map(FieldIndex::new);
    let mut upper = String::new();
    fields
        .enumerate()
        .map(|(i, (name, schema))| {
            let slot = index
                .as_ref()
                .and_then(|ix| ix.lookup(name, i, &mut upper))
                .map(|(i, _)| i);
            let target = slot.and_then(|i| children.map(|fs| fs[i].data_type()));
            Ok((slot, compile(names, schema, target, depth + 1)?))
        })
        .collect()
}

/// A cursor over a datum's bytes.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn long(&mut self) -> Result<i64, String> {
        let mut n: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or("Avro datum ends early")?;
            self.buf = rest;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((n >> 1) as i64 ^ -((n & 1) as i64));
            }
        }
        Err("Avro varint is too long".into())
    }

    fn int(&mut self) -> Result<i32, String> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| format!("Avro int out of range: {v}"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err("Avro datum ends early".into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.long()?;
        let n = usize::try_from(n).map_err(|_| format!("negative Avro length {n}"))?;
        self.take(n)
    }

    fn string(&mut self) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes()?).map_err(|_| "Avro string is not UTF-8".to_string())
    }

    /// The item count of the next block (0 at the end), skipping a block's byte size.
    fn block(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        if n < 0 {
            self.long()?;
        }
        usize::try_from(n.unsigned_abs()).map_err(|_| "Avro block too large".to_string())
    }
}

/// One primitive as read.
enum Prim<'a> {
    Bool(bool),
    Int(i32, IntKind),
    Long(i64, LongKind),
    Float(f32),
    Double(f64),
    Bytes(&'a [u8]),
    Str(&'a str),
    Decimal(i128, i8),
}

impl Prim<'_> {
    fn avro_name(&self) -> &'static str {
        match self {
            Prim::Bool(_) => "boolean",
            Prim::Int(..) => "int",
            Prim::Long(..) => "long",
            Prim::Float(_) => "float",
            Prim::Double(_) => "double",
            Prim::Bytes(_) => "bytes",
            Prim::Str(_) => "string",
            Prim::Decimal(..) => "decimal",
        }
    }
}

/// Read one value as `node` into `out` (`None`: read and drop).
pub(crate) fn read(
    node: &Node,
    r: &mut Reader<'_>,
    out: Option<&mut ColumnBuilder>,
) -> Result<(), String> {
    match node {
        Node::Null => {
            if let Some(b) = out {
                b.append_null()?;
            }
            Ok(())
        }
        Node::Boolean => {
            let (&v, rest) = r.buf.split_first().ok_or("Avro datum ends early")?;
            r.buf = rest;
            put(out, Prim::Bool(v != 0))
        }
        Node::Int(k) => {
            let v = r.int()?;
            put(out, Prim::Int(v, *k))
        }
        Node::Long(k) => {
            let v = r.long()?;
            put(out, Prim::Long(v, *k))
        }
        Node::Float => {
            let v = f32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes"));
            put(out, Prim::Float(v))
        }
        Node::Double => {
            let v = f64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
            put(out, Prim::Double(v))
        }
        Node::Bytes => {
            let v = r.bytes()?;
            put(out, Prim::Bytes(v))
        }
        Node::Fixed(n) => {
            let v = r.take(*n)?;
            put(out, Prim::Bytes(v))
        }
        Node::Decimal { fixed, scale } => {
            let raw = match fixed {
                Some(n) => r.take(*n)?,
                None => r.bytes()?,
            };
            if out.is_none() {
                return Ok(());
            }
            put(out, Prim::Decimal(twos_complement(raw)?, *scale))
        }
        Node::String => {
            let v = r.string()?;
            put(out, Prim::Str(v))
        }
        Node::Enum(symbols) => {
            let i = r.int()?;
            let s = usize::try_from(i)
                .ok()
                .and_then(|i| symbols.get(i))
                .ok_or_else(|| format!("Avro enum index {i} out of range"))?;
            put(out, Prim::Str(s))
        }
        Node::Array(item) => {
            let Some(b) = out else {
                loop {
                    let n = r.block()?;
                    if n == 0 {
                        return Ok(());
                    }
                    for _ in 0..n {
                        read(item, r, None)?;
                    }
                }
            };
            let Values::List { offsets, child } = &mut b.values else {
                return Err(format!("Cannot read Avro array as {}", b.ksql_type()));
            };
            loop {
                let n = r.block()?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    read(item, r, Some(child))?;
                }
            }
            offsets.push(i32::try_from(child.len()).map_err(|_| "array too large")?);
            b.set_valid();
            Ok(())
        }
        Node::Map(value) => {
            let Some(b) = out else {
                loop {
                    let n = r.block()?;
                    if n == 0 {
                        return Ok(());
                    }
                    for _ in 0..n {
                        r.bytes()?;
                        read(value, r, None)?;
                    }
                }
            };
            let Values::Map {
                offsets,
                keys,
                values,
            } = &mut b.values
            else {
                return Err(format!("Cannot read Avro map as {}", b.ksql_type()));
            };
            loop {
                let n = r.block()?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    let k = r.string()?;
                    put(Some(keys), Prim::Str(k))?;
                    read(value, r, Some(values))?;
                }
            }
            offsets.push(i32::try_from(keys.len()).map_err(|_| "map too large")?);
            b.set_valid();
            Ok(())
        }
        Node::Union {
            branches,
            as_struct,
        } => {
            let i = r.long()?;
            let branch = usize::try_from(i)
                .ok()
                .and_then(|i| branches.get(i).map(|n| (i, n)))
                .ok_or_else(|| format!("Avro union index {i} out of range"))?;
            match (as_struct, out) {
                (Some(slots), Some(b)) => {
                    if matches!(branch.1, Node::Null) {
                        return b.append_null();
                    }
                    let Values::Struct { children, .. } = &mut b.values else {
                        return Err(format!("Cannot read Avro union as {}", b.ksql_type()));
                    };
                    let slot = slots[branch.0];
                    for (j, c) in children.iter_mut().enumerate() {
                        if Some(j) == slot {
                            read(branch.1, r, Some(c))?;
                        } else {
                            c.append_null_masked();
                        }
                    }
                    if slot.is_none() {
                        read(branch.1, r, None)?;
                    }
                    b.set_valid();
                    Ok(())
                }
                (_, out) => read(branch.1, r, out),
            }
        }
        Node::Record(fields) => {
            let Some(b) = out else {
                for (_, n) in fields {
                    read(n, r, None)?;
                }
                return Ok(());
            };
            let Values::Struct { children, .. } = &mut b.values else {
                return Err(format!("Cannot read Avro record as {}", b.ksql_type()));
            };
            read_fields(fields, r, children)?;
            b.set_valid();
            Ok(())
        }
    }
}

/// Read a record's fields into `columns` (children filled by no field get null).
pub(crate) fn read_fields(
    fields: &[(Option<usize>, Node)],
    r: &mut Reader<'_>,
    columns: &mut [ColumnBuilder],
) -> Result<(), String> {
    let start = columns.first().map_or(0, ColumnBuilder::len);
    for (slot, node) in fields {
        match slot {
            Some(i) if columns[*i].len() == start => read(node, r, Some(&mut columns[*i]))?,
            _ => read(node, r, None)?,
        }
    }
    for c in columns.iter_mut() {
        if c.len() == start {
            c.append_null_masked();
        }
    }
    Ok(())
}

/// A decimal's big-endian two's complement bytes as an unscaled value.
pub fn twos_complement(raw: &[u8]) -> Result<i128, String> {
    if raw.len() > 16 {
        return Err("Avro decimal wider than 38 digits".into());
    }
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let mut bytes = [if negative { 0xff } else { 0 }; 16];
    bytes[16 - raw.len()..].copy_from_slice(raw);
    Ok(i128::from_be_bytes(bytes))
}

/// Unscaled `x` at scale `from` as a value of DECIMAL(`precision`, `scale`), or why it does not
/// fit.
pub(crate) fn fit_decimal(x: i128, from: i8, precision: u8, scale: i8) -> Result<i128, String> {
    let x = rescale(x, from, scale).ok_or("decimal out of range")?;
    if x.unsigned_abs() >= 10u128.pow(u32::from(precision)) {
        return Err(format!(
            "decimal does not fit DECIMAL({precision}, {scale})"
        ));
    }
    Ok(x)
}

/// `v` at scale `from` rewritten at scale `to` (rounding half up when the scale shrinks).
fn rescale(v: i128, from: i8, to: i8) -> Option<i128> {
    let diff = i32::from(to) - i32::from(from);
    if diff >= 0 {
        v.checked_mul(10i128.checked_pow(diff as u32)?)
    } else {
        // Round half up, as BigDecimal.setScale(HALF_UP).
        let d = 10i128.checked_pow((-diff) as u32)?;
        let q = v / d;
        let rem = v % d;
        Some(if rem.abs() * 2 >= d {
            q + v.signum()
        } else {
            q
        })
    }
}

/// Append one primitive to `out`, converted to its type.
fn put(out: Option<&mut ColumnBuilder>, v: Prim<'_>) -> Result<(), String> {
    let Some(b) = out else { return Ok(()) };
    let bad = |b: &ColumnBuilder, v: &Prim<'_>| {
        format!("Cannot read Avro {} as {}", v.avro_name(), b.ksql_type())
    };
    match &mut b.values {
        Values::Boolean(vals) => match v {
            Prim::Bool(x) => vals.append(x),
            _ => return Err(bad(b, &v)),
        },
        Values::Int32(vals) => match v {
            Prim::Int(x, _) => vals.push(x),
            Prim::Long(x, _) => {
                vals.push(i32::try_from(x).map_err(|_| format!("{x} is out of range for INT"))?)
            }
            _ => return Err(bad(b, &v)),
        },
        Values::Int64(vals) => match v {
            Prim::Int(x, _) => vals.push(i64::from(x)),
            Prim::Long(x, _) => vals.push(x),
            _ => return Err(bad(b, &v)),
        },
        Values::Float64(vals) => match v {
            Prim::Int(x, _) => vals.push(f64::from(x)),
            Prim::Long(x, _) => vals.push(x as f64),
            // float → double as Java widens it (exactly the float's value).
            Prim::Float(x) => vals.push(f64::from(x)),
            Prim::Double(x) => vals.push(x),
            Prim::Decimal(x, s) => vals.push(x as f64 / 10f64.powi(i32::from(s))),
            _ => return Err(bad(b, &v)),
        },
        Values::Decimal128 {
            values,
            precision,
            scale,
        } => {
            let (x, from) = match v {
                Prim::Decimal(x, s) => (x, s),
                Prim::Int(x, _) => (i128::from(x), 0),
                Prim::Long(x, _) => (i128::from(x), 0),
                _ => return Err(bad(b, &v)),
            };
            values.push(fit_decimal(x, from, *precision, *scale)?);
        }
        Values::Utf8(bytes) => {
            match v {
                Prim::Str(s) => bytes.data.extend_from_slice(s.as_bytes()),
                Prim::Bool(x) => bytes
                    .data
                    .extend_from_slice(if x { b"true" } else { b"false" }),
                Prim::Int(x, _) => bytes.data.extend_from_slice(x.to_string().as_bytes()),
                Prim::Long(x, _) => bytes.data.extend_from_slice(x.to_string().as_bytes()),
                Prim::Float(x) => write_java_double(&mut bytes.data, f64::from(x)),
                Prim::Double(x) => write_java_double(&mut bytes.data, x),
                Prim::Decimal(x, s) => crate::decimal::write_decimal(&mut bytes.data, x, s),
                Prim::Bytes(_) => return Err(bad(b, &v)),
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
            Prim::Int(x, IntKind::Date | IntKind::Plain) => vals.push(x),
            Prim::Long(x, LongKind::TimestampMillis) => {
                vals.push((x.div_euclid(86_400_000)) as i32)
            }
            _ => return Err(bad(b, &v)),
        },
        Values::Time32Ms(vals) => match v {
            Prim::Int(x, IntKind::TimeMillis | IntKind::Plain) => vals.push(x),
            Prim::Long(x, LongKind::TimeMicros) => vals.push((x / 1000) as i32),
            _ => return Err(bad(b, &v)),
        },
        Values::TimestampMs(vals) => match v {
            Prim::Long(x, LongKind::TimestampMillis | LongKind::Plain) => vals.push(x),
            Prim::Long(x, LongKind::TimestampMicros) => vals.push(x.div_euclid(1000)),
            Prim::Long(x, LongKind::TimestampNanos) => vals.push(x.div_euclid(1_000_000)),
            Prim::Int(x, IntKind::Plain) => vals.push(i64::from(x)),
            _ => return Err(bad(b, &v)),
        },
        _ => return Err(bad(b, &v)),
    }
    b.set_valid();
    Ok(())
}
