//! How ksqlDB names types in its messages (`INTEGER`, `ARRAY<STRING>`, ``STRUCT<`A` INTEGER>``),
//! shared by the functions' argument errors.

use datafusion::arrow::datatypes::DataType;

/// The name ksqlDB gives an argument's type in its messages.
pub(crate) fn ksql_type_name(dt: &DataType) -> String {
    use DataType::*;
    match dt {
        Null => "NULL".into(),
        Boolean => "BOOLEAN".into(),
        Int8 | Int16 | Int32 | UInt8 | UInt16 => "INTEGER".into(),
        Int64 | UInt32 | UInt64 => "BIGINT".into(),
        Float16 | Float32 | Float64 => "DOUBLE".into(),
        Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) | Decimal256(p, s) => {
            format!("DECIMAL({p}, {s})")
        }
        Utf8 | LargeUtf8 | Utf8View => "STRING".into(),
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => "BYTES".into(),
        Date32 | Date64 => "DATE".into(),
        Time32(_) | Time64(_) => "TIME".into(),
        Timestamp(_, _) => "TIMESTAMP".into(),
        List(f) | LargeList(f) | FixedSizeList(f, _) => {
            format!("ARRAY<{}>", ksql_type_name(f.data_type()))
        }
        Map(entries, _) => match entries.data_type() {
            Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                ksql_type_name(kv[0].data_type()),
                ksql_type_name(kv[1].data_type())
            ),
            other => format!("MAP<{other}>"),
        },
        Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!("`{}` {}", f.name(), ksql_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Dictionary(_, v) => ksql_type_name(v),
        other => other.to_string(),
    }
}

/// ksqlDB's planning error for a call of `function` no overload takes:
/// `Function 'F' does not accept parameters (INTEGER, STRING).`
pub(crate) fn not_accepted(
    function: &str,
    args: &[DataType],
) -> datafusion::error::DataFusionError {
    let names: Vec<String> = args.iter().map(ksql_type_name).collect();
    datafusion::error::DataFusionError::Plan(format!(
        "Function '{function}' does not accept parameters ({}).",
        names.join(", ")
    ))
}
