//! ksqlDB's lambda functions: `TRANSFORM`, `FILTER` and `REDUCE` over arrays and maps, as
//! DataFusion higher-order functions (`HigherOrderUDF`).
//!
//! | call                                         | result                                   |
//! |----------------------------------------------|------------------------------------------|
//! | `TRANSFORM(array, x => e)`                   | `e` for every element                    |
//! | `TRANSFORM(map, (k, v) => ke, (k, v) => ve)` | a map of `ke` to `ve` for every entry    |
//! | `FILTER(array, x => p)`                      | the elements for which `p` is true       |
//! | `FILTER(map, (k, v) => p)`                   | the entries for which `p` is true        |
//! | `REDUCE(array, s0, (s, x) => e)`             | `e` folded over the elements from `s0`   |
//! | `REDUCE(map, s0, (s, k, v) => e)`            | `e` folded over the entries from `s0`    |
//!
//! Vectorized: a lambda body is a DataFusion physical expression evaluated once per batch over
//! all elements of all rows at once (the elements of the batch's collections flattened into one
//! column per lambda parameter, columns the body captures repeated per element). `REDUCE` folds
//! position by position: step `i` evaluates the body once over every row that has an `i`th
//! element.
//!
//! ksqlDB's rules: a null collection gives null from `TRANSFORM` and `FILTER` and the initial
//! state from `REDUCE`; a null initial state gives null; the state has the initial state's
//! type (the body's result is cast to it); a map `TRANSFORM` whose new keys collide or are null
//! gives null for that row (ksqlDB fails the row's expression there); a `FILTER` predicate that
//! is null drops the element.

mod filter;
mod flat;
mod reduce;
mod transform;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{HigherOrderUDF, ValueOrLambda};

/// `TRANSFORM`, `FILTER` and `REDUCE`, to register in a session.
pub fn higher_order_functions() -> Vec<Arc<HigherOrderUDF>> {
    vec![
        Arc::new(HigherOrderUDF::new_from_impl(transform::Transform::new())),
        Arc::new(HigherOrderUDF::new_from_impl(filter::Filter::new())),
        Arc::new(HigherOrderUDF::new_from_impl(reduce::Reduce::new())),
    ]
}

/// What a lambda function iterates over: an array's elements or a map's entries.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// `ARRAY<item>`: lambdas take the element.
    List { item: FieldRef },
    /// `MAP<key, value>`: lambdas take the key and the value.
    Map {
        entries: FieldRef,
        key: FieldRef,
        value: FieldRef,
    },
}

impl Shape {
    /// The shape of a collection argument of `function`.
    pub(crate) fn of(function: &str, dt: &DataType) -> Result<Shape> {
        match dt {
            DataType::List(item) => Ok(Shape::List { item: item.clone() }),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(fields) if fields.len() == 2 => Ok(Shape::Map {
                    entries: entries.clone(),
                    key: fields[0].clone(),
                    value: fields[1].clone(),
                }),
                _ => plan_err!("{function}: malformed MAP type {dt}"),
            },
            other => plan_err!(
                "Function '{function}' expects an ARRAY or a MAP as its first argument, got {}",
                crate::ksql_type::ksql_type_name(other)
            ),
        }
    }

    /// The fields a lambda over this collection takes, after any leading state parameters.
    pub(crate) fn element_params(&self) -> Vec<FieldRef> {
        match self {
            Shape::List { item } => vec![item.clone()],
            Shape::Map { key, value, .. } => vec![key.clone(), value.clone()],
        }
    }
}

/// The value argument at `i` of a call (plan-time checks of the argument shape).
pub(crate) fn value_arg<'a, L>(
    function: &str,
    fields: &'a [ValueOrLambda<FieldRef, L>],
    i: usize,
) -> Result<&'a FieldRef> {
    match fields.get(i) {
        Some(ValueOrLambda::Value(f)) => Ok(f),
        Some(ValueOrLambda::Lambda(_)) => {
            plan_err!(
                "Function '{function}' expects a value, not a lambda, as argument {}",
                i + 1
            )
        }
        None => plan_err!("Function '{function}' is missing argument {}", i + 1),
    }
}

/// Checks that the call has `values` value arguments followed by `lambdas` lambdas.
pub(crate) fn check_arity<V, L>(
    function: &str,
    fields: &[ValueOrLambda<V, L>],
    values: usize,
    lambdas: usize,
) -> Result<()> {
    let ok = fields.len() == values + lambdas
        && fields[..values]
            .iter()
            .all(|f| matches!(f, ValueOrLambda::Value(_)))
        && fields[values..]
            .iter()
            .all(|f| matches!(f, ValueOrLambda::Lambda(_)));
    if ok {
        Ok(())
    } else {
        plan_err!(
            "Function '{function}' expects {values} value argument(s) followed by {lambdas} \
             lambda(s)"
        )
    }
}

#[cfg(test)]
mod tests;
