//! Bytes for accumulator state, for the state store: [`encode`] a `state()` vector,
//! [`decode`] it back, without a schema.
//!
//! Format (version 1): a format byte (`1`), a varint count of values, then each value as its
//! type followed by a one-row array of that type. Types are written as a tag byte plus their
//! parameters (decimal precision and scale, time unit, time zone, list / map / struct fields
//! with names and nullability), so the bytes describe themselves. Arrays are written as a
//! varint length, a validity part (`0` = no nulls, `1` + one byte per row) and the values:
//! fixed-width little-endian for numbers, varint length + bytes for strings and binaries,
//! lengths + child array for lists and maps, child arrays for structs.
//!
//! Covered: Null, Boolean, Int8–64, UInt8–64, Float32/64, Decimal128, Utf8, LargeUtf8,
//! Utf8View, Binary, LargeBinary, BinaryView, Date32, Date64, Time32 (s, ms), Time64 (µs, ns),
//! Timestamp (every unit, with or without zone), List, LargeList, Map and Struct, nested freely.
//! [`encode`] of any other type writes a marker that [`decode`] rejects; the accumulators of
//! this crate never produce one.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, GenericListArray, MapArray, NullArray,
    OffsetSizeTrait, PrimitiveArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal128Type, Field, FieldRef, Fields,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion::common::ScalarValue;

use crate::FunctionError;

/// The format byte of the current encoding.
pub const FORMAT_VERSION: u8 = 1;

/// Encodes state values (as `Accumulator::state` returns them) into self-describing bytes.
pub fn encode(values: &[ScalarValue]) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(16 + values.len() * 16));
    out.byte(FORMAT_VERSION);
    out.varint(values.len() as u64);
    for v in values {
        let dt = v.data_type();
        out.data_type(&dt);
        match v.to_array() {
            Ok(array) if supported(&dt) => out.array(array.as_ref()),
            _ => {}
        }
    }
    out.0
}

/// Decodes bytes written by [`encode`] back into the same values (same types, same nulls).
pub fn decode(bytes: &[u8]) -> Result<Vec<ScalarValue>, FunctionError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.byte()?;
    if version != FORMAT_VERSION {
        return Err(corrupt(format!("unknown state format version {version}")));
    }
    let n = r.len()?;
    let mut values = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let dt = r.data_type()?;
        let array = r.array(&dt)?;
        if array.len() != 1 {
            return Err(corrupt(format!("value of {} rows", array.len())));
        }
        let v =
            ScalarValue::try_from_array(array.as_ref(), 0).map_err(|e| corrupt(e.to_string()))?;
        values.push(v);
    }
    if r.pos != bytes.len() {
        return Err(corrupt(format!("{} trailing bytes", bytes.len() - r.pos)));
    }
    Ok(values)
}

fn corrupt(msg: impl Into<String>) -> FunctionError {
    FunctionError::CorruptState(msg.into())
}

/// Whether every part of a type is covered.
fn supported(dt: &DataType) -> bool {
    use DataType as D;
    match dt {
        D::Null
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Decimal128(_, _)
        | D::Utf8
        | D::LargeUtf8
        | D::Utf8View
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::Date32
        | D::Date64
        | D::Time32(TimeUnit::Second | TimeUnit::Millisecond)
        | D::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
        | D::Timestamp(_, _) => true,
        D::List(f) | D::LargeList(f) => supported(f.data_type()),
        D::Map(f, _) => supported(f.data_type()),
        D::Struct(fields) => fields.iter().all(|f| supported(f.data_type())),
        _ => false,
    }
}

mod tag {
    pub const NULL: u8 = 0;
    pub const BOOLEAN: u8 = 1;
    pub const INT8: u8 = 2;
    pub const INT16: u8 = 3;
    pub const INT32: u8 = 4;
    pub const INT64: u8 = 5;
    pub const UINT8: u8 = 6;
    pub const UINT16: u8 = 7;
    pub const UINT32: u8 = 8;
    pub const UINT64: u8 = 9;
    pub const FLOAT32: u8 = 10;
    pub const FLOAT64: u8 = 11;
    pub const DECIMAL128: u8 = 12;
    pub const UTF8: u8 = 13;
    pub const LARGE_UTF8: u8 = 14;
    pub const UTF8_VIEW: u8 = 15;
    pub const BINARY: u8 = 16;
    pub const LARGE_BINARY: u8 = 17;
    pub const BINARY_VIEW: u8 = 18;
    pub const DATE32: u8 = 19;
    pub const DATE64: u8 = 20;
    pub const TIME32_S: u8 = 21;
    pub const TIME32_MS: u8 = 22;
    pub const TIME64_US: u8 = 23;
    pub const TIME64_NS: u8 = 24;
    pub const TIMESTAMP: u8 = 25;
    pub const LIST: u8 = 26;
    pub const LARGE_LIST: u8 = 27;
    pub const MAP: u8 = 28;
    pub const STRUCT: u8 = 29;
    pub const UNSUPPORTED: u8 = 255;
}

struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn field(&mut self, f: &Field) {
        self.bytes(f.name().as_bytes());
        self.byte(f.is_nullable() as u8);
        self.data_type(f.data_type());
    }

    fn data_type(&mut self, dt: &DataType) {
        use DataType as D;
        if !supported(dt) {
            self.byte(tag::UNSUPPORTED);
            self.bytes(dt.to_string().as_bytes());
            return;
        }
        match dt {
            D::Null => self.byte(tag::NULL),
            D::Boolean => self.byte(tag::BOOLEAN),
            D::Int8 => self.byte(tag::INT8),
            D::Int16 => self.byte(tag::INT16),
            D::Int32 => self.byte(tag::INT32),
            D::Int64 => self.byte(tag::INT64),
            D::UInt8 => self.byte(tag::UINT8),
            D::UInt16 => self.byte(tag::UINT16),
            D::UInt32 => self.byte(tag::UINT32),
            D::UInt64 => self.byte(tag::UINT64),
            D::Float32 => self.byte(tag::FLOAT32),
            D::Float64 => self.byte(tag::FLOAT64),
            D::Decimal128(p, s) => {
                self.byte(tag::DECIMAL128);
                self.byte(*p);
                self.byte(*s as u8);
            }
            D::Utf8 => self.byte(tag::UTF8),
            D::LargeUtf8 => self.byte(tag::LARGE_UTF8),
            D::Utf8View => self.byte(tag::UTF8_VIEW),
            D::Binary => self.byte(tag::BINARY),
            D::LargeBinary => self.byte(tag::LARGE_BINARY),
            D::BinaryView => self.byte(tag::BINARY_VIEW),
            D::Date32 => self.byte(tag::DATE32),
            D::Date64 => self.byte(tag::DATE64),
            D::Time32(TimeUnit::Second) => self.byte(tag::TIME32_S),
            D::Time32(_) => self.byte(tag::TIME32_MS),
            D::Time64(TimeUnit::Microsecond) => self.byte(tag::TIME64_US),
            D::Time64(_) => self.byte(tag::TIME64_NS),
            D::Timestamp(unit, tz) => {
                self.byte(tag::TIMESTAMP);
                self.byte(match unit {
                    TimeUnit::Second => 0,
                    TimeUnit::Millisecond => 1,
                    TimeUnit::Microsecond => 2,
                    TimeUnit::Nanosecond => 3,
                });
                match tz {
                    None => self.byte(0),
                    Some(tz) => {
                        self.byte(1);
                        self.bytes(tz.as_bytes());
                    }
                }
            }
            D::List(f) => {
                self.byte(tag::LIST);
                self.field(f);
            }
            D::LargeList(f) => {
                self.byte(tag::LARGE_LIST);
                self.field(f);
            }
            D::Map(f, sorted) => {
                self.byte(tag::MAP);
                self.byte(*sorted as u8);
                self.field(f);
            }
            D::Struct(fields) => {
                self.byte(tag::STRUCT);
                self.varint(fields.len() as u64);
                for f in fields.iter() {
                    self.field(f);
                }
            }
            _ => unreachable!("supported() covers every arm"),
        }
    }

    fn validity(&mut self, array: &dyn Array) {
        match array.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => {
                self.byte(1);
                for i in 0..array.len() {
                    self.byte(nulls.is_valid(i) as u8);
                }
            }
            _ => self.byte(0),
        }
    }

    fn primitive<T: ArrowPrimitiveType>(&mut self, array: &dyn Array, width: usize)
    where
        T::Native: ToLe,
    {
        let a = array.as_primitive::<T>();
        let mut buf = [0u8; 16];
        for v in a.values().iter() {
            v.to_le(&mut buf[..width]);
            self.0.extend_from_slice(&buf[..width]);
        }
    }

    fn array(&mut self, array: &dyn Array) {
        use DataType as D;
        self.varint(array.len() as u64);
        self.validity(array);
        match array.data_type() {
            D::Null => {}
            D::Boolean => {
                let a = array.as_boolean();
                for i in 0..a.len() {
                    self.byte(a.value(i) as u8);
                }
            }
            D::Int8 => self.primitive::<Int8Type>(array, 1),
            D::Int16 => self.primitive::<Int16Type>(array, 2),
            D::Int32 => self.primitive::<Int32Type>(array, 4),
            D::Int64 => self.primitive::<Int64Type>(array, 8),
            D::UInt8 => self.primitive::<UInt8Type>(array, 1),
            D::UInt16 => self.primitive::<UInt16Type>(array, 2),
            D::UInt32 => self.primitive::<UInt32Type>(array, 4),
            D::UInt64 => self.primitive::<UInt64Type>(array, 8),
            D::Float32 => self.primitive::<Float32Type>(array, 4),
            D::Float64 => self.primitive::<Float64Type>(array, 8),
            D::Decimal128(_, _) => self.primitive::<Decimal128Type>(array, 16),
            D::Date32 => self.primitive::<Date32Type>(array, 4),
            D::Date64 => self.primitive::<Date64Type>(array, 8),
            D::Time32(TimeUnit::Second) => self.primitive::<Time32SecondType>(array, 4),
            D::Time32(_) => self.primitive::<Time32MillisecondType>(array, 4),
            D::Time64(TimeUnit::Microsecond) => self.primitive::<Time64MicrosecondType>(array, 8),
            D::Time64(_) => self.primitive::<Time64NanosecondType>(array, 8),
            D::Timestamp(TimeUnit::Second, _) => self.primitive::<TimestampSecondType>(array, 8),
            D::Timestamp(TimeUnit::Millisecond, _) => {
                self.primitive::<TimestampMillisecondType>(array, 8)
            }
            D::Timestamp(TimeUnit::Microsecond, _) => {
                self.primitive::<TimestampMicrosecondType>(array, 8)
            }
            D::Timestamp(TimeUnit::Nanosecond, _) => {
                self.primitive::<TimestampNanosecondType>(array, 8)
            }
            D::Utf8 => {
                let a = array.as_string::<i32>();
                for i in 0..a.len() {
                    self.bytes(a.value(i).as_bytes());
                }
            }
            D::LargeUtf8 => {
                let a = array.as_string::<i64>();
                for i in 0..a.len() {
                    self.bytes(a.value(i).as_bytes());
                }
            }
            D::Utf8View => {
                let a = array.as_string_view();
                for i in 0..a.len() {
                    self.bytes(a.value(i).as_bytes());
                }
            }
            D::Binary => {
                let a = array.as_binary::<i32>();
                for i in 0..a.len() {
                    self.bytes(a.value(i));
                }
            }
            D::LargeBinary => {
                let a = array.as_binary::<i64>();
                for i in 0..a.len() {
                    self.bytes(a.value(i));
                }
            }
            D::BinaryView => {
                let a = array.as_binary_view();
                for i in 0..a.len() {
                    self.bytes(a.value(i));
                }
            }
            D::List(_) => self.list(array.as_list::<i32>()),
            D::LargeList(_) => self.list(array.as_list::<i64>()),
            D::Map(_, _) => {
                let a = array.as_map();
                let offsets = a.value_offsets();
                for w in offsets.windows(2) {
                    self.varint((w[1] - w[0]) as u64);
                }
                let start = offsets[0] as usize;
                let end = offsets[offsets.len() - 1] as usize;
                let entries = a.entries().slice(start, end - start);
                self.array(&entries);
            }
            D::Struct(_) => {
                let a = array.as_struct();
                for c in a.columns() {
                    self.array(c.as_ref());
                }
            }
            _ => unreachable!("supported() was checked by encode"),
        }
    }

    fn list<O: OffsetSizeTrait>(&mut self, a: &GenericListArray<O>) {
        let offsets = a.value_offsets();
        for w in offsets.windows(2) {
            self.varint((w[1] - w[0]).as_usize() as u64);
        }
        let start = offsets[0].as_usize();
        let end = offsets[offsets.len() - 1].as_usize();
        let values = a.values().slice(start, end - start);
        self.array(values.as_ref());
    }
}

/// Little-endian bytes of a native value.
trait ToLe: Copy {
    fn to_le(self, out: &mut [u8]);
    fn from_le(bytes: &[u8]) -> Self;
}

macro_rules! to_le {
    ($($t:ty),*) => {$(
        impl ToLe for $t {
            fn to_le(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            fn from_le(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}
to_le!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, i128);

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, FunctionError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| corrupt("unexpected end of state bytes"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], FunctionError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| corrupt("unexpected end of state bytes"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, FunctionError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    /// A length that cannot exceed what is left (every element takes at least one byte or is
    /// bounded by its parent), so corrupt input cannot ask for huge allocations.
    fn len(&mut self) -> Result<usize, FunctionError> {
        let v = self.varint()?;
        usize::try_from(v)
            .ok()
            .filter(|n| *n <= self.bytes.len().saturating_mul(8) + 8)
            .ok_or_else(|| corrupt(format!("implausible length {v}")))
    }

    fn string(&mut self) -> Result<String, FunctionError> {
        let n = self.len()?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|e| corrupt(e.to_string()))
    }

    fn field(&mut self) -> Result<FieldRef, FunctionError> {
        let name = self.string()?;
        let nullable = self.byte()? != 0;
        let dt = self.data_type()?;
        Ok(Arc::new(Field::new(name, dt, nullable)))
    }

    fn data_type(&mut self) -> Result<DataType, FunctionError> {
        use DataType as D;
        Ok(match self.byte()? {
            tag::NULL => D::Null,
            tag::BOOLEAN => D::Boolean,
            tag::INT8 => D::Int8,
            tag::INT16 => D::Int16,
            tag::INT32 => D::Int32,
            tag::INT64 => D::Int64,
            tag::UINT8 => D::UInt8,
            tag::UINT16 => D::UInt16,
            tag::UINT32 => D::UInt32,
            tag::UINT64 => D::UInt64,
            tag::FLOAT32 => D::Float32,
            tag::FLOAT64 => D::Float64,
            tag::DECIMAL128 => {
                let p = self.byte()?;
                let s = self.byte()? as i8;
                D::Decimal128(p, s)
            }
            tag::UTF8 => D::Utf8,
            tag::LARGE_UTF8 => D::LargeUtf8,
            tag::UTF8_VIEW => D::Utf8View,
            tag::BINARY => D::Binary,
            tag::LARGE_BINARY => D::LargeBinary,
            tag::BINARY_VIEW => D::BinaryView,
            tag::DATE32 => D::Date32,
            tag::DATE64 => D::Date64,
            tag::TIME32_S => D::Time32(TimeUnit::Second),
            tag::TIME32_MS => D::Time32(TimeUnit::Millisecond),
            tag::TIME64_US => D::Time64(TimeUnit::Microsecond),
            tag::TIME64_NS => D::Time64(TimeUnit::Nanosecond),
            tag::TIMESTAMP => {
                let unit = match self.byte()? {
                    0 => TimeUnit::Second,
                    1 => TimeUnit::Millisecond,
                    2 => TimeUnit::Microsecond,
                    3 => TimeUnit::Nanosecond,
                    u => return Err(corrupt(format!("unknown time unit {u}"))),
                };
                let tz = match self.byte()? {
                    0 => None,
                    _ => Some(Arc::from(self.string()?.as_str())),
                };
                D::Timestamp(unit, tz)
            }
            tag::LIST => D::List(self.field()?),
            tag::LARGE_LIST => D::LargeList(self.field()?),
            tag::MAP => {
                let sorted = self.byte()? != 0;
                D::Map(self.field()?, sorted)
            }
            tag::STRUCT => {
                let n = self.len()?;
                let fields = (0..n)
                    .map(|_| self.field())
                    .collect::<Result<Vec<_>, _>>()?;
                D::Struct(Fields::from(fields))
            }
            tag::UNSUPPORTED => {
                let name = self.string()?;
                return Err(corrupt(format!("state of unsupported type {name}")));
            }
            t => return Err(corrupt(format!("unknown type tag {t}"))),
        })
    }

    fn validity(&mut self, len: usize) -> Result<Option<NullBuffer>, FunctionError> {
        match self.byte()? {
            0 => Ok(None),
            1 => {
                let flags = self.take(len)?;
                Ok(Some(NullBuffer::from(
                    flags.iter().map(|b| *b != 0).collect::<Vec<bool>>(),
                )))
            }
            v => Err(corrupt(format!("bad validity marker {v}"))),
        }
    }

    fn primitive<T: ArrowPrimitiveType>(
        &mut self,
        len: usize,
        nulls: Option<NullBuffer>,
        width: usize,
        dt: &DataType,
    ) -> Result<ArrayRef, FunctionError>
    where
        T::Native: ToLe,
    {
        let raw = self.take(len.checked_mul(width).ok_or_else(|| corrupt("overflow"))?)?;
        let values: Vec<T::Native> = raw.chunks_exact(width).map(T::Native::from_le).collect();
        let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), nulls)
            .map_err(|e| corrupt(e.to_string()))?
            .with_data_type(dt.clone());
        Ok(Arc::new(array))
    }

    fn byte_values(&mut self, len: usize) -> Result<Vec<Vec<u8>>, FunctionError> {
        (0..len)
            .map(|_| {
                let n = self.len()?;
                Ok(self.take(n)?.to_vec())
            })
            .collect()
    }

    fn lengths(&mut self, len: usize) -> Result<Vec<usize>, FunctionError> {
        (0..len).map(|_| self.len()).collect()
    }

    fn array(&mut self, dt: &DataType) -> Result<ArrayRef, FunctionError> {
        use DataType as D;
        let len = self.len()?;
        let nulls = self.validity(len)?;
        let is_valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        Ok(match dt {
            D::Null => Arc::new(NullArray::new(len)),
            D::Boolean => {
                let raw = self.take(len)?;
                let values: Vec<Option<bool>> = raw
                    .iter()
                    .enumerate()
                    .map(|(i, b)| is_valid(i).then_some(*b != 0))
                    .collect();
                Arc::new(BooleanArray::from(values))
            }
            D::Int8 => self.primitive::<Int8Type>(len, nulls, 1, dt)?,
            D::Int16 => self.primitive::<Int16Type>(len, nulls, 2, dt)?,
            D::Int32 => self.primitive::<Int32Type>(len, nulls, 4, dt)?,
            D::Int64 => self.primitive::<Int64Type>(len, nulls, 8, dt)?,
            D::UInt8 => self.primitive::<UInt8Type>(len, nulls, 1, dt)?,
            D::UInt16 => self.primitive::<UInt16Type>(len, nulls, 2, dt)?,
            D::UInt32 => self.primitive::<UInt32Type>(len, nulls, 4, dt)?,
            D::UInt64 => self.primitive::<UInt64Type>(len, nulls, 8, dt)?,
            D::Float32 => self.primitive::<Float32Type>(len, nulls, 4, dt)?,
            D::Float64 => self.primitive::<Float64Type>(len, nulls, 8, dt)?,
            D::Decimal128(_, _) => self.primitive::<Decimal128Type>(len, nulls, 16, dt)?,
            D::Date32 => self.primitive::<Date32Type>(len, nulls, 4, dt)?,
            D::Date64 => self.primitive::<Date64Type>(len, nulls, 8, dt)?,
            D::Time32(TimeUnit::Second) => self.primitive::<Time32SecondType>(len, nulls, 4, dt)?,
            D::Time32(_) => self.primitive::<Time32MillisecondType>(len, nulls, 4, dt)?,
            D::Time64(TimeUnit::Microsecond) => {
                self.primitive::<Time64MicrosecondType>(len, nulls, 8, dt)?
            }
            D::Time64(_) => self.primitive::<Time64NanosecondType>(len, nulls, 8, dt)?,
            D::Timestamp(TimeUnit::Second, _) => {
                self.primitive::<TimestampSecondType>(len, nulls, 8, dt)?
            }
            D::Timestamp(TimeUnit::Millisecond, _) => {
                self.primitive::<TimestampMillisecondType>(len, nulls, 8, dt)?
            }
            D::Timestamp(TimeUnit::Microsecond, _) => {
                self.primitive::<TimestampMicrosecondType>(len, nulls, 8, dt)?
            }
            D::Timestamp(TimeUnit::Nanosecond, _) => {
                self.primitive::<TimestampNanosecondType>(len, nulls, 8, dt)?
            }
            D::Utf8 | D::LargeUtf8 | D::Utf8View => {
                let raw = self.byte_values(len)?;
                let strings = raw
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| {
                        if is_valid(i) {
                            String::from_utf8(b).map(Some)
                        } else {
                            Ok(None)
                        }
                    })
                    .collect::<Result<Vec<Option<String>>, _>>()
                    .map_err(|e| corrupt(e.to_string()))?;
                let array: ArrayRef = Arc::new(StringArray::from(strings));
                cast_to(array, dt)?
            }
            D::Binary | D::LargeBinary | D::BinaryView => {
                let raw = self.byte_values(len)?;
                let values: Vec<Option<&[u8]>> = raw
                    .iter()
                    .enumerate()
                    .map(|(i, b)| is_valid(i).then_some(b.as_slice()))
                    .collect();
                let array: ArrayRef = Arc::new(BinaryArray::from(values));
                cast_to(array, dt)?
            }
            D::List(f) => {
                let lengths = self.lengths(len)?;
                let values = self.array(f.data_type())?;
                check_child(&lengths, values.len())?;
                Arc::new(
                    GenericListArray::<i32>::try_new(
                        f.clone(),
                        OffsetBuffer::from_lengths(lengths),
                        values,
                        nulls,
                    )
                    .map_err(|e| corrupt(e.to_string()))?,
                )
            }
            D::LargeList(f) => {
                let lengths = self.lengths(len)?;
                let values = self.array(f.data_type())?;
                check_child(&lengths, values.len())?;
                Arc::new(
                    GenericListArray::<i64>::try_new(
                        f.clone(),
                        OffsetBuffer::from_lengths(lengths),
                        values,
                        nulls,
                    )
                    .map_err(|e| corrupt(e.to_string()))?,
                )
            }
            D::Map(f, sorted) => {
                let lengths = self.lengths(len)?;
                let entries = self.array(f.data_type())?;
                check_child(&lengths, entries.len())?;
                let entries = entries
                    .as_struct_opt()
                    .ok_or_else(|| corrupt("map entries are not a struct"))?
                    .clone();
                Arc::new(
                    MapArray::try_new(
                        f.clone(),
                        OffsetBuffer::from_lengths(lengths),
                        entries,
                        nulls,
                        *sorted,
                    )
                    .map_err(|e| corrupt(e.to_string()))?,
                )
            }
            D::Struct(fields) => {
                let columns = fields
                    .iter()
                    .map(|f| self.array(f.data_type()))
                    .collect::<Result<Vec<_>, _>>()?;
                if columns.iter().any(|c| c.len() != len) {
                    return Err(corrupt("struct column of another length"));
                }
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(len, nulls))
                } else {
                    Arc::new(
                        StructArray::try_new(fields.clone(), columns, nulls)
                            .map_err(|e| corrupt(e.to_string()))?,
                    )
                }
            }
            other => return Err(corrupt(format!("state of unsupported type {other}"))),
        })
    }
}

fn check_child(lengths: &[usize], child_len: usize) -> Result<(), FunctionError> {
    let total: usize = lengths.iter().sum();
    if total != child_len {
        return Err(corrupt(format!(
            "child array has {child_len} values, lengths add up to {total}"
        )));
    }
    Ok(())
}

fn cast_to(array: ArrayRef, dt: &DataType) -> Result<ArrayRef, FunctionError> {
    if array.data_type() == dt {
        return Ok(array);
    }
    datafusion::arrow::compute::cast(&array, dt).map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, MapBuilder, StringBuilder};

    fn round_trip(values: Vec<ScalarValue>) {
        let bytes = encode(&values);
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), values.len());
        for (a, b) in values.iter().zip(back.iter()) {
            assert_eq!(a.data_type(), b.data_type(), "type of {a:?}");
            assert_eq!(a, b);
        }
    }

    fn sluice_types() -> Vec<DataType> {
        vec![
            DataType::Boolean,
            DataType::Int32,
            DataType::Int64,
            DataType::Float64,
            DataType::Decimal128(4, 1),
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Time32(TimeUnit::Millisecond),
            DataType::Timestamp(TimeUnit::Millisecond, None),
            crate::aggregate::types::list_of(DataType::Int32),
            map_type(),
            struct_type(),
        ]
    }

    fn map_type() -> DataType {
        map_value().data_type()
    }

    fn map_value() -> ScalarValue {
        let mut b = MapBuilder::new(None, StringBuilder::new(), Int64Array::builder(2));
        b.keys().append_value("a");
        b.values().append_value(1);
        b.keys().append_value("b");
        b.values().append_null();
        b.append(true).unwrap();
        ScalarValue::Map(Arc::new(b.finish()))
    }

    fn struct_type() -> DataType {
        DataType::Struct(Fields::from(vec![
            Field::new("A", DataType::Utf8, true),
            Field::new("M", map_type(), true),
            Field::new("D", DataType::Decimal128(4, 1), true),
        ]))
    }

    #[test]
    fn nulls_of_every_sluice_type_round_trip() {
        let values = sluice_types()
            .iter()
            .map(|t| ScalarValue::try_from(t).unwrap())
            .collect::<Vec<_>>();
        assert!(values.iter().all(|v| v.is_null()));
        round_trip(values);
        round_trip(vec![ScalarValue::Null]);
    }

    #[test]
    fn values_of_every_sluice_type_round_trip() {
        let list = ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Int32(Some(1)), ScalarValue::Int32(None)],
            &DataType::Int32,
        ));
        let st = ScalarValue::Struct(Arc::new(
            StructArray::try_new(
                match struct_type() {
                    DataType::Struct(f) => f,
                    _ => unreachable!(),
                },
                vec![
                    ScalarValue::Utf8(Some("x".into())).to_array().unwrap(),
                    map_value().to_array().unwrap(),
                    ScalarValue::Decimal128(None, 4, 1).to_array().unwrap(),
                ],
                None,
            )
            .unwrap(),
        ));
        round_trip(vec![
            ScalarValue::Boolean(Some(true)),
            ScalarValue::Int32(Some(-7)),
            ScalarValue::Int64(Some(i64::MIN)),
            ScalarValue::Float64(Some(-0.0)),
            ScalarValue::Float64(Some(f64::NAN)),
            ScalarValue::Decimal128(Some(-12345), 4, 1),
            ScalarValue::Utf8(Some("héllo".into())),
            ScalarValue::Binary(Some(vec![0, 255, 128])),
            ScalarValue::Date32(Some(19_000)),
            ScalarValue::Time32Millisecond(Some(86_399_999)),
            ScalarValue::TimestampMillisecond(Some(1_700_000_000_000), None),
            ScalarValue::TimestampMillisecond(Some(1), Some("UTC".into())),
            list,
            map_value(),
            st,
        ]);
    }

    #[test]
    fn nested_lists_of_structs_round_trip() {
        let inner = ScalarValue::new_list_nullable(
            &[ScalarValue::Utf8(Some("a".into())), ScalarValue::Utf8(None)],
            &DataType::Utf8,
        );
        let outer = ScalarValue::List(ScalarValue::new_list_nullable(
            &[
                ScalarValue::List(inner),
                ScalarValue::try_from(crate::aggregate::types::list_of(DataType::Utf8)).unwrap(),
            ],
            &crate::aggregate::types::list_of(DataType::Utf8),
        ));
        round_trip(vec![outer, ScalarValue::UInt64(Some(u64::MAX))]);
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let bytes = encode(&[
            ScalarValue::Utf8(Some("hello".into())),
            ScalarValue::Int64(Some(3)),
        ]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "prefix of {cut} bytes");
        }
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 99;
        assert!(matches!(
            decode(&wrong_version),
            Err(FunctionError::CorruptState(_))
        ));
        let mut trailing = bytes;
        trailing.push(0);
        assert!(decode(&trailing).is_err());
        assert!(decode(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }

    #[test]
    fn unsupported_types_are_rejected_on_decode() {
        let bytes = encode(&[ScalarValue::IntervalYearMonth(Some(3))]);
        assert!(decode(&bytes).is_err());
    }
}
