//! KSQL expressions printed the way ksqlDB prints them in its error messages and generated
//! names: column names without quotes unless they need them (then in backticks), binary and
//! logical operations in parentheses, function names in upper case, `s->f`, `a[i]`.
//!
//! `SUBSTRING(source, 0, 1)` → `SUBSTRING(SOURCE, 0, 1)`; `f1 * SUM(f2)` → `(F1 * SUM(F2))`.
//! Column references print without their source qualifier ([`expr_text`]), or all qualified
//! ([`expr_text_in`]).

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, Subscript, UnaryOperator, Value,
};

/// `expr` as ksqlDB prints it.
pub fn expr_text(expr: &Expr) -> String {
    Printer { source: None }.expr(expr)
}

/// `expr` as ksqlDB prints it with every column qualified: bare names by `source`
/// (`ABS(INPUT.ID)`), qualified ones as written (`T.DATA`).
pub fn expr_text_in(expr: &Expr, source: &str) -> String {
    Printer {
        source: Some(name_text(source)),
    }
    .expr(expr)
}

/// A column name as ksqlDB prints it: bare when it is an upper-case identifier, else in
/// backticks.
pub fn name_text(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '@');
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

struct Printer {
    /// `Some`: columns are printed qualified, bare names by this source; `None`: unqualified.
    source: Option<String>,
}

impl Printer {
    fn ident(&self, i: &Ident) -> String {
        name_text(&i.value)
    }

    fn list(&self, items: &[Expr]) -> String {
        items
            .iter()
            .map(|e| self.expr(e))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn expr(&self, expr: &Expr) -> String {
        match expr {
            Expr::Identifier(i) => match &self.source {
                Some(s) => format!("{s}.{}", self.ident(i)),
                None => self.ident(i),
            },
            Expr::CompoundIdentifier(parts) => match (&self.source, parts.as_slice()) {
                (None, [.., last]) => self.ident(last),
                _ => parts
                    .iter()
                    .map(|p| self.ident(p))
                    .collect::<Vec<_>>()
                    .join("."),
            },
            Expr::Nested(e) => self.expr(e),
            Expr::Value(v) => value_text(&v.value),
            Expr::BinaryOp { left, op, right } => {
                format!(
                    "({} {} {})",
                    self.expr(left),
                    binary_op_text(op),
                    self.expr(right)
                )
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Not => format!("(NOT {})", self.expr(expr)),
                UnaryOperator::Minus => format!("-{}", self.expr(expr)),
                UnaryOperator::Plus => self.expr(expr),
                other => format!("{other}{}", self.expr(expr)),
            },
            Expr::Function(f) => {
                let name = f
                    .name
                    .0
                    .last()
                    .map(|p| p.to_string().trim_matches('"').to_uppercase())
                    .unwrap_or_default();
                let args = match &f.args {
                    FunctionArguments::List(list) => list
                        .args
                        .iter()
                        .map(|a| match a {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                            | FunctionArg::Named {
                                arg: FunctionArgExpr::Expr(e),
                                ..
                            } => self.expr(e),
                            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => "*".to_string(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    FunctionArguments::None => String::new(),
                    FunctionArguments::Subquery(q) => q.to_string(),
                };
                format!("{name}({args})")
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                let mut out = self.expr(root);
                for a in access_chain {
                    match a {
                        AccessExpr::Dot(Expr::Identifier(f)) => {
                            out.push_str("->");
                            out.push_str(&self.ident(f));
                        }
                        AccessExpr::Dot(other) => {
                            out.push_str("->");
                            out.push_str(&self.expr(other));
                        }
                        AccessExpr::Subscript(Subscript::Index { index }) => {
                            out.push('[');
                            out.push_str(&self.expr(index));
                            out.push(']');
                        }
                        AccessExpr::Subscript(other) => out.push_str(&format!("[{other}]")),
                    }
                }
                out
            }
            Expr::Cast {
                kind: CastKind::Cast,
                expr,
                data_type,
                ..
            } => format!("CAST({} AS {})", self.expr(expr), data_type),
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(expr)];
                args.extend(substring_from.iter().map(|e| self.expr(e)));
                args.extend(substring_for.iter().map(|e| self.expr(e)));
                format!("SUBSTRING({})", args.join(", "))
            }
            Expr::IsNull(e) => format!("({} IS NULL)", self.expr(e)),
            Expr::IsNotNull(e) => format!("({} IS NOT NULL)", self.expr(e)),
            Expr::Like {
                negated,
                expr,
                pattern,
                ..
            } => format!(
                "({}{} LIKE {})",
                self.expr(expr),
                if *negated { " NOT" } else { "" },
                self.expr(pattern)
            ),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => format!(
                "({}{} BETWEEN {} AND {})",
                self.expr(expr),
                if *negated { " NOT" } else { "" },
                self.expr(low),
                self.expr(high)
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => format!(
                "({}{} IN ({}))",
                self.expr(expr),
                if *negated { " NOT" } else { "" },
                self.list(list)
            ),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut out = String::from("(CASE");
                if let Some(o) = operand {
                    out.push(' ');
                    out.push_str(&self.expr(o));
                }
                for w in conditions {
                    out.push_str(&format!(
                        " WHEN {} THEN {}",
                        self.expr(&w.condition),
                        self.expr(&w.result)
                    ));
                }
                if let Some(e) = else_result {
                    out.push_str(&format!(" ELSE {}", self.expr(e)));
                }
                out.push_str(" END)");
                out
            }
            other => other.to_string(),
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::SingleQuotedString(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Boolean(b) => b.to_string().to_uppercase(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn binary_op_text(op: &BinaryOperator) -> String {
    match op {
        BinaryOperator::Eq => "=".into(),
        BinaryOperator::NotEq => "<>".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr};
    use sluice_parser::Statement;

    fn select_exprs(sql: &str) -> Vec<Expr> {
        let Statement::Query(q) = sluice_parser::parse_one(sql).unwrap().statement else {
            panic!("not a query")
        };
        let SetExpr::Select(s) = *q.query.body else {
            panic!("not a select")
        };
        s.projection
            .into_iter()
            .map(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn prints_like_ksqldb() {
        let texts: Vec<String> = select_exprs(
            "SELECT source, SUBSTRING(source, 0, 1), f1 * SUM(f2), col1['foo'], s->a, t.x, `mixed`, 'it''s', f1 + f2 - 3, NOT b FROM t EMIT CHANGES;",
        )
        .iter()
        .map(expr_text)
        .collect();
        assert_eq!(
            texts,
            vec![
                "SOURCE",
                "SUBSTRING(SOURCE, 0, 1)",
                "(F1 * SUM(F2))",
                "COL1['foo']",
                "S->A",
                "X",
                "`mixed`",
                "'it''s'",
                "((F1 + F2) - 3)",
                "(NOT B)",
            ]
        );
    }

    #[test]
    fn qualifiers_can_be_kept() {
        let e = &select_exprs("SELECT t.data FROM t EMIT CHANGES;")[0];
        assert_eq!(expr_text_in(e, "OTHER"), "T.DATA");
        assert_eq!(expr_text(e), "DATA");
        let e = &select_exprs("SELECT ABS(id) FROM t EMIT CHANGES;")[0];
        assert_eq!(expr_text_in(e, "INPUT"), "ABS(INPUT.ID)");
    }
}
