//! ksqlDB's mapping between Avro schemas and KSQL columns (as Arrow fields).
//!
//! Reading (inference): a value record's fields become columns named by the field names
//! upper-cased; any other value schema becomes one column `ROWVAL`. A key schema is one column
//! `ROWKEY` of the whole schema's type (keys are unwrapped, as ksqlDB infers them).
//! `["null", T]` unions are T; enums are STRING; float is DOUBLE; fixed is BYTES; the logical
//! types date, time-millis, timestamp-millis and decimal are DATE, TIME, TIMESTAMP, DECIMAL.
//!
//! Writing: ksqlDB's generated schema — a record `io.confluent.ksql.avro_schemas.
//! KsqlDataSourceSchema` (nested structs named `<parent>_<FIELD>`), every field an optional
//! `["null", T]` with default null, decimals as `bytes` with the decimal logical type, maps with
//! STRING keys as Avro maps.

use std::sync::Arc;

use apache_avro::schema::{Name, NamesRef, ResolvedSchema, Schema};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, TimeUnit};
use serde_json::{json, Map, Value};

use crate::types::{ksql_type_name, map_key_value};
use crate::Part;

/// The namespace and name ksqlDB gives the schemas it generates.
pub const DEFAULT_NAMESPACE: &str = "io.confluent.ksql.avro_schemas";
pub const DEFAULT_VALUE_NAME: &str = "KsqlDataSourceSchema";
pub const DEFAULT_KEY_NAME: &str = "KsqlKey";

/// Resolves `Ref`s of a parsed schema.
pub struct Names<'s> {
    names: NamesRef<'s>,
}

impl<'s> Names<'s> {
    pub fn new(schema: &'s Schema) -> Result<Self, String> {
        let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
        Ok(Names {
            names: resolved.get_names().clone(),
        })
    }

    /// `schema`, with a reference replaced by what it names.
    pub fn resolve<'a>(&'a self, schema: &'a Schema) -> Result<&'a Schema, String>
    where
        's: 'a,
    {
        match schema {
            Schema::Ref { name } => self
                .names
                .get(name)
                .copied()
                .ok_or_else(|| format!("unknown Avro type {}", name.fullname(None))),
            other => Ok(other),
        }
    }
}

/// The non-null branches of a union (the schema itself when it is not a union), and whether
/// null is allowed.
pub(crate) fn non_null(schema: &Schema) -> (Vec<&Schema>, bool) {
    match schema {
        Schema::Union(u) => {
            let nullable = u.variants().iter().any(|s| matches!(s, Schema::Null));
            (
                u.variants()
                    .iter()
                    .filter(|s| !matches!(s, Schema::Null))
                    .collect(),
                nullable,
            )
        }
        other => (vec![other], false),
    }
}

/// The columns a schema gives a part of the record (ksqlDB's schema inference). `unwrapped`:
/// the value is one column (`WRAP_SINGLE_VALUE=false`), whatever the schema.
pub fn infer_columns(text: &str, part: Part, unwrapped: bool) -> Result<Vec<Field>, String> {
    let schema = super::parse(text)?;
    let names = Names::new(&schema)?;
    let top = names.resolve(&schema)?;
    match top {
        Schema::Record(r) if part == Part::Value && !unwrapped => r
            .fields
            .iter()
            .map(|f| {
                Ok(Field::new(
                    f.name.to_uppercase(),
                    ksql_type(&names, &f.schema, 0)?,
                    true,
                ))
            })
            .collect(),
        other => Ok(vec![Field::new(
            match part {
                Part::Key => "ROWKEY",
                Part::Value => "ROWVAL",
            },
            ksql_type(&names, other, 0)?,
            true,
        )]),
    }
}

const MAX_DEPTH: usize = 64;

fn ksql_type(names: &Names<'_>, schema: &Schema, depth: usize) -> Result<DataType, String> {
    if depth > MAX_DEPTH {
        return Err("Avro schema nests too deeply (recursive types are not supported)".into());
    }
    let schema = names.resolve(schema)?;
    Ok(match schema {
        Schema::Boolean => DataType::Boolean,
        Schema::Int => DataType::Int32,
        Schema::Long | Schema::TimeMicros | Schema::TimestampMicros | Schema::TimestampNanos => {
            DataType::Int64
        }
        Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => DataType::Int64,
        Schema::Float | Schema::Double => DataType::Float64,
        Schema::String | Schema::Enum(_) | Schema::Uuid => DataType::Utf8,
        Schema::Bytes | Schema::Fixed(_) | Schema::BigDecimal | Schema::Duration => {
            DataType::Binary
        }
        Schema::Decimal(d) => {
            let p = u8::try_from(d.precision).unwrap_or(38).clamp(1, 38);
            let s = i8::try_from(d.scale).unwrap_or(0);
            DataType::Decimal128(p, s)
        }
        Schema::Date => DataType::Date32,
        Schema::TimeMillis => DataType::Time32(TimeUnit::Millisecond),
        Schema::TimestampMillis => DataType::Timestamp(TimeUnit::Millisecond, None),
        Schema::Array(a) => DataType::List(Arc::new(Field::new(
            "item",
            ksql_type(names, &a.items, depth + 1)?,
            true,
        ))),
        Schema::Map(m) => {
            crate::types::map_type(DataType::Utf8, ksql_type(names, &m.types, depth + 1)?)
        }
        Schema::Record(r) => DataType::Struct(
            r.fields
                .iter()
                .map(|f| {
                    Ok(Field::new(
                        f.name.to_uppercase(),
                        ksql_type(names, &f.schema, depth + 1)?,
                        true,
                    ))
                })
                .collect::<Result<Fields, String>>()?,
        ),
        Schema::Union(_) => {
            let (branches, _) = non_null(schema);
            match branches.as_slice() {
                [one] => ksql_type(names, one, depth + 1)?,
                [] => return Err("Avro union of only null has no KSQL type".into()),
                _ => {
                    // Kafka Connect's AvroData: a struct with one optional field per branch.
                    let fields = branches
                        .iter()
                        .map(|b| {
                            Ok(Field::new(
                                union_branch_name(names, b)?,
                                ksql_type(names, b, depth + 1)?,
                                true,
                            ))
                        })
                        .collect::<Result<Fields, String>>()?;
                    DataType::Struct(fields)
                }
            }
        }
        Schema::Null => return Err("Avro null type has no KSQL type".into()),
        Schema::Ref { .. } => unreachable!("resolved above"),
    })
}

/// Kafka Connect's field name for a union branch: the type name, or a named type's name.
pub(crate) fn union_branch_name(names: &Names<'_>, schema: &Schema) -> Result<String, String> {
    let schema = names.resolve(schema)?;
    Ok(match schema {
        Schema::Record(r) => r.name.name.clone(),
        Schema::Enum(e) => e.name.name.clone(),
        Schema::Fixed(f) => f.name.name.clone(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long | Schema::TimestampMillis | Schema::TimestampMicros | Schema::TimeMicros => {
            "long".into()
        }
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::String | Schema::Uuid => "string".into(),
        Schema::Bytes | Schema::Decimal(_) => "bytes".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        other => format!("{other:?}").to_lowercase(),
    })
}

/// Check, at CREATE time, that columns can be written as Avro (ksqlDB's errors).
pub fn validate(fields: &[FieldRef]) -> Result<(), String> {
    fn check_type(dt: &DataType) -> Result<(), String> {
        match dt {
            DataType::Map(entries, _) => {
                let (k, v) = map_key_value(entries).ok_or("malformed MAP")?;
                if k.data_type() != &DataType::Utf8 {
                    return Err("Avro only supports MAPs with STRING keys".into());
                }
                check_type(v.data_type())
            }
            DataType::List(item) => check_type(item.data_type()),
            DataType::Struct(fs) => {
                for f in fs {
                    check_name(f.name())?;
                    check_type(f.data_type())?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    for f in fields {
        check_name(f.name())?;
        check_type(f.data_type())?;
    }
    Ok(())
}

/// Avro's rule for names: `[A-Za-z_][A-Za-z0-9_]*`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => {
            return Err(format!(
                "Schema is not compatible with Avro: Illegal initial character: {name}"
            ))
        }
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!(
            "Schema is not compatible with Avro: Illegal character in: {name} ({c})"
        ));
    }
    Ok(())
}

/// The Avro schema (JSON text) ksqlDB generates for columns in `part`: a record of optional
/// fields, or — for a single key column, or a single value column not wrapped — the bare
/// optional type. `full_name` overrides the record's name (`VALUE_SCHEMA_FULL_NAME`).
pub fn schema_for_columns(
    fields: &[FieldRef],
    wrapped: bool,
    part: Part,
    full_name: Option<&str>,
) -> String {
    let default_name = match part {
        Part::Key => DEFAULT_KEY_NAME,
        Part::Value => DEFAULT_VALUE_NAME,
    };
    let full = full_name
        .map(str::to_string)
        .unwrap_or_else(|| format!("{DEFAULT_NAMESPACE}.{default_name}"));
    if !wrapped && fields.len() == 1 {
        return optional(avro_type(fields[0].data_type(), &full)).to_string();
    }
    record(
        fields.iter().map(|f| (f.name().as_str(), f.data_type())),
        &full,
    )
    .to_string()
}

fn record<'a>(fields: impl Iterator<Item = (&'a str, &'a DataType)>, full: &str) -> Value {
    let (namespace, name) = match full.rsplit_once('.') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, full),
    };
    let fields: Vec<Value> = fields
        .map(|(n, dt)| {
            json!({
                "name": n,
                "type": optional(avro_type(dt, &format!("{full}_{n}"))),
                "default": null,
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("type".into(), json!("record"));
    m.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        m.insert("namespace".into(), json!(ns));
    }
    m.insert("fields".into(), Value::Array(fields));
    m.insert("connect.name".into(), json!(full));
    Value::Object(m)
}

fn optional(t: Value) -> Value {
    json!(["null", t])
}

fn avro_type(dt: &DataType, full: &str) -> Value {
    match dt {
        DataType::Boolean => json!("boolean"),
        DataType::Int32 => json!("int"),
        DataType::Int64 => json!("long"),
        DataType::Float64 => json!("double"),
        DataType::Utf8 => json!("string"),
        DataType::Binary => json!("bytes"),
        DataType::Decimal128(p, s) => json!({
            "type": "bytes",
            "scale": s,
            "precision": p,
            "connect.version": 1,
            "connect.parameters": {"scale": s.to_string(), "connect.decimal.precision": p.to_string()},
            "connect.name": "org.apache.kafka.connect.data.Decimal",
            "logicalType": "decimal",
        }),
        DataType::Date32 => json!({
            "type": "int",
            "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Date",
            "logicalType": "date",
        }),
        DataType::Time32(_) => json!({
            "type": "int",
            "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Time",
            "logicalType": "time-millis",
        }),
        DataType::Timestamp(_, _) => json!({
            "type": "long",
            "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Timestamp",
            "logicalType": "timestamp-millis",
        }),
        DataType::List(item) => json!({
            "type": "array",
            "items": optional(avro_type(item.data_type(), full)),
        }),
        DataType::Map(entries, _) => {
            let v = map_key_value(entries).map(|(_, v)| v.data_type().clone());
            json!({
                "type": "map",
                "values": optional(avro_type(&v.unwrap_or(DataType::Utf8), full)),
            })
        }
        DataType::Struct(fs) => record(fs.iter().map(|f| (f.name().as_str(), f.data_type())), full),
        other => json!(format!("unsupported {}", ksql_type_name(other))),
    }
}

/// A record schema's fully qualified name, if it is a record.
pub fn record_name(text: &str) -> Option<String> {
    match super::parse(text).ok()? {
        Schema::Record(r) => Some(Name::fullname(&r.name, None)),
        _ => None,
    }
}
