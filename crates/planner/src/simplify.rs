//! Rewrites DataFusion leaves to its optimizer, done here because continuous queries are not
//! optimized: `COALESCE` (and `IFNULL`, its alias) has no physical implementation of its own —
//! DataFusion's simplifier turns it into a `CASE`, and so does [`coalesce_to_case`]. And KSQL
//! rewrites: [`complex_to_string`].

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::DFSchema;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Case, Expr, ExprSchemable};

/// `CAST(x AS STRING)` of an ARRAY, MAP or STRUCT `x` → `ksql_to_string(x)` (ksqlDB prints
/// such values as Java does; DataFusion cannot cast them to text).
///
/// Also refuses, with ksqlDB's `{context}: Cast of T to U is not supported`, a cast Arrow has
/// no conversion for.
pub fn complex_to_string(
    expr: Expr,
    schema: &DFSchema,
    state: &SessionState,
    context: &str,
) -> datafusion::error::Result<Expr> {
    use datafusion::arrow::datatypes::DataType;
    let Some(udf) = state.scalar_functions().get("ksql_to_string").cloned() else {
        return Ok(expr);
    };
    expr.transform_up(|e| match e {
        Expr::Cast(c)
            if matches!(
                c.field.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) && matches!(
                c.expr.get_type(schema)?,
                DataType::List(_) | DataType::Map(..) | DataType::Struct(_)
            ) =>
        {
            Ok(Transformed::yes(Expr::ScalarFunction(
                ScalarFunction::new_udf(udf.clone(), vec![*c.expr]),
            )))
        }
        Expr::Cast(c) => {
            // ksqlDB refuses casts it has no conversion for while planning, with its text.
            let from = c.expr.get_type(schema)?;
            let to = c.field.data_type();
            if from != DataType::Null && !datafusion::arrow::compute::can_cast_types(&from, to) {
                let name = sluice_catalog::types::display_name;
                return Err(datafusion::error::DataFusionError::Plan(format!(
                    "{context}: Cast of {} to {} is not supported",
                    name(&from),
                    name(to)
                )));
            }
            Ok(Transformed::no(Expr::Cast(c)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// `COALESCE(a, b, ..., z)` → `CASE WHEN a IS NOT NULL THEN a WHEN b IS NOT NULL THEN b ... ELSE z
/// END`, everywhere in `expr`.
pub fn coalesce_to_case(expr: Expr) -> Expr {
    expr.transform_up(|e| match e {
        Expr::ScalarFunction(f) if f.func.name().eq_ignore_ascii_case("coalesce") => {
            let mut args = f.args;
            let Some(last) = args.pop() else {
                return Ok(Transformed::no(Expr::ScalarFunction(
                    datafusion::logical_expr::expr::ScalarFunction::new_udf(f.func, args),
                )));
            };
            if args.is_empty() {
                return Ok(Transformed::yes(last));
            }
            let when_then = args
                .into_iter()
                .map(|a| (Box::new(a.clone().is_not_null()), Box::new(a)))
                .collect();
            Ok(Transformed::yes(Expr::Case(Case::new(
                None,
                when_then,
                Some(Box::new(last)),
            ))))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .unwrap_or_else(|e| panic!("rewriting COALESCE cannot fail: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::functions::core::expr_fn::coalesce;
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn coalesce_becomes_a_case() {
        let e = coalesce_to_case(coalesce(vec![col("a"), col("b"), lit(1)]) + lit(2));
        let text = e.to_string();
        assert!(
            text.contains(
                "CASE WHEN a IS NOT NULL THEN a WHEN b IS NOT NULL THEN b ELSE Int32(1) END"
            ),
            "{text}"
        );
    }
}
