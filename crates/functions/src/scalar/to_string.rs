//! `ksql_to_string(x)`: `CAST(x AS STRING)` for ARRAY, MAP and STRUCT values, in the text Java
//! gives them in ksqlDB: `[1, 2]` (a list), `{a=1, b=2}` (a map), `Struct{A=1,B=x}` (a Kafka
//! Connect struct, null fields left out), nested values the same way, doubles as Java prints
//! them (`1.0`, `1.0E10`). The planner writes such casts as calls to this function; casts of
//! other types stay DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::aggregate::java::java_to_string;

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToString {
    signature: Signature,
}

impl ToString {
    pub(crate) fn new() -> Self {
        ToString {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// Java's `Double.toString`.
fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = d.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{d}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{d:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}

fn write_value(out: &mut String, a: &dyn Array, i: usize) -> Result<()> {
    if a.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    match a.data_type() {
        DataType::List(_) => {
            let items = a.as_list::<i32>().value(i);
            out.push('[');
            for j in 0..items.len() {
                if j > 0 {
                    out.push_str(", ");
                }
                write_value(out, items.as_ref(), j)?;
            }
            out.push(']');
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            out.push('{');
            for j in 0..entries.len() {
                if j > 0 {
                    out.push_str(", ");
                }
                write_value(out, entries.column(0).as_ref(), j)?;
                out.push('=');
                write_value(out, entries.column(1).as_ref(), j)?;
            }
            out.push('}');
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            out.push_str("Struct{");
            let mut first = true;
            for (f, column) in fields.iter().zip(s.columns()) {
                if column.is_null(i) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(f.name());
                out.push('=');
                write_value(out, column.as_ref(), i)?;
            }
            out.push('}');
        }
        DataType::Float64 => out.push_str(&java_double(a.as_primitive::<Float64Type>().value(i))),
        DataType::Utf8 => out.push_str(a.as_string::<i32>().value(i)),
        _ => out.push_str(&java_to_string(&ScalarValue::try_from_array(a, i)?)),
    }
    Ok(())
}

impl ScalarUDFImpl for ToString {
    fn name(&self) -> &str {
        "ksql_to_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("ksql_to_string takes one argument");
        };
        let a = arg.to_array(args.number_rows)?;
        let mut out = StringBuilder::with_capacity(a.len(), a.len() * 16);
        let mut buf = String::new();
        for i in 0..a.len() {
            if a.is_null(i) {
                out.append_null();
                continue;
            }
            buf.clear();
            write_value(&mut buf, a.as_ref(), i)?;
            out.append_value(&buf);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Int32Array, Int32Builder, MapBuilder, StringBuilder as SB, StructArray,
    };
    use datafusion::arrow::datatypes::Field;

    fn text(a: &dyn Array, i: usize) -> String {
        let mut s = String::new();
        write_value(&mut s, a, i).unwrap();
        s
    }

    #[test]
    fn java_texts_of_collections() {
        let mut m = MapBuilder::new(None, SB::new(), Int32Builder::new());
        m.keys().append_value("this");
        m.values().append_value(1);
        m.append(true).unwrap();
        assert_eq!(text(&m.finish(), 0), "{this=1}");
        let s = StructArray::from(vec![
            (
                Arc::new(Field::new("F0", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![Some(1)])) as Arc<dyn Array>,
            ),
            (
                Arc::new(Field::new("f1", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![Some(3)])) as Arc<dyn Array>,
            ),
            (
                Arc::new(Field::new("G", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![None])) as Arc<dyn Array>,
            ),
        ]);
        assert_eq!(text(&s, 0), "Struct{F0=1,f1=3}");
        let l = datafusion::arrow::array::ListArray::from_iter_primitive::<
            datafusion::arrow::datatypes::Int32Type,
            _,
            _,
        >(vec![Some(vec![Some(1), None, Some(3)])]);
        assert_eq!(text(&l, 0), "[1, null, 3]");
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(2.5), "2.5");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(0.0), "0.0");
    }
}
