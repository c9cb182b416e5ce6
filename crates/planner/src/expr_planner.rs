//! KSQL operators DataFusion plans differently. Registered on the planner's session state as an
//! [`ExprPlanner`], consulted while DataFusion turns SQL into expressions.
//!
//! - `+` between two strings concatenates them (ksqlDB's `'a' + 'b'` is `'ab'`; DataFusion has
//!   no string `+`).
//! - A comparison (`=`, `<>`, `<`, `<=`, `>`, `>=`) with a null operand is false, not null:
//!   ksqlDB's generated code checks both operands for null first. Planned as
//!   `(a = b) IS TRUE`, which evaluates the comparison once; code that looks for equalities
//!   (join keys, pull-query key lookups) sees through the `IS TRUE` with [`comparison`].

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
        let op = match expr.op {
            BinaryOperator::Eq => Operator::Eq,
            BinaryOperator::NotEq => Operator::NotEq,
            BinaryOperator::Lt => Operator::Lt,
            BinaryOperator::LtEq => Operator::LtEq,
            BinaryOperator::Gt => Operator::Gt,
            BinaryOperator::GtEq => Operator::GtEq,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(Expr::IsTrue(Box::new(
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(expr.left),
                op,
                Box::new(expr.right),
            )),
        ))))
    }
}

/// The comparison inside `e`, seeing through the `IS TRUE` KSQL comparisons are planned with.
pub fn comparison(e: &Expr) -> Option<&BinaryExpr> {
    match e {
        Expr::IsTrue(inner) => match inner.as_ref() {
            Expr::BinaryExpr(b) => Some(b),
            _ => None,
        },
        Expr::BinaryExpr(b) => Some(b),
        _ => None,
    }
}
