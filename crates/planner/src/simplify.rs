//! Rewrites DataFusion leaves to its optimizer, done here because continuous queries are not
//! optimized: `COALESCE` (and `IFNULL`, its alias) has no physical implementation of its own —
//! DataFusion's simplifier turns it into a `CASE`, and so does [`coalesce_to_case`].

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Case, Expr};

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
