//! Column builders the decoders append into: plain vectors per Arrow type, nested for ARRAY, MAP
//! and STRUCT, that can be cut back to an earlier length. A record that fails half-way is undone
//! by truncating every column to the row count before it, which keeps decoding single-pass.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, ListArray, MapArray, StringArray, StructArray, Time32MillisecondArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields, TimeUnit};

use crate::types::{ksql_type_name, map_key_value};

/// The values of a builder, by type.
#[derive(Debug)]
pub(crate) enum Values {
    Boolean(BooleanBufferBuilder),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float64(Vec<f64>),
    Decimal128 {
        values: Vec<i128>,
        precision: u8,
        scale: i8,
    },
    Date32(Vec<i32>),
    Time32Ms(Vec<i32>),
    TimestampMs(Vec<i64>),
    Utf8(Bytes),
    Binary(Bytes),
    List {
        offsets: Vec<i32>,
        child: Box<ColumnBuilder>,
    },
    Map {
        offsets: Vec<i32>,
        keys: Box<ColumnBuilder>,
        values: Box<ColumnBuilder>,
    },
    Struct {
        children: Vec<ColumnBuilder>,
        index: FieldIndex,
    },
}

/// Variable-length values: concatenated bytes and their offsets (always starting with 0).
#[derive(Debug)]
pub(crate) struct Bytes {
    pub(crate) offsets: Vec<i32>,
    pub(crate) data: Vec<u8>,
}

impl Bytes {
    fn new() -> Self {
        Bytes {
            offsets: vec![0],
            data: Vec::new(),
        }
    }

    /// Close the value whose bytes were appended to `data` since the last offset.
    pub(crate) fn close(&mut self) -> Result<(), String> {
        let end = i32::try_from(self.data.len())
            .map_err(|_| "more than 2 GiB of data in one column batch".to_string())?;
        self.offsets.push(end);
        Ok(())
    }

    /// The `i`th value.
    pub(crate) fn value(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// Field lookup for JSON objects: exact name first, then the key upper-cased (ksqlDB's case
/// insensitivity: unquoted KSQL names are upper case, so `{"foo": 1}` fills column `FOO`).
#[derive(Debug, Clone)]
pub(crate) struct FieldIndex {
    names: Vec<String>,
    exact: HashMap<String, usize>,
}

impl FieldIndex {
    pub(crate) fn new(fields: &Fields) -> Self {
        let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        let mut exact = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            exact.entry(n.clone()).or_insert(i);
        }
        FieldIndex { names, exact }
    }

    pub(crate) fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// The field a JSON key fills, and whether it matched exactly. `hint` is tried first (keys
    /// usually come in column order); `upper` is scratch space.
    pub(crate) fn lookup(
        &self,
        key: &str,
        hint: usize,
        upper: &mut String,
    ) -> Option<(usize, bool)> {
        if self.names.get(hint).is_some_and(|n| n == key) {
            return Some((hint, true));
        }
        if let Some(&i) = self.exact.get(key) {
            return Some((i, true));
        }
        upper.clear();
        if key.is_ascii() {
            if !key.bytes().any(|b| b.is_ascii_lowercase()) {
                return None;
            }
            upper.extend(key.chars().map(|c| c.to_ascii_uppercase()));
        } else {
            upper.extend(key.chars().flat_map(char::to_uppercase));
        }
        self.exact.get(upper.as_str()).map(|&i| (i, false))
    }
}

/// One column (or nested child) being built.
#[derive(Debug)]
pub(crate) struct ColumnBuilder {
    data_type: DataType,
    /// Whether a null may be stored where the parent holds a value. Top-level columns always
    /// allow nulls (a record without bytes is a row of nulls).
    nullable: bool,
    nulls: NullBufferBuilder,
    pub(crate) values: Values,
}

impl ColumnBuilder {
    /// A builder for a top-level column of type `dt`.
    pub(crate) fn new(dt: &DataType) -> Result<Self, String> {
        Self::with_nullability(dt, true)
    }

    fn with_nullability(dt: &DataType, nullable: bool) -> Result<Self, String> {
        let values = match dt {
            DataType::Boolean => Values::Boolean(BooleanBufferBuilder::new(0)),
            DataType::Int32 => Values::Int32(Vec::new()),
            DataType::Int64 => Values::Int64(Vec::new()),
            DataType::Float64 => Values::Float64(Vec::new()),
            DataType::Decimal128(p, s) => Values::Decimal128 {
                values: Vec::new(),
                precision: *p,
                scale: *s,
            },
            DataType::Utf8 => Values::Utf8(Bytes::new()),
            DataType::Binary => Values::Binary(Bytes::new()),
            DataType::Date32 => Values::Date32(Vec::new()),
            DataType::Time32(TimeUnit::Millisecond) => Values::Time32Ms(Vec::new()),
            DataType::Timestamp(TimeUnit::Millisecond, _) => Values::TimestampMs(Vec::new()),
            DataType::List(item) => Values::List {
                offsets: vec![0],
                child: Box::new(Self::child(item)?),
            },
            DataType::Map(entries, _) => {
                let (k, v) =
                    map_key_value(entries).ok_or_else(|| format!("malformed MAP type {dt}"))?;
                Values::Map {
                    offsets: vec![0],
                    keys: Box::new(Self::child(k)?),
                    values: Box::new(Self::child(v)?),
                }
            }
            DataType::Struct(fields) => Values::Struct {
                children: fields.iter().map(Self::child).collect::<Result<_, _>>()?,
                index: FieldIndex::new(fields),
            },
            other => return Err(format!("type {other} has no KSQL equivalent")),
        };
        Ok(ColumnBuilder {
            data_type: dt.clone(),
            nullable,
            nulls: NullBufferBuilder::new(0),
            values,
        })
    }

    fn child(field: &FieldRef) -> Result<Self, String> {
        Self::with_nullability(field.data_type(), field.is_nullable())
    }

    /// Rows (or nested values) appended so far.
    pub(crate) fn len(&self) -> usize {
        self.nulls.len()
    }

    /// The KSQL name of this builder's type, for messages.
    pub(crate) fn ksql_type(&self) -> String {
        ksql_type_name(&self.data_type)
    }

    /// Record that a value was just appended to `values`.
    pub(crate) fn set_valid(&mut self) {
        self.nulls.append_non_null();
    }

    /// Append a null, unless this is a nested field that does not allow nulls.
    pub(crate) fn append_null(&mut self) -> Result<(), String> {
        if !self.nullable {
            return Err(format!(
                "null is not allowed for a non-nullable {}",
                self.ksql_type()
            ));
        }
        self.append_null_masked();
        Ok(())
    }

    /// Append a null without the nullability check: a top-level null, or a slot under a null
    /// parent (Arrow wants struct children as long as the struct).
    pub(crate) fn append_null_masked(&mut self) {
        self.nulls.append_null();
        match &mut self.values {
            Values::Boolean(b) => b.append(false),
            Values::Int32(v) | Values::Date32(v) | Values::Time32Ms(v) => v.push(0),
            Values::Int64(v) | Values::TimestampMs(v) => v.push(0),
            Values::Float64(v) => v.push(0.0),
            Values::Decimal128 { values, .. } => values.push(0),
            Values::Utf8(b) | Values::Binary(b) => {
                let last = *b.offsets.last().unwrap_or(&0);
                b.data.truncate(last as usize);
                b.offsets.push(last);
            }
            Values::List { offsets, .. } | Values::Map { offsets, .. } => {
                let last = *offsets.last().unwrap_or(&0);
                offsets.push(last);
            }
            Values::Struct { children, .. } => {
                for c in children {
                    c.append_null_masked();
                }
            }
        }
    }

    /// Cut back to `len` rows, dropping everything appended after (also half-written bytes).
    pub(crate) fn truncate(&mut self, len: usize) {
        let len = len.min(self.len());
        self.nulls.truncate(len);
        match &mut self.values {
            Values::Boolean(b) => b.truncate(len),
            Values::Int32(v) | Values::Date32(v) | Values::Time32Ms(v) => v.truncate(len),
            Values::Int64(v) | Values::TimestampMs(v) => v.truncate(len),
            Values::Float64(v) => v.truncate(len),
            Values::Decimal128 { values, .. } => values.truncate(len),
            Values::Utf8(b) | Values::Binary(b) => {
                b.offsets.truncate(len + 1);
                b.data.truncate(b.offsets[len] as usize);
            }
            Values::List { offsets, child } => {
                offsets.truncate(len + 1);
                child.truncate(offsets[len] as usize);
            }
            Values::Map {
                offsets,
                keys,
                values,
            } => {
                offsets.truncate(len + 1);
                keys.truncate(offsets[len] as usize);
                values.truncate(offsets[len] as usize);
            }
            Values::Struct { children, .. } => {
                for c in children {
                    c.truncate(len);
                }
            }
        }
    }

    /// Take what was built as an Arrow array of this builder's type, and start over empty.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        let nulls = self.nulls.finish();
        let dt = self.data_type.clone();
        match &mut self.values {
            Values::Boolean(b) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            Values::Int32(v) => Arc::new(Int32Array::new(take_scalars(v), nulls)),
            Values::Int64(v) => Arc::new(Int64Array::new(take_scalars(v), nulls)),
            Values::Float64(v) => Arc::new(Float64Array::new(take_scalars(v), nulls)),
            Values::Decimal128 { values, .. } => {
                Arc::new(Decimal128Array::new(take_scalars(values), nulls).with_data_type(dt))
            }
            Values::Date32(v) => Arc::new(Date32Array::new(take_scalars(v), nulls)),
            Values::Time32Ms(v) => Arc::new(Time32MillisecondArray::new(take_scalars(v), nulls)),
            Values::TimestampMs(v) => {
                Arc::new(TimestampMillisecondArray::new(take_scalars(v), nulls).with_data_type(dt))
            }
            Values::Utf8(b) => {
                let (offsets, data) = take_bytes(b);
                Arc::new(StringArray::new(offsets, data, nulls))
            }
            Values::Binary(b) => {
                let (offsets, data) = take_bytes(b);
                Arc::new(BinaryArray::new(offsets, data, nulls))
            }
            Values::List { offsets, child } => {
                let DataType::List(item) = &dt else {
                    unreachable!("list builder of type {dt}")
                };
                let offsets = take_offsets(offsets);
                Arc::new(ListArray::new(item.clone(), offsets, child.finish(), nulls))
            }
            Values::Map {
                offsets,
                keys,
                values,
            } => {
                let DataType::Map(entries_field, sorted) = &dt else {
                    unreachable!("map builder of type {dt}")
                };
                let DataType::Struct(kv) = entries_field.data_type() else {
                    unreachable!("map entries of type {}", entries_field.data_type())
                };
                let entries =
                    StructArray::new(kv.clone(), vec![keys.finish(), values.finish()], None);
                let offsets = take_offsets(offsets);
                Arc::new(MapArray::new(
                    entries_field.clone(),
                    offsets,
                    entries,
                    nulls,
                    *sorted,
                ))
            }
            Values::Struct { children, .. } => {
                let DataType::Struct(fields) = &dt else {
                    unreachable!("struct builder of type {dt}")
                };
                let arrays = children.iter_mut().map(|c| c.finish()).collect();
                Arc::new(StructArray::new(fields.clone(), arrays, nulls))
            }
        }
    }
}

fn take_scalars<T: datafusion::arrow::datatypes::ArrowNativeType>(
    v: &mut Vec<T>,
) -> ScalarBuffer<T> {
    ScalarBuffer::from(std::mem::take(v))
}

fn take_offsets(offsets: &mut Vec<i32>) -> OffsetBuffer<i32> {
    let taken = std::mem::replace(offsets, vec![0]);
    OffsetBuffer::new(ScalarBuffer::from(taken))
}

fn take_bytes(b: &mut Bytes) -> (OffsetBuffer<i32>, Buffer) {
    let offsets = take_offsets(&mut b.offsets);
    let data = Buffer::from_vec(std::mem::take(&mut b.data));
    (offsets, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Field, Int32Type};

    #[test]
    fn truncate_undoes_nested_appends() {
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        let mut b = ColumnBuilder::new(&DataType::List(item)).unwrap();
        // Row 0: ["a"]
        if let Values::List { offsets, child } = &mut b.values {
            if let Values::Utf8(s) = &mut child.values {
                s.data.extend_from_slice(b"a");
                s.close().unwrap();
            }
            child.set_valid();
            offsets.push(child.len() as i32);
        }
        b.set_valid();
        // Row 1, half-written: two strings, one unclosed, then given up.
        if let Values::List { child, .. } = &mut b.values {
            if let Values::Utf8(s) = &mut child.values {
                s.data.extend_from_slice(b"bb");
                s.close().unwrap();
                s.data.extend_from_slice(b"ccc");
            }
            child.set_valid();
        }
        b.truncate(1);
        let arr = b.finish();
        let list = arr.as_list::<i32>();
        assert_eq!(list.len(), 1);
        let strings = list.values().as_string::<i32>();
        assert_eq!(strings.len(), 1);
        assert_eq!(strings.value(0), "a");
        assert_eq!(strings.value_data(), b"a");
        // The builder starts over after finish.
        assert_eq!(b.len(), 0);
        assert_eq!(b.finish().len(), 0);
    }

    #[test]
    fn struct_nulls_are_masked_and_non_nullable_fields_checked() {
        let fields = Fields::from(vec![Field::new("A", DataType::Int32, false)]);
        let mut b = ColumnBuilder::new(&DataType::Struct(fields)).unwrap();
        b.append_null_masked();
        let Values::Struct { children, .. } = &mut b.values else {
            panic!()
        };
        assert!(children[0].append_null().is_err());
        if let Values::Int32(v) = &mut children[0].values {
            v.push(5);
        }
        children[0].set_valid();
        b.set_valid();
        let arr = b.finish();
        let st = arr.as_struct();
        assert!(st.is_null(0));
        assert!(st.is_valid(1));
        assert_eq!(st.column(0).as_primitive::<Int32Type>().value(1), 5);
    }

    #[test]
    fn field_index_prefers_exact_then_upper_case() {
        let fields = Fields::from(vec![
            Field::new("FOO", DataType::Int32, true),
            Field::new("bar", DataType::Int32, true),
            Field::new("ÉTÉ", DataType::Int32, true),
        ]);
        let idx = FieldIndex::new(&fields);
        let mut s = String::new();
        assert_eq!(idx.lookup("FOO", 0, &mut s), Some((0, true)));
        assert_eq!(idx.lookup("foo", 0, &mut s), Some((0, false)));
        assert_eq!(idx.lookup("Foo", 5, &mut s), Some((0, false)));
        assert_eq!(idx.lookup("bar", 0, &mut s), Some((1, true)));
        // A quoted lower-case column only matches exactly.
        assert_eq!(idx.lookup("BAR", 0, &mut s), None);
        assert_eq!(idx.lookup("été", 0, &mut s), Some((2, false)));
        assert_eq!(idx.lookup("baz", 0, &mut s), None);
    }
}
