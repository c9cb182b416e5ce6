use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float64Array, Int32Array, Int64Array, StringArray, Time32MillisecondArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, Time32MillisecondType,
    TimestampMillisecondType,
};

use crate::testutil::*;
use crate::{FormatKind, Part};

fn json() -> crate::Format {
    fmt(FormatKind::Json)
}

fn unwrapped() -> crate::Format {
    fmt_with(FormatKind::Json, None, Some(false))
}

fn one(name: &str, dt: DataType) -> datafusion::arrow::datatypes::Fields {
    fields(&[(name, dt)])
}

#[test]
fn primitives_in_an_object() {
    let f = fields(&[
        ("B", DataType::Boolean),
        ("I", DataType::Int32),
        ("L", DataType::Int64),
        ("D", DataType::Float64),
        ("S", DataType::Utf8),
    ]);
    let cols = decode_ok(
        &json(),
        f,
        Part::Value,
        &[
            r#"{"B": true, "I": 1, "L": 998877665544332211, "D": 1.5, "S": "x"}"#,
            r#"{"b": false, "i": -2, "l": -1, "d": -0.25, "s": "é\"\n\u00e9"}"#,
            r#"{}"#,
        ],
    );
    let b = cols[0].as_boolean();
    assert!(b.value(0));
    assert!(!b.value(1));
    assert!(b.is_null(2));
    let i = cols[1].as_primitive::<Int32Type>();
    assert_eq!((i.value(0), i.value(1)), (1, -2));
    assert!(i.is_null(2));
    let l = cols[2].as_primitive::<Int64Type>();
    assert_eq!((l.value(0), l.value(1)), (998877665544332211, -1));
    let d = cols[3].as_primitive::<Float64Type>();
    assert_eq!((d.value(0), d.value(1)), (1.5, -0.25));
    let s = cols[4].as_string::<i32>();
    assert_eq!(s.value(0), "x");
    assert_eq!(s.value(1), "é\"\né");
    assert!(s.is_null(2));
}

#[test]
fn members_match_exactly_or_upper_cased_and_extras_are_ignored() {
    let f = fields(&[("FOO", DataType::Int32), ("bar", DataType::Int32)]);
    let cols = decode_ok(
        &json(),
        f,
        Part::Value,
        &[
            r#"{"Foo": 1, "bar": 2, "extra": {"deep": [1, {"x": null}]}}"#,
            r#"{"FOO": 3, "BAR": 4}"#,
        ],
    );
    let foo = cols[0].as_primitive::<Int32Type>();
    let bar = cols[1].as_primitive::<Int32Type>();
    assert_eq!((foo.value(0), bar.value(0)), (1, 2));
    // A quoted lower-case column only matches its exact name.
    assert_eq!(foo.value(1), 3);
    assert!(bar.is_null(1));
}

#[test]
fn repeated_members_resolve_like_jackson() {
    let f = one("A", DataType::Int32);
    let cols = decode_ok(
        &json(),
        f,
        Part::Value,
        &[
            r#"{"A": 1, "a": 2}"#,
            r#"{"a": 2, "A": 1}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"A": 1, "A": 3}"#,
        ],
    );
    let a = cols[0].as_primitive::<Int32Type>();
    assert_eq!(a.values().to_vec(), vec![1, 1, 2, 3]);
}

#[test]
fn unwrapped_values_and_keys() {
    let cols = decode_ok(
        &unwrapped(),
        one("V", DataType::Int32),
        Part::Value,
        &["10", " 11 ", "null", "\"12\""],
    );
    let v = cols[0].as_primitive::<Int32Type>();
    assert_eq!((v.value(0), v.value(1), v.value(3)), (10, 11, 12));
    assert!(v.is_null(2));

    // A single key column is always the bare value.
    let cols = decode_ok(&json(), one("K", DataType::Utf8), Part::Key, &["\"Hey\""]);
    assert_eq!(cols[0].as_string::<i32>().value(0), "Hey");

    // Several key columns are an object.
    let f = fields(&[("K1", DataType::Utf8), ("K2", DataType::Utf8)]);
    let cols = decode_ok(&json(), f, Part::Key, &[r#"{"K1": "foo", "K2": "bar"}"#]);
    assert_eq!(cols[1].as_string::<i32>().value(0), "bar");

    // With wrapping (the default) a single value column is an object.
    let cols = decode_ok(
        &json(),
        one("V", DataType::Int32),
        Part::Value,
        &[r#"{"V": 5}"#],
    );
    assert_eq!(cols[0].as_primitive::<Int32Type>().value(0), 5);
}

#[test]
fn null_document_and_missing_bytes_are_rows_of_nulls() {
    let f = fields(&[("A", DataType::Int32), ("B", DataType::Utf8)]);
    let (cols, errors) = decode(&json(), f, Part::Value, &[Some(b"null"), None]);
    assert!(errors.iter().all(Option::is_none));
    assert_eq!(cols[0].null_count(), 2);
    assert_eq!(cols[1].null_count(), 2);
}

#[test]
fn numbers_coerce_like_ksqldb() {
    let f = fields(&[
        ("I", DataType::Int32),
        ("L", DataType::Int64),
        ("D", DataType::Float64),
    ]);
    let cols = decode_ok(
        &json(),
        f,
        Part::Value,
        &[
            r#"{"I": "42", "L": "-7", "D": "1.25"}"#,
            r#"{"I": 1.9, "L": 2.5e3, "D": 3}"#,
            r#"{"I": 2147483648, "L": 9223372036854775808, "D": " 1e2 "}"#,
        ],
    );
    let i = cols[0].as_primitive::<Int32Type>();
    let l = cols[1].as_primitive::<Int64Type>();
    let d = cols[2].as_primitive::<Float64Type>();
    assert_eq!((i.value(0), l.value(0), d.value(0)), (42, -7, 1.25));
    // Floats truncate towards zero (Jackson intValue/asLong).
    assert_eq!((i.value(1), l.value(1), d.value(1)), (1, 2500, 3.0));
    // Out-of-range numbers wrap as Java's narrowing does.
    assert_eq!(
        (i.value(2), l.value(2), d.value(2)),
        (i32::MIN, i64::MIN, 100.0)
    );

    // Huge floats still convert: BigDecimal.longValue keeps the low 64 bits, here all zero.
    let cols = decode_ok(
        &unwrapped(),
        one("V", DataType::Int64),
        Part::Value,
        &["1.5e400"],
    );
    assert_eq!(cols[0].as_primitive::<Int64Type>().value(0), 0);
}

#[test]
fn strings_take_any_value() {
    let cols = decode_ok(
        &json(),
        one("S", DataType::Utf8),
        Part::Value,
        &[
            r#"{"S": 12}"#,
            r#"{"S": 1.50}"#,
            r#"{"S": 1e3}"#,
            r#"{"S": true}"#,
            r#"{"S": {"a": 1, "b": [1, "x", null], "c": {"d": 1.0}}}"#,
            r#"{"S": ["a", 1, null, {"k": "v"}, [2, 3]]}"#,
            r#"{"S": -0}"#,
        ],
    );
    let s = cols[0].as_string::<i32>();
    assert_eq!(s.value(0), "12");
    assert_eq!(s.value(1), "1.50");
    assert_eq!(s.value(2), "1E+3");
    assert_eq!(s.value(3), "true");
    assert_eq!(s.value(4), r#"{"a":1,"b":[1,"x",null],"c":{"d":1.0}}"#);
    assert_eq!(s.value(5), r#"[a, 1, null, {"k":"v"}, [2, 3]]"#);
    assert_eq!(s.value(6), "0");

    let cols = decode_ok(
        &unwrapped(),
        one("FOO", list_of(DataType::Utf8)),
        Part::Value,
        &["[1, 2, 3]"],
    );
    assert_eq!(show(&cols[0], 0), "[1, 2, 3]");
}

#[test]
fn decimals_from_numbers_and_strings() {
    let cols = decode_ok(
        &json(),
        one("D", DataType::Decimal128(6, 4)),
        Part::Value,
        &[
            r#"{"D": 12.3650}"#,
            r#"{"D": "12"}"#,
            r#"{"D": -0.5}"#,
            r#"{"D": 1}"#,
        ],
    );
    let d = cols[0].as_primitive::<Decimal128Type>();
    assert_eq!(d.data_type(), &DataType::Decimal128(6, 4));
    assert_eq!(d.values().to_vec(), vec![123650, 120000, -5000, 10000]);

    let e = decode_err(
        &json(),
        one("D", DataType::Decimal128(4, 2)),
        Part::Value,
        r#"{"D": 123.4}"#,
    );
    assert!(e.starts_with("Numeric field overflow"), "{e}");
    assert!(e.ends_with("path: $.D"), "{e}");
    let e = decode_err(
        &json(),
        one("D", DataType::Decimal128(4, 2)),
        Part::Value,
        r#"{"D": 1.234}"#,
    );
    assert!(
        e.starts_with("Cannot fit decimal '1.234' into DECIMAL(4, 2)"),
        "{e}"
    );
    let e = decode_err(
        &json(),
        one("D", DataType::Decimal128(4, 2)),
        Part::Value,
        r#"{"D": "x"}"#,
    );
    assert!(e.contains("DECIMAL"), "{e}");
    let e = decode_err(
        &json(),
        one("D", DataType::Decimal128(4, 2)),
        Part::Value,
        r#"{"D": true}"#,
    );
    assert_eq!(
        e,
        "Can't convert type. sourceType: BooleanNode, requiredType: DECIMAL(4, 2), path: $.D"
    );
}

#[test]
fn temporal_types_and_bytes() {
    let f = fields(&[
        ("T", ts()),
        ("DT", DataType::Date32),
        ("TM", time()),
        ("B", DataType::Binary),
    ]);
    let cols = decode_ok(
        &json(),
        f.clone(),
        Part::Value,
        &[
            r#"{"T": 1600000000000, "DT": 18000, "TM": 5000, "B": "IQ=="}"#,
            r#"{"T": "-1", "DT": "-3", "TM": "86400000", "B": ""}"#,
        ],
    );
    assert_eq!(cols[0].data_type(), &ts());
    let t = cols[0].as_primitive::<TimestampMillisecondType>();
    assert_eq!((t.value(0), t.value(1)), (1600000000000, -1));
    let dt = cols[1].as_primitive::<Date32Type>();
    assert_eq!((dt.value(0), dt.value(1)), (18000, -3));
    let tm = cols[2].as_primitive::<Time32MillisecondType>();
    assert_eq!((tm.value(0), tm.value(1)), (5000, 86_400_000));
    let b = cols[3].as_binary::<i32>();
    assert_eq!(b.value(0), b"!");
    assert_eq!(b.value(1), b"");

    let e = decode_err(&json(), f.clone(), Part::Value, r#"{"TM": -1}"#);
    assert!(
        e.starts_with("Time values must use number of milliseconds"),
        "{e}"
    );
    assert!(e.ends_with("path: $.TM"));
    let e = decode_err(&json(), f.clone(), Part::Value, r#"{"B": "not base64!"}"#);
    assert!(
        e.starts_with("Value is not a valid Base64 encoded string"),
        "{e}"
    );
    let e = decode_err(&json(), f.clone(), Part::Value, r#"{"B": 12}"#);
    assert_eq!(
        e,
        "Can't convert type. sourceType: IntNode, requiredType: BYTES, path: $.B"
    );
    let e = decode_err(&json(), f, Part::Value, r#"{"DT": 99999999999}"#);
    assert!(e.contains("DATE value out of range"), "{e}");
}

#[test]
fn nested_types() {
    let st = struct_of(&[("A", DataType::Float64), ("L", list_of(DataType::Int64))]);
    let f = fields(&[
        ("ARR", list_of(DataType::Float64)),
        ("M", map_of(DataType::Utf8, DataType::Int32)),
        ("S", st),
    ]);
    let cols = decode_ok(
        &json(),
        f,
        Part::Value,
        &[
            r#"{"ARR": [10.10, null], "M": {"a": 1, "b": null}, "S": {"a": 45.67, "l": [1, 2]}}"#,
            r#"{"ARR": [], "M": {}, "S": {}}"#,
            r#"{"ARR": null, "M": null, "S": null}"#,
            r#"{"M": {"x": 1, "y": 2, "x": 3}}"#,
        ],
    );
    assert_eq!(show(&cols[0], 0), "[10.1, NULL]");
    assert_eq!(show(&cols[0], 1), "[]");
    assert!(cols[0].is_null(2));
    assert_eq!(show(&cols[1], 0), "{a: 1, b: NULL}");
    assert_eq!(show(&cols[1], 1), "{}");
    assert!(cols[1].is_null(2));
    // A repeated map key keeps its last value.
    assert_eq!(show(&cols[1], 3), "{y: 2, x: 3}");
    assert_eq!(show(&cols[2], 0), "{A: 45.67, L: [1, 2]}");
    assert_eq!(show(&cols[2], 1), "{A: NULL, L: NULL}");
    assert!(cols[2].is_null(2));
}

#[test]
fn wide_maps_with_repeats() {
    let mut doc = String::from("{");
    for k in 0..100 {
        doc.push_str(&format!("\"k{k}\": {k},"));
    }
    doc.push_str("\"k7\": -7}");
    let cols = decode_ok(
        &unwrapped(),
        one("M", map_of(DataType::Utf8, DataType::Int32)),
        Part::Value,
        &[&doc],
    );
    let m = cols[0].as_map();
    assert_eq!(m.value(0).len(), 100);
    let keys = m.keys().as_string::<i32>();
    let values = m.values().as_primitive::<Int32Type>();
    let k7 = (0..100).find(|&j| keys.value(j) == "k7").unwrap();
    assert_eq!(values.value(k7), -7);
}

#[test]
fn coercion_errors_name_the_column() {
    let f = fields(&[("FLAG", DataType::Boolean), ("N", DataType::Int32)]);
    assert_eq!(
        decode_err(&json(), f.clone(), Part::Value, r#"{"FLAG": "true"}"#),
        "Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $.FLAG"
    );
    assert_eq!(
        decode_err(&json(), f.clone(), Part::Value, r#"{"N": "abc"}"#),
        "Can't coerce string to type. targetType: INTEGER, path: $.N"
    );
    assert_eq!(
        decode_err(&json(), f.clone(), Part::Value, r#"{"N": [1]}"#),
        "Can't convert type. sourceType: ArrayNode, requiredType: INTEGER, path: $.N"
    );
    assert_eq!(
        decode_err(&json(), f, Part::Value, r#"[1, 2]"#),
        "Can't convert type. sourceType: ArrayNode, requiredType: STRUCT<`FLAG` BOOLEAN, `N` INTEGER>, path: $"
    );
    let nested = one("S", struct_of(&[("L", list_of(DataType::Int32))]));
    assert_eq!(
        decode_err(&json(), nested, Part::Value, r#"{"S": {"L": [1, "x"]}}"#),
        "Can't coerce string to type. targetType: INTEGER, path: $.S.L[1]"
    );
    let m = one("M", map_of(DataType::Utf8, DataType::Int64));
    assert_eq!(
        decode_err(&json(), m, Part::Value, r#"{"M": {"k": {}}}"#),
        "Can't convert type. sourceType: ObjectNode, requiredType: BIGINT, path: $.M.k.value"
    );
}

#[test]
fn invalid_json_is_refused() {
    let f = one("A", DataType::Int32);
    for bad in [
        "",
        "   ",
        "{",
        r#"{"A": }"#,
        r#"{"A": 1,}"#,
        r#"{"A" 1}"#,
        r#"{A: 1}"#,
        r#"{"A": 01}"#,
        r#"{"A": 1.}"#,
        r#"{"A": tru}"#,
        r#"{"A": "unterminated}"#,
        "{\"A\": \"ctl\u{1}\"}",
        r#"{"A": "\x"}"#,
        r#"{"A": 1 2}"#,
        r#"{"A": 1"#,
        "1abc",
    ] {
        let e = decode_err(&json(), f.clone(), Part::Value, bad);
        assert!(e.starts_with("Invalid JSON"), "{bad:?}: {e}");
    }
    let (_, errors) = decode(
        &json(),
        f.clone(),
        Part::Value,
        &[Some(&b"{\"A\": \"\xff\"}"[..])],
    );
    assert!(errors[0]
        .as_ref()
        .unwrap()
        .to_string()
        .contains("not UTF-8"));
    let deep = "[".repeat(2000);
    let e = decode_err(&unwrapped(), one("S", DataType::Utf8), Part::Value, &deep);
    assert!(e.contains("nesting deeper"), "{e}");
}

#[test]
fn content_after_the_document_is_ignored() {
    let cols = decode_ok(
        &json(),
        one("A", DataType::Int32),
        Part::Value,
        &[r#"{"A": 1} trailing"#],
    );
    assert_eq!(cols[0].as_primitive::<Int32Type>().value(0), 1);
}

#[test]
fn failed_records_leave_nothing_behind() {
    let f = fields(&[
        ("S", DataType::Utf8),
        ("L", list_of(DataType::Utf8)),
        ("M", map_of(DataType::Utf8, DataType::Int32)),
        (
            "ST",
            struct_of(&[("X", DataType::Int32), ("Y", DataType::Utf8)]),
        ),
    ]);
    let good = r#"{"S": "one", "L": ["a"], "M": {"k": 1}, "ST": {"X": 1, "Y": "y"}}"#;
    let bad =
        r#"{"S": "two", "L": ["b", "c"], "M": {"k": 2, "j": 3}, "ST": {"Y": "z", "X": "oops"}}"#;
    let (cols, errors) = decode(
        &json(),
        f,
        Part::Value,
        &[
            Some(good.as_bytes()),
            Some(bad.as_bytes()),
            Some(good.as_bytes()),
        ],
    );
    assert!(errors[0].is_none() && errors[1].is_some() && errors[2].is_none());
    assert_eq!(cols[0].len(), 2);
    let s = cols[0].as_string::<i32>();
    assert_eq!(s.value_data(), b"oneone");
    let l = cols[1].as_list::<i32>();
    assert_eq!(l.values().len(), 2);
    assert_eq!(cols[2].as_map().keys().len(), 2);
    assert_eq!(show(&cols[3], 1), "{X: 1, Y: y}");
}

#[test]
fn non_nullable_nested_fields_refuse_nulls() {
    let inner = DataType::Struct(datafusion::arrow::datatypes::Fields::from(vec![
        datafusion::arrow::datatypes::Field::new("A", DataType::Int32, false),
    ]));
    let f = one("S", inner);
    let e = decode_err(&json(), f.clone(), Part::Value, r#"{"S": {}}"#);
    assert!(
        e.contains("non-nullable") && e.ends_with("path: $.S.A"),
        "{e}"
    );
    // Under a null struct the child is masked, which Arrow allows.
    let cols = decode_ok(
        &json(),
        f,
        Part::Value,
        &[r#"{"S": null}"#, r#"{"S": {"A": 2}}"#],
    );
    assert!(cols[0].is_null(0));
    assert_eq!(show(&cols[0], 1), "{A: 2}");
}

// ---- encoding ---------------------------------------------------------------------------------

fn arr(a: impl Array + 'static) -> ArrayRef {
    Arc::new(a)
}

#[test]
fn encodes_primitives() {
    let f = fields(&[
        ("b", DataType::Boolean),
        ("I", DataType::Int32),
        ("L", DataType::Int64),
        ("D", DataType::Float64),
        ("DEC", DataType::Decimal128(6, 4)),
        ("S", DataType::Utf8),
        ("BY", DataType::Binary),
        ("DT", DataType::Date32),
        ("TM", time()),
        ("T", ts()),
    ]);
    let cols = vec![
        arr(BooleanArray::from(vec![Some(true), None])),
        arr(Int32Array::from(vec![Some(-1), None])),
        arr(Int64Array::from(vec![Some(998877665544332211), None])),
        arr(Float64Array::from(vec![Some(2.0), Some(f64::NAN)])),
        arr(Decimal128Array::from(vec![Some(123650), None])
            .with_precision_and_scale(6, 4)
            .unwrap()),
        arr(StringArray::from(vec![Some("a\"b"), None])),
        arr(BinaryArray::from(vec![Some(&b"!"[..]), None])),
        arr(Date32Array::from(vec![Some(18000), None])),
        arr(Time32MillisecondArray::from(vec![Some(5000), None])),
        arr(TimestampMillisecondArray::from(vec![
            Some(1600000000000),
            None,
        ])),
    ];
    let rows = encode(&json(), f, Part::Value, &cols);
    assert_eq!(
        rows[0].as_deref(),
        Some(
            r#"{"b":true,"I":-1,"L":998877665544332211,"D":2.0,"DEC":12.3650,"S":"a\"b","BY":"IQ==","DT":18000,"TM":5000,"T":1600000000000}"#
        )
    );
    assert_eq!(
        rows[1].as_deref(),
        Some(
            r#"{"b":null,"I":null,"L":null,"D":"NaN","DEC":null,"S":null,"BY":null,"DT":null,"TM":null,"T":null}"#
        )
    );
}

#[test]
fn encodes_single_values_bare_or_wrapped() {
    let f = one("V", DataType::Float64);
    let cols = vec![arr(Float64Array::from(vec![
        Some(9876.54321),
        None,
        Some(1e10),
    ]))];
    assert_eq!(
        encode(&unwrapped(), f.clone(), Part::Value, &cols),
        vec![
            Some("9876.54321".to_string()),
            None,
            Some("1.0E10".to_string())
        ]
    );
    assert_eq!(
        encode(&json(), f.clone(), Part::Value, &cols),
        vec![
            Some(r#"{"V":9876.54321}"#.to_string()),
            Some(r#"{"V":null}"#.to_string()),
            Some(r#"{"V":1.0E10}"#.to_string())
        ]
    );
    // Keys with one column are never wrapped.
    assert_eq!(
        encode(&json(), f, Part::Key, &cols)[0].as_deref(),
        Some("9876.54321")
    );
}

#[test]
fn encodes_nested_values() {
    let st = struct_of(&[("F0", DataType::Int32), ("Name", DataType::Utf8)]);
    let f = fields(&[
        ("A", list_of(DataType::Int64)),
        ("M", map_of(DataType::Utf8, DataType::Float64)),
        ("S", st),
    ]);
    let cols = decode_ok(
        &json(),
        f.clone(),
        Part::Value,
        &[
            r#"{"A": [12, 34, null], "M": {"a": 1.1, "c": null}, "S": {"F0": 1, "Name": "x"}}"#,
            r#"{"A": null, "M": null, "S": null}"#,
            r#"{"A": [], "M": {}, "S": {}}"#,
        ],
    );
    let rows = encode(&json(), f.clone(), Part::Value, &cols);
    assert_eq!(
        rows[0].as_deref(),
        Some(r#"{"A":[12,34,null],"M":{"a":1.1,"c":null},"S":{"F0":1,"Name":"x"}}"#)
    );
    assert_eq!(rows[1].as_deref(), Some(r#"{"A":null,"M":null,"S":null}"#));
    assert_eq!(
        rows[2].as_deref(),
        Some(r#"{"A":[],"M":{},"S":{"F0":null,"Name":null}}"#)
    );
    // `name` upper-cases to NAME, which is not the quoted column `Name`.
    let cols = decode_ok(
        &json(),
        f.clone(),
        Part::Value,
        &[r#"{"S": {"name": "x"}}"#],
    );
    assert_eq!(show(&cols[2], 0), "{F0: NULL, Name: NULL}");
}

#[test]
fn encodes_sliced_columns() {
    let f = one("A", list_of(DataType::Int32));
    let cols = decode_ok(
        &unwrapped(),
        f.clone(),
        Part::Value,
        &["[1]", "[2, 3]", "[4]"],
    );
    let sliced = vec![cols[0].slice(1, 2)];
    assert_eq!(
        encode(&unwrapped(), f, Part::Value, &sliced),
        vec![Some("[2,3]".to_string()), Some("[4]".to_string())]
    );
}
