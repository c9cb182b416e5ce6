//! KSQL queries: cut the KSQL-only clauses (WINDOW, WITHIN, PARTITION BY, EMIT, LIMIT) out
//! of the token stream at parenthesis depth 0, parse them separately, hand the rest to
//! sqlparser's `parse_query`, then check that what remains is a KSQL-shaped SELECT.

use std::ops::ControlFlow;

use crate::ast::{Duration, Emit, KsqlQuery, TimeUnit, WindowKind, WindowSpec, WithinSpec};
use crate::dialect::KsqlDialect;
use crate::error::{expected, semantic_error, syntax_error};
use crate::sql::ast::{
    visit_expressions, AccessExpr, BinaryOperator, Expr, GroupByExpr, JoinConstraint, JoinOperator,
    Query, SelectItem, SetExpr, TableFactor, UnaryOperator, Value,
};
use crate::sql::parser::{Parser, ParserError};
use crate::sql::tokenizer::{Location, Token, TokenWithSpan};

/// Is `t` the unquoted word `word` (tokens are upper-cased already)?
pub(crate) fn is_word(t: &TokenWithSpan, word: &str) -> bool {
    matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value == word)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClauseKind {
    Window,
    Within,
    PartitionBy,
    Emit,
    Limit,
}

/// Rank of a top-level clause keyword in KSQL's fixed clause order.
fn clause_rank(tokens: &[TokenWithSpan], i: usize) -> Option<u8> {
    let t = &tokens[i];
    let next_is_by = tokens.get(i + 1).is_some_and(|n| is_word(n, "BY"));
    Some(match () {
        _ if is_word(t, "WINDOW") => 1,
        _ if is_word(t, "WHERE") => 2,
        _ if is_word(t, "GROUP") && next_is_by => 3,
        _ if is_word(t, "PARTITION") && next_is_by => 4,
        _ if is_word(t, "HAVING") => 5,
        _ if is_word(t, "EMIT") => 6,
        _ if is_word(t, "LIMIT") => 7,
        _ => return None,
    })
}

struct Clause {
    kind: ClauseKind,
    /// Token range in the query's tokens (including the leading keyword).
    range: std::ops::Range<usize>,
    /// For WITHIN: index of the JOIN it belongs to.
    join: usize,
}

/// Parses a KSQL query from `tokens` (which must all belong to the query). `eof` is the
/// location reported for errors at the end of the query.
pub(crate) fn parse_ksql_query(
    tokens: &[TokenWithSpan],
    eof: Location,
) -> Result<KsqlQuery, ParserError> {
    match tokens.first() {
        Some(t) if is_word(t, "SELECT") => {}
        Some(t) => return expected("SELECT", t),
        None => return Err(syntax_error(eof, "Expected: SELECT, found: EOF")),
    }

    // 1. Find the KSQL-only clauses at depth 0 and check the clause order.
    let mut clauses: Vec<Clause> = Vec::new();
    let mut depth = 0i32;
    let mut joins = 0usize;
    let mut last_rank = 0u8;
    let mut open: Option<(ClauseKind, usize, usize)> = None; // kind, start, join
    let close =
        |open: &mut Option<(ClauseKind, usize, usize)>, end: usize, out: &mut Vec<Clause>| {
            if let Some((kind, start, join)) = open.take() {
                out.push(Clause {
                    kind,
                    range: start..end,
                    join,
                });
            }
        };
    for i in 0..tokens.len() {
        let t = &tokens[i];
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            _ => {}
        }
        if depth != 0 {
            continue;
        }
        if let Some(rank) = clause_rank(tokens, i) {
            if rank <= last_rank {
                return Err(syntax_error(
                    t.span.start,
                    format!(
                        "Expected: end of query, found: {} (clause out of order)",
                        t.token
                    ),
                ));
            }
            last_rank = rank;
            close(&mut open, i, &mut clauses);
            let kind = match rank {
                1 => Some(ClauseKind::Window),
                4 => Some(ClauseKind::PartitionBy),
                6 => Some(ClauseKind::Emit),
                7 => Some(ClauseKind::Limit),
                _ => None,
            };
            if let Some(kind) = kind {
                open = Some((kind, i, 0));
            }
        } else if is_word(t, "JOIN") {
            close(&mut open, i, &mut clauses);
            joins += 1;
        } else if is_word(t, "WITHIN") {
            close(&mut open, i, &mut clauses);
            if joins == 0 || last_rank > 0 {
                return Err(syntax_error(
                    t.span.start,
                    "Expected: end of query, found: WITHIN (WITHIN must follow a JOINed source)",
                ));
            }
            open = Some((ClauseKind::Within, i, joins - 1));
        } else if is_word(t, "ON") {
            if let Some((ClauseKind::Within, _, _)) = open {
                close(&mut open, i, &mut clauses);
            }
        }
    }
    close(&mut open, tokens.len(), &mut clauses);

    // 2. Parse the relational rest with sqlparser.
    let mut kept = Vec::with_capacity(tokens.len());
    let mut next = 0;
    for c in &clauses {
        kept.extend_from_slice(&tokens[next..c.range.start]);
        next = c.range.end;
    }
    kept.extend_from_slice(&tokens[next..]);
    let dialect = KsqlDialect;
    let mut p = Parser::new(&dialect).with_tokens_with_locations(kept);
    let query = *p.parse_query()?;
    expect_end(&p, eof)?;

    // 3. Parse the KSQL clauses.
    let mut out = KsqlQuery {
        query,
        window: None,
        partition_by: None,
        joins_within: Vec::new(),
        emit: None,
        limit: None,
    };
    let mut within: Vec<(usize, WithinSpec, Location)> = Vec::new();
    for c in &clauses {
        let toks = tokens[c.range.clone()].to_vec();
        let at = toks[0].span.start;
        let end = tokens.get(c.range.end).map(|t| t.span.start).unwrap_or(eof);
        let mut p = Parser::new(&dialect).with_tokens_with_locations(toks);
        p.next_token(); // the clause keyword
        match c.kind {
            ClauseKind::Window => out.window = Some(parse_window(&mut p)?),
            ClauseKind::Within => within.push((c.join, parse_within(&mut p)?, at)),
            ClauseKind::PartitionBy => {
                p.next_token(); // BY
                out.partition_by = Some(parse_value_expr_list(&mut p)?);
            }
            ClauseKind::Emit => {
                let t = p.next_token();
                out.emit = Some(if is_word(&t, "CHANGES") {
                    Emit::Changes
                } else if is_word(&t, "FINAL") {
                    Emit::Final
                } else {
                    return expected("CHANGES or FINAL", &t);
                });
            }
            ClauseKind::Limit => out.limit = Some(parse_limit(&mut p)?),
        }
        expect_end(&p, end)?;
    }

    // 4. Check the relational part is a KSQL SELECT.
    validate(&mut out.query, eof)?;
    let SetExpr::Select(select) = out.query.body.as_ref() else {
        unreachable!("validated")
    };
    out.joins_within = vec![None; select.from[0].joins.len()];
    for (join, spec, at) in within {
        match out.joins_within.get_mut(join) {
            Some(slot @ None) => *slot = Some(spec),
            _ => return Err(syntax_error(at, "Expected: ON, found: WITHIN")),
        }
    }
    Ok(out)
}

/// Errors unless the parser is at the end of its tokens.
pub(crate) fn expect_end(p: &Parser, eof: Location) -> Result<(), ParserError> {
    let t = p.peek_token();
    if t.token == Token::EOF {
        return Ok(());
    }
    let _ = eof;
    Err(syntax_error(
        t.span.start,
        format!("Expected: end of statement, found: {}", t.token),
    ))
}

/// `n unit`
pub(crate) fn parse_duration(p: &mut Parser) -> Result<Duration, ParserError> {
    let t = p.next_token();
    let value = match &t.token {
        Token::Number(n, _) => match n.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                return Err(semantic_error(
                    t.span.start,
                    format!("Invalid duration: '{n}' is not a non-negative integer"),
                ))
            }
        },
        Token::Minus => {
            return Err(semantic_error(
                t.span.start,
                "Invalid duration: durations must not be negative",
            ))
        }
        _ => return expected("a duration (e.g. 10 SECONDS)", &t),
    };
    let u = p.next_token();
    let unit = match &u.token {
        Token::Word(w) if w.quote_style.is_none() => TimeUnit::parse(&w.value),
        _ => None,
    };
    match unit {
        Some(unit) => Ok(Duration::new(value, unit)),
        None => Err(semantic_error(
            u.span.start,
            format!(
                "Invalid duration: Unknown time unit: '{}'; expected one of MILLISECOND(S), \
                 SECOND(S), MINUTE(S), HOUR(S), DAY(S)",
                u.token
            ),
        )),
    }
}

/// Optional `, RETENTION d` and `, GRACE PERIOD d`, then `)`.
fn parse_window_tail(p: &mut Parser) -> Result<(Option<Duration>, Option<Duration>), ParserError> {
    let mut retention = None;
    let mut grace = None;
    while p.consume_token(&Token::Comma) {
        let t = p.next_token();
        if is_word(&t, "RETENTION") && retention.is_none() && grace.is_none() {
            retention = Some(parse_duration(p)?);
        } else if is_word(&t, "GRACE") && grace.is_none() {
            let period = p.next_token();
            if !is_word(&period, "PERIOD") {
                return expected("PERIOD", &period);
            }
            grace = Some(parse_duration(p)?);
        } else {
            return expected("RETENTION or GRACE PERIOD", &t);
        }
    }
    p.expect_token(&Token::RParen)?;
    Ok((retention, grace))
}

/// After `WINDOW`: `[name] TUMBLING (...) | HOPPING (...) | SESSION (...)`.
fn parse_window(p: &mut Parser) -> Result<WindowSpec, ParserError> {
    const KINDS: [&str; 3] = ["TUMBLING", "HOPPING", "SESSION"];
    let is_kind = |t: &TokenWithSpan| KINDS.iter().any(|k| is_word(t, k));
    if !is_kind(p.peek_token_ref()) && is_kind(p.peek_nth_token_ref(1)) {
        p.next_token(); // optional window name, ignored (as in ksqlDB)
    }
    let kind_tok = p.next_token();
    if !is_kind(&kind_tok) {
        return expected("TUMBLING, HOPPING or SESSION", &kind_tok);
    }
    p.expect_token(&Token::LParen)?;
    let positive = |d: Duration, what: &str, at: Location| -> Result<Duration, ParserError> {
        if d.value == 0 {
            Err(semantic_error(at, format!("{what} must be positive")))
        } else {
            Ok(d)
        }
    };
    let kind = if is_word(&kind_tok, "SESSION") {
        let at = p.peek_token_ref().span.start;
        let gap = positive(parse_duration(p)?, "Session gap", at)?;
        WindowKind::Session { gap }
    } else {
        let size_kw = p.next_token();
        if !is_word(&size_kw, "SIZE") {
            return expected("SIZE", &size_kw);
        }
        let at = p.peek_token_ref().span.start;
        let size = positive(parse_duration(p)?, "Window size", at)?;
        if is_word(&kind_tok, "HOPPING") {
            p.expect_token(&Token::Comma)?;
            let adv = p.next_token();
            if !is_word(&adv, "ADVANCE") {
                return expected("ADVANCE", &adv);
            }
            let by = p.next_token();
            if !is_word(&by, "BY") {
                return expected("BY", &by);
            }
            let at = p.peek_token_ref().span.start;
            let advance = positive(parse_duration(p)?, "Window advance", at)?;
            if advance.as_millis() > size.as_millis() {
                return Err(semantic_error(
                    at,
                    format!(
                        "Window advance ({advance}) must not be greater than window size ({size})"
                    ),
                ));
            }
            WindowKind::Hopping { size, advance }
        } else {
            WindowKind::Tumbling { size }
        }
    };
    let (retention, grace) = parse_window_tail(p)?;
    Ok(WindowSpec {
        kind,
        retention,
        grace,
    })
}

/// After `WITHIN`: `d [GRACE PERIOD g]` or `(before, after) [GRACE PERIOD g]`.
fn parse_within(p: &mut Parser) -> Result<WithinSpec, ParserError> {
    let (before, after) = if p.consume_token(&Token::LParen) {
        let before = parse_duration(p)?;
        p.expect_token(&Token::Comma)?;
        let after = parse_duration(p)?;
        p.expect_token(&Token::RParen)?;
        (before, after)
    } else {
        let d = parse_duration(p)?;
        (d, d)
    };
    let grace = if is_word(p.peek_token_ref(), "GRACE") {
        p.next_token();
        let period = p.next_token();
        if !is_word(&period, "PERIOD") {
            return expected("PERIOD", &period);
        }
        Some(parse_duration(p)?)
    } else {
        None
    };
    Ok(WithinSpec {
        before,
        after,
        grace,
    })
}

/// `e1, e2` or `(e1, e2)` or `()`, each a KSQL value expression.
fn parse_value_expr_list(p: &mut Parser) -> Result<Vec<Expr>, ParserError> {
    if p.peek_token_ref().token == Token::LParen && p.peek_nth_token_ref(1).token == Token::RParen {
        p.next_token();
        p.next_token();
        return Ok(vec![]);
    }
    let at = p.peek_token_ref().span.start;
    let exprs = p.parse_comma_separated(Parser::parse_expr)?;
    flatten_value_exprs(exprs, at)
}

/// A single parenthesised tuple is a list (`GROUP BY (a, b)`); a tuple among several
/// expressions is an error, as are boolean expressions (KSQL allows value expressions only).
fn flatten_value_exprs(exprs: Vec<Expr>, at: Location) -> Result<Vec<Expr>, ParserError> {
    let exprs = match exprs.as_slice() {
        [Expr::Tuple(items)] => items.clone(),
        _ => {
            if exprs.iter().any(|e| matches!(e, Expr::Tuple(_))) {
                return Err(syntax_error(at, "missing ')' at ','"));
            }
            exprs
        }
    };
    for e in &exprs {
        if !is_value_expression(e) {
            return Err(syntax_error(
                at,
                format!("Expected: a value expression, found: {e}"),
            ));
        }
    }
    Ok(exprs)
}

/// KSQL's `valueExpression`: no top-level boolean operators or predicates.
fn is_value_expression(e: &Expr) -> bool {
    match e {
        Expr::BinaryOp { op, .. } => !matches!(
            op,
            BinaryOperator::And
                | BinaryOperator::Or
                | BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
        ),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => false,
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::InList { .. }
        | Expr::Between { .. }
        | Expr::Like { .. } => false,
        _ => true,
    }
}

fn not_ksql(at: Location, what: &str) -> ParserError {
    syntax_error(at, format!("Expected: a KSQL query, found: {what}"))
}

/// Checks the sqlparser query is a KSQL SELECT and normalises GROUP BY lists.
fn validate(query: &mut Query, eof: Location) -> Result<(), ParserError> {
    let at = query
        .body
        .as_select()
        .map(|s| s.select_token.0.span.start)
        .unwrap_or(eof);
    if query.with.is_some() {
        return Err(not_ksql(at, "WITH (common table expressions)"));
    }
    // ORDER BY stays: pull queries over materialized tables run it (push queries refuse it
    // when planned).
    if query.limit_clause.is_some() || query.fetch.is_some() {
        return Err(not_ksql(at, "OFFSET/FETCH"));
    }
    if !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err(not_ksql(at, "a non-KSQL query clause"));
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(not_ksql(at, "a set operation or VALUES"));
    };
    if select.distinct.is_some() {
        return Err(not_ksql(at, "DISTINCT"));
    }
    if select.top.is_some()
        || select.into.is_some()
        || !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.named_window.is_empty()
        || select.qualify.is_some()
        || select.exclude.is_some()
    {
        return Err(not_ksql(at, "a non-KSQL SELECT clause"));
    }
    match select.from.as_slice() {
        [] => return Err(not_ksql(at, "SELECT without FROM")),
        [_] => {}
        _ => return Err(not_ksql(at, "FROM with several comma-separated sources")),
    }
    let from = &select.from[0];
    let plain_table = |tf: &TableFactor| {
        matches!(tf, TableFactor::Table { name, args: None, with_hints, version: None, partitions, .. }
            if name.0.len() == 1 && with_hints.is_empty() && partitions.is_empty())
    };
    if !plain_table(&from.relation) {
        return Err(not_ksql(
            at,
            "a FROM item that is not a stream or table name",
        ));
    }
    for j in &from.joins {
        if !plain_table(&j.relation) {
            return Err(not_ksql(
                at,
                "a JOIN item that is not a stream or table name",
            ));
        }
        let constraint = match &j.join_operator {
            JoinOperator::Join(c)
            | JoinOperator::Inner(c)
            | JoinOperator::Left(c)
            | JoinOperator::LeftOuter(c)
            | JoinOperator::Right(c)
            | JoinOperator::RightOuter(c)
            | JoinOperator::FullOuter(c) => c,
            _ => {
                return Err(not_ksql(
                    at,
                    "a join type other than [INNER|LEFT|RIGHT|FULL] JOIN",
                ))
            }
        };
        if !matches!(constraint, JoinConstraint::On(_)) {
            return Err(not_ksql(at, "a JOIN without ON"));
        }
    }
    match &mut select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(not_ksql(at, "GROUP BY modifiers"));
            }
            if !exprs.is_empty() {
                let gat = first_location(&exprs[0]).unwrap_or(at);
                *exprs = flatten_value_exprs(std::mem::take(exprs), gat)?;
            }
        }
        GroupByExpr::All(_) => return Err(not_ksql(at, "GROUP BY ALL")),
    }
    // `s->*` only as a whole select item.
    let top_level_derefs = select
        .projection
        .iter()
        .filter(|item| matches!(item, SelectItem::UnnamedExpr(e) if is_struct_wildcard(e)))
        .count();
    // No subqueries anywhere.
    let mut derefs = 0;
    let sub = visit_expressions(&*query, |e| match e {
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => ControlFlow::Break(()),
        e if is_struct_wildcard(e) => {
            derefs += 1;
            ControlFlow::Continue(())
        }
        _ => ControlFlow::Continue(()),
    });
    if sub.is_break() {
        return Err(not_ksql(at, "a subquery"));
    }
    if derefs != top_level_derefs {
        return Err(syntax_error(
            at,
            "Expected: a field name after '->', found: * ('->*' is only allowed as a select item)",
        ));
    }
    Ok(())
}

/// `expr->*`: a `CompoundFieldAccess` whose last access is `Dot(Expr::Wildcard)`.
pub fn is_struct_wildcard(e: &Expr) -> bool {
    matches!(e, Expr::CompoundFieldAccess { access_chain, .. }
        if matches!(access_chain.last(), Some(AccessExpr::Dot(Expr::Wildcard(_)))))
}

/// Location of the first identifier or value of an expression, if any.
fn first_location(e: &Expr) -> Option<Location> {
    use crate::sql::ast::Spanned;
    let span = e.span();
    (span.start.line > 0).then_some(span.start)
}

/// A query's `LIMIT n`, with ksqlDB's errors for what is not a non-negative integer. They are
/// final: such a statement is a KSQL query, not PostgreSQL to fall back to.
fn parse_limit(p: &mut Parser) -> Result<u64, ParserError> {
    use crate::error::final_error;
    let t = p.next_token();
    match &t.token {
        Token::Number(n, _) => n.parse::<u64>().map_err(|_| {
            final_error(semantic_error(
                t.span.start,
                "Failed to prepare statement: Value must be integer for command: LIMIT",
            ))
        }),
        Token::Minus if matches!(p.peek_token().token, Token::Number(..)) => {
            Err(final_error(semantic_error(
                t.span.start,
                "Pull queries don't support negative integers in the LIMIT clause. See https://cnfl.io/queries for more info.",
            )))
        }
        _ => Err(final_error(syntax_error(t.span.start, ""))),
    }
}

/// `LIMIT`-style non-negative integer literal, as used by PRINT.
pub(crate) fn parse_u64(p: &mut Parser) -> Result<u64, ParserError> {
    let t = p.next_token();
    match &t.token {
        Token::Number(n, _) => n
            .parse::<u64>()
            .or_else(|_| expected("a non-negative integer", &t)),
        _ => expected("a non-negative integer", &t),
    }
}

/// Is `e` the literal NULL? (for callers checking `PARTITION BY NULL`)
pub fn is_null_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if v.value == Value::Null)
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::parse;
    use crate::sql::ast::{AccessExpr, Expr, SelectItem, SetExpr, Subscript, Value};

    fn query(text: &str) -> KsqlQuery {
        let mut v = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        match v.remove(0).statement {
            Statement::Query(q) => *q,
            Statement::CreateAsSelect(c) => *c.query,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn projection(q: &KsqlQuery) -> Vec<SelectItem> {
        match q.query.body.as_ref() {
            SetExpr::Select(s) => s.projection.clone(),
            _ => unreachable!(),
        }
    }

    fn first_expr(text: &str) -> Expr {
        match projection(&query(text)).remove(0) {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            other => panic!("{other:?}"),
        }
    }

    fn d(value: u64, unit: TimeUnit) -> Duration {
        Duration::new(value, unit)
    }

    #[test]
    fn all_clauses_are_extracted() {
        let q = query(
            "SELECT a.id, COUNT(*) FROM a JOIN b WITHIN 1 HOUR ON a.id = b.id \
             LEFT JOIN c WITHIN (1 HOUR, 2 HOURS) GRACE PERIOD 10 SECONDS ON a.id = c.id \
             FULL OUTER JOIN d ON a.id = d.id \
             WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS, RETENTION 2 DAYS, GRACE PERIOD 1 MILLISECOND) \
             WHERE a.x > 1 GROUP BY a.id PARTITION BY a.id, a.x HAVING COUNT(*) > 1 EMIT FINAL LIMIT 5;",
        );
        assert_eq!(
            q.joins_within,
            vec![
                Some(WithinSpec {
                    before: d(1, TimeUnit::Hour),
                    after: d(1, TimeUnit::Hour),
                    grace: None
                }),
                Some(WithinSpec {
                    before: d(1, TimeUnit::Hour),
                    after: d(2, TimeUnit::Hour),
                    grace: Some(d(10, TimeUnit::Second)),
                }),
                None,
            ]
        );
        assert_eq!(
            q.window,
            Some(WindowSpec {
                kind: WindowKind::Hopping {
                    size: d(1, TimeUnit::Minute),
                    advance: d(10, TimeUnit::Second)
                },
                retention: Some(d(2, TimeUnit::Day)),
                grace: Some(d(1, TimeUnit::Millisecond)),
            })
        );
        let pb: Vec<String> = q
            .partition_by
            .unwrap()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(pb, ["\"A\".\"ID\"", "\"A\".\"X\""]);
        assert_eq!(q.emit, Some(Emit::Final));
        assert_eq!(q.limit, Some(5));
        assert_eq!(
            q.query.to_string(),
            "SELECT \"A\".\"ID\", \"COUNT\"(*) FROM \"A\" JOIN \"B\" ON \"A\".\"ID\" = \"B\".\"ID\" \
             LEFT JOIN \"C\" ON \"A\".\"ID\" = \"C\".\"ID\" FULL JOIN \"D\" ON \"A\".\"ID\" = \"D\".\"ID\" \
             WHERE \"A\".\"X\" > 1 GROUP BY \"A\".\"ID\" HAVING \"COUNT\"(*) > 1"
        );
    }

    #[test]
    fn session_and_tumbling_windows() {
        let q =
            query("SELECT k, COUNT(*) FROM s WINDOW SESSION (30 SECONDS) GROUP BY k EMIT CHANGES;");
        assert_eq!(
            q.window.unwrap(),
            WindowSpec {
                kind: WindowKind::Session {
                    gap: d(30, TimeUnit::Second)
                },
                retention: None,
                grace: None
            }
        );
        let q = query("SELECT k, COUNT(*) FROM s WINDOW w1 TUMBLING (SIZE 2 MILLISECONDS, RETENTION 1 DAY) GROUP BY k;");
        let w = q.window.unwrap();
        assert_eq!(
            w.kind,
            WindowKind::Tumbling {
                size: d(2, TimeUnit::Millisecond)
            }
        );
        assert_eq!(w.retention.unwrap().as_millis(), 86_400_000);
        assert_eq!(q.emit, None);
    }

    #[test]
    fn partition_by_null_and_parenthesised_lists() {
        let q = query("SELECT * FROM s PARTITION BY NULL EMIT CHANGES;");
        let pb = q.partition_by.unwrap();
        assert_eq!(pb.len(), 1);
        assert!(crate::is_null_literal(&pb[0]));
        let q = query("SELECT * FROM s PARTITION BY (a, b);");
        assert_eq!(q.partition_by.unwrap().len(), 2);
        let q = query("SELECT a, b, COUNT(*) FROM s GROUP BY (a, b);");
        let SetExpr::Select(sel) = q.query.body.as_ref() else {
            unreachable!()
        };
        let crate::sql::ast::GroupByExpr::Expressions(g, _) = &sel.group_by else {
            unreachable!()
        };
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn clauses_out_of_order_are_errors() {
        assert!(parse("SELECT * FROM s EMIT CHANGES WHERE a = 1;").is_err());
        assert!(parse("SELECT * FROM s WHERE a = 1 WINDOW TUMBLING (SIZE 1 SECOND);").is_err());
        assert!(parse("SELECT * FROM s WITHIN 1 SECOND;").is_err());
        assert!(parse("CREATE STREAM x AS SELECT * FROM s LIMIT -1;").is_err());
        // A pull query's bad LIMIT is KSQL's error, not a fallback to PostgreSQL.
        let e = parse("SELECT * FROM s LIMIT -1;").unwrap_err();
        assert!(
            e.message
                .starts_with("Pull queries don't support negative integers"),
            "{e}"
        );
        let e = parse("SELECT * FROM s LIMIT 1.5;").unwrap_err();
        assert!(
            e.message
                .contains("Value must be integer for command: LIMIT"),
            "{e}"
        );
        let e = parse("SELECT * FROM s LIMIT 'x';").unwrap_err();
        assert_eq!((e.line, e.column), (1, 23));
        assert!(e.message.starts_with("Syntax Error"), "{e}");
    }

    #[test]
    fn identifiers_are_canonical_and_quoted() {
        let q = query(
            "SELECT o.id AS `MyId`, \"Quoted\", s->f->g, ARRAY[1], MAP('a' := 1), STRUCT(x := 1), \
             TRANSFORM(arr, (k, v) => k + v), CAST(x AS STRUCT<a INT>), count(*), t.* \
             FROM orders o JOIN t ON o.id = t.id EMIT CHANGES;",
        );
        let dbg = format!("{q:?}");
        // Idents print as `Ident { value, quote_style, span }` (tokens' `Word`s differ).
        assert!(!dbg.contains("quote_style: None, span"), "{dbg}");
        assert!(dbg.matches("quote_style: Some('\"'), span").count() > 20);
        assert!(!dbg.contains("quote_style: Some('`')"), "{dbg}");
        let text = q.query.to_string();
        assert!(text.contains("AS \"MyId\""), "{text}");
        assert!(text.contains("\"Quoted\""), "{text}");
        assert!(text.contains("FROM \"ORDERS\" \"O\""), "{text}");
        assert!(text.contains("\"T\".*"), "{text}");
    }

    #[test]
    fn struct_dereference_and_subscripts() {
        let e = first_expr("SELECT s->f->g FROM x;");
        let Expr::CompoundFieldAccess { root, access_chain } = e else {
            panic!()
        };
        assert!(matches!(*root, Expr::Identifier(ref i) if i.value == "S"));
        let fields: Vec<String> = access_chain
            .iter()
            .map(|a| match a {
                AccessExpr::Dot(Expr::Identifier(i)) => i.value.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fields, ["F", "G"]);

        // Qualified column then dereference: the qualifier stays a compound identifier.
        let Expr::CompoundFieldAccess { root, access_chain } =
            first_expr("SELECT o.s->`f` FROM o;")
        else {
            panic!()
        };
        assert!(matches!(*root, Expr::CompoundIdentifier(ref v) if v.len() == 2));
        assert!(matches!(&access_chain[0], AccessExpr::Dot(Expr::Identifier(i)) if i.value == "f"));

        // Subscripts, negative index, map key, and deref + subscript chains.
        let Expr::CompoundFieldAccess { access_chain, .. } = first_expr("SELECT a[-1] FROM x;")
        else {
            panic!()
        };
        assert!(matches!(
            &access_chain[0],
            AccessExpr::Subscript(Subscript::Index { .. })
        ));
        let Expr::CompoundFieldAccess { access_chain, .. } = first_expr("SELECT m['k'] FROM x;")
        else {
            panic!()
        };
        let AccessExpr::Subscript(Subscript::Index { index }) = &access_chain[0] else {
            panic!()
        };
        assert_eq!(index.to_string(), "'k'");
        let Expr::CompoundFieldAccess { access_chain, .. } =
            first_expr("SELECT s->arr[1]->f FROM x;")
        else {
            panic!()
        };
        assert_eq!(access_chain.len(), 3);
        assert!(matches!(&access_chain[1], AccessExpr::Subscript(_)));
        // Arrow binds tighter than arithmetic.
        let e = first_expr("SELECT s->a + 1 FROM x;");
        assert!(matches!(e, Expr::BinaryOp { .. }), "{e:?}");
    }

    #[test]
    fn struct_wildcard_select_item() {
        let q = query("SELECT s->* FROM x;");
        let items = projection(&q);
        let SelectItem::UnnamedExpr(Expr::CompoundFieldAccess { access_chain, .. }) = &items[0]
        else {
            panic!("{items:?}")
        };
        assert!(matches!(
            access_chain.last(),
            Some(AccessExpr::Dot(Expr::Wildcard(_)))
        ));
        assert!(crate::is_struct_wildcard(&match &items[0] {
            SelectItem::UnnamedExpr(e) => e.clone(),
            _ => unreachable!(),
        }));
        let e = parse("SELECT ABS(s->*) FROM x;").unwrap_err();
        assert!(e.message.contains("only allowed as a select item"), "{e}");
    }

    #[test]
    fn constructors() {
        let Expr::Array(a) = first_expr("SELECT ARRAY[1, 2] FROM x;") else {
            panic!()
        };
        assert_eq!(a.elem.len(), 2);
        let Expr::Map(m) = first_expr("SELECT MAP('a' := 1, 'b' := 2) FROM x;") else {
            panic!()
        };
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[1].key.to_string(), "'b'");
        let Expr::Map(m) = first_expr("SELECT MAP() FROM x;") else {
            panic!()
        };
        assert!(m.entries.is_empty());
        let Expr::Struct { values, .. } = first_expr("SELECT STRUCT(A := 1, `b` := 'x') FROM x;")
        else {
            panic!()
        };
        let names: Vec<String> = values
            .iter()
            .map(|v| match v {
                Expr::Named { name, .. } => name.value.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["A", "b"]);
    }

    #[test]
    fn lambdas() {
        let e = first_expr("SELECT TRANSFORM(arr, x => x + 1) FROM s;");
        let Expr::Function(f) = e else { panic!() };
        let text = f.to_string();
        assert!(text.contains("\"X\" -> \"X\" + 1"), "{text}");
        let e = first_expr("SELECT REDUCE(arr, 0, (s, x) => s + x) FROM s;");
        let crate::sql::ast::FunctionArguments::List(list) = &match e {
            Expr::Function(f) => f,
            _ => panic!(),
        }
        .args
        else {
            panic!()
        };
        let last = list.args.last().unwrap().to_string();
        assert_eq!(last, "(\"S\", \"X\") -> \"S\" + \"X\"");
        // A parenthesised expression is not a lambda.
        let e = first_expr("SELECT (a + b) FROM s;");
        assert!(matches!(e, Expr::Nested(_)));
    }

    #[test]
    fn casts_to_ksql_types() {
        for (text, shown) in [
            ("CAST(x AS INT)", "INT"),
            ("CAST(x AS DECIMAL(4, 2))", "DECIMAL(4,2)"),
            ("CAST(x AS ARRAY<INT>)", "ARRAY<INT>"),
            ("CAST(x AS MAP<STRING, INT>)", "Map(STRING, INT)"),
            ("CAST(x AS STRUCT<A INT>)", "STRUCT<\"A\" INT>"),
        ] {
            let e = first_expr(&format!("SELECT {text} FROM s;"));
            let Expr::Cast { data_type, .. } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(data_type.to_string(), shown, "{text}");
            assert!(SqlType::from_data_type(data_type).is_some());
        }
    }

    #[test]
    fn predicates_and_literals() {
        let q = query(
            "SELECT CASE WHEN a LIKE 'x!%' ESCAPE '!' THEN 1 ELSE 2 END, b IN (1, 2), c BETWEEN 1 AND 3, \
             d IS NOT NULL, e IS DISTINCT FROM f, 1, 10000000000, 1.5, 1.5E0, 'it''s', TRUE, NULL, -g \
             FROM s;",
        );
        let items = projection(&q);
        let shown: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        assert_eq!(shown[5], "1");
        assert_eq!(shown[6], "10000000000");
        assert_eq!(shown[7], "1.5");
        assert_eq!(shown[8], "1.5E0");
        assert_eq!(shown[9], "'it''s'");
        let SelectItem::UnnamedExpr(Expr::Value(v)) = &items[9] else {
            panic!()
        };
        assert_eq!(v.value, Value::SingleQuotedString("it's".into()));
        assert!(matches!(
            items[0],
            SelectItem::UnnamedExpr(Expr::Case { .. })
        ));
        assert!(matches!(
            items[1],
            SelectItem::UnnamedExpr(Expr::InList { .. })
        ));
        assert!(matches!(
            items[2],
            SelectItem::UnnamedExpr(Expr::Between { .. })
        ));
        assert!(matches!(
            items[3],
            SelectItem::UnnamedExpr(Expr::IsNotNull(_))
        ));
        assert!(matches!(
            items[4],
            SelectItem::UnnamedExpr(Expr::IsDistinctFrom(..))
        ));
    }

    #[test]
    fn pseudo_columns_are_identifiers() {
        let q = query("SELECT ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND FROM s;");
        for item in projection(&q) {
            assert!(
                matches!(item, SelectItem::UnnamedExpr(Expr::Identifier(_))),
                "{item:?}"
            );
        }
    }
}
