//! PROTOBUF round trips, checked against prost-reflect's own codec (an independent
//! implementation of the wire format).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Fields};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MapKey, Value};
use sluice_registry::{LocalRegistry, Schema as RegSchema, SchemaRegistry, SchemaType};

use super::schema::{schema_for_columns, ProtoSchema};
use super::{read_message_indexes, write_message_indexes};
use crate::testutil::*;
use crate::{Decoder, Encoder, Format, FormatKind, FormatOptions, NullableRepresentation, Part};

fn registry() -> Arc<dyn SchemaRegistry> {
    Arc::new(LocalRegistry::in_memory())
}

fn proto(
    kind: FormatKind,
    schema_id: Option<u32>,
    nullable: Option<NullableRepresentation>,
) -> Format {
    Format::new(kind).with_options(FormatOptions {
        schema_id,
        nullable_representation: nullable,
        ..FormatOptions::default()
    })
}

const ROWS: &[&str] = &[
    r#"{"B": true, "I": -7, "L": 1234567890123, "D": 1.5, "DEC": "-12.34", "S": "héllo",
        "BY": "AAEC", "DT": 19000, "TM": 3723004, "T": 1700000000123, "ARR": ["a", null, "c"],
        "M": {"k": 1, "n": null}, "ST": {"X": 3, "Y": [0.25, null]}}"#,
    r#"{"B": false, "I": 0, "L": -1, "D": -0.5, "DEC": "0.05", "S": "", "BY": "",
        "DT": -1, "TM": 0, "T": -5, "ARR": [], "M": {}, "ST": {"X": null, "Y": []}}"#,
    r#"{}"#,
];

fn round_trip(
    kind: FormatKind,
    nullable: Option<NullableRepresentation>,
) -> (Vec<Option<Vec<u8>>>, Vec<Vec<String>>) {
    let fs = all_types();
    let cols = decode_ok(&fmt(FormatKind::Json), fs.clone(), Part::Value, ROWS);
    let reg = registry();
    let id = (kind == FormatKind::Protobuf).then(|| {
        let text =
            schema_for_columns(&fs, Part::Value, None, nullable.unwrap_or_default()).unwrap();
        reg.register("t-value", &RegSchema::new(SchemaType::Protobuf, text))
            .unwrap()
    });
    let mut enc = Encoder::with_registry(
        &proto(kind, id, nullable),
        fs.clone(),
        Part::Value,
        Some(reg.clone()),
    )
    .unwrap();
    let records = enc.encode(&cols).unwrap();
    let mut dec = Decoder::with_registry(
        &proto(kind, None, nullable),
        fs.clone(),
        Part::Value,
        Some(reg),
    )
    .unwrap();
    for r in &records {
        dec.append(r.as_deref()).unwrap();
    }
    let back = dec.finish();
    let shown = (0..ROWS.len())
        .map(|i| back.iter().map(|c| show(c, i)).collect())
        .collect();
    (records, shown)
}

#[test]
fn values_survive_and_nulls_become_proto3_defaults() {
    let (_, rows) = round_trip(FormatKind::ProtobufNoSr, None);
    assert_eq!(
        rows[0],
        [
            "true",
            "-7",
            "1234567890123",
            "1.5",
            "-12.34",
            "héllo",
            "000102",
            "2022-01-08",
            "01:02:03.004",
            "2023-11-14T22:13:20.123",
            "[a, , c]",
            "{k: 1, n: 0}",
            "{X: 3, Y: [0.25, 0.0]}"
        ]
    );
    // Scalars without presence read back as their defaults, but BYTES as null (as Confluent's
    // converter does); messages (decimal, date, time, timestamp, struct) as null; lists and
    // maps as empty.
    assert_eq!(
        rows[2],
        [
            "false", "0", "0", "0.0", "NULL", "", "NULL", "NULL", "NULL", "NULL", "[]", "{}",
            "NULL"
        ]
    );
    assert_eq!(rows[1][10], "[]");
    assert_eq!(rows[1][12], "{X: 0, Y: []}");
}

#[test]
fn optional_and_wrapper_keep_nulls() {
    for rep in [
        NullableRepresentation::Optional,
        NullableRepresentation::Wrapper,
    ] {
        for kind in [FormatKind::Protobuf, FormatKind::ProtobufNoSr] {
            let (_, rows) = round_trip(kind, Some(rep));
            assert_eq!(&rows[2][..7], ["NULL"; 7], "{rep:?} {kind}");
            assert_eq!(rows[0][0], "true");
            assert_eq!(rows[1][1], "0", "a present zero stays zero");
        }
    }
}

#[test]
fn our_bytes_are_what_prost_reflect_reads() {
    let fs = all_types();
    let (records, _) = round_trip(FormatKind::Protobuf, None);
    let text = schema_for_columns(&fs, Part::Value, None, NullableRepresentation::Default).unwrap();
    let m = ProtoSchema::compile(&text, &[])
        .unwrap()
        .message(None)
        .unwrap();
    let bytes = records[0].as_ref().unwrap();
    let (id, payload) = crate::avro::unframe(bytes).unwrap();
    assert_eq!(id, 1);
    let (path, body) = read_message_indexes(payload).unwrap();
    assert_eq!(path, vec![0]);
    let msg = DynamicMessage::decode(m, body).unwrap();
    assert_eq!(msg.get_field_by_name("I").unwrap().as_i32(), Some(-7));
    assert_eq!(
        msg.get_field_by_name("L").unwrap().as_i64(),
        Some(1234567890123)
    );
    assert_eq!(msg.get_field_by_name("S").unwrap().as_str(), Some("héllo"));
    let arr = msg.get_field_by_name("ARR").unwrap();
    let arr: Vec<_> = arr
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(arr, ["a", "", "c"]);
    let map = msg.get_field_by_name("M").unwrap();
    let map = map.as_map().unwrap();
    assert_eq!(map.get(&MapKey::String("k".into())), Some(&Value::I64(1)));
    let ts = msg.get_field_by_name("T").unwrap();
    let ts = ts.as_message().unwrap();
    assert_eq!(
        ts.get_field_by_name("seconds").unwrap().as_i64(),
        Some(1_700_000_000)
    );
    assert_eq!(
        ts.get_field_by_name("nanos").unwrap().as_i32(),
        Some(123_000_000)
    );
    let dt = msg.get_field_by_name("DT").unwrap();
    let dt = dt.as_message().unwrap();
    assert_eq!(dt.get_field_by_name("year").unwrap().as_i32(), Some(2022));
    assert_eq!(dt.get_field_by_name("day").unwrap().as_i32(), Some(8));
}

#[test]
fn we_read_what_prost_reflect_writes() {
    let text = "syntax = \"proto3\"; package p; message Other { int32 z = 1; }
        message V { enum Suit { SPADES = 0; HEARTS = 1; } sint32 a = 1; uint64 b = 2; float c = 3;
        Suit d = 4; repeated int32 e = 5; message In { fixed64 x = 1; } In f = 6;
        map<string, string> g = 7; sfixed32 h = 8; }";
    let reg = registry();
    let id = reg
        .register("t-value", &RegSchema::new(SchemaType::Protobuf, text))
        .unwrap();
    let schema = ProtoSchema::compile(text, &[]).unwrap();
    let m = schema.message(Some("V")).unwrap();
    let mut msg = DynamicMessage::new(m.clone());
    msg.set_field_by_name("a", Value::I32(-3));
    msg.set_field_by_name("b", Value::U64(5_000_000_000));
    msg.set_field_by_name("c", Value::F32(1.1234));
    msg.set_field_by_name("d", Value::EnumNumber(1));
    msg.set_field_by_name("e", Value::List(vec![Value::I32(1), Value::I32(-2)]));
    let mut inner = DynamicMessage::new(
        m.get_field_by_name("f")
            .unwrap()
            .kind()
            .as_message()
            .unwrap()
            .clone(),
    );
    inner.set_field_by_name("x", Value::U64(9));
    msg.set_field_by_name("f", Value::Message(inner));
    msg.set_field_by_name(
        "g",
        Value::Map([(MapKey::String("k".into()), Value::String("v".into()))].into()),
    );
    let mut bytes = crate::avro::frame(id, 0);
    write_message_indexes(&mut bytes, &super::schema::message_path(&m));
    assert_eq!(
        bytes[5..],
        [2, 2],
        "V is the second message: count 1, index 1, zig-zagged"
    );
    bytes.extend(msg.encode_to_vec());
    let fs: Fields = super::schema::message_fields(&m, true, 0).unwrap();
    let mut dec = Decoder::with_registry(
        &proto(FormatKind::Protobuf, None, None),
        fs.clone(),
        Part::Value,
        Some(reg),
    )
    .unwrap();
    dec.append(Some(&bytes)).unwrap();
    let cols = dec.finish();
    let shown: Vec<_> = cols.iter().map(|c| show(c, 0)).collect();
    assert_eq!(
        shown,
        [
            "-3",
            "5000000000",
            "1.1233999729156494",
            "HEARTS",
            "[1, -2]",
            "{X: 9}",
            "{k: v}",
            "0"
        ]
    );
    let kinds: Vec<_> = fs
        .iter()
        .map(|f| crate::types::ksql_type_name(f.data_type()))
        .collect();
    assert_eq!(kinds[..4], ["INTEGER", "BIGINT", "DOUBLE", "STRING"]);
}

#[test]
fn bad_records_are_errors_not_panics() {
    let fs = fields(&[("I", DataType::Int32), ("S", DataType::Utf8)]);
    let mut dec = Decoder::new(
        &proto(FormatKind::ProtobufNoSr, None, None),
        fs,
        Part::Value,
    )
    .unwrap();
    for bad in [
        &[0x08u8][..],
        &[0x12, 0x05, b'a'],
        &[0x0f],
        &[0x08, 0xff, 0xff],
    ] {
        assert!(dec.append(Some(bad)).is_err(), "{bad:?}");
    }
    assert_eq!(dec.len(), 0);
    // Unknown fields are skipped.
    dec.append(Some(&[0x08, 0x05, 0x18, 0x01])).unwrap();
    let cols = dec.finish();
    assert_eq!(show(&cols[0], 0), "5");
}

#[test]
fn protobuf_refuses_what_it_cannot_carry() {
    let m = fields(&[("M", map_of(DataType::Int32, DataType::Utf8))]);
    let e = Decoder::new(&proto(FormatKind::ProtobufNoSr, None, None), m, Part::Value).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PROTOBUF format only supports MAP types with STRING keys"
    );
    let wrap = Format::new(FormatKind::Protobuf).with_options(FormatOptions {
        wrap_single_value: Some(false),
        ..FormatOptions::default()
    });
    let one = fields(&[("A", DataType::Int32)]);
    let fs: Vec<_> = one.iter().cloned().collect();
    assert_eq!(
        wrap.validate(&fs, Part::Value).unwrap_err().to_string(),
        "Format 'PROTOBUF' does not support 'WRAP_SINGLE_VALUE' set to 'false'."
    );
    let json = proto(
        FormatKind::Json,
        None,
        Some(NullableRepresentation::Optional),
    );
    assert!(json.validate(&fs, Part::Value).is_err());
}

#[test]
fn registered_references_resolve_recursively() {
    let registry = LocalRegistry::in_memory();
    let reference = |name: &str| sluice_registry::SchemaReference {
        name: name.to_string(),
        subject: name.to_string(),
        version: 1,
    };
    registry
        .register(
            "time.proto",
            &RegSchema::new(
                SchemaType::Protobuf,
                "syntax = \"proto3\"; message T { int64 ms = 1; }",
            ),
        )
        .unwrap();
    registry
        .register(
            "event.proto",
            &RegSchema::new(
                SchemaType::Protobuf,
                "syntax = \"proto3\"; import \"time.proto\"; message Event { T at = 1; }",
            )
            .with_references(vec![reference("time.proto")]),
        )
        .unwrap();
    let main = RegSchema::new(
        SchemaType::Protobuf,
        "syntax = \"proto3\"; import \"event.proto\"; message Logistics { Event event = 1; }",
    )
    .with_references(vec![reference("event.proto")]);
    let id = registry.register("logistics-value", &main).unwrap();
    let schema = ProtoSchema::from_registry(&registry, &main).unwrap();
    let m = schema.message(None).unwrap();
    assert_eq!(m.name(), "Logistics");
    let cols = super::schema::infer_columns(
        &main.text,
        &super::schema::referenced_files(&registry, &main).unwrap(),
        None,
        false,
    )
    .unwrap();
    assert_eq!(
        crate::types::ksql_type_name(cols[0].data_type()),
        "STRUCT<`AT` STRUCT<`MS` BIGINT>>"
    );
    // Without its references the schema does not compile.
    assert!(ProtoSchema::compile(&main.text, &[]).is_err());
    // A reference to a version that is not registered is an error naming it.
    let dangling = main.clone().with_references(vec![reference("nope.proto")]);
    let e = ProtoSchema::from_registry(&registry, &dangling).unwrap_err();
    assert!(e.contains("nope.proto"), "{e}");
    assert!(registry.by_id(id).is_ok());
}
