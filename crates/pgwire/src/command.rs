//! Recognising the statements that are about the *connection* rather than the engine:
//! transaction control, cursors (`DECLARE` / `FETCH` / `MOVE` / `CLOSE`) and
//! `COPY (query) TO STDOUT`. Everything else is [`Command::Engine`] and goes to the session.

use crate::backend::BackendError;
use crate::copy::{CopyFormat, CopyOptions};
use crate::lexer::{identifier, string_value, tokenize, Token, TokenKind};

/// A classified statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `BEGIN` / `START TRANSACTION`; the tag to answer with.
    Begin {
        tag: &'static str,
    },
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`.
    Release(String),
    /// `ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] name`.
    RollbackTo(String),
    Declare(Declare),
    Fetch(Fetch),
    /// `CLOSE name`, or `CLOSE ALL` (`None`).
    Close(Option<String>),
    Copy(Copy),
    /// Anything else: the engine's business.
    Engine,
}

/// `DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declare {
    pub name: String,
    pub binary: bool,
    pub hold: bool,
    /// Byte range of the inner query in the statement text.
    pub query_start: usize,
    pub query_end: usize,
}

/// How many rows a `FETCH` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchCount {
    Count(usize),
    All,
}

/// `FETCH [FORWARD] [n|ALL|NEXT] [FROM|IN] name` (or `MOVE ...`, which discards the rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetch {
    pub name: String,
    pub count: FetchCount,
    pub is_move: bool,
}

/// `COPY (query) TO STDOUT [WITH] [(options)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copy {
    pub query_start: usize,
    pub query_end: usize,
    pub options: CopyOptions,
}

impl Command {
    /// Whether the statement may run in a failed transaction block.
    pub fn allowed_in_failed_transaction(&self) -> bool {
        matches!(
            self,
            Command::Commit | Command::Rollback | Command::RollbackTo(_)
        )
    }
}

/// A 42601 syntax error pointing at `token` (or at the end of the statement).
fn syntax_error(sql: &str, token: Option<&Token>) -> BackendError {
    let (near, position) = match token {
        Some(t) => (
            format!("syntax error at or near \"{}\"", t.text(sql)),
            sql[..t.start].chars().count() + 1,
        ),
        None => (
            "syntax error at end of input".to_owned(),
            sql.chars().count() + 1,
        ),
    };
    BackendError {
        position: Some(position),
        ..BackendError::new("42601", near)
    }
}

fn feature_not_supported(message: impl Into<String>) -> BackendError {
    BackendError::new("0A000", message)
}

/// A cursor over the token list of one statement.
struct Parser<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(self.sql, kw))
    }

    fn eat_word(&mut self, kw: &str) -> bool {
        if self.peek_word(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, kw: &str) -> Result<(), BackendError> {
        if self.eat_word(kw) {
            Ok(())
        } else {
            Err(self.error_here())
        }
    }

    fn error_here(&self) -> BackendError {
        syntax_error(self.sql, self.peek())
    }

    fn expect_end(&self) -> Result<(), BackendError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error_here()),
        }
    }

    fn identifier(&mut self) -> Result<String, BackendError> {
        let token = self.peek().copied();
        match token.and_then(|t| identifier(self.sql, &t)) {
            Some(name) => {
                self.pos += 1;
                Ok(name)
            }
            None => Err(self.error_here()),
        }
    }

    /// Skip optional `WORK` / `TRANSACTION` noise words.
    fn skip_work(&mut self) {
        let _ = self.eat_word("WORK") || self.eat_word("TRANSACTION");
    }
}

/// Classify one statement (the text of a single statement, without its `;`).
pub(crate) fn classify(sql: &str) -> Result<Command, BackendError> {
    let tokens = tokenize(sql);
    let Some(first) = tokens.first().copied() else {
        return Ok(Command::Engine);
    };
    if first.kind != TokenKind::Word {
        return Ok(Command::Engine);
    }
    let keyword = first.text(sql).to_ascii_uppercase();
    let mut p = Parser {
        sql,
        tokens,
        pos: 1,
    };
    match keyword.as_str() {
        "BEGIN" => {
            // BEGIN [WORK|TRANSACTION] [modes]: the modes are accepted and ignored.
            Ok(Command::Begin { tag: "BEGIN" })
        }
        "START" if p.peek_word("TRANSACTION") => Ok(Command::Begin {
            tag: "START TRANSACTION",
        }),
        "COMMIT" | "END" => {
            if p.peek_word("PREPARED") {
                return Err(feature_not_supported(
                    "prepared transactions are not supported",
                ));
            }
            p.skip_work();
            parse_chain(&mut p)?;
            Ok(Command::Commit)
        }
        "ROLLBACK" | "ABORT" => {
            if p.peek_word("PREPARED") {
                return Err(feature_not_supported(
                    "prepared transactions are not supported",
                ));
            }
            p.skip_work();
            if keyword == "ROLLBACK" && p.eat_word("TO") {
                p.eat_word("SAVEPOINT");
                let name = p.identifier()?;
                p.expect_end()?;
                return Ok(Command::RollbackTo(name));
            }
            parse_chain(&mut p)?;
            Ok(Command::Rollback)
        }
        "SAVEPOINT" => {
            let name = p.identifier()?;
            p.expect_end()?;
            Ok(Command::Savepoint(name))
        }
        "RELEASE" => {
            p.eat_word("SAVEPOINT");
            let name = p.identifier()?;
            p.expect_end()?;
            Ok(Command::Release(name))
        }
        "DECLARE" => parse_declare(&mut p).map(Command::Declare),
        "FETCH" | "MOVE" => parse_fetch(&mut p, keyword == "MOVE").map(Command::Fetch),
        "CLOSE" => {
            if p.eat_word("ALL") {
                p.expect_end()?;
                return Ok(Command::Close(None));
            }
            let name = p.identifier()?;
            p.expect_end()?;
            Ok(Command::Close(Some(name)))
        }
        "COPY" => parse_copy(&mut p).map(Command::Copy),
        _ => Ok(Command::Engine),
    }
}

/// `[AND [NO] CHAIN]`
fn parse_chain(p: &mut Parser<'_>) -> Result<(), BackendError> {
    if p.eat_word("AND") {
        if p.eat_word("NO") {
            p.expect_word("CHAIN")?;
        } else {
            // AND CHAIN would start a new transaction; not worth supporting.
            p.expect_word("CHAIN")?;
            return Err(feature_not_supported("AND CHAIN is not supported"));
        }
    }
    p.expect_end()
}

fn parse_declare(p: &mut Parser<'_>) -> Result<Declare, BackendError> {
    let name = p.identifier()?;
    let mut binary = false;
    loop {
        if p.eat_word("BINARY") {
            binary = true;
        } else if p.eat_word("INSENSITIVE") || p.eat_word("ASENSITIVE") || p.eat_word("SCROLL") {
        } else if p.eat_word("NO") {
            p.expect_word("SCROLL")?;
        } else {
            break;
        }
    }
    p.expect_word("CURSOR")?;
    let mut hold = false;
    if p.eat_word("WITH") {
        p.expect_word("HOLD")?;
        hold = true;
    } else if p.eat_word("WITHOUT") {
        p.expect_word("HOLD")?;
    }
    p.expect_word("FOR")?;
    let Some(first) = p.peek().copied() else {
        return Err(p.error_here());
    };
    Ok(Declare {
        name,
        binary,
        hold,
        query_start: first.start,
        query_end: p.sql.len(),
    })
}

fn parse_count(p: &mut Parser<'_>) -> Result<Option<usize>, BackendError> {
    let Some(token) = p.peek().copied() else {
        return Ok(None);
    };
    let negative = token.is_punct(p.sql, '-');
    let number = if negative || token.is_punct(p.sql, '+') {
        p.tokens.get(p.pos + 1).copied()
    } else {
        Some(token)
    };
    match number {
        Some(n) if n.kind == TokenKind::Number => {
            let value: usize = n.text(p.sql).parse().map_err(|_| p.error_here())?;
            if negative && value > 0 {
                return Err(backward_error());
            }
            p.pos += if number == Some(token) { 1 } else { 2 };
            Ok(Some(value))
        }
        _ => Ok(None),
    }
}

fn backward_error() -> BackendError {
    BackendError {
        hint: Some("Sluice cursors are forward-only.".to_owned()),
        ..BackendError::new("55000", "cursor can only scan forward")
    }
}

fn parse_fetch(p: &mut Parser<'_>, is_move: bool) -> Result<Fetch, BackendError> {
    let count = if p.eat_word("NEXT") {
        FetchCount::Count(1)
    } else if p.eat_word("ALL") {
        FetchCount::All
    } else if p.eat_word("FORWARD") {
        if p.eat_word("ALL") {
            FetchCount::All
        } else {
            parse_count(p)?.map_or(FetchCount::Count(1), FetchCount::Count)
        }
    } else if ["PRIOR", "FIRST", "LAST", "BACKWARD", "ABSOLUTE", "RELATIVE"]
        .iter()
        .any(|kw| p.peek_word(kw))
    {
        return Err(backward_error());
    } else {
        parse_count(p)?.map_or(FetchCount::Count(1), FetchCount::Count)
    };
    let _ = p.eat_word("FROM") || p.eat_word("IN");
    let name = p.identifier()?;
    p.expect_end()?;
    Ok(Fetch {
        name,
        count,
        is_move,
    })
}

fn parse_copy(p: &mut Parser<'_>) -> Result<Copy, BackendError> {
    let only = || feature_not_supported("only COPY (query) TO STDOUT is supported");
    if !p.peek().is_some_and(|t| t.is_punct(p.sql, '(')) {
        return Err(BackendError {
            hint: Some("Write COPY (SELECT ...) TO STDOUT.".to_owned()),
            ..only()
        });
    }
    // Find the matching parenthesis.
    let open = p.pos;
    let mut depth = 0usize;
    let mut close = None;
    for (i, t) in p.tokens.iter().enumerate().skip(open) {
        if t.is_punct(p.sql, '(') {
            depth += 1;
        } else if t.is_punct(p.sql, ')') {
            depth -= 1;
            if depth == 0 {
                close = Some(i);
                break;
            }
        }
    }
    let Some(close) = close else {
        return Err(syntax_error(p.sql, None));
    };
    if close == open + 1 {
        return Err(syntax_error(p.sql, p.tokens.get(close)));
    }
    let query_start = p.tokens[open + 1].start;
    let query_end = p.tokens[close - 1].end;
    p.pos = close + 1;
    if p.peek_word("FROM") {
        return Err(feature_not_supported("COPY FROM is not supported"));
    }
    p.expect_word("TO")?;
    if !p.eat_word("STDOUT") {
        if p.peek().is_some() {
            return Err(BackendError {
                hint: Some("Use COPY (...) TO STDOUT and redirect the client's output.".to_owned()),
                ..only()
            });
        }
        return Err(p.error_here());
    }
    let options = parse_copy_options(p)?;
    Ok(Copy {
        query_start,
        query_end,
        options,
    })
}

/// Builder for COPY options: explicit settings first, defaults per format at the end.
#[derive(Default)]
struct CopyOptionSet {
    format: Option<CopyFormat>,
    header: Option<bool>,
    delimiter: Option<String>,
    null: Option<String>,
    quote: Option<String>,
    escape: Option<String>,
    force_quote_all: bool,
    force_quote: Vec<String>,
}

fn option_value(p: &mut Parser<'_>) -> Option<String> {
    let token = p.peek().copied()?;
    let value = match token.kind {
        TokenKind::String => string_value(p.sql, &token)?,
        TokenKind::Word | TokenKind::Number => token.text(p.sql).to_owned(),
        _ => return None,
    };
    p.pos += 1;
    Some(value)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "on" | "1" => Some(true),
        "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_copy_options(p: &mut Parser<'_>) -> Result<CopyOptions, BackendError> {
    let mut set = CopyOptionSet::default();
    p.eat_word("WITH");
    if p.peek().is_some_and(|t| t.is_punct(p.sql, '(')) {
        p.pos += 1;
        loop {
            let name_token = p.peek().copied().ok_or_else(|| p.error_here())?;
            let name = p.identifier()?;
            match name.as_str() {
                "format" => {
                    let v = option_value(p).ok_or_else(|| p.error_here())?;
                    set.format = Some(match v.to_ascii_lowercase().as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => CopyFormat::Binary,
                        other => {
                            return Err(BackendError::new(
                                "22023",
                                format!("COPY format \"{other}\" not recognized"),
                            ))
                        }
                    });
                }
                "header" => {
                    let at_value = p
                        .peek()
                        .is_some_and(|t| !t.is_punct(p.sql, ',') && !t.is_punct(p.sql, ')'));
                    set.header = Some(if at_value {
                        let v = option_value(p).ok_or_else(|| p.error_here())?;
                        parse_bool(&v).ok_or_else(|| {
                            BackendError::new("22023", "header requires a Boolean value")
                        })?
                    } else {
                        true
                    });
                }
                "delimiter" => set.delimiter = Some(option_value(p).ok_or_else(|| p.error_here())?),
                "null" => set.null = Some(option_value(p).ok_or_else(|| p.error_here())?),
                "quote" => set.quote = Some(option_value(p).ok_or_else(|| p.error_here())?),
                "escape" => set.escape = Some(option_value(p).ok_or_else(|| p.error_here())?),
                "encoding" => check_encoding(&option_value(p).ok_or_else(|| p.error_here())?)?,
                "force_quote" => parse_force_quote(p, &mut set)?,
                _ => {
                    return Err(BackendError {
                        position: Some(p.sql[..name_token.start].chars().count() + 1),
                        ..BackendError::new("42601", format!("option \"{name}\" not recognized"))
                    })
                }
            }
            if p.peek().is_some_and(|t| t.is_punct(p.sql, ',')) {
                p.pos += 1;
                continue;
            }
            if p.peek().is_some_and(|t| t.is_punct(p.sql, ')')) {
                p.pos += 1;
                break;
            }
            return Err(p.error_here());
        }
    } else {
        // The pre-9.0 option syntax, still used by many scripts.
        while p.peek().is_some() {
            if p.eat_word("BINARY") {
                set.format = Some(CopyFormat::Binary);
            } else if p.eat_word("CSV") {
                set.format = Some(CopyFormat::Csv);
            } else if p.eat_word("HEADER") {
                set.header = Some(true);
            } else if p.eat_word("DELIMITER") {
                p.eat_word("AS");
                set.delimiter = Some(option_value(p).ok_or_else(|| p.error_here())?);
            } else if p.eat_word("NULL") {
                p.eat_word("AS");
                set.null = Some(option_value(p).ok_or_else(|| p.error_here())?);
            } else if p.eat_word("QUOTE") {
                p.eat_word("AS");
                set.quote = Some(option_value(p).ok_or_else(|| p.error_here())?);
            } else if p.eat_word("ESCAPE") {
                p.eat_word("AS");
                set.escape = Some(option_value(p).ok_or_else(|| p.error_here())?);
            } else if p.eat_word("ENCODING") {
                check_encoding(&option_value(p).ok_or_else(|| p.error_here())?)?;
            } else if p.eat_word("FORCE") {
                p.expect_word("QUOTE")?;
                parse_force_quote(p, &mut set)?;
            } else {
                return Err(p.error_here());
            }
        }
    }
    p.expect_end()?;
    finish_copy_options(set)
}

fn parse_force_quote(p: &mut Parser<'_>, set: &mut CopyOptionSet) -> Result<(), BackendError> {
    if p.peek().is_some_and(|t| t.is_punct(p.sql, '*')) {
        p.pos += 1;
        set.force_quote_all = true;
        return Ok(());
    }
    let parenthesised = p.peek().is_some_and(|t| t.is_punct(p.sql, '('));
    if parenthesised {
        p.pos += 1;
    }
    loop {
        set.force_quote.push(p.identifier()?);
        if p.peek().is_some_and(|t| t.is_punct(p.sql, ',')) {
            p.pos += 1;
            continue;
        }
        break;
    }
    if parenthesised {
        if !p.peek().is_some_and(|t| t.is_punct(p.sql, ')')) {
            return Err(p.error_here());
        }
        p.pos += 1;
    }
    Ok(())
}

fn check_encoding(value: &str) -> Result<(), BackendError> {
    let normalized = value.to_ascii_uppercase().replace(['-', '_'], "");
    if normalized == "UTF8" || normalized == "UNICODE" {
        Ok(())
    } else {
        Err(feature_not_supported(format!(
            "COPY encoding \"{value}\" is not supported; only UTF8"
        )))
    }
}

fn single_byte(option: &str, value: &str) -> Result<u8, BackendError> {
    match value.as_bytes() {
        [b] if b.is_ascii() && *b != b'\r' && *b != b'\n' => Ok(*b),
        _ => Err(BackendError::new(
            "22023",
            format!("COPY {option} must be a single one-byte character"),
        )),
    }
}

fn finish_copy_options(set: CopyOptionSet) -> Result<CopyOptions, BackendError> {
    let format = set.format.unwrap_or(CopyFormat::Text);
    let csv = format == CopyFormat::Csv;
    if format == CopyFormat::Binary
        && (set.delimiter.is_some() || set.null.is_some() || set.header == Some(true))
    {
        return Err(BackendError::new(
            "42601",
            "cannot specify DELIMITER, NULL or HEADER in BINARY mode",
        ));
    }
    if !csv
        && (set.quote.is_some()
            || set.escape.is_some()
            || set.force_quote_all
            || !set.force_quote.is_empty())
    {
        return Err(feature_not_supported(
            "COPY QUOTE, ESCAPE and FORCE_QUOTE are only available in CSV mode",
        ));
    }
    let delimiter = match &set.delimiter {
        Some(d) => single_byte("delimiter", d)?,
        None if csv => b',',
        None => b'\t',
    };
    if !csv && delimiter == b'\\' {
        return Err(BackendError::new(
            "22023",
            "COPY delimiter cannot be backslash",
        ));
    }
    let quote = match &set.quote {
        Some(q) => single_byte("quote", q)?,
        None => b'"',
    };
    let escape = match &set.escape {
        Some(e) => single_byte("escape", e)?,
        None => quote,
    };
    Ok(CopyOptions {
        format,
        header: set.header.unwrap_or(false),
        delimiter,
        null: set
            .null
            .unwrap_or_else(|| if csv { String::new() } else { "\\N".to_owned() }),
        quote,
        escape,
        force_quote_all: set.force_quote_all,
        force_quote: set.force_quote,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control() {
        assert_eq!(classify("begin").unwrap(), Command::Begin { tag: "BEGIN" });
        assert_eq!(
            classify("BEGIN ISOLATION LEVEL READ COMMITTED").unwrap(),
            Command::Begin { tag: "BEGIN" }
        );
        assert_eq!(
            classify("START TRANSACTION READ ONLY").unwrap(),
            Command::Begin {
                tag: "START TRANSACTION"
            }
        );
        assert_eq!(classify("COMMIT WORK").unwrap(), Command::Commit);
        assert_eq!(classify("end").unwrap(), Command::Commit);
        assert_eq!(classify("ROLLBACK").unwrap(), Command::Rollback);
        assert_eq!(classify("abort transaction").unwrap(), Command::Rollback);
        assert_eq!(
            classify("ROLLBACK TO SAVEPOINT s1").unwrap(),
            Command::RollbackTo("s1".into())
        );
        assert_eq!(
            classify("SAVEPOINT S1").unwrap(),
            Command::Savepoint("s1".into())
        );
        assert_eq!(
            classify("RELEASE s1").unwrap(),
            Command::Release("s1".into())
        );
        assert_eq!(classify("START STREAM x").unwrap(), Command::Engine);
        assert_eq!(classify("SELECT 1").unwrap(), Command::Engine);
        assert_eq!(classify("-- hi\nCOMMIT").unwrap(), Command::Commit);
    }

    #[test]
    fn declare_forms() {
        let sql = "DECLARE _psql_cursor NO SCROLL CURSOR FOR\nSELECT * FROM s EMIT CHANGES";
        let Command::Declare(d) = classify(sql).unwrap() else {
            panic!("not a declare")
        };
        assert_eq!(d.name, "_psql_cursor");
        assert!(!d.binary && !d.hold);
        assert_eq!(
            &sql[d.query_start..d.query_end],
            "SELECT * FROM s EMIT CHANGES"
        );

        let sql = "declare \"C\" binary cursor with hold for select 1";
        let Command::Declare(d) = classify(sql).unwrap() else {
            panic!("not a declare")
        };
        assert_eq!(d.name, "C");
        assert!(d.binary && d.hold);
        assert_eq!(&sql[d.query_start..], "select 1");

        let err = classify("DECLARE c CURSOR").unwrap_err();
        assert_eq!(err.sqlstate, "42601");
        assert_eq!(err.position, Some(17));
    }

    #[test]
    fn fetch_forms() {
        let f = |sql: &str| match classify(sql).unwrap() {
            Command::Fetch(f) => (f.name, f.count, f.is_move),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            f("FETCH FORWARD 5 FROM _psql_cursor"),
            ("_psql_cursor".into(), FetchCount::Count(5), false)
        );
        assert_eq!(f("fetch c"), ("c".into(), FetchCount::Count(1), false));
        assert_eq!(
            f("FETCH NEXT IN c"),
            ("c".into(), FetchCount::Count(1), false)
        );
        assert_eq!(f("FETCH ALL c"), ("c".into(), FetchCount::All, false));
        assert_eq!(
            f("FETCH FORWARD ALL FROM c"),
            ("c".into(), FetchCount::All, false)
        );
        assert_eq!(
            f("FETCH 10 \"C\""),
            ("C".into(), FetchCount::Count(10), false)
        );
        assert_eq!(
            f("FETCH FORWARD c"),
            ("c".into(), FetchCount::Count(1), false)
        );
        assert_eq!(f("MOVE 3 IN c"), ("c".into(), FetchCount::Count(3), true));
        assert_eq!(
            classify("FETCH BACKWARD 1 FROM c").unwrap_err().sqlstate,
            "55000"
        );
        assert_eq!(classify("FETCH -1 FROM c").unwrap_err().sqlstate, "55000");
        assert_eq!(
            classify("FETCH 1 FROM c extra").unwrap_err().sqlstate,
            "42601"
        );
        assert_eq!(classify("FETCH 1 FROM").unwrap_err().sqlstate, "42601");
    }

    #[test]
    fn close_forms() {
        assert_eq!(classify("CLOSE ALL").unwrap(), Command::Close(None));
        assert_eq!(
            classify("close Cur").unwrap(),
            Command::Close(Some("cur".into()))
        );
    }

    #[test]
    fn copy_forms() {
        let sql = "COPY (SELECT a, (b) FROM s EMIT CHANGES) TO STDOUT";
        let Command::Copy(c) = classify(sql).unwrap() else {
            panic!()
        };
        assert_eq!(
            &sql[c.query_start..c.query_end],
            "SELECT a, (b) FROM s EMIT CHANGES"
        );
        assert_eq!(c.options.format, CopyFormat::Text);
        assert_eq!(c.options.delimiter, b'\t');
        assert_eq!(c.options.null, "\\N");

        let sql = "COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';')";
        let Command::Copy(c) = classify(sql).unwrap() else {
            panic!()
        };
        assert_eq!(c.options.format, CopyFormat::Csv);
        assert!(c.options.header);
        assert_eq!(c.options.delimiter, b';');
        assert_eq!(c.options.null, "");

        let Command::Copy(c) = classify("COPY (SELECT 1) TO STDOUT CSV HEADER").unwrap() else {
            panic!()
        };
        assert_eq!(c.options.format, CopyFormat::Csv);
        assert!(c.options.header);

        let Command::Copy(c) = classify("COPY (SELECT 1) TO STDOUT (FORMAT binary)").unwrap()
        else {
            panic!()
        };
        assert_eq!(c.options.format, CopyFormat::Binary);

        assert_eq!(classify("COPY t TO STDOUT").unwrap_err().sqlstate, "0A000");
        assert_eq!(classify("COPY t FROM STDIN").unwrap_err().sqlstate, "0A000");
        assert_eq!(
            classify("COPY (SELECT 1) TO '/tmp/x'")
                .unwrap_err()
                .sqlstate,
            "0A000"
        );
        assert_eq!(
            classify("COPY (SELECT 1) TO STDOUT (FORMAT xml)")
                .unwrap_err()
                .sqlstate,
            "22023"
        );
        assert_eq!(
            classify("COPY (SELECT 1) TO STDOUT (bogus 1)")
                .unwrap_err()
                .sqlstate,
            "42601"
        );
    }
}
