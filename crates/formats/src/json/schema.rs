//! JSON Schema documents for `JSON_SR`: the columns ksqlDB infers from a registered schema
//! (Kafka Connect's JSON Schema mapping) and the schema it registers for columns.
//!
//! Reading a schema (`infer_columns`):
//!
//! | JSON Schema                                              | KSQL                  |
//! |----------------------------------------------------------|-----------------------|
//! | `{"type": "boolean"}`                                    | BOOLEAN               |
//! | `{"type": "integer"}` (`connect.type` int8/16/32: INT)   | BIGINT (INT)          |
//! | `{"type": "number"}`                                     | DOUBLE                |
//! | `{"type": "string"}` (`connect.type: bytes`: BYTES)      | STRING (BYTES)        |
//! | `{"type": "array", "items": T}`                          | ARRAY<T>              |
//! | `{"type": "object", "properties": {...}}`                | STRUCT<...>           |
//! | `{"type": "object", "additionalProperties": V}`          | MAP<STRING, V>        |
//! | `oneOf` / `anyOf` of `{"type": "null"}` and `T`, `type: [T, "null"]` | T (nullable) |
//! | `title` `org.apache.kafka.connect.data.Decimal` / `Date` / `Time` / `Timestamp` | DECIMAL(p, s) / DATE / TIME / TIMESTAMP |
//!
//! `$ref`s to `#/definitions/...` or `#/$defs/...` are followed. A value schema that is an
//! object gives one column per property (upper-cased, as for AVRO); any other schema (or a key)
//! gives a single `ROWKEY` / `ROWVAL` column.
//!
//! Writing (`schema_for_columns`): an object of the columns, each optional (`oneOf` null), with
//! Connect's `connect.index` and `connect.type` annotations, as ksqlDB registers it.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, TimeUnit};
use serde_json::{json, Map, Value};

use crate::format::Part;

const MAX_DEPTH: usize = 64;
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// The columns a registered JSON Schema document gives `part` (see the module docs).
pub fn infer_columns(text: &str, part: Part, unwrapped: bool) -> Result<Vec<Field>, String> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| format!("Invalid JSON schema: {e}"))?;
    let top = resolve(&root, &root, 0)?;
    if part == Part::Value && !unwrapped {
        if let Some(props) = object_properties(top) {
            return props
                .iter()
                .map(|(name, s)| {
                    Ok(Field::new(
                        name.to_uppercase(),
                        ksql_type(&root, s, 0)?,
                        true,
                    ))
                })
                .collect();
        }
    }
    let name = match part {
        Part::Key => "ROWKEY",
        Part::Value => "ROWVAL",
    };
    Ok(vec![Field::new(name, ksql_type(&root, top, 0)?, true)])
}

/// `schema` with `$ref`s and null alternatives (`oneOf`/`anyOf` with `{"type":"null"}`,
/// `"type": [T, "null"]`) seen through.
fn resolve<'a>(root: &'a Value, schema: &'a Value, depth: usize) -> Result<&'a Value, String> {
    if depth > MAX_DEPTH {
        return Err("JSON schema nests too deeply".into());
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let path = r
            .strip_prefix("#/")
            .ok_or_else(|| format!("JSON schema reference {r} is not local"))?;
        let mut target = root;
        for part in path.split('/') {
            target = target
                .get(part)
                .ok_or_else(|| format!("JSON schema reference {r} does not resolve"))?;
        }
        return resolve(root, target, depth + 1);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let non_null: Vec<&Value> = alts.iter().filter(|a| !is_null_type(a)).collect();
            return match non_null.as_slice() {
                [one] => resolve(root, one, depth + 1),
                _ => Err(format!(
                    "JSON schema {key} with {} non-null alternatives is not supported",
                    non_null.len()
                )),
            };
        }
    }
    Ok(schema)
}

fn is_null_type(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
}

/// The declared type, `"type": [T, "null"]` read as `T`.
fn type_name(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn object_properties(schema: &Value) -> Option<&Map<String, Value>> {
    if type_name(schema) != Some("object") {
        return None;
    }
    schema.get("properties").and_then(Value::as_object)
}

fn parameter(schema: &Value, name: &str) -> Option<u32> {
    let v = schema.get("connect.parameters")?.get(name)?;
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().map(|n| n as u32),
        _ => None,
    }
}

fn ksql_type(root: &Value, schema: &Value, depth: usize) -> Result<DataType, String> {
    let schema = resolve(root, schema, depth)?;
    let title = schema
        .get("title")
        .or_else(|| schema.get("connect.name"))
        .and_then(Value::as_str);
    let connect_type = schema.get("connect.type").and_then(Value::as_str);
    match title {
        Some(DECIMAL) => {
            let scale = parameter(schema, "scale").unwrap_or(0);
            let precision = parameter(schema, "connect.decimal.precision").unwrap_or(38);
            return Ok(DataType::Decimal128(precision.min(38) as u8, scale as i8));
        }
        Some(DATE) => return Ok(DataType::Date32),
        Some(TIME) => return Ok(DataType::Time32(TimeUnit::Millisecond)),
        Some(TIMESTAMP) => return Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        _ => {}
    }
    Ok(match type_name(schema) {
        Some("boolean") => DataType::Boolean,
        Some("integer") => match connect_type {
            Some("int8" | "int16" | "int32") => DataType::Int32,
            _ => DataType::Int64,
        },
        Some("number") => DataType::Float64,
        Some("string") => match connect_type {
            Some("bytes") => DataType::Binary,
            _ => DataType::Utf8,
        },
        Some("array") => {
            let items = schema
                .get("items")
                .ok_or("JSON schema array without items")?;
            DataType::List(Arc::new(Field::new(
                "item",
                ksql_type(root, items, depth + 1)?,
                true,
            )))
        }
        Some("object") => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let fields = props
                    .iter()
                    .map(|(n, s)| Ok(Field::new(n.clone(), ksql_type(root, s, depth + 1)?, true)))
                    .collect::<Result<Vec<_>, String>>()?;
                DataType::Struct(Fields::from(fields))
            } else {
                let value = match schema.get("additionalProperties") {
                    Some(v @ Value::Object(_)) => ksql_type(root, v, depth + 1)?,
                    _ => {
                        return Err("JSON schema object without properties or a value schema \
                                     (additionalProperties) is not supported"
                            .into())
                    }
                };
                crate::types::map_type(DataType::Utf8, value)
            }
        }
        Some(other) => return Err(format!("JSON schema type '{other}' is not supported")),
        None => return Err(format!("JSON schema without a type: {schema}")),
    })
}

/// The JSON Schema ksqlDB registers for `fields`: an object of the columns, or the bare
/// column's schema for a single unwrapped column.
pub fn schema_for_columns(fields: &[FieldRef], wrapped: bool) -> String {
    if !wrapped && fields.len() == 1 {
        return optional(json_type(fields[0].data_type()), None).to_string();
    }
    object(fields.iter().map(|f| (f.name().as_str(), f.data_type()))).to_string()
}

fn object<'a>(fields: impl Iterator<Item = (&'a str, &'a DataType)>) -> Value {
    let mut props = Map::new();
    for (i, (name, dt)) in fields.enumerate() {
        props.insert(name.to_string(), optional(json_type(dt), Some(i)));
    }
    json!({"type": "object", "properties": props})
}

fn optional(t: Value, index: Option<usize>) -> Value {
    let mut out = Map::new();
    if let Some(i) = index {
        out.insert("connect.index".into(), json!(i));
    }
    out.insert("oneOf".into(), json!([{"type": "null"}, t]));
    Value::Object(out)
}

fn json_type(dt: &DataType) -> Value {
    match dt {
        DataType::Boolean => json!({"type": "boolean"}),
        DataType::Int32 => json!({"type": "integer", "connect.type": "int32"}),
        DataType::Int64 => json!({"type": "integer", "connect.type": "int64"}),
        DataType::Float64 => json!({"type": "number", "connect.type": "float64"}),
        DataType::Utf8 => json!({"type": "string"}),
        DataType::Binary => json!({"type": "string", "connect.type": "bytes"}),
        DataType::Decimal128(p, s) => json!({
            "type": "number",
            "title": DECIMAL,
            "connect.version": 1,
            "connect.type": "bytes",
            "connect.parameters": {"scale": s.to_string(), "connect.decimal.precision": p.to_string()}
        }),
        DataType::Date32 => json!({
            "type": "integer", "title": DATE, "connect.version": 1, "connect.type": "int32"
        }),
        DataType::Time32(_) => json!({
            "type": "integer", "title": TIME, "connect.version": 1, "connect.type": "int32"
        }),
        DataType::Timestamp(_, _) => json!({
            "type": "integer", "title": TIMESTAMP, "connect.version": 1, "connect.type": "int64"
        }),
        DataType::List(item) => json!({
            "type": "array",
            "items": optional(json_type(item.data_type()), None)
        }),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => json!({
                "type": "object",
                "additionalProperties": optional(json_type(kv[1].data_type()), None),
                "connect.type": "map"
            }),
            _ => json!({}),
        },
        DataType::Struct(fields) => {
            object(fields.iter().map(|f| (f.name().as_str(), f.data_type())))
        }
        // Types outside the mapping are refused by `Format::validate` before this is reached.
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_types(fields: &[Field]) -> Vec<(String, DataType)> {
        fields
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    }

    #[test]
    fn infers_object_properties_as_columns() {
        let text = r##"{
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "qty": {"type": "integer", "connect.type": "int32"},
                "price": {"oneOf": [{"type": "null"}, {"type": "number"}]},
                "name": {"type": ["string", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
                "where": {"$ref": "#/definitions/Address"},
                "day": {"type": "integer", "title": "org.apache.kafka.connect.data.Date"},
                "cost": {"type": "number", "title": "org.apache.kafka.connect.data.Decimal",
                         "connect.parameters": {"scale": "2", "connect.decimal.precision": "6"}}
            },
            "definitions": {
                "Address": {"type": "object", "properties": {"zip": {"type": "string"}}}
            }
        }"##;
        let cols = infer_columns(text, Part::Value, false).unwrap();
        let got = names_and_types(&cols);
        assert_eq!(got[0], ("ID".into(), DataType::Int64));
        assert_eq!(got[1], ("QTY".into(), DataType::Int32));
        assert_eq!(got[2], ("PRICE".into(), DataType::Float64));
        assert_eq!(got[3], ("NAME".into(), DataType::Utf8));
        assert!(matches!(&got[4].1, DataType::List(i) if i.data_type() == &DataType::Utf8));
        assert!(matches!(&got[5].1, DataType::Map(..)));
        assert!(matches!(&got[6].1, DataType::Struct(f) if f[0].name() == "zip"));
        assert_eq!(got[7], ("DAY".into(), DataType::Date32));
        assert_eq!(got[8], ("COST".into(), DataType::Decimal128(6, 2)));
    }

    #[test]
    fn a_key_or_a_scalar_value_is_one_column() {
        let cols = infer_columns(r#"{"type": "string"}"#, Part::Key, false).unwrap();
        assert_eq!(
            names_and_types(&cols),
            vec![("ROWKEY".into(), DataType::Utf8)]
        );
        let cols = infer_columns(r#"{"type": "number"}"#, Part::Value, false).unwrap();
        assert_eq!(
            names_and_types(&cols),
            vec![("ROWVAL".into(), DataType::Float64)]
        );
    }

    #[test]
    fn generated_schemas_read_back_as_the_columns() {
        let fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("ID", DataType::Int64, true)),
            Arc::new(Field::new("N", DataType::Int32, true)),
            Arc::new(Field::new("AMOUNT", DataType::Decimal128(10, 2), true)),
            Arc::new(Field::new(
                "TAGS",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            )),
            Arc::new(Field::new(
                "AT",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            )),
            Arc::new(Field::new("B", DataType::Binary, true)),
        ];
        let text = schema_for_columns(&fields, true);
        let back = infer_columns(&text, Part::Value, false).unwrap();
        let expected: Vec<(String, DataType)> = fields
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        assert_eq!(names_and_types(&back), expected);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["properties"]["N"]["connect.index"], json!(1));
        assert_eq!(v["properties"]["N"]["oneOf"][0], json!({"type": "null"}));
    }

    #[test]
    fn bad_schemas_are_errors() {
        assert!(infer_columns("{", Part::Value, false).is_err());
        assert!(infer_columns(
            r##"{"type": "object", "properties": {"a": {"$ref": "#/nope"}}}"##,
            Part::Value,
            false
        )
        .is_err());
        assert!(infer_columns(
            r#"{"oneOf": [{"type": "string"}, {"type": "integer"}]}"#,
            Part::Key,
            false
        )
        .is_err());
    }
}
