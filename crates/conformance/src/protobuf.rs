//! The test driver's PROTOBUF serde: corpus JSON → Protobuf messages (inputs) and messages →
//! JSON (outputs), through prost-reflect's own codec, so Sluice's wire code is checked against
//! an independent implementation. Conversions as ksqlDB's harness makes them: field names match
//! case-insensitively, bytes are base64, DATE is days, TIME and TIMESTAMP milliseconds, enums
//! their names, absent fields without presence their proto3 default.

use std::collections::HashMap;

use datafusion::arrow::datatypes::Fields;
use prost::Message as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use sluice_formats::protobuf::schema::{message_path, schema_for_columns, ProtoSchema};
use sluice_formats::protobuf::{
    civil_from_days, days_from_civil, read_message_indexes, write_message_indexes,
};
use sluice_formats::{NullableRepresentation, Part};
use sluice_registry::SchemaRegistry;

use crate::avro::{find, number};
use crate::json::Json;

/// Encode `v` with the latest schema of `subject` (its message `full_name`, else the first),
/// framed with the schema id and message indexes.
pub fn encode_registered(
    registry: &dyn SchemaRegistry,
    subject: &str,
    full_name: Option<&str>,
    v: &Json,
) -> Result<Vec<u8>, String> {
    let r = registry
        .latest(subject)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no schema registered for subject {subject}"))?;
    let m = ProtoSchema::from_registry(registry, &r.schema)?.message(full_name)?;
    let mut out = sluice_formats::avro::frame(r.id, 64);
    write_message_indexes(&mut out, &message_path(&m));
    out.extend(to_message(&m, v)?.encode_to_vec());
    Ok(out)
}

/// The message PROTOBUF_NOSR uses for columns `fields`.
pub fn generated(
    fields: &Fields,
    part: Part,
    nullable: NullableRepresentation,
) -> Result<MessageDescriptor, String> {
    let text = schema_for_columns(fields, part, None, nullable)?;
    ProtoSchema::compile(&text, &[])?.message(None)
}

/// Encode `v` as a bare message of `m` (PROTOBUF_NOSR).
pub fn encode_bare(m: &MessageDescriptor, v: &Json) -> Result<Vec<u8>, String> {
    Ok(to_message(m, v)?.encode_to_vec())
}

/// Decode a framed message by its writer schema and message indexes.
pub fn decode_registered(registry: &dyn SchemaRegistry, bytes: &[u8]) -> Result<Json, String> {
    let (id, payload) = sluice_formats::avro::unframe(bytes)?;
    let (path, body) = read_message_indexes(payload)?;
    let r = registry.by_id(id).map_err(|e| e.to_string())?;
    let m = ProtoSchema::from_registry(registry, &r.schema)?.message_at(&path)?;
    decode_bare(&m, body)
}

/// Decode a bare message of `m`.
pub fn decode_bare(m: &MessageDescriptor, bytes: &[u8]) -> Result<Json, String> {
    let msg = DynamicMessage::decode(m.clone(), bytes).map_err(|e| e.to_string())?;
    Ok(from_message(&msg))
}

fn to_message(m: &MessageDescriptor, v: &Json) -> Result<DynamicMessage, String> {
    let mut msg = DynamicMessage::new(m.clone());
    let single;
    let members: &[(String, Json)] = match v {
        Json::Object(members) => members,
        // A bare value for a one-field message (a single key column).
        other if m.fields().len() == 1 => {
            single = vec![(
                m.fields().next().expect("one").name().to_string(),
                other.clone(),
            )];
            &single
        }
        other => {
            return Err(format!(
                "cannot write {other} as Protobuf {}",
                m.full_name()
            ))
        }
    };
    for f in m.fields() {
        let Some(x) = find(members, f.name()) else {
            continue;
        };
        if x.is_null() {
            continue;
        }
        let value = if f.is_map() {
            let Kind::Message(entry) = f.kind() else {
                return Err("malformed map".into());
            };
            let Json::Object(entries) = x else {
                return Err(format!("expected an object for map {}", f.name()));
            };
            let vf = entry.map_entry_value_field();
            let mut map = HashMap::new();
            for (k, e) in entries {
                let value = if e.is_null() {
                    vf.default_value()
                } else {
                    scalar(&vf, e)?
                };
                map.insert(MapKey::String(k.clone()), value);
            }
            Value::Map(map)
        } else if f.is_list() {
            let Json::Array(items) = x else {
                return Err(format!("expected an array for {}", f.name()));
            };
            Value::List(
                items
                    .iter()
                    .map(|e| {
                        if e.is_null() {
                            Ok(element_default(&f))
                        } else {
                            scalar(&f, e)
                        }
                    })
                    .collect::<Result<_, String>>()?,
            )
        } else {
            scalar(&f, x)?
        };
        msg.set_field(&f, value);
    }
    Ok(msg)
}

fn element_default(f: &FieldDescriptor) -> Value {
    match f.kind() {
        Kind::Message(m) => Value::Message(DynamicMessage::new(m)),
        Kind::Enum(e) => Value::EnumNumber(e.default_value().number()),
        _ => Value::default_value(&f.kind()),
    }
}

fn int(v: &Json) -> Result<i64, String> {
    match v {
        Json::Number(n) | Json::String(n) => n
            .parse::<i64>()
            .or_else(|_| n.parse::<f64>().map(|f| f as i64))
            .map_err(|_| format!("bad number {n}")),
        other => Err(format!("expected a number, got {other}")),
    }
}

/// One value of field `f`'s kind (not a list or map).
fn scalar(f: &FieldDescriptor, v: &Json) -> Result<Value, String> {
    Ok(match f.kind() {
        Kind::Bool => Value::Bool(
            v.as_bool()
                .ok_or_else(|| format!("expected a boolean, got {v}"))?,
        ),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(int(v)? as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int(v)?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(int(v)? as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(int(v)? as u64),
        Kind::Float => Value::F32(number(v)?),
        Kind::Double => Value::F64(number(v)?),
        Kind::String => Value::String(match v {
            Json::String(s) => s.clone(),
            other => other.to_plain_text(),
        }),
        Kind::Bytes => Value::Bytes(
            crate::base64::decode(v.as_str().ok_or("expected base64 text")?)
                .ok_or("bad base64")?
                .into(),
        ),
        Kind::Enum(e) => {
            let name = v.as_str().ok_or("expected an enum name")?;
            Value::EnumNumber(
                e.get_value_by_name(name)
                    .ok_or_else(|| format!("{name} is not a value of {}", e.full_name()))?
                    .number(),
            )
        }
        Kind::Message(m) => Value::Message(special_to_message(&m, v)?),
    })
}

fn set(msg: &mut DynamicMessage, name: &str, v: Value) {
    msg.set_field_by_name(name, v);
}

fn special_to_message(m: &MessageDescriptor, v: &Json) -> Result<DynamicMessage, String> {
    let mut msg = DynamicMessage::new(m.clone());
    match m.full_name() {
        n if n.starts_with("google.protobuf.") && n.ends_with("Value") => {
            let inner = m.get_field(1).ok_or("malformed wrapper")?;
            msg.set_field(&inner, scalar(&inner, v)?);
        }
        "google.protobuf.Timestamp" => {
            let ms = int(v)?;
            set(&mut msg, "seconds", Value::I64(ms.div_euclid(1000)));
            set(
                &mut msg,
                "nanos",
                Value::I32((ms.rem_euclid(1000) * 1_000_000) as i32),
            );
        }
        "google.type.Date" => {
            let (y, mo, d) = civil_from_days(int(v)?);
            set(&mut msg, "year", Value::I32(y as i32));
            set(&mut msg, "month", Value::I32(mo as i32));
            set(&mut msg, "day", Value::I32(d as i32));
        }
        "google.type.TimeOfDay" => {
            let ms = int(v)?;
            set(&mut msg, "hours", Value::I32((ms / 3_600_000) as i32));
            set(&mut msg, "minutes", Value::I32((ms / 60_000 % 60) as i32));
            set(&mut msg, "seconds", Value::I32((ms / 1000 % 60) as i32));
            set(
                &mut msg,
                "nanos",
                Value::I32((ms % 1000 * 1_000_000) as i32),
            );
        }
        "confluent.type.Decimal" => {
            let text = match v {
                Json::Number(n) | Json::String(n) => n.clone(),
                other => return Err(format!("expected a decimal, got {other}")),
            };
            let scale = text.split_once('.').map_or(0, |(_, f)| f.len());
            let unscaled: i128 = text
                .replace('.', "")
                .parse()
                .map_err(|_| format!("bad decimal {text}"))?;
            set(
                &mut msg,
                "value",
                Value::Bytes(sluice_formats::avro::decimal_bytes(unscaled).into()),
            );
            set(&mut msg, "scale", Value::I32(scale as i32));
        }
        _ => return to_message(m, v),
    }
    Ok(msg)
}

fn num(s: impl ToString) -> Json {
    Json::Number(s.to_string())
}

fn from_message(msg: &DynamicMessage) -> Json {
    Json::Object(
        msg.descriptor()
            .fields()
            .map(|f| {
                // Absent BYTES read as null, as Confluent's converter reads them.
                let v = if (f.supports_presence() || matches!(f.kind(), Kind::Bytes))
                    && !f.is_list()
                    && !msg.has_field(&f)
                {
                    Json::Null
                } else {
                    from_value(&f, &msg.get_field(&f))
                };
                (f.name().to_string(), v)
            })
            .collect(),
    )
}

fn from_value(f: &FieldDescriptor, v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(x) => num(x),
        Value::I64(x) => num(x),
        Value::U32(x) => num(x),
        Value::U64(x) => num(x),
        Value::F32(x) => num(f64::from(*x)),
        Value::F64(x) => num(x),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(crate::base64::encode(b)),
        Value::EnumNumber(n) => match f.kind() {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(ev) => Json::String(ev.name().to_string()),
                None => num(n),
            },
            _ => num(n),
        },
        Value::List(items) => Json::Array(items.iter().map(|x| from_value(f, x)).collect()),
        Value::Map(entries) => {
            let vf = match f.kind() {
                Kind::Message(entry) => entry.map_entry_value_field(),
                _ => f.clone(),
            };
            let mut members: Vec<(String, Json)> = entries
                .iter()
                .map(|(k, x)| {
                    let key = match k {
                        MapKey::String(s) => s.clone(),
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(i) => i.to_string(),
                        MapKey::I64(i) => i.to_string(),
                        MapKey::U32(i) => i.to_string(),
                        MapKey::U64(i) => i.to_string(),
                    };
                    (key, from_value(&vf, x))
                })
                .collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(members)
        }
        Value::Message(m) => special_from_message(m),
    }
}

fn special_from_message(m: &DynamicMessage) -> Json {
    let d = m.descriptor();
    let int = |name: &str| -> i64 {
        match m.get_field_by_name(name).as_deref() {
            Some(Value::I32(x)) => i64::from(*x),
            Some(Value::I64(x)) => *x,
            Some(Value::U32(x)) => i64::from(*x),
            _ => 0,
        }
    };
    match d.full_name() {
        n if n.starts_with("google.protobuf.") && n.ends_with("Value") => {
            let f = d.get_field(1).expect("wrapper field");
            from_value(&f, &m.get_field(&f))
        }
        "google.protobuf.Timestamp" => num(int("seconds") * 1000 + int("nanos") / 1_000_000),
        "google.type.Date" => num(days_from_civil(int("year"), int("month"), int("day"))),
        "google.type.TimeOfDay" => num((int("hours") * 3600
            + int("minutes") * 60
            + int("seconds"))
            * 1000
            + int("nanos") / 1_000_000),
        "confluent.type.Decimal" => {
            let bytes = match m.get_field_by_name("value").as_deref() {
                Some(Value::Bytes(b)) => b.to_vec(),
                _ => Vec::new(),
            };
            let v = sluice_formats::avro::twos_complement(&bytes).unwrap_or(0);
            num(sluice_formats::decimal_text(v, int("scale") as i8))
        }
        _ => from_message(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_lenient;
    use datafusion::arrow::datatypes::{DataType, Field};

    #[test]
    fn json_round_trips_through_generated_messages() {
        let fields = Fields::from(vec![
            Field::new("I", DataType::Int32, true),
            Field::new("S", DataType::Utf8, true),
            Field::new("DT", DataType::Date32, true),
        ]);
        let m = generated(&fields, Part::Value, NullableRepresentation::Default).unwrap();
        let bytes = encode_bare(
            &m,
            &parse_lenient(r#"{"i": 5, "s": null, "dt": -10}"#).unwrap(),
        )
        .unwrap();
        let back = decode_bare(&m, &bytes).unwrap();
        assert_eq!(back.to_string(), r#"{"I":5,"S":"","DT":-10}"#);
    }
}
