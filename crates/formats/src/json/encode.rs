//! Arrow values → JSON text, written straight into the output buffer.
//!
//! As ksqlDB writes it (Kafka Connect's JsonConverter with decimals as numbers): DOUBLE with
//! Java's `Double.toString` (`2.0` stays a float; NaN and infinities as strings, as Jackson
//! quotes them), DECIMAL as a plain number with its scale, BYTES as base64, DATE as epoch days,
//! TIME as milliseconds of the day, TIMESTAMP as epoch milliseconds.

use crate::text::{base64_encode, write_java_double, write_json_string};
use crate::view::View;

/// Write row `i` of `v` as a JSON value.
pub(crate) fn write_json(out: &mut Vec<u8>, v: &View<'_>, i: usize) {
    if v.is_null(i) {
        out.extend_from_slice(b"null");
        return;
    }
    match v {
        View::Float64(a) => {
            let x = a.value(i);
            if x.is_finite() {
                write_java_double(out, x);
            } else {
                out.push(b'"');
                write_java_double(out, x);
                out.push(b'"');
            }
        }
        View::Utf8(a) => write_json_string(out, a.value(i)),
        View::Binary(a) => {
            out.push(b'"');
            base64_encode(out, a.value(i));
            out.push(b'"');
        }
        View::List(a, child) => {
            let offsets = a.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            out.push(b'[');
            for j in start..end {
                if j > start {
                    out.push(b',');
                }
                write_json(out, child, j);
            }
            out.push(b']');
        }
        View::Map(a, keys, values) => {
            let offsets = a.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            out.push(b'{');
            for j in start..end {
                if j > start {
                    out.push(b',');
                }
                write_key(out, keys, j);
                out.push(b':');
                write_json(out, values, j);
            }
            out.push(b'}');
        }
        View::Struct(_, children, names) => {
            out.push(b'{');
            for (k, (child, name)) in children.iter().zip(names).enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_json_string(out, name);
                out.push(b':');
                write_json(out, child, i);
            }
            out.push(b'}');
        }
        other => {
            other.write_text(out, i);
        }
    }
}

/// A map key: JSON maps have STRING keys; other key types are written as their text.
fn write_key(out: &mut Vec<u8>, keys: &View<'_>, j: usize) {
    match keys {
        View::Utf8(a) => write_json_string(out, a.value(j)),
        other => {
            let mut text = Vec::new();
            if !other.is_null(j) {
                other.write_text(&mut text, j);
            }
            write_json_string(out, &String::from_utf8_lossy(&text));
        }
    }
}

/// What goes before each column's value in a wrapped row: `{"A":`, then `,"B":`, ...
pub(crate) fn row_prefixes<'n>(names: impl Iterator<Item = &'n str>) -> Vec<Vec<u8>> {
    names
        .enumerate()
        .map(|(k, name)| {
            let mut p = Vec::with_capacity(name.len() + 4);
            p.push(if k == 0 { b'{' } else { b',' });
            write_json_string(&mut p, name);
            p.push(b':');
            p
        })
        .collect()
}
