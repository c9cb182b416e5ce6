//! Marks every identifier of a sqlparser AST as quoted (`quote_style = Some('"')`).
//!
//! Identifier *values* are made canonical on tokens before parsing (see `lexer`); this pass
//! only sets the quote style so that downstream code never re-normalises them and so that
//! printing the AST gives text that re-parses to the same identifiers in any dialect.

use std::ops::ControlFlow;

use crate::sql::ast::{
    DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, OneOrManyWithParens, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, TableFactor, VisitMut, VisitorMut,
};

/// Quotes every identifier reachable in `node`.
pub(crate) fn quote_idents<V: VisitMut>(node: &mut V) {
    let _ = node.visit(&mut Quoter);
}

fn q(i: &mut Ident) {
    i.quote_style = Some('"');
}

pub(crate) fn quote_object_name(n: &mut ObjectName) {
    for part in &mut n.0 {
        if let ObjectNamePart::Identifier(i) = part {
            q(i);
        }
    }
}

fn quote_data_type(dt: &mut DataType) {
    match dt {
        DataType::Custom(n, _) => quote_object_name(n),
        DataType::Struct(fields, _) => {
            for f in fields {
                if let Some(n) = &mut f.field_name {
                    q(n);
                }
                quote_data_type(&mut f.field_type);
            }
        }
        DataType::Array(crate::sql::ast::ArrayElemTypeDef::AngleBracket(t)) => quote_data_type(t),
        DataType::Map(k, v) => {
            quote_data_type(k);
            quote_data_type(v);
        }
        _ => {}
    }
}

struct Quoter;

impl VisitorMut for Quoter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &mut query.with {
            for cte in &mut with.cte_tables {
                q(&mut cte.alias.name);
                for c in &mut cte.alias.columns {
                    q(&mut c.name);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            match item {
                SelectItem::ExprWithAlias { alias, .. } => q(alias),
                SelectItem::ExprWithAliases { aliases, .. } => aliases.iter_mut().for_each(q),
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => quote_object_name(n),
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        quote_object_name(relation);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        let alias = match tf {
            TableFactor::Table { alias, .. }
            | TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::NestedJoin { alias, .. } => alias.as_mut(),
            TableFactor::Function { alias, name, .. } => {
                quote_object_name(name);
                alias.as_mut()
            }
            _ => None,
        };
        if let Some(a) = alias {
            q(&mut a.name);
            for c in &mut a.columns {
                q(&mut c.name);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(i) => q(i),
            Expr::CompoundIdentifier(parts) => parts.iter_mut().for_each(q),
            Expr::QualifiedWildcard(n, _) => quote_object_name(n),
            Expr::Function(f) => {
                quote_object_name(&mut f.name);
                if let FunctionArguments::List(list) = &mut f.args {
                    for arg in &mut list.args {
                        match arg {
                            FunctionArg::Named { name, arg, .. } => {
                                q(name);
                                if let FunctionArgExpr::QualifiedWildcard(n) = arg {
                                    quote_object_name(n)
                                }
                            }
                            FunctionArg::Unnamed(FunctionArgExpr::QualifiedWildcard(n)) => {
                                quote_object_name(n)
                            }
                            _ => {}
                        }
                    }
                }
            }
            Expr::Lambda(l) => match &mut l.params {
                OneOrManyWithParens::One(p) => q(&mut p.name),
                OneOrManyWithParens::Many(ps) => ps.iter_mut().for_each(|p| q(&mut p.name)),
            },
            Expr::Cast { data_type, .. } => quote_data_type(data_type),
            Expr::Named { name, .. } => q(name),
            Expr::Struct { fields, .. } => {
                for f in fields {
                    if let Some(n) = &mut f.field_name {
                        q(n);
                    }
                    quote_data_type(&mut f.field_type);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
