//! Helpers shared by the tests: building fields, formats and decoding/encoding in one call.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions as DisplayOptions};

use crate::{Decoder, Encoder, Format, FormatError, FormatKind, FormatOptions, Part};

pub(crate) fn fields(list: &[(&str, DataType)]) -> Fields {
    Fields::from(
        list.iter()
            .map(|(n, d)| Field::new(*n, d.clone(), true))
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn list_of(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", dt, true)))
}

pub(crate) fn map_of(k: DataType, v: DataType) -> DataType {
    crate::types::map_type(k, v)
}

/// One column of every supported type (nested ones too), for round trips.
pub(crate) fn all_types() -> Fields {
    fields(&[
        ("B", DataType::Boolean),
        ("I", DataType::Int32),
        ("L", DataType::Int64),
        ("D", DataType::Float64),
        ("DEC", DataType::Decimal128(10, 2)),
        ("S", DataType::Utf8),
        ("BY", DataType::Binary),
        ("DT", DataType::Date32),
        ("TM", time()),
        ("T", ts()),
        ("ARR", list_of(DataType::Utf8)),
        ("M", map_of(DataType::Utf8, DataType::Int64)),
        (
            "ST",
            struct_of(&[("X", DataType::Int32), ("Y", list_of(DataType::Float64))]),
        ),
    ])
}

pub(crate) fn struct_of(list: &[(&str, DataType)]) -> DataType {
    DataType::Struct(fields(list))
}

pub(crate) fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

pub(crate) fn time() -> DataType {
    DataType::Time32(TimeUnit::Millisecond)
}

pub(crate) fn fmt(kind: FormatKind) -> Format {
    Format::new(kind)
}

pub(crate) fn fmt_with(kind: FormatKind, delimiter: Option<&str>, wrap: Option<bool>) -> Format {
    Format::new(kind).with_options(FormatOptions {
        delimiter: delimiter.map(str::to_string),
        wrap_single_value: wrap,
        ..FormatOptions::default()
    })
}

/// Decode each input; return the finished columns and each input's error (if any).
pub(crate) fn decode(
    format: &Format,
    fields: Fields,
    part: Part,
    inputs: &[Option<&[u8]>],
) -> (Vec<ArrayRef>, Vec<Option<FormatError>>) {
    let mut d = Decoder::new(format, fields, part).expect("decoder");
    let errors = inputs.iter().map(|i| d.append(*i).err()).collect();
    let len = d.len();
    let cols = d.finish();
    for c in &cols {
        assert_eq!(c.len(), len, "every column has one value per decoded row");
    }
    (cols, errors)
}

/// Decode inputs that must all succeed; return the columns.
pub(crate) fn decode_ok(
    format: &Format,
    fields: Fields,
    part: Part,
    inputs: &[&str],
) -> Vec<ArrayRef> {
    let raw: Vec<Option<&[u8]>> = inputs.iter().map(|s| Some(s.as_bytes())).collect();
    let (cols, errors) = decode(format, fields, part, &raw);
    for (i, e) in errors.iter().enumerate() {
        assert!(e.is_none(), "input {:?} failed: {e:?}", inputs[i]);
    }
    cols
}

/// Decode one input that must fail; return the message.
pub(crate) fn decode_err(format: &Format, fields: Fields, part: Part, input: &str) -> String {
    let (cols, errors) = decode(format, fields, part, &[Some(input.as_bytes())]);
    assert!(
        cols.iter().all(|c| c.is_empty()),
        "a failed record leaves no row"
    );
    match &errors[0] {
        Some(e) => e.to_string(),
        None => panic!("{input:?} should not decode"),
    }
}

/// Arrow's display of value `i` of a column (nested values too), for comparisons.
pub(crate) fn show(col: &ArrayRef, i: usize) -> String {
    let opts = DisplayOptions::default().with_null("NULL");
    let f = ArrayFormatter::try_new(col.as_ref(), &opts).expect("formatter");
    f.value(i).to_string()
}

/// Encode columns; return each row's bytes as text (`None` for no bytes).
pub(crate) fn encode(
    format: &Format,
    fields: Fields,
    part: Part,
    cols: &[ArrayRef],
) -> Vec<Option<String>> {
    let mut e = Encoder::new(format, fields, part).expect("encoder");
    e.encode(cols)
        .expect("encode")
        .into_iter()
        .map(|r| r.map(|b| String::from_utf8(b).expect("utf-8 output")))
        .collect()
}
