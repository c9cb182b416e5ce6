//! ksqlDB's rules for aggregating queries, checked on the AST before DataFusion plans it, so
//! that a user gets ksqlDB's error texts ("Non-aggregate SELECT expression(s) not part of GROUP
//! BY: D1 ...") rather than DataFusion's.
//!
//! The rules, as ksqlDB's aggregate analysis applies them:
//! - GROUP BY expressions are distinct and contain no aggregate function;
//! - aggregate calls do not nest;
//! - a SELECT expression is fine when it is a GROUP BY expression, or when every column it uses
//!   outside aggregate calls sits inside a sub-expression that is a GROUP BY expression (the
//!   window bounds count as grouped in a windowed aggregation);
//! - a column used in HAVING outside aggregate calls must be covered the same way;
//! - there is at least one aggregate call in SELECT or HAVING.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    visit_expressions, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Select,
};
use sluice_catalog::{WINDOWEND, WINDOWSTART};

use crate::ksql_text::{expr_text, name_text};
use crate::rewrite::projected_exprs;
use crate::PlanError;

/// Checks `select` (projection already expanded: no `*`) against ksqlDB's aggregation rules.
/// `source` names the FROM source for messages that qualify columns; `windowed` says whether a
/// WINDOW clause applies (its bounds are then grouped).
pub fn check(
    select: &Select,
    source: &str,
    windowed: bool,
    known_function: &dyn Fn(&str) -> bool,
) -> Result<(), PlanError> {
    let GroupByExpr::Expressions(group_by, _) = &select.group_by else {
        return Ok(());
    };
    if group_by.is_empty() {
        return check_ungrouped(select);
    }
    let mut grouped: HashSet<String> = HashSet::new();
    for g in group_by {
        if let Some(agg) = first_aggregate(g) {
            return Err(invalid(format!(
                "GROUP BY does not support aggregate functions: {agg} is an aggregate function."
            )));
        }
        if !grouped.insert(expr_text(g)) {
            return Err(invalid(format!(
                "Duplicate GROUP BY expression: {}",
                qualified_text(g, source)
            )));
        }
    }
    if windowed {
        grouped.insert(WINDOWSTART.to_string());
        grouped.insert(WINDOWEND.to_string());
    }

    let mut aggregates = 0usize;
    let mut bad_selects = Vec::new();
    for expr in projected_exprs(select) {
        let mut walk = Walk::new(&grouped);
        walk.visit(expr)?;
        aggregates += walk.aggregates;
        if !grouped.contains(&expr_text(expr)) && !walk.ungrouped.is_empty() {
            bad_selects.push(expr_text(expr));
        }
    }
    let mut bad_having = Vec::new();
    if let Some(having) = &select.having {
        let mut walk = Walk::new(&grouped);
        walk.visit(having)?;
        aggregates += walk.aggregates;
        bad_having = walk.ungrouped;
    }
    if aggregates == 0 {
        if let Some(unknown) = projected_exprs(select)
            .into_iter()
            .find_map(|e| first_function(e, |n| !known_function(n)))
        {
            return Err(PlanError::UnknownFunction(format!(
                "Can't find any functions with the name '{unknown}'"
            )));
        }
        return Err(invalid(
            "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.".into(),
        ));
    }
    if !bad_selects.is_empty() {
        return Err(invalid(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or remove them from the SELECT.",
            bad_selects.join(", ")
        )));
    }
    if !bad_having.is_empty() {
        return Err(invalid(format!(
            "Non-aggregate HAVING expression not part of GROUP BY: {}\nConsider switching the HAVING clause to a WHERE clause before the GROUP BY.",
            bad_having.join(", ")
        )));
    }
    Ok(())
}

/// A query with aggregate calls and no GROUP BY: ksqlDB refuses it, naming first the columns
/// that are not aggregated, else the aggregate calls (`COUNT(*)` prints as `COUNT(ROWTIME)`).
fn check_ungrouped(select: &Select) -> Result<(), PlanError> {
    let exprs = projected_exprs(select);
    let calls: Vec<String> = exprs.iter().flat_map(|e| aggregate_calls(e)).collect();
    if calls.is_empty() {
        return Ok(());
    }
    let grouped = HashSet::new();
    let mut bad = Vec::new();
    for e in &exprs {
        let mut walk = Walk::new(&grouped);
        walk.visit(e)?;
        if !walk.ungrouped.is_empty() {
            bad.push(expr_text(e));
        }
    }
    if !bad.is_empty() {
        return Err(invalid(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or remove them from the SELECT.",
            bad.join(", ")
        )));
    }
    Err(PlanError::AggregateWithoutGroupBy(calls.join(", ")))
}

/// The aggregate calls in `e`, as ksqlDB prints them (no argument: `ROWTIME`).
fn aggregate_calls(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let _ = visit_expressions(e, |x| {
        if let (Some(name), Expr::Function(f)) = (function_name(x), x) {
            if is_aggregate(&name) {
                let list = args(&f.args);
                let text = if list.is_empty() {
                    format!("{name}(ROWTIME)")
                } else {
                    expr_text(x)
                };
                out.push(text);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// The upper-case name of the first function call in `e` that `pred` accepts.
fn first_function(e: &Expr, pred: impl Fn(&str) -> bool) -> Option<String> {
    let mut found = None;
    let _ = visit_expressions(e, |x| {
        if let Some(name) = function_name(x).filter(|n| pred(n)) {
            found = Some(name);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

fn invalid(msg: String) -> PlanError {
    PlanError::Invalid(msg)
}

/// A column reference qualified with its source, as ksqlDB prints duplicates; other
/// expressions as written.
fn qualified_text(e: &Expr, source: &str) -> String {
    match e {
        Expr::Identifier(_) => crate::ksql_text::expr_text_in(e, source),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            crate::ksql_text::expr_text_in(e, source)
        }
        Expr::Nested(inner) => qualified_text(inner, source),
        other => expr_text(other),
    }
}

/// The upper-case name of a function call, if `e` is one.
fn function_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Function(f) => f
            .name
            .0
            .last()
            .map(|p| p.to_string().trim_matches('"').to_uppercase()),
        _ => None,
    }
}

fn is_aggregate(name: &str) -> bool {
    sluice_functions::aggregate::ksql_name(name).is_some()
}

/// The name of the first aggregate call inside `e`.
fn first_aggregate(e: &Expr) -> Option<String> {
    first_function(e, is_aggregate)
}

/// One walk over a SELECT or HAVING expression.
struct Walk<'a> {
    grouped: &'a HashSet<String>,
    /// A WINDOW clause applies (its bounds may not be passed to aggregate functions).
    windowed: bool,
    /// Aggregate calls seen.
    aggregates: usize,
    /// Columns used outside aggregate calls and outside grouped sub-expressions.
    ungrouped: Vec<String>,
    /// Names bound by enclosing lambdas (not columns).
    lambda_params: Vec<String>,
}

impl<'a> Walk<'a> {
    fn new(grouped: &'a HashSet<String>) -> Self {
        Walk {
            grouped,
            windowed: grouped.contains(WINDOWSTART),
            aggregates: 0,
            ungrouped: Vec::new(),
            lambda_params: Vec::new(),
        }
    }

    fn visit(&mut self, e: &Expr) -> Result<(), PlanError> {
        if self.grouped.contains(&expr_text(e)) {
            return Ok(()); // a grouped expression: its columns are covered
        }
        match e {
            Expr::Identifier(i) => {
                if !self.lambda_params.contains(&i.value) {
                    self.ungrouped.push(name_text(&i.value));
                }
            }
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last() {
                    self.ungrouped.push(name_text(&last.value));
                }
            }
            Expr::Function(f) => {
                let name = function_name(e).unwrap_or_default();
                if is_aggregate(&name) {
                    self.aggregates += 1;
                    for arg in args(&f.args) {
                        if let Some(inner) = first_aggregate(arg) {
                            return Err(invalid(format!(
                                "Aggregate functions can not be nested: {name}({inner}())"
                            )));
                        }
                        if self.windowed {
                            if let Some(bound) = crate::query::window_bound_in(arg) {
                                return Err(invalid(format!(
                                    "Window bounds column {bound} can only be used in the SELECT clause of windowed aggregations and can not be passed to aggregate functions."
                                )));
                            }
                        }
                    }
                    // Columns inside an aggregate call are its input, not grouped values.
                    return Ok(());
                }
                for arg in args(&f.args) {
                    self.visit(arg)?;
                }
            }
            Expr::Lambda(l) => {
                let n = self.lambda_params.len();
                self.lambda_params
                    .extend(l.params.iter().map(|p| p.name.value.clone()));
                self.visit(&l.body)?;
                self.lambda_params.truncate(n);
            }
            other => {
                // Visit the direct children.
                let mut children = Vec::new();
                let _ = visit_expressions(other, |x| {
                    if !std::ptr::eq(x, other) {
                        children.push(x.clone());
                    }
                    ControlFlow::<()>::Continue(())
                });
                // `visit_expressions` walks every descendant; keep only the outermost ones so
                // grouped sub-expressions are matched before their parts.
                let mut outer: Vec<Expr> = Vec::new();
                for c in children {
                    if !outer.iter().any(|o| contains(o, &c)) {
                        outer.retain(|o| !contains(&c, o));
                        outer.push(c);
                    }
                }
                for c in &outer {
                    self.visit(c)?;
                }
            }
        }
        Ok(())
    }
}

/// Whether `inner` is a strict sub-expression of `outer`.
fn contains(outer: &Expr, inner: &Expr) -> bool {
    let mut found = false;
    let _ = visit_expressions(outer, |x| {
        if !std::ptr::eq(x, outer) && x == inner {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

fn args(a: &FunctionArguments) -> Vec<&Expr> {
    match a {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::SetExpr;
    use sluice_parser::Statement;

    fn check_sql(sql: &str, windowed: bool) -> Result<(), String> {
        let Statement::Query(q) = sluice_parser::parse_one(sql).unwrap().statement else {
            panic!("not a query")
        };
        let SetExpr::Select(s) = *q.query.body else {
            panic!("not a select")
        };
        check(&s, "TEST", windowed, &|n| n != "WONT_FIND_ME").map_err(|e| e.to_string())
    }

    fn error(sql: &str) -> String {
        check_sql(sql, false).expect_err(sql)
    }

    #[test]
    fn valid_aggregations_pass() {
        for sql in [
            "SELECT region, COUNT(*) FROM test GROUP BY region EMIT CHANGES;",
            "SELECT f1 + f2 AS g, AS_VALUE(f1 + f2), COUNT(*) FROM test GROUP BY f1 + f2 EMIT CHANGES;",
            "SELECT col1['foo'], COUNT(*) FROM test GROUP BY col1['foo'] EMIT CHANGES;",
            "SELECT k, 1, SUM(v) * 2 FROM test GROUP BY k HAVING COUNT(*) > 1 EMIT CHANGES;",
            "SELECT k, TRANSFORM(COLLECT_LIST(v), x => x + 1) FROM test GROUP BY k EMIT CHANGES;",
        ] {
            assert_eq!(check_sql(sql, false), Ok(()), "{sql}");
        }
        assert_eq!(
            check_sql(
                "SELECT k, WINDOWSTART, COUNT(*) FROM test WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY k EMIT CHANGES;",
                true
            ),
            Ok(())
        );
    }

    #[test]
    fn ksqldb_error_texts() {
        assert!(error("SELECT k, d1, COUNT(*) FROM test GROUP BY k EMIT CHANGES;")
            .contains("Non-aggregate SELECT expression(s) not part of GROUP BY: D1\nEither add the column(s) to the GROUP BY or remove them from the SELECT."));
        assert!(error(
            "SELECT SUBSTRING(source, 0, 1), COUNT(*) FROM test GROUP BY SUBSTRING(source, 0, 2) EMIT CHANGES;"
        )
        .contains("not part of GROUP BY: SUBSTRING(SOURCE, 0, 1)"));
        assert!(
            error("SELECT f1, f2, COUNT(*) FROM test GROUP BY f1 + f2 EMIT CHANGES;")
                .contains("not part of GROUP BY: F1, F2")
        );
        assert!(
            error("SELECT f1 * SUM(f2) FROM test GROUP BY f3 EMIT CHANGES;")
                .contains("not part of GROUP BY: (F1 * SUM(F2))")
        );
        assert!(error(
            "SELECT SUBSTRING(source, 0, 2) AS t, COUNT(*) FROM test GROUP BY SUBSTRING(source, 0, 2) HAVING LEN(source) < 2 EMIT CHANGES;"
        )
        .contains("Non-aggregate HAVING expression not part of GROUP BY: SOURCE"));
        assert!(
            error("SELECT k FROM test GROUP BY k EMIT CHANGES;").contains(
                "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."
            )
        );
        assert!(
            error("SELECT COUNT(*) FROM test GROUP BY SUM(v) EMIT CHANGES;").contains(
                "GROUP BY does not support aggregate functions: SUM is an aggregate function."
            )
        );
        assert!(
            error("SELECT COUNT(*) FROM test GROUP BY data, test.data EMIT CHANGES;")
                .contains("Duplicate GROUP BY expression: TEST.DATA")
        );
        assert!(
            error("SELECT WONT_FIND_ME(d1) FROM test GROUP BY d1 EMIT CHANGES;")
                .contains("Can't find any functions with the name 'WONT_FIND_ME'")
        );
        assert!(error("SELECT d1, COUNT(*) FROM test EMIT CHANGES;")
            .contains("Non-aggregate SELECT expression(s) not part of GROUP BY: D1"));
        assert_eq!(
            error("SELECT COUNT(*), SUM(v) FROM test EMIT CHANGES;"),
            "SELECT statement does not support aggregate function [COUNT(ROWTIME), SUM(V)] without a GROUP BY clause."
        );
        assert_eq!(
            check_sql("SELECT d1 FROM test EMIT CHANGES;", false),
            Ok(())
        );
        assert!(
            error("SELECT SUM(COUNT()) FROM test GROUP BY d1 EMIT CHANGES;")
                .contains("Aggregate functions can not be nested: SUM(COUNT())")
        );
    }
}
