//! `KsqlDialect`: sqlparser dialect for ksqlDB's expression syntax.
//!
//! Mapping of KSQL expression forms onto the sqlparser AST:
//!
//! | KSQL                         | sqlparser `Expr`                                                        |
//! |------------------------------|-------------------------------------------------------------------------|
//! | `s->f->g`                    | `CompoundFieldAccess { root: s, access_chain: [Dot(Identifier F), Dot(Identifier G)] }` |
//! | `o.s->f`                     | `CompoundFieldAccess { root: CompoundIdentifier [O, S], .. }` (`.` only qualifies by source) |
//! | `s->*` (select item only)    | `SelectItem::UnnamedExpr(CompoundFieldAccess { .., access_chain: [.., Dot(Expr::Wildcard)] })` (see `is_struct_wildcard`) |
//! | `a[1]`, `m['k']`, `s->a[1]`  | `CompoundFieldAccess` with `AccessExpr::Subscript(Subscript::Index)` (KSQL indexes are 1-based, negative from the end) |
//! | `ARRAY[1, 2]`                | `Expr::Array(Array { named: true, .. })`                                |
//! | `MAP('a' := 1)`              | `Expr::Map(Map { entries: [MapEntry { key, value }] })`                 |
//! | `STRUCT(A := 1, B := 'x')`   | `Expr::Struct { values: [Named { expr, name }], fields: [] }`           |
//! | `x => x + 1`, `(x, y) => e`  | `Expr::Lambda(LambdaFunction { syntax: Arrow, .. })`                    |
//! | `CAST(x AS ARRAY<INT>)`      | `Expr::Cast { kind: Cast, data_type: SqlType::to_data_type(..) }`       |
//! | `1`, `1.5`, `1.5E0`          | `Value::Number(text, false)`, text as written                           |
//!
//! Printing: `CompoundFieldAccess` displays `->` as `.` (`"S"."F"`), which would re-parse as a
//! qualified column; keep [`crate::ParsedStatement::text`] for the original text.
//!
//! `||` binds less tightly than `+`/`-` (as in ksqlDB). `:=` is never a binary operator.

use crate::error::{expected, syntax_error};
use crate::sql::ast::helpers::attached_token::AttachedToken;
use crate::sql::ast::{
    AccessExpr, CastKind, Expr, Ident, LambdaFunction, LambdaFunctionParameter, LambdaSyntax, Map,
    MapEntry, OneOrManyWithParens,
};
use crate::sql::dialect::{Dialect, Precedence};
use crate::sql::keywords::Keyword;
use crate::sql::parser::{Parser, ParserError};
use crate::sql::tokenizer::{Token, TokenWithSpan};
use crate::types::SqlType;

/// The KSQL dialect: `` `x` `` and `"x"` are quoted identifiers; KSQL expression syntax via
/// the prefix/infix hooks. Identifier upper-casing is done on tokens (see `lexer`).
#[derive(Debug, Default, Clone, Copy)]
pub struct KsqlDialect;

impl Dialect for KsqlDialect {
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"' || ch == '`'
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '@'
    }

    fn identifier_quote_style(&self, _identifier: &str) -> Option<char> {
        Some('"')
    }

    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool {
        false
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        enum Prefix {
            Cast,
            Map,
            Struct,
            Lambda,
        }
        let next = &parser.peek_nth_token_ref(1).token;
        let which = match &parser.peek_token_ref().token {
            Token::Word(w) if w.quote_style.is_none() && *next == Token::LParen => {
                match w.value.as_str() {
                    "CAST" => Prefix::Cast,
                    "MAP" => Prefix::Map,
                    "STRUCT" => Prefix::Struct,
                    _ => return None,
                }
            }
            Token::Word(_) if *next == Token::RArrow => Prefix::Lambda,
            Token::LParen if lambda_params_ahead(parser) => Prefix::Lambda,
            _ => return None,
        };
        Some(match which {
            Prefix::Cast => parse_cast(parser),
            Prefix::Map => parse_map(parser),
            Prefix::Struct => parse_struct(parser),
            Prefix::Lambda => parse_lambda(parser),
        })
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Arrow => Some(Ok(self.prec_value(Precedence::DoubleColon))),
            Token::Assignment => Some(Ok(0)),
            Token::StringConcat => Some(Ok(self.prec_value(Precedence::PlusMinus) - 5)),
            _ => None,
        }
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Arrow => Some(parse_deref(parser, expr.clone())),
            Token::LBracket => Some(parse_subscripts(parser, expr.clone())),
            _ => None,
        }
    }
}

/// A canonical identifier from a word token (the value is already canonical).
pub(crate) fn ident_of(tok: &TokenWithSpan) -> Option<Ident> {
    match &tok.token {
        Token::Word(w) => Some(Ident::with_quote_and_span('"', tok.span, w.value.clone())),
        _ => None,
    }
}

/// Any word as an identifier (KSQL lets most keywords name columns).
pub(crate) fn parse_any_ident(p: &mut Parser) -> Result<Ident, ParserError> {
    let tok = p.next_token();
    match ident_of(&tok) {
        Some(i) => Ok(i),
        None => expected("an identifier", &tok),
    }
}

fn extend_access(expr: Expr, more: Vec<AccessExpr>) -> Expr {
    match expr {
        Expr::CompoundFieldAccess {
            root,
            mut access_chain,
        } => {
            access_chain.extend(more);
            Expr::CompoundFieldAccess { root, access_chain }
        }
        other => Expr::CompoundFieldAccess {
            root: Box::new(other),
            access_chain: more,
        },
    }
}

/// `expr -> field` or `expr -> *`.
fn parse_deref(p: &mut Parser, expr: Expr) -> Result<Expr, ParserError> {
    p.next_token(); // ->
    let tok = p.next_token();
    let field = match &tok.token {
        Token::Mul => Expr::Wildcard(AttachedToken(tok.clone())),
        Token::Word(_) => Expr::Identifier(ident_of(&tok).expect("word")),
        _ => return expected("a field name after '->'", &tok),
    };
    Ok(extend_access(expr, vec![AccessExpr::Dot(field)]))
}

/// `expr[i][j]...`
fn parse_subscripts(p: &mut Parser, expr: Expr) -> Result<Expr, ParserError> {
    let mut chain = Vec::new();
    p.parse_multi_dim_subscript(&mut chain)?;
    Ok(extend_access(expr, chain))
}

/// `CAST(expr AS <KSQL type>)`
fn parse_cast(p: &mut Parser) -> Result<Expr, ParserError> {
    p.next_token(); // CAST
    p.expect_token(&Token::LParen)?;
    let expr = p.parse_expr()?;
    p.expect_keyword(Keyword::AS)?;
    let ty = SqlType::parse(p)?;
    p.expect_token(&Token::RParen)?;
    Ok(Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type: ty.to_data_type(),
        array: false,
        format: None,
    })
}

/// `MAP(k := v, ...)`
fn parse_map(p: &mut Parser) -> Result<Expr, ParserError> {
    p.next_token(); // MAP
    p.expect_token(&Token::LParen)?;
    let mut entries = Vec::new();
    if !p.consume_token(&Token::RParen) {
        loop {
            let key = p.parse_expr()?;
            p.expect_token(&Token::Assignment)?;
            let value = p.parse_expr()?;
            entries.push(MapEntry {
                key: Box::new(key),
                value: Box::new(value),
            });
            if p.consume_token(&Token::Comma) {
                continue;
            }
            p.expect_token(&Token::RParen)?;
            break;
        }
    }
    Ok(Expr::Map(Map { entries }))
}

/// `STRUCT(name := v, ...)`
fn parse_struct(p: &mut Parser) -> Result<Expr, ParserError> {
    p.next_token(); // STRUCT
    p.expect_token(&Token::LParen)?;
    let mut values = Vec::new();
    if !p.consume_token(&Token::RParen) {
        loop {
            let name = parse_any_ident(p)?;
            p.expect_token(&Token::Assignment)?;
            let expr = p.parse_expr()?;
            values.push(Expr::Named {
                expr: Box::new(expr),
                name,
            });
            if p.consume_token(&Token::Comma) {
                continue;
            }
            p.expect_token(&Token::RParen)?;
            break;
        }
    }
    Ok(Expr::Struct {
        values,
        fields: vec![],
    })
}

/// Is the parser at `( ident [, ident]* ) =>`?
fn lambda_params_ahead(p: &Parser) -> bool {
    let mut i = 1;
    loop {
        if !matches!(p.peek_nth_token_ref(i).token, Token::Word(_)) {
            return false;
        }
        i += 1;
        match p.peek_nth_token_ref(i).token {
            Token::Comma => i += 1,
            Token::RParen => return p.peek_nth_token_ref(i + 1).token == Token::RArrow,
            _ => return false,
        }
    }
}

/// `x => body` or `(x, y) => body`
fn parse_lambda(p: &mut Parser) -> Result<Expr, ParserError> {
    let param = |p: &mut Parser| -> Result<LambdaFunctionParameter, ParserError> {
        Ok(LambdaFunctionParameter {
            name: parse_any_ident(p)?,
            data_type: None,
        })
    };
    let params = if p.consume_token(&Token::LParen) {
        let mut ps = vec![param(p)?];
        while p.consume_token(&Token::Comma) {
            ps.push(param(p)?);
        }
        p.expect_token(&Token::RParen)?;
        OneOrManyWithParens::Many(ps)
    } else {
        OneOrManyWithParens::One(param(p)?)
    };
    let arrow = p.next_token();
    if arrow.token != Token::RArrow {
        return Err(syntax_error(arrow.span.start, "Expected: =>"));
    }
    let body = p.parse_expr()?;
    Ok(Expr::Lambda(LambdaFunction {
        params,
        body: Box::new(body),
        syntax: LambdaSyntax::Arrow,
    }))
}
