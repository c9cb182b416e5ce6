//! The test driver's AVRO serde: corpus JSON → Avro datums of a registered schema (inputs), and
//! output datums → JSON by their writer schema (outputs), as ksqlDB's harness converts them
//! (bytes as base64, decimals as numbers with their scale, enums as their symbol).

use apache_avro::schema::Schema;
use apache_avro::types::Value;
use sluice_formats::avro::schema::Names;
use sluice_formats::avro::{decimal_bytes, frame, parse, twos_complement, unframe};
use sluice_registry::SchemaRegistry;

use crate::json::Json;

/// Encode `v` with the latest schema of `subject`, framed with its id.
pub fn encode(registry: &dyn SchemaRegistry, subject: &str, v: &Json) -> Result<Vec<u8>, String> {
    let r = registry
        .latest(subject)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no schema registered for subject {subject}"))?;
    let schema = parse(&r.schema.text)?;
    let names = Names::new(&schema)?;
    let value = to_avro(&names, &schema, v)?;
    let datum = apache_avro::to_avro_datum(&schema, value).map_err(|e| e.to_string())?;
    let mut out = frame(r.id, datum.len());
    out.extend(datum);
    Ok(out)
}

/// Decode a framed datum by its writer schema.
pub fn decode(registry: &dyn SchemaRegistry, bytes: &[u8]) -> Result<Json, String> {
    let (id, payload) = unframe(bytes)?;
    let r = registry.by_id(id).map_err(|e| e.to_string())?;
    let schema = parse(&r.schema.text)?;
    let names = Names::new(&schema)?;
    let value = apache_avro::from_avro_datum(&schema, &mut &payload[..], None)
        .map_err(|e| e.to_string())?;
    to_json(&names, &schema, &value)
}

pub(crate) fn number<T: std::str::FromStr>(v: &Json) -> Result<T, String> {
    match v {
        Json::Number(n) | Json::String(n) => n.parse().map_err(|_| format!("bad number {n}")),
        other => Err(format!("expected a number, got {other}")),
    }
}

fn unscaled(text: &str, scale: usize) -> Result<i128, String> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut digits = format!("{int}{}", &frac[..frac.len().min(scale)]);
    for _ in frac.len()..scale {
        digits.push('0');
    }
    let v: i128 = digits.parse().map_err(|_| format!("bad decimal {text}"))?;
    Ok(if neg { -v } else { v })
}

/// Member `name` of an object: the same name, else the same name ignoring case.
pub(crate) fn find<'a>(members: &'a [(String, Json)], name: &str) -> Option<&'a Json> {
    members
        .iter()
        .find(|(k, _)| k == name)
        .or_else(|| members.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| v)
}

fn to_avro(names: &Names<'_>, schema: &Schema, v: &Json) -> Result<Value, String> {
    let schema = names.resolve(schema)?;
    Ok(match (schema, v) {
        (Schema::Union(u), _) => {
            let mut err = None;
            for (i, b) in u.variants().iter().enumerate() {
                if matches!(b, Schema::Null) != v.is_null() {
                    continue;
                }
                match to_avro(names, b, v) {
                    Ok(x) => return Ok(Value::Union(i as u32, Box::new(x))),
                    Err(e) => {
                        err.get_or_insert(e);
                    }
                }
            }
            return Err(err.unwrap_or_else(|| format!("{v} fits no branch of the union")));
        }
        (Schema::Null, Json::Null) => Value::Null,
        (Schema::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (Schema::Int, _) => Value::Int(number(v)?),
        (Schema::Long, _) => Value::Long(number(v)?),
        (Schema::Float, _) => Value::Float(number(v)?),
        (Schema::Double, _) => Value::Double(number(v)?),
        (Schema::Date, _) => Value::Date(number(v)?),
        (Schema::TimeMillis, _) => Value::TimeMillis(number(v)?),
        (Schema::TimeMicros, _) => Value::TimeMicros(number(v)?),
        (Schema::TimestampMillis, _) => Value::TimestampMillis(number(v)?),
        (Schema::TimestampMicros, _) => Value::TimestampMicros(number(v)?),
        (Schema::String | Schema::Uuid, Json::String(s)) => Value::String(s.clone()),
        (Schema::String, Json::Number(s)) => Value::String(s.clone()),
        (Schema::Enum(e), Json::String(s)) => {
            let i = e
                .symbols
                .iter()
                .position(|x| x == s)
                .ok_or_else(|| format!("{s} is not a symbol of {:?}", e.name))?;
            Value::Enum(i as u32, s.clone())
        }
        (Schema::Bytes, Json::String(s)) => {
            Value::Bytes(crate::base64::decode(s).ok_or_else(|| format!("bad base64 {s}"))?)
        }
        (Schema::Fixed(f), Json::String(s)) => Value::Fixed(
            f.size,
            crate::base64::decode(s).ok_or_else(|| format!("bad base64 {s}"))?,
        ),
        (Schema::Decimal(d), Json::Number(n) | Json::String(n)) => {
            let b = decimal_bytes(unscaled(n, d.scale)?);
            match names.resolve(&d.inner)? {
                Schema::Fixed(f) => {
                    let mut padded = vec![
                        if n.starts_with('-') { 0xff } else { 0 };
                        f.size - b.len().min(f.size)
                    ];
                    padded.extend(b);
                    Value::Decimal(padded.into())
                }
                _ => Value::Decimal(b.into()),
            }
        }
        (Schema::Array(a), Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|x| to_avro(names, &a.items, x))
                .collect::<Result<_, _>>()?,
        ),
        (Schema::Map(m), Json::Object(members)) => Value::Map(
            members
                .iter()
                .map(|(k, x)| Ok((k.clone(), to_avro(names, &m.types, x)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Schema::Record(r), Json::Object(members)) => Value::Record(
            r.fields
                .iter()
                .map(|f| {
                    let x = find(members, &f.name).unwrap_or(&Json::Null);
                    Ok((f.name.clone(), to_avro(names, &f.schema, x)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        _ => {
            return Err(format!(
                "cannot write {v} as Avro {}",
                schema.canonical_form()
            ))
        }
    })
}

fn num(s: impl ToString) -> Json {
    Json::Number(s.to_string())
}

fn to_json(names: &Names<'_>, schema: &Schema, v: &Value) -> Result<Json, String> {
    let schema = names.resolve(schema)?;
    Ok(match (schema, v) {
        (Schema::Union(u), Value::Union(i, x)) => {
            let b = u
                .variants()
                .get(*i as usize)
                .ok_or("union index out of range")?;
            to_json(names, b, x)?
        }
        (_, Value::Null) => Json::Null,
        (_, Value::Boolean(b)) => Json::Bool(*b),
        (_, Value::Int(x) | Value::Date(x) | Value::TimeMillis(x)) => num(x),
        (
            _,
            Value::Long(x)
            | Value::TimestampMillis(x)
            | Value::TimestampMicros(x)
            | Value::TimeMicros(x)
            | Value::LocalTimestampMillis(x),
        ) => num(x),
        (_, Value::Float(x)) => num(f64::from(*x)),
        (_, Value::Double(x)) => num(x),
        (_, Value::String(s) | Value::Enum(_, s)) => Json::String(s.clone()),
        (_, Value::Bytes(b) | Value::Fixed(_, b)) => Json::String(crate::base64::encode(b)),
        (Schema::Decimal(d), Value::Decimal(x)) => {
            let bytes = <Vec<u8>>::try_from(x).map_err(|e| e.to_string())?;
            let v = twos_complement(&bytes)?;
            num(sluice_formats::decimal_text(v, d.scale as i8))
        }
        (Schema::Array(a), Value::Array(items)) => Json::Array(
            items
                .iter()
                .map(|x| to_json(names, &a.items, x))
                .collect::<Result<_, _>>()?,
        ),
        (Schema::Map(m), Value::Map(entries)) => {
            let mut members: Vec<(String, Json)> = entries
                .iter()
                .map(|(k, x)| Ok((k.clone(), to_json(names, &m.types, x)?)))
                .collect::<Result<_, String>>()?;
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(members)
        }
        (Schema::Record(r), Value::Record(fields)) => Json::Object(
            r.fields
                .iter()
                .zip(fields)
                .map(|(f, (k, x))| Ok((k.clone(), to_json(names, &f.schema, x)?)))
                .collect::<Result<_, String>>()?,
        ),
        (s, v) => {
            return Err(format!(
                "unexpected Avro value {v:?} for {}",
                s.canonical_form()
            ))
        }
    })
}
