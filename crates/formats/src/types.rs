//! The KSQL side of the Arrow types this crate handles: which Arrow types are allowed, their KSQL
//! names (for error messages), and shape checks.
//!
//! The mapping is fixed by the integrator: BOOLEAN→Boolean, INT→Int32, BIGINT→Int64,
//! DOUBLE→Float64, DECIMAL(p,s)→Decimal128(p,s), STRING→Utf8, BYTES→Binary, DATE→Date32,
//! TIME→Time32(ms), TIMESTAMP→Timestamp(ms), ARRAY→List, MAP→Map, STRUCT→Struct.

use datafusion::arrow::datatypes::{DataType, FieldRef, TimeUnit};

/// ksqlDB's base type name (`SqlBaseType`) of an Arrow type, or `None` outside the mapping.
pub(crate) fn base_type_name(dt: &DataType) -> Option<&'static str> {
    Some(match dt {
        DataType::Boolean => "BOOLEAN",
        DataType::Int32 => "INTEGER",
        DataType::Int64 => "BIGINT",
        DataType::Float64 => "DOUBLE",
        DataType::Decimal128(_, _) => "DECIMAL",
        DataType::Utf8 => "STRING",
        DataType::Binary => "BYTES",
        DataType::Date32 => "DATE",
        DataType::Time32(TimeUnit::Millisecond) => "TIME",
        DataType::Timestamp(TimeUnit::Millisecond, _) => "TIMESTAMP",
        DataType::List(_) => "ARRAY",
        DataType::Map(_, _) => "MAP",
        DataType::Struct(_) => "STRUCT",
        _ => return None,
    })
}

/// ksqlDB's full type name, e.g. `MAP<STRING, ARRAY<INTEGER>>` or ``STRUCT<`F` DOUBLE>``.
/// Types outside the mapping print as Arrow prints them.
pub(crate) fn ksql_type_name(dt: &DataType) -> String {
    match dt {
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::List(item) => format!("ARRAY<{}>", ksql_type_name(item.data_type())),
        DataType::Map(entries, _) => match map_key_value(entries) {
            Some((k, v)) => format!(
                "MAP<{}, {}>",
                ksql_type_name(k.data_type()),
                ksql_type_name(v.data_type())
            ),
            None => dt.to_string(),
        },
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("`{}` {}", f.name(), ksql_type_name(f.data_type())))
                .collect();
            format!("STRUCT<{}>", inner.join(", "))
        }
        other => match base_type_name(other) {
            Some(name) => name.to_string(),
            None => other.to_string(),
        },
    }
}

/// The key and value fields of a map's `entries` field.
pub(crate) fn map_key_value(entries: &FieldRef) -> Option<(&FieldRef, &FieldRef)> {
    match entries.data_type() {
        DataType::Struct(kv) if kv.len() == 2 => Some((&kv[0], &kv[1])),
        _ => None,
    }
}

/// The first type inside `dt` (itself included) that is outside the mapping.
pub(crate) fn unsupported_part(dt: &DataType) -> Option<&DataType> {
    match dt {
        DataType::List(item) => unsupported_part(item.data_type()),
        DataType::Map(entries, _) => match map_key_value(entries) {
            Some((k, v)) => unsupported_part(k.data_type()).or(unsupported_part(v.data_type())),
            None => Some(dt),
        },
        DataType::Struct(fields) => fields.iter().find_map(|f| unsupported_part(f.data_type())),
        other => match base_type_name(other) {
            Some(_) => None,
            None => Some(dt),
        },
    }
}

/// Whether `dt` is, or contains, a MAP.
pub(crate) fn contains_map(dt: &DataType) -> bool {
    match dt {
        DataType::Map(_, _) => true,
        DataType::List(item) => contains_map(item.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| contains_map(f.data_type())),
        _ => false,
    }
}

/// Whether `dt` contains a MAP whose keys are not STRING.
pub(crate) fn has_non_string_map_key(dt: &DataType) -> bool {
    match dt {
        DataType::Map(entries, _) => match map_key_value(entries) {
            Some((k, v)) => {
                k.data_type() != &DataType::Utf8 || has_non_string_map_key(v.data_type())
            }
            None => true,
        },
        DataType::List(item) => has_non_string_map_key(item.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| has_non_string_map_key(f.data_type())),
        _ => false,
    }
}

/// Whether two types have the same KSQL shape: same kinds all the way down, same decimal precision
/// and scale, same struct arity; field names, nullability and time zones are not compared.
pub(crate) fn same_shape(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(x), DataType::List(y)) => same_shape(x.data_type(), y.data_type()),
        (DataType::Map(x, _), DataType::Map(y, _)) => match (map_key_value(x), map_key_value(y)) {
            (Some((xk, xv)), Some((yk, yv))) => {
                same_shape(xk.data_type(), yk.data_type())
                    && same_shape(xv.data_type(), yv.data_type())
            }
            _ => false,
        },
        (DataType::Struct(x), DataType::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(f, g)| same_shape(f.data_type(), g.data_type()))
        }
        (
            DataType::Timestamp(TimeUnit::Millisecond, _),
            DataType::Timestamp(TimeUnit::Millisecond, _),
        ) => true,
        (x, y) => x == y,
    }
}

/// The Arrow map type of `MAP<K, V>` (the same as the catalog's).
pub(crate) fn map_type(key: DataType, value: DataType) -> DataType {
    use datafusion::arrow::datatypes::{Field, Fields};
    DataType::Map(
        std::sync::Arc::new(Field::new(
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Fields};
    use std::sync::Arc;

    pub(crate) fn map_of(k: DataType, v: DataType) -> DataType {
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", k, false),
                    Field::new("value", v, true),
                ])),
                false,
            )),
            false,
        )
    }

    #[test]
    fn names_follow_ksql() {
        let st = DataType::Struct(Fields::from(vec![
            Field::new("F", DataType::Float64, true),
            Field::new("g", DataType::Decimal128(4, 2), true),
        ]));
        assert_eq!(ksql_type_name(&st), "STRUCT<`F` DOUBLE, `g` DECIMAL(4, 2)>");
        let m = map_of(DataType::Int32, DataType::Float64);
        assert_eq!(ksql_type_name(&m), "MAP<INTEGER, DOUBLE>");
        let l = DataType::List(Arc::new(Field::new("item", m.clone(), true)));
        assert_eq!(ksql_type_name(&l), "ARRAY<MAP<INTEGER, DOUBLE>>");
        assert_eq!(
            ksql_type_name(&DataType::Timestamp(TimeUnit::Millisecond, None)),
            "TIMESTAMP"
        );
        assert!(contains_map(&l));
        assert!(!contains_map(&st));
        assert!(has_non_string_map_key(&l));
        assert!(!has_non_string_map_key(&map_of(
            DataType::Utf8,
            DataType::Int32
        )));
    }

    #[test]
    fn unsupported_types_are_found_inside_nesting() {
        let l = DataType::List(Arc::new(Field::new("item", DataType::Int16, true)));
        assert_eq!(unsupported_part(&l), Some(&DataType::Int16));
        assert_eq!(
            unsupported_part(&DataType::Time32(TimeUnit::Millisecond)),
            None
        );
        assert_eq!(
            unsupported_part(&DataType::Time32(TimeUnit::Second)),
            Some(&DataType::Time32(TimeUnit::Second))
        );
    }

    #[test]
    fn shapes_ignore_names_and_nullability() {
        let a = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
        let b = DataType::List(Arc::new(Field::new("element", DataType::Int32, false)));
        assert!(same_shape(&a, &b));
        let c = DataType::List(Arc::new(Field::new("item", DataType::Int64, true)));
        assert!(!same_shape(&a, &c));
        assert!(!same_shape(
            &DataType::Decimal128(4, 2),
            &DataType::Decimal128(4, 1)
        ));
    }
}
