//! Argument types of the aggregate functions: ksqlDB's type names (for error texts), the Arrow
//! types Sluice uses for each ksqlDB type, and ksqlDB's overload resolution with implicit
//! widening (INT → BIGINT → DECIMAL → DOUBLE).
//!
//! DataFusion hands each function the types of its arguments at planning time
//! (`coerce_types`); the functions answer with the Sluice types to cast to, or with ksqlDB's
//! "does not accept parameters" error.

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::common::{plan_datafusion_err, DataFusionError, Result};

/// ksqlDB's name of an Arrow type, as its error messages print it (`INTEGER`,
/// `DECIMAL(4, 1)`, `ARRAY<STRING>`, `STRUCT<`A` STRING>`).
pub(crate) fn ksql_type_name(dt: &DataType) -> String {
    match dt {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "INTEGER".into(),
        DataType::UInt8 | DataType::UInt16 => "INTEGER".into(),
        DataType::Int64 | DataType::UInt32 => "BIGINT".into(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTES".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Time32(TimeUnit::Millisecond) => "TIME".into(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => "TIMESTAMP".into(),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("ARRAY<{}>", ksql_type_name(f.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                ksql_type_name(kv[0].data_type()),
                ksql_type_name(kv[1].data_type())
            ),
            other => format!("MAP<{other}>"),
        },
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("`{}` {}", f.name(), ksql_type_name(f.data_type())))
                .collect();
            format!("STRUCT<{}>", inner.join(", "))
        }
        other => other.to_string(),
    }
}

/// The ksqlDB kinds of argument the functions' overloads are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    BigInt,
    Double,
    Decimal,
    String,
    Bytes,
    Boolean,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    pub(crate) fn ksql_name(self) -> &'static str {
        match self {
            Kind::Int => "INT",
            Kind::BigInt => "BIGINT",
            Kind::Double => "DOUBLE",
            Kind::Decimal => "DECIMAL",
            Kind::String => "VARCHAR",
            Kind::Bytes => "BYTES",
            Kind::Boolean => "BOOLEAN",
            Kind::Date => "DATE",
            Kind::Time => "TIME",
            Kind::Timestamp => "TIMESTAMP",
        }
    }
}

/// The Sluice form of a type DataFusion may produce: views and large variants become Utf8 and
/// Binary, small integers INT, unsigned 32-bit BIGINT, narrow floats DOUBLE, timestamps of other
/// units milliseconds. Nested types are normalized element by element.
pub(crate) fn normalize(dt: &DataType) -> DataType {
    match dt {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::Float16 | DataType::Float32 => DataType::Float64,
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Millisecond, tz.clone()),
        DataType::List(f) | DataType::LargeList(f) => DataType::List(std::sync::Arc::new(
            Field::new("item", normalize(f.data_type()), true),
        )),
        DataType::Struct(fields) => DataType::Struct(Fields::from(
            fields
                .iter()
                .map(|f| Field::new(f.name(), normalize(f.data_type()), f.is_nullable()))
                .collect::<Vec<_>>(),
        )),
        other => other.clone(),
    }
}

/// The kind of a (normalized) type, if it is one of the scalar kinds.
pub(crate) fn kind_of(dt: &DataType) -> Option<Kind> {
    Some(match dt {
        DataType::Int32 => Kind::Int,
        DataType::Int64 => Kind::BigInt,
        DataType::Float64 => Kind::Double,
        DataType::Decimal128(_, _) => Kind::Decimal,
        DataType::Utf8 => Kind::String,
        DataType::Binary => Kind::Bytes,
        DataType::Boolean => Kind::Boolean,
        DataType::Date32 => Kind::Date,
        DataType::Time32(TimeUnit::Millisecond) => Kind::Time,
        DataType::Timestamp(TimeUnit::Millisecond, _) => Kind::Timestamp,
        _ => return None,
    })
}

/// The type `dt` (of kind `from`) becomes when implicitly widened to kind `to`, if ksqlDB allows
/// that widening: INT → BIGINT, DECIMAL(10, 0), DOUBLE; BIGINT → DECIMAL(19, 0), DOUBLE;
/// DECIMAL → DOUBLE.
pub(crate) fn widen(dt: &DataType, to: Kind) -> Option<DataType> {
    let from = kind_of(dt)?;
    if from == to {
        return Some(dt.clone());
    }
    match (from, to) {
        (Kind::Int, Kind::BigInt) => Some(DataType::Int64),
        (Kind::Int, Kind::Decimal) => Some(DataType::Decimal128(10, 0)),
        (Kind::BigInt, Kind::Decimal) => Some(DataType::Decimal128(19, 0)),
        (Kind::Int | Kind::BigInt | Kind::Decimal, Kind::Double) => Some(DataType::Float64),
        _ => None,
    }
}

/// Resolves one column argument against the kinds an overload set accepts: an exact kind wins,
/// otherwise the first accepted kind (in the order given) the argument widens to.
pub(crate) fn resolve_kind(dt: &DataType, accepted: &[Kind]) -> Option<DataType> {
    let dt = normalize(dt);
    if let Some(k) = kind_of(&dt) {
        if accepted.contains(&k) {
            return Some(dt);
        }
    }
    accepted.iter().find_map(|k| widen(&dt, *k))
}

/// Whether a (normalized) type is an integer a literal size argument may have.
pub(crate) fn is_integer(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// ksqlDB's error for a call no overload accepts (`UdfIndex`'s text).
pub(crate) fn no_matching_signature(
    ksql_name: &str,
    args: &[DataType],
    alternatives: &[String],
) -> DataFusionError {
    let params: Vec<String> = args.iter().map(ksql_type_name).collect();
    let mut msg = format!(
        "Function '{ksql_name}' does not accept parameters ({}).",
        params.join(", ")
    );
    msg.push_str("\nValid alternatives are:");
    for alt in alternatives {
        msg.push('\n');
        msg.push_str(alt);
    }
    msg.push_str(
        "\nFor detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;",
    );
    plan_datafusion_err!("{msg}")
}

/// Alternatives text for a one-column function over the given kinds: `SUM(INT val)`.
pub(crate) fn alternatives(ksql_name: &str, kinds: &[Kind], extra: &str) -> Vec<String> {
    kinds
        .iter()
        .map(|k| format!("{ksql_name}({} val{extra})", k.ksql_name()))
        .collect()
}

/// Checks a one-column call whose column must be one of `kinds`; returns the coerced type.
pub(crate) fn coerce_single(
    ksql_name: &str,
    args: &[DataType],
    kinds: &[Kind],
) -> Result<Vec<DataType>> {
    if args.len() == 1 {
        if let Some(t) = resolve_kind(&args[0], kinds) {
            return Ok(vec![t]);
        }
    }
    Err(no_matching_signature(
        ksql_name,
        args,
        &alternatives(ksql_name, kinds, ""),
    ))
}

/// The element type of a list type.
pub(crate) fn list_item(dt: &DataType) -> Option<&DataType> {
    match dt {
        DataType::List(f) | DataType::LargeList(f) => Some(f.data_type()),
        _ => None,
    }
}

/// `ARRAY<item>` the Sluice way (element field "item", nullable).
pub(crate) fn list_of(item: DataType) -> DataType {
    DataType::List(std::sync::Arc::new(Field::new("item", item, true)))
}

/// The ksqlDB kinds comparable with `compareTo` (MIN, MAX, TOPKDISTINCT).
pub(crate) const COMPARABLE: &[Kind] = &[
    Kind::Int,
    Kind::BigInt,
    Kind::Double,
    Kind::Decimal,
    Kind::Date,
    Kind::Time,
    Kind::Timestamp,
    Kind::String,
    Kind::Bytes,
];

/// The numeric kinds of SUM.
pub(crate) const SUMMABLE: &[Kind] = &[Kind::Int, Kind::BigInt, Kind::Double, Kind::Decimal];

/// The numeric kinds of AVG, STDDEV_SAMP(LE) and CORRELATION.
pub(crate) const INT_BIGINT_DOUBLE: &[Kind] = &[Kind::Int, Kind::BigInt, Kind::Double];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ksql() {
        assert_eq!(ksql_type_name(&DataType::Int32), "INTEGER");
        assert_eq!(ksql_type_name(&DataType::Decimal128(4, 1)), "DECIMAL(4, 1)");
        assert_eq!(ksql_type_name(&list_of(DataType::Utf8)), "ARRAY<STRING>");
        let s = DataType::Struct(Fields::from(vec![Field::new("A", DataType::Utf8, true)]));
        assert_eq!(ksql_type_name(&s), "STRUCT<`A` STRING>");
    }

    #[test]
    fn widening_prefers_exact_then_order() {
        assert_eq!(
            resolve_kind(&DataType::Int32, SUMMABLE),
            Some(DataType::Int32)
        );
        assert_eq!(
            resolve_kind(&DataType::Decimal128(4, 1), INT_BIGINT_DOUBLE),
            Some(DataType::Float64)
        );
        assert_eq!(
            resolve_kind(&DataType::Utf8View, &[Kind::String]),
            Some(DataType::Utf8)
        );
        assert_eq!(resolve_kind(&DataType::Utf8, SUMMABLE), None);
        assert_eq!(
            resolve_kind(&DataType::Int16, &[Kind::BigInt]),
            Some(DataType::Int64)
        );
    }

    #[test]
    fn error_text_is_ksqls() {
        let e = coerce_single("SUM", &[DataType::Utf8], SUMMABLE).unwrap_err();
        assert!(e
            .to_string()
            .contains("Function 'SUM' does not accept parameters (STRING)."));
    }
}
