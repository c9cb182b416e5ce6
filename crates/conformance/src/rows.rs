//! Query results (Arrow) as ksqlDB's REST API shows them: a header schema text and rows of
//! JSON values.
//!
//! Values: numbers as numbers (DECIMAL exactly, with its scale), strings, booleans, BYTES as
//! base64, DATE `yyyy-MM-dd`, TIME `HH:mm:ss[.SSS]`, TIMESTAMP `yyyy-MM-ddTHH:mm:ss.SSS`,
//! ARRAY as arrays, MAP and STRUCT as objects.
//!
//! Header: `` `NAME` TYPE `` per column, with ` KEY`, ` HEADERS` or ` HEADER('k')` when the
//! engine marks the Arrow field with metadata [`ROLE_METADATA`] = `key` / `headers` /
//! `header` (and [`HEADER_METADATA`] = the header's key). Sluice's result schemas do not carry
//! these marks today, so headers of pull queries over tables do not match yet.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeBinaryArray,
    LargeStringArray, StringArray, Time32MillisecondArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use crate::json::Json;

/// Arrow field metadata naming a column's role in the source: `key`, `headers` or `header`.
pub const ROLE_METADATA: &str = "sluice.role";
/// Arrow field metadata with the header key of a `HEADER('k')` column.
pub const HEADER_METADATA: &str = "sluice.header";

/// ksqlDB's header schema text for a result schema.
pub fn header_schema(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| column_text(f))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_text(f: &Field) -> String {
    let ty = sluice_catalog::types::display_name(f.data_type());
    let role = match f.metadata().get(ROLE_METADATA).map(String::as_str) {
        Some("key") => " KEY".to_string(),
        Some("headers") => " HEADERS".to_string(),
        Some("header") => format!(
            " HEADER('{}')",
            f.metadata()
                .get(HEADER_METADATA)
                .cloned()
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    format!("`{}` {ty}{role}", f.name())
}

/// Every row of the batches, each as a JSON array of its column values.
pub fn rows(batches: &[RecordBatch]) -> Vec<Json> {
    let mut out = Vec::new();
    for b in batches {
        for row in 0..b.num_rows() {
            out.push(Json::Array(
                b.columns().iter().map(|c| value(c, row)).collect(),
            ));
        }
    }
    out
}

fn num(s: impl ToString) -> Json {
    Json::Number(s.to_string())
}

fn double(d: f64) -> Json {
    if d.is_finite() {
        // `{:?}` always shows a fraction or an exponent (`1.0`, `1e20`), as Java does.
        Json::Number(format!("{d:?}"))
    } else {
        Json::String(d.to_string())
    }
}

/// The JSON form of one cell.
pub fn value(col: &ArrayRef, row: usize) -> Json {
    if col.is_null(row) {
        return Json::Null;
    }
    let any = col.as_any();
    macro_rules! prim {
        ($t:ty, $f:expr) => {
            if let Some(a) = any.downcast_ref::<$t>() {
                return $f(a.value(row));
            }
        };
    }
    prim!(BooleanArray, Json::Bool);
    prim!(Int8Array, num);
    prim!(Int16Array, num);
    prim!(Int32Array, num);
    prim!(Int64Array, num);
    prim!(Float32Array, |v: f32| double(v as f64));
    prim!(Float64Array, double);
    prim!(StringArray, |v: &str| Json::String(v.to_string()));
    prim!(LargeStringArray, |v: &str| Json::String(v.to_string()));
    prim!(BinaryArray, |v: &[u8]| Json::String(crate::base64::encode(
        v
    )));
    prim!(LargeBinaryArray, |v: &[u8]| Json::String(
        crate::base64::encode(v)
    ));
    if let Some(a) = any.downcast_ref::<Decimal128Array>() {
        return num(a.value_as_string(row));
    }
    if let Some(a) = any.downcast_ref::<Date32Array>() {
        return match a.value_as_date(row) {
            Some(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            None => num(a.value(row)),
        };
    }
    if let Some(a) = any.downcast_ref::<Time32MillisecondArray>() {
        return match a.value_as_time(row) {
            Some(t) => Json::String(t.format("%H:%M:%S%.f").to_string()),
            None => num(a.value(row)),
        };
    }
    if let Some(a) = any.downcast_ref::<TimestampMillisecondArray>() {
        return match a.value_as_datetime(row) {
            Some(t) => Json::String(t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
            None => num(a.value(row)),
        };
    }
    match col.data_type() {
        DataType::List(_) => {
            let items = col.as_list::<i32>().value(row);
            Json::Array((0..items.len()).map(|i| value(&items, i)).collect())
        }
        DataType::LargeList(_) => {
            let items = col.as_list::<i64>().value(row);
            Json::Array((0..items.len()).map(|i| value(&items, i)).collect())
        }
        DataType::Struct(fields) => {
            let s = col.as_struct();
            Json::Object(
                fields
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| (f.name().clone(), value(c, row)))
                    .collect(),
            )
        }
        DataType::Map(_, _) => {
            let entries = col.as_map().value(row);
            let keys = entries.column(0);
            let values = entries.column(1);
            Json::Object(
                (0..entries.len())
                    .map(|i| (value(keys, i).to_plain_text(), value(values, i)))
                    .collect(),
            )
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Null => Json::Null,
        other => Json::String(format!("<unsupported Arrow type {other}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ListArray, StructArray};
    use datafusion::arrow::datatypes::Int32Type;
    use std::collections::HashMap;
    use std::sync::Arc;

    #[test]
    fn rows_and_header_as_ksqldb_prints_them() {
        let key = Field::new("ID", DataType::Int32, true).with_metadata(HashMap::from([(
            ROLE_METADATA.to_string(),
            "key".to_string(),
        )]));
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
        ]);
        let strukt = StructArray::from(vec![(
            Arc::new(Field::new("A", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef,
        )]);
        let schema = Schema::new(vec![
            key,
            Field::new("D", DataType::Float64, true),
            Field::new("M", DataType::Decimal128(4, 2), true),
            Field::new("L", list.data_type().clone(), true),
            Field::new("S", strukt.data_type().clone(), true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(Float64Array::from(vec![1.0, 2.5])),
                Arc::new(
                    Decimal128Array::from(vec![Some(150), Some(-5)])
                        .with_precision_and_scale(4, 2)
                        .unwrap(),
                ),
                Arc::new(list),
                Arc::new(strukt),
            ],
        )
        .unwrap();
        assert_eq!(
            header_schema(&schema),
            "`ID` INTEGER KEY, `D` DOUBLE, `M` DECIMAL(4, 2), `L` ARRAY<INTEGER>, `S` STRUCT<`A` STRING>"
        );
        let r = rows(&[batch]);
        assert_eq!(r[0].to_string(), r#"[1,1.0,1.50,[1,null],{"A":"x"}]"#);
        assert_eq!(r[1].to_string(), r#"[null,2.5,-0.05,null,{"A":null}]"#);
    }
}
