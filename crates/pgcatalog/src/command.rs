//! Recognising the session statements PostgreSQL clients send around their queries: `SET`,
//! `RESET`, `SHOW`, `DISCARD`, and bare transaction control.
//!
//! These are parsed from the token stream (not the sqlparser AST) because PostgreSQL's `SET`
//! grammar is looser than sqlparser's (`SET x TO a, b`, `SET SESSION CHARACTERISTICS ...`,
//! `SET NAMES`, values that are keywords) and because the *spelling* of the value matters:
//! PostgreSQL keeps quoted text verbatim and lower-cases bare words.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Word};

use crate::error::PgCatalogError;

/// A statement about the session rather than data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionCommand {
    /// `SET ...`: parameters and their new values (`None` = back to the default).
    Set(Vec<(String, Option<String>)>),
    /// `RESET name` (canonical name resolution is up to the caller).
    Reset(String),
    /// `RESET ALL`.
    ResetAll,
    /// `SHOW name`.
    Show(String),
    /// `SHOW ALL`.
    ShowAll,
    /// `DISCARD ALL` (resets parameters) or another `DISCARD` (no-op); carries the tag.
    Discard { all: bool, tag: String },
    /// `BEGIN`/`COMMIT`/`ROLLBACK` and synonyms: acknowledged with the tag; the catalog has no
    /// transactions of its own (the wire layer normally handles these before they get here).
    Transaction(&'static str),
}

/// Parse `sql` as a session command; `Ok(None)` when it is something else (a query).
pub(crate) fn parse_session_command(sql: &str) -> Result<Option<SessionCommand>, PgCatalogError> {
    let dialect = PostgreSqlDialect {};
    let mut tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    while matches!(tokens.last(), Some(Token::SemiColon)) {
        tokens.pop();
    }
    let mut p = Cursor { tokens, pos: 0 };
    let Some(first) = p.bare_word() else {
        return Ok(None);
    };
    let command = match first.as_str() {
        "set" => parse_set(&mut p)?,
        "reset" => parse_reset(&mut p)?,
        "show" => parse_show(&mut p)?,
        "discard" => {
            let what = p.expect_bare_word("DISCARD")?;
            p.expect_end()?;
            match what.as_str() {
                "all" => SessionCommand::Discard {
                    all: true,
                    tag: "DISCARD ALL".into(),
                },
                "plans" | "sequences" | "temp" | "temporary" => SessionCommand::Discard {
                    all: false,
                    tag: format!("DISCARD {}", what.to_ascii_uppercase()),
                },
                other => {
                    return Err(PgCatalogError::Syntax(format!(
                        "unexpected \"{other}\" after DISCARD"
                    )))
                }
            }
        }
        // Transaction control: the remaining words (ISOLATION LEVEL ..., WORK, ...) are ignored.
        "begin" | "start" => SessionCommand::Transaction("BEGIN"),
        "commit" | "end" => SessionCommand::Transaction("COMMIT"),
        "rollback" | "abort" => SessionCommand::Transaction("ROLLBACK"),
        _ => return Ok(None),
    };
    Ok(Some(command))
}

struct Cursor {
    tokens: Vec<Token>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// The next token if it is an unquoted word, lower-cased, consuming it.
    fn bare_word(&mut self) -> Option<String> {
        match self.peek() {
            Some(Token::Word(Word {
                value,
                quote_style: None,
                ..
            })) => {
                let v = value.to_ascii_lowercase();
                self.pos += 1;
                Some(v)
            }
            _ => None,
        }
    }

    /// Consume the next tokens if they are exactly these (unquoted, case-insensitive) words.
    fn eat_words(&mut self, words: &[&str]) -> bool {
        let matches = words.iter().enumerate().all(|(i, w)| {
            matches!(self.tokens.get(self.pos + i),
                Some(Token::Word(Word { value, quote_style: None, .. })) if value.eq_ignore_ascii_case(w))
        });
        if matches {
            self.pos += words.len();
        }
        matches
    }

    fn expect_bare_word(&mut self, after: &str) -> Result<String, PgCatalogError> {
        self.bare_word().ok_or_else(|| {
            PgCatalogError::Syntax(format!(
                "expected a word after {after}, found {}",
                describe(self.peek())
            ))
        })
    }

    fn expect_end(&self) -> Result<(), PgCatalogError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(PgCatalogError::Syntax(format!(
                "syntax error at or near {}",
                describe(self.peek())
            )))
        }
    }

    /// A parameter name: `word(.word)*`, quoted parts kept verbatim, bare parts lower-cased.
    fn parameter_name(&mut self) -> Result<String, PgCatalogError> {
        let mut parts = Vec::new();
        loop {
            match self.next() {
                Some(Token::Word(w)) => parts.push(match w.quote_style {
                    Some(_) => w.value,
                    None => w.value.to_ascii_lowercase(),
                }),
                other => {
                    return Err(PgCatalogError::Syntax(format!(
                        "expected a configuration parameter name, found {}",
                        describe(other.as_ref())
                    )))
                }
            }
            if matches!(self.peek(), Some(Token::Period)) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(parts.join("."))
    }
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "end of input".to_string(),
        Some(t) => format!("\"{t}\""),
    }
}

/// One item of a `SET` value list.
struct ValueItem {
    text: String,
    /// Whether it was written as an identifier (bare or double-quoted word) or number rather than
    /// a string literal.
    is_word: bool,
}

/// `value [, value ...]` up to the end of the statement.
fn parse_values(p: &mut Cursor) -> Result<Vec<ValueItem>, PgCatalogError> {
    let mut items = Vec::new();
    loop {
        let item = match p.next() {
            Some(Token::SingleQuotedString(s))
            | Some(Token::EscapedStringLiteral(s))
            | Some(Token::NationalStringLiteral(s))
            | Some(Token::UnicodeStringLiteral(s)) => ValueItem {
                text: s,
                is_word: false,
            },
            Some(Token::DollarQuotedString(s)) => ValueItem {
                text: s.value,
                is_word: false,
            },
            Some(Token::Number(n, _)) => ValueItem {
                text: n,
                is_word: true,
            },
            Some(sign @ (Token::Minus | Token::Plus)) => match p.next() {
                Some(Token::Number(n, _)) => ValueItem {
                    text: if sign == Token::Minus {
                        format!("-{n}")
                    } else {
                        n
                    },
                    is_word: true,
                },
                other => {
                    return Err(PgCatalogError::Syntax(format!(
                        "expected a number, found {}",
                        describe(other.as_ref())
                    )))
                }
            },
            Some(Token::Word(w)) => ValueItem {
                text: match w.quote_style {
                    Some(_) => w.value,
                    None => w.value.to_ascii_lowercase(),
                },
                is_word: true,
            },
            other => {
                return Err(PgCatalogError::Syntax(format!(
                    "expected a value, found {}",
                    describe(other.as_ref())
                )))
            }
        };
        items.push(item);
        match p.next() {
            None => return Ok(items),
            Some(Token::Comma) => continue,
            Some(other) => {
                return Err(PgCatalogError::Syntax(format!(
                    "syntax error at or near \"{other}\""
                )))
            }
        }
    }
}

/// Quote an identifier the way PostgreSQL's `quote_identifier` does (for list parameters such as
/// `search_path`).
fn quote_identifier(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// Render a value list as PostgreSQL stores it: items joined with `", "`; for `search_path`
/// each item is quoted as an identifier when needed.
fn flatten(name: &str, items: Vec<ValueItem>) -> String {
    let list_quote = name.eq_ignore_ascii_case("search_path");
    items
        .into_iter()
        .map(|i| {
            if list_quote {
                quote_identifier(&i.text)
            } else {
                i.text
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_default(items: &[ValueItem]) -> bool {
    matches!(items, [only] if only.is_word && only.text == "default")
}

fn parse_set(p: &mut Cursor) -> Result<SessionCommand, PgCatalogError> {
    // SET LOCAL is transaction-scoped in PostgreSQL; the catalog has no transactions, so it acts
    // like SET SESSION.
    let _scope = p.eat_words(&["session"]) || p.eat_words(&["local"]);

    if p.eat_words(&["time", "zone"]) {
        let items = parse_values(p)?;
        let value = match items.as_slice() {
            [only] if only.is_word && (only.text == "local" || only.text == "default") => None,
            _ => Some(flatten("TimeZone", items)),
        };
        return Ok(SessionCommand::Set(vec![("TimeZone".into(), value)]));
    }
    if p.eat_words(&["names"]) {
        let items = parse_values(p)?;
        let value = (!is_default(&items)).then(|| flatten("client_encoding", items));
        return Ok(SessionCommand::Set(vec![("client_encoding".into(), value)]));
    }
    if p.eat_words(&["schema"]) {
        let items = parse_values(p)?;
        return Ok(SessionCommand::Set(vec![(
            "search_path".into(),
            Some(flatten("search_path", items)),
        )]));
    }
    if p.eat_words(&["characteristics", "as", "transaction"]) {
        return parse_transaction_modes(p, "default_");
    }
    if p.eat_words(&["transaction"]) {
        return parse_transaction_modes(p, "");
    }
    if p.eat_words(&["authorization"]) || p.eat_words(&["session", "authorization"]) {
        let items = parse_values(p)?;
        let value = (!is_default(&items)).then(|| flatten("session_authorization", items));
        return Ok(SessionCommand::Set(vec![(
            "session_authorization".into(),
            value,
        )]));
    }
    if p.eat_words(&["role"]) {
        let items = parse_values(p)?;
        let value = match items.as_slice() {
            [only] if only.is_word && only.text == "none" => None,
            _ => Some(flatten("role", items)),
        };
        return Ok(SessionCommand::Set(vec![("role".into(), value)]));
    }

    let name = p.parameter_name()?;
    match p.next() {
        Some(Token::Eq) => {}
        Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("to") => {}
        other => {
            return Err(PgCatalogError::Syntax(format!(
                "expected = or TO after SET {name}, found {}",
                describe(other.as_ref())
            )))
        }
    }
    let items = parse_values(p)?;
    let value = (!is_default(&items)).then(|| flatten(&name, items));
    Ok(SessionCommand::Set(vec![(name, value)]))
}

/// `ISOLATION LEVEL ... | READ ONLY | READ WRITE | [NOT] DEFERRABLE`, comma- or space-separated.
/// `prefix` is `"default_"` for `SET SESSION CHARACTERISTICS AS TRANSACTION`.
fn parse_transaction_modes(p: &mut Cursor, prefix: &str) -> Result<SessionCommand, PgCatalogError> {
    let mut sets = Vec::new();
    while !p.at_end() {
        if matches!(p.peek(), Some(Token::Comma)) {
            p.pos += 1;
            continue;
        }
        if p.eat_words(&["isolation", "level"]) {
            let level = if p.eat_words(&["serializable"]) {
                "serializable"
            } else if p.eat_words(&["repeatable", "read"]) {
                "repeatable read"
            } else if p.eat_words(&["read", "committed"]) {
                "read committed"
            } else if p.eat_words(&["read", "uncommitted"]) {
                "read uncommitted"
            } else {
                return Err(PgCatalogError::Syntax(format!(
                    "unknown isolation level {}",
                    describe(p.peek())
                )));
            };
            sets.push((
                format!("{prefix}transaction_isolation"),
                Some(level.to_string()),
            ));
        } else if p.eat_words(&["read", "only"]) {
            sets.push((
                format!("{prefix}transaction_read_only"),
                Some("on".to_string()),
            ));
        } else if p.eat_words(&["read", "write"]) {
            sets.push((
                format!("{prefix}transaction_read_only"),
                Some("off".to_string()),
            ));
        } else if p.eat_words(&["not", "deferrable"]) || p.eat_words(&["deferrable"]) {
            // Accepted and ignored.
        } else {
            return Err(PgCatalogError::Syntax(format!(
                "unexpected {} in transaction mode list",
                describe(p.peek())
            )));
        }
    }
    Ok(SessionCommand::Set(sets))
}

fn parse_reset(p: &mut Cursor) -> Result<SessionCommand, PgCatalogError> {
    let command = if p.eat_words(&["all"]) {
        SessionCommand::ResetAll
    } else if p.eat_words(&["time", "zone"]) {
        SessionCommand::Reset("TimeZone".into())
    } else if p.eat_words(&["session", "authorization"]) {
        SessionCommand::Reset("session_authorization".into())
    } else if p.eat_words(&["transaction", "isolation", "level"]) {
        SessionCommand::Reset("transaction_isolation".into())
    } else if p.eat_words(&["role"]) {
        SessionCommand::Reset("role".into())
    } else {
        SessionCommand::Reset(p.parameter_name()?)
    };
    p.expect_end()?;
    Ok(command)
}

fn parse_show(p: &mut Cursor) -> Result<SessionCommand, PgCatalogError> {
    let command = if p.eat_words(&["all"]) {
        SessionCommand::ShowAll
    } else if p.eat_words(&["time", "zone"]) {
        SessionCommand::Show("TimeZone".into())
    } else if p.eat_words(&["transaction", "isolation", "level"]) {
        SessionCommand::Show("transaction_isolation".into())
    } else if p.eat_words(&["session", "authorization"]) {
        SessionCommand::Show("session_authorization".into())
    } else {
        SessionCommand::Show(p.parameter_name()?)
    };
    p.expect_end()?;
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(sql: &str) -> Vec<(String, Option<String>)> {
        match parse_session_command(sql).unwrap() {
            Some(SessionCommand::Set(v)) => v,
            other => panic!("{sql}: expected SET, got {other:?}"),
        }
    }

    fn one(name: &str, value: Option<&str>) -> Vec<(String, Option<String>)> {
        vec![(name.to_string(), value.map(str::to_string))]
    }

    #[test]
    fn set_forms() {
        assert_eq!(
            set("SET extra_float_digits = 3"),
            one("extra_float_digits", Some("3"))
        );
        assert_eq!(
            set("set application_name to 'PostgreSQL JDBC Driver';"),
            one("application_name", Some("PostgreSQL JDBC Driver"))
        );
        assert_eq!(
            set("SET SESSION DateStyle TO ISO, MDY"),
            one("datestyle", Some("iso, mdy"))
        );
        assert_eq!(
            set("SET LOCAL statement_timeout = -1"),
            one("statement_timeout", Some("-1"))
        );
        assert_eq!(
            set("SET application_name TO DEFAULT"),
            one("application_name", None)
        );
        assert_eq!(
            set("SET application_name = 'default'"),
            one("application_name", Some("default"))
        );
        assert_eq!(
            set("SET TIME ZONE 'Europe/Paris'"),
            one("TimeZone", Some("Europe/Paris"))
        );
        assert_eq!(set("SET TIME ZONE LOCAL"), one("TimeZone", None));
        assert_eq!(
            set("SET NAMES 'UTF8'"),
            one("client_encoding", Some("UTF8"))
        );
        assert_eq!(set("SET my.Custom = on"), one("my.custom", Some("on")));
        assert_eq!(
            set("SET search_path TO \"$user\", public"),
            one("search_path", Some("\"$user\", public"))
        );
        assert_eq!(
            set("SET SCHEMA 'public'"),
            one("search_path", Some("public"))
        );
    }

    #[test]
    fn transaction_characteristics() {
        assert_eq!(
            set("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"),
            one("default_transaction_isolation", Some("read committed"))
        );
        assert_eq!(
            set("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY"),
            vec![
                (
                    "transaction_isolation".to_string(),
                    Some("serializable".to_string())
                ),
                ("transaction_read_only".to_string(), Some("on".to_string())),
            ]
        );
    }

    #[test]
    fn show_reset_discard_and_transactions() {
        let p = |s: &str| parse_session_command(s).unwrap();
        assert_eq!(
            p("SHOW transaction_isolation"),
            Some(SessionCommand::Show("transaction_isolation".into()))
        );
        assert_eq!(
            p("show TimeZone"),
            Some(SessionCommand::Show("timezone".into()))
        );
        assert_eq!(
            p("SHOW TIME ZONE"),
            Some(SessionCommand::Show("TimeZone".into()))
        );
        assert_eq!(p("SHOW ALL"), Some(SessionCommand::ShowAll));
        assert_eq!(
            p("SHOW TRANSACTION ISOLATION LEVEL"),
            Some(SessionCommand::Show("transaction_isolation".into()))
        );
        assert_eq!(p("RESET ALL"), Some(SessionCommand::ResetAll));
        assert_eq!(
            p("RESET search_path;"),
            Some(SessionCommand::Reset("search_path".into()))
        );
        assert_eq!(
            p("DISCARD ALL"),
            Some(SessionCommand::Discard {
                all: true,
                tag: "DISCARD ALL".into()
            })
        );
        assert_eq!(p("BEGIN"), Some(SessionCommand::Transaction("BEGIN")));
        assert_eq!(p("commit"), Some(SessionCommand::Transaction("COMMIT")));
        assert_eq!(p("SELECT 1"), None);
        assert_eq!(p("  -- comment\n select 1"), None);
    }

    #[test]
    fn malformed_session_commands_are_syntax_errors() {
        for sql in [
            "SET",
            "SET x",
            "SET x = ",
            "SET x = 1 2",
            "SHOW",
            "SHOW a b",
            "RESET",
        ] {
            let e = parse_session_command(sql).unwrap_err();
            assert_eq!(e.sqlstate(), "42601", "{sql}");
        }
    }
}
