//! Statement-level parsing: routing by leading keywords to the KSQL grammar or to
//! sqlparser's PostgreSQL dialect, and the KSQL statement forms themselves.

use crate::ast::{
    ColumnConstraint, ColumnDef, CreateAsSelect, CreateSource, DescribeTarget, ExplainTarget,
    KsqlQuery, Literal, ParsedStatement, Properties, ShowWhat, SourceKind, Statement,
    TerminateTarget,
};
use crate::dialect::{parse_any_ident, KsqlDialect};
use crate::error::{expected, syntax_error, ParseError, SourceMap};
use crate::idents::quote_idents;
use crate::lexer::{lowercase_words, tokens_with};
use crate::query::{expect_end, is_word, parse_ksql_query, parse_u64};
use crate::sql::ast as sql;
use crate::sql::dialect::PostgreSqlDialect;
use crate::sql::parser::{Parser, ParserError};
use crate::sql::tokenizer::{Location, Token, TokenWithSpan};
use crate::types::SqlType;

static KSQL: KsqlDialect = KsqlDialect;

/// Everything needed to parse one statement.
pub(crate) struct Ctx<'a> {
    /// The whole input.
    pub sql: &'a str,
    pub map: &'a SourceMap<'a>,
}

/// Where a statement goes.
enum Route {
    Ksql,
    /// KSQL first; if that fails and PostgreSQL parses it, PostgreSQL.
    KsqlThenPostgres,
    /// PostgreSQL first; if that fails, report the KSQL error.
    PostgresThenKsql,
    Postgres,
}

fn route(toks: &[TokenWithSpan]) -> Route {
    let w = |i: usize, word: &str| toks.get(i).is_some_and(|t| is_word(t, word));
    let first = match toks.first() {
        Some(t) => t,
        None => return Route::Postgres,
    };
    if is_word(first, "CREATE") {
        let i = if w(1, "OR") && w(2, "REPLACE") { 3 } else { 1 };
        if ["SOURCE", "STREAM", "TABLE", "TYPE"]
            .iter()
            .any(|k| w(i, k))
        {
            return Route::Ksql;
        }
        return Route::Postgres;
    }
    if is_word(first, "INSERT") {
        return Route::KsqlThenPostgres;
    }
    if is_word(first, "SELECT") {
        let pg_names = toks.iter().any(|t| match &t.token {
            Token::Word(w) => {
                let v = w.value.to_uppercase();
                v == "PG_CATALOG" || v == "INFORMATION_SCHEMA" || v.starts_with("PG_")
            }
            _ => false,
        });
        let mut depth = 0;
        let mut has_from = false;
        for t in toks {
            match t.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                _ if depth == 0 && is_word(t, "FROM") => has_from = true,
                _ => {}
            }
        }
        return if pg_names || !has_from {
            Route::PostgresThenKsql
        } else {
            Route::KsqlThenPostgres
        };
    }
    if is_word(first, "SHOW") {
        let ksql = [
            "STREAMS",
            "TABLES",
            "QUERIES",
            "TOPICS",
            "PROPERTIES",
            "FUNCTIONS",
            "TYPES",
            "VARIABLES",
        ]
        .iter()
        .any(|k| w(1, k))
            || (w(1, "ALL") && w(2, "TOPICS"));
        return if ksql { Route::Ksql } else { Route::Postgres };
    }
    if ["LIST", "DESCRIBE", "TERMINATE", "PRINT", "UNSET", "EXPLAIN"]
        .iter()
        .any(|k| is_word(first, k))
    {
        return Route::Ksql;
    }
    if is_word(first, "DROP") || is_word(first, "ALTER") {
        if ["STREAM", "TABLE", "TYPE"].iter().any(|k| w(1, k)) {
            return Route::Ksql;
        }
        return Route::Postgres;
    }
    if is_word(first, "SET") {
        return match toks.get(1).map(|t| &t.token) {
            Some(Token::SingleQuotedString(_)) => Route::Ksql,
            _ => Route::Postgres,
        };
    }
    Route::Postgres
}

impl<'a> Ctx<'a> {
    /// End location of the statement made of `toks` (for errors at its end).
    fn eof(&self, toks: &[TokenWithSpan]) -> Location {
        toks.last()
            .map(|t| t.span.end)
            .unwrap_or(Location { line: 0, column: 0 })
    }

    fn err(&self, e: ParserError, eof: Location) -> ParseError {
        self.map.parser_error(e, eof)
    }

    /// Parses one statement (`toks` excludes the terminating `;`; `text` includes it).
    pub(crate) fn statement(
        &self,
        toks: &[TokenWithSpan],
        text: &str,
        offset: usize,
    ) -> Result<Statement, ParseError> {
        let eof = self.eof(toks);
        match route(toks) {
            Route::Ksql => self.ksql(toks).map_err(|e| self.err(e, eof)),
            Route::KsqlThenPostgres => match self.ksql(toks) {
                Ok(s) => Ok(s),
                Err(e) if crate::error::is_final(&e) => Err(self.err(e, eof)),
                Err(e) => match self.postgres(text, offset) {
                    Ok(s) => {
                        tracing::debug!(error = %e, "not KSQL, parsed as PostgreSQL");
                        Ok(Statement::Postgres(Box::new(s)))
                    }
                    Err(_) => Err(self.err(e, eof)),
                },
            },
            Route::PostgresThenKsql => match self.postgres(text, offset) {
                Ok(s) => Ok(Statement::Postgres(Box::new(s))),
                Err(pg) => match self.ksql(toks) {
                    Ok(s) => Ok(s),
                    Err(_) => Err(pg),
                },
            },
            Route::Postgres => match self.postgres(text, offset) {
                Ok(s) => Ok(Statement::Postgres(Box::new(s))),
                Err(pg) => {
                    let first = &toks[0];
                    let first_pos = self.map.offsets(first.span.start).1 + 1;
                    if pg.position <= first_pos {
                        Err(self.map.syntax(
                            first.span.start,
                            format!("Unknown statement '{}'", first.token),
                        ))
                    } else {
                        Err(pg)
                    }
                }
            },
        }
    }

    /// Parses `text` (which starts at byte `offset` of the input) with sqlparser's
    /// PostgreSQL dialect; unquoted identifiers are lower-cased.
    fn postgres(&self, text: &str, offset: usize) -> Result<sql::Statement, ParseError> {
        let local = SourceMap::new(text);
        let start = self.map.location_of_byte(offset);
        let start_chars = self.map.offsets(start).1;
        let relocate = |mut e: ParseError| {
            if e.line == 1 {
                e.column += start.column as usize - 1;
            }
            e.line += start.line as usize - 1;
            e.position += start_chars;
            e
        };
        let dialect = PostgreSqlDialect {};
        let mut tokens =
            tokens_with(&dialect, text).map_err(|e| relocate(local.tokenizer_error(e)))?;
        lowercase_words(&mut tokens);
        let eof = tokens
            .last()
            .map(|t| t.span.end)
            .unwrap_or(Location { line: 0, column: 0 });
        let mut p = Parser::new(&dialect).with_tokens_with_locations(tokens);
        let result = (|| {
            let stmt = p.parse_statement()?;
            let _ = p.consume_token(&Token::SemiColon);
            expect_end(&p, eof)?;
            Ok(stmt)
        })();
        let mut stmt = result.map_err(|e| relocate(local.parser_error(e, eof)))?;
        quote_idents(&mut stmt);
        Ok(stmt)
    }

    /// Parses a KSQL statement.
    fn ksql(&self, toks: &[TokenWithSpan]) -> Result<Statement, ParserError> {
        let eof = self.eof(toks);
        let mut p = Parser::new(&KSQL).with_tokens_with_locations(toks.to_vec());
        let first = p.next_token();
        let w = |s: &str| is_word(&first, s);
        let stmt = if w("CREATE") {
            self.create(&mut p, toks, eof)?
        } else if w("INSERT") {
            self.insert(&mut p, toks, eof)?
        } else if w("SELECT") {
            let mut q = parse_ksql_query(toks, eof)?;
            quote_query(&mut q);
            return Ok(Statement::Query(Box::new(q)));
        } else if w("SHOW") || w("LIST") {
            Statement::Show(show(&mut p)?)
        } else if w("DESCRIBE") {
            describe(&mut p)?
        } else if w("DROP") {
            drop_statement(&mut p)?
        } else if w("ALTER") {
            alter(&mut p)?
        } else if w("TERMINATE") {
            if is_word(p.peek_token_ref(), "ALL") {
                p.next_token();
                Statement::Terminate(TerminateTarget::All)
            } else {
                Statement::Terminate(TerminateTarget::Query(parse_any_ident(&mut p)?.value))
            }
        } else if w("SET") {
            let name = string(&mut p)?;
            p.expect_token(&Token::Eq)?;
            let value = string(&mut p)?;
            Statement::SetProperty { name, value }
        } else if w("UNSET") {
            Statement::UnsetProperty {
                name: string(&mut p)?,
            }
        } else if w("PRINT") {
            self.print(&mut p)?
        } else if w("EXPLAIN") {
            return self.explain(toks);
        } else {
            return Err(syntax_error(
                first.span.start,
                format!("Unknown statement '{}'", first.token),
            ));
        };
        expect_end(&p, eof)?;
        Ok(stmt)
    }

    fn create(
        &self,
        p: &mut Parser,
        toks: &[TokenWithSpan],
        eof: Location,
    ) -> Result<Statement, ParserError> {
        let or_replace = if is_word(p.peek_token_ref(), "OR") {
            p.next_token();
            expect_word(p, "REPLACE")?;
            true
        } else {
            false
        };
        let source = eat_word(p, "SOURCE");
        let kind_tok = p.next_token();
        let kind = if is_word(&kind_tok, "STREAM") {
            SourceKind::Stream
        } else if is_word(&kind_tok, "TABLE") {
            SourceKind::Table
        } else if is_word(&kind_tok, "TYPE") && !or_replace && !source {
            let if_not_exists = if_not_exists(p)?;
            let name = parse_any_ident(p)?;
            expect_word(p, "AS")?;
            let ty = SqlType::parse(p)?;
            expect_end(p, eof)?;
            return Ok(Statement::CreateType {
                name,
                ty,
                if_not_exists,
            });
        } else {
            return expected("STREAM or TABLE", &kind_tok);
        };
        let if_not_exists = if_not_exists(p)?;
        let name = parse_any_ident(p)?;
        let columns = if p.peek_token_ref().token == Token::LParen {
            Some(table_elements(p)?)
        } else {
            None
        };
        let properties = if is_word(p.peek_token_ref(), "WITH") {
            p.next_token();
            properties(p)?
        } else {
            Properties::default()
        };
        if is_word(p.peek_token_ref(), "AS") && columns.is_none() && !source {
            p.next_token();
            let mut query = parse_ksql_query(&toks[p.index()..], eof)?;
            quote_query(&mut query);
            skip_to_end(p);
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                name,
                or_replace,
                if_not_exists,
                properties,
                query: Box::new(query),
            }));
        }
        expect_end(p, eof)?;
        Ok(Statement::CreateSource(CreateSource {
            kind,
            name,
            or_replace,
            if_not_exists,
            source,
            columns: columns.unwrap_or_default(),
            properties,
        }))
    }

    fn insert(
        &self,
        p: &mut Parser,
        toks: &[TokenWithSpan],
        eof: Location,
    ) -> Result<Statement, ParserError> {
        expect_word(p, "INTO")?;
        let target = parse_any_ident(p)?;
        let with = if is_word(p.peek_token_ref(), "WITH") {
            p.next_token();
            properties(p)?
        } else {
            Properties::default()
        };
        let next = p.peek_token();
        if with.is_empty() && (next.token == Token::LParen || is_word(&next, "VALUES")) {
            let columns = if p.consume_token(&Token::LParen) {
                let cols = p.parse_comma_separated(parse_any_ident)?;
                p.expect_token(&Token::RParen)?;
                Some(cols)
            } else {
                None
            };
            expect_word(p, "VALUES")?;
            p.expect_token(&Token::LParen)?;
            let mut values = if p.peek_token_ref().token == Token::RParen {
                vec![]
            } else {
                p.parse_comma_separated(Parser::parse_expr)?
            };
            p.expect_token(&Token::RParen)?;
            for v in &mut values {
                quote_idents(v);
            }
            return Ok(Statement::InsertValues {
                target,
                columns,
                values,
            });
        }
        let mut query = parse_ksql_query(&toks[p.index()..], eof)?;
        quote_query(&mut query);
        skip_to_end(p);
        Ok(Statement::InsertInto {
            target,
            query: Box::new(query),
            with,
        })
    }

    fn print(&self, p: &mut Parser) -> Result<Statement, ParserError> {
        let t = p.next_token();
        let topic = match &t.token {
            Token::SingleQuotedString(s) => s.clone(),
            Token::Word(w) if w.quote_style.is_some() => w.value.clone(),
            Token::Word(_) => {
                // Topic names are case sensitive: take the identifier as written.
                let a = self.map.byte_offset(t.span.start);
                let b = self.map.byte_offset(t.span.end);
                self.sql[a..b].to_string()
            }
            _ => return expected("a topic name", &t),
        };
        let mut from_beginning = false;
        if is_word(p.peek_token_ref(), "FROM") {
            p.next_token();
            expect_word(p, "BEGINNING")?;
            from_beginning = true;
        }
        let mut interval = None;
        if eat_word(p, "INTERVAL") || eat_word(p, "SAMPLE") {
            interval = Some(parse_u64(p)?);
        }
        let mut limit = None;
        if eat_word(p, "LIMIT") {
            limit = Some(parse_u64(p)?);
        }
        Ok(Statement::Print {
            topic,
            from_beginning,
            interval,
            limit,
        })
    }

    fn explain(&self, toks: &[TokenWithSpan]) -> Result<Statement, ParserError> {
        let rest = &toks[1..];
        match rest {
            [] => Err(syntax_error(
                self.eof(toks),
                "Expected: a statement or query id, found: EOF",
            )),
            [TokenWithSpan {
                token: Token::Word(w),
                ..
            }] => Ok(Statement::Explain(ExplainTarget::QueryId(w.value.clone()))),
            _ => {
                let inner = self.ksql(rest)?;
                let start = self.map.byte_offset(rest[0].span.start);
                let end = self.map.byte_offset(self.eof(rest));
                Ok(Statement::Explain(ExplainTarget::Statement(Box::new(
                    ParsedStatement {
                        statement: inner,
                        text: self.sql[start..end].to_string(),
                        offset: start,
                    },
                ))))
            }
        }
    }
}

fn quote_query(q: &mut KsqlQuery) {
    quote_idents(&mut q.query);
    if let Some(exprs) = &mut q.partition_by {
        for e in exprs {
            quote_idents(e);
        }
    }
}

/// Moves the parser to the end (after `parse_ksql_query` consumed the rest of the tokens).
fn skip_to_end(p: &mut Parser) {
    while p.next_token().token != Token::EOF {}
}

fn eat_word(p: &mut Parser, word: &str) -> bool {
    if is_word(p.peek_token_ref(), word) {
        p.next_token();
        true
    } else {
        false
    }
}

fn expect_word(p: &mut Parser, word: &str) -> Result<(), ParserError> {
    let t = p.next_token();
    if is_word(&t, word) {
        Ok(())
    } else {
        expected(word, &t)
    }
}

fn if_not_exists(p: &mut Parser) -> Result<bool, ParserError> {
    if eat_word(p, "IF") {
        expect_word(p, "NOT")?;
        expect_word(p, "EXISTS")?;
        Ok(true)
    } else {
        Ok(false)
    }
}

fn if_exists(p: &mut Parser) -> Result<bool, ParserError> {
    if eat_word(p, "IF") {
        expect_word(p, "EXISTS")?;
        Ok(true)
    } else {
        Ok(false)
    }
}

fn string(p: &mut Parser) -> Result<String, ParserError> {
    let t = p.next_token();
    match t.token {
        Token::SingleQuotedString(s) => Ok(s),
        _ => expected("a quoted string", &t),
    }
}

/// `( name type [constraint], ... )`
fn table_elements(p: &mut Parser) -> Result<Vec<ColumnDef>, ParserError> {
    p.expect_token(&Token::LParen)?;
    let cols = p.parse_comma_separated(|p| {
        let name = parse_any_ident(p)?;
        let ty = SqlType::parse(p)?;
        let constraint = if eat_word(p, "KEY") {
            ColumnConstraint::Key
        } else if eat_word(p, "PRIMARY") {
            expect_word(p, "KEY")?;
            ColumnConstraint::PrimaryKey
        } else if eat_word(p, "HEADERS") {
            ColumnConstraint::Headers
        } else if eat_word(p, "HEADER") {
            p.expect_token(&Token::LParen)?;
            let key = string(p)?;
            p.expect_token(&Token::RParen)?;
            ColumnConstraint::Header(key)
        } else {
            ColumnConstraint::None
        };
        Ok(ColumnDef {
            name,
            ty,
            constraint,
        })
    })?;
    p.expect_token(&Token::RParen)?;
    Ok(cols)
}

/// `( name = literal, ... )` — names upper-cased (identifiers or quoted strings).
fn properties(p: &mut Parser) -> Result<Properties, ParserError> {
    p.expect_token(&Token::LParen)?;
    let props = p.parse_comma_separated(|p| {
        let t = p.next_token();
        let name = match &t.token {
            Token::Word(w) => w.value.to_uppercase(),
            Token::SingleQuotedString(s) => s.to_uppercase(),
            _ => return expected("a property name", &t),
        };
        p.expect_token(&Token::Eq)?;
        let v = p.next_token();
        let value = match &v.token {
            Token::SingleQuotedString(s) => Literal::String(s.clone()),
            Token::Number(n, _) => Literal::Number(n.clone()),
            Token::Minus => match p.next_token().token {
                Token::Number(n, _) => Literal::Number(format!("-{n}")),
                _ => return expected("a number", &v),
            },
            _ if is_word(&v, "TRUE") => Literal::Boolean(true),
            _ if is_word(&v, "FALSE") => Literal::Boolean(false),
            _ if is_word(&v, "NULL") => Literal::Null,
            _ => return expected("a literal", &v),
        };
        Ok((name, value))
    })?;
    p.expect_token(&Token::RParen)?;
    Ok(Properties(props))
}

fn show(p: &mut Parser) -> Result<ShowWhat, ParserError> {
    let t = p.next_token();
    let what = if is_word(&t, "STREAMS") {
        ShowWhat::Streams {
            extended: eat_word(p, "EXTENDED"),
        }
    } else if is_word(&t, "TABLES") {
        ShowWhat::Tables {
            extended: eat_word(p, "EXTENDED"),
        }
    } else if is_word(&t, "QUERIES") {
        ShowWhat::Queries {
            extended: eat_word(p, "EXTENDED"),
        }
    } else if is_word(&t, "TOPICS") {
        ShowWhat::Topics {
            all: false,
            extended: eat_word(p, "EXTENDED"),
        }
    } else if is_word(&t, "ALL") {
        expect_word(p, "TOPICS")?;
        ShowWhat::Topics {
            all: true,
            extended: eat_word(p, "EXTENDED"),
        }
    } else if is_word(&t, "PROPERTIES") {
        ShowWhat::Properties
    } else if is_word(&t, "FUNCTIONS") {
        ShowWhat::Functions
    } else if is_word(&t, "TYPES") {
        ShowWhat::Types
    } else if is_word(&t, "VARIABLES") {
        ShowWhat::Variables
    } else {
        return expected(
            "STREAMS, TABLES, QUERIES, TOPICS, PROPERTIES, FUNCTIONS, TYPES or VARIABLES",
            &t,
        );
    };
    Ok(what)
}

fn describe(p: &mut Parser) -> Result<Statement, ParserError> {
    let mut extended = false;
    // `DESCRIBE EXTENDED x` (older form) unless EXTENDED is the source's name.
    if is_word(p.peek_token_ref(), "EXTENDED") && p.peek_nth_token_ref(1).token != Token::EOF {
        p.next_token();
        extended = true;
    }
    let next_is_eof_or_extended = |p: &Parser| {
        matches!(p.peek_nth_token_ref(1).token, Token::EOF)
            || is_word(p.peek_nth_token_ref(1), "EXTENDED")
    };
    let target = if is_word(p.peek_token_ref(), "STREAMS") && next_is_eof_or_extended(p) {
        p.next_token();
        DescribeTarget::Streams
    } else if is_word(p.peek_token_ref(), "TABLES") && next_is_eof_or_extended(p) {
        p.next_token();
        DescribeTarget::Tables
    } else if is_word(p.peek_token_ref(), "FUNCTION")
        && matches!(p.peek_nth_token_ref(1).token, Token::Word(_))
    {
        p.next_token();
        DescribeTarget::Function(parse_any_ident(p)?)
    } else {
        DescribeTarget::Source(parse_any_ident(p)?)
    };
    if eat_word(p, "EXTENDED") {
        extended = true;
    }
    Ok(Statement::Describe { target, extended })
}

fn drop_statement(p: &mut Parser) -> Result<Statement, ParserError> {
    let t = p.next_token();
    let kind = if is_word(&t, "STREAM") {
        SourceKind::Stream
    } else if is_word(&t, "TABLE") {
        SourceKind::Table
    } else if is_word(&t, "TYPE") {
        let if_exists = if_exists(p)?;
        let name = parse_any_ident(p)?;
        return Ok(Statement::DropType { name, if_exists });
    } else {
        return expected("STREAM, TABLE or TYPE", &t);
    };
    let if_exists = if_exists(p)?;
    let name = parse_any_ident(p)?;
    let delete_topic = if eat_word(p, "DELETE") {
        expect_word(p, "TOPIC")?;
        true
    } else {
        false
    };
    Ok(Statement::Drop {
        kind,
        if_exists,
        name,
        delete_topic,
    })
}

fn alter(p: &mut Parser) -> Result<Statement, ParserError> {
    let t = p.next_token();
    let kind = if is_word(&t, "STREAM") {
        SourceKind::Stream
    } else if is_word(&t, "TABLE") {
        SourceKind::Table
    } else {
        return expected("STREAM or TABLE", &t);
    };
    let name = parse_any_ident(p)?;
    let add_columns = p.parse_comma_separated(|p| {
        expect_word(p, "ADD")?;
        eat_word(p, "COLUMN");
        let col = parse_any_ident(p)?;
        let ty = SqlType::parse(p)?;
        Ok((col, ty))
    })?;
    Ok(Statement::AlterSource {
        kind,
        name,
        add_columns,
    })
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse;
    use crate::sql::ast as sql;

    fn one(text: &str) -> Statement {
        let mut v = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(v.len(), 1, "{text}");
        v.remove(0).statement
    }

    fn err(text: &str) -> crate::ParseError {
        match parse(text) {
            Ok(v) => panic!("{text} parsed: {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn create_stream_with_columns_and_properties() {
        let s = one(
            "CREATE STREAM IF NOT EXISTS orders (id INT KEY, `Name` STRING, \"Price\" DECIMAL(4,2), \
             tags ARRAY<STRING>, hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, \
             h BYTES HEADER('abc')) \
             WITH (kafka_topic='orders', value_format='JSON', partitions=4, replicas=-1, wrap_single_value=false);",
        );
        let Statement::CreateSource(c) = s else {
            panic!("{s:?}")
        };
        assert_eq!(c.kind, SourceKind::Stream);
        assert!(c.if_not_exists && !c.or_replace && !c.source);
        assert_eq!(c.name.value, "ORDERS");
        assert_eq!(c.name.quote_style, Some('"'));
        let names: Vec<&str> = c.columns.iter().map(|c| c.name.value.as_str()).collect();
        assert_eq!(names, ["ID", "Name", "Price", "TAGS", "HS", "H"]);
        assert_eq!(c.columns[0].constraint, ColumnConstraint::Key);
        assert_eq!(
            c.columns[2].ty,
            SqlType::Decimal {
                precision: 4,
                scale: 2
            }
        );
        assert_eq!(c.columns[3].ty.to_string(), "ARRAY<STRING>");
        assert_eq!(c.columns[4].constraint, ColumnConstraint::Headers);
        assert_eq!(
            c.columns[5].constraint,
            ColumnConstraint::Header("abc".into())
        );
        assert_eq!(c.properties.get_str("kafka_topic"), Some("orders"));
        assert_eq!(c.properties.get_str("VALUE_FORMAT"), Some("JSON"));
        assert_eq!(c.properties.get_int("partitions"), Some(4));
        assert_eq!(c.properties.get_int("REPLICAS"), Some(-1));
        assert_eq!(c.properties.get_bool("WRAP_SINGLE_VALUE"), Some(false));
        let keys: Vec<&str> = c.properties.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "KAFKA_TOPIC",
                "VALUE_FORMAT",
                "PARTITIONS",
                "REPLICAS",
                "WRAP_SINGLE_VALUE"
            ]
        );
    }

    #[test]
    fn create_source_table_or_replace_and_no_columns() {
        let Statement::CreateSource(c) = one(
            "CREATE OR REPLACE SOURCE TABLE t (k INT PRIMARY KEY, v STRING) WITH (kafka_topic='t', format='JSON')",
        ) else {
            panic!()
        };
        assert!(c.or_replace && c.source);
        assert_eq!(c.kind, SourceKind::Table);
        assert_eq!(c.columns[0].constraint, ColumnConstraint::PrimaryKey);
        let Statement::CreateSource(c) =
            one("CREATE STREAM s WITH (kafka_topic='t', value_format='AVRO')")
        else {
            panic!()
        };
        assert!(c.columns.is_empty());
        assert_eq!(c.properties.get_str("value_format"), Some("AVRO"));
    }

    #[test]
    fn create_as_select() {
        let Statement::CreateAsSelect(c) = one(
            "create table counts with (kafka_topic='c', partitions=2) as select id, count(*) as n \
             from orders window tumbling (size 1 minute) group by id emit changes;",
        ) else {
            panic!()
        };
        assert_eq!(c.kind, SourceKind::Table);
        assert_eq!(c.name.value, "COUNTS");
        assert_eq!(c.properties.get_int("PARTITIONS"), Some(2));
        assert_eq!(c.query.emit, Some(Emit::Changes));
        assert!(matches!(
            c.query.window.as_ref().unwrap().kind,
            WindowKind::Tumbling { size } if size.as_millis() == 60_000
        ));
        assert_eq!(
            c.query.query.to_string(),
            "SELECT \"ID\", \"COUNT\"(*) AS \"N\" FROM \"ORDERS\" GROUP BY \"ID\""
        );
    }

    #[test]
    fn insert_forms() {
        let Statement::InsertInto {
            target,
            query,
            with,
        } = one("INSERT INTO out WITH (QUERY_ID='my_q') SELECT * FROM src EMIT CHANGES;")
        else {
            panic!()
        };
        assert_eq!(target.value, "OUT");
        assert_eq!(with.get_str("query_id"), Some("my_q"));
        assert_eq!(query.emit, Some(Emit::Changes));

        let Statement::InsertValues {
            target,
            columns,
            values,
        } = one("INSERT INTO s (k, `v`) VALUES ('a''b', 1.5);")
        else {
            panic!()
        };
        assert_eq!(target.value, "S");
        let cols: Vec<String> = columns.unwrap().into_iter().map(|c| c.value).collect();
        assert_eq!(cols, ["K", "v"]);
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].to_string(), "'a''b'");
        assert_eq!(values[1].to_string(), "1.5");

        let Statement::InsertValues {
            columns, values, ..
        } = one("INSERT INTO s VALUES (1, ARRAY[1, 2], STRUCT(A := 1))")
        else {
            panic!()
        };
        assert!(columns.is_none());
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn show_list_describe() {
        assert_eq!(
            one("SHOW STREAMS"),
            Statement::Show(ShowWhat::Streams { extended: false })
        );
        assert_eq!(
            one("list tables extended"),
            Statement::Show(ShowWhat::Tables { extended: true })
        );
        assert_eq!(
            one("SHOW QUERIES;"),
            Statement::Show(ShowWhat::Queries { extended: false })
        );
        assert_eq!(
            one("SHOW ALL TOPICS EXTENDED"),
            Statement::Show(ShowWhat::Topics {
                all: true,
                extended: true
            })
        );
        assert_eq!(
            one("LIST TOPICS"),
            Statement::Show(ShowWhat::Topics {
                all: false,
                extended: false
            })
        );
        assert_eq!(
            one("SHOW PROPERTIES"),
            Statement::Show(ShowWhat::Properties)
        );
        assert_eq!(one("SHOW FUNCTIONS"), Statement::Show(ShowWhat::Functions));
        assert_eq!(one("SHOW TYPES"), Statement::Show(ShowWhat::Types));
        assert_eq!(one("SHOW VARIABLES"), Statement::Show(ShowWhat::Variables));

        let Statement::Describe {
            target: DescribeTarget::Source(n),
            extended: true,
        } = one("DESCRIBE orders EXTENDED")
        else {
            panic!()
        };
        assert_eq!(n.value, "ORDERS");
        let Statement::Describe {
            target: DescribeTarget::Source(n),
            extended: true,
        } = one("DESCRIBE EXTENDED `orders`")
        else {
            panic!()
        };
        assert_eq!(n.value, "orders");
        assert_eq!(
            one("DESCRIBE STREAMS EXTENDED"),
            Statement::Describe {
                target: DescribeTarget::Streams,
                extended: true
            }
        );
        assert_eq!(
            one("DESCRIBE TABLES"),
            Statement::Describe {
                target: DescribeTarget::Tables,
                extended: false
            }
        );
        let Statement::Describe {
            target: DescribeTarget::Function(f),
            ..
        } = one("DESCRIBE FUNCTION substring")
        else {
            panic!()
        };
        assert_eq!(f.value, "SUBSTRING");
    }

    #[test]
    fn drop_terminate_set_unset() {
        let Statement::Drop {
            kind,
            if_exists,
            name,
            delete_topic,
        } = one("DROP TABLE IF EXISTS t DELETE TOPIC")
        else {
            panic!()
        };
        assert_eq!(
            (kind, if_exists, name.value.as_str(), delete_topic),
            (SourceKind::Table, true, "T", true)
        );
        let Statement::Drop {
            if_exists: false,
            delete_topic: false,
            ..
        } = one("DROP STREAM s")
        else {
            panic!()
        };
        let Statement::DropType {
            name,
            if_exists: true,
        } = one("DROP TYPE IF EXISTS address")
        else {
            panic!()
        };
        assert_eq!(name.value, "ADDRESS");
        assert_eq!(
            one("TERMINATE ALL"),
            Statement::Terminate(TerminateTarget::All)
        );
        assert_eq!(
            one("TERMINATE csas_out_0"),
            Statement::Terminate(TerminateTarget::Query("CSAS_OUT_0".into()))
        );
        assert_eq!(
            one("TERMINATE `transient_x`"),
            Statement::Terminate(TerminateTarget::Query("transient_x".into()))
        );
        assert_eq!(
            one("SET 'auto.offset.reset'='earliest';"),
            Statement::SetProperty {
                name: "auto.offset.reset".into(),
                value: "earliest".into()
            }
        );
        assert_eq!(
            one("UNSET 'auto.offset.reset'"),
            Statement::UnsetProperty {
                name: "auto.offset.reset".into()
            }
        );
    }

    #[test]
    fn print_keeps_topic_case() {
        assert_eq!(
            one("PRINT my_Topic FROM BEGINNING INTERVAL 2 LIMIT 10"),
            Statement::Print {
                topic: "my_Topic".into(),
                from_beginning: true,
                interval: Some(2),
                limit: Some(10)
            }
        );
        assert_eq!(
            one("PRINT 'other.topic' SAMPLE 3"),
            Statement::Print {
                topic: "other.topic".into(),
                from_beginning: false,
                interval: Some(3),
                limit: None
            }
        );
    }

    #[test]
    fn explain_statement_or_query_id() {
        assert_eq!(
            one("EXPLAIN ctas_x_1"),
            Statement::Explain(ExplainTarget::QueryId("CTAS_X_1".into()))
        );
        let text = "EXPLAIN SELECT * FROM s EMIT CHANGES;";
        let Statement::Explain(ExplainTarget::Statement(inner)) = one(text) else {
            panic!()
        };
        assert!(matches!(inner.statement, Statement::Query(_)));
        assert_eq!(inner.text, "SELECT * FROM s EMIT CHANGES");
        assert_eq!(inner.offset, 8);
    }

    #[test]
    fn create_type_and_alter() {
        let Statement::CreateType {
            name,
            ty,
            if_not_exists,
        } = one("CREATE TYPE IF NOT EXISTS address AS STRUCT<number INTEGER, street VARCHAR>")
        else {
            panic!()
        };
        assert!(if_not_exists);
        assert_eq!(name.value, "ADDRESS");
        assert_eq!(ty.to_string(), "STRUCT<`NUMBER` INTEGER, `STREET` STRING>");
        let Statement::CreateSource(c) = one(
            "CREATE STREAM p (name STRING, addr ADDRESS) WITH (kafka_topic='p', format='JSON')",
        ) else {
            panic!()
        };
        assert_eq!(c.columns[1].ty, SqlType::Custom("ADDRESS".into()));
        let Statement::AlterSource {
            kind,
            name,
            add_columns,
        } = one("ALTER STREAM s ADD COLUMN c1 INT, ADD c2 STRING")
        else {
            panic!()
        };
        assert_eq!(kind, SourceKind::Stream);
        assert_eq!(name.value, "S");
        assert_eq!(add_columns.len(), 2);
        assert_eq!(add_columns[1].1, SqlType::String);
    }

    #[test]
    fn several_statements_keep_text_and_offsets() {
        let input = "SHOW STREAMS;\n  -- comment\n  SELECT * FROM s EMIT CHANGES;SHOW TABLES";
        let v = parse(input).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].text, "SHOW STREAMS;");
        assert_eq!(v[0].offset, 0);
        assert_eq!(v[1].text, "SELECT * FROM s EMIT CHANGES;");
        assert_eq!(&input[v[1].offset..v[1].offset + 6], "SELECT");
        assert_eq!(v[2].text, "SHOW TABLES");
        assert!(parse("  ;; ").unwrap().is_empty());
    }

    #[test]
    fn postgres_fallbacks() {
        for text in [
            "SELECT 1",
            "SELECT version()",
            "SET search_path TO public",
            "SET client_encoding = 'UTF8'",
            "SHOW transaction_isolation",
            "BEGIN",
            "COMMIT",
            "SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname = 'x'",
            "SELECT table_name FROM information_schema.tables",
        ] {
            let s = one(text);
            assert!(matches!(s, Statement::Postgres(_)), "{text}: {s:?}");
        }
        // PostgreSQL identifier rules: unquoted lower-cased, all marked quoted.
        let Statement::Postgres(pg) = one("SELECT Relname FROM PG_CATALOG.pg_class") else {
            panic!()
        };
        let sql::Statement::Query(q) = *pg else {
            panic!()
        };
        assert_eq!(
            q.to_string(),
            "SELECT \"relname\" FROM \"pg_catalog\".\"pg_class\""
        );
    }

    #[test]
    fn unknown_statement_error() {
        let e = err("RUN SCRIPT 'foo';");
        assert_eq!(
            e.to_string(),
            "line 1:1: Syntax Error Unknown statement 'RUN'"
        );
        assert_eq!(e.position, 1);
    }

    #[test]
    fn error_positions_are_character_positions_in_the_whole_input() {
        let input = "SHOW STREAMS;\nCREATE STREAM s (a NULL) WITH (kafka_topic='x');";
        let e = err(input);
        // `NULL` starts at line 2, column 20; 1-based char position 14 + 20.
        assert_eq!((e.line, e.column), (2, 20), "{e}");
        assert_eq!(e.position, 34);
        assert_eq!(input.chars().nth(e.position - 1), Some('N'));
        assert!(e.message.starts_with("Syntax Error"), "{e}");

        let e = err("CREATE STREAM s (a INT) WITH (kafka_topic=);");
        assert_eq!(e.position, 43, "{e}");
        assert!(e.message.contains("mismatched input ')'"), "{e}");

        let e = err("SELECT * FROM s WHERE ID IN ( ) EMIT CHANGES;");
        assert_eq!(e.position, 31, "{e}");
    }

    #[test]
    fn bad_durations_and_windows_are_errors() {
        let text = "CREATE TABLE t AS SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 30 BOBS) GROUP BY k;";
        let e = err(text);
        assert!(e.message.contains("Unknown time unit"), "{e}");
        assert_eq!(e.position, text.find("BOBS").unwrap() + 1, "{e}");
        let text = "CREATE TABLE t AS SELECT k, COUNT(*) FROM s WINDOW SLIDING (SIZE 30 SECONDS) GROUP BY k;";
        let e = err(text);
        assert!(e.message.contains("mismatched input 'SLIDING'"), "{e}");
        assert_eq!(e.position, text.find("SLIDING").unwrap() + 1);
        let e = err("CREATE TABLE t AS SELECT k, COUNT(*) FROM s WINDOW HOPPING (SIZE 30 SECONDS) GROUP BY k;");
        assert!(e.message.contains("mismatched input ')'"), "{e}");
        let e = err("CREATE TABLE t AS SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 0 SECONDS) GROUP BY k;");
        assert!(e.message.contains("must be positive"), "{e}");
    }

    #[test]
    fn ksql_syntax_errors_from_the_corpus() {
        for text in [
            "CREATE STREAM OUTPUT AS SELECT ID, cast(f0 as NULL) FROM TEST;",
            "CREATE TABLE OUTPUT AS SELECT COUNT(*) FROM TEST GROUP BY DATA AND ID;",
            "CREATE TABLE OUTPUT AS SELECT f1, f2, COUNT(*) FROM TEST GROUP BY f3, (f2, f1);",
            "CREATE STREAM OUTPUT AS SELECT * FROM INPUT WHERE ID IN ( );",
            "CREATE STREAM OUTPUT AS select * from INPUT partition by NAME AND AGE;",
            "CREATE STREAM INPUT (ID INT KEY, COL0 MAP<STRING, NULL>) WITH (kafka_topic='t', value_format='JSON');",
            "CREATE STREAM INPUT (ID INT KEY, COL0 STRUCT<fo NULL>) WITH (kafka_topic='t', value_format='JSON');",
            "ASSERT VALUES foo (id INT) VALUES (123);",
        ] {
            let e = err(text);
            assert!(e.message.contains("Syntax Error"), "{text}: {e}");
        }
    }
}
