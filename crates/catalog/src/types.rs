//! The one mapping between KSQL types and Arrow types.
//!
//! | KSQL          | Arrow                                     |
//! |---------------|-------------------------------------------|
//! | BOOLEAN       | Boolean                                   |
//! | INT           | Int32                                     |
//! | BIGINT        | Int64                                     |
//! | DOUBLE        | Float64                                   |
//! | DECIMAL(p,s)  | Decimal128(p, s)                          |
//! | STRING        | Utf8                                      |
//! | BYTES         | Binary                                    |
//! | DATE          | Date32                                    |
//! | TIME          | Time32(Millisecond)                       |
//! | TIMESTAMP     | Timestamp(Millisecond, None)              |
//! | ARRAY<T>      | List(item)                                |
//! | MAP<K,V>      | Map(entries{key, value}, unsorted)        |
//! | STRUCT<...>   | Struct                                    |

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use sluice_parser::SqlType;

use crate::CatalogError;

/// Arrow type of a KSQL type. Custom types must be resolved first (see [`crate::Catalog::resolve_type`]).
pub fn to_arrow(ty: &SqlType) -> Result<DataType, CatalogError> {
    Ok(match ty {
        SqlType::Boolean => DataType::Boolean,
        SqlType::Int => DataType::Int32,
        SqlType::Bigint => DataType::Int64,
        SqlType::Double => DataType::Float64,
        SqlType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
        SqlType::String => DataType::Utf8,
        SqlType::Bytes => DataType::Binary,
        SqlType::Date => DataType::Date32,
        SqlType::Time => DataType::Time32(TimeUnit::Millisecond),
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        SqlType::Array(item) => DataType::List(Arc::new(Field::new("item", to_arrow(item)?, true))),
        SqlType::Map(k, v) => map_type(to_arrow(k)?, to_arrow(v)?),
        SqlType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|(name, ty)| Ok(Field::new(name, to_arrow(ty)?, true)))
                .collect::<Result<Fields, CatalogError>>()?,
        ),
        SqlType::Custom(name) => return Err(CatalogError::UnknownType(name.clone())),
    })
}

/// The Arrow map type Sluice uses for `MAP<K, V>`.
pub fn map_type(key: DataType, value: DataType) -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("key", key, false),
                Field::new("value", value, true),
            ])),
            false,
        )),
        false,
    )
}

/// The KSQL name of an Arrow type (`DOUBLE`, `STRING`, `ARRAY<INT>`) for messages and
/// descriptions; Arrow's own name for types KSQL has none for.
pub fn display_name(ty: &DataType) -> String {
    from_arrow(ty)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ty.to_string())
}

/// KSQL type of an Arrow type, for schemas computed by the planner (expression results).
/// Arrow types KSQL has no name for are widened where that is lossless (Int8/Int16 → INT,
/// Float32 → DOUBLE, Utf8View/LargeUtf8 → STRING) and refused otherwise.
pub fn from_arrow(ty: &DataType) -> Result<SqlType, CatalogError> {
    Ok(match ty {
        DataType::Boolean => SqlType::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            SqlType::Int
        }
        DataType::Int64 | DataType::UInt32 => SqlType::Bigint,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => SqlType::Double,
        DataType::Decimal128(p, s) => SqlType::Decimal {
            precision: *p,
            scale: *s,
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Bytes,
        DataType::Date32 | DataType::Date64 => SqlType::Date,
        DataType::Time32(_) | DataType::Time64(_) => SqlType::Time,
        DataType::Timestamp(_, _) => SqlType::Timestamp,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            SqlType::Array(Box::new(from_arrow(f.data_type())?))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => SqlType::Map(
                Box::new(from_arrow(kv[0].data_type())?),
                Box::new(from_arrow(kv[1].data_type())?),
            ),
            other => {
                return Err(CatalogError::UnsupportedType(format!(
                    "unsupported map entry type {other}"
                )))
            }
        },
        DataType::Struct(fields) => SqlType::Struct(
            fields
                .iter()
                .map(|f| Ok((f.name().clone(), from_arrow(f.data_type())?)))
                .collect::<Result<_, CatalogError>>()?,
        ),
        DataType::Null => SqlType::String,
        other => {
            return Err(CatalogError::UnsupportedType(format!(
                "type {other} has no KSQL equivalent"
            )))
        }
    })
}

/// The Arrow type that values of `ty` are converted to before they leave the engine, so that
/// what is written to Kafka always has the canonical Arrow form of its KSQL type.
pub fn canonical(ty: &DataType) -> Result<DataType, CatalogError> {
    to_arrow(&from_arrow(ty)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        let all = vec![
            SqlType::Boolean,
            SqlType::Int,
            SqlType::Bigint,
            SqlType::Double,
            SqlType::Decimal {
                precision: 10,
                scale: 2,
            },
            SqlType::String,
            SqlType::Bytes,
            SqlType::Date,
            SqlType::Time,
            SqlType::Timestamp,
            SqlType::Array(Box::new(SqlType::Int)),
            SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint)),
            SqlType::Struct(vec![
                ("A".into(), SqlType::Int),
                ("b".into(), SqlType::Array(Box::new(SqlType::String))),
            ]),
        ];
        for ty in all {
            let arrow = to_arrow(&ty).unwrap();
            assert_eq!(from_arrow(&arrow).unwrap(), ty, "{arrow}");
        }
    }

    #[test]
    fn widens_small_arrow_types() {
        assert_eq!(from_arrow(&DataType::Int16).unwrap(), SqlType::Int);
        assert_eq!(from_arrow(&DataType::Float32).unwrap(), SqlType::Double);
        assert_eq!(canonical(&DataType::Utf8View).unwrap(), DataType::Utf8);
    }

    #[test]
    fn custom_types_must_be_resolved() {
        assert!(matches!(
            to_arrow(&SqlType::Custom("ADDRESS".into())),
            Err(CatalogError::UnknownType(_))
        ));
    }
}
