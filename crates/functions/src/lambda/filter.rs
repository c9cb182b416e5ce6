//! `FILTER(array, x => p)` and `FILTER(map, (k, v) => p)`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{filter, prep_null_mask_filter};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaParametersProgress, ValueOrLambda, Volatility,
};

use super::flat::{self, Flat};
use super::transform::eval_per_element;
use super::{check_arity, value_arg, Shape};

const NAME: &str = "filter";

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Filter {
    signature: HigherOrderSignature,
}

impl Filter {
    pub(crate) fn new() -> Self {
        Self {
            signature: HigherOrderSignature::user_defined(Volatility::Immutable),
        }
    }
}

impl HigherOrderUDFImpl for Filter {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let shape = Shape::of("FILTER", value_arg("FILTER", fields, 0)?.data_type())?;
        check_arity("FILTER", fields, 1, 1)?;
        Ok(LambdaParametersProgress::Complete(vec![
            shape.element_params()
        ]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let collection = value_arg("FILTER", args.arg_fields, 0)?;
        match &args.arg_fields[1] {
            ValueOrLambda::Lambda(p)
                if matches!(p.data_type(), DataType::Boolean | DataType::Null) => {}
            ValueOrLambda::Lambda(p) => {
                return plan_err!(
                    "Function 'FILTER' expects a lambda returning BOOLEAN, not {}",
                    crate::ksql_type::ksql_type_name(p.data_type())
                )
            }
            ValueOrLambda::Value(_) => return plan_err!("Function 'FILTER' expects a lambda"),
        }
        Ok(Arc::new(Field::new(
            NAME,
            collection.data_type().clone(),
            true,
        )))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let (ValueOrLambda::Value(collection), ValueOrLambda::Lambda(predicate)) =
            (&args.args[0], &args.args[1])
        else {
            return exec_err!("{NAME}: expects a collection and a lambda");
        };
        let collection = collection.to_array(args.number_rows)?;
        let flat = Flat::of(collection.as_ref())?;
        let keep = eval_per_element(predicate, &flat, &flat.columns)?;
        let keep = match keep.data_type() {
            DataType::Boolean if keep.null_count() > 0 => prep_null_mask_filter(keep.as_boolean()),
            DataType::Boolean => keep.as_boolean().clone(),
            // An all-null predicate keeps nothing.
            _ => vec![false; keep.len()].into(),
        };
        let bits = keep.values();
        let lengths = (0..flat.rows()).map(|r| {
            let range = flat.range(r);
            bits.slice(range.start, range.len()).count_set_bits()
        });
        let offsets = OffsetBuffer::from_lengths(lengths);
        let columns = flat
            .columns
            .iter()
            .map(|c| Ok(filter(c, &keep)?))
            .collect::<Result<Vec<_>>>()?;
        let out = match (collection.data_type(), columns.as_slice()) {
            (DataType::List(item), [items]) => {
                flat::list(item.clone(), offsets, items.clone(), flat.nulls.clone())?
            }
            (DataType::Map(entries, _), [keys, values]) => flat::map(
                entries.clone(),
                offsets,
                keys.clone(),
                values.clone(),
                flat.nulls.clone(),
            )?,
            (other, _) => return exec_err!("{NAME}: unexpected collection type {other}"),
        };
        Ok(ColumnarValue::Array(out))
    }
}
