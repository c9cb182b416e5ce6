//! `sluice-parser`: KSQL (ksqlDB's SQL dialect) text → statement AST.
//!
//! Entry point: [`parse`], which splits the input at top-level `;` and returns one
//! [`ParsedStatement`] per statement (AST, exact text, byte offset).
//!
//! * KSQL statements (CREATE STREAM/TABLE/TYPE, CSAS/CTAS, INSERT, push/pull SELECT, SHOW/LIST,
//!   DESCRIBE, DROP, TERMINATE, SET/UNSET 'prop', PRINT, EXPLAIN, ALTER) become the
//!   [`Statement`] variants of [`ast`]. Queries keep their relational core as
//!   `datafusion::sql::sqlparser` AST ([`KsqlQuery::query`]) so the planner can hand it to
//!   DataFusion's `SqlToRel`; the KSQL-only clauses (WINDOW, WITHIN, PARTITION BY, EMIT,
//!   LIMIT) are cut out and returned beside it. KSQL expression syntax (`->`, `MAP(k := v)`,
//!   `STRUCT(f := v)`, lambdas, KSQL types in CAST) is mapped onto sqlparser's `Expr` as
//!   documented in [`dialect`].
//! * Identifiers follow ksqlDB: unquoted ones are upper-cased, `` `quoted` `` and `"quoted"`
//!   keep their case, and every `Ident` carries `quote_style == Some('"')` so DataFusion (with
//!   identifier normalisation off) uses the value as is.
//! * Everything else that sqlparser's PostgreSQL dialect accepts (catalog queries from psql
//!   and drivers, `SET x TO y`, `SHOW x`, `BEGIN`, FROM-less `SELECT`) becomes
//!   [`Statement::Postgres`], with PostgreSQL's lower-casing of unquoted identifiers.
//! * Errors are [`ParseError`]s in ksqlDB's style (`line 1:25: Syntax Error ...`) with the
//!   1-based character position of the offending token in the whole input.
//!
//! Not for: resolving names, types or functions, or any semantic check beyond syntax (custom
//! type names are returned as [`SqlType::Custom`] for the catalog to resolve; numeric literal
//! text is kept for the planner to type); `${variable}` substitution.

pub mod ast;
pub mod dialect;
mod error;
mod idents;
mod lexer;
mod query;
mod statement;
mod types;

/// The sqlparser used by DataFusion (the only one in the build).
pub use datafusion::sql::sqlparser as sql;

pub use ast::*;
pub use dialect::KsqlDialect;
pub use error::ParseError;
pub use query::{is_null_literal, is_struct_wildcard};
pub use types::SqlType;

use error::SourceMap;

/// Parses `sql`: zero or more statements separated by `;`.
pub fn parse(sql: &str) -> Result<Vec<ParsedStatement>, ParseError> {
    let map = SourceMap::new(sql);
    let tokens = lexer::ksql_tokens(sql).map_err(|e| map.tokenizer_error(e))?;
    let ctx = statement::Ctx { sql, map: &map };
    let mut out = Vec::new();
    for (range, terminated) in lexer::split_statements(&tokens) {
        let toks = &tokens[range.clone()];
        let start = map.byte_offset(toks[0].span.start);
        let end = if terminated {
            map.byte_offset(tokens[range.end].span.start) + 1
        } else {
            map.byte_offset(toks[toks.len() - 1].span.end)
        };
        let text = &sql[start..end];
        let statement = ctx.statement(toks, text, start)?;
        out.push(ParsedStatement {
            statement,
            text: text.to_string(),
            offset: start,
        });
    }
    Ok(out)
}

/// Parses exactly one statement (a trailing `;` is optional).
pub fn parse_one(sql: &str) -> Result<ParsedStatement, ParseError> {
    let mut all = parse(sql)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => {
            let map = SourceMap::new(sql);
            let at = all
                .get(1)
                .map(|s| map.location_of_byte(s.offset))
                .unwrap_or_else(|| map.location_of_byte(sql.len()));
            Err(map.syntax(at, format!("expected exactly one statement, found {n}")))
        }
    }
}
