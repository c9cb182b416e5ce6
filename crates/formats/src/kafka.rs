//! The KAFKA format: Kafka's primitive serializers for one column. INT is 4 bytes big-endian,
//! BIGINT 8 bytes big-endian, DOUBLE 8 bytes IEEE-754 big-endian, STRING UTF-8, BYTES raw.

use crate::builder::{ColumnBuilder, Values};
use crate::view::View;

fn exact<const N: usize>(bytes: &[u8], deserializer: &str) -> Result<[u8; N], String> {
    bytes.try_into().map_err(|_| {
        format!(
            "Error deserializing KAFKA message: Size of data received by {deserializer} is not {N}"
        )
    })
}

/// Decode one record's bytes into the single column. Nothing is appended on error.
pub(crate) fn decode(bytes: &[u8], col: &mut ColumnBuilder) -> Result<(), String> {
    match &mut col.values {
        Values::Int32(v) => v.push(i32::from_be_bytes(exact(bytes, "IntegerDeserializer")?)),
        Values::Int64(v) => v.push(i64::from_be_bytes(exact(bytes, "LongDeserializer")?)),
        Values::Float64(v) => v.push(f64::from_be_bytes(exact(bytes, "DoubleDeserializer")?)),
        Values::Utf8(b) => {
            // Java's StringDeserializer replaces malformed UTF-8 with U+FFFD.
            b.data
                .extend_from_slice(String::from_utf8_lossy(bytes).as_bytes());
            b.close()?;
        }
        Values::Binary(b) => {
            b.data.extend_from_slice(bytes);
            b.close()?;
        }
        _ => {
            return Err(format!(
                "The 'KAFKA' format does not support type '{}'",
                col.ksql_type()
            ))
        }
    }
    col.set_valid();
    Ok(())
}

/// Encode row `i` of the single column; `None` for null.
pub(crate) fn encode(v: &View<'_>, i: usize) -> Result<Option<Vec<u8>>, String> {
    if v.is_null(i) {
        return Ok(None);
    }
    Ok(Some(match v {
        View::Int32(a) => a.value(i).to_be_bytes().to_vec(),
        View::Int64(a) => a.value(i).to_be_bytes().to_vec(),
        View::Float64(a) => a.value(i).to_be_bytes().to_vec(),
        View::Utf8(a) => a.value(i).as_bytes().to_vec(),
        View::Binary(a) => a.value(i).to_vec(),
        _ => {
            return Err(
                "The 'KAFKA' format supports only INT, BIGINT, DOUBLE, STRING and BYTES".into(),
            )
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Array, ArrayRef, AsArray, BinaryArray, Float64Array, Int32Array, Int64Array, StringArray,
    };
    use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};

    use crate::testutil::*;
    use crate::{Encoder, FormatKind, Part};

    fn kafka() -> crate::Format {
        fmt(FormatKind::Kafka)
    }

    fn raw(inputs: &[&[u8]]) -> Vec<Option<&'static [u8]>> {
        inputs
            .iter()
            .map(|b| Some(&*Box::leak(b.to_vec().into_boxed_slice())))
            .collect()
    }

    #[test]
    fn decodes_big_endian_primitives() {
        let (cols, errors) = decode(
            &kafka(),
            fields(&[("K", DataType::Int32)]),
            Part::Key,
            &raw(&[&[0, 0, 0, 33], &[255, 255, 255, 254]]),
        );
        assert!(errors.iter().all(Option::is_none));
        let v = cols[0].as_primitive::<Int32Type>();
        assert_eq!((v.value(0), v.value(1)), (33, -2));

        let (cols, _) = decode(
            &kafka(),
            fields(&[("K", DataType::Int64)]),
            Part::Key,
            &raw(&[&1234567890123i64.to_be_bytes()]),
        );
        assert_eq!(cols[0].as_primitive::<Int64Type>().value(0), 1234567890123);

        let (cols, _) = decode(
            &kafka(),
            fields(&[("K", DataType::Float64)]),
            Part::Key,
            &raw(&[&1.1f64.to_be_bytes()]),
        );
        assert_eq!(cols[0].as_primitive::<Float64Type>().value(0), 1.1);

        let (cols, _) = decode(
            &kafka(),
            fields(&[("K", DataType::Utf8)]),
            Part::Key,
            &raw(&[b"bar", b"", b"\xffx"]),
        );
        let s = cols[0].as_string::<i32>();
        assert_eq!(
            (s.value(0), s.value(1), s.value(2)),
            ("bar", "", "\u{FFFD}x")
        );

        let (cols, _) = decode(
            &kafka(),
            fields(&[("K", DataType::Binary)]),
            Part::Key,
            &raw(&[b"\x00\x01"]),
        );
        assert_eq!(cols[0].as_binary::<i32>().value(0), b"\x00\x01");

        let (cols, _) = decode(
            &kafka(),
            fields(&[("K", DataType::Int32)]),
            Part::Key,
            &[None],
        );
        assert!(cols[0].is_null(0));
    }

    #[test]
    fn wrong_sizes_are_refused() {
        for (dt, input, name, size) in [
            (DataType::Int32, &b"\x00\x01"[..], "IntegerDeserializer", 4),
            (
                DataType::Int64,
                &b"\x00\x00\x00\x01"[..],
                "LongDeserializer",
                8,
            ),
            (DataType::Float64, &b""[..], "DoubleDeserializer", 8),
        ] {
            let (cols, errors) =
                decode(&kafka(), fields(&[("V", dt)]), Part::Value, &[Some(input)]);
            assert!(cols[0].is_empty());
            assert_eq!(
                errors[0].as_ref().unwrap().to_string(),
                format!("Error deserializing KAFKA message: Size of data received by {name} is not {size}")
            );
        }
    }

    #[test]
    fn encodes_big_endian_primitives() {
        let cases: Vec<(DataType, ArrayRef, Vec<u8>)> = vec![
            (
                DataType::Int32,
                Arc::new(Int32Array::from(vec![Some(1), None])),
                vec![0, 0, 0, 1],
            ),
            (
                DataType::Int64,
                Arc::new(Int64Array::from(vec![Some(2), None])),
                2i64.to_be_bytes().to_vec(),
            ),
            (
                DataType::Float64,
                Arc::new(Float64Array::from(vec![Some(2.2), None])),
                2.2f64.to_be_bytes().to_vec(),
            ),
            (
                DataType::Utf8,
                Arc::new(StringArray::from(vec![Some("foo"), None])),
                b"foo".to_vec(),
            ),
            (
                DataType::Binary,
                Arc::new(BinaryArray::from(vec![Some(&b"\x07"[..]), None])),
                vec![7],
            ),
        ];
        for (dt, col, bytes) in cases {
            let mut e = Encoder::new(&kafka(), fields(&[("V", dt)]), Part::Value).unwrap();
            assert_eq!(e.encode(&[col]).unwrap(), vec![Some(bytes), None]);
        }
    }
}
