//! ksqlDB scalar functions that are not date/time functions.
//!
//! - `AS_VALUE(x)`: returns `x` unchanged. It exists for its effect on a query's output layout:
//!   a key column (or GROUP BY expression) wrapped in `AS_VALUE` is a value column of the sink,
//!   so the key can be copied into the value (ksqlDB's KLIP-24).
//! - `collection`: AS_MAP, ENTRIES, MAP_UNION, SLICE, SIGN; `mask`: MASK, MASK_KEEP_LEFT,
//!   MASK_KEEP_RIGHT, MASK_LEFT, MASK_RIGHT, REGEXP_EXTRACT, REGEXP_EXTRACT_ALL.
//! - `ksql_to_string(x)`: `CAST(x AS STRING)` of ARRAY / MAP / STRUCT values, as Java prints them.
//! - `ksql_cube(array)`: the combinations of the table function `CUBE_EXPLODE` (see `cube`).
//! - `GREATEST` / `LEAST` with ksqlDB's overload resolution (see `greatest`).
//! - [`json`]: JSON functions (TO_JSON_STRING, EXTRACTJSONFIELD, JSON_*).
//! - [`text`]: string, URL, bytes and geo functions ksqlDB has and DataFusion lacks or
//!   defines differently.

mod collection;
mod cube;
mod greatest;
pub mod json;
mod mask;
pub mod text;
mod to_string;

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Every scalar function of this module, for registration.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut all = vec![
        Arc::new(ScalarUDF::new_from_impl(AsValue::new())),
        Arc::new(ScalarUDF::new_from_impl(cube::Cube::new())),
        Arc::new(ScalarUDF::new_from_impl(to_string::ToString::new())),
        Arc::new(ScalarUDF::new_from_impl(greatest::Extreme::greatest())),
        Arc::new(ScalarUDF::new_from_impl(greatest::Extreme::least())),
    ];
    all.extend(collection::functions());
    all.extend(mask::functions());
    all.extend(json::functions());
    all.extend(text::functions());
    all
}

/// `AS_VALUE(x)`: the identity.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AsValue {
    signature: Signature,
}

impl AsValue {
    fn new() -> Self {
        AsValue {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AsValue {
    fn name(&self) -> &str {
        "as_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] => Ok(t.clone()),
            _ => exec_err!("AS_VALUE takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match <[ColumnarValue; 1]>::try_from(args.args) {
            Ok([v]) => Ok(v),
            Err(_) => exec_err!("AS_VALUE takes one argument"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int32Array};
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn as_value_is_the_identity() {
        let f = AsValue::new();
        let input: Arc<dyn Array> = Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]));
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![ColumnarValue::Array(input.clone())],
                arg_fields: vec![Arc::new(Field::new("x", DataType::Int32, true))],
                number_rows: 3,
                return_field: Arc::new(Field::new("x", DataType::Int32, true)),
                config_options: Arc::new(Default::default()),
            })
            .unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("array expected")
        };
        assert_eq!(a.as_ref(), input.as_ref());
        assert_eq!(f.return_type(&[DataType::Utf8]).unwrap(), DataType::Utf8);
    }
}
