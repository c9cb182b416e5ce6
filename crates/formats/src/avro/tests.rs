//! AVRO round trips through Sluice's registry, checked against apache-avro's own reader and
//! writer (an independent implementation of the binary encoding).

use std::sync::Arc;

use apache_avro::types::Value as AvroValue;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use sluice_registry::{LocalRegistry, Schema as RegSchema, SchemaRegistry};

use super::schema::{infer_columns, schema_for_columns};
use super::{frame, parse, unframe};
use crate::testutil::*;
use crate::{Decoder, Encoder, Format, FormatKind, FormatOptions, Part};

fn registry() -> Arc<dyn SchemaRegistry> {
    Arc::new(LocalRegistry::in_memory())
}

fn avro(schema_id: Option<u32>, wrap: Option<bool>) -> Format {
    Format::new(FormatKind::Avro).with_options(FormatOptions {
        schema_id,
        wrap_single_value: wrap,
        ..FormatOptions::default()
    })
}

const ROWS: &[&str] = &[
    r#"{"B": true, "I": -7, "L": 1234567890123, "D": 1.5, "DEC": "-12.34", "S": "héllo",
        "BY": "AAEC", "DT": 19000, "TM": 3600000, "T": 1700000000000, "ARR": ["a", null, "c"],
        "M": {"k": 1, "n": null}, "ST": {"X": 3, "Y": [0.25, null]}}"#,
    r#"{"B": false, "I": 0, "L": -1, "D": -0.0, "DEC": "0.05", "S": "", "BY": "",
        "DT": -1, "TM": 0, "T": -5, "ARR": [], "M": {}, "ST": {"X": null, "Y": []}}"#,
    r#"{}"#,
];

#[test]
fn round_trip_every_type() {
    let reg = registry();
    let fs = all_types();
    let text = schema_for_columns(&fs, true, Part::Value, None);
    let id = reg.register("t-value", &RegSchema::avro(&text)).unwrap();
    let cols = decode_ok(&fmt(FormatKind::Json), fs.clone(), Part::Value, ROWS);
    let mut enc = Encoder::with_registry(
        &avro(Some(id), None),
        fs.clone(),
        Part::Value,
        Some(reg.clone()),
    )
    .unwrap();
    let records = enc.encode(&cols).unwrap();
    let mut dec =
        Decoder::with_registry(&avro(None, None), fs.clone(), Part::Value, Some(reg)).unwrap();
    for r in &records {
        dec.append(r.as_deref()).unwrap();
    }
    let back = dec.finish();
    for (c, (a, b)) in fs.iter().zip(cols.iter().zip(&back)) {
        for i in 0..ROWS.len() {
            assert_eq!(show(a, i), show(b, i), "column {} row {i}", c.name());
        }
    }
    // apache-avro reads what we wrote, with the same values.
    let schema = parse(&text).unwrap();
    let (rid, payload) = unframe(records[0].as_deref().unwrap()).unwrap();
    assert_eq!(rid, id);
    let value = apache_avro::from_avro_datum(&schema, &mut &payload[..], None).unwrap();
    let AvroValue::Record(fields) = value else {
        panic!("{value:?}")
    };
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("I"), AvroValue::Union(1, Box::new(AvroValue::Int(-7))));
    assert_eq!(
        get("S"),
        AvroValue::Union(1, Box::new(AvroValue::String("héllo".into())))
    );
    assert_eq!(
        get("T"),
        AvroValue::Union(1, Box::new(AvroValue::TimestampMillis(1700000000000)))
    );
    let AvroValue::Union(1, dec) = get("DEC") else {
        panic!()
    };
    let AvroValue::Decimal(d) = *dec else {
        panic!("{dec:?}")
    };
    assert_eq!(
        <Vec<u8>>::try_from(d).unwrap(),
        (-1234i32).to_be_bytes()[2..].to_vec()
    );
}

#[test]
fn reads_what_apache_avro_writes_with_coercions() {
    let reg = registry();
    let text = r#"{"type": "record", "name": "blah", "fields": [
        {"name": "c1", "type": "float"},
        {"name": "c2", "type": {"type": "enum", "name": "Suit", "symbols": ["SPADES", "HEARTS"]}},
        {"name": "c3", "type": ["null", "int"]},
        {"name": "extra", "type": "string"},
        {"name": "c5", "type": {"type": "array", "items": ["null", "int"]}}]}"#;
    let id = reg.register("t-value", &RegSchema::avro(text)).unwrap();
    let schema = parse(text).unwrap();
    let value = AvroValue::Record(vec![
        ("c1".into(), AvroValue::Float(4.0)),
        ("c2".into(), AvroValue::Enum(1, "HEARTS".into())),
        (
            "c3".into(),
            AvroValue::Union(1, Box::new(AvroValue::Int(10))),
        ),
        ("extra".into(), AvroValue::String("dropped".into())),
        (
            "c5".into(),
            AvroValue::Array(vec![
                AvroValue::Union(1, Box::new(AvroValue::Int(1))),
                AvroValue::Union(0, Box::new(AvroValue::Null)),
            ]),
        ),
    ]);
    let mut bytes = frame(id, 0);
    bytes.extend(apache_avro::to_avro_datum(&schema, value).unwrap());
    // Columns: inferred names are upper case; C3 read as STRING; C5 items as STRING; C4 missing.
    let fs = fields(&[
        ("C1", DataType::Float64),
        ("C2", DataType::Utf8),
        ("C3", DataType::Utf8),
        ("C4", DataType::Int32),
        ("C5", list_of(DataType::Utf8)),
    ]);
    let mut dec =
        Decoder::with_registry(&avro(None, None), fs, Part::Value, Some(reg.clone())).unwrap();
    dec.append(Some(&bytes)).unwrap();
    dec.append(None).unwrap();
    let cols = dec.finish();
    let row: Vec<String> = cols.iter().map(|c| show(c, 0)).collect();
    assert_eq!(row, ["4.0", "HEARTS", "10", "NULL", "[1, NULL]"]);
    assert!(cols.iter().all(|c| show(c, 1) == "NULL"));
    // Inference from the same schema.
    let inferred: Vec<String> = infer_columns(text, Part::Value, false)
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        inferred,
        [
            "C1 Float64",
            "C2 Utf8",
            "C3 Int32",
            "EXTRA Utf8",
            "C5 List(Int32)"
        ]
        .map(|s| s.replace("List(Int32)", &list_of(DataType::Int32).to_string()))
    );
}

#[test]
fn single_values_and_keys_are_unwrapped() {
    let reg = registry();
    let id = reg.register("t-key", &RegSchema::avro(r#""int""#)).unwrap();
    let fs = fields(&[("K", DataType::Int64)]);
    let mut bytes = frame(id, 0);
    bytes.extend(
        apache_avro::to_avro_datum(&parse(r#""int""#).unwrap(), AvroValue::Int(-3)).unwrap(),
    );
    let mut dec =
        Decoder::with_registry(&avro(None, None), fs.clone(), Part::Key, Some(reg.clone()))
            .unwrap();
    dec.append(Some(&bytes)).unwrap();
    assert_eq!(show(&dec.finish()[0], 0), "-3");
    // The generated schema of one key column is the bare optional type.
    let text = schema_for_columns(&fs, false, Part::Key, None);
    assert_eq!(text, r#"["null","long"]"#);
    let kid = reg.register("u-key", &RegSchema::avro(&text)).unwrap();
    let mut enc = Encoder::with_registry(&avro(Some(kid), None), fs, Part::Key, Some(reg)).unwrap();
    let col: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![
        Some(5),
        None,
    ]));
    let out = enc.encode(&[col]).unwrap();
    assert_eq!(out[1], None);
    let mut expect = frame(kid, 0);
    expect.extend([2, 10]); // union branch 1, zigzag 5
    assert_eq!(out[0].as_deref(), Some(expect.as_slice()));
}

#[test]
fn bad_records_are_errors_not_rows() {
    let reg = registry();
    let fs = fields(&[("A", DataType::Int32)]);
    let mut dec = Decoder::with_registry(&avro(None, None), fs, Part::Value, Some(reg)).unwrap();
    assert!(dec
        .append(Some(b"{\"A\":1}"))
        .unwrap_err()
        .to_string()
        .contains("Unknown magic byte"));
    assert!(dec
        .append(Some(&frame(42, 0)))
        .unwrap_err()
        .to_string()
        .contains("Schema 42 not found"));
    assert!(dec.is_empty());
}

#[test]
fn create_time_checks() {
    let f = |n: &str, dt| fields(&[(n, dt)]);
    let e = avro(None, None)
        .validate(
            &f("FOO", map_of(DataType::Int32, DataType::Float64)),
            Part::Value,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "Avro only supports MAPs with STRING keys");
    let e = avro(None, None)
        .validate(&f("1Bad", DataType::Float64), Part::Value)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Schema is not compatible with Avro: Illegal initial character: 1Bad"
    );
    let json = Format::new(FormatKind::Json).with_options(FormatOptions {
        full_schema_name: Some("com.x".into()),
        ..FormatOptions::default()
    });
    assert_eq!(
        json.validate(&f("A", DataType::Int32), Part::Value)
            .unwrap_err()
            .to_string(),
        "JSON does not support the following configs: [fullSchemaName]"
    );
    assert!(Decoder::new(&avro(None, None), f("A", DataType::Int32), Part::Value).is_err());
}
