//! `TRANSFORM(array, x => e)` and `TRANSFORM(map, (k, v) => ke, (k, v) => ve)`.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{filter, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda, Volatility,
};

use super::flat::{self, Flat};
use super::{check_arity, value_arg, Shape};

const NAME: &str = "transform";

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Transform {
    signature: HigherOrderSignature,
}

impl Transform {
    pub(crate) fn new() -> Self {
        Self {
            signature: HigherOrderSignature::user_defined(Volatility::Immutable),
        }
    }
}

/// Evaluates `lambda` over the flattened elements, captured columns repeated per element.
pub(super) fn eval_per_element(
    lambda: &LambdaArgument,
    flat: &Flat,
    params: &[ArrayRef],
) -> Result<ArrayRef> {
    evaluate(lambda, params, &flat.parents(), flat.elements())
}

/// Evaluates `lambda` with `params` (one array per lambda parameter, `len` long); captured
/// columns are taken at `rows` (the outer row of each of the `len` values).
pub(super) fn evaluate(
    lambda: &LambdaArgument,
    params: &[ArrayRef],
    rows: &UInt32Array,
    len: usize,
) -> Result<ArrayRef> {
    let closures: Vec<Box<dyn Fn() -> Result<ArrayRef>>> = params
        .iter()
        .map(|p| {
            let p = p.clone();
            Box::new(move || Ok(p.clone())) as Box<dyn Fn() -> Result<ArrayRef>>
        })
        .collect();
    let refs: Vec<&dyn Fn() -> Result<ArrayRef>> = closures.iter().map(|c| c.as_ref()).collect();
    lambda
        .evaluate(&refs, |captured| Ok(take_arrays(captured, rows, None)?))?
        .into_array(len)
}

fn lambdas(args: &HigherOrderFunctionArgs) -> Result<(ArrayRef, Vec<&LambdaArgument>)> {
    let mut collection = None;
    let mut lambdas = vec![];
    for a in &args.args {
        match a {
            ValueOrLambda::Value(v) if collection.is_none() => {
                collection = Some(v.to_array(args.number_rows)?)
            }
            ValueOrLambda::Lambda(l) => lambdas.push(l),
            ValueOrLambda::Value(_) => return exec_err!("{NAME}: unexpected value argument"),
        }
    }
    match collection {
        Some(c) => Ok((c, lambdas)),
        None => exec_err!("{NAME}: missing collection argument"),
    }
}

impl HigherOrderUDFImpl for Transform {
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
        let shape = Shape::of("TRANSFORM", value_arg("TRANSFORM", fields, 0)?.data_type())?;
        let lambdas = match shape {
            Shape::List { .. } => 1,
            Shape::Map { .. } => 2,
        };
        check_arity("TRANSFORM", fields, 1, lambdas)?;
        Ok(LambdaParametersProgress::Complete(vec![
            shape
                .element_params(
                );
            lambdas
        ]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        let collection = value_arg("TRANSFORM", args.arg_fields, 0)?;
        let out = |i: usize| match &args.arg_fields[i] {
            ValueOrLambda::Lambda(f) => Ok(f.data_type().clone()),
            ValueOrLambda::Value(_) => exec_err!("{NAME}: expected a lambda"),
        };
        let dt = match Shape::of("TRANSFORM", collection.data_type())? {
            Shape::List { .. } => DataType::List(Arc::new(Field::new("item", out(1)?, true))),
            Shape::Map {
                entries,
                key,
                value,
            } => {
                let fields = Fields::from(vec![
                    Field::new(key.name(), out(1)?, false),
                    Field::new(value.name(), out(2)?, true),
                ]);
                DataType::Map(
                    Arc::new(Field::new(entries.name(), DataType::Struct(fields), false)),
                    false,
                )
            }
        };
        Ok(Arc::new(Field::new(NAME, dt, true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let (collection, lambdas) = lambdas(&args)?;
        let flat = Flat::of(collection.as_ref())?;
        let out = match (args.return_type(), lambdas.as_slice()) {
            (DataType::List(item), [lambda]) => {
                let items = eval_per_element(lambda, &flat, &flat.columns)?;
                flat::list(
                    item.clone(),
                    flat.offsets.clone(),
                    items,
                    flat.nulls.clone(),
                )?
            }
            (DataType::Map(entries, _), [key_fn, value_fn]) => {
                let keys = eval_per_element(key_fn, &flat, &flat.columns)?;
                let values = eval_per_element(value_fn, &flat, &flat.columns)?;
                map_without_bad_rows(entries.clone(), &flat, keys, values)?
            }
            (other, _) => return exec_err!("{NAME}: unexpected return type {other}"),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// A map per row from new keys and values; rows whose new keys are null or collide are null.
fn map_without_bad_rows(
    entries: FieldRef,
    flat: &Flat,
    keys: ArrayRef,
    values: ArrayRef,
) -> Result<ArrayRef> {
    let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(&keys))?;
    let mut bad = vec![false; flat.rows()];
    let mut seen = HashSet::new();
    for (r, is_bad) in bad.iter_mut().enumerate() {
        seen.clear();
        for e in flat.range(r) {
            if keys.is_null(e) || !seen.insert(rows.row(e)) {
                *is_bad = true;
                break;
            }
        }
    }
    if !bad.contains(&true) {
        return flat::map(
            entries,
            flat.offsets.clone(),
            keys,
            values,
            flat.nulls.clone(),
        );
    }
    let mut keep = Vec::with_capacity(flat.elements());
    let mut lengths = Vec::with_capacity(flat.rows());
    for (r, is_bad) in bad.iter().enumerate() {
        let n = flat.range(r).len();
        keep.extend(std::iter::repeat_n(!is_bad, n));
        lengths.push(if *is_bad { 0 } else { n });
    }
    let keep = BooleanArray::from(keep);
    let valid: Vec<bool> = (0..flat.rows())
        .map(|r| !bad[r] && flat.nulls.as_ref().is_none_or(|n| n.is_valid(r)))
        .collect();
    flat::map(
        entries,
        OffsetBuffer::from_lengths(lengths),
        filter(&keys, &keep)?,
        filter(&values, &keep)?,
        Some(NullBuffer::from(valid)),
    )
}
