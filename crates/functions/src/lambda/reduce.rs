//! `REDUCE(array, s0, (s, x) => e)` and `REDUCE(map, s0, (s, k, v) => e)`.
//!
//! Folded position by position: step `i` evaluates the body once, over the rows that have an
//! `i`th element, and writes the results back into those rows' states.

use std::sync::Arc;

use datafusion::arrow::array::{Array, UInt32Array};
use datafusion::arrow::compute::{cast, interleave, take, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaParametersProgress, ValueOrLambda, Volatility,
};

use super::flat::Flat;
use super::transform::evaluate;
use super::{check_arity, value_arg, Shape};

const NAME: &str = "reduce";

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Reduce {
    signature: HigherOrderSignature,
}

impl Reduce {
    pub(crate) fn new() -> Self {
        Self {
            signature: HigherOrderSignature::user_defined(Volatility::Immutable),
        }
    }
}

impl HigherOrderUDFImpl for Reduce {
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
        let shape = Shape::of("REDUCE", value_arg("REDUCE", fields, 0)?.data_type())?;
        check_arity("REDUCE", fields, 2, 1)?;
        // The state becomes null when the body gives null, whatever the initial state.
        let state = value_arg("REDUCE", fields, 1)?
            .as_ref()
            .clone()
            .with_nullable(true);
        let mut params = vec![Arc::new(state)];
        params.extend(shape.element_params());
        Ok(LambdaParametersProgress::Complete(vec![params]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let state = value_arg("REDUCE", args.arg_fields, 1)?;
        Ok(Arc::new(Field::new(NAME, state.data_type().clone(), true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let (
            ValueOrLambda::Value(collection),
            ValueOrLambda::Value(initial),
            ValueOrLambda::Lambda(body),
        ) = (&args.args[0], &args.args[1], &args.args[2])
        else {
            return exec_err!("{NAME}: expects a collection, an initial state and a lambda");
        };
        let rows = args.number_rows;
        let state_type = args.return_type().clone();
        let flat = Flat::of(collection.to_array(rows)?.as_ref())?;
        let mut state = cast(&initial.to_array(rows)?, &state_type)?;
        let initial_valid: Vec<bool> = (0..rows).map(|r| state.is_valid(r)).collect();
        let longest = (0..rows).map(|r| flat.range(r).len()).max().unwrap_or(0);
        for i in 0..longest {
            // Rows with an `i`th element (a null initial state gives null: such rows are
            // never folded; a state that becomes null is folded on).
            let active: Vec<u32> = (0..rows)
                .filter(|&r| flat.range(r).len() > i && initial_valid[r])
                .map(|r| r as u32)
                .collect();
            if active.is_empty() {
                continue;
            }
            let positions = UInt32Array::from(
                active
                    .iter()
                    .map(|&r| (flat.range(r as usize).start + i) as u32)
                    .collect::<Vec<_>>(),
            );
            let active = UInt32Array::from(active);
            let mut params = vec![take(state.as_ref(), &active, None)?];
            params.extend(take_arrays(&flat.columns, &positions, None)?);
            let next = evaluate(body, &params, &active, active.len())?;
            let next = cast(&next, &state_type)?;
            // Scatter: active rows take their new state, the others keep theirs.
            let mut from = Vec::with_capacity(rows);
            let mut k = 0;
            for r in 0..rows {
                if k < active.len() && active.value(k) as usize == r {
                    from.push((1, k));
                    k += 1;
                } else {
                    from.push((0, r));
                }
            }
            state = interleave(&[state.as_ref(), next.as_ref()], &from)?;
        }
        Ok(ColumnarValue::Array(state))
    }
}
