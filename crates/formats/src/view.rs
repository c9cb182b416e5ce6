//! Typed, borrowed views of Arrow columns for the encoders: downcast once per batch, then read
//! values by row without further dynamic dispatch.

use datafusion::arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, ListArray, MapArray, StringArray, StructArray, Time32MillisecondArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};

use crate::text::{base64_encode, write_i64, write_java_double};

/// A column (or nested child) of one of the supported types.
pub(crate) enum View<'a> {
    Boolean(&'a BooleanArray),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    Float64(&'a Float64Array),
    Decimal(&'a Decimal128Array, i8),
    Utf8(&'a StringArray),
    Binary(&'a BinaryArray),
    Date32(&'a Date32Array),
    Time32(&'a Time32MillisecondArray),
    Timestamp(&'a TimestampMillisecondArray),
    List(&'a ListArray, Box<View<'a>>),
    Map(&'a MapArray, Box<View<'a>>, Box<View<'a>>),
    /// The struct, its children, and each child's name.
    Struct(&'a StructArray, Vec<View<'a>>, Vec<&'a str>),
}

fn cast<T: 'static>(array: &dyn Array) -> Result<&T, String> {
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| format!("unexpected array for type {}", array.data_type()))
}

impl<'a> View<'a> {
    /// A view of `array`, by its own data type.
    pub(crate) fn new(array: &'a dyn Array) -> Result<Self, String> {
        Ok(match array.data_type() {
            DataType::Boolean => View::Boolean(cast(array)?),
            DataType::Int32 => View::Int32(cast(array)?),
            DataType::Int64 => View::Int64(cast(array)?),
            DataType::Float64 => View::Float64(cast(array)?),
            DataType::Decimal128(_, s) => View::Decimal(cast(array)?, *s),
            DataType::Utf8 => View::Utf8(cast(array)?),
            DataType::Binary => View::Binary(cast(array)?),
            DataType::Date32 => View::Date32(cast(array)?),
            DataType::Time32(TimeUnit::Millisecond) => View::Time32(cast(array)?),
            DataType::Timestamp(TimeUnit::Millisecond, _) => View::Timestamp(cast(array)?),
            DataType::List(_) => {
                let list: &ListArray = cast(array)?;
                View::List(list, Box::new(View::new(list.values().as_ref())?))
            }
            DataType::Map(_, _) => {
                let map: &MapArray = cast(array)?;
                View::Map(
                    map,
                    Box::new(View::new(map.keys().as_ref())?),
                    Box::new(View::new(map.values().as_ref())?),
                )
            }
            DataType::Struct(fields) => {
                let st: &StructArray = cast(array)?;
                let children = st
                    .columns()
                    .iter()
                    .map(|c| View::new(c.as_ref()))
                    .collect::<Result<_, _>>()?;
                let names = fields.iter().map(|f| f.name().as_str()).collect();
                View::Struct(st, children, names)
            }
            other => return Err(format!("type {other} has no KSQL equivalent")),
        })
    }

    fn array(&self) -> &dyn Array {
        match self {
            View::Boolean(a) => *a,
            View::Int32(a) => *a,
            View::Int64(a) => *a,
            View::Float64(a) => *a,
            View::Decimal(a, _) => *a,
            View::Utf8(a) => *a,
            View::Binary(a) => *a,
            View::Date32(a) => *a,
            View::Time32(a) => *a,
            View::Timestamp(a) => *a,
            View::List(a, _) => *a,
            View::Map(a, _, _) => *a,
            View::Struct(a, _, _) => *a,
        }
    }

    pub(crate) fn is_null(&self, i: usize) -> bool {
        self.array().is_null(i)
    }

    /// Write a non-null primitive value as text: the way DELIMITED writes it, and the way JSON
    /// writes numbers. Returns `false` for ARRAY, MAP and STRUCT, which have no such text.
    pub(crate) fn write_text(&self, out: &mut Vec<u8>, i: usize) -> bool {
        match self {
            View::Boolean(a) => out.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
            View::Int32(a) => write_i64(out, i64::from(a.value(i))),
            View::Int64(a) => write_i64(out, a.value(i)),
            View::Float64(a) => write_java_double(out, a.value(i)),
            View::Decimal(a, s) => crate::decimal::write_decimal(out, a.value(i), *s),
            View::Utf8(a) => out.extend_from_slice(a.value(i).as_bytes()),
            View::Binary(a) => base64_encode(out, a.value(i)),
            View::Date32(a) => write_i64(out, i64::from(a.value(i))),
            View::Time32(a) => write_i64(out, i64::from(a.value(i))),
            View::Timestamp(a) => write_i64(out, a.value(i)),
            View::List(..) | View::Map(..) | View::Struct(..) => return false,
        }
        true
    }
}
