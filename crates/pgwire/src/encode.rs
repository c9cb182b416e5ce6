//! Arrow batches → PostgreSQL rows, through `arrow-pg`.
//!
//! `arrow-pg` maps the scalar Arrow types to PostgreSQL types (Int32→int4, Int64→int8,
//! Float64→float8, Utf8→text, Decimal128→numeric, Boolean→bool, Date32→date,
//! Timestamp→timestamp[tz], Time→time, Binary→bytea, Interval/Duration→interval, List→arrays)
//! and encodes values in text or binary format. Before handing a batch over, this module
//! normalises the types it would reject or get wrong:
//!
//! * `Struct`, `Map`, `Union`, lists of those and lists of lists become **`text` holding JSON**
//!   (`{"a":1,"b":"x"}`; Map keys must be strings, else Arrow's display form is used). JSON in a
//!   text column is what every client can show without catalog look-ups.
//! * `Null` → text (all NULL), `Int8` → int2, `Float16` → float4, `FixedSizeBinary` → bytea,
//!   `Decimal32/64` → numeric, `Decimal256` → text, dictionaries → their value type.
//!
//! Batches whose column types differ from the schema the client was promised (a Describe answer
//! or the outcome's schema) are cast to it first, so the wire types never change mid-result.

use std::sync::Arc;

use arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::json::writer::{make_encoder, EncoderOptions};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use pgwire::api::Type;
use pgwire::messages::data::{DataRow, RowDescription};

use crate::backend::BackendError;

/// What happens to one column before `arrow-pg` sees it.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// Keep (after casting to this type when it differs).
    Type(DataType),
    /// Render as JSON text.
    Json,
}

/// The scalar types arrow-pg encodes as themselves, and that lists may hold.
fn list_element_supported(dt: &DataType) -> bool {
    use DataType::*;
    matches!(
        dt,
        Boolean
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Decimal128(_, _)
            | Utf8
            | LargeUtf8
            | Utf8View
            | Binary
            | LargeBinary
            | BinaryView
            | Date32
            | Date64
            | Time32(_)
            | Time64(_)
            | Timestamp(_, _)
            | Duration(_)
            | Interval(_)
    )
}

/// The normalised target of a column of type `dt`.
fn target_for(dt: &DataType) -> Target {
    use DataType::*;
    match dt {
        Null => Target::Type(Utf8),
        Int8 => Target::Type(Int16),
        Float16 => Target::Type(Float32),
        FixedSizeBinary(_) => Target::Type(Binary),
        Decimal32(p, s) | Decimal64(p, s) => Target::Type(Decimal128(*p, *s)),
        Decimal256(_, _) => Target::Type(Utf8),
        Dictionary(_, value) => target_for(value),
        Struct(_)
        | Map(_, _)
        | Union(_, _)
        | RunEndEncoded(_, _)
        | ListView(_)
        | LargeListView(_) => Target::Json,
        List(f) | LargeList(f) | FixedSizeList(f, _) => match target_for(f.data_type()) {
            Target::Type(elem) if list_element_supported(&elem) => {
                let field = Arc::new(Field::new(f.name(), elem, true));
                Target::Type(match dt {
                    List(_) => List(field),
                    LargeList(_) => LargeList(field),
                    FixedSizeList(_, n) => FixedSizeList(field, *n),
                    _ => unreachable!("matched list types"),
                })
            }
            _ => Target::Json,
        },
        // The scalar types arrow-pg encodes directly (the same set lists may hold).
        other if list_element_supported(other) => Target::Type(dt.clone()),
        _ => Target::Json,
    }
}

fn internal(message: impl std::fmt::Display) -> BackendError {
    BackendError::new("XX000", message.to_string())
}

/// Render any array as JSON text (one string per row, NULL stays NULL).
fn to_json_text(array: &ArrayRef) -> Result<ArrayRef, BackendError> {
    let array = match array.data_type() {
        DataType::Dictionary(_, value) => cast(array, value).map_err(internal)?,
        _ => array.clone(),
    };
    let mut builder = StringBuilder::with_capacity(array.len(), array.len() * 16);
    let field = Arc::new(Field::new("value", array.data_type().clone(), true));
    let options = EncoderOptions::default().with_explicit_nulls(true);
    match make_encoder(&field, array.as_ref(), &options) {
        Ok(mut encoder) => {
            let mut buf = Vec::new();
            for i in 0..array.len() {
                if array.is_null(i) {
                    builder.append_null();
                } else {
                    buf.clear();
                    encoder.encode(i, &mut buf);
                    builder.append_value(String::from_utf8_lossy(&buf));
                }
            }
        }
        Err(_) => {
            // Arrow's JSON writer rejects a few shapes (e.g. non-string map keys): fall back to
            // Arrow's display form, which is still readable.
            let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
                .map_err(internal)?;
            for i in 0..array.len() {
                if array.is_null(i) {
                    builder.append_null();
                } else {
                    builder.append_value(formatter.value(i).to_string());
                }
            }
        }
    }
    Ok(Arc::new(builder.finish()))
}

/// `pg_type.typlen` for the fixed-width types (−1 for variable width).
fn type_size(ty: &Type) -> i16 {
    match ty.oid() {
        16 => 1,                            // bool
        21 => 2,                            // int2
        23 | 26 | 700 | 1082 => 4,          // int4, oid, float4, date
        20 | 701 | 1083 | 1114 | 1184 => 8, // int8, float8, time, timestamp, timestamptz
        1186 => 16,                         // interval
        2950 => 16,                         // uuid
        _ => -1,
    }
}

/// Result format codes from a Bind: none (all text), one (for all columns) or one per column.
pub(crate) fn result_format(codes: &[i16], columns: usize) -> Result<Format, BackendError> {
    match codes.len() {
        0 => Ok(Format::UnifiedText),
        1 => Ok(Format::from(codes[0])),
        n if n == columns => Ok(Format::Individual(codes.to_vec())),
        n => Err(BackendError::new(
            "08P01",
            format!("bind message has {n} result formats but query has {columns} columns"),
        )),
    }
}

/// How one result's batches are turned into DataRows.
#[derive(Debug, Clone)]
pub(crate) struct RowEncoding {
    input: SchemaRef,
    targets: Vec<Target>,
    output: SchemaRef,
    fields: Arc<Vec<FieldInfo>>,
}

impl RowEncoding {
    /// An encoding for batches of `schema`, with the client's result `format`.
    pub fn new(schema: &SchemaRef, format: &Format) -> Result<Self, BackendError> {
        let targets: Vec<Target> = schema
            .fields()
            .iter()
            .map(|f| target_for(f.data_type()))
            .collect();
        let output = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .zip(&targets)
                .map(|(f, t)| {
                    let dt = match t {
                        Target::Type(dt) => dt.clone(),
                        Target::Json => DataType::Utf8,
                    };
                    Field::new(f.name(), dt, true)
                })
                .collect::<Vec<_>>(),
        ));
        let fields = arrow_schema_to_pg_fields(&output, format, None)
            .map_err(internal)?
            .into_iter()
            .map(|f| {
                let size = type_size(f.datatype());
                f.with_type_size(size)
            })
            .collect();
        Ok(RowEncoding {
            input: schema.clone(),
            targets,
            output,
            fields: Arc::new(fields),
        })
    }

    /// All columns in text format.
    pub fn text(schema: &SchemaRef) -> Result<Self, BackendError> {
        Self::new(schema, &Format::UnifiedText)
    }

    /// The schema batches are expected in.
    pub fn schema(&self) -> &SchemaRef {
        &self.input
    }

    pub fn row_description(&self) -> RowDescription {
        RowDescription::new(self.fields.iter().map(Into::into).collect())
    }

    pub fn column_names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name().to_owned()).collect()
    }

    pub fn column_count(&self) -> usize {
        self.fields.len()
    }

    /// The PostgreSQL types of the columns.
    #[cfg(test)]
    pub fn pg_types(&self) -> Vec<Type> {
        self.fields.iter().map(|f| f.datatype().clone()).collect()
    }

    /// Encode every row of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<DataRow>, BackendError> {
        if batch.num_columns() != self.targets.len() {
            return Err(internal(format!(
                "result batch has {} columns but the result was described with {}",
                batch.num_columns(),
                self.targets.len()
            )));
        }
        let mut columns = Vec::with_capacity(self.targets.len());
        for ((column, target), field) in batch
            .columns()
            .iter()
            .zip(&self.targets)
            .zip(self.input.fields())
        {
            let column = if column.data_type() != field.data_type() {
                cast(column, field.data_type()).map_err(|e| {
                    internal(format!(
                        "column \"{}\" is {} but was described as {}: {e}",
                        field.name(),
                        column.data_type(),
                        field.data_type()
                    ))
                })?
            } else {
                column.clone()
            };
            let column = match target {
                Target::Type(dt) if column.data_type() == dt => column,
                Target::Type(dt) => cast(&column, dt).map_err(internal)?,
                Target::Json => to_json_text(&column)?,
            };
            columns.push(column);
        }
        let batch = RecordBatch::try_new(self.output.clone(), columns).map_err(internal)?;
        arrow_pg::encode_recordbatch(self.fields.clone(), batch)
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)
    }
}

/// The fields of an encoded DataRow: `None` for NULL.
pub(crate) fn data_row_fields(row: &DataRow) -> Vec<Option<&[u8]>> {
    let mut fields = Vec::with_capacity(row.field_count.max(0) as usize);
    let data = &row.data[..];
    let mut i = 0;
    for _ in 0..row.field_count {
        if i + 4 > data.len() {
            break;
        }
        let len = i32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        i += 4;
        if len < 0 {
            fields.push(None);
        } else {
            let end = (i + len as usize).min(data.len());
            fields.push(Some(&data[i..end]));
            i = end;
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
        Int8Array, ListArray, MapBuilder, NullArray, StringArray, StructArray,
        TimestampMillisecondArray,
    };
    use datafusion::arrow::array::{Int32Builder, StringBuilder as SB};
    use datafusion::arrow::datatypes::Int32Type;

    fn texts(enc: &RowEncoding, batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
        enc.encode(batch)
            .unwrap()
            .iter()
            .map(|row| {
                data_row_fields(row)
                    .into_iter()
                    .map(|f| f.map(|b| String::from_utf8(b.to_vec()).unwrap()))
                    .collect()
            })
            .collect()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn scalar_types_map_and_render_as_text() {
        let b = batch(vec![
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            ("l", Arc::new(Int64Array::from(vec![10, -2]))),
            ("f", Arc::new(Float64Array::from(vec![1.5, 0.1]))),
            ("s", Arc::new(StringArray::from(vec!["a", "b\tc"]))),
            ("b", Arc::new(BooleanArray::from(vec![true, false]))),
            (
                "d",
                Arc::new(
                    Decimal128Array::from(vec![12345, -5])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            ("dt", Arc::new(Date32Array::from(vec![0, 19723]))),
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from(vec![0, 1_700_000_000_123])),
            ),
        ]);
        let enc = RowEncoding::text(&b.schema()).unwrap();
        let oids: Vec<u32> = enc.pg_types().iter().map(|t| t.oid()).collect();
        assert_eq!(oids, vec![23, 20, 701, 25, 16, 1700, 1082, 1114]);
        let rows = texts(&enc, &b);
        assert_eq!(
            rows[0],
            vec![
                Some("1".into()),
                Some("10".into()),
                Some("1.5".into()),
                Some("a".into()),
                Some("t".into()),
                Some("123.45".into()),
                Some("1970-01-01".into()),
                // pgwire always prints six fractional digits (PostgreSQL omits zeros).
                Some("1970-01-01 00:00:00.000000".into()),
            ]
        );
        assert_eq!(rows[1][0], None);
        assert_eq!(rows[1][3].as_deref(), Some("b\tc"));
        assert_eq!(rows[1][5].as_deref(), Some("-0.05"));
        assert_eq!(rows[1][6].as_deref(), Some("2024-01-01"));
        assert_eq!(rows[1][7].as_deref(), Some("2023-11-14 22:13:20.123000"));
        let desc = enc.row_description();
        assert_eq!(desc.fields[0].name, "i");
        assert_eq!(desc.fields[0].type_size, 4);
        assert_eq!(desc.fields[3].type_size, -1);
    }

    #[test]
    fn binary_format_encodes_network_order() {
        let b = batch(vec![(
            "i",
            Arc::new(Int32Array::from(vec![258])) as ArrayRef,
        )]);
        let enc = RowEncoding::new(&b.schema(), &Format::UnifiedBinary).unwrap();
        let rows = enc.encode(&b).unwrap();
        assert_eq!(data_row_fields(&rows[0]), vec![Some(&[0u8, 0, 1, 2][..])]);
        assert_eq!(enc.row_description().fields[0].format_code, 1);
    }

    #[test]
    fn structs_and_maps_become_json_text() {
        let strukt = StructArray::from(vec![
            (
                Arc::new(Field::new("a", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("b", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef,
            ),
        ]);
        let mut map = MapBuilder::new(None, SB::new(), Int32Builder::new());
        map.keys().append_value("k");
        map.values().append_value(7);
        map.append(true).unwrap();
        map.append(false).unwrap();
        let b = batch(vec![
            ("s", Arc::new(strukt) as ArrayRef),
            ("m", Arc::new(map.finish())),
        ]);
        let enc = RowEncoding::text(&b.schema()).unwrap();
        assert_eq!(enc.pg_types(), vec![Type::TEXT, Type::TEXT]);
        let rows = texts(&enc, &b);
        assert_eq!(rows[0][0].as_deref(), Some(r#"{"a":1,"b":"x"}"#));
        assert_eq!(rows[1][0].as_deref(), Some(r#"{"a":2,"b":null}"#));
        assert_eq!(rows[0][1].as_deref(), Some(r#"{"k":7}"#));
        assert_eq!(rows[1][1], None);
    }

    #[test]
    fn lists_become_arrays_and_odd_types_are_normalised() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
        ]);
        let b = batch(vec![
            ("l", Arc::new(list) as ArrayRef),
            ("t", Arc::new(Int8Array::from(vec![1, -1]))),
            ("n", Arc::new(NullArray::new(2))),
        ]);
        let enc = RowEncoding::text(&b.schema()).unwrap();
        assert_eq!(
            enc.pg_types(),
            vec![Type::INT4_ARRAY, Type::INT2, Type::TEXT]
        );
        let rows = texts(&enc, &b);
        assert_eq!(rows[0][0].as_deref(), Some("{1,NULL,3}"));
        assert_eq!(rows[1][0], None);
        assert_eq!(rows[1][1].as_deref(), Some("-1"));
        assert_eq!(rows[0][2], None);
    }

    #[test]
    fn batches_are_cast_to_the_promised_schema() {
        let promised = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let enc = RowEncoding::new(&promised, &Format::UnifiedBinary).unwrap();
        let b = batch(vec![("x", Arc::new(Int32Array::from(vec![5])) as ArrayRef)]);
        let rows = enc.encode(&b).unwrap();
        assert_eq!(
            data_row_fields(&rows[0]),
            vec![Some(&5i64.to_be_bytes()[..])]
        );
        let wrong = batch(vec![
            ("x", Arc::new(Int32Array::from(vec![5])) as ArrayRef),
            ("y", Arc::new(Int32Array::from(vec![5])) as ArrayRef),
        ]);
        assert_eq!(enc.encode(&wrong).unwrap_err().sqlstate, "XX000");
    }

    #[test]
    fn result_format_counts_are_checked() {
        assert!(matches!(
            result_format(&[], 3).unwrap(),
            Format::UnifiedText
        ));
        assert!(matches!(
            result_format(&[1], 3).unwrap(),
            Format::UnifiedBinary
        ));
        assert!(matches!(
            result_format(&[0, 1], 2).unwrap(),
            Format::Individual(_)
        ));
        assert_eq!(result_format(&[0, 1], 3).unwrap_err().sqlstate, "08P01");
    }
}
