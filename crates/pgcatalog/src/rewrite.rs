//! Sluice's own rewrites of client SQL, applied after datafusion-pg-catalog's compatibility
//! rules (which already turned `OPERATOR(pg_catalog.~)` into `~` and dropped `COLLATE`).
//!
//! * **Relation-name case.** ksqlDB upper-cases unquoted names (`PAGEVIEWS`); PostgreSQL and psql
//!   lower-case them, so `\d pageviews` and `\d PAGEVIEWS` both send the pattern
//!   `'^(pageviews)$'`. A predicate `relname ~ 'pattern'` whose pattern has no upper-case letter
//!   is widened to also match relations whose name is entirely upper-case once lower-cased:
//!   `(relname ~ p OR (relname = upper(relname) AND lower(relname) ~ p))`. Names stored in mixed
//!   or lower case still need the exact spelling (`\d "MixedCase"`), as in PostgreSQL.
//! * **Result column names.** PostgreSQL names an unaliased function call after the function
//!   (`SELECT current_schema()` → column `current_schema`); DataFusion would call it
//!   `current_schema()`. Top-level unaliased calls get the function's name as alias when that does
//!   not duplicate another output name.
//! * **`'name'::regproc`** (pgjdbc: `typinput = 'pg_catalog.array_in'::regproc`) becomes the text
//!   `'array_in'`, before datafusion-pg-catalog sees the query: its `pg_type` stores `regproc`
//!   columns as function names, so a name compares with them directly (its own rewrite to an oid
//!   subquery would compare an oid with a name).
//! * **Columns datafusion-pg-catalog lacks.** A select item that reads `pg_class.reloptions`
//!   (psql's `\d+` table query) becomes `NULL::text`: Sluice relations have no storage options.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectNamePart, Query, SelectItem, SetExpr, Statement, Value,
    ValueWithSpan, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Token-level rewrites applied to the raw text, before the compatibility parser.
pub(crate) fn pre_rewrite(sql: &str) -> Cow<'_, str> {
    if !sql.to_ascii_lowercase().contains("regproc") {
        return Cow::Borrowed(sql);
    }
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        // Let the real parser report the error.
        return Cow::Borrowed(sql);
    };
    let is_word = |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (Token::SingleQuotedString(name), Some(Token::DoubleColon)) =
            (&tokens[i], tokens.get(i + 1))
        {
            let end = if is_word(tokens.get(i + 2), "regproc") {
                Some(i + 3)
            } else if is_word(tokens.get(i + 2), "pg_catalog")
                && matches!(tokens.get(i + 3), Some(Token::Period))
                && is_word(tokens.get(i + 4), "regproc")
            {
                Some(i + 5)
            } else {
                None
            };
            // Numeric strings are oids already; datafusion-pg-catalog handles those.
            if let Some(end) = end.filter(|_| !name.chars().all(|c| c.is_ascii_digit())) {
                let bare = name.strip_prefix("pg_catalog.").unwrap_or(name);
                out.push(Token::SingleQuotedString(bare.to_string()));
                i = end;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    Cow::Owned(out.iter().map(ToString::to_string).collect())
}

/// Apply all of Sluice's rewrites to one statement.
pub(crate) fn rewrite(mut statement: Statement) -> Statement {
    let _ = statement.visit(&mut RelnameCaseFold);
    let _ = statement.visit(&mut MissingColumnsToNull);
    if let Statement::Query(query) = &mut statement {
        name_function_columns(query);
    }
    statement
}

struct RelnameCaseFold;

fn is_relname(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(i) => i.value.eq_ignore_ascii_case("relname"),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|i| i.value.eq_ignore_ascii_case("relname")),
        _ => false,
    }
}

impl VisitorMut for RelnameCaseFold {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Self::Break> {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::PGRegexMatch,
            right,
        } = expr
        else {
            return ControlFlow::Continue(());
        };
        let Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(pattern),
            ..
        }) = right.as_ref()
        else {
            return ControlFlow::Continue(());
        };
        if !is_relname(left) || pattern.chars().any(|c| c.is_uppercase()) {
            return ControlFlow::Continue(());
        }
        let column = left.to_string();
        let literal = format!("'{}'", pattern.replace('\'', "''"));
        let widened = format!(
            "({column} ~ {literal} OR ({column} = upper({column}) AND lower({column}) ~ {literal}))"
        );
        match Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&widened)
            .and_then(|mut p| p.parse_expr())
        {
            Ok(e) => *expr = e,
            Err(e) => tracing::warn!(error = %e, "could not widen relname pattern"),
        }
        ControlFlow::Continue(())
    }
}

/// Catalog columns PostgreSQL has and datafusion-pg-catalog does not.
const MISSING_COLUMNS: &[&str] = &["reloptions"];

struct MissingColumnsToNull;

fn reads_missing_column(expr: &Expr) -> bool {
    struct Finder(bool);
    impl datafusion::sql::sqlparser::ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let name = match e {
                Expr::Identifier(i) => Some(&i.value),
                Expr::CompoundIdentifier(parts) => parts.last().map(|i| &i.value),
                _ => None,
            };
            if name.is_some_and(|n| MISSING_COLUMNS.iter().any(|m| n.eq_ignore_ascii_case(m))) {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder(false);
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(expr, &mut f);
    f.0
}

fn null_text() -> Expr {
    Expr::Cast {
        kind: datafusion::sql::sqlparser::ast::CastKind::DoubleColon,
        expr: Box::new(Expr::Value(Value::Null.with_empty_span())),
        data_type: datafusion::sql::sqlparser::ast::DataType::Text,
        array: false,
        format: None,
    }
}

impl VisitorMut for MissingColumnsToNull {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in select.projection.iter_mut() {
                match item {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }
                        if reads_missing_column(e) =>
                    {
                        *e = null_text();
                    }
                    _ => {}
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The output name DataFusion would give an unaliased select item, as far as we can tell.
fn default_output_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.clone()),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
            parts.last().map(|i| i.value.clone())
        }
        _ => None,
    }
}

fn name_function_columns(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let mut taken: HashSet<String> = select
        .projection
        .iter()
        .filter_map(default_output_name)
        .collect();
    for item in select.projection.iter_mut() {
        let SelectItem::UnnamedExpr(Expr::Function(f)) = item else {
            continue;
        };
        let Some(ObjectNamePart::Identifier(last)) = f.name.0.last() else {
            continue;
        };
        let name = last.value.to_ascii_lowercase();
        if !taken.insert(name.clone()) {
            continue;
        }
        let expr = Expr::Function(f.clone());
        *item = SelectItem::ExprWithAlias {
            expr,
            alias: Ident::with_quote('"', name),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> String {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(stmt).to_string()
    }

    #[test]
    fn lower_case_relname_patterns_also_match_upper_case_names() {
        assert_eq!(
            rw("SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname ~ '^(pageviews)$'"),
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE (c.relname ~ '^(pageviews)$' OR \
             (c.relname = upper(c.relname) AND lower(c.relname) ~ '^(pageviews)$'))"
        );
        // Upper-case (quoted in psql) patterns are left exact.
        assert_eq!(
            rw("SELECT 1 FROM pg_class WHERE relname ~ '^(PAGEVIEWS)$'"),
            "SELECT 1 FROM pg_class WHERE relname ~ '^(PAGEVIEWS)$'"
        );
        // Other columns are left alone.
        assert_eq!(
            rw("SELECT 1 FROM pg_namespace n WHERE n.nspname ~ '^(public)$'"),
            "SELECT 1 FROM pg_namespace n WHERE n.nspname ~ '^(public)$'"
        );
    }

    #[test]
    fn regproc_name_casts_become_names() {
        assert_eq!(
            pre_rewrite("SELECT typinput='pg_catalog.array_in'::regproc as is_array FROM t"),
            "SELECT typinput='array_in' as is_array FROM t"
        );
        assert_eq!(
            pre_rewrite("SELECT 'array_in'::pg_catalog.regproc, '12'::regproc, x::regproc"),
            "SELECT 'array_in', '12'::regproc, x::regproc"
        );
        assert!(matches!(pre_rewrite("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn select_items_reading_missing_columns_become_null() {
        assert_eq!(
            rw("SELECT c.relkind, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ') FROM pg_class c"),
            "SELECT c.relkind, NULL::TEXT FROM pg_class c"
        );
    }

    #[test]
    fn unaliased_function_calls_are_named_after_the_function() {
        assert_eq!(
            rw("SELECT current_schema(), pg_catalog.version() AS v"),
            "SELECT current_schema() AS \"current_schema\", pg_catalog.version() AS v"
        );
        // Duplicates keep DataFusion's naming.
        assert_eq!(
            rw("SELECT lower(a), lower(b) FROM t"),
            "SELECT lower(a) AS \"lower\", lower(b) FROM t"
        );
        assert_eq!(
            rw("SELECT upper, upper(x) FROM t"),
            "SELECT upper, upper(x) FROM t"
        );
    }
}
