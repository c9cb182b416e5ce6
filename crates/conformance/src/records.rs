//! Turning corpus records into Kafka bytes and Kafka bytes back into comparable values, by the
//! formats of the source that reads or writes the topic (the catalog knows them).
//!
//! The encodings are those of ksqlDB's test driver: JSON writes the document (a string value
//! becomes a JSON string), DELIMITED and KAFKA STRING write the text as given, KAFKA INT /
//! BIGINT / DOUBLE write 4 / 8 / 8 big-endian bytes. Windowed keys append the window to the
//! key bytes as Kafka Streams does: the start (8 bytes) for time windows, the end and then the
//! start for session windows.

use std::sync::Arc;

use datafusion::arrow::datatypes::Fields;
use sluice_catalog::{Catalog, SourceDef};
use sluice_formats::{Format, FormatKind, Part};
use sluice_parser::SqlType;
use sluice_registry::SchemaRegistry;

use crate::compare::Actual;
use crate::corpus::{Record, Window};
use crate::json::{parse_bytes, Json};

/// How one part (key or value) of a topic's records is written.
#[derive(Debug, Clone)]
pub struct PartFormat {
    pub kind: FormatKind,
    /// Column types of the part, in order.
    pub types: Vec<SqlType>,
    /// Schema-registry formats: the registry and the part's subject.
    pub registry: Option<(Arc<dyn SchemaRegistry>, String)>,
    /// The format with its options (schema name, Protobuf nullable representation).
    pub format: Format,
    /// The part's columns (PROTOBUF_NOSR derives its schema from them).
    pub fields: Fields,
    pub part: Part,
}

/// The formats of a topic, taken from a source over it.
#[derive(Debug, Clone)]
pub struct TopicFormats {
    pub source: String,
    pub key: PartFormat,
    pub value: PartFormat,
    /// `TUMBLING` / `HOPPING` / `SESSION` and the window size, when keys are windowed.
    pub window: Option<(String, Option<i64>)>,
}

impl TopicFormats {
    fn from_source(s: &SourceDef, registry: Option<&Arc<dyn SchemaRegistry>>) -> Self {
        let reg = |kind: FormatKind, key: bool| {
            registry
                .filter(|_| kind.uses_schema_registry())
                .map(|r| (r.clone(), sluice_registry::subject_name(&s.topic, key)))
        };
        TopicFormats {
            source: s.name.clone(),
            key: PartFormat {
                kind: s.key_format.kind,
                types: s.key_columns().map(|c| c.ty.clone()).collect(),
                registry: reg(s.key_format.kind, true),
                format: s.key_format.clone(),
                fields: s.key_fields().unwrap_or_else(|_| Fields::empty()),
                part: Part::Key,
            },
            value: PartFormat {
                kind: s.value_format.kind,
                types: s.value_columns().map(|c| c.ty.clone()).collect(),
                registry: reg(s.value_format.kind, false),
                format: s.value_format.clone(),
                fields: s.value_fields().unwrap_or_else(|_| Fields::empty()),
                part: Part::Value,
            },
            window: s
                .window
                .as_ref()
                .map(|w| (w.kind.to_uppercase(), w.size_ms)),
        }
    }
}

/// The formats of `topic`: from a source written by a query when `sink` (outputs), else from
/// a source declared over the topic (inputs); any source over the topic otherwise.
pub fn formats_for(
    catalog: &Catalog,
    topic: &str,
    sink: bool,
    registry: Option<&Arc<dyn SchemaRegistry>>,
) -> Option<TopicFormats> {
    let over: Vec<&SourceDef> = catalog
        .sources()
        .map(|s| s.as_ref())
        .filter(|s| s.topic == topic)
        .collect();
    over.iter()
        .find(|s| s.written_by.is_some() == sink)
        .or(over.first())
        .map(|s| TopicFormats::from_source(s, registry))
}

/// The key bytes of an input record.
pub fn encode_key(f: Option<&TopicFormats>, r: &Record) -> Result<Option<Vec<u8>>, String> {
    let inner = match f {
        Some(f) => encode_part(&f.key, &r.key, "key")?,
        None => encode_untyped(&r.key),
    };
    let Some(w) = &r.window else {
        return Ok(inner);
    };
    let mut bytes = inner.unwrap_or_default();
    if w.kind == "session" {
        bytes.extend_from_slice(&w.end.to_be_bytes());
    }
    bytes.extend_from_slice(&w.start.to_be_bytes());
    Ok(Some(bytes))
}

/// The value bytes of an input record (`None`: a tombstone).
pub fn encode_value(f: Option<&TopicFormats>, r: &Record) -> Result<Option<Vec<u8>>, String> {
    match f {
        Some(f) => encode_part(&f.value, &r.value, "value"),
        None => Ok(encode_untyped(&r.value)),
    }
}

/// No source reads the topic: JSON for documents, the text for scalars.
fn encode_untyped(v: &Json) -> Option<Vec<u8>> {
    match v {
        Json::Null => None,
        Json::Object(_) | Json::Array(_) => Some(v.to_string().into_bytes()),
        other => Some(other.to_plain_text().into_bytes()),
    }
}

fn encode_part(f: &PartFormat, v: &Json, what: &str) -> Result<Option<Vec<u8>>, String> {
    if v.is_null() {
        return Ok(None);
    }
    match f.kind {
        FormatKind::Json => Ok(Some(v.to_string().into_bytes())),
        FormatKind::Delimited => Ok(Some(v.to_plain_text().into_bytes())),
        FormatKind::None => Ok(None),
        FormatKind::Avro => {
            let (registry, subject) = f
                .registry
                .as_ref()
                .ok_or_else(|| format!("no schema registry for the AVRO {what}"))?;
            crate::avro::encode(registry.as_ref(), subject, v)
                .map(Some)
                .map_err(|e| format!("cannot write {what} {v} as AVRO: {e}"))
        }
        FormatKind::Protobuf => {
            let (registry, subject) = f
                .registry
                .as_ref()
                .ok_or_else(|| format!("no schema registry for the PROTOBUF {what}"))?;
            crate::protobuf::encode_registered(
                registry.as_ref(),
                subject,
                f.format.options.full_schema_name.as_deref(),
                v,
            )
            .map(Some)
            .map_err(|e| format!("cannot write {what} {v} as PROTOBUF: {e}"))
        }
        FormatKind::JsonSr => {
            let (registry, subject) = f
                .registry
                .as_ref()
                .ok_or_else(|| format!("no schema registry for the JSON_SR {what}"))?;
            let id = match f.format.options.schema_id {
                Some(id) => id,
                None => {
                    registry
                        .latest(subject)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("no JSON schema registered under {subject}"))?
                        .id
                }
            };
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(v.to_string().as_bytes());
            Ok(Some(bytes))
        }
        FormatKind::ProtobufNoSr => crate::protobuf::generated(
            &f.fields,
            f.part,
            f.format.options.nullable_representation.unwrap_or_default(),
        )
        .and_then(|m| crate::protobuf::encode_bare(&m, v))
        .map(Some)
        .map_err(|e| format!("cannot write {what} {v} as PROTOBUF_NOSR: {e}")),
        FormatKind::Kafka => {
            let Some(ty) = f.types.first() else {
                // No columns: the bytes are ignored by the reader; write them as text.
                return Ok(Some(v.to_plain_text().into_bytes()));
            };
            let text = v.to_plain_text();
            let bad = || format!("cannot write {what} {v} as KAFKA {ty}");
            Ok(Some(match ty {
                SqlType::Int => text
                    .parse::<i32>()
                    .map_err(|_| bad())?
                    .to_be_bytes()
                    .to_vec(),
                SqlType::Bigint => text
                    .parse::<i64>()
                    .map_err(|_| bad())?
                    .to_be_bytes()
                    .to_vec(),
                SqlType::Double => text
                    .parse::<f64>()
                    .map_err(|_| bad())?
                    .to_be_bytes()
                    .to_vec(),
                SqlType::String => text.into_bytes(),
                SqlType::Bytes => crate::base64::decode(&text).ok_or_else(bad)?,
                _ => return Err(bad()),
            }))
        }
    }
}

/// Decodes an output record's key: the key value and, for windowed keys, the window.
pub fn decode_key(f: Option<&TopicFormats>, bytes: Option<&[u8]>) -> (Actual, Option<Window>) {
    let Some(f) = f else {
        return (untyped(bytes), None);
    };
    let Some(bytes) = bytes else {
        return (Actual::Null, None);
    };
    let (bytes, window) = match &f.window {
        None => (bytes, None),
        Some((kind, size)) => {
            let session = kind == "SESSION";
            let suffix = if session { 16 } else { 8 };
            if bytes.len() < suffix {
                return (
                    Actual::Invalid(format!("windowed key shorter than {suffix} bytes")),
                    None,
                );
            }
            let (inner, w) = bytes.split_at(bytes.len() - suffix);
            let read = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("8 bytes"));
            let window = if session {
                Window {
                    end: read(&w[..8]),
                    start: read(&w[8..]),
                    kind: "session".into(),
                }
            } else {
                let start = read(w);
                Window {
                    start,
                    end: start.saturating_add(size.unwrap_or(0)),
                    kind: "time".into(),
                }
            };
            (inner, Some(window))
        }
    };
    if f.key.types.is_empty() {
        return (Actual::Null, window);
    }
    (decode_part(&f.key, bytes), window)
}

/// Decodes an output record's value.
pub fn decode_value(f: Option<&TopicFormats>, bytes: Option<&[u8]>) -> Actual {
    match (f, bytes) {
        (_, None) => Actual::Null,
        (None, b) => untyped(b),
        (Some(f), Some(b)) => decode_part(&f.value, b),
    }
}

fn untyped(bytes: Option<&[u8]>) -> Actual {
    match bytes {
        None => Actual::Null,
        Some(b) => match parse_bytes(b) {
            Ok(j) => Actual::Json(j),
            Err(_) => match std::str::from_utf8(b) {
                Ok(s) => Actual::Text(s.to_string()),
                Err(_) => Actual::Bytes(b.to_vec()),
            },
        },
    }
}

fn decode_part(f: &PartFormat, b: &[u8]) -> Actual {
    match f.kind {
        FormatKind::None => Actual::Null,
        FormatKind::Avro => match &f.registry {
            Some((registry, _)) => match crate::avro::decode(registry.as_ref(), b) {
                Ok(j) => Actual::Json(j),
                Err(e) => Actual::Invalid(format!("AVRO: {e}")),
            },
            None => Actual::Invalid("no schema registry".into()),
        },
        FormatKind::Protobuf => match &f.registry {
            Some((registry, _)) => match crate::protobuf::decode_registered(registry.as_ref(), b) {
                Ok(j) => Actual::Json(j),
                Err(e) => Actual::Invalid(format!("PROTOBUF: {e}")),
            },
            None => Actual::Invalid("no schema registry".into()),
        },
        FormatKind::ProtobufNoSr => match crate::protobuf::generated(
            &f.fields,
            f.part,
            f.format.options.nullable_representation.unwrap_or_default(),
        )
        .and_then(|m| crate::protobuf::decode_bare(&m, b))
        {
            Ok(j) => Actual::Json(j),
            Err(e) => Actual::Invalid(format!("PROTOBUF_NOSR: {e}")),
        },
        FormatKind::Json => match parse_bytes(b) {
            Ok(j) => Actual::Json(j),
            Err(e) => Actual::Invalid(format!("{e}: {}", String::from_utf8_lossy(b))),
        },
        FormatKind::JsonSr => match b {
            [0, _, _, _, _, json @ ..] => match parse_bytes(json) {
                Ok(j) => Actual::Json(j),
                Err(e) => {
                    Actual::Invalid(format!("JSON_SR: {e}: {}", String::from_utf8_lossy(json)))
                }
            },
            _ => Actual::Invalid("JSON_SR: no schema-registry header".into()),
        },
        FormatKind::Delimited => match std::str::from_utf8(b) {
            Ok(s) => Actual::Text(s.to_string()),
            Err(e) => Actual::Invalid(e.to_string()),
        },
        FormatKind::Kafka => {
            let Some(ty) = f.types.first() else {
                return Actual::Null;
            };
            let fixed = |n: usize| -> Result<&[u8], Actual> {
                if b.len() == n {
                    Ok(b)
                } else {
                    Err(Actual::Invalid(format!(
                        "KAFKA {ty} needs {n} bytes, got {}",
                        b.len()
                    )))
                }
            };
            match ty {
                SqlType::Int => match fixed(4) {
                    Ok(b) => Actual::Int(i32::from_be_bytes(b.try_into().expect("4")) as i64),
                    Err(e) => e,
                },
                SqlType::Bigint => match fixed(8) {
                    Ok(b) => Actual::Int(i64::from_be_bytes(b.try_into().expect("8"))),
                    Err(e) => e,
                },
                SqlType::Double => match fixed(8) {
                    Ok(b) => Actual::Double(f64::from_be_bytes(b.try_into().expect("8"))),
                    Err(e) => e,
                },
                SqlType::String => match std::str::from_utf8(b) {
                    Ok(s) => Actual::Text(s.to_string()),
                    Err(e) => Actual::Invalid(e.to_string()),
                },
                SqlType::Bytes => Actual::Bytes(b.to_vec()),
                other => Actual::Invalid(format!("KAFKA cannot hold {other}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_lenient;

    fn fmt(key: (FormatKind, Vec<SqlType>), value: (FormatKind, Vec<SqlType>)) -> TopicFormats {
        TopicFormats {
            source: "S".into(),
            key: PartFormat {
                kind: key.0,
                types: key.1,
                registry: None,
                format: Format::new(key.0),
                fields: Fields::empty(),
                part: Part::Key,
            },
            value: PartFormat {
                kind: value.0,
                types: value.1,
                registry: None,
                format: Format::new(value.0),
                fields: Fields::empty(),
                part: Part::Value,
            },
            window: None,
        }
    }

    fn rec(key: &str, value: &str) -> Record {
        Record {
            topic: "t".into(),
            key: parse_lenient(key).unwrap(),
            value: parse_lenient(value).unwrap(),
            timestamp: None,
            partition: None,
            window: None,
            headers: None,
        }
    }

    #[test]
    fn kafka_keys_by_type_and_json_values_as_documents() {
        let f = fmt(
            (FormatKind::Kafka, vec![SqlType::Int]),
            (FormatKind::Json, vec![SqlType::String]),
        );
        let r = rec("7", r#""a""#);
        assert_eq!(encode_key(Some(&f), &r).unwrap(), Some(vec![0, 0, 0, 7]));
        assert_eq!(encode_value(Some(&f), &r).unwrap(), Some(b"\"a\"".to_vec()));
        let (k, w) = decode_key(Some(&f), Some(&[0, 0, 0, 7]));
        assert_eq!((k, w), (Actual::Int(7), None));
        assert_eq!(
            decode_value(Some(&f), Some(b"{\"A\":1.50}")),
            Actual::Json(parse_lenient(r#"{"A":1.50}"#).unwrap())
        );
        assert!(encode_key(Some(&f), &rec(r#""x""#, "null")).is_err());
        assert_eq!(encode_value(Some(&f), &rec("1", "null")).unwrap(), None);
    }

    #[test]
    fn windowed_keys_carry_their_window() {
        let mut f = fmt(
            (FormatKind::Kafka, vec![SqlType::String]),
            (FormatKind::Json, vec![SqlType::Int]),
        );
        f.window = Some(("TUMBLING".into(), Some(1000)));
        let mut r = rec(r#""k""#, "{}");
        r.window = Some(Window {
            start: 2000,
            end: 3000,
            kind: "time".into(),
        });
        let bytes = encode_key(Some(&f), &r).unwrap().unwrap();
        assert_eq!(bytes.len(), 1 + 8);
        let (k, w) = decode_key(Some(&f), Some(&bytes));
        assert_eq!(k, Actual::Text("k".into()));
        assert_eq!(w, r.window);

        f.window = Some(("SESSION".into(), None));
        r.window = Some(Window {
            start: 10,
            end: 20,
            kind: "session".into(),
        });
        let bytes = encode_key(Some(&f), &r).unwrap().unwrap();
        assert_eq!(&bytes[1..9], &20i64.to_be_bytes());
        let (_, w) = decode_key(Some(&f), Some(&bytes));
        assert_eq!(w, r.window);
    }

    #[test]
    fn bad_bytes_are_reported_not_hidden() {
        let f = fmt(
            (FormatKind::Kafka, vec![SqlType::Bigint]),
            (FormatKind::Json, vec![SqlType::Int]),
        );
        assert!(matches!(
            decode_key(Some(&f), Some(&[1, 2])).0,
            Actual::Invalid(_)
        ));
        assert!(matches!(
            decode_value(Some(&f), Some(b"{")),
            Actual::Invalid(_)
        ));
        let keyless = fmt((FormatKind::Kafka, vec![]), (FormatKind::Delimited, vec![]));
        assert_eq!(decode_key(Some(&keyless), Some(b"zz")).0, Actual::Null);
        assert_eq!(
            decode_value(Some(&keyless), Some(b"1,a")),
            Actual::Text("1,a".into())
        );
    }
}
