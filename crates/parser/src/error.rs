//! The parser's error type and the mapping of token locations to input positions.

use crate::sql::parser::ParserError;
use crate::sql::tokenizer::{Location, TokenWithSpan, TokenizerError};

/// A parse failure, located in the whole input.
///
/// `Display` gives ksqlDB's style: `line 1:25: Syntax Error mismatched input 'X' expecting Y`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}:{column}: {message}")]
pub struct ParseError {
    /// What went wrong (without the `line l:c:` prefix).
    pub message: String,
    /// 1-based character position of the offending token in the whole input.
    pub position: usize,
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
}

/// Maps sqlparser `Location`s (1-based line and character column) of one input to
/// character positions and byte offsets.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap<'a> {
    text: &'a str,
    /// For each line: (byte offset, char index) of its first character.
    lines: Vec<(usize, usize)>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut lines = vec![(0, 0)];
        for (chars, (byte, c)) in text.char_indices().enumerate() {
            if c == '\n' {
                lines.push((byte + 1, chars + 1));
            }
        }
        SourceMap { text, lines }
    }

    /// 0-based (byte offset, char index) of a location; clamps to the end of the input.
    pub(crate) fn offsets(&self, loc: Location) -> (usize, usize) {
        if loc.line == 0 {
            return (self.text.len(), self.text.chars().count());
        }
        let line = (loc.line as usize - 1).min(self.lines.len() - 1);
        let (byte, chars) = self.lines[line];
        let col = (loc.column as usize).saturating_sub(1);
        let byte_off = self.text[byte..]
            .char_indices()
            .nth(col)
            .map(|(b, _)| byte + b)
            .unwrap_or(self.text.len());
        (byte_off, chars + col)
    }

    pub(crate) fn byte_offset(&self, loc: Location) -> usize {
        self.offsets(loc).0
    }

    /// The location of a 0-based byte offset.
    pub(crate) fn location_of_byte(&self, byte: usize) -> Location {
        let line = match self.lines.binary_search_by(|(b, _)| b.cmp(&byte)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let (start, _) = self.lines[line];
        let col = self.text[start..byte.min(self.text.len())].chars().count();
        Location {
            line: line as u64 + 1,
            column: col as u64 + 1,
        }
    }

    pub(crate) fn error(&self, loc: Location, message: impl Into<String>) -> ParseError {
        let loc = if loc.line == 0 {
            self.location_of_byte(self.text.len())
        } else {
            loc
        };
        let (_, chars) = self.offsets(loc);
        ParseError {
            message: message.into(),
            position: chars + 1,
            line: loc.line as usize,
            column: loc.column as usize,
        }
    }

    /// A syntax error: `Syntax Error <detail>`.
    pub(crate) fn syntax(&self, loc: Location, detail: impl AsRef<str>) -> ParseError {
        let detail = detail.as_ref();
        let message = if detail.is_empty() {
            "Syntax Error".to_string()
        } else {
            format!("Syntax Error {detail}")
        };
        self.error(loc, message)
    }

    /// Converts a sqlparser error. Its ` at Line: l, Column: c` suffix (locations of the
    /// tokens we fed it, i.e. of this input) gives the position; `fallback` is used when
    /// there is none (e.g. at end of input).
    pub(crate) fn parser_error(&self, err: ParserError, fallback: Location) -> ParseError {
        let raw = match err {
            ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
            ParserError::RecursionLimitExceeded => {
                return self.error(fallback, "Syntax Error: statement nested too deeply")
            }
        };
        let raw = raw.strip_prefix(FINAL_MARK).unwrap_or(&raw).to_string();
        let (detail, loc) = split_location(&raw);
        let loc = loc.unwrap_or(fallback);
        match detail.strip_prefix(SEMANTIC_MARK) {
            Some(message) => self.error(loc, message),
            None => self.syntax(loc, rewrite_expected(detail)),
        }
    }

    pub(crate) fn tokenizer_error(&self, err: TokenizerError) -> ParseError {
        self.syntax(err.location, err.message)
    }
}

/// Marks a [`ParserError`] message that is not a syntax error (no `Syntax Error` prefix).
const SEMANTIC_MARK: char = '\u{1}';

/// Marks a [`ParserError`] that stands even when the statement would parse as PostgreSQL:
/// the statement is KSQL (e.g. a pull query with `LIMIT -1`) and this is what is wrong with it.
const FINAL_MARK: char = '\u{2}';

/// `e`, marked as final (see [`is_final`]).
pub(crate) fn final_error(e: ParserError) -> ParserError {
    match e {
        ParserError::ParserError(s) => ParserError::ParserError(format!("{FINAL_MARK}{s}")),
        other => other,
    }
}

/// Whether `e` was marked with [`final_error`]: no PostgreSQL fallback.
pub(crate) fn is_final(e: &ParserError) -> bool {
    matches!(e, ParserError::ParserError(s) if s.starts_with(FINAL_MARK))
}

/// A syntax error at `loc`, as a sqlparser error (converted by [`SourceMap::parser_error`]).
pub(crate) fn syntax_error(loc: Location, detail: impl std::fmt::Display) -> ParserError {
    ParserError::ParserError(format!("{detail}{loc}"))
}

/// A non-syntax error (bad duration, bad type parameter, ...) at `loc`.
pub(crate) fn semantic_error(loc: Location, message: impl std::fmt::Display) -> ParserError {
    ParserError::ParserError(format!("{SEMANTIC_MARK}{message}{loc}"))
}

/// `mismatched input '<found>' expecting <what>` at the found token.
pub(crate) fn expected<T>(what: &str, found: &TokenWithSpan) -> Result<T, ParserError> {
    Err(syntax_error(
        found.span.start,
        format!("Expected: {what}, found: {}", found.token),
    ))
}

/// Splits sqlparser's ` at Line: l, Column: c` suffix off a message.
fn split_location(raw: &str) -> (&str, Option<Location>) {
    if let Some(idx) = raw.rfind(" at Line: ") {
        let tail = &raw[idx + " at Line: ".len()..];
        if let Some((l, c)) = tail.split_once(", Column: ") {
            if let (Ok(line), Ok(column)) = (l.trim().parse::<u64>(), c.trim().parse::<u64>()) {
                if line > 0 {
                    return (&raw[..idx], Some(Location { line, column }));
                }
            }
        }
    }
    (raw, None)
}

/// `Expected: X, found: Y` → `mismatched input 'Y' expecting X` (ANTLR's wording, as ksqlDB).
fn rewrite_expected(detail: &str) -> String {
    if let Some(rest) = detail.strip_prefix("Expected: ") {
        if let Some((expected, found)) = rest.rsplit_once(", found: ") {
            let found = if found == "EOF" { "<EOF>" } else { found };
            return format!("mismatched input '{found}' expecting {expected}");
        }
    }
    detail.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_across_lines() {
        let text = "ab\ncdé f";
        let map = SourceMap::new(text);
        // 'f' is on line 2, column 5; 0-based char index 7; byte offset 8 ('é' is 2 bytes).
        let loc = Location { line: 2, column: 5 };
        assert_eq!(map.offsets(loc), (8, 7));
        assert_eq!(map.location_of_byte(8), loc);
        let err = map.syntax(loc, "boom");
        assert_eq!(err.position, 8);
        assert_eq!(err.to_string(), "line 2:5: Syntax Error boom");
    }

    #[test]
    fn sqlparser_messages_are_rewritten() {
        let map = SourceMap::new("SELECT FROM");
        let err = map.parser_error(
            ParserError::ParserError(
                "Expected: an expression, found: FROM at Line: 1, Column: 8".into(),
            ),
            Location { line: 0, column: 0 },
        );
        assert_eq!(err.position, 8);
        assert_eq!(
            err.message,
            "Syntax Error mismatched input 'FROM' expecting an expression"
        );
        // No location: falls back to end of input.
        let err = map.parser_error(
            ParserError::ParserError("Expected: ), found: EOF".into()),
            Location { line: 0, column: 0 },
        );
        assert_eq!(err.position, 12);
        assert!(err.message.contains("'<EOF>'"), "{}", err.message);
    }
}
