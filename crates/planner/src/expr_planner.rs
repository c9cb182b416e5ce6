//! KSQL operators DataFusion plans differently: `+` between two strings concatenates them
//! (ksqlDB's `'a' + 'b'` is `'ab'`; DataFusion has no string `+`). Registered on the planner's
//! session state as an [`ExprPlanner`], consulted while DataFusion turns SQL into expressions.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, Operator};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// See the module docs.
#[derive(Debug, Default)]
pub struct KsqlExprPlanner;

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ExprPlanner for KsqlExprPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if expr.op == BinaryOperator::Plus {
            let left = expr.left.get_type(schema)?;
            let right = expr.right.get_type(schema)?;
            if is_string(&left) && is_string(&right) {
                return Ok(PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(expr.left),
                    Operator::StringConcat,
                    Box::new(expr.right),
                ))));
            }
        }
        Ok(PlannerResult::Original(expr))
    }
}
