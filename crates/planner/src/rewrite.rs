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

/// The expressions of a SELECT's projection, in order (wildcards left out).
pub fn projected_exprs(select: &Select) -> Vec<&Expr> {
    select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect()
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
///   source/alias `x`; in a join they, and unaliased qualified columns, are named
///   `<source or alias>_<column>`;
/// - an expression without an alias is named `KSQL_COL_n` (n counts such columns from 0), except
///   plain column references (named after the column) and struct field accesses `s->f`
///   (named after the field).
pub fn apply_projection_rules(select: &mut Select, catalog: &Catalog) -> Result<(), PlanError> {
    let sources = from_sources(select)?;
    let qualify = sources.len() > 1;
    // Column names more than one source has.
    let mut shared = std::collections::HashSet::new();
    if qualify {
        let mut seen = std::collections::HashSet::new();
        for s in &sources {
            let def = catalog.require(&s.source)?;
            for c in def.star_columns() {
                if !seen.insert(c.name.clone()) {
                    shared.insert(c.name.clone());
                }
            }
        }
        // Every source has the pseudo-columns.
        shared.extend(sluice_catalog::PSEUDO_COLUMNS.iter().map(|c| c.to_string()));
    }
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
                expand(s, catalog, qualify, &mut items)?;
            }
            // In a join, a qualified column whose name more than one source has is named
            // after its source too (ksqlDB: `o.id` → `O_ID` when both sides have an ID).
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts))
                if qualify && parts.len() == 2 && shared.contains(&parts[1].value) =>
            {
                let alias = ident(&format!("{}_{}", parts[0].value, parts[1].value));
                items.push(SelectItem::ExprWithAlias {
                    expr: Expr::CompoundIdentifier(parts),
                    alias,
                });
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
    let mut source_columns = Vec::new();
    for s in &sources {
        let def = catalog.require(&s.source)?;
        source_columns.extend(def.star_columns().map(|c| c.name.clone()));
    }
    name_field_accesses(&mut items, source_columns);
    select.projection = items;
    Ok(())
}

/// Struct field accesses `s->f` without an alias are named after the field; a name already
/// taken by a source column or another select item gets `_1`, `_2`, ... (ksqlDB:
/// `B, A->B, C->B` → `B, B_1, B_2`).
fn name_field_accesses(items: &mut [SelectItem], source_columns: Vec<String>) {
    let mut taken: std::collections::HashSet<String> = items
        .iter()
        .filter_map(|i| match i {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            SelectItem::UnnamedExpr(e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_))) => {
                implicit_name(e)
            }
            _ => None,
        })
        .chain(source_columns)
        .collect();
    for item in items.iter_mut() {
        let SelectItem::UnnamedExpr(e @ Expr::CompoundFieldAccess { .. }) = item else {
            continue;
        };
        let Some(field) = implicit_name(e) else {
            continue;
        };
        let mut name = field.clone();
        let mut n = 0;
        while taken.contains(&name) {
            n += 1;
            name = format!("{field}_{n}");
        }
        taken.insert(name.clone());
        *item = SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias: ident(&name),
        };
    }
}

/// The name KSQL gives an unaliased select item, when it has one of its own.
pub(crate) fn implicit_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        Expr::Nested(e) => implicit_name(e),
        // `s->f` (and `s->a->f`) is named after the last field.
        Expr::CompoundFieldAccess { access_chain, .. } => match access_chain.last() {
            Some(datafusion::sql::sqlparser::ast::AccessExpr::Dot(Expr::Identifier(f))) => {
                Some(f.value.clone())
            }
            _ => None,
        },
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
    for c in def.star_columns() {
        if qualify {
            items.push(SelectItem::ExprWithAlias {
                expr: Expr::CompoundIdentifier(vec![ident(&qualifier), ident(&c.name)]),
                alias: ident(&format!("{qualifier}_{}", c.name)),
            });
        } else {
            items.push(SelectItem::UnnamedExpr(Expr::Identifier(ident(&c.name))));
        }
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

/// `s->f` after a subscript (`a[1]->f`, `m['k']->f`): DataFusion resolves only the leading
/// `->name` steps as column/field names, so later ones become named field accesses
/// (`a[1]->'F'`), which it plans as struct field lookups.
pub fn field_accesses(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{visit_expressions_mut, AccessExpr, Value};
    let _ = visit_expressions_mut(query, |e| {
        // `src.col->field`: a qualified column's fields join its name (`src.col.field`), which
        // DataFusion resolves as the column's nested field.
        if let Expr::CompoundFieldAccess { root, access_chain } = e {
            if let Expr::CompoundIdentifier(parts) = root.as_ref() {
                let fields = access_chain
                    .iter()
                    .take_while(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
                    .count();
                if fields > 0 {
                    let mut parts = parts.clone();
                    for a in access_chain.drain(..fields) {
                        if let AccessExpr::Dot(Expr::Identifier(f)) = a {
                            parts.push(f);
                        }
                    }
                    if access_chain.is_empty() {
                        *e = Expr::CompoundIdentifier(parts);
                    } else {
                        **root = Expr::CompoundIdentifier(parts);
                    }
                }
            }
        }
        if let Expr::CompoundFieldAccess { root, access_chain } = e {
            // After a column name, leading `.x` parts name the column (`src.col`); after any
            // other expression (a function's result), every part is a field.
            let names_a_column = matches!(
                root.as_ref(),
                Expr::Identifier(_) | Expr::CompoundIdentifier(_)
            );
            let leading = if names_a_column {
                access_chain
                    .iter()
                    .position(|a| !matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
                    .unwrap_or(access_chain.len())
            } else {
                0
            };
            for a in access_chain.iter_mut().skip(leading) {
                if let AccessExpr::Dot(Expr::Identifier(f)) = a {
                    *a = AccessExpr::Dot(Expr::Value(
                        Value::SingleQuotedString(f.value.clone()).into(),
                    ));
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// ksqlDB's table function `EXPLODE(array)` is DataFusion's `UNNEST(array)`;
/// `CUBE_EXPLODE(array)` is `UNNEST(ksql_cube(array))`.
pub fn explode_to_unnest(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{
        visit_expressions_mut, FunctionArg, FunctionArgExpr, FunctionArgumentList,
        FunctionArguments, ObjectName,
    };
    let name_is = |f: &datafusion::sql::sqlparser::ast::Function, n: &str| {
        matches!(f.name.0.as_slice(),
            [ObjectNamePart::Identifier(i)] if i.value.eq_ignore_ascii_case(n))
    };
    let named = |n: &str| ObjectName(vec![ObjectNamePart::Identifier(Ident::new(n))]);
    let _ = visit_expressions_mut(query, |e| {
        if let Expr::Function(f) = e {
            if name_is(f, "EXPLODE") {
                f.name = named("unnest");
            } else if name_is(f, "CUBE_EXPLODE") {
                let mut cube = f.clone();
                cube.name = named("ksql_cube");
                f.name = named("unnest");
                f.args = FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(
                        cube,
                    )))],
                    clauses: vec![],
                });
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `ARRAY[...]` inside a lambda body becomes `make_array(...)`: DataFusion plans an array
/// literal's elements without the lambda's parameters in scope (`x => ARRAY[x, 1]` would not
/// find `x`), a function call's arguments with them.
pub fn lambda_array_literals(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{
        visit_expressions_mut, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
        FunctionArguments, ObjectName,
    };
    let _ = visit_expressions_mut(query, |e| {
        if let Expr::Lambda(lambda) = e {
            let _ = visit_expressions_mut(lambda.body.as_mut(), |inner| {
                if let Expr::Array(array) = inner {
                    let args = std::mem::take(&mut array.elem)
                        .into_iter()
                        .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                        .collect();
                    *inner = Expr::Function(Function {
                        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(
                            "make_array",
                        ))]),
                        uses_odbc_syntax: false,
                        parameters: FunctionArguments::None,
                        args: FunctionArguments::List(FunctionArgumentList {
                            duplicate_treatment: None,
                            args,
                            clauses: vec![],
                        }),
                        filter: None,
                        null_treatment: None,
                        over: None,
                        within_group: vec![],
                    });
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `f(*)` is `f()` for every function but `COUNT` (ksqlDB then says which parameters `f` does
/// not accept; DataFusion would leave a wildcard it cannot run).
pub fn star_arguments(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{
        visit_expressions_mut, FunctionArg, FunctionArgExpr, FunctionArguments,
    };
    let _ = visit_expressions_mut(query, |e| {
        if let Expr::Function(f) = e {
            let is_count = matches!(f.name.0.as_slice(),
                [ObjectNamePart::Identifier(i)] if i.value.eq_ignore_ascii_case("COUNT"));
            if let FunctionArguments::List(list) = &mut f.args {
                if !is_count
                    && list
                        .args
                        .iter()
                        .any(|a| matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Wildcard)))
                {
                    list.args.clear();
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
    fn array_literals_in_lambdas_become_calls() {
        let mut q =
            query("SELECT TRANSFORM(a, x => ARRAY[x, ARRAY[1]]), ARRAY[2] FROM s EMIT CHANGES;");
        lambda_array_literals(&mut q);
        let text = q.to_string();
        assert!(text.contains("make_array(\"X\", make_array(1))"), "{text}");
        assert!(
            text.contains("ARRAY[2]"),
            "outside lambdas untouched: {text}"
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
