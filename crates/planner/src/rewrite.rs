//! KSQL rules applied to the sqlparser AST before DataFusion plans it.

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectNamePart, Query, Select, SelectItem, SelectItemQualifiedWildcardKind,
    SetExpr, TableFactor,
};
use sluice_catalog::Catalog;

use crate::PlanError;

/// A source named in FROM, with the name it is referred to by.
#[derive(Debug, Clone)]
pub struct FromSource {
    pub source: String,
    pub alias: Option<String>,
}

/// The sources of the query's FROM clause, in order (joins included).
pub fn from_sources(select: &Select) -> Result<Vec<FromSource>, PlanError> {
    let mut out = Vec::new();
    for twj in &select.from {
        out.push(table_factor(&twj.relation)?);
        for j in &twj.joins {
            out.push(table_factor(&j.relation)?);
        }
    }
    Ok(out)
}

fn table_factor(t: &TableFactor) -> Result<FromSource, PlanError> {
    match t {
        TableFactor::Table { name, alias, .. } => {
            let source = name
                .0
                .last()
                .and_then(|p| match p {
                    ObjectNamePart::Identifier(i) => Some(i.value.clone()),
                    _ => None,
                })
                .ok_or_else(|| PlanError::Invalid(format!("bad source name {name}")))?;
            Ok(FromSource {
                source,
                alias: alias.as_ref().map(|a| a.name.value.clone()),
            })
        }
        other => Err(PlanError::Unsupported(format!(
            "unsupported FROM item: {other}"
        ))),
    }
}

/// The SELECT of a query, or an error for set operations and VALUES.
pub fn select_mut(query: &mut Query) -> Result<&mut Select, PlanError> {
    match query.body.as_mut() {
        SetExpr::Select(s) => Ok(s),
        other => Err(PlanError::Unsupported(format!(
            "only SELECT queries are supported here, not: {other}"
        ))),
    }
}

fn ident(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

/// Apply the KSQL projection rules in place:
/// - `*` is the key and value columns of every FROM source (no pseudo-columns), `x.*` those of
///   source/alias `x`;
/// - an expression without an alias is named `KSQL_COL_n` (n counts such columns from 0), except
///   plain column references (named after the column) and struct field accesses `s->f`
///   (named after the field).
pub fn apply_projection_rules(select: &mut Select, catalog: &Catalog) -> Result<(), PlanError> {
    let sources = from_sources(select)?;
    let qualify = sources.len() > 1;
    let mut items = Vec::with_capacity(select.projection.len());
    let mut generated = 0usize;
    for item in std::mem::take(&mut select.projection) {
        match item {
            SelectItem::Wildcard(_) => {
                for s in &sources {
                    expand(s, catalog, qualify, &mut items)?;
                }
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _) => {
                let q = name.to_string().trim_matches('"').to_string();
                let s = sources
                    .iter()
                    .find(|s| s.alias.as_deref() == Some(q.as_str()) || s.source == q)
                    .ok_or_else(|| PlanError::Invalid(format!("'{q}' is not a source in FROM")))?;
                expand(s, catalog, true, &mut items)?;
            }
            SelectItem::UnnamedExpr(expr) => match implicit_name(&expr) {
                Some(_) => items.push(SelectItem::UnnamedExpr(expr)),
                None => {
                    let alias = ident(&format!("KSQL_COL_{generated}"));
                    generated += 1;
                    items.push(SelectItem::ExprWithAlias { expr, alias });
                }
            },
            other => items.push(other),
        }
    }
    select.projection = items;
    Ok(())
}

/// The name KSQL gives an unaliased select item, when it has one of its own.
fn implicit_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        Expr::Nested(e) => implicit_name(e),
        _ => None,
    }
}

fn expand(
    s: &FromSource,
    catalog: &Catalog,
    qualify: bool,
    items: &mut Vec<SelectItem>,
) -> Result<(), PlanError> {
    let def = catalog.require(&s.source)?;
    let qualifier = s.alias.clone().unwrap_or_else(|| s.source.clone());
    for c in def.key_columns().chain(def.value_columns()) {
        let expr = if qualify {
            Expr::CompoundIdentifier(vec![ident(&qualifier), ident(&c.name)])
        } else {
            Expr::Identifier(ident(&c.name))
        };
        items.push(SelectItem::UnnamedExpr(expr));
    }
    Ok(())
}

/// Functions whose first argument is a KSQL time unit keyword (`DATEADD(DAYS, 1, d)`).
const TIME_UNIT_FUNCTIONS: &[&str] = &[
    "DATEADD",
    "DATESUB",
    "TIMEADD",
    "TIMESUB",
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
];

/// KSQL passes time units to some functions as bare keywords; SQL would read them as columns,
/// so they become string literals (`DATEADD(DAYS, 1, d)` → `DATEADD('DAYS', 1, d)`).
pub fn time_unit_arguments(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{
        visit_expressions_mut, FunctionArg, FunctionArgExpr, FunctionArguments, Value,
    };
    let _ = visit_expressions_mut(query, |e| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().trim_matches('"').to_uppercase();
            if TIME_UNIT_FUNCTIONS.contains(&name.as_str()) {
                if let FunctionArguments::List(list) = &mut f.args {
                    if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) =
                        list.args.first_mut()
                    {
                        if let Expr::Identifier(id) = first {
                            if sluice_parser::TimeUnit::parse(&id.value).is_some() {
                                *first =
                                    Expr::Value(Value::SingleQuotedString(id.value.clone()).into());
                            }
                        }
                    }
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// KSQL types an integer literal that fits 32 bits as INT (DataFusion would say BIGINT), so
/// `SUM(2)`, `col + 1` and function overloads come out with ksqlDB's types.
pub fn int_literals(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{visit_expressions_mut, DataType, Value};
    let _ = visit_expressions_mut(query, |e| {
        if let Expr::Value(v) = e {
            if let Value::Number(n, _) = &v.value {
                if !n.contains(['.', 'e', 'E']) && n.parse::<i32>().is_ok() {
                    let literal = e.clone();
                    *e = Expr::Cast {
                        kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                        expr: Box::new(literal),
                        data_type: DataType::Int(None),
                        array: false,
                        format: None,
                    };
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_parser::Statement;

    fn query(sql: &str) -> Query {
        match sluice_parser::parse_one(sql).unwrap().statement {
            Statement::Query(q) => q.query,
            other => panic!("not a query: {other:?}"),
        }
    }

    #[test]
    fn time_units_become_string_arguments() {
        let mut q = query("SELECT DATEADD(DAYS, 2, d), ABS(DAYS) FROM s EMIT CHANGES;");
        time_unit_arguments(&mut q);
        let text = q.to_string();
        assert!(text.contains(r#""DATEADD"('DAYS', 2, "D")"#), "{text}");
        assert!(
            text.contains(r#""ABS"("DAYS")"#),
            "only the listed functions change: {text}"
        );
    }

    #[test]
    fn small_integer_literals_are_int() {
        let mut q = query("SELECT a + 1, b * 3000000000, c / 1.5 FROM s EMIT CHANGES;");
        int_literals(&mut q);
        let text = q.to_string();
        assert!(text.contains(r#""A" + CAST(1 AS INT)"#), "{text}");
        assert!(
            text.contains(r#""B" * 3000000000"#),
            "beyond 32 bits stays BIGINT: {text}"
        );
        assert!(text.contains(r#""C" / 1.5"#), "decimals untouched: {text}");
    }
}
