//! PostgreSQL functions that datafusion-pg-catalog does not provide, or provides in a form that
//! cannot see the session: `version()`, `current_setting()`, `set_config()`, `current_user` /
//! `session_user`, `obj_description()`, `col_description()`, `pg_table_size()`,
//! `pg_size_pretty()`, `pg_is_in_recovery()`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionImplementation, ScalarUDF, Signature, SimpleScalarUDF,
    TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::error::PgCatalogError;
use crate::relations::RelationKind;
use crate::settings::{Settings, PG_SERVER_VERSION};

/// What `SELECT version()` answers.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_SERVER_VERSION} (Sluice {}) on {}-{}, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn udf(
    name: &str,
    signature: Signature,
    return_type: DataType,
    fun: impl Fn(&[ColumnarValue]) -> Result<ColumnarValue> + Send + Sync + 'static,
) -> ScalarUDF {
    let fun: ScalarFunctionImplementation = Arc::new(fun);
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        name,
        signature,
        return_type,
        fun,
    ))
}

fn external(e: PgCatalogError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Whether every argument is a scalar (then the result is one too).
fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Rows in the call: 1 for all-scalar calls, else the arrays' length.
fn row_count(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1)
}

/// Wrap per-row string results as the call's result (scalar when all inputs were scalar).
fn strings_result(args: &[ColumnarValue], values: Vec<Option<String>>) -> ColumnarValue {
    if all_scalar(args) {
        ColumnarValue::Scalar(ScalarValue::Utf8(values.into_iter().next().flatten()))
    } else {
        ColumnarValue::Array(Arc::new(StringArray::from(values)) as ArrayRef)
    }
}

fn arrays(args: &[ColumnarValue]) -> Result<Vec<ArrayRef>> {
    let n = row_count(args);
    args.iter().map(|a| a.to_array(n)).collect()
}

fn string_at(a: &ArrayRef, i: usize) -> Result<Option<String>> {
    if a.is_null(i) {
        return Ok(None);
    }
    match a.data_type() {
        DataType::Utf8 => Ok(Some(a.as_string::<i32>().value(i).to_string())),
        DataType::LargeUtf8 => Ok(Some(a.as_string::<i64>().value(i).to_string())),
        DataType::Utf8View => Ok(Some(a.as_string_view().value(i).to_string())),
        other => Err(DataFusionError::Execution(format!(
            "expected a text argument, got {other}"
        ))),
    }
}

fn i64_at(a: &ArrayRef, i: usize) -> Result<Option<i64>> {
    if a.is_null(i) {
        return Ok(None);
    }
    match a.data_type() {
        DataType::Int32 => Ok(Some(a.as_primitive::<Int32Type>().value(i) as i64)),
        DataType::Int64 => Ok(Some(a.as_primitive::<Int64Type>().value(i))),
        other => Err(DataFusionError::Execution(format!(
            "expected an integer argument, got {other}"
        ))),
    }
}

fn bool_at(a: &ArrayRef, i: usize) -> Option<bool> {
    (!a.is_null(i))
        .then(|| {
            a.as_any()
                .downcast_ref::<BooleanArray>()
                .map(|b| b.value(i))
        })
        .flatten()
}

fn text_types() -> Vec<DataType> {
    vec![DataType::Utf8]
}

/// Functions that do not depend on the session.
pub(crate) fn register_static(ctx: &SessionContext) {
    let version = version_string();
    ctx.register_udf(udf(
        "version",
        Signature::exact(vec![], Volatility::Stable),
        DataType::Utf8,
        move |_| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                version.clone(),
            ))))
        },
    ));

    ctx.register_udf(udf(
        "pg_is_in_recovery",
        Signature::exact(vec![], Volatility::Stable),
        DataType::Boolean,
        |_| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(false)))),
    ));

    // Relations have no storage of their own: the catalog tables are empty by construction.
    ctx.register_udf(udf(
        "pg_table_size",
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int32]),
                TypeSignature::Exact(vec![DataType::Int64]),
            ],
            Volatility::Stable,
        ),
        DataType::Int64,
        |args| {
            let n = row_count(args);
            Ok(if all_scalar(args) {
                ColumnarValue::Scalar(ScalarValue::Int64(Some(0)))
            } else {
                ColumnarValue::Array(Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                    0;
                    n
                ])))
            })
        },
    ));

    ctx.register_udf(udf(
        "pg_size_pretty",
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int64]),
                TypeSignature::Exact(vec![DataType::Int32]),
            ],
            Volatility::Immutable,
        ),
        DataType::Utf8,
        |args| {
            let a = arrays(args)?;
            let values = (0..a[0].len())
                .map(|i| Ok(i64_at(&a[0], i)?.map(size_pretty)))
                .collect::<Result<Vec<_>>>()?;
            Ok(strings_result(args, values))
        },
    ));

    // Column comments do not exist in Sluice.
    ctx.register_udf(udf(
        "col_description",
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int32, DataType::Int32]),
                TypeSignature::Exact(vec![DataType::Int64, DataType::Int64]),
            ],
            Volatility::Stable,
        ),
        DataType::Utf8,
        |args| {
            let n = row_count(args);
            Ok(strings_result(args, vec![None; n]))
        },
    ));
}

/// PostgreSQL's `pg_size_pretty(bigint)`: bytes, kB, MB, GB, TB with the same rounding
/// thresholds (a unit is used once the value reaches 10 of it).
pub(crate) fn size_pretty(bytes: i64) -> String {
    let units = ["kB", "MB", "GB", "TB", "PB"];
    let mut size = bytes;
    if size.abs() < 10 * 1024 {
        return format!("{size} bytes");
    }
    for (i, unit) in units.iter().enumerate() {
        // Round half up while dividing by 1024.
        let divided = (size + if size < 0 { -512 } else { 512 }) / 1024;
        size = divided;
        if size.abs() < 10 * 1024 || i == units.len() - 1 {
            return format!("{size} {unit}");
        }
    }
    unreachable!("the last unit always returns")
}

/// `obj_description(oid, catalog)`: the ksqlDB kind (`STREAM`/`TABLE`) of Sluice relations,
/// NULL for everything else. `oid_kinds` is kept up to date by the catalog.
pub(crate) fn register_obj_description(
    ctx: &SessionContext,
    oid_kinds: Arc<RwLock<HashMap<i32, RelationKind>>>,
) {
    ctx.register_udf(udf(
        "obj_description",
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int32, DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Int64, DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Int32]),
                TypeSignature::Exact(vec![DataType::Int64]),
            ],
            Volatility::Stable,
        ),
        DataType::Utf8,
        move |args| {
            let a = arrays(args)?;
            let kinds = oid_kinds
                .read()
                .map_err(|_| DataFusionError::Execution("relation kinds poisoned".into()))?;
            let values = (0..a[0].len())
                .map(|i| {
                    let class_catalog = match a.get(1) {
                        Some(c) => string_at(c, i)?,
                        None => Some("pg_class".to_string()),
                    };
                    if class_catalog.as_deref() != Some("pg_class") {
                        return Ok(None);
                    }
                    Ok(i64_at(&a[0], i)?
                        .and_then(|oid| i32::try_from(oid).ok())
                        .and_then(|oid| kinds.get(&oid))
                        .map(|k| k.as_str().to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(strings_result(args, values))
        },
    ));
}

/// Functions that read or write one session's state.
pub(crate) fn register_session(ctx: &SessionContext, settings: Arc<RwLock<Settings>>, user: &str) {
    let read = settings.clone();
    ctx.register_udf(udf(
        "current_setting",
        Signature::one_of(
            vec![
                TypeSignature::Exact(text_types()),
                TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
            ],
            Volatility::Stable,
        ),
        DataType::Utf8,
        move |args| {
            let a = arrays(args)?;
            let settings = read
                .read()
                .map_err(|_| DataFusionError::Execution("session settings poisoned".into()))?;
            let values = (0..a[0].len())
                .map(|i| {
                    let Some(name) = string_at(&a[0], i)? else {
                        return Ok(None);
                    };
                    let missing_ok = a.get(1).and_then(|m| bool_at(m, i)).unwrap_or(false);
                    match settings.show(&name) {
                        Ok(v) => Ok(Some(v)),
                        Err(_) if missing_ok => Ok(None),
                        Err(e) => Err(external(e)),
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(strings_result(args, values))
        },
    ));

    let write = settings;
    ctx.register_udf(udf(
        "set_config",
        Signature::exact(
            vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
            Volatility::Volatile,
        ),
        DataType::Utf8,
        move |args| {
            let a = arrays(args)?;
            let mut settings = write
                .write()
                .map_err(|_| DataFusionError::Execution("session settings poisoned".into()))?;
            let values = (0..a[0].len())
                .map(|i| {
                    let (Some(name), Some(value)) = (string_at(&a[0], i)?, string_at(&a[1], i)?)
                    else {
                        return Ok(None);
                    };
                    settings.set(&name, &value).map_err(external)?;
                    Ok(Some(value))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(strings_result(args, values))
        },
    ));

    // `current_user` is rewritten to `session_user` by the compatibility parser; `user` and
    // `current_role` are the other spellings PostgreSQL accepts.
    for name in ["session_user", "current_user", "user", "current_role"] {
        let user = user.to_string();
        ctx.register_udf(udf(
            name,
            Signature::exact(vec![], Volatility::Stable),
            DataType::Utf8,
            move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(user.clone())))),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_pretty_matches_postgres() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(8192), "8192 bytes");
        assert_eq!(size_pretty(10 * 1024), "10 kB");
        assert_eq!(size_pretty(123_456_789), "118 MB");
        assert_eq!(size_pretty(-20_000), "-20 kB");
    }

    #[test]
    fn version_looks_like_postgres() {
        let v = version_string();
        assert!(v.starts_with("PostgreSQL 15.0 (Sluice "), "{v}");
    }
}
